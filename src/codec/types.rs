//! The table of Python types and helpers the codec dispatches on, built once per interpreter.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use pyo3::PyTypeInfo;

use super::bson_types::{Binary, Code, DBPointer, DatetimeMS, MaxKey, MinKey, Regex, Timestamp};
use super::ffi;
use super::objectid::ObjectId;

/// Exact type pointers for the fast path, plus the Python callables the codec needs.
pub struct PyTypes {
    pub str_: usize,
    pub int: usize,
    pub float: usize,
    pub bool_: usize,
    pub none: usize,
    pub dict: usize,
    pub list: usize,
    pub tuple: usize,
    pub bytes: usize,
    pub datetime: usize,
    pub uuid: usize,
    pub decimal: usize,
    pub objectid: usize,
    pub pattern: usize,
    pub binary: usize,
    pub timestamp: usize,
    pub regex: usize,
    pub datetime_ms: usize,
    pub code: usize,
    pub dbpointer: usize,
    pub minkey: usize,
    pub maxkey: usize,
    pub datetime_cls: Py<PyAny>,
    pub date_cls: Py<PyAny>,
    pub utc: Py<PyAny>,
    /// 1970-01-01T00:00 naive and in UTC: encoding subtracts them from datetimes.
    pub epoch_naive: Py<PyAny>,
    pub epoch_utc: Py<PyAny>,
    pub uuid_cls: Py<PyType>,
    pub decimal_cls: Py<PyAny>,
    pub enum_cls: Py<PyAny>,
    pub mapping_abc: Py<PyAny>,
    pub pattern_cls: Py<PyAny>,
    /// Whether UUIDs can be built without running `UUID.__init__` (see [`Self::bare_instance`]):
    /// several times faster, and the instance is the same as `UUID(bytes=...)` gives.
    pub uuid_plain: bool,
    pub uuid_safe_unknown: Py<PyAny>,
    /// The `gc` module, to pause the cyclic collector while a large batch is decoded.
    pub gc_module: Py<PyAny>,
}

static TYPES: PyOnceLock<PyTypes> = PyOnceLock::new();

fn ptr(obj: &Bound<'_, PyAny>) -> usize {
    obj.as_ptr() as usize
}

impl PyTypes {
    /// An instance of `cls` as `object.__new__(cls)` makes it, its attributes set as by
    /// `object.__setattr__`: neither the class's `__init__` nor its `__setattr__` runs. For
    /// plain classes ([`ffi::is_plain_class`]) and values the caller has already checked (UUIDs
    /// from 16 bytes, models from a plan).
    pub fn bare_instance<'py, const N: usize>(
        cls: &Bound<'py, PyType>,
        attrs: [(&Bound<'py, PyString>, Bound<'py, PyAny>); N],
    ) -> PyResult<Bound<'py, PyAny>> {
        let instance = ffi::alloc_instance(cls)?;
        for (name, value) in attrs {
            ffi::generic_setattr(&instance, name, &value)?;
        }
        Ok(instance)
    }

    pub fn get(py: Python<'_>) -> PyResult<&PyTypes> {
        TYPES.get_or_try_init(py, || {
            let datetime_mod = py.import("datetime")?;
            let datetime_cls = datetime_mod.getattr("datetime")?;
            let date_cls = datetime_mod.getattr("date")?;
            let epoch_naive = datetime_cls.call1((1970, 1, 1))?;
            let utc = datetime_mod.getattr("timezone")?.getattr("utc")?;
            let epoch_utc = datetime_cls.call1((1970, 1, 1, 0, 0, 0, 0, &utc))?;
            let uuid_mod = py.import("uuid")?;
            let uuid_cls = uuid_mod.getattr("UUID")?.cast_into::<PyType>()?;
            let decimal_cls = py.import("decimal")?.getattr("Decimal")?;
            let enum_cls = py.import("enum")?.getattr("Enum")?;
            let mapping_abc = py.import("collections.abc")?.getattr("Mapping")?;
            let re = py.import("re")?;
            let pattern_cls = re.getattr("Pattern")?;
            Ok::<_, PyErr>(PyTypes {
                str_: ptr(PyString::type_object(py).as_any()),
                int: ptr(PyInt::type_object(py).as_any()),
                float: ptr(PyFloat::type_object(py).as_any()),
                bool_: ptr(PyBool::type_object(py).as_any()),
                none: ptr(py.None().bind(py).get_type().as_any()),
                dict: ptr(PyDict::type_object(py).as_any()),
                list: ptr(PyList::type_object(py).as_any()),
                tuple: ptr(PyTuple::type_object(py).as_any()),
                bytes: ptr(PyBytes::type_object(py).as_any()),
                datetime: ptr(&datetime_cls),
                uuid: ptr(uuid_cls.as_any()),
                decimal: ptr(&decimal_cls),
                objectid: ptr(ObjectId::type_object(py).as_any()),
                pattern: ptr(&pattern_cls),
                binary: ptr(Binary::type_object(py).as_any()),
                timestamp: ptr(Timestamp::type_object(py).as_any()),
                regex: ptr(Regex::type_object(py).as_any()),
                datetime_ms: ptr(DatetimeMS::type_object(py).as_any()),
                code: ptr(Code::type_object(py).as_any()),
                dbpointer: ptr(DBPointer::type_object(py).as_any()),
                minkey: ptr(MinKey::type_object(py).as_any()),
                maxkey: ptr(MaxKey::type_object(py).as_any()),
                datetime_cls: datetime_cls.unbind(),
                date_cls: date_cls.unbind(),
                epoch_naive: epoch_naive.unbind(),
                epoch_utc: epoch_utc.unbind(),
                utc: utc.unbind(),
                uuid_plain: ffi::is_plain_class(&uuid_cls)?,
                uuid_cls: uuid_cls.unbind(),
                decimal_cls: decimal_cls.unbind(),
                enum_cls: enum_cls.unbind(),
                mapping_abc: mapping_abc.unbind(),
                pattern_cls: pattern_cls.unbind(),
                uuid_safe_unknown: uuid_mod.getattr("SafeUUID")?.getattr("unknown")?.unbind(),
                gc_module: py.import("gc")?.into_any().unbind(),
            })
        })
    }
}
