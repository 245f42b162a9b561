//! The codec as plain functions: `encode_bson(dict) -> bytes` and `decode_bson(bytes) -> dict`.

use bson::raw::RawDocument;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use super::decode::{decode_document, KeyCache};
use super::encode::encode_document;
use super::types::PyTypes;

/// Encodes a mapping into BSON bytes, exactly as Vellum sends it to the server.
#[pyfunction]
pub fn encode_bson<'py>(document: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let raw = encode_document(document)?;
    Ok(PyBytes::new(document.py(), raw.as_bytes()))
}

/// Decodes BSON bytes into a dict, exactly as Vellum reads documents from the server.
#[pyfunction]
pub fn decode_bson<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let doc = RawDocument::from_bytes(data)
        .map_err(|e| PyValueError::new_err(format!("not a valid BSON document: {e}")))?;
    let t = PyTypes::get(py)?;
    decode_document(py, doc, t, &mut KeyCache::default())
}
