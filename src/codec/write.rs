//! Writing with a plan: a model instance encoded from its fields (what `model_dump(by_alias=True)`
//! would store, without building that dict), only when every value has exactly the type
//! validation gives its field; datetimes written back into the instance as BSON stores them.

use bson::{RawArrayBuf, RawBson, RawDocumentBuf};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::encode::{encode_document, encode_value, EncodeError, Segment, MAX_DEPTH};
use super::plan::{Kind, ModelPlan, Spec};
use super::types::PyTypes;
use crate::error::UnvouchedDocumentError;

/// `document` as BSON: an instance of exactly the plan's class is encoded field by field from its
/// `__dict__`, giving the bytes `model_dump(by_alias=True)` would encode to without building that
/// dict (`vellum._fetch_plan.write_plan` only plans models where the two agree); another model
/// goes through `model_dump(by_alias=True)`, a mapping is encoded as it is.
pub fn encode_with_plan(document: &Bound<'_, PyAny>, plan: &ModelPlan) -> PyResult<RawDocumentBuf> {
    let py = document.py();
    let t = PyTypes::get(py)?;
    if let Some(raw) = encode_model(document, plan, t, 0).map_err(EncodeError::into_pyerr)? {
        return Ok(raw);
    }
    if !document.hasattr(pyo3::intern!(py, "model_dump"))? {
        return encode_document(document);
    }
    // An instance of another class, or a value of another type than its field's (an instance
    // built by `model_construct` or changed by `model_copy(update=...)` skips validation): the
    // plan cannot vouch for what would be stored, so the caller validates it first.
    Err(UnvouchedDocumentError::new_err(format!(
        "the write plan of {} does not vouch for this instance: validate it through the model",
        plan.cls.bind(py).getattr(pyo3::intern!(py, "__name__"))?
    )))
}

fn encode_model(
    v: &Bound<'_, PyAny>,
    plan: &ModelPlan,
    t: &PyTypes,
    depth: u32,
) -> Result<Option<RawDocumentBuf>, EncodeError> {
    let py = v.py();
    if depth > MAX_DEPTH || !v.get_type().is(plan.cls.bind(py)) {
        return Ok(None);
    }
    let Ok(dict) = v
        .getattr(pyo3::intern!(py, "__dict__"))?
        .cast_into::<PyDict>()
    else {
        return Ok(None);
    };
    let mut doc = RawDocumentBuf::new();
    for field in &plan.fields {
        let Some(value) = dict.get_item(field.name.bind(py))? else {
            return Ok(None);
        };
        let at = || Segment::Key(field.key.clone());
        match encode_planned(&value, &field.spec, t, depth + 1).map_err(|e| e.at(at()))? {
            Some(encoded) => {
                if let Some(stored) = as_stored(&value, &encoded, t)? {
                    dict.set_item(field.name.bind(py), stored)?;
                }
                doc.append(field.key.as_str(), encoded);
            }
            None => return Ok(None),
        }
    }
    Ok(Some(doc))
}

/// The value a read of `encoded` gives, when it differs from the `value` written: a datetime
/// that is naive, in another time zone or finer than a millisecond is stored as UTC
/// milliseconds. Written back into the instance, so an inserted model equals the stored one.
fn as_stored<'py>(
    value: &Bound<'py, PyAny>,
    encoded: &RawBson,
    t: &PyTypes,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let RawBson::DateTime(stored) = encoded else {
        return Ok(None);
    };
    let py = value.py();
    // A batch's timestamps are one object (the repository stamps every document with it):
    // remember the last datetime found in stored form, held so its address cannot be reused.
    let known = LAST_STORED.with(|last| last.borrow().as_ref().is_some_and(|d| d.is(value)));
    if known {
        return Ok(None);
    }
    let utc = value
        .getattr(pyo3::intern!(py, "tzinfo"))?
        .is(t.utc.bind(py));
    let micros: u32 = value.getattr(pyo3::intern!(py, "microsecond"))?.extract()?;
    if utc && micros.is_multiple_of(1000) {
        LAST_STORED.with(|last| *last.borrow_mut() = Some(value.clone().unbind()));
        return Ok(None);
    }
    super::datetime::py_datetime(py, stored.timestamp_millis(), t).map(Some)
}

thread_local! {
    /// The last datetime `as_stored` found already in stored form (datetimes are immutable).
    static LAST_STORED: std::cell::RefCell<Option<Py<PyAny>>> = const { std::cell::RefCell::new(None) };
}

/// Whether `v` has exactly the type the plan stores for its field (None where it is nullable):
/// what validation would have produced. Lists and models are checked by their own walk.
fn vouched(v: &Bound<'_, PyAny>, spec: &Spec, t: &PyTypes) -> bool {
    let ty = v.get_type_ptr() as usize;
    if ty == t.none {
        return spec.nullable;
    }
    match &spec.kind {
        Kind::Str => ty == t.str_,
        Kind::Int => ty == t.int,
        Kind::Float => ty == t.float,
        Kind::Bool => ty == t.bool_,
        Kind::Decimal => ty == t.decimal,
        Kind::DateTime => ty == t.datetime,
        Kind::Uuid => ty == t.uuid,
        Kind::ObjectId => ty == t.objectid,
        Kind::Bytes => ty == t.bytes,
        Kind::List(_) => ty == t.list,
        Kind::Model(_) => true,
        // An enum member is stored by its value (as the dict path stores it); a Literal's value
        // as it is.
        Kind::Choice(choices) => choices
            .enum_cls
            .as_ref()
            .map_or(ty == t.str_ || ty == t.int || ty == t.bool_, |cls| {
                ty == cls.as_ptr() as usize
            }),
    }
}

/// One field's value: nested models by their plan, lists item by item, the rest as any value;
/// None when the value is not what validation would have produced.
fn encode_planned(
    v: &Bound<'_, PyAny>,
    spec: &Spec,
    t: &PyTypes,
    depth: u32,
) -> Result<Option<RawBson>, EncodeError> {
    if !vouched(v, spec, t) {
        return Ok(None);
    }
    match &spec.kind {
        Kind::Model(plan) if !v.is_none() => {
            Ok(encode_model(v, plan.get(), t, depth)?.map(RawBson::Document))
        }
        Kind::List(item) if !v.is_none() => {
            let mut array = RawArrayBuf::new();
            let list = v.cast::<PyList>().map_err(PyErr::from)?;
            for (i, element) in list.iter().enumerate() {
                match encode_planned(&element, item, t, depth + 1)
                    .map_err(|e| e.at(Segment::Index(i)))?
                {
                    Some(encoded) => {
                        if let Some(stored) = as_stored(&element, &encoded, t)? {
                            list.set_item(i, stored)?;
                        }
                        array.push(encoded);
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some(RawBson::Array(array)))
        }
        _ => encode_value(v, t, depth).map(Some),
    }
}
