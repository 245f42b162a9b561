//! The one tokio runtime of the process and the one bridge from Rust futures to Python awaitables.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::IntoPyObjectExt;
use tokio::runtime::Runtime;

use crate::error::Error;

/// The runtime of this process. A child created by `fork()` keeps the parent's runtime object
/// but none of its worker threads: it gets a runtime of its own on first use (the parent's is
/// left alone, never dropped: dropping it would wait for threads that do not exist here).
static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// The process-wide runtime, built on first use (never at import), with the exit hook that
/// stops deliveries to Python; built anew in a forked child.
fn runtime(py: Python<'_>) -> PyResult<&'static Runtime> {
    if SHUTTING_DOWN.load(Ordering::SeqCst) {
        return Err(PyRuntimeError::new_err(
            "vellum cannot start an operation: the interpreter is shutting down",
        ));
    }
    let pid = std::process::id();
    let mut current = RUNTIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((owner, runtime)) = *current {
        if owner == pid {
            return Ok(runtime);
        }
        // A forked child: deliveries counted in the parent will never finish here.
        DELIVERING.store(0, Ordering::SeqCst);
    }
    let first = current.is_none();
    let runtime: &'static Runtime = Box::leak(Box::new(
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("vellum-tokio")
            .enable_all()
            .build()
            .map_err(|e| PyRuntimeError::new_err(format!("vellum: no tokio runtime: {e}")))?,
    ));
    *current = Some((pid, runtime));
    if first {
        // Inherited by forked children with the rest of the interpreter's state.
        py.import("atexit")?
            .call_method1("register", (wrap_pyfunction!(quiesce, py)?,))?;
    }
    Ok(runtime)
}

/// Set at interpreter exit: from then on no worker thread touches Python.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
/// Worker threads handing a result to Python right now.
static DELIVERING: AtomicUsize = AtomicUsize::new(0);

/// Runs at exit (atexit, before the interpreter starts finalizing): stops further deliveries
/// and waits, with the GIL released, for those under way. A worker that still needed the GIL
/// once finalization has begun would be terminated by CPython (`pthread_exit`) in the middle
/// of Rust code, which aborts the process. Seen in practice: `call_soon_threadsafe` releases
/// the GIL to wake the loop, the loop finishes the program meanwhile, and the worker cannot
/// take the GIL back.
#[pyfunction]
fn quiesce(py: Python<'_>) {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    py.detach(|| {
        while DELIVERING.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
    });
}

/// Runs `fut` as its own tokio task and returns an asyncio future of the running loop for its
/// result.
///
/// One task, one hop back: when `fut` finishes, the worker that ran it takes the GIL, converts
/// the result (decoding documents) and hands it to the loop with `call_soon_threadsafe`.
/// (pyo3-async-runtimes' `future_into_py` spawns two tasks and a blocking-pool job per call;
/// measured here, that tripled the cost of a no-op await. See benches/.)
///
/// The driver call runs to completion even when the Python side is cancelled: cancelling only
/// stops waiting, so connections and sessions are never dropped half-way through a reply, and
/// the result of a cancelled await is discarded. `fut` must hold only owned Rust data: Python
/// input is converted before this is called.
pub fn spawn<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let runtime = runtime(py)?;
    let event_loop = pyo3_async_runtimes::get_running_loop(py)?;
    let future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let delivery = Delivery {
        event_loop: event_loop.unbind(),
        future: future.clone().unbind(),
    };
    runtime.spawn(async move {
        // A panic in the operation becomes its error: the await never hangs.
        let result = AssertUnwindSafe(fut)
            .catch_unwind()
            .await
            .unwrap_or_else(|payload| Err(Error::Panic(panic_message(&*payload))));
        // Counted before the check, so that `quiesce` either waits for this delivery or this
        // delivery sees the shutdown and leaves Python alone (nobody is awaiting it then). The
        // guard uncounts it however the delivery ends.
        let _delivering = Delivering::start();
        if !SHUTTING_DOWN.load(Ordering::SeqCst) {
            Python::attach(|py| delivery.deliver(py, result));
        }
    });
    Ok(future)
}

/// One delivery under way, for `quiesce`.
struct Delivering;

impl Delivering {
    fn start() -> Self {
        DELIVERING.fetch_add(1, Ordering::SeqCst);
        Delivering
    }
}

impl Drop for Delivering {
    fn drop(&mut self) {
        DELIVERING.fetch_sub(1, Ordering::SeqCst);
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Where a result goes: an asyncio future and the loop that owns it.
struct Delivery {
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
}

impl Delivery {
    fn deliver<T>(self, py: Python<'_>, result: Result<T, Error>)
    where
        T: for<'a> IntoPyObject<'a>,
    {
        // Converting the result (decoding documents) may panic too: that is its error then.
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            result
                .map_err(PyErr::from)
                .and_then(|value| value.into_py_any(py))
        }))
        .unwrap_or_else(|payload| Err(Error::Panic(panic_message(&*payload)).into()));
        let (succeeded, value) = match outcome {
            Ok(value) => (true, value),
            Err(err) => (false, err.into_value(py).into_any()),
        };
        let resolve = RESOLVE.get_or_try_init(py, || {
            wrap_pyfunction!(resolve, py).map(|f| f.into_any().unbind())
        });
        let sent = resolve.and_then(|resolve| {
            self.event_loop.bind(py).call_method1(
                pyo3::intern!(py, "call_soon_threadsafe"),
                (resolve, self.future, succeeded, value),
            )
        });
        // Only a closed loop refuses the callback, and then nobody is left to await the result.
        if let Err(err) = sent {
            if !err.is_instance_of::<PyRuntimeError>(py) {
                err.write_unraisable(py, None);
            }
        }
    }
}

static RESOLVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Runs on the event loop: settles the future unless it was cancelled meanwhile.
#[pyfunction]
fn resolve(future: &Bound<'_, PyAny>, succeeded: bool, value: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = future.py();
    if future
        .call_method0(pyo3::intern!(py, "done"))?
        .is_truthy()?
    {
        return Ok(());
    }
    let method = if succeeded {
        pyo3::intern!(py, "set_result")
    } else {
        pyo3::intern!(py, "set_exception")
    };
    future.call_method1(method, (value,))?;
    Ok(())
}

/// The result of an operation that returns nothing: `None` in Python (Rust's `()` would
/// become an empty tuple).
pub struct Done;

impl<'py> IntoPyObject<'py> for Done {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = std::convert::Infallible;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(py.None().into_bound(py))
    }
}

/// An awaitable that does no I/O: measures the cost of crossing into tokio and back.
#[pyfunction]
pub fn bridge_overhead_probe(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    spawn(py, async { Ok::<Done, Error>(Done) })
}

/// For tests of the bridge: an awaitable whose operation (`"operation"`) or whose result's
/// conversion (`"conversion"`) panics. The await must raise, never hang.
#[pyfunction]
pub fn panic_probe<'py>(py: Python<'py>, at: &str) -> PyResult<Bound<'py, PyAny>> {
    match at {
        "operation" => spawn::<_, Done>(py, async { panic!("panic_probe: in the operation") }),
        "conversion" => spawn(py, async {
            Ok::<PanicsOnConversion, Error>(PanicsOnConversion)
        }),
        other => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "panic_probe at 'operation' or 'conversion', not {other:?}"
        ))),
    }
}

struct PanicsOnConversion;

impl<'py> IntoPyObject<'py> for PanicsOnConversion {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, _py: Python<'py>) -> PyResult<Self::Output> {
        panic!("panic_probe: in the conversion")
    }
}
