//! The one Rust error type of the core and its single mapping to Python exceptions.
//!
//! The exception classes live in `vellum.errors` (Python), so users can subclass and catch them
//! with ordinary multiple inheritance (`vellum.ConnectionError` is also a builtin
//! `ConnectionError`). Errors built here are lazy: no Python object is created until the error
//! reaches a thread attached to the interpreter, so tokio tasks never touch Python.

use mongodb::error::{ErrorKind, WriteError, WriteFailure};

use crate::codec::DecodedDocument;
use pyo3::prelude::*;
use pyo3::PyErr;
use pyo3::PyTypeInfo;

pyo3::import_exception!(vellum.errors, VellumError);
pyo3::import_exception!(vellum.errors, ConfigurationError);
pyo3::import_exception!(vellum.errors, ConnectionError);
pyo3::import_exception!(vellum.errors, ServerSelectionTimeoutError);
pyo3::import_exception!(vellum.errors, AuthenticationError);
pyo3::import_exception!(vellum.errors, OperationFailure);
pyo3::import_exception!(vellum.errors, DuplicateKeyError);
pyo3::import_exception!(vellum.errors, DocumentValidationError);
pyo3::import_exception!(vellum.errors, ClientClosedError);
pyo3::import_exception!(vellum.errors, ForkedClientError);
pyo3::import_exception!(vellum.errors, DocumentTooLargeError);
pyo3::import_exception!(vellum.errors, UnvouchedDocumentError);
pyo3::import_exception!(vellum.errors, UnsupportedTypeError);
pyo3::import_exception!(vellum.errors, ValueOutOfRangeError);
pyo3::import_exception!(vellum.errors, QueryError);
pyo3::import_exception!(vellum.errors, SessionError);
pyo3::import_exception!(vellum.errors, TransactionError);
pyo3::import_exception!(vellum.errors, TransactionsNotSupportedError);

/// Everything that can go wrong in the core outside of Python-side validation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{source}")]
    Driver {
        source: Box<mongodb::error::Error>,
        /// The connection string with any password replaced, for connection errors.
        uri: std::sync::Arc<str>,
    },
    #[error(
        "this client is closed; create a new one with connect_to_mongodb() or init_db_client()"
    )]
    ClientClosed,
    #[error("invalid connection string {uri}: {message}")]
    InvalidUri { uri: String, message: String },
    #[error("the server sent a document that is not valid BSON: {0}")]
    InvalidBson(String),
    #[error(
        "this session has ended (its `async with` block is over); start a new one with \
         client.start_session() or client.transaction()"
    )]
    SessionEnded,
    #[error(
        "this session belongs to another client: a session can only be used with the client \
         that started it"
    )]
    ForeignSession,
    #[error(
        "the MongoDB deployment at {0} does not support transactions: they need a replica set \
         or a sharded cluster. For development, start the single-node replica set in \
         docker-compose.yml (docker compose up -d)"
    )]
    TransactionsUnsupported(std::sync::Arc<str>),
    #[error(
        "a transaction is already open on this session; transactions do not nest. Commit or \
         abort it first, or run the inner work in the same transaction"
    )]
    TransactionOpen,
    #[error(
        "this operation was issued in a transaction that ended (committed or aborted) before it \
         could run, so it was not run: nothing was read or written"
    )]
    TransactionMoved,
    #[error("a document is larger than MongoDB's 16 MiB limit")]
    TooLarge(Box<TooLarge>),
    #[error(
        "this client was created in the parent of this forked process; its connections stay \
         in the parent. Create a new client in this process (connect_to_mongodb() after the \
         fork), as multiprocessing, gunicorn --preload and Celery prefork workers should"
    )]
    ForkedClient,
    #[error(
        "internal error in Vellum's core (a Rust panic: {0}); the operation's outcome is \
         unknown. This is a bug: please report it"
    )]
    Panic(String),
}

/// MongoDB's limit on one stored document (`maxBsonObjectSize`).
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// A document refused before it was sent: over [`MAX_DOCUMENT_BYTES`].
#[derive(Debug)]
pub struct TooLarge {
    /// Its position in the batch.
    pub index: usize,
    /// Its `_id`, if it has one.
    pub id: Option<bson::RawBson>,
    pub size: usize,
    /// How many documents of the batch were stored all the same.
    pub inserted: usize,
}

impl TooLarge {
    /// The error for `document` if it is over the limit.
    pub fn check(document: &bson::RawDocumentBuf, index: usize, inserted: usize) -> Option<Self> {
        let size = document.as_bytes().len();
        (size > MAX_DOCUMENT_BYTES).then(|| TooLarge {
            index,
            id: document
                .get("_id")
                .ok()
                .flatten()
                .map(|id| id.to_raw_bson()),
            size,
            inserted,
        })
    }

