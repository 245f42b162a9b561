//! `Client`: one connection pool to a MongoDB deployment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bson::doc;
use mongodb::event::command::CommandEvent;
use mongodb::event::EventHandler;
use mongodb::options::ClientOptions;
use pyo3::prelude::*;

use crate::codec::decode::DecodedDocument;
use crate::codec::encode_document;
use crate::collection::Collection;
use crate::driver::ClientInner;
use crate::error::{ConfigurationError, Error};
use crate::runtime::{spawn, Done};
use crate::session::Session;
use crate::uri::{redact, scrub};

/// A connection pool to one MongoDB deployment. Create it with `Client.connect`; close it with
/// `close()` before the event loop ends.
#[pyclass(module = "vellum._core", frozen)]
pub struct Client {
    pub inner: Arc<ClientInner>,
    /// The URI's `timeoutMS` (or, failing that, `socketTimeoutMS`): the default bound on each
    /// operation, which the Python side enforces (the Rust driver supports neither option).
    timeout_ms: Option<u64>,
    /// How many commands of each name the driver started, when connected with
    /// `count_commands=True`.
    counts: Option<CommandCounts>,
}

/// Commands the driver sends for its own upkeep (handshakes, authentication, monitoring,
/// session cleanup) rather than for one of the user's operations: not counted.
const UPKEEP_COMMANDS: [&str; 7] = [
    "hello",
    "isMaster",
    "ismaster",
    "saslStart",
    "saslContinue",
    "ping",
    "endSessions",
];

/// Counts of started commands by name, shared between the client and the driver's command event
/// handler (which runs on the driver's tasks and never touches Python).
#[derive(Clone, Default)]
struct CommandCounts(Arc<Mutex<HashMap<String, u64>>>);

