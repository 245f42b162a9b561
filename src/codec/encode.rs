//! Python -> BSON. Runs on the calling thread, before any I/O is spawned.

use std::fmt::Write as _;
use std::str::FromStr;

use bson::raw::{RawArrayBuf, RawBson, RawDocumentBuf};
use bson::spec::BinarySubtype;
use bson::{Decimal128, Document};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use super::bson_types::{Binary, Code, DBPointer, DatetimeMS, Regex, Timestamp};
use super::objectid::ObjectId;
use super::types::PyTypes;
use crate::error::{UnsupportedTypeError, ValueOutOfRangeError};

/// MongoDB refuses documents nested deeper than this; stopping here also catches a container
/// that contains itself.
pub(crate) const MAX_DEPTH: u32 = 100;

enum Kind {
    Type,
    Value,
}

pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

struct Failure {
    kind: Kind,
    message: String,
    path: Vec<Segment>,
    python: Option<PyErr>,
}

/// An encoding failure. The field path is collected while the error unwinds, so the success
/// path pays nothing for it (and the boxed error keeps `Result` small).
pub struct EncodeError(Box<Failure>);

impl EncodeError {
    fn new(kind: Kind, message: String, python: Option<PyErr>) -> Self {
        EncodeError(Box::new(Failure {
            kind,
            message,
            path: Vec::new(),
            python,
        }))
    }

    fn type_error(message: String) -> Self {
        Self::new(Kind::Type, message, None)
    }

    fn value_error(message: String) -> Self {
        Self::new(Kind::Value, message, None)
    }

    pub(crate) fn at(mut self, segment: Segment) -> Self {
        self.0.path.push(segment);
        self
    }

    fn path(&self) -> String {
        let mut out = String::new();
        for (i, segment) in self.0.path.iter().rev().enumerate() {
            if i > 0 {
                out.push('.');
            }
            match segment {
                Segment::Key(k) => out.push_str(k),
                Segment::Index(n) => {
                    let _ = write!(out, "{n}");
                }
            }
        }
        out
    }

    pub fn into_pyerr(self) -> PyErr {
        let path = self.path();
        let failure = *self.0;
        if let Some(err) = failure.python {
            return err;
        }
        let message = if path.is_empty() {
            failure.message
        } else {
            format!("{} (at field '{path}')", failure.message)
        };
        match failure.kind {
            Kind::Type => UnsupportedTypeError::new_err(message),
            Kind::Value => ValueOutOfRangeError::new_err(message),
        }
    }
}

impl From<PyErr> for EncodeError {
    fn from(err: PyErr) -> Self {
        EncodeError::new(Kind::Type, String::new(), Some(err))
    }
}

type Result<T> = std::result::Result<T, EncodeError>;

