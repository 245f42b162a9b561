//! BSON types with no natural Python equivalent.

use pyo3::exceptions::PyValueError;
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

/// Pydantic integration of a value type: `vellum._pydantic.<function>(cls)` builds its schema.
pub fn pydantic_schema<'py>(
    cls: &Bound<'py, PyType>,
    function: &str,
) -> PyResult<Bound<'py, PyAny>> {
    cls.py()
        .import("vellum._pydantic")?
        .call_method1(function, (cls,))
}

/// MongoDB's regular-expression options that Python's `re` has, with its flag values
/// (`re.IGNORECASE`... are fixed by the `re` module: 2, 8, 16, 64, 32).
const PYTHON_FLAGS: [(char, i64); 5] = [('i', 2), ('m', 8), ('s', 16), ('x', 64), ('u', 32)];

/// The regular-expression options MongoDB stores, in the order BSON requires (alphabetical).
const REGEX_OPTIONS: &str = "ilmsux";

/// A BSON regular expression: a PCRE pattern and its options, stored and read back exactly as
/// they are (Python's `re` cannot compile every PCRE pattern, and adds flags of its own).
/// `Regex("^ab", "i")`; `.compile()` gives a `re.Pattern` where Python can compile it.
#[pyclass(module = "vellum", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Regex {
    #[pyo3(get)]
    pub pattern: String,
    /// The options, sorted and each once (`"imx"`).
    #[pyo3(get)]
    pub flags: String,
}

impl Regex {
    /// The options in BSON's order, or an error naming what is wrong.
    pub fn checked(pattern: String, flags: &str) -> PyResult<Self> {
        if pattern.contains('\0') || flags.contains('\0') {
            return Err(PyValueError::new_err(
                "a BSON regular expression cannot contain a NUL character",
            ));
        }
        if let Some(unknown) = flags.chars().find(|c| !REGEX_OPTIONS.contains(*c)) {
            return Err(PyValueError::new_err(format!(
                "unknown regular expression option {unknown:?}: MongoDB's are \
                 {REGEX_OPTIONS:?}"
            )));
        }
        let flags = REGEX_OPTIONS
            .chars()
            .filter(|c| flags.contains(*c))
            .collect();
        Ok(Regex { pattern, flags })
    }

    /// As BSON.
    pub fn to_raw(&self) -> bson::RawBson {
        bson::RawBson::RegularExpression(bson::Regex {
            pattern: self.pattern.clone(),
            options: self.flags.clone(),
        })
    }

    /// A stored regular expression, its options in BSON's order (the BSON specification
    /// requires it; a document written otherwise is read as if it had been written so).
    pub fn canonical(pattern: &str, options: &str) -> Self {
        let mut flags: Vec<char> = options.chars().collect();
        flags.sort_unstable();
        flags.dedup();
        Regex {
            pattern: pattern.to_owned(),
            flags: flags.into_iter().collect(),
        }
    }

    /// A `re.Pattern` as MongoDB stores it: its flags as options, less `re.UNICODE`, which every
    /// `str` pattern carries implicitly (so `re.compile("a")` is stored as `/a/`, and read back
    /// as `Regex("a", "")`).
    pub fn from_python_pattern(pattern: &Bound<'_, PyAny>) -> PyResult<Self> {
        let py = pattern.py();
        let source = pattern.getattr(pyo3::intern!(py, "pattern"))?;
        let Ok(source) = source.extract::<String>() else {
            return Err(PyValueError::new_err(
                "a bytes regex pattern cannot be stored: use a str pattern",
            ));
        };
        let bits: i64 = pattern.getattr(pyo3::intern!(py, "flags"))?.extract()?;
        let flags: String = PYTHON_FLAGS
            .iter()
            .filter(|(option, bit)| *option != 'u' && bits & bit != 0)
            .map(|(option, _)| option)
            .collect();
        Self::checked(source, &flags)
    }
}

#[pymethods]
impl Regex {
    #[new]
    #[pyo3(signature = (pattern, flags = ""))]
    fn new(pattern: String, flags: &str) -> PyResult<Self> {
        Self::checked(pattern, flags)
    }

    /// `re.compile` of the pattern with the matching Python flags (`i`, `m`, `s`, `x`, `u`);
    /// raises `re.error` for a pattern only PCRE understands and ValueError for `l` (locale),
    /// which Python's `str` patterns do not have.
    fn compile<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mut flags = 0_i64;
        for option in self.flags.chars() {
            let Some((_, bit)) = PYTHON_FLAGS.iter().find(|(o, _)| *o == option) else {
                return Err(PyValueError::new_err(format!(
                    "the regular expression option {option:?} has no Python equivalent"
                )));
            };
            flags |= bit;
        }
        let re = py.import("re")?;
        re.call_method1("compile", (&self.pattern, flags))
    }

    /// The `Regex` MongoDB stores for a `re.Pattern` (see `compile` for the way back).
    #[staticmethod]
    fn from_pattern(pattern: &Bound<'_, PyAny>) -> PyResult<Self> {
        Self::from_python_pattern(pattern)
    }

    fn __repr__(&self) -> String {
        format!("Regex({:?}, {:?})", self.pattern, self.flags)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, (String, String)) {
        let this = slf.get();
        (slf.get_type(), (this.pattern.clone(), this.flags.clone()))
    }

    /// Pydantic integration: validates from a Regex, a `re.Pattern` or a str pattern.
    #[classmethod]
    fn __get_pydantic_core_schema__<'py>(
        cls: &Bound<'py, PyType>,
        _source: &Bound<'py, PyAny>,
        _handler: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        pydantic_schema(cls, "regex_core_schema")
    }
}

