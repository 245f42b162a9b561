//! `Session`: a driver `ClientSession` (causal consistency, transactions) shared by the
//! operations that run in it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mongodb::options::{
    Acknowledgment, ReadConcern, ReadPreference, SelectionCriteria, SessionOptions,
    TransactionOptions, WriteConcern,
};
use mongodb::ClientSession;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use tokio::sync::{Mutex, MutexGuard};

use crate::driver::ClientInner;
use crate::error::Error;
use crate::runtime::{spawn, Done};

/// What operations hold while they run in a session: the driver session (None once ended),
/// and the transaction epoch the operation was issued in.
#[derive(Clone)]
pub struct SessionHandle {
    session: Arc<Mutex<Option<ClientSession>>>,
    state: Arc<State>,
    issued: u64,
}

#[derive(Default)]
struct State {
    ended: AtomicBool,
    in_transaction: AtomicBool,
    /// Counts transaction boundaries (start, commit, abort). An operation runs only in the
    /// epoch it was issued in: tasks take the session in no fixed order, so without this an
    /// operation issued inside a transaction could run after the abort that a cancellation
    /// sent, outside any transaction, and its write would stay.
    epoch: AtomicU64,
}

impl State {
    fn next_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

/// The locked driver session of a running operation.
pub struct Locked<'a> {
    guard: MutexGuard<'a, Option<ClientSession>>,
    state: &'a State,
    issued: u64,
}

impl Locked<'_> {
    pub fn get(&mut self) -> Result<&mut ClientSession, Error> {
        if self.state.epoch.load(Ordering::Acquire) != self.issued {
            return Err(Error::TransactionMoved);
        }
        self.guard.as_mut().ok_or(Error::SessionEnded)
    }
}

impl SessionHandle {
    pub async fn lock(&self) -> Locked<'_> {
        Locked {
            guard: self.session.lock().await,
            state: &self.state,
            issued: self.issued,
        }
    }
}

/// A client session. Operations given the same session are causally consistent and can run in
/// one transaction; a session is used by one task at a time.
#[pyclass(module = "vellum._core", frozen)]
pub struct Session {
    handle: SessionHandle,
    client: Arc<ClientInner>,
}

impl Session {
    /// The handle an operation of `client` takes, after checking the session may be used there.
    pub fn handle_for(&self, client: &Arc<ClientInner>) -> PyResult<SessionHandle> {
        if !Arc::ptr_eq(&self.client, client) {
            return Err(Error::ForeignSession.into());
        }
        if self.handle.state.ended.load(Ordering::Acquire) {
            return Err(Error::SessionEnded.into());
        }
        let mut handle = self.handle.clone();
        handle.issued = handle.state.epoch.load(Ordering::Acquire);
        Ok(handle)
    }

    pub async fn start(
        client: Arc<ClientInner>,
        causal_consistency: Option<bool>,
    ) -> Result<Session, Error> {
        let mut options = SessionOptions::default();
        options.causal_consistency = causal_consistency;
        let session = client
            .driver()?
            .start_session()
            .with_options(options)
            .await
            .map_err(|e| client.wrap(e))?;
        Ok(Session {
            handle: SessionHandle {
                session: Arc::new(Mutex::new(Some(session))),
                state: Arc::new(State::default()),
                issued: 0,
            },
            client,
        })
    }
}

/// Borrowed optional session argument, turned into a handle for `client`.
pub fn optional_handle(
    session: Option<&Bound<'_, Session>>,
    client: &Arc<ClientInner>,
) -> PyResult<Option<SessionHandle>> {
    session.map(|s| s.get().handle_for(client)).transpose()
}

fn read_concern(level: &str) -> PyResult<ReadConcern> {
    Ok(match level {
        "local" => ReadConcern::local(),
        "majority" => ReadConcern::majority(),
        "snapshot" => ReadConcern::snapshot(),
        "linearizable" => ReadConcern::linearizable(),
        "available" => ReadConcern::available(),
        other => {
            return Err(PyValueError::new_err(format!(
                "read_concern must be one of local, majority, snapshot, linearizable, available; \
                 got {other:?}"
            )))
        }
    })
}

fn read_preference(mode: &str) -> PyResult<SelectionCriteria> {
    let preference = match mode {
        "primary" => ReadPreference::Primary,
        "primaryPreferred" => ReadPreference::PrimaryPreferred { options: None },
        "secondary" => ReadPreference::Secondary { options: None },
        "secondaryPreferred" => ReadPreference::SecondaryPreferred { options: None },
        "nearest" => ReadPreference::Nearest { options: None },
        other => {
            return Err(PyValueError::new_err(format!(
                "read_preference must be primary, primaryPreferred, secondary, \
                 secondaryPreferred or nearest; got {other:?}"
            )))
        }
    };
    Ok(SelectionCriteria::ReadPreference(preference))
}

