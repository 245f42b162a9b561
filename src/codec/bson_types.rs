//! BSON types with no natural Python equivalent.

use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::{PyBytes, PyType};

/// BSON binary data with a subtype other than 0 (plain bytes) and 4 (UUID), which decode to
/// `bytes` and `uuid.UUID`.
#[pyclass(module = "vellum", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Binary {
    #[pyo3(get)]
    pub subtype: u8,
    pub data: Vec<u8>,
}

#[pymethods]
impl Binary {
    #[new]
    #[pyo3(signature = (data, subtype = 0))]
    fn new(data: Vec<u8>, subtype: u8) -> Self {
        Binary { subtype, data }
    }

    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.data)
    }

    fn __repr__(&self) -> String {
        format!(
            "Binary({} bytes, subtype={})",
            self.data.len(),
            self.subtype
        )
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, (Bound<'py, PyBytes>, u8)) {
        let this = slf.get();
        (
            slf.get_type(),
            (PyBytes::new(slf.py(), &this.data), this.subtype),
        )
    }
}

/// A BSON timestamp: seconds since the epoch and an ordinal within that second. MongoDB uses it
/// internally (oplog, cluster time); applications want datetimes instead.
#[pyclass(module = "vellum", frozen, eq, ord, hash)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    #[pyo3(get)]
    pub time: u32,
    #[pyo3(get)]
    pub inc: u32,
}

#[pymethods]
impl Timestamp {
    #[new]
    fn new(time: u32, inc: u32) -> Self {
        Timestamp { time, inc }
    }

    fn __repr__(&self) -> String {
        format!("Timestamp({}, {})", self.time, self.inc)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, (u32, u32)) {
        let this = slf.get();
        (slf.get_type(), (this.time, this.inc))
    }
}

macro_rules! key_bound {
    ($name:ident, $doc:literal, $ordering:expr) => {
        #[doc = $doc]
        #[pyclass(module = "vellum", frozen)]
        pub struct $name;

        #[pymethods]
        impl $name {
            #[new]
            fn new() -> Self {
                $name
            }

            fn __repr__(&self) -> &'static str {
                concat!(stringify!($name), "()")
            }

            fn __hash__(&self) -> u64 {
                $ordering as u64
            }

            fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> bool {
                // Every MinKey equals every other and sorts below everything; MaxKey the reverse.
                let same = other.is_instance_of::<$name>();
                let ordering = if same {
                    std::cmp::Ordering::Equal
                } else {
                    $ordering
                };
                op.matches(ordering)
            }

            fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, ()) {
                (slf.get_type(), ())
            }
        }
    };
}

key_bound!(
    MinKey,
    "BSON MinKey: compares below every other value.",
    std::cmp::Ordering::Less
);
key_bound!(
    MaxKey,
    "BSON MaxKey: compares above every other value.",
    std::cmp::Ordering::Greater
);
