//! The driver side of `Collection`: operations on owned BSON values only, run inside the
//! session when there is one. Nothing here touches Python except the argument checks that run
//! before a task is spawned.

use std::iter::Peekable;
use std::sync::Arc;

use bson::{doc, Document, RawArrayBuf, RawBson, RawBsonRef, RawDocument, RawDocumentBuf};
use mongodb::options::{
    AggregateOptions, FindOneAndUpdateOptions, FindOneOptions, FindOptions, ReturnDocument,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::codec::{encode_filter, Batch, DecodedDocument};
use crate::driver::ClientInner;
use crate::error::{Error, WriteFailures, MAX_DOCUMENT_BYTES};
use crate::options::{non_negative, optional_document};
use crate::pipeline::Pipeline;
use crate::results::{Updated, Versioned};
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

/// MongoDB's limit on the statements of one write command (`maxWriteBatchSize`).
const MAX_STATEMENTS: usize = 100_000;
/// The most bytes one `update` command document takes when it carries several statements: the
/// 16 MiB limit, less room for the fields the driver adds (`$db`, `lsid`, `$clusterTime`,
/// `txnNumber`...). A statement too large to share a command is sent alone (the server takes a
/// command up to 16 KiB over the limit, for one document of the maximum size).
const MAX_COMMAND_BYTES: usize = MAX_DOCUMENT_BYTES - 16 * 1024;

/// Replaces each document by its `_id` (and the extra conditions of its filter), in as few
/// `update` commands as the server's limits allow: one round trip per batch, not per document.
pub struct ReplaceMany {
    /// Each statement's filter (`_id` and the extra conditions) and replacement.
    statements: Vec<(RawDocumentBuf, RawDocumentBuf)>,
    ordered: bool,
}

impl ReplaceMany {
    /// The statements: each one's filter (`_id` and its extra conditions) and replacement.
    pub fn new(statements: Vec<(RawDocumentBuf, RawDocumentBuf)>, ordered: bool) -> Self {
        ReplaceMany {
            statements,
            ordered,
        }
    }

    /// Sends the `update` commands one after the other, in the session if there is one, and
    /// adds up their counts. Ordered, the first write error stops the batch; unordered, every
    /// command is sent and the first write error is raised at the end (a write concern error
    /// after every command, when no write failed).
    pub async fn run(
        self,
        target: &Target,
        session: Option<SessionHandle>,
    ) -> Result<Updated, Error> {
        let ReplaceMany {
            statements,
            ordered,
        } = self;
        let database = target.client.driver()?.database(&target.database);
        // One lock for every command: the session's other users cannot interleave.
        let mut locked = match &session {
            Some(handle) => Some(handle.lock().await),
            None => None,
        };
        let (mut matched, mut modified) = (0, 0);
        let mut write_error = None;
        let mut concern_error = None;
        let statements = statements.into_iter().map(|(q, u)| statement(&q, &u));
        for (first, command) in UpdateCommands::new(&target.name, statements, ordered) {
            let action = database.run_raw_command(command);
            let reply = match locked.as_mut() {
                Some(l) => action.session(l.get()?).await,
                None => action.await,
            };
            let reply = match reply {
                Ok(reply) => reply,
                // NoSuchTransaction after a write error: that error aborted the transaction
                // (MongoDB does; the emulator keeps it open), and is the one to raise.
                Err(e) if write_error.is_some() && is_code(&e, 251) => break,
                Err(e) => return Err(target.wrap(e)),
            };
            matched += count(&reply, "n");
            modified += count(&reply, "nModified");
            let failures = WriteFailures::of(&reply, first)?;
            if let Some(failed) = failures.write {
                if ordered {
                    return Err(target.wrap(failed));
                }
                write_error.get_or_insert(failed);
            }
            if let Some(concern) = failures.concern {
                concern_error.get_or_insert(concern);
            }
        }
        match write_error.or(concern_error) {
            Some(e) => Err(target.wrap(e)),
            None => Ok(Updated {
                matched,
                modified,
                upserted_id: None,
            }),
        }
    }
}

pub fn is_code(error: &mongodb::error::Error, code: i32) -> bool {
    matches!(error.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.code == code)
}

/// One statement of an `update` command: replace the document matching `q` by `u`.
fn statement(q: &RawDocument, u: &RawDocument) -> RawDocumentBuf {
    let mut statement = RawDocumentBuf::new();
    statement.append_ref("q", q);
    statement.append_ref("u", u);
    statement.append("upsert", false);
    statement.append("multi", false);
    statement
}

/// The write commands that carry a list of statements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Update,
    Delete,
}

