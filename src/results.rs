//! What write operations report, as small result classes rather than positional tuples.
//!
//! A tokio task produces the owned Rust value ([`Updated`], [`Versioned`]); it becomes the
//! Python class ([`UpdateOutcome`], [`VersionedOutcome`]) when it is handed to the event loop.

use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};

use crate::codec::decode::decode_one;
use crate::codec::DecodedDocument;

/// What `update_one`/`update_many` did.
#[pyclass(module = "vellum._core", frozen, get_all)]
pub struct UpdateOutcome {
    /// How many documents matched the filter.
    matched: u64,
    /// How many of them were changed.
    modified: u64,
    /// The `_id` of the document an upsert inserted, else None.
    upserted_id: Py<PyAny>,
}

#[pymethods]
impl UpdateOutcome {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "UpdateOutcome(matched={}, modified={}, upserted_id={})",
            self.matched,
            self.modified,
            self.upserted_id.bind(py).repr()?
        ))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.upserted_id)
    }
}

/// An update's counts, on their way to Python.
pub struct Updated {
    pub matched: u64,
    pub modified: u64,
    pub upserted_id: Option<bson::RawBson>,
}

impl<'py> IntoPyObject<'py> for Updated {
    type Target = UpdateOutcome;
    type Output = Bound<'py, UpdateOutcome>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let upserted_id = match &self.upserted_id {
            Some(id) => decode_one(py, id)?.unbind(),
            None => py.None(),
        };
        Bound::new(
            py,
            UpdateOutcome {
                matched: self.matched,
                modified: self.modified,
                upserted_id,
            },
        )
    }
}

/// What a versioned (optimistic-concurrency) update did: the stored document after the update,
/// or, when nothing matched, whether the document exists and its current version, so that the
/// caller can tell a conflict from a missing document.
#[pyclass(module = "vellum._core", frozen, get_all)]
pub struct VersionedOutcome {
    /// The document as stored after the update, or None when nothing was written.
    document: Py<PyAny>,
    /// Whether a document matches the filter without the version condition.
    exists: bool,
    /// Its version when nothing was written and it exists, else None.
    current_version: Option<i64>,
}

#[pymethods]
impl VersionedOutcome {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "VersionedOutcome(document={}, exists={}, current_version={:?})",
            self.document.bind(py).repr()?,
            self.exists,
            self.current_version
        ))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.document)
    }
}

/// A versioned update's outcome, on its way to Python.
pub struct Versioned {
    pub document: DecodedDocument,
    pub exists: bool,
    pub current_version: Option<i64>,
}

impl<'py> IntoPyObject<'py> for Versioned {
    type Target = VersionedOutcome;
    type Output = Bound<'py, VersionedOutcome>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let document = self.document.into_pyobject(py)?.unbind();
        Bound::new(
            py,
            VersionedOutcome {
                document,
                exists: self.exists,
                current_version: self.current_version,
            },
        )
    }
}