impl CommandCounts {
    /// The handler to install in the driver's options. Only installed when counting: without a
    /// handler the driver builds no command events at all.
    fn handler(&self) -> EventHandler<CommandEvent> {
        let counts = self.clone();
        EventHandler::callback(move |event| {
            if let CommandEvent::Started(started) = event {
                if !UPKEEP_COMMANDS.contains(&started.command_name.as_str()) {
                    *counts.lock().entry(started.command_name).or_insert(0) += 1;
                }
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        // A panic while holding the lock cannot leave a count half-written: keep counting.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Removes the options the Rust driver refuses but Vellum implements (`timeoutMS`,
/// `socketTimeoutMS`) from `uri`; returns the rest and the operation bound they give.
fn take_timeouts(uri: &str) -> Result<(String, Option<u64>), String> {
    let Some((base, query)) = uri.split_once('?') else {
        return Ok((uri.to_owned(), None));
    };
    let (mut timeout, mut socket) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match key.to_ascii_lowercase().as_str() {
            "timeoutms" => &mut timeout,
            "sockettimeoutms" => &mut socket,
            _ => {
                kept.push(pair);
                continue;
            }
        };
        let ms: u64 = value
            .parse()
            .map_err(|_| format!("{key} must be a whole number of milliseconds, got {value:?}"))?;
        *slot = Some(ms);
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    // 0 means "no limit", as in MongoDB's drivers.
    Ok((rest, timeout.or(socket).filter(|&ms| ms > 0)))
}

async fn connect(
    uri: String,
    app_name: Option<String>,
    server_selection_timeout_ms: Option<u64>,
    count_commands: bool,
) -> Result<Client, Error> {
    let redacted: Arc<str> = redact(&uri).into();
    let (driver_uri, timeout_ms) = take_timeouts(&uri).map_err(|message| Error::InvalidUri {
        uri: redacted.to_string(),
        message,
    })?;
    // The driver's messages may quote what it could not parse, secrets included.
    let invalid = |e: mongodb::error::Error| Error::InvalidUri {
        uri: redacted.to_string(),
        // The driver's own words, without its debugging frame (kind, labels, source...).
        message: scrub(&e.kind.to_string(), &uri),
    };
    let mut options = ClientOptions::parse(&driver_uri).await.map_err(|e| {
        // Resolving a mongodb+srv host is reaching the deployment, not reading the URI.
        if matches!(
            e.kind.as_ref(),
            mongodb::error::ErrorKind::DnsResolve { .. }
        ) {
            Error::driver(e, &redacted)
        } else {
            invalid(e)
        }
    })?;
    if options.app_name.is_none() {
        options.app_name = Some(app_name.unwrap_or_else(|| "vellum".to_owned()));
    }
    if let Some(ms) = server_selection_timeout_ms {
        options.server_selection_timeout = Some(std::time::Duration::from_millis(ms));
    }
    let counts = count_commands.then(CommandCounts::default);
    if let Some(counts) = &counts {
        options.command_event_handler = Some(counts.handler());
    }
    let driver = mongodb::Client::with_options(options).map_err(invalid)?;
    // Fail at connect time, not at the first query, when the server cannot be reached; and
    // learn whether the deployment runs transactions (a replica set member, or mongos).
    let hello = driver
        .database("admin")
        .run_command(doc! { "hello": 1 })
        .await
        .map_err(|e| Error::driver(e, &redacted))?;
    let transactions = hello.contains_key("setName") || hello.get_str("msg") == Ok("isdbgrid");
    Ok(Client {
        inner: Arc::new(ClientInner::new(driver, redacted, transactions)),
        timeout_ms,
        counts,
    })
}

#[pymethods]
impl Client {
    /// Connects and checks that the server answers. With `count_commands`, counts the commands
    /// it sends by name (see `command_counts`).
    #[staticmethod]
    #[pyo3(signature = (
        uri, *, app_name = None, server_selection_timeout_ms = None, count_commands = false
    ))]
    fn connect(
        py: Python<'_>,
        uri: String,
        app_name: Option<String>,
        server_selection_timeout_ms: Option<u64>,
        count_commands: bool,
    ) -> PyResult<Bound<'_, PyAny>> {
        spawn(
            py,
            connect(uri, app_name, server_selection_timeout_ms, count_commands),
        )
    }

    /// How many commands of each name this client sent since it connected or since the last
    /// `reset_command_counts()` (a copy). Raises `ConfigurationError` unless it was connected
    /// with `count_commands=True`.
    fn command_counts(&self) -> PyResult<HashMap<String, u64>> {
        Ok(self.counting()?.lock().clone())
    }

    /// Sets every command count back to zero.
    fn reset_command_counts(&self) -> PyResult<()> {
        self.counting()?.lock().clear();
        Ok(())
    }

    /// The connection string with any password replaced by `***`.
    #[getter]
    fn uri(&self) -> &str {
        &self.inner.uri
    }

    /// The URI's operation bound in milliseconds (`timeoutMS`, else `socketTimeoutMS`).
    #[getter]
    fn timeout_ms(&self) -> Option<u64> {
        self.timeout_ms
    }

    /// Whether the deployment runs transactions (a replica set or a sharded cluster), from its
    /// `hello` at connect time.
    #[getter]
    fn transactions(&self) -> bool {
        self.inner.transactions
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn collection(&self, database: String, name: String) -> Collection {
        Collection::new(self.inner.clone(), database, name)
    }

    /// Runs a database command and returns the server's reply.
    fn command<'py>(
        &self,
        py: Python<'py>,
        database: String,
        command: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let command = encode_document(command)?;
        let inner = self.inner.clone();
        spawn(py, async move {
            let reply = inner
                .driver()?
                .database(&database)
                .run_raw_command(command)
                .await
                .map_err(|e| inner.wrap(e))?;
            let reply = bson::RawDocumentBuf::from_document(&reply)
                .map_err(|e| Error::InvalidBson(e.to_string()))?;
            Ok(DecodedDocument::of(Some(reply)))
        })
    }

    fn list_collection_names<'py>(
        &self,
        py: Python<'py>,
        database: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        spawn(py, async move {
            let mut names = inner
                .driver()?
                .database(&database)
                .list_collection_names()
                .await
                .map_err(|e| inner.wrap(e))?;
            names.sort();
            Ok(names)
        })
    }

    fn drop_database<'py>(&self, py: Python<'py>, database: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        spawn(py, async move {
            inner
                .driver()?
                .database(&database)
                .drop()
                .await
                .map_err(|e| inner.wrap(e))?;
            Ok(Done)
        })
    }

    /// Starts a session (causally consistent unless told otherwise).
    #[pyo3(signature = (*, causal_consistency = None))]
    fn start_session<'py>(
        &self,
        py: Python<'py>,
        causal_consistency: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        spawn(py, Session::start(inner, causal_consistency))
    }

    /// Closes the pool. Later operations raise `ClientClosedError`; closing twice is harmless.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let taken = self.inner.close();
        spawn(py, async move {
            if let Some(driver) = taken {
                driver.shutdown().immediate(true).await;
            }
            Ok(Done)
        })
    }

    fn __repr__(&self) -> String {
        format!("Client('{}')", self.inner.uri)
    }
}

impl Client {
    fn counting(&self) -> PyResult<&CommandCounts> {
        self.counts.as_ref().ok_or_else(|| {
            ConfigurationError::new_err(
                "this client does not count commands: connect with count_commands=True \
                 (connect_to_mongodb(uri, count_commands=True)) to read or reset command counts",
            )
        })
    }
}
