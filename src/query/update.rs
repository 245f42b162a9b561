//! Typed update expressions (`Q.score.inc(1)`, `Q.tags.add_to_set("x")`) and their compilation
//! into one update document.

use bson::{Bson, Document};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::codec::encode_value_for_filter;
use crate::error::QueryError;

const OPERATORS: [&str; 13] = [
    "$set",
    "$unset",
    "$inc",
    "$mul",
    "$min",
    "$max",
    "$push",
    "$addToSet",
    "$pull",
    "$pop",
    "$rename",
    "$currentDate",
    "$setOnInsert",
];

/// One or more field updates. Combine several with `UpdateSpec.combine([...])`; a field may be
/// changed by only one of them.
#[pyclass(module = "vellum", frozen)]
#[derive(Clone)]
pub struct UpdateSpec {
    entries: Vec<(String, String, Bson)>,
}

fn overlaps(a: &str, b: &str) -> bool {
    let prefix =
        |short: &str, long: &str| long.starts_with(short) && long[short.len()..].starts_with('.');
    a == b || prefix(a, b) || prefix(b, a)
}

impl UpdateSpec {
    pub fn to_document(&self) -> Document {
        let mut out = Document::new();
        for (op, path, value) in &self.entries {
            let slot = out
                .entry(op.clone())
                .or_insert_with(|| Bson::Document(Document::new()));
            if let Bson::Document(d) = slot {
                d.insert(path.clone(), value.clone());
            }
        }
        out
    }

    /// The paths this update writes (a `$rename` writes both its source and its target).
    fn touched(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().flat_map(|(op, path, value)| {
            let target = if op == "$rename" {
                value.as_str()
            } else {
                None
            };
            std::iter::once(path.as_str()).chain(target)
        })
    }

    pub fn touches(&self, path: &str) -> bool {
        self.touched().any(|p| overlaps(p, path))
    }
}

#[pymethods]
impl UpdateSpec {
    /// `operator: {path: value}` with `value` already coerced by the field's type.
    #[new]
    fn new(operator: &str, path: String, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        if !OPERATORS.contains(&operator) {
            return Err(PyValueError::new_err(format!(
                "unknown update operator {operator:?}"
            )));
        }
        Ok(UpdateSpec {
            entries: vec![(operator.to_owned(), path, encode_value_for_filter(value)?)],
        })
    }

    /// Merges updates into one, refusing two that change the same field (MongoDB would reject
    /// the whole update).
    #[staticmethod]
    fn combine(specs: Vec<Bound<'_, UpdateSpec>>) -> PyResult<Self> {
        let mut merged = UpdateSpec {
            entries: Vec::new(),
        };
        for spec in specs {
            let spec = spec.get();
            for path in spec.touched() {
                if let Some(clash) = merged.touched().find(|p| overlaps(p, path)) {
                    return Err(QueryError::new_err(format!(
                        "two updates change '{path}' (and '{clash}'): MongoDB applies one \
                         operator per field, so combine them into one"
                    )));
                }
            }
            merged.entries.extend(spec.entries.iter().cloned());
        }
        if merged.entries.is_empty() {
            return Err(PyValueError::new_err(
                "an update needs at least one field change",
            ));
        }
        Ok(merged)
    }

    /// The update document.
    fn to_update<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let raw = bson::RawDocumentBuf::from_document(&self.to_document())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        crate::codec::functions::decode_to_dict(py, raw.as_bytes())
    }

    /// True if the update writes `path` or a field inside or above it.
    #[pyo3(name = "touches")]
    fn py_touches(&self, path: &str) -> bool {
        self.touches(path)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("UpdateSpec({})", self.to_update(py)?.repr()?))
    }
}