fn write_concern(
    w: Option<&Bound<'_, PyAny>>,
    journal: Option<bool>,
    wtimeout_ms: Option<u64>,
) -> PyResult<Option<WriteConcern>> {
    if w.is_none() && journal.is_none() && wtimeout_ms.is_none() {
        return Ok(None);
    }
    let mut concern = WriteConcern::default();
    if let Some(w) = w {
        concern.w = Some(if let Ok(tag) = w.cast::<PyString>() {
            match tag.to_str()? {
                "majority" => Acknowledgment::Majority,
                other => Acknowledgment::Custom(other.to_owned()),
            }
        } else {
            let nodes: u32 = w.extract().map_err(|_| {
                PyValueError::new_err("write concern w must be a number of nodes or 'majority'")
            })?;
            if nodes == 0 {
                return Err(PyValueError::new_err(
                    "transactions need acknowledged writes: w must be at least 1",
                ));
            }
            Acknowledgment::Nodes(nodes)
        });
    }
    concern.journal = journal;
    concern.w_timeout = wtimeout_ms.map(Duration::from_millis);
    Ok(Some(concern))
}

#[pymethods]
impl Session {
    /// True between `start_transaction` and `commit_transaction`/`abort_transaction`.
    #[getter]
    fn in_transaction(&self) -> bool {
        self.handle.state.in_transaction.load(Ordering::Acquire)
    }

    #[getter]
    fn ended(&self) -> bool {
        self.handle.state.ended.load(Ordering::Acquire)
    }

    #[pyo3(signature = (*, read_concern = None, w = None, journal = None, wtimeout_ms = None, read_preference = None, max_commit_time_ms = None))]
    #[allow(clippy::too_many_arguments)]
    fn start_transaction<'py>(
        &self,
        py: Python<'py>,
        read_concern: Option<&str>,
        w: Option<&Bound<'py, PyAny>>,
        journal: Option<bool>,
        wtimeout_ms: Option<u64>,
        read_preference: Option<&str>,
        max_commit_time_ms: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let handle = self.handle_for(&self.client)?;
        if !self.client.transactions {
            return Err(Error::TransactionsUnsupported(self.client.uri.clone()).into());
        }
        if handle.state.in_transaction.load(Ordering::Acquire) {
            return Err(Error::TransactionOpen.into());
        }
        let mut options = TransactionOptions::default();
        options.read_concern = read_concern.map(self::read_concern).transpose()?;
        options.write_concern = write_concern(w, journal, wtimeout_ms)?;
        options.selection_criteria = read_preference.map(self::read_preference).transpose()?;
        options.max_commit_time = max_commit_time_ms.map(Duration::from_millis);
        let client = self.client.clone();
        spawn(py, async move {
            let mut locked = handle.lock().await;
            let session = locked.get()?;
            session
                .start_transaction()
                .with_options(options)
                .await
                .map_err(|e| client.wrap(e))?;
            handle.state.in_transaction.store(true, Ordering::Release);
            handle.state.next_epoch();
            Ok(Done)
        })
    }

    fn commit_transaction<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let handle = self.handle_for(&self.client)?;
        let client = self.client.clone();
        spawn(py, async move {
            let mut locked = handle.lock().await;
            let result = locked.get()?.commit_transaction().await;
            // The transaction stays open only when the outcome is unknown: the commit may then
            // be retried.
            let unknown = result.as_ref().err().is_some_and(|e| {
                e.contains_label(mongodb::error::UNKNOWN_TRANSACTION_COMMIT_RESULT)
            });
            if !unknown {
                handle.state.in_transaction.store(false, Ordering::Release);
                handle.state.next_epoch();
            }
            result.map_err(|e| client.wrap(e))?;
            Ok(Done)
        })
    }

    fn abort_transaction<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let handle = self.handle_for(&self.client)?;
        let client = self.client.clone();
        spawn(py, async move {
            let mut locked = handle.lock().await;
            handle.state.in_transaction.store(false, Ordering::Release);
            let session = locked.get()?;
            handle.state.next_epoch();
            session
                .abort_transaction()
                .await
                .map_err(|e| client.wrap(e))?;
            Ok(Done)
        })
    }

    /// Ends the session (aborting an open transaction). Later use raises a clear error.
    fn end<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let handle = self.handle.clone();
        handle.state.ended.store(true, Ordering::Release);
        spawn(py, async move {
            // Dropping the driver session aborts its transaction and returns it to the pool.
            let session = handle.session.lock().await.take();
            handle.state.next_epoch();
            if let Some(mut session) = session {
                if handle.state.in_transaction.swap(false, Ordering::AcqRel) {
                    let _ = session.abort_transaction().await;
                }
            }
            Ok(Done)
        })
    }
}
