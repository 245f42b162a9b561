//! The codec as plain functions: `encode_bson(dict) -> bytes` and `decode_bson(bytes) -> dict`.

use bson::raw::RawDocument;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use super::decode::{decode_document, decode_for_python, KeyCache};
use super::encode::encode_document;
use super::plan::ModelPlan;
use super::types::PyTypes;

/// Encodes a mapping into BSON bytes, exactly as Vellum sends it to the server.
#[pyfunction]
pub fn encode_bson<'py>(document: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let raw = encode_document(document)?;
    Ok(PyBytes::new(document.py(), raw.as_bytes()))
}

/// Decodes BSON bytes into a dict, exactly as Vellum reads documents from the server; with
/// `plan`, into a model instance when the document matches it (a dict otherwise).
#[pyfunction]
#[pyo3(signature = (data, *, plan = None))]
pub fn decode_bson<'py>(
    py: Python<'py>,
    data: &[u8],
    plan: Option<&Bound<'py, ModelPlan>>,
) -> PyResult<Bound<'py, PyAny>> {
    let t = PyTypes::get(py)?;
    decode_for_python(
        py,
        raw(data)?,
        plan.map(Bound::get),
        t,
        &mut KeyCache::default(),
    )
}

/// BSON bytes as a dict, for the core's own use (showing compiled filters and pipelines).
pub fn decode_to_dict<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let t = PyTypes::get(py)?;
    decode_document(py, raw(data)?, t, &mut KeyCache::default(), 0)
}

fn raw(data: &[u8]) -> PyResult<&RawDocument> {
    RawDocument::from_bytes(data)
        .map_err(|e| PyValueError::new_err(format!("not a valid BSON document: {e}")))
}
