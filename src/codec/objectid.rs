//! `vellum.ObjectId`: MongoDB's 12-byte identifier as a Python value type.

use bson::oid;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::{PyBytes, PyString, PyType};

use super::datetime::py_datetime;
use super::types::PyTypes;

/// A MongoDB ObjectId: 4 bytes of seconds since the epoch, 5 random bytes, a 3-byte counter.
///
/// `ObjectId()` generates a new one; `ObjectId("65f0...")` parses 24 hex digits;
/// `ObjectId(b"...12 bytes...")` takes raw bytes. Ordered by those bytes (so roughly by
/// creation time), hashable, immutable, and usable as a Pydantic field type.
#[pyclass(module = "vellum", frozen, from_py_object)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectId {
    pub oid: oid::ObjectId,
}

impl ObjectId {
    pub fn parse(value: &Bound<'_, PyAny>) -> PyResult<oid::ObjectId> {
        if let Ok(other) = value.cast::<ObjectId>() {
            return Ok(other.get().oid);
        }
        if let Ok(text) = value.cast::<PyString>() {
            let text = text.to_str()?;
            return oid::ObjectId::parse_str(text).map_err(|_| {
                PyValueError::new_err(format!(
                    "{text:?} is not a valid ObjectId: expected 24 hexadecimal characters \
                     (12 bytes), such as '65f0c2a1b3d4e5f601234567'"
                ))
            });
        }
        if let Ok(raw) = value.cast::<PyBytes>() {
            let raw = raw.as_bytes();
            let bytes: [u8; 12] = raw.try_into().map_err(|_| {
                PyValueError::new_err(format!("an ObjectId is 12 bytes; got {} bytes", raw.len()))
            })?;
            return Ok(oid::ObjectId::from_bytes(bytes));
        }
        if let Some(oid) = foreign(value)? {
            return Ok(oid);
        }
        Err(PyTypeError::new_err(format!(
            "cannot make an ObjectId from {}: pass a 24-character hex str, 12 bytes or an ObjectId",
            value.get_type().name()?
        )))
    }
}

/// The id of a `bson.ObjectId` (pymongo's, or a subclass such as Beanie's `PydanticObjectId`),
/// recognised by that exact class in the value's MRO, so that neither pymongo nor Beanie is
/// imported here; `None` for anything else.
pub fn foreign(value: &Bound<'_, PyAny>) -> PyResult<Option<oid::ObjectId>> {
    let py = value.py();
    let mro = value.get_type().getattr(pyo3::intern!(py, "__mro__"))?;
    for class in mro.try_iter()? {
        let class = class?;
        let module = class.getattr(pyo3::intern!(py, "__module__"))?;
        if module.eq("bson.objectid")?
            && class
                .getattr(pyo3::intern!(py, "__qualname__"))?
                .eq("ObjectId")?
        {
            let raw = value.getattr(pyo3::intern!(py, "binary"))?;
            let bytes: [u8; 12] = raw.cast::<PyBytes>()?.as_bytes().try_into().map_err(|_| {
                PyValueError::new_err("a bson.ObjectId whose binary is not 12 bytes")
            })?;
            return Ok(Some(oid::ObjectId::from_bytes(bytes)));
        }
    }
    Ok(None)
}

#[pymethods]
impl ObjectId {
    #[new]
    #[pyo3(signature = (oid = None))]
    fn new(oid: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(ObjectId {
            oid: match oid {
                None => oid::ObjectId::new(),
                Some(value) => Self::parse(value)?,
            },
        })
    }

    /// True if `value` is an ObjectId, 24 hex characters or 12 bytes.
    #[staticmethod]
    fn is_valid(value: &Bound<'_, PyAny>) -> bool {
        Self::parse(value).is_ok()
    }

    /// The 12 raw bytes.
    #[getter]
    fn binary<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.oid.bytes())
    }

    /// When it was generated, to the second, as an aware UTC datetime.
    #[getter]
    fn generation_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_datetime(
            py,
            self.oid.timestamp().timestamp_millis(),
            PyTypes::get(py)?,
        )
    }

    fn __str__(&self) -> String {
        self.oid.to_hex()
    }

    fn __repr__(&self) -> String {
        format!("ObjectId('{}')", self.oid.to_hex())
    }

    /// Compares with another ObjectId, Vellum's or pymongo's (`bson.ObjectId`).
    fn __richcmp__<'py>(
        &self,
        other: &Bound<'py, PyAny>,
        op: CompareOp,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = other.py();
        let theirs = match other.cast::<ObjectId>() {
            Ok(other) => Some(other.get().oid),
            Err(_) => foreign(other)?,
        };
        Ok(match theirs {
            Some(theirs) => op
                .matches(self.oid.cmp(&theirs))
                .into_pyobject(py)?
                .to_owned()
                .into_any(),
            None => py.NotImplemented().into_bound(py),
        })
    }

    /// The hash of the 12 bytes, as `bson.ObjectId` hashes, so that equal ids of either kind
    /// find each other in sets and dicts.
    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        PyBytes::new(py, &self.oid.bytes()).hash()
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyType>, (String,))> {
        Ok((slf.get_type(), (slf.get().oid.to_hex(),)))
    }

    fn __copy__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __deepcopy__<'py>(slf: Bound<'py, Self>, _memo: &Bound<'py, PyAny>) -> Bound<'py, Self> {
        slf
    }

    /// Pydantic integration: validates from ObjectId, str or bytes; serialises to str in JSON.
    #[classmethod]
    fn __get_pydantic_core_schema__<'py>(
        cls: &Bound<'py, PyType>,
        _source: &Bound<'py, PyAny>,
        _handler: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        super::bson_types::pydantic_schema(cls, "objectid_core_schema")
    }
}
