//! BSON -> Python. Runs where the result is handed to Python, once per batch of documents.

use ahash::AHashMap;
use bson::raw::{RawArray, RawBsonRef, RawDocument, RawDocumentBuf};
use bson::spec::BinarySubtype;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use pyo3::PyTypeInfo;

use super::bson_types::{Binary, Code, DBPointer, DatetimeMS, MaxKey, MinKey, Regex, Timestamp};
use super::datetime::{civil_from_millis, py_datetime};
use super::decimal::decimal_text;
use super::ffi;
use super::objectid::ObjectId;
use super::plan::{build_model, ModelPlan};
use super::types::PyTypes;

/// Field names repeat across the documents of a batch: each distinct name becomes one Python
/// string, shared by every dict of the batch (which also speeds up Pydantic's lookups).
#[derive(Default)]
pub struct KeyCache<'a> {
    keys: AHashMap<&'a str, Py<PyString>>,
}

impl<'a> KeyCache<'a> {
    fn key<'py>(&mut self, py: Python<'py>, key: &'a str) -> Bound<'py, PyString> {
        if let Some(k) = self.keys.get(key) {
            return k.bind(py).clone();
        }
        let k = PyString::new(py, key);
        if self.keys.len() < 4096 {
            self.keys.insert(key, k.clone().unbind());
        }
        k
    }
}

pub fn bson_error(err: bson::raw::Error) -> PyErr {
    PyValueError::new_err(format!("the server sent malformed BSON: {err}"))
}

pub fn with_field(err: PyErr, py: Python<'_>, key: &str) -> PyErr {
    let _ = err
        .value(py)
        .call_method1("add_note", (format!("while decoding field '{key}'"),));
    err
}

/// How deeply documents and arrays may nest in what the core decodes. MongoDB stores at most
/// 100 levels and refuses BSON deeper than 200 (`maxBSONDepth`), replies included; anything
/// deeper is refused before it can exhaust the stack.
pub const MAX_DECODE_DEPTH: u32 = 200;

fn check_depth(depth: u32) -> PyResult<()> {
    if depth > MAX_DECODE_DEPTH {
        return Err(PyValueError::new_err(format!(
            "documents nest deeper than {MAX_DECODE_DEPTH} levels, which MongoDB never stores \
             or sends: refused"
        )));
    }
    Ok(())
}

/// `doc` as a dict; `depth` is how deeply it is nested (0 for a whole document).
pub fn decode_document<'a, 'py>(
    py: Python<'py>,
    doc: &'a RawDocument,
    t: &PyTypes,
    cache: &mut KeyCache<'a>,
    depth: u32,
) -> PyResult<Bound<'py, PyDict>> {
    check_depth(depth)?;
    let dict = PyDict::new(py);
    for element in doc.iter() {
        let (key, value) = element.map_err(bson_error)?;
        let value = decode_value(py, value, t, cache, depth).map_err(|e| with_field(e, py, key))?;
        dict.set_item(cache.key(py, key), value)?;
    }
    Ok(dict)
}

fn decode_array<'a, 'py>(
    py: Python<'py>,
    array: &'a RawArray,
    t: &PyTypes,
    cache: &mut KeyCache<'a>,
    depth: u32,
) -> PyResult<Bound<'py, PyList>> {
    check_depth(depth)?;
    let list = PyList::empty(py);
    for item in array.into_iter() {
        list.append(decode_value(
            py,
            item.map_err(bson_error)?,
            t,
            cache,
            depth,
        )?)?;
    }
    Ok(list)
}

