//! Writes: inserts, updates (plain, returning the document, or versioned), replacements by
//! `_id` in batches, and deletes.

use bson::{doc, Document, RawArrayBuf, RawBson, RawBsonRef, RawDocumentBuf};
use mongodb::options::{FindOneAndUpdateOptions, ReturnDocument, UpdateOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::codec::plan::ModelPlan;
use crate::codec::write::encode_with_plan;
use crate::codec::{encode_document, encode_filter, DecodedDocument};
use crate::error::{Error, TooLarge, MAX_DOCUMENT_BYTES};
use crate::options::{optional_document, update_modifications};
use crate::query::filter_document;
use crate::results::Updated;
use crate::runtime::{spawn, Done};
use crate::session::Session;

use super::target::{in_session, ReplaceMany, VersionedWrite};
use super::Collection;

#[pymethods]
impl Collection {
    /// Inserts one document: a mapping, or a model encoded by `plan` (see `ModelPlan`).
    #[pyo3(signature = (document, *, session = None, plan = None))]
    fn insert_one<'py>(
        &self,
        py: Python<'py>,
        document: &Bound<'py, PyAny>,
        session: Option<&Bound<'py, Session>>,
        plan: Option<&Bound<'py, ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let document = match plan {
            Some(plan) => encode_with_plan(document, plan.get())?,
            None => encode_document(document)?,
        };
        if let Some(error) = TooLarge::check(&document, 0, 0) {
            return Err(Error::TooLarge(Box::new(error)).into());
        }
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            in_session!(session, collection.insert_one(document)).map_err(|e| target.wrap(e))?;
            Ok(Done)
        })
    }

    /// Inserts the documents in one or more batches; returns how many were inserted. With
    /// `plan`, models are encoded from their fields (see `ModelPlan`).
    #[pyo3(signature = (documents, *, ordered = true, session = None, plan = None))]
    fn insert_many<'py>(
        &self,
        py: Python<'py>,
        documents: &Bound<'py, PyAny>,
        ordered: bool,
        session: Option<&Bound<'py, Session>>,
        plan: Option<&Bound<'py, ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let documents = encode_all(documents, plan)?;
        // A document over MongoDB's 16 MiB limit is refused as the server refuses a write:
        // ordered, the documents before it are stored; unordered, all the others are.
        let oversized = documents
            .iter()
            .position(|d| d.as_bytes().len() > MAX_DOCUMENT_BYTES);
        let (documents, refused) = match oversized {
            None => (documents, None),
            Some(first) => {
                let refused = TooLarge::check(&documents[first], first, 0);
                let kept = if ordered {
                    documents.into_iter().take(first).collect()
                } else {
                    documents
                        .into_iter()
                        .filter(|d| d.as_bytes().len() <= MAX_DOCUMENT_BYTES)
                        .collect()
                };
                (kept, refused)
            }
        };
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let inserted = if documents.is_empty() {
                0
            } else {
                let collection = target.collection()?;
                let insert = collection.insert_many(documents).ordered(ordered);
                let result = in_session!(session, insert).map_err(|e| target.wrap(e))?;
                result.inserted_ids.len()
            };
            match refused {
                Some(error) => Err(Error::TooLarge(Box::new(TooLarge { inserted, ..error }))),
                None => Ok(inserted),
            }
        })
    }

    /// Replaces each document by its `_id`, ANDed with its filter in `filters` when given (one
    /// per document), in as few `update` commands as the server's limits allow. Models are
    /// encoded by `plan` as `insert_many` encodes them (`UnvouchedDocumentError` before anything
    /// is sent); a document without an `_id` is refused before anything is sent. Returns an
    /// `UpdateOutcome` with the totals of every command (no upserts).
    #[pyo3(signature = (documents, *, filters = None, plan = None, session = None, ordered = false))]
    fn replace_many<'py>(
        &self,
        py: Python<'py>,
        documents: &Bound<'py, PyAny>,
        filters: Option<&Bound<'py, PyAny>>,
        plan: Option<&Bound<'py, ModelPlan>>,
        session: Option<&Bound<'py, Session>>,
        ordered: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let documents = encode_all(documents, plan)?;
        let filters = filters
            .map(|filters| -> PyResult<Vec<_>> {
                filters
                    .try_iter()?
                    .map(|f| filter_document(Some(&f?)))
                    .collect()
            })
            .transpose()?;
        let write = ReplaceMany::new(replacements(documents, filters)?, ordered);
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move { write.run(&target, session).await })
    }

    /// Updates the first matching document; returns an `UpdateOutcome`.
    #[pyo3(signature = (filter, update, *, upsert = false, session = None))]
    fn update_one<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        update: &Bound<'py, PyAny>,
        upsert: bool,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.update(py, filter, update, upsert, false, session)
    }

    /// Updates every matching document; returns an `UpdateOutcome`.
    #[pyo3(signature = (filter, update, *, upsert = false, session = None))]
    fn update_many<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        update: &Bound<'py, PyAny>,
        upsert: bool,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.update(py, filter, update, upsert, true, session)
    }

    /// Atomically updates one document and returns it as stored after (or before) the update
    /// (as a model where `plan` says how).
    #[pyo3(signature = (filter, update, *, sort = None, projection = None, upsert = false, return_after = true, session = None, plan = None))]
    #[allow(clippy::too_many_arguments)]
    fn find_one_and_update<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        update: &Bound<'py, PyAny>,
        sort: Option<&Bound<'py, PyAny>>,
        projection: Option<&Bound<'py, PyAny>>,
        upsert: bool,
        return_after: bool,
        session: Option<&Bound<'py, Session>>,
        plan: Option<Py<ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_document(Some(filter))?;
        let update = update_modifications(update)?;
        let mut options = FindOneAndUpdateOptions::default();
        options.sort = optional_document(sort)?;
        options.projection = optional_document(projection)?;
        options.upsert = Some(upsert);
        options.return_document = Some(if return_after {
            ReturnDocument::After
        } else {
            ReturnDocument::Before
        });
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let doc = in_session!(
                session,
                collection
                    .find_one_and_update(filter, update)
                    .with_options(options)
            )
            .map_err(|e| target.wrap(e))?;
            Ok(DecodedDocument(doc, plan))
        })
    }

    /// Optimistic concurrency: `$set`s `changes` and increments the counter field `version`
    /// on the document matching `filter` whose counter is `expected_version` (any when None).
    /// Returns a `VersionedOutcome`: the stored document after the update, or when nothing
    /// matched, whether the document exists and its current version, from a second read of
    /// `filter` alone (so the caller can tell a conflict from a missing document). Nothing is
    /// written on a conflict. Which field is the counter is the caller's policy.
    #[pyo3(signature = (filter, changes, expected_version, *, version, session = None))]
    fn versioned_update<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        changes: &Bound<'py, PyAny>,
        expected_version: Option<i64>,
        version: String,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let write = VersionedWrite::new(
            filter_document(Some(filter))?,
            encode_filter(changes)?,
            expected_version,
            version,
        )?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move { write.run(&target, session).await })
    }

    /// Deletes the first matching document; returns how many were deleted (0 or 1).
    #[pyo3(signature = (filter, *, session = None))]
    fn delete_one<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.delete(py, filter, false, session)
    }

    /// Deletes every matching document; returns how many were deleted.
    #[pyo3(signature = (filter, *, session = None))]
    fn delete_many<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.delete(py, filter, true, session)
    }
}

