//! Mixed writes in bulk: lists of update or delete statements sent as few `update`/`delete`
//! commands as the server's limits allow, reporting what they did and, for a failure, which
//! statement failed (with what the statements before it did) rather than only raising.

use bson::{RawArrayBuf, RawBson, RawDocumentBuf};
use mongodb::options::UpdateModifications;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::{PyTraverseError, PyVisit};

use crate::codec::decode::decode_one;
use crate::error::{Error, WriteFailures};
use crate::options::update_modifications;
use crate::query::filter_document;
use crate::runtime::spawn;
use crate::session::Session;

use super::target::{count, is_code, Target, UpdateCommands, Verb};
use super::Collection;
use crate::session::SessionHandle;

#[pymethods]
impl Collection {
    /// Sends update statements, each `(filter, update, multi, upsert)` (an update is a
    /// `UpdateSpec`, an operator document or a pipeline), or delete statements, each
    /// `(filter, many)`, in as few commands as the server's limits allow; ordered, the first
    /// failure stops them. Returns a `BulkOutcome`: the counts, the upserted ids by statement,
    /// and the failure (`error`, `failed_index`) instead of raising it.
    #[pyo3(signature = (verb, statements, *, ordered = true, session = None))]
    fn write_statements<'py>(
        &self,
        py: Python<'py>,
        verb: &str,
        statements: &Bound<'py, PyAny>,
        ordered: bool,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let verb = match verb {
            "update" => Verb::Update,
            "delete" => Verb::Delete,
            other => {
                return Err(PyValueError::new_err(format!(
                    "write_statements takes 'update' or 'delete', not {other:?}"
                )))
            }
        };
        let mut encoded = Vec::new();
        for item in statements.try_iter()? {
            let item = item?;
            let item = item.cast::<PyTuple>()?;
            encoded.push(match verb {
                Verb::Update => update_statement(
                    &item.get_item(0)?,
                    &item.get_item(1)?,
                    item.get_item(2)?.extract()?,
                    item.get_item(3)?.extract()?,
                )?,
                Verb::Delete => delete_statement(&item.get_item(0)?, item.get_item(1)?.extract()?)?,
            });
        }
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            Ok(Bulk {
                verb,
                statements: encoded,
                ordered,
            }
            .run(&target, session)
            .await)
        })
    }
}

fn update_statement(
    filter: &Bound<'_, PyAny>,
    update: &Bound<'_, PyAny>,
    multi: bool,
    upsert: bool,
) -> PyResult<RawDocumentBuf> {
    let q = raw(&filter_document(Some(filter))?)?;
    let mut statement = RawDocumentBuf::new();
    statement.append("q", q);
    match update_modifications(update)? {
        UpdateModifications::Document(doc) => statement.append("u", raw(&doc)?),
        UpdateModifications::Pipeline(stages) => {
            let mut array = RawArrayBuf::new();
            for stage in &stages {
                array.push(RawBson::Document(raw(stage)?));
            }
            statement.append("u", array);
        }
        _ => {
            return Err(PyValueError::new_err(
                "an update is operators or a pipeline",
            ))
        }
    }
    statement.append("upsert", upsert);
    statement.append("multi", multi);
    Ok(statement)
}

fn delete_statement(filter: &Bound<'_, PyAny>, many: bool) -> PyResult<RawDocumentBuf> {
    let mut statement = RawDocumentBuf::new();
    statement.append("q", raw(&filter_document(Some(filter))?)?);
    statement.append("limit", if many { 0_i32 } else { 1_i32 });
    Ok(statement)
}

fn raw(doc: &bson::Document) -> PyResult<RawDocumentBuf> {
    RawDocumentBuf::from_document(doc)
        .map_err(|e| PyValueError::new_err(format!("cannot encode a statement: {e}")))
}

struct Bulk {
    verb: Verb,
    statements: Vec<RawDocumentBuf>,
    ordered: bool,
}

/// What a bulk of statements did, on its way to Python.
pub struct BulkDone {
    matched: u64,
    modified: u64,
    deleted: u64,
    upserted: Vec<(usize, RawBson)>,
    error: Option<Error>,
    failed_index: Option<usize>,
}