fn write_command(name: &str, verb: Verb, statements: RawArrayBuf, ordered: bool) -> RawDocumentBuf {
    let (command_name, list) = match verb {
        Verb::Update => ("update", "updates"),
        Verb::Delete => ("delete", "deletes"),
    };
    let mut command = RawDocumentBuf::new();
    command.append(command_name, name);
    command.append(list, statements);
    command.append("ordered", ordered);
    command
}

/// The bytes a statement of `len` bytes adds to the `updates` array at `position`: its type
/// byte, its key (the position in decimal) with its terminator, and the statement.
fn entry_bytes(position: usize, len: usize) -> usize {
    let digits = position.checked_ilog10().map_or(1, |d| d as usize + 1);
    1 + digits + 1 + len
}

/// The `update` commands carrying a list of statements, built one at a time as they are sent,
/// each with the position of its first statement in the list. Each command holds at most
/// [`MAX_STATEMENTS`] statements and [`MAX_COMMAND_BYTES`] bytes, or a single statement.
pub struct UpdateCommands<'a, I: Iterator<Item = RawDocumentBuf>> {
    name: &'a str,
    verb: Verb,
    ordered: bool,
    statements: Peekable<I>,
    /// The size of a command without statements.
    base: usize,
    sent: usize,
}

impl<'a, I: Iterator<Item = RawDocumentBuf>> UpdateCommands<'a, I> {
    pub fn new(name: &'a str, statements: I, ordered: bool) -> Self {
        Self::of(name, Verb::Update, statements, ordered)
    }

    /// The `update` or `delete` commands of `statements`.
    pub fn of(name: &'a str, verb: Verb, statements: I, ordered: bool) -> Self {
        let base = write_command(name, verb, RawArrayBuf::new(), ordered)
            .as_bytes()
            .len();
        UpdateCommands {
            name,
            verb,
            ordered,
            statements: statements.peekable(),
            base,
            sent: 0,
        }
    }
}

impl<I: Iterator<Item = RawDocumentBuf>> Iterator for UpdateCommands<'_, I> {
    type Item = (usize, RawDocumentBuf);

    fn next(&mut self) -> Option<Self::Item> {
        let mut updates = RawArrayBuf::new();
        let (mut size, mut count) = (self.base, 0);
        while let Some(next) = self.statements.peek() {
            let entry = entry_bytes(count, next.as_bytes().len());
            if count > 0 && (count == MAX_STATEMENTS || size + entry > MAX_COMMAND_BYTES) {
                break;
            }
            size += entry;
            count += 1;
            updates.push(RawBson::Document(self.statements.next()?));
        }
        if count == 0 {
            return None;
        }
        let command = write_command(self.name, self.verb, updates, self.ordered);
        debug_assert_eq!(command.as_bytes().len(), size);
        let first = self.sent;
        self.sent += count;
        Some((first, command))
    }
}

/// A count of an `update` reply (`n`, `nModified`); 0 when absent.
pub fn count(reply: &Document, key: &str) -> u64 {
    match reply.get(key) {
        Some(bson::Bson::Int32(n)) => u64::try_from(*n).unwrap_or(0),
        Some(bson::Bson::Int64(n)) => u64::try_from(*n).unwrap_or(0),
        Some(bson::Bson::Double(n)) if *n >= 0.0 => *n as u64,
        _ => 0,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Statements replacing `_id: 0..n` by documents with a string of `bytes` bytes.
    fn statements(n: usize, bytes: usize) -> impl Iterator<Item = RawDocumentBuf> {
        (0..n).map(move |i| {
            let id = RawDocumentBuf::from_document(&doc! { "_id": i as i64 }).unwrap();
            let mut u = id.clone();
            u.append("s", "x".repeat(bytes));
            statement(&id, &u)
        })
    }

    fn split(commands: UpdateCommands<'_, impl Iterator<Item = RawDocumentBuf>>) -> Vec<usize> {
        let mut sent = 0;
        let counts = commands.map(|(first, command)| {
            assert_eq!(first, sent);
            let count = command.get_array("updates").unwrap().into_iter().count();
            assert!(count == 1 || command.as_bytes().len() <= MAX_COMMAND_BYTES);
            sent += count;
            count
        });
        counts.collect()
    }

    #[test]
    fn commands_hold_at_most_the_statements_the_server_takes() {
        let commands = UpdateCommands::new("c", statements(250_001, 0), false);
        assert_eq!(split(commands), [100_000, 100_000, 50_001]);
    }

    #[test]
    fn commands_stay_under_the_size_limit() {
        let commands = UpdateCommands::new("c", statements(40, 1 << 20), true);
        assert_eq!(split(commands), [15, 15, 10]);
        // A statement too large to share a command goes alone.
        let big = statements(1, MAX_COMMAND_BYTES - 100);
        let mixed = statements(2, 10).chain(big).chain(statements(2, 10));
        assert_eq!(split(UpdateCommands::new("c", mixed, false)), [2, 1, 2]);
    }
}