impl Collection {
    fn update<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        update: &Bound<'py, PyAny>,
        upsert: bool,
        many: bool,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_document(Some(filter))?;
        let update = update_modifications(update)?;
        let mut options = UpdateOptions::default();
        options.upsert = Some(upsert);
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let result = if many {
                in_session!(
                    session,
                    collection.update_many(filter, update).with_options(options)
                )
            } else {
                in_session!(
                    session,
                    collection.update_one(filter, update).with_options(options)
                )
            }
            .map_err(|e| target.wrap(e))?;
            Ok(Updated {
                matched: result.matched_count,
                modified: result.modified_count,
                upserted_id: result
                    .upserted_id
                    .and_then(|id| bson::RawBson::try_from(id).ok()),
            })
        })
    }

    fn delete<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        many: bool,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_document(Some(filter))?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let result = if many {
                in_session!(session, collection.delete_many(filter))
            } else {
                in_session!(session, collection.delete_one(filter))
            }
            .map_err(|e| target.wrap(e))?;
            Ok(result.deleted_count)
        })
    }
}

/// `replace_many`'s statements, each one's filter and replacement, checked before anything is
/// sent: one extra filter per document when there are any; every document has a non-null
/// `_id`, no top-level `$` key (the server would read it as an update operator) and is within
/// the 16 MiB limit.
fn replacements(
    documents: Vec<RawDocumentBuf>,
    filters: Option<Vec<Document>>,
) -> PyResult<Vec<(RawDocumentBuf, RawDocumentBuf)>> {
    if let Some(filters) = &filters {
        if filters.len() != documents.len() {
            return Err(PyValueError::new_err(format!(
                "replace_many takes one filter per document: {} filters for {} documents",
                filters.len(),
                documents.len()
            )));
        }
    }
    let mut extras = filters.map(Vec::into_iter);
    let mut statements = Vec::with_capacity(documents.len());
    for (index, document) in documents.into_iter().enumerate() {
        let extra = extras.as_mut().and_then(Iterator::next);
        let filter = match document.get("_id").map_err(invalid)? {
            None | Some(RawBsonRef::Null) => {
                return Err(PyValueError::new_err(format!(
                    "document {index} of the batch has no _id: replace_many replaces each \
                     document by its _id; nothing was sent"
                )))
            }
            Some(id) => id_filter(id, extra)?,
        };
        for entry in &document {
            let (key, _) = entry.map_err(invalid)?;
            if key.starts_with('$') {
                return Err(PyValueError::new_err(format!(
                    "document {index} of the batch has a top-level key {key:?}: a replacement \
                     cannot hold update operators or $-prefixed fields; nothing was sent"
                )));
            }
        }
        if let Some(error) = TooLarge::check(&document, index, 0) {
            return Err(Error::TooLarge(Box::new(error)).into());
        }
        statements.push((filter, document));
    }
    Ok(statements)
}

