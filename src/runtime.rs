//! The one tokio runtime of the process and the one bridge from Rust futures to Python awaitables.

use std::future::Future;
use std::sync::OnceLock;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::error::Error;

struct Owned {
    runtime: Runtime,
    pid: u32,
}

static RUNTIME: OnceLock<Owned> = OnceLock::new();

/// The process-wide runtime, built on first use (never at import) and registered with
/// pyo3-async-runtimes. A child created by `fork()` after the runtime started cannot use it:
/// its worker threads did not survive the fork.
fn runtime() -> PyResult<&'static Runtime> {
    let owned = RUNTIME.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("vellum-tokio")
            .enable_all()
            .build()
            .expect("vellum: failed to build the tokio runtime");
        Owned {
            runtime,
            pid: std::process::id(),
        }
    });
    if owned.pid != std::process::id() {
        return Err(PyRuntimeError::new_err(
            "vellum was used in a process forked after its runtime started; \
             create clients in the child process (after fork), not in the parent",
        ));
    }
    // Registering twice is harmless: the first registration wins and is the same runtime.
    let _ = pyo3_async_runtimes::tokio::init_with_runtime(&owned.runtime);
    Ok(&owned.runtime)
}

/// Runs `fut` as its own tokio task and returns a Python awaitable for its result.
///
/// The driver call is spawned rather than polled by the awaitable, so cancelling the Python
/// task only stops waiting: the driver operation itself runs to completion (or to its own
/// timeout), and connections and sessions are never dropped half-way through a reply.
/// `fut` must hold only owned Rust data: Python input is converted before this is called.
pub fn spawn<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let handle = runtime()?.spawn(fut);
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        match handle.await {
            Ok(result) => result.map_err(PyErr::from),
            Err(join) => Err(PyRuntimeError::new_err(format!(
                "vellum task failed: {join}"
            ))),
        }
    })
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
