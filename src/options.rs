//! Query options given from Python, converted to owned driver values before any I/O.

use bson::Document;
use mongodb::options::UpdateModifications;
use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::codec::encode_filter;
use crate::error::QueryError;
use crate::query::UpdateSpec;

/// Encodes an optional mapping (sort, projection, hint...).
pub fn optional_document(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Document>> {
    match value {
        Some(v) if !v.is_none() => Ok(Some(encode_filter(v)?)),
        _ => Ok(None),
    }
}

/// An update is either a document of update operators or an aggregation pipeline (a list).
pub fn update_modifications(update: &Bound<'_, PyAny>) -> PyResult<UpdateModifications> {
    if let Ok(spec) = update.cast::<UpdateSpec>() {
        return Ok(UpdateModifications::Document(spec.get().to_document()));
    }
    if let Ok(stages) = update.cast::<PyList>() {
        let pipeline = stages
            .iter()
            .map(|s| encode_filter(&s))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(UpdateModifications::Pipeline(pipeline));
    }
    let doc = encode_filter(update)?;
    if doc.is_empty() {
        return Err(PyValueError::new_err(
            "an update must change something: it is empty",
        ));
    }
    if let Some(key) = doc.keys().find(|k| !k.starts_with('$')) {
        return Err(PyValueError::new_err(format!(
            "an update document must hold only update operators such as $set; found field \
             '{key}'. Wrap the fields in {{'$set': {{...}}}}"
        )));
    }
    Ok(UpdateModifications::Document(doc))
}

/// Converts a Python-side `limit`/`skip` into what the driver takes, refusing negatives.
pub fn non_negative(name: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u64>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let n: i64 = match value.extract() {
        Ok(n) => n,
        Err(err) if err.is_instance_of::<PyOverflowError>(value.py()) => {
            return Err(QueryError::new_err(format!(
                "{name}={value} is beyond the 64-bit counts MongoDB takes"
            )))
        }
        Err(err) => return Err(err),
    };
    u64::try_from(n)
        .map(Some)
        .map_err(|_| QueryError::new_err(format!("{name} must be >= 0, got {n}")))
}
