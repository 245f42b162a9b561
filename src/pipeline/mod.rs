//! Aggregation pipelines: the stage list is built and held here, and runs from here.
//!
//! Python composes each stage's specification (field references from `Model.Q`, accumulators,
//! sub-pipelines); this type encodes it once, keeps the BSON, and hands the whole list to the
//! driver. Pipelines are immutable: adding a stage returns a new pipeline, so a shared prefix
//! can be extended in several directions.

use bson::{Bson, Document};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::codec::encode_value_for_filter;

#[pyclass(module = "vellum", frozen)]
#[derive(Clone, Default)]
pub struct Pipeline {
    stages: Vec<Document>,
}

impl Pipeline {
    pub fn from_stages(stages: Vec<Document>) -> Self {
        Pipeline { stages }
    }

    pub fn stages(&self) -> &[Document] {
        &self.stages
    }

    /// The stages as a BSON array, for sub-pipelines (`$facet`, `$lookup`, `$unionWith`).
    pub fn to_bson(&self) -> Bson {
        Bson::Array(self.stages.iter().cloned().map(Bson::Document).collect())
    }
}

/// Stages after which nothing may follow.
const TERMINAL: [&str; 2] = ["$out", "$merge"];

#[pymethods]
impl Pipeline {
    #[new]
    fn new() -> Self {
        Pipeline::default()
    }

    /// A new pipeline with `{name: spec}` appended. `spec` may hold query expressions and
    /// other pipelines; they are compiled here.
    fn with_stage(&self, name: &str, spec: &Bound<'_, PyAny>) -> PyResult<Pipeline> {
        if !name.starts_with('$') || name.len() < 2 {
            return Err(PyValueError::new_err(format!(
                "a stage name starts with '$' (such as '$match'), got {name:?}"
            )));
        }
        if let Some(last) = self.stages.last().and_then(|s| s.keys().next()) {
            if TERMINAL.contains(&last.as_str()) {
                return Err(PyValueError::new_err(format!(
                    "{last} must be the last stage of a pipeline; nothing can follow it"
                )));
            }
        }
        let mut stage = Document::new();
        stage.insert(name, encode_value_for_filter(spec)?);
        let mut stages = self.stages.clone();
        stages.push(stage);
        Ok(Pipeline { stages })
    }

    /// A new pipeline with this raw stage document appended, as written.
    fn with_raw_stage(&self, stage: &Bound<'_, PyAny>) -> PyResult<Pipeline> {
        let doc = crate::codec::encode_filter(stage)?;
        if doc.len() != 1 || !doc.keys().all(|k| k.starts_with('$')) {
            return Err(PyValueError::new_err(
                "a raw stage is one {'$stage': spec} document, such as {'$sample': {'size': 3}}",
            ));
        }
        let (name, spec) = doc.into_iter().next().expect("one key");
        let mut stage = Document::new();
        stage.insert(name, spec);
        let mut stages = self.stages.clone();
        stages.push(stage);
        Ok(Pipeline { stages })
    }

    /// The pipeline as MongoDB receives it, for debugging.
    #[getter(stages)]
    fn py_stages<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let raw = bson::RawDocumentBuf::from_document(&bson::doc! { "s": self.to_bson() })
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let decoded = crate::codec::functions::decode_to_dict(py, raw.as_bytes())?;
        Ok(decoded
            .get_item("s")?
            .expect("just encoded")
            .cast_into::<PyList>()?)
    }

    fn __len__(&self) -> usize {
        self.stages.len()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Pipeline({})", self.py_stages(py)?.repr()?))
    }
}