    fn to_pyerr(&self, py: Python<'_>) -> PyErr {
        let build = || -> PyResult<PyErr> {
            let id = match &self.id {
                Some(id) => crate::codec::decode::decode_one(py, id)?,
                None => py.None().into_bound(py),
            };
            let message = format!(
                "document {} (index {} of the batch) is {} bytes, over MongoDB's limit of {} \
                 bytes (16 MiB): it was not sent, and {} other document(s) of the batch were \
                 stored. Split it, or keep large data elsewhere (GridFS)",
                id.repr()?,
                self.index,
                self.size,
                MAX_DOCUMENT_BYTES,
                self.inserted
            );
            let kwargs = pyo3::types::PyDict::new(py);
            kwargs.set_item("document_id", id)?;
            kwargs.set_item("index", self.index)?;
            kwargs.set_item("size", self.size)?;
            kwargs.set_item("inserted", self.inserted)?;
            let error = DocumentTooLargeError::type_object(py).call((message,), Some(&kwargs))?;
            Ok(PyErr::from_value(error))
        };
        build().unwrap_or_else(|e| e)
    }
}

impl Error {
    pub fn driver(source: mongodb::error::Error, uri: &std::sync::Arc<str>) -> Self {
        Error::Driver {
            source: Box::new(source),
            uri: uri.clone(),
        }
    }
}

/// What a write command's reply reports beside `ok: 1`, which the driver's `run_command`
/// returns without raising; as the driver's own errors, so they map as any other write's.
#[derive(Default)]
pub struct WriteFailures {
    /// The first write error, its message naming its statement's position in the whole batch.
    pub write: Option<mongodb::error::Error>,
    /// That statement's position in the whole batch.
    pub index: Option<usize>,
    /// The write concern error.
    pub concern: Option<mongodb::error::Error>,
}

impl WriteFailures {
    /// The failures of `reply`, the reply to a command whose first statement is at `first`.
    pub fn of(reply: &bson::Document, first: usize) -> Result<Self, Error> {
        let unexpected =
            |e: bson::de::Error| Error::InvalidBson(format!("unexpected write reply: {e}"));
        let mut failures = WriteFailures::default();
        let errors = reply.get_array("writeErrors").map(|e| e.first());
        if let Ok(Some(bson::Bson::Document(entry))) = errors {
            let mut error: WriteError = bson::from_document(entry.clone()).map_err(unexpected)?;
            let index = match entry.get("index") {
                Some(bson::Bson::Int32(i)) => usize::try_from(*i).ok(),
                Some(bson::Bson::Int64(i)) => usize::try_from(*i).ok(),
                _ => None,
            };
            if let Some(index) = index {
                error.message = format!(
                    "{} (document {} of the batch)",
                    error.message,
                    first + index
                );
                failures.index = Some(first + index);
            }
            failures.write = Some(ErrorKind::Write(WriteFailure::WriteError(error)).into());
        }
        if let Ok(entry) = reply.get_document("writeConcernError") {
            let error = bson::from_document(entry.clone()).map_err(unexpected)?;
            failures.concern =
                Some(ErrorKind::Write(WriteFailure::WriteConcernError(error)).into());
        }
        Ok(failures)
    }
}

/// What MongoDB said about a failed operation, in the shape `OperationFailure.__init__` takes:
/// message, code, code name, labels, details (the write's `errInfo`, decoded when raised).
type FailureArgs = (
    String,
    Option<i32>,
    Option<String>,
    Vec<String>,
    DecodedDocument,
);

fn failure(
    message: String,
    code: Option<i32>,
    code_name: Option<String>,
    labels: Vec<String>,
    details: Option<&bson::Document>,
) -> PyErr {
    let details = details.and_then(|d| bson::RawDocumentBuf::from_document(d).ok());
    let args: FailureArgs = (
        message,
        code,
        code_name,
        labels,
        DecodedDocument::of(details),
    );
    if code == Some(DUPLICATE_KEY) {
        DuplicateKeyError::new_err(args)
    } else {
        OperationFailure::new_err(args)
    }
}

const DUPLICATE_KEY: i32 = 11000;