/// A BSON datetime as its raw count of milliseconds since the Unix epoch (UTC): any 64-bit
/// value MongoDB stores, including those outside the years 1 to 9999 that Python's `datetime`
/// holds. Stored dates outside that range are read as `DatetimeMS`; declare a field as
/// `DatetimeMS` (or `datetime | DatetimeMS`) to read and write them.
#[pyclass(module = "vellum", frozen, eq, ord, hash)]
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DatetimeMS {
    #[pyo3(get)]
    pub millis: i64,
}

#[pymethods]
impl DatetimeMS {
    #[new]
    fn new(millis: i64) -> Self {
        DatetimeMS { millis }
    }

    /// The aware UTC `datetime`, or ValueError outside the years 1 to 9999.
    fn to_datetime<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::datetime::py_datetime(py, self.millis, super::types::PyTypes::get(py)?)
    }

    fn __int__(&self) -> i64 {
        self.millis
    }

    fn __repr__(&self) -> String {
        format!("DatetimeMS({})", self.millis)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, (i64,)) {
        (slf.get_type(), (slf.get().millis,))
    }

    /// Pydantic integration: validates from a DatetimeMS, an int (milliseconds) or a datetime.
    #[classmethod]
    fn __get_pydantic_core_schema__<'py>(
        cls: &Bound<'py, PyType>,
        _source: &Bound<'py, PyAny>,
        _handler: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        pydantic_schema(cls, "datetime_ms_core_schema")
    }
}

/// `__reduce__`'s answer: the class and its constructor's arguments.
type Reduced<'py, Args> = (Bound<'py, PyType>, Args);
type Scope<'py> = Option<Bound<'py, PyAny>>;

/// BSON JavaScript code (deprecated in MongoDB), with its scope document if it has one. Read
/// and written back as it was stored; Vellum never runs it.
#[pyclass(module = "vellum", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Code {
    #[pyo3(get)]
    pub code: String,
    /// The scope as BSON bytes (a value type: no Python object inside).
    pub scope: Option<Vec<u8>>,
}

#[pymethods]
impl Code {
    #[new]
    #[pyo3(signature = (code, scope = None))]
    fn new(code: String, scope: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let scope = match scope {
            None => None,
            Some(scope) => Some(super::encode::encode_document(scope)?.into_bytes()),
        };
        Ok(Code { code, scope })
    }

    /// The scope as a dict, or None for code without one.
    #[getter]
    fn scope<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.scope
            .as_deref()
            .map(|bytes| super::functions::decode_bson(py, bytes, None))
            .transpose()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(match self.scope(py)? {
            None => format!("Code({:?})", self.code),
            Some(scope) => format!("Code({:?}, {})", self.code, scope.repr()?),
        })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Reduced<'py, (String, Scope<'py>)>> {
        let this = slf.get();
        Ok((slf.get_type(), (this.code.clone(), this.scope(slf.py())?)))
    }
}

/// A BSON DBPointer (deprecated in MongoDB; DBRef replaced it): a collection's namespace and an
/// ObjectId. Read and written back as it was stored.
#[pyclass(module = "vellum", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DBPointer {
    #[pyo3(get)]
    pub namespace: String,
    pub id: bson::oid::ObjectId,
}

#[pymethods]
impl DBPointer {
    #[new]
    fn new(namespace: String, id: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(DBPointer {
            namespace,
            id: super::objectid::ObjectId::parse(id)?,
        })
    }

    #[getter]
    fn id(&self) -> super::objectid::ObjectId {
        super::objectid::ObjectId { oid: self.id }
    }

    fn __repr__(&self) -> String {
        format!(
            "DBPointer({:?}, ObjectId('{}'))",
            self.namespace,
            self.id.to_hex()
        )
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, (String, String)) {
        let this = slf.get();
        (slf.get_type(), (this.namespace.clone(), this.id.to_hex()))
    }
}

impl DBPointer {
    /// The bson crate keeps a DBPointer's parts private: they are read and written through its
    /// canonical extended JSON (`{"$dbPointer": {"$ref": ns, "$id": {"$oid": hex}}}`).
    pub fn from_raw(pointer: bson::RawDbPointerRef<'_>) -> PyResult<Self> {
        let json = bson::Bson::try_from(bson::RawBsonRef::DbPointer(pointer).to_raw_bson())
            .map_err(|e| PyValueError::new_err(format!("malformed DBPointer: {e}")))?
            .into_canonical_extjson();
        let parts = &json["$dbPointer"];
        let (Some(namespace), Some(hex)) = (parts["$ref"].as_str(), parts["$id"]["$oid"].as_str())
        else {
            return Err(PyValueError::new_err("malformed DBPointer"));
        };
        let id = bson::oid::ObjectId::parse_str(hex)
            .map_err(|e| PyValueError::new_err(format!("malformed DBPointer: {e}")))?;
        Ok(DBPointer {
            namespace: namespace.to_owned(),
            id,
        })
    }

    pub fn to_raw(&self) -> PyResult<bson::RawBson> {
        let json = serde_json::json!({
            "$dbPointer": {"$ref": self.namespace, "$id": {"$oid": self.id.to_hex()}}
        });
        let value = bson::Bson::try_from(json)
            .map_err(|e| PyValueError::new_err(format!("DBPointer: {e}")))?;
        bson::RawBson::try_from(value).map_err(|e| PyValueError::new_err(format!("DBPointer: {e}")))
    }
}