/// One value; `depth` is the nesting level of the document or array that holds it.
pub fn decode_value<'a, 'py>(
    py: Python<'py>,
    value: RawBsonRef<'a>,
    t: &PyTypes,
    cache: &mut KeyCache<'a>,
    depth: u32,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        RawBsonRef::String(s) => PyString::new(py, s).into_any(),
        RawBsonRef::Int32(n) => n.into_pyobject(py)?.into_any(),
        RawBsonRef::Int64(n) => n.into_pyobject(py)?.into_any(),
        RawBsonRef::Double(f) => f.into_pyobject(py)?.into_any(),
        RawBsonRef::Boolean(b) => b.into_pyobject(py)?.to_owned().into_any(),
        RawBsonRef::Null | RawBsonRef::Undefined => py.None().into_bound(py),
        RawBsonRef::Document(d) => decode_document(py, d, t, cache, depth + 1)?.into_any(),
        RawBsonRef::Array(a) => decode_array(py, a, t, cache, depth + 1)?.into_any(),
        RawBsonRef::ObjectId(oid) => Bound::new(py, ObjectId { oid })?.into_any(),
        // Outside Python's years 1 to 9999 a date is read as its milliseconds: one such value
        // never fails a read, and validation names the document and field it does not fit.
        RawBsonRef::DateTime(dt) => match civil_from_millis(dt.timestamp_millis()) {
            Some(_) => py_datetime(py, dt.timestamp_millis(), t)?,
            None => Bound::new(
                py,
                DatetimeMS {
                    millis: dt.timestamp_millis(),
                },
            )?
            .into_any(),
        },
        RawBsonRef::Decimal128(d) => t.decimal_cls.bind(py).call1((decimal_text(d),))?,
        RawBsonRef::Binary(b) => match b.subtype {
            BinarySubtype::Generic => PyBytes::new(py, b.bytes).into_any(),
            BinarySubtype::Uuid if b.bytes.len() == 16 => decode_uuid(py, b.bytes, t)?,
            other => Bound::new(
                py,
                Binary {
                    subtype: u8::from(other),
                    data: b.bytes.to_vec(),
                },
            )?
            .into_any(),
        },
        // As stored: a pattern only PCRE understands, and the absence of Python's implicit
        // flags, survive a read and a write.
        RawBsonRef::RegularExpression(r) => {
            Bound::new(py, Regex::canonical(r.pattern, r.options))?.into_any()
        }
        RawBsonRef::Timestamp(ts) => Bound::new(
            py,
            Timestamp {
                time: ts.time,
                inc: ts.increment,
            },
        )?
        .into_any(),
        RawBsonRef::MinKey => Bound::new(py, MinKey)?.into_any(),
        RawBsonRef::MaxKey => Bound::new(py, MaxKey)?.into_any(),
        // Deprecated types, all readable: a symbol as the string it is, JavaScript code and
        // DBPointers as value types that are written back unchanged.
        RawBsonRef::Symbol(s) => PyString::new(py, s).into_any(),
        RawBsonRef::JavaScriptCode(code) => Bound::new(
            py,
            Code {
                code: code.to_owned(),
                scope: None,
            },
        )?
        .into_any(),
        RawBsonRef::JavaScriptCodeWithScope(c) => {
            // The scope is kept as bytes: check now that it decodes (within the depth limit), as
            // any document must.
            decode_document(py, c.scope, t, cache, depth + 1)?;
            Bound::new(
                py,
                Code {
                    code: c.code.to_owned(),
                    scope: Some(c.scope.as_bytes().to_vec()),
                },
            )?
            .into_any()
        }
        RawBsonRef::DbPointer(p) => Bound::new(py, DBPointer::from_raw(p)?)?.into_any(),
    })
}

/// `uuid.UUID` from 16 bytes, set up as `UUID(bytes=...)` does (`int`, `is_safe`) without
/// running its Python-level `__init__`.
fn decode_uuid<'py>(py: Python<'py>, bytes: &[u8], t: &PyTypes) -> PyResult<Bound<'py, PyAny>> {
    let value = u128::from_be_bytes(bytes.try_into().expect("checked length"));
    let int = value.into_pyobject(py)?.into_any();
    let cls = t.uuid_cls.bind(py);
    if !t.uuid_plain {
        let kwargs = PyDict::new(py);
        kwargs.set_item(pyo3::intern!(py, "int"), int)?;
        return cls.call((), Some(&kwargs));
    }
    let uuid = PyTypes::bare_instance(
        cls,
        [
            (pyo3::intern!(py, "int"), int),
            (
                pyo3::intern!(py, "is_safe"),
                t.uuid_safe_unknown.bind(py).clone(),
            ),
        ],
    )?;
    // Immutable, holding an int and an enum member: never part of a cycle.
    ffi::untrack(&uuid);
    Ok(uuid)
}

/// One document for Python: a model instance when a plan is given and the document matches it,
/// else a `dict` (of the keys the plan selects, if it does).
pub fn decode_for_python<'a, 'py>(
    py: Python<'py>,
    doc: &'a RawDocument,
    plan: Option<&ModelPlan>,
    t: &PyTypes,
    cache: &mut KeyCache<'a>,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(plan) = plan else {
        return Ok(decode_document(py, doc, t, cache, 0)?.into_any());
    };
    if plan.builds_instances() {
        if let Some(model) = build_model(py, doc.as_bytes(), plan, t, cache)? {
            return Ok(model);
        }
    }
    let Some(keys) = plan.keys() else {
        return Ok(decode_document(py, doc, t, cache, 0)?.into_any());
    };
    let dict = PyDict::new(py);
    for element in doc.iter_elements() {
        let element = element.map_err(bson_error)?;
        let key = element.key();
        if !keys.contains(key) {
            continue;
        }
        let value = element
            .value()
            .map_err(bson_error)
            .and_then(|value| decode_value(py, value, t, cache, 0))
            .map_err(|err| field_error(py, doc, key, &err, plan, t))?;
        dict.set_item(cache.key(py, key), value)?;
    }
    Ok(dict.into_any())
}