/// A str as UTF-8, which BSON stores; a lone surrogate (from `"\ud800"` or a bad decode with
/// `surrogateescape`) has no UTF-8 form, and is refused with the field's path.
fn utf8<'a>(s: &'a Bound<'_, PyString>) -> Result<&'a str> {
    s.to_str().map_err(|_| {
        EncodeError::value_error(
            "a str holds a lone surrogate (such as '\\ud800'), which UTF-8 and BSON cannot \
             store; encode or replace it first"
                .to_owned(),
        )
    })
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

fn check_key(key: &str) -> Result<()> {
    if key.contains('\0') {
        return Err(EncodeError::value_error(format!(
            "field name {key:?} contains a NUL character, which BSON field names cannot hold"
        )));
    }
    Ok(())
}

fn encode_int(v: &Bound<'_, PyAny>) -> Result<RawBson> {
    match v.extract::<i64>() {
        Ok(n) => Ok(match i32::try_from(n) {
            Ok(small) => RawBson::Int32(small),
            Err(_) => RawBson::Int64(n),
        }),
        Err(_) => Err(EncodeError::value_error(format!(
            "integer {} does not fit in BSON's 64-bit signed integers (-2**63 .. 2**63-1); \
             store it as a str or a Decimal instead",
            v.str().map(|s| s.to_string()).unwrap_or_default()
        ))),
    }
}

/// Milliseconds since the epoch as `datetime - epoch` gives them (an exact timedelta: days,
/// seconds, microseconds), microseconds truncated towards the past. An aware datetime is taken
/// at its UTC instant, a naive one as UTC. Five Python calls, where reading the civil fields
/// and the offset one by one took twelve.
fn encode_datetime(v: &Bound<'_, PyAny>, t: &PyTypes) -> Result<RawBson> {
    let py = v.py();
    let naive = v.call_method0(intern!(py, "utcoffset"))?.is_none();
    let epoch = if naive {
        t.epoch_naive.bind(py)
    } else {
        t.epoch_utc.bind(py)
    };
    let delta = v.sub(epoch)?;
    let days: i64 = delta.getattr(intern!(py, "days"))?.extract()?;
    let seconds: i64 = delta.getattr(intern!(py, "seconds"))?.extract()?;
    let micros: i64 = delta.getattr(intern!(py, "microseconds"))?.extract()?;
    let millis = days
        .checked_mul(86_400_000)
        .and_then(|ms| ms.checked_add(seconds * 1000 + micros / 1000))
        .ok_or_else(|| {
            EncodeError::value_error("datetime is outside the range BSON can store".to_owned())
        })?;
    // Written, it must read back as a datetime: a time zone can push it past year 9999 or
    // before year 1 in UTC.
    if super::datetime::civil_from_millis(millis).is_none() {
        return Err(EncodeError::value_error(format!(
            "datetime {} is outside the years 1 to 9999 in UTC, so it could not be read back \
             as a datetime; store it as vellum.DatetimeMS",
            v.str()?
        )));
    }
    Ok(RawBson::DateTime(bson::DateTime::from_millis(millis)))
}

/// A UUID's 128-bit `int` (a plain attribute; `.bytes` builds a bytes object per call) as the
/// 16 big-endian bytes of BSON's UUID subtype.
fn encode_uuid(v: &Bound<'_, PyAny>) -> Result<RawBson> {
    let value: u128 = v.getattr(intern!(v.py(), "int"))?.extract()?;
    Ok(RawBson::Binary(bson::Binary {
        subtype: BinarySubtype::Uuid,
        bytes: value.to_be_bytes().to_vec(),
    }))
}

/// Python's `str(Decimal)` is exact; bson parses it and refuses anything that would round.
fn encode_decimal(v: &Bound<'_, PyAny>) -> Result<RawBson> {
    let text = v.str()?;
    let text = text.to_str()?;
    // Python spells signalling NaN "sNaN"; Decimal128 has no payload to keep, and MongoDB
    // stores every NaN the same way.
    let parsed = Decimal128::from_str(text).map_err(|e| {
        EncodeError::value_error(format!(
            "Decimal('{text}') cannot be stored exactly as BSON Decimal128 ({e}); Decimal128 \
             holds at most 34 significant digits with an exponent from -6176 to 6111. Round it \
             first, for example value.quantize(Decimal('0.01'))"
        ))
    })?;
    Ok(RawBson::Decimal128(parsed))
}

fn encode_pattern(v: &Bound<'_, PyAny>) -> Result<RawBson> {
    Ok(Regex::from_python_pattern(v)?.to_raw())
}

fn encode_mapping_items<'py>(
    items: impl Iterator<Item = PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)>>,
    t: &PyTypes,
    depth: u32,
) -> Result<RawDocumentBuf> {
    let mut doc = RawDocumentBuf::new();
    for item in items {
        let (key, value) = item?;
        let Ok(key) = key.cast::<PyString>() else {
            let what = key.repr().map(|r| r.to_string()).unwrap_or_default();
            return Err(EncodeError::type_error(format!(
                "document keys must be str, got {} key {what}; convert the key to str",
                type_name(&key)
            )));
        };
        let key = utf8(key)?;
        check_key(key)?;
        let encoded =
            encode_value(&value, t, depth + 1).map_err(|e| e.at(Segment::Key(key.to_owned())))?;
        doc.append(key, encoded);
    }
    Ok(doc)
}

fn encode_dict(v: &Bound<'_, PyDict>, t: &PyTypes, depth: u32) -> Result<RawDocumentBuf> {
    if depth > MAX_DEPTH {
        return Err(EncodeError::value_error(format!(
            "documents nest deeper than {MAX_DEPTH} levels (does a dict contain itself?)"
        )));
    }
    encode_mapping_items(v.iter().map(Ok), t, depth)
}

fn encode_mapping(v: &Bound<'_, PyAny>, t: &PyTypes, depth: u32) -> Result<RawDocumentBuf> {
    if let Ok(dict) = v.cast::<PyDict>() {
        return encode_dict(dict, t, depth);
    }
    if depth > MAX_DEPTH {
        return Err(EncodeError::value_error(format!(
            "documents nest deeper than {MAX_DEPTH} levels (does a mapping contain itself?)"
        )));
    }
    let items = v.call_method0(intern!(v.py(), "items"))?;
    let iter = items
        .try_iter()?
        .map(|item| item.and_then(|pair| pair.extract()));
    encode_mapping_items(iter, t, depth)
}