/// The error document the driver quotes (as hex BSON) when it cannot read a reply as a command
/// error: its `errmsg`, and `code`/`codeName` if present.
fn server_reply(message: &str) -> Option<(String, Option<i32>, Option<String>)> {
    let start = message.find("data: \"")? + 7;
    let hex = &message[start..start + message[start..].find('"')?];
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let reply = bson::RawDocument::from_bytes(&bytes).ok()?;
    let errmsg = reply.get_str("errmsg").ok()?.to_owned();
    let code = reply.get_i32("code").ok();
    let code_name = reply.get_str("codeName").ok().map(str::to_owned);
    Some((errmsg, code, code_name))
}

/// At most 300 characters of a driver message, for an error nobody can read more of.
fn clip(message: &str) -> String {
    match message.char_indices().nth(300) {
        Some((at, _)) => format!("{}...", &message[..at]),
        None => message.to_owned(),
    }
}

fn driver_to_py(err: &mongodb::error::Error, uri: &str) -> PyErr {
    let mut labels: Vec<String> = err.labels().iter().cloned().collect();
    labels.sort();
    match err.kind.as_ref() {
        ErrorKind::Command(c) => failure(
            c.message.clone(),
            Some(c.code),
            Some(c.code_name.clone()),
            labels,
            None,
        ),
        ErrorKind::Write(WriteFailure::WriteError(w)) => failure(
            w.message.clone(),
            Some(w.code),
            w.code_name.clone(),
            labels,
            w.details.as_ref(),
        ),
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => failure(
            format!("write concern not satisfied: {}", w.message),
            Some(w.code),
            Some(w.code_name.clone()),
            labels,
            w.details.as_ref(),
        ),
        ErrorKind::InsertMany(e) => {
            match e.write_errors.as_ref().and_then(|errors| errors.first()) {
                Some(w) => failure(
                    format!("{} (document {} of the batch)", w.message, w.index),
                    Some(w.code),
                    w.code_name.clone(),
                    labels,
                    w.details.as_ref(),
                ),
                None => failure(err.to_string(), None, None, labels, None),
            }
        }
        ErrorKind::InvalidResponse { message, .. } => match server_reply(&err.to_string()) {
            // A reply the driver could not read as a command error (one without `code`): the
            // server's refusal all the same, in its own words.
            Some((errmsg, code, code_name)) => failure(errmsg, code, code_name, labels, None),
            None => failure(
                format!(
                    "the server sent a reply the driver could not read: {}",
                    clip(message)
                ),
                None,
                None,
                labels,
                None,
            ),
        },
        ErrorKind::BulkWrite(_) => failure(err.to_string(), None, None, labels, None),
        ErrorKind::ServerSelection { message, .. } => ServerSelectionTimeoutError::new_err((
            format!(
                "no MongoDB server answered at {uri} before the server selection timeout. \
                 Check that the server is running and reachable from here, and that the URI is \
                 right (lower serverSelectionTimeoutMS to fail faster). Driver said: {message}"
            ),
            labels,
        )),
        ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. } => ConnectionError::new_err((
            format!("connection to MongoDB at {uri} failed: {}", err.kind),
            labels,
        )),
        ErrorKind::Authentication { message, .. } => AuthenticationError::new_err(format!(
            "authentication to MongoDB at {uri} failed: {message}. Check the user name, password \
             and authSource in the URI"
        )),
        ErrorKind::InvalidArgument { message, .. } => ConfigurationError::new_err(message.clone()),
        ErrorKind::Shutdown => ClientClosedError::new_err(Error::ClientClosed.to_string()),
        ErrorKind::Transaction { message, .. } => {
            TransactionError::new_err(format!("transaction error: {message}"))
        }
        ErrorKind::SessionsNotSupported => TransactionsNotSupportedError::new_err(format!(
            "the MongoDB deployment at {uri} does not support sessions"
        )),
        _ => VellumError::new_err(err.to_string()),
    }
}

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        match &err {
            Error::Driver { source, uri } => driver_to_py(source, uri),
            Error::ClientClosed => ClientClosedError::new_err(err.to_string()),
            Error::InvalidUri { .. } => ConfigurationError::new_err(err.to_string()),
            Error::InvalidBson(_) => VellumError::new_err(err.to_string()),
            Error::SessionEnded | Error::ForeignSession => SessionError::new_err(err.to_string()),
            Error::TransactionMoved | Error::TransactionOpen => {
                TransactionError::new_err(err.to_string())
            }
            Error::TransactionsUnsupported(_) => {
                TransactionsNotSupportedError::new_err(err.to_string())
            }
            Error::Panic(_) => VellumError::new_err(err.to_string()),
            Error::ForkedClient => ForkedClientError::new_err(err.to_string()),
            Error::TooLarge(too_large) => Python::attach(|py| too_large.to_pyerr(py)),
        }
    }
}