/// Each document as BSON: models by `plan` (encoded from their fields, see `ModelPlan`), the
/// rest as dicts.
fn encode_all(
    documents: &Bound<'_, PyAny>,
    plan: Option<&Bound<'_, ModelPlan>>,
) -> PyResult<Vec<RawDocumentBuf>> {
    documents
        .try_iter()?
        .map(|d| match plan {
            Some(plan) => encode_with_plan(&d?, plan.get()),
            None => encode_document(&d?),
        })
        .collect()
}

fn invalid(e: bson::raw::Error) -> PyErr {
    Error::InvalidBson(e.to_string()).into()
}

/// `{_id: id}` with the extra conditions: merged when they do not name `_id`, else `$and`ed.
fn id_filter(id: RawBsonRef<'_>, extra: Option<Document>) -> PyResult<RawDocumentBuf> {
    let mut filter = RawDocumentBuf::new();
    let Some(extra) = extra.filter(|e| !e.is_empty()) else {
        filter.append_ref("_id", id);
        return Ok(filter);
    };
    let extra = RawDocumentBuf::from_document(&extra).map_err(invalid)?;
    if extra.get("_id").map_err(invalid)?.is_some() {
        let mut by_id = RawDocumentBuf::new();
        by_id.append_ref("_id", id);
        let mut both = RawArrayBuf::new();
        both.push(RawBson::Document(by_id));
        both.push(RawBson::Document(extra));
        filter.append("$and", both);
    } else {
        filter.append_ref("_id", id);
        for entry in &extra {
            let (key, value) = entry.map_err(invalid)?;
            filter.append_ref(key, value);
        }
    }
    Ok(filter)
}