impl Bulk {
    async fn run(self, target: &Target, session: Option<SessionHandle>) -> BulkDone {
        let Bulk {
            verb,
            statements,
            ordered,
        } = self;
        let mut done = BulkDone {
            matched: 0,
            modified: 0,
            deleted: 0,
            upserted: Vec::new(),
            error: None,
            failed_index: None,
        };
        let database = match target.client.driver() {
            Ok(driver) => driver.database(&target.database),
            Err(e) => {
                done.error = Some(e);
                return done;
            }
        };
        // One lock for every command: the session's other users cannot interleave.
        let mut locked = match &session {
            Some(handle) => Some(handle.lock().await),
            None => None,
        };
        let mut concern = None;
        let commands = UpdateCommands::of(&target.name, verb, statements.into_iter(), ordered);
        for (first, command) in commands {
            let action = database.run_raw_command(command);
            let reply = match locked.as_mut() {
                Some(l) => match l.get() {
                    Ok(session) => action.session(session).await,
                    Err(e) => {
                        done.error = Some(e);
                        return done;
                    }
                },
                None => action.await,
            };
            let reply = match reply {
                Ok(reply) => reply,
                // NoSuchTransaction after a write error: that error aborted the transaction.
                Err(e) if done.error.is_some() && is_code(&e, 251) => break,
                Err(e) => {
                    done.error.get_or_insert(target.wrap(e));
                    done.failed_index.get_or_insert(first);
                    return done;
                }
            };
            let upserted = upserted_of(&reply, first);
            let n = count(&reply, "n");
            match verb {
                Verb::Update => {
                    done.matched += n.saturating_sub(upserted.len() as u64);
                    done.modified += count(&reply, "nModified");
                }
                Verb::Delete => done.deleted += n,
            }
            done.upserted.extend(upserted);
            let failures = match WriteFailures::of(&reply, first) {
                Ok(failures) => failures,
                Err(e) => {
                    done.error.get_or_insert(e);
                    return done;
                }
            };
            if let Some(failed) = failures.write {
                if done.error.is_none() {
                    done.error = Some(target.wrap(failed));
                    done.failed_index = failures.index;
                }
                if ordered {
                    return done;
                }
            }
            if let Some(e) = failures.concern {
                concern.get_or_insert(e);
            }
        }
        if done.error.is_none() {
            done.error = concern.map(|e| target.wrap(e));
        }
        done
    }
}

/// The `upserted` entries of an `update` reply: each statement's position in the whole list
/// and the `_id` it inserted.
fn upserted_of(reply: &bson::Document, first: usize) -> Vec<(usize, RawBson)> {
    let Ok(entries) = reply.get_array("upserted") else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let entry = entry.as_document()?;
            let index = match entry.get("index")? {
                bson::Bson::Int32(i) => usize::try_from(*i).ok()?,
                bson::Bson::Int64(i) => usize::try_from(*i).ok()?,
                _ => return None,
            };
            let id = RawBson::try_from(entry.get("_id")?.clone()).ok()?;
            Some((first + index, id))
        })
        .collect()
}

/// What `Collection.write_statements` did.
#[pyclass(module = "vellum._core", frozen, get_all)]
pub struct BulkOutcome {
    /// Documents the update statements matched (upserts not counted).
    matched: u64,
    /// Documents they changed.
    modified: u64,
    /// Documents the delete statements removed.
    deleted: u64,
    /// `(statement position, _id)` of every document an upsert inserted.
    upserted: Vec<(usize, Py<PyAny>)>,
    /// The failure (a Vellum error), or None.
    error: Option<Py<PyAny>>,
    /// The position of the statement that failed, when the server named one.
    failed_index: Option<usize>,
}

#[pymethods]
impl BulkOutcome {
    fn __repr__(&self) -> String {
        format!(
            "BulkOutcome(matched={}, modified={}, deleted={}, upserted={}, failed_index={:?})",
            self.matched,
            self.modified,
            self.deleted,
            self.upserted.len(),
            self.failed_index
        )
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for (_, id) in &self.upserted {
            visit.call(id)?;
        }
        if let Some(error) = &self.error {
            visit.call(error)?;
        }
        Ok(())
    }
}

impl<'py> IntoPyObject<'py> for BulkDone {
    type Target = BulkOutcome;
    type Output = Bound<'py, BulkOutcome>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let upserted = self
            .upserted
            .iter()
            .map(|(i, id)| Ok((*i, decode_one(py, id)?.unbind())))
            .collect::<PyResult<Vec<_>>>()?;
        let error = self.error.map(|e| PyErr::from(e).into_value(py).into_any());
        Bound::new(
            py,
            BulkOutcome {
                matched: self.matched,
                modified: self.modified,
                deleted: self.deleted,
                upserted,
                error,
                failed_index: self.failed_index,
            },
        )
    }
}