fn encode_sequence<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    t: &PyTypes,
    depth: u32,
) -> Result<RawBson> {
    if depth > MAX_DEPTH {
        return Err(EncodeError::value_error(format!(
            "arrays nest deeper than {MAX_DEPTH} levels (does a list contain itself?)"
        )));
    }
    let mut array = RawArrayBuf::new();
    for (i, item) in items.enumerate() {
        array.push(encode_value(&item, t, depth + 1).map_err(|e| e.at(Segment::Index(i)))?);
    }
    Ok(RawBson::Array(array))
}

/// Encodes one Python value. Exact built-in types go through the pointer table; everything else
/// (subclasses, enums, mappings) through [`encode_cold`].
pub fn encode_value(v: &Bound<'_, PyAny>, t: &PyTypes, depth: u32) -> Result<RawBson> {
    let ty = v.get_type_ptr() as usize;
    if ty == t.str_ {
        let s = v.cast::<PyString>().map_err(PyErr::from)?;
        return Ok(RawBson::String(utf8(s)?.to_owned()));
    }
    if ty == t.int {
        return encode_int(v);
    }
    if ty == t.float {
        return Ok(RawBson::Double(v.extract::<f64>()?));
    }
    if ty == t.bool_ {
        return Ok(RawBson::Boolean(v.is_truthy()?));
    }
    if ty == t.none {
        return Ok(RawBson::Null);
    }
    if ty == t.dict {
        let dict = v.cast::<PyDict>().map_err(PyErr::from)?;
        return Ok(RawBson::Document(encode_dict(dict, t, depth)?));
    }
    if ty == t.list {
        let list = v.cast::<PyList>().map_err(PyErr::from)?;
        return encode_sequence(list.iter(), t, depth);
    }
    if ty == t.datetime {
        return encode_datetime(v, t);
    }
    if ty == t.uuid {
        return encode_uuid(v);
    }
    if ty == t.decimal {
        return encode_decimal(v);
    }
    if ty == t.objectid {
        let oid = v.cast::<ObjectId>().map_err(PyErr::from)?;
        return Ok(RawBson::ObjectId(oid.get().oid));
    }
    if ty == t.tuple {
        let tuple = v.cast::<PyTuple>().map_err(PyErr::from)?;
        return encode_sequence(tuple.iter(), t, depth);
    }
    if ty == t.bytes {
        let bytes = v
            .cast::<PyBytes>()
            .map_err(PyErr::from)?
            .as_bytes()
            .to_vec();
        return Ok(RawBson::Binary(bson::Binary {
            subtype: BinarySubtype::Generic,
            bytes,
        }));
    }
    if ty == t.pattern {
        return encode_pattern(v);
    }
    if ty == t.binary {
        let b = v.cast::<Binary>().map_err(PyErr::from)?.get();
        return Ok(RawBson::Binary(bson::Binary {
            subtype: BinarySubtype::from(b.subtype),
            bytes: b.data.clone(),
        }));
    }
    if ty == t.code {
        let code = v.cast::<Code>().map_err(PyErr::from)?.get();
        return Ok(match &code.scope {
            None => RawBson::JavaScriptCode(code.code.clone()),
            Some(scope) => RawBson::JavaScriptCodeWithScope(bson::RawJavaScriptCodeWithScope {
                code: code.code.clone(),
                scope: RawDocumentBuf::from_bytes(scope.clone())
                    .map_err(|e| EncodeError::value_error(format!("Code scope: {e}")))?,
            }),
        });
    }
    if ty == t.dbpointer {
        return Ok(v.cast::<DBPointer>().map_err(PyErr::from)?.get().to_raw()?);
    }
    if ty == t.datetime_ms {
        let ms = v.cast::<DatetimeMS>().map_err(PyErr::from)?.get();
        return Ok(RawBson::DateTime(bson::DateTime::from_millis(ms.millis)));
    }
    if ty == t.regex {
        return Ok(v.cast::<Regex>().map_err(PyErr::from)?.get().to_raw());
    }
    if ty == t.timestamp {
        let ts = v.cast::<Timestamp>().map_err(PyErr::from)?.get();
        return Ok(RawBson::Timestamp(bson::Timestamp {
            time: ts.time,
            increment: ts.inc,
        }));
    }
    if ty == t.minkey {
        return Ok(RawBson::MinKey);
    }
    if ty == t.maxkey {
        return Ok(RawBson::MaxKey);
    }
    encode_cold(v, t, depth)
}

