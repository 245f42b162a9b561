//! The driver side of `Collection`: operations on owned BSON values only, run inside the
//! session when there is one. Nothing here touches Python except the argument checks that run
//! before a task is spawned.

use std::sync::Arc;

use bson::{doc, Document, RawBson, RawBsonRef, RawDocumentBuf};
use mongodb::options::{
    AggregateOptions, FindOneAndUpdateOptions, FindOneOptions, FindOptions, ReturnDocument,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::codec::{encode_filter, Batch, DecodedDocument};
use crate::driver::ClientInner;
use crate::error::Error;
use crate::options::{non_negative, optional_document};
use crate::pipeline::Pipeline;
use crate::results::Versioned;
use crate::session::SessionHandle;
use mongodb::ClientSession;

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
                let docs: Vec<::bson::RawDocumentBuf> =
                    ::futures_util::TryStreamExt::try_collect(cursor.stream(session))
                        .await
                        .map_err(|e| $target.wrap(e))?;
                docs
            }
            None => {
                let cursor = $action.await.map_err(|e| $target.wrap(e))?;
                let docs: Vec<::bson::RawDocumentBuf> =
                    ::futures_util::TryStreamExt::try_collect(cursor)
                        .await
                        .map_err(|e| $target.wrap(e))?;
                docs
            }
        }
    };
}
pub(crate) use collect_in_session;
pub(crate) use in_session;

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
                $crate::cursor::Cursor::in_session(
                    cursor,
                    handle,
                    $target.client.clone(),
                    $batch_size,
                )
            }
            None => {
                let cursor = $action.await.map_err(|e| $target.wrap(e))?;
                $crate::cursor::Cursor::new(cursor, $target.client.clone(), $batch_size)
            }
        }
    };
}
pub(crate) use open_cursor;

/// What a spawned task needs to reach one collection: the client and the names, all owned.
#[derive(Clone)]
pub struct Target {
    pub client: Arc<ClientInner>,
    pub database: String,
    pub name: String,
}

impl Target {
    pub fn collection(&self) -> Result<mongodb::Collection<RawDocumentBuf>, Error> {
        Ok(self
            .client
            .driver()?
            .database(&self.database)
            .collection(&self.name))
    }

    pub fn wrap(&self, err: mongodb::error::Error) -> Error {
        self.client.wrap(err)
    }

    pub async fn command(
        &self,
        command: Document,
        session: &Option<SessionHandle>,
    ) -> Result<Document, Error> {
        let database = self.client.driver()?.database(&self.database);
        in_session!(session, database.run_command(command)).map_err(|e| self.wrap(e))
    }

    /// The collection's index specs as the server lists them (empty if it does not exist).
    pub async fn list_indexes(&self, session: &Option<SessionHandle>) -> Result<Batch, Error> {
        let target = self;
        // A collection holds at most 64 indexes: they all fit in the first batch.
        let reply = match target
            .command(doc! { "listIndexes": &target.name }, session)
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
    }
}

pub fn find_options(
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

/// Optimistic concurrency: `$set` the changes and increment the counter field on the document
/// matching the filter whose counter is the expected version (any present version when None);
/// when nothing matched, read the filter alone to tell a conflict from a missing document.
///
/// A document stored before its model was versioned has no counter: it counts as version 1.
/// Its first versioned write (expecting 1, or nothing) matches only while the counter is still
/// absent and sets it to 2, so two writers that both read it as version 1 cannot both succeed.
/// Which field is the counter is the caller's policy.
pub struct VersionedWrite {
    filter: Document,
    changes: Document,
    expected: Option<i64>,
    version: String,
}

/// `findAndModify` returning the document after the update, in the session if there is one.
async fn modify(
    collection: &mongodb::Collection<RawDocumentBuf>,
    filter: Document,
    update: Document,
    session: Option<&mut ClientSession>,
) -> mongodb::error::Result<Option<RawDocumentBuf>> {
    let mut options = FindOneAndUpdateOptions::default();
    options.return_document = Some(ReturnDocument::After);
    let action = collection
        .find_one_and_update(filter, update)
        .with_options(options);
    match session {
        Some(s) => action.session(s).await,
        None => action.await,
    }
}

/// The counter of the document matching `filter`: `None` if there is no such document,
/// `Some(None)` if it has no integer counter.
async fn probe(
    collection: &mongodb::Collection<RawDocumentBuf>,
    filter: Document,
    version: &str,
    session: Option<&mut ClientSession>,
) -> mongodb::error::Result<Option<Option<RawBson>>> {
    let mut options = FindOneOptions::default();
    options.projection = Some(doc! { version: 1_i32 });
    let action = collection.find_one(filter).with_options(options);
    let found = match session {
        Some(s) => action.session(s).await?,
        None => action.await?,
    };
    Ok(found.map(|d| d.get(version).ok().flatten().map(RawBsonRef::to_raw_bson)))
}

impl VersionedWrite {
    pub fn new(
        filter: Document,
        changes: Document,
        expected: Option<i64>,
        version: String,
    ) -> PyResult<Self> {
        if changes.contains_key(&version) {
            return Err(PyValueError::new_err(format!(
                "{version:?} is the version counter: it is incremented by the update itself"
            )));
        }
        Ok(VersionedWrite {
            filter,
            changes,
            expected,
            version,
        })
    }

    pub async fn run(
        self,
        target: &Target,
        session: Option<SessionHandle>,
    ) -> Result<Versioned, Error> {
        let VersionedWrite {
            filter,
            changes,
            expected,
            version,
        } = self;
        let v = version.as_str();
        let guard = match expected {
            Some(expected) => doc! { v: expected },
            None => doc! { v: { "$exists": true } },
        };
        let mut update = doc! { "$inc": { v: 1_i32 } };
        if !changes.is_empty() {
            update.insert("$set", changes.clone());
        }
        let collection = target.collection()?;
        // One lock for every step: the session's other users cannot interleave.
        let mut locked = match &session {
            Some(handle) => Some(handle.lock().await),
            None => None,
        };
        let mut s = match locked.as_mut() {
            Some(l) => Some(l.get()?),
            None => None,
        };
        let wrap = |e| target.wrap(e);
        let guarded = doc! { "$and": [filter.clone(), guard] };
        let mut updated = modify(&collection, guarded, update, s.as_deref_mut())
            .await
            .map_err(wrap)?;
        let mut current = None;
        if updated.is_none() {
            current = probe(&collection, filter.clone(), v, s.as_deref_mut())
                .await
                .map_err(wrap)?;
            let unversioned = matches!(current, Some(None));
            if unversioned && expected.is_none_or(|e| e == 1) {
                let mut set = changes;
                set.insert(v, 2_i32);
                let first = doc! { "$and": [filter.clone(), { v: { "$exists": false } }] };
                updated = modify(&collection, first, doc! { "$set": set }, s.as_deref_mut())
                    .await
                    .map_err(wrap)?;
                if updated.is_none() {
                    current = probe(&collection, filter, v, s).await.map_err(wrap)?;
                }
            }
        }
        let exists = updated.is_some() || current.is_some();
        let current_version = match current.flatten() {
            Some(RawBson::Int32(n)) => Some(i64::from(n)),
            Some(RawBson::Int64(n)) => Some(n),
            _ => None,
        };
        Ok(Versioned {
            document: DecodedDocument::of(updated),
            exists,
            current_version,
        })
    }
}

pub fn aggregate_args(
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
