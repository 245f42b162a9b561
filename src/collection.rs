//! `Collection`: the CRUD, query, aggregation and index operations of one collection.
//!
//! Every method converts its Python arguments to owned BSON first, then spawns the driver call;
//! documents come back as raw BSON and are decoded once per batch.

use std::sync::Arc;

use bson::{doc, Document, RawDocumentBuf};
use futures_util::TryStreamExt;
use mongodb::options::{
    AggregateOptions, CountOptions, FindOneAndUpdateOptions, FindOneOptions, FindOptions,
    ReturnDocument, UpdateOptions,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::client::ClientInner;
use crate::codec::plan::{encode_with_plan, ModelPlan};
use crate::codec::{encode_document, encode_filter, Batch, DecodedDocument};
use crate::cursor::Cursor;
use crate::error::{Error, TooLarge, MAX_DOCUMENT_BYTES};
use crate::options::{non_negative, optional_document, update_modifications};
use crate::pipeline::Pipeline;
use crate::query::filter_document;
use crate::results::{Updated, Versioned};
use crate::runtime::{spawn, Done};
use crate::session::{optional_handle, Session, SessionHandle};

/// Awaits a driver action, inside the session when there is one.
macro_rules! in_session {
    ($session:expr, $action:expr) => {
        match &$session {
            Some(handle) => {
                let mut locked = handle.lock().await;
                $action.session(locked.get()?).await
            }
            None => $action.await,
        }
    };
}

/// Collects every document of a find or aggregate cursor, inside the session if there is one.
macro_rules! collect_in_session {
    ($session:expr, $target:expr, $action:expr) => {
        match &$session {
            Some(handle) => {
                let mut locked = handle.lock().await;
                let session = locked.get()?;
                let mut cursor = $action
                    .session(&mut *session)
                    .await
                    .map_err(|e| $target.wrap(e))?;
                let docs: Vec<RawDocumentBuf> = cursor
                    .stream(session)
                    .try_collect()
                    .await
                    .map_err(|e| $target.wrap(e))?;
                docs
            }
            None => {
                let cursor = $action.await.map_err(|e| $target.wrap(e))?;
                let docs: Vec<RawDocumentBuf> =
                    cursor.try_collect().await.map_err(|e| $target.wrap(e))?;
                docs
            }
        }
    };
}

/// The field optimistic concurrency control counts writes in.

#[pyclass(module = "vellum._core", frozen)]
pub struct Collection {
    client: Arc<ClientInner>,
    database: String,
    name: String,
}

/// Opens a `Cursor` for a find or aggregate action, tied to the session if there is one.
macro_rules! open_cursor {
    ($session:expr, $target:expr, $action:expr, $batch_size:expr) => {
        match $session {
            Some(handle) => {
                let mut locked = handle.lock().await;
                let cursor = $action
                    .session(locked.get()?)
                    .await
                    .map_err(|e| $target.wrap(e))?;
                drop(locked);
                Cursor::in_session(cursor, handle, $target.client.clone(), $batch_size)
            }
            None => {
                let cursor = $action.await.map_err(|e| $target.wrap(e))?;
                Cursor::new(cursor, $target.client.clone(), $batch_size)
            }
        }
    };
}

impl Collection {
    pub fn new(client: Arc<ClientInner>, database: String, name: String) -> Self {
        Collection {
            client,
            database,
            name,
        }
    }

    fn session(&self, session: Option<&Bound<'_, Session>>) -> PyResult<Option<SessionHandle>> {
        optional_handle(session, &self.client)
    }

    /// What a spawned task needs: the client and the names, all owned.
    fn target(&self) -> Target {
        Target {
            client: self.client.clone(),
            database: self.database.clone(),
            name: self.name.clone(),
        }
    }
}

#[derive(Clone)]
struct Target {
    client: Arc<ClientInner>,
    database: String,
    name: String,
}

impl Target {
    fn collection(&self) -> Result<mongodb::Collection<RawDocumentBuf>, Error> {
        Ok(self
            .client
            .driver()?
            .database(&self.database)
            .collection(&self.name))
    }

    fn wrap(&self, err: mongodb::error::Error) -> Error {
        self.client.wrap(err)
    }

    async fn command(
        &self,
        command: Document,
        session: &Option<SessionHandle>,
    ) -> Result<Document, Error> {
        let database = self.client.driver()?.database(&self.database);
        in_session!(session, database.run_command(command)).map_err(|e| self.wrap(e))
    }
}

fn find_options(
    sort: Option<&Bound<'_, PyAny>>,
    skip: Option<&Bound<'_, PyAny>>,
    limit: Option<&Bound<'_, PyAny>>,
    projection: Option<&Bound<'_, PyAny>>,
    batch_size: Option<u32>,
) -> PyResult<FindOptions> {
    let mut options = FindOptions::default();
    options.sort = optional_document(sort)?;
    options.skip = non_negative("skip", skip)?;
    options.limit = non_negative("limit", limit)?.map(|n| n as i64);
    options.projection = optional_document(projection)?;
    options.batch_size = batch_size;
    Ok(options)
}

#[pymethods]
impl Collection {
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    #[getter]
    fn database(&self) -> &str {
        &self.database
    }

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
        let documents = documents
            .try_iter()?
            .map(|d| match plan {
                Some(plan) => encode_with_plan(&d?, plan.get()),
                None => encode_document(&d?),
            })
            .collect::<PyResult<Vec<_>>>()?;
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

    /// Returns every matching document (as models where `plan` says how, see `ModelPlan`).
    #[pyo3(signature = (filter, *, sort = None, skip = None, limit = None, projection = None, batch_size = None, session = None, plan = None))]
    #[allow(clippy::too_many_arguments)]
    fn find<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        sort: Option<&Bound<'py, PyAny>>,
        skip: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
        projection: Option<&Bound<'py, PyAny>>,
        batch_size: Option<u32>,
        session: Option<&Bound<'py, Session>>,
        plan: Option<Py<ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_document(Some(filter))?;
        let options = find_options(sort, skip, limit, projection, batch_size)?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let docs = collect_in_session!(
                session,
                target,
                collection.find(filter).with_options(options)
            );
            Ok(Batch(docs, plan))
        })
    }

    /// Opens a cursor that yields the matching documents batch by batch.
    #[pyo3(signature = (filter, *, sort = None, skip = None, limit = None, projection = None, batch_size = None, session = None, plan = None))]
    #[allow(clippy::too_many_arguments)]
    fn find_cursor<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        sort: Option<&Bound<'py, PyAny>>,
        skip: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
        projection: Option<&Bound<'py, PyAny>>,
        batch_size: Option<u32>,
        session: Option<&Bound<'py, Session>>,
        plan: Option<Py<ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_document(Some(filter))?;
        let options = find_options(sort, skip, limit, projection, batch_size)?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let action = collection.find(filter).with_options(options);
            Ok(open_cursor!(session, target, action, batch_size).with_plan(plan))
        })
    }

    #[pyo3(signature = (filter, *, sort = None, skip = None, projection = None, session = None, plan = None))]
    #[allow(clippy::too_many_arguments)]
    fn find_one<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        sort: Option<&Bound<'py, PyAny>>,
        skip: Option<&Bound<'_, PyAny>>,
        projection: Option<&Bound<'py, PyAny>>,
        session: Option<&Bound<'py, Session>>,
        plan: Option<Py<ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_document(Some(filter))?;
        let mut options = FindOneOptions::default();
        options.sort = optional_document(sort)?;
        options.skip = non_negative("skip", skip)?;
        options.projection = optional_document(projection)?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let doc = in_session!(session, collection.find_one(filter).with_options(options))
                .map_err(|e| target.wrap(e))?;
            Ok(DecodedDocument(doc, plan))
        })
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

    /// Atomically updates one document and returns it as stored after (or before) the update.
    #[pyo3(signature = (filter, update, *, sort = None, projection = None, upsert = false, return_after = true, session = None))]
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
            Ok(DecodedDocument::of(doc))
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
        let filter = filter_document(Some(filter))?;
        let changes = encode_filter(changes)?;
        if changes.contains_key(&version) {
            return Err(PyValueError::new_err(format!(
                "{version:?} is the version counter: it is incremented by the update itself"
            )));
        }
        let mut guarded = filter.clone();
        if let Some(expected) = expected_version {
            guarded = doc! { "$and": [filter.clone(), { version.as_str(): expected }] };
        }
        let mut update = doc! { "$inc": { version.as_str(): 1_i32 } };
        if !changes.is_empty() {
            update.insert("$set", changes);
        }
        let mut options = FindOneAndUpdateOptions::default();
        options.return_document = Some(ReturnDocument::After);
        let mut probe = FindOneOptions::default();
        probe.projection = Some(doc! { version.as_str(): 1_i32 });
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            // One lock for both steps: the session's other users cannot interleave.
            let (updated, current) = match &session {
                Some(handle) => {
                    let mut locked = handle.lock().await;
                    let s = locked.get()?;
                    let updated = collection
                        .find_one_and_update(guarded, update)
                        .with_options(options)
                        .session(&mut *s)
                        .await
                        .map_err(|e| target.wrap(e))?;
                    let current = match updated {
                        Some(_) => None,
                        None => collection
                            .find_one(filter)
                            .with_options(probe)
                            .session(s)
                            .await
                            .map_err(|e| target.wrap(e))?,
                    };
                    (updated, current)
                }
                None => {
                    let updated = collection
                        .find_one_and_update(guarded, update)
                        .with_options(options)
                        .await
                        .map_err(|e| target.wrap(e))?;
                    let current = match updated {
                        Some(_) => None,
                        None => collection
                            .find_one(filter)
                            .with_options(probe)
                            .await
                            .map_err(|e| target.wrap(e))?,
                    };
                    (updated, current)
                }
            };
            let exists = updated.is_some() || current.is_some();
            let current_version = current.as_ref().and_then(|d| match d.get(&version) {
                Ok(Some(bson::RawBsonRef::Int32(v))) => Some(i64::from(v)),
                Ok(Some(bson::RawBsonRef::Int64(v))) => Some(v),
                _ => None,
            });
            Ok(Versioned {
                document: DecodedDocument::of(updated),
                exists,
                current_version,
            })
        })
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

    #[pyo3(signature = (filter, *, skip = None, limit = None, session = None))]
    fn count_documents<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
        skip: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = filter_document(Some(filter))?;
        let mut options = CountOptions::default();
        options.skip = non_negative("skip", skip)?;
        options.limit = non_negative("limit", limit)?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            in_session!(
                session,
                collection.count_documents(filter).with_options(options)
            )
            .map_err(|e| target.wrap(e))
        })
    }

    /// Runs an aggregation pipeline and returns every result document (as models where `plan`
    /// says how).
    #[pyo3(signature = (pipeline, *, batch_size = None, allow_disk_use = None, session = None, plan = None))]
    fn aggregate<'py>(
        &self,
        py: Python<'py>,
        pipeline: &Bound<'py, PyAny>,
        batch_size: Option<u32>,
        allow_disk_use: Option<bool>,
        session: Option<&Bound<'py, Session>>,
        plan: Option<Py<ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (pipeline, options) = aggregate_args(pipeline, batch_size, allow_disk_use)?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let docs = collect_in_session!(
                session,
                target,
                collection
                    .aggregate(pipeline)
                    .with_options(options)
                    .with_type::<RawDocumentBuf>()
            );
            Ok(Batch(docs, plan))
        })
    }

    /// Runs an aggregation pipeline and returns a cursor over its results.
    #[pyo3(signature = (pipeline, *, batch_size = None, allow_disk_use = None, session = None, plan = None))]
    fn aggregate_cursor<'py>(
        &self,
        py: Python<'py>,
        pipeline: &Bound<'py, PyAny>,
        batch_size: Option<u32>,
        allow_disk_use: Option<bool>,
        session: Option<&Bound<'py, Session>>,
        plan: Option<Py<ModelPlan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (pipeline, options) = aggregate_args(pipeline, batch_size, allow_disk_use)?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            let action = collection
                .aggregate(pipeline)
                .with_options(options)
                .with_type::<RawDocumentBuf>();
            Ok(open_cursor!(session, target, action, batch_size).with_plan(plan))
        })
    }

    /// Creates indexes from `createIndexes` specs (`{"key": {...}, "name": ..., ...}`).
    #[pyo3(signature = (specs, *, session = None))]
    fn create_indexes<'py>(
        &self,
        py: Python<'py>,
        specs: &Bound<'py, PyList>,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let specs = specs
            .iter()
            .map(|s| encode_filter(&s))
            .collect::<PyResult<Vec<_>>>()?;
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            target
                .command(
                    doc! { "createIndexes": &target.name, "indexes": specs },
                    &session,
                )
                .await?;
            Ok(Done)
        })
    }

    /// The collection's index specs as the server lists them (empty if it does not exist).
    #[pyo3(signature = (*, session = None))]
    fn list_indexes<'py>(
        &self,
        py: Python<'py>,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            // A collection holds at most 64 indexes: they all fit in the first batch.
            let reply = match target
                .command(doc! { "listIndexes": &target.name }, &session)
                .await
            {
                Ok(reply) => reply,
                // NamespaceNotFound: no collection yet, so no indexes.
                Err(Error::Driver { source, .. }) if matches!(source.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.code == 26) => {
                    return Ok(Batch::of(Vec::new()))
                }
                Err(e) => return Err(e),
            };
            let specs = reply
                .get_document("cursor")
                .and_then(|c| c.get_array("firstBatch"))
                .map_err(|e| Error::InvalidBson(format!("unexpected listIndexes reply: {e}")))?;
            let docs = specs
                .iter()
                .filter_map(|spec| spec.as_document())
                .map(RawDocumentBuf::from_document)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::InvalidBson(e.to_string()))?;
            Ok(Batch::of(docs))
        })
    }

    /// Drops one index by name.
    #[pyo3(signature = (name, *, session = None))]
    fn drop_index<'py>(
        &self,
        py: Python<'py>,
        name: String,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if name == "*" || name == "_id_" {
            return Err(PyValueError::new_err(
                "drop_index takes one index name; use drop_indexes() to drop all but _id_",
            ));
        }
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            target
                .command(
                    doc! { "dropIndexes": &target.name, "index": name },
                    &session,
                )
                .await?;
            Ok(Done)
        })
    }

    /// Drops every index but `_id_`.
    #[pyo3(signature = (*, session = None))]
    fn drop_indexes<'py>(
        &self,
        py: Python<'py>,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            in_session!(session, collection.drop_indexes()).map_err(|e| target.wrap(e))?;
            Ok(Done)
        })
    }

    /// Drops the collection with its documents and indexes.
    #[pyo3(signature = (*, session = None))]
    fn drop<'py>(
        &self,
        py: Python<'py>,
        session: Option<&Bound<'py, Session>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let session = self.session(session)?;
        let target = self.target();
        spawn(py, async move {
            let collection = target.collection()?;
            in_session!(session, collection.drop()).map_err(|e| target.wrap(e))?;
            Ok(Done)
        })
    }

    fn __repr__(&self) -> String {
        format!("Collection('{}.{}')", self.database, self.name)
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

fn aggregate_args(
    pipeline: &Bound<'_, PyAny>,
    batch_size: Option<u32>,
    allow_disk_use: Option<bool>,
) -> PyResult<(Vec<Document>, AggregateOptions)> {
    let stages = match pipeline.cast::<Pipeline>() {
        Ok(built) => built.get().stages().to_vec(),
        Err(_) => pipeline
            .try_iter()?
            .map(|s| encode_filter(&s?))
            .collect::<PyResult<Vec<_>>>()?,
    };
    let mut options = AggregateOptions::default();
    options.batch_size = batch_size;
    options.allow_disk_use = allow_disk_use;
    Ok((stages, options))
}