/// One value that is not inside a document (an `_id` an operation reports), for Python.
pub fn decode_one<'py>(py: Python<'py>, value: &bson::RawBson) -> PyResult<Bound<'py, PyAny>> {
    let t = PyTypes::get(py)?;
    decode_value(py, value.as_raw_bson_ref(), t, &mut KeyCache::default(), 0)
}

/// A declared field whose stored value cannot be decoded: `DocumentValidationError` naming the
/// document's `_id` and the field, as validation would name a value that does not fit.
fn field_error(
    py: Python<'_>,
    doc: &RawDocument,
    key: &str,
    err: &PyErr,
    plan: &ModelPlan,
    t: &PyTypes,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let id = match doc.get("_id") {
            Ok(Some(id)) => decode_value(py, id, t, &mut KeyCache::default(), 0)
                .unwrap_or_else(|_| py.None().into_bound(py)),
            _ => py.None().into_bound(py),
        };
        let reason = err.value(py).str()?.to_string();
        let model = plan.model_name(py).unwrap_or_default();
        let message = format!(
            "stored document _id={} does not fit {model}: {key}: its stored value cannot be \
             read ({reason}). Migrate the document or declare the field with a type that holds \
             it; nothing was skipped.",
            id.repr()?
        );
        let detail = PyDict::new(py);
        detail.set_item("loc", (key,))?;
        detail.set_item("msg", &reason)?;
        detail.set_item("type", "bson_value")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("model", model)?;
        kwargs.set_item("document_id", id)?;
        kwargs.set_item("errors", PyList::new(py, [detail])?)?;
        kwargs.set_item("stored", true)?;
        let error = crate::error::DocumentValidationError::type_object(py)
            .call((message,), Some(&kwargs))?;
        Ok(PyErr::from_value(error))
    };
    build().unwrap_or_else(|e| e)
}

/// Below this many documents a batch is decoded with the cyclic garbage collector left alone.
const GC_PAUSE_MIN_DOCS: usize = 256;

/// Pauses Python's cyclic garbage collector while a large batch is decoded, and resumes it
/// when dropped (also on error). Decoding only allocates new, acyclic containers; collections
/// that allocation burst would trigger find no garbage, yet each walks every object created
/// so far (measured: about half the time of a 100 000-document find). The GIL is held
/// throughout, so no other Python code runs while the collector is paused.
struct GcPause<'py>(Option<Bound<'py, PyAny>>);

impl<'py> GcPause<'py> {
    fn new(py: Python<'py>, t: &PyTypes, docs: usize) -> PyResult<Self> {
        let gc = t.gc_module.bind(py);
        if docs < GC_PAUSE_MIN_DOCS
            || !gc
                .call_method0(pyo3::intern!(py, "isenabled"))?
                .is_truthy()?
        {
            return Ok(GcPause(None));
        }
        gc.call_method0(pyo3::intern!(py, "disable"))?;
        Ok(GcPause(Some(gc.clone())))
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Some(gc) = self.0.take() {
            if let Err(err) = gc.call_method0(pyo3::intern!(gc.py(), "enable")) {
                err.write_unraisable(gc.py(), None);
            }
        }
    }
}

/// A batch of documents from the server, decoded into a `list[dict]` when it reaches Python
/// (model instances in place of the documents that match the plan, if one is given).
pub struct Batch(pub Vec<RawDocumentBuf>, pub Option<Py<ModelPlan>>);

impl Batch {
    pub fn of(docs: Vec<RawDocumentBuf>) -> Self {
        Batch(docs, None)
    }
}

impl<'py> IntoPyObject<'py> for Batch {
    type Target = PyList;
    type Output = Bound<'py, PyList>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let t = PyTypes::get(py)?;
        let plan = self.1.as_ref().map(Py::get);
        let _paused = GcPause::new(py, t, self.0.len())?;
        let mut cache = KeyCache::default();
        let mut items = Vec::with_capacity(self.0.len());
        for doc in &self.0 {
            items.push(decode_for_python(py, doc, plan, t, &mut cache)?);
        }
        PyList::new(py, items)
    }
}

/// At most one document, decoded into a `dict` (or a model, as for [`Batch`]) or `None` when
/// it reaches Python.
pub struct DecodedDocument(pub Option<RawDocumentBuf>, pub Option<Py<ModelPlan>>);

impl DecodedDocument {
    pub fn of(doc: Option<RawDocumentBuf>) -> Self {
        DecodedDocument(doc, None)
    }
}

impl<'py> IntoPyObject<'py> for DecodedDocument {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            None => Ok(py.None().into_bound(py)),
            Some(doc) => {
                let t = PyTypes::get(py)?;
                let plan = self.1.as_ref().map(Py::get);
                decode_for_python(py, &doc, plan, t, &mut KeyCache::default())
            }
        }
    }
}