fn encode_cold(v: &Bound<'_, PyAny>, t: &PyTypes, depth: u32) -> Result<RawBson> {
    let py = v.py();
    // Query expressions and pipelines nested in a stage compile to their BSON.
    if let Ok(expr) = v.cast::<crate::query::QueryExpr>() {
        let filter = expr.get().plain_document()?;
        return bson_to_raw(bson::Bson::Document(filter));
    }
    if let Ok(pipeline) = v.cast::<crate::pipeline::Pipeline>() {
        return bson_to_raw(pipeline.get().to_bson());
    }
    if v.is_instance(t.enum_cls.bind(py))? {
        // Enums are stored by value (str and int enums as their str and int).
        return encode_value(&v.getattr(intern!(py, "value"))?, t, depth);
    }
    if v.is_instance_of::<pyo3::types::PyInt>() {
        return encode_int(v);
    }
    if v.is_instance_of::<pyo3::types::PyFloat>() {
        return Ok(RawBson::Double(v.extract::<f64>()?));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(RawBson::String(utf8(s)?.to_owned()));
    }
    if v.is_instance(t.datetime_cls.bind(py))? {
        return encode_datetime(v, t);
    }
    if v.is_instance(t.uuid_cls.bind(py))? {
        return encode_uuid(v);
    }
    if v.is_instance(t.decimal_cls.bind(py))? {
        return encode_decimal(v);
    }
    if v.is_instance_of::<PyDict>() || v.is_instance(t.mapping_abc.bind(py))? {
        return Ok(RawBson::Document(encode_mapping(v, t, depth)?));
    }
    if let Ok(list) = v.cast::<PyList>() {
        return encode_sequence(list.iter(), t, depth);
    }
    if let Ok(tuple) = v.cast::<PyTuple>() {
        return encode_sequence(tuple.iter(), t, depth);
    }
    if let Ok(bytes) = v.cast::<PyBytes>() {
        let bytes = bytes.as_bytes().to_vec();
        return Ok(RawBson::Binary(bson::Binary {
            subtype: BinarySubtype::Generic,
            bytes,
        }));
    }
    if let Some(oid) = super::objectid::foreign(v)? {
        return Ok(RawBson::ObjectId(oid));
    }
    let name = type_name(v);
    let hint = if v.is_instance(t.date_cls.bind(py))? {
        "BSON has no date-only type: store a datetime (midnight UTC) instead"
    } else if v.hasattr(intern!(py, "model_dump"))? {
        "dump the model first with model_dump()"
    } else if name == "set" || name == "frozenset" {
        "convert it to a list (sorted, if order matters)"
    } else {
        "convert it to str, int, float, bool, None, dict, list, datetime, UUID, Decimal, bytes \
         or ObjectId"
    };
    Err(EncodeError::type_error(format!(
        "cannot encode a value of type '{name}' as BSON: {hint}"
    )))
}

fn bson_to_raw(value: bson::Bson) -> Result<RawBson> {
    RawBson::try_from(value)
        .map_err(|e| EncodeError::value_error(format!("cannot encode compiled value: {e}")))
}

/// Encodes a mapping as a top-level BSON document.
pub fn encode_document(v: &Bound<'_, PyAny>) -> PyResult<RawDocumentBuf> {
    let t = PyTypes::get(v.py())?;
    let is_mapping = v.is_instance_of::<PyDict>() || v.is_instance(t.mapping_abc.bind(v.py()))?;
    if !is_mapping {
        return Err(UnsupportedTypeError::new_err(format!(
            "a document must be a dict (or another mapping), got {}",
            type_name(v)
        )));
    }
    encode_mapping(v, t, 0).map_err(EncodeError::into_pyerr)
}

/// Encodes a mapping as a driver `Document` (filters, updates, sort and projection specs).
pub fn encode_filter(v: &Bound<'_, PyAny>) -> PyResult<Document> {
    let raw = encode_document(v)?;
    raw.to_document()
        .map_err(|e| UnsupportedTypeError::new_err(format!("invalid document: {e}")))
}

/// Encodes a single value, for places where a bare value (not a document) goes to the server.
pub fn encode_value_for_filter(v: &Bound<'_, PyAny>) -> PyResult<bson::Bson> {
    let t = PyTypes::get(v.py())?;
    let raw = encode_value(v, t, 0).map_err(EncodeError::into_pyerr)?;
    bson::Bson::try_from(raw)
        .map_err(|e| UnsupportedTypeError::new_err(format!("invalid value: {e}")))
}
