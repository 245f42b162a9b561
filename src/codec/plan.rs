//! Trusted fetch: build model instances straight from BSON, without re-validating.
//!
//! A [`ModelPlan`] lists a Pydantic model's stored fields and the BSON type each must have.
//! A document whose every field is present with exactly the planned type becomes an instance
//! the way `model_construct` builds one (`__dict__` in field order, every field set); any other
//! document (a missing field, another BSON type, a non-finite Decimal128, a duplicate key) is
//! decoded to a dict as usual, and Python validates it. Since a value that passes this check is
//! one Pydantic validation would return unchanged, both paths give equal models. The Python
//! side (`vellum._fetch_plan`) only plans models for which that holds: for every model without
//! constraints (the check is then the whole of validation), and on request for models with
//! constraints, which this path does not re-check (`validate_on_fetch = False`).

use bson::raw::{RawBsonRef, RawDocument};
use bson::spec::BinarySubtype;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};
use pyo3::{PyTraverseError, PyVisit};

use ahash::AHashSet;

use super::checks::{Checks, Choices, Verdict};
use super::decode::{decode_value, with_field, KeyCache};
use super::ffi;
use super::raw::{self, Element, Elements};
use super::types::PyTypes;

pub(super) enum Kind {
    Str,
    Int,
    Float,
    Bool,
    Decimal,
    DateTime,
    Uuid,
    ObjectId,
    Bytes,
    List(Box<Spec>),
    Model(Py<ModelPlan>),
    /// A Literal's values or an Enum's members.
    Choice(Box<Choices>),
}

pub(super) struct Spec {
    pub(super) kind: Kind,
    pub(super) nullable: bool,
    /// Constraints the read plan checks (none in trusted and write plans).
    pub(super) checks: Checks,
}

pub(super) struct Field {
    /// The stored name (the alias).
    pub(super) key: String,
    /// The attribute name.
    pub(super) name: Py<PyString>,
    pub(super) spec: Spec,
}

/// How to read one model class's stored documents. Made by `vellum._plans`:
/// `ModelPlan(model, [(stored_key, attribute, spec), ...], keys=..., builds=True)` where a spec
/// is `(kind, nullable, inner, checks)`: kind one of str, int, float, bool, decimal, datetime,
/// uuid, objectid, bytes, list (inner: the item's spec), model (inner: a ModelPlan) or choice
/// (inner: `(enum_class_or_None, [(value, result), ...])`); checks a dict of the constraints
/// the core checks (see [`super::checks`]) or None.
///
/// `keys`: the top-level keys validation reads; a document's other elements are skipped
/// without being decoded (so one odd value in a field the model does not declare cannot fail a
/// read). `builds=False`: the plan only selects keys, and every document goes to validation.
#[pyclass(module = "vellum._core", frozen)]
pub struct ModelPlan {
    pub(super) cls: Py<PyType>,
    pub(super) fields: Vec<Field>,
    /// `dict.fromkeys(attribute names)`: each built instance's `__dict__` starts as a copy of
    /// it, and its fields set is the set of its keys.
    template: Py<PyDict>,
    builds: bool,
    keys: Option<AHashSet<String>>,
}

fn parse_spec(spec: &Bound<'_, PyAny>) -> PyResult<Spec> {
    let (kind_name, nullable, inner, checks): (String, bool, Bound<'_, PyAny>, Bound<'_, PyAny>) =
        spec.extract()?;
    let kind = match kind_name.as_str() {
        "str" => Kind::Str,
        "int" => Kind::Int,
        "float" => Kind::Float,
        "bool" => Kind::Bool,
        "decimal" => Kind::Decimal,
        "datetime" => Kind::DateTime,
        "uuid" => Kind::Uuid,
        "objectid" => Kind::ObjectId,
        "bytes" => Kind::Bytes,
        "list" => Kind::List(Box::new(parse_spec(&inner)?)),
        "model" => Kind::Model(inner.extract()?),
        "choice" => Kind::Choice(Box::new(Choices::parse(&inner)?)),
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown field kind {other:?}"
            )))
        }
    };
    let checks = Checks::parse(&kind_name, &checks)?;
    Ok(Spec {
        kind,
        nullable,
        checks,
    })
}

#[pymethods]
impl ModelPlan {
    #[new]
    #[pyo3(signature = (model, fields, *, keys = None, builds = true))]
    fn new(
        model: &Bound<'_, PyType>,
        fields: &Bound<'_, PyList>,
        keys: Option<std::collections::HashSet<String>>,
        builds: bool,
    ) -> PyResult<Self> {
        if !builds && !fields.is_empty() {
            return Err(PyValueError::new_err(
                "a plan that does not build has no fields",
            ));
        }
        if builds && !ffi::is_plain_class(model)? {
            return Err(PyTypeError::new_err(format!(
                "{} defines __new__ or has a base class defined in C: the core does not build \
                 its instances",
                model.qualname()?
            )));
        }
        let fields = fields
            .iter()
            .map(|field| {
                let field = field.cast_into::<PyTuple>()?;
                let (key, name, spec): (String, Bound<'_, PyString>, Bound<'_, PyAny>) =
                    field.extract()?;
                Ok(Field {
                    key,
                    name: name.unbind(),
                    spec: parse_spec(&spec)?,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let py = model.py();
        let template = PyDict::new(py);
        for field in &fields {
            template.set_item(field.name.bind(py), py.None())?;
        }
        Ok(ModelPlan {
            cls: model.clone().unbind(),
            fields,
            template: template.unbind(),
            builds,
            keys: keys.map(|keys| keys.into_iter().collect()),
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let cls = self.cls.bind(py).getattr("__qualname__")?;
        Ok(format!("ModelPlan({cls}, {} fields)", self.fields.len()))
    }

    /// Whether the core builds instances itself (else it only selects the keys to decode).
    #[getter]
    fn builds(&self) -> bool {
        self.builds_instances()
    }

    /// A plan is kept in its model class's `__dict__` and refers to that class: the cyclic GC
    /// must see these references to collect a class that is no longer used. (The class's own
    /// clear breaks such a cycle; a frozen plan has nothing to clear.)
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.cls)?;
        visit.call(&self.template)?;
        for field in &self.fields {
            visit.call(&field.name)?;
            field.spec.traverse(&visit)?;
        }
        Ok(())
    }
}

impl Spec {
    fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.checks.traverse(visit)?;
        match &self.kind {
            Kind::List(item) => item.traverse(visit),
            Kind::Model(plan) => visit.call(plan),
            Kind::Choice(choices) => choices.traverse(visit),
            _ => Ok(()),
        }
    }
}

/// The value, if its BSON type is exactly the planned one; `None` sends the whole document to
/// validation (as does a malformed element: the bson crate then reports it).
fn planned_value<'a, 'py>(
    py: Python<'py>,
    element: &Element<'a>,
    spec: &Spec,
    t: &PyTypes,
    cache: &mut KeyCache<'a>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    match (&spec.kind, element.kind) {
        (Kind::List(item), raw::ARRAY) => {
            let Ok(items) = Elements::of(element.value) else {
                return Ok(None);
            };
            let list = PyList::empty(py);
            let mut count = 0;
            for item_element in items {
                count += 1;
                let Ok(item_element) = item_element else {
                    return Ok(None);
                };
                // An array's keys are only read as UTF-8 (as the bson crate reads them).
                if std::str::from_utf8(item_element.key).is_err() {
                    return Ok(None);
                }
                match planned_value(py, &item_element, item, t, cache)? {
                    Some(v) => list.append(v)?,
                    None => return Ok(None),
                }
            }
            return Ok(spec.checks.list(count).then(|| list.into_any()));
        }
        (Kind::Model(plan), raw::DOCUMENT) => {
            return build_model(py, element.value, plan.get(), t, cache);
        }
        _ => {}
    }
    let Ok(Some(value)) = element.scalar() else {
        return Ok(None);
    };
    if let (Kind::Choice(choices), false) = (&spec.kind, matches!(value, RawBsonRef::Null)) {
        let found = match value {
            RawBsonRef::Boolean(b) => choices.bool(b),
            RawBsonRef::Int32(i) => choices.int(i.into()),
            RawBsonRef::Int64(i) => choices.int(i),
            RawBsonRef::String(s) => choices.str(s),
            _ => None,
        };
        return Ok(found.map(|v| v.bind(py).clone()));
    }
    let mut search = None;
    let fits = match (&spec.kind, value) {
        (_, RawBsonRef::Null) => spec.nullable,
        (Kind::Str, RawBsonRef::String(s)) => match spec.checks.str(s) {
            Verdict::Passes => true,
            Verdict::Fails => false,
            Verdict::Search(pattern) => {
                search = Some(pattern);
                true
            }
        },
        (Kind::Int, RawBsonRef::Int32(i)) => spec.checks.int(i.into()),
        (Kind::Int, RawBsonRef::Int64(i)) => spec.checks.int(i),
        (Kind::Float, RawBsonRef::Double(f)) => spec.checks.float(f),
        (Kind::Bool, RawBsonRef::Boolean(_)) | (Kind::ObjectId, RawBsonRef::ObjectId(_)) => true,
        // A date Python's datetime cannot hold is read as a DatetimeMS, which a datetime field
        // refuses: validation reports it.
        (Kind::DateTime, RawBsonRef::DateTime(dt)) => {
            super::datetime::civil_from_millis(dt.timestamp_millis()).is_some()
        }
        // Pydantic's Decimal refuses infinities and NaN unless allow_inf_nan is set.
        (Kind::Decimal, RawBsonRef::Decimal128(d)) => is_finite(d),
        (Kind::Uuid, RawBsonRef::Binary(b)) => {
            b.subtype == BinarySubtype::Uuid && b.bytes.len() == 16
        }
        (Kind::Bytes, RawBsonRef::Binary(b)) => b.subtype == BinarySubtype::Generic,
        _ => false,
    };
    if !fits {
        return Ok(None);
    }
    let decoded = decode_value(py, value, t, cache, 0)?; // a scalar: nothing nests
    if let Some(search) = search {
        // Python's `re`, as Pydantic calls it; a failing call is Pydantic's to report.
        match search.bind(py).call1((&decoded,)) {
            Ok(found) if !found.is_none() => {}
            _ => return Ok(None),
        }
    }
    Ok(Some(decoded))
}

/// Decimal128's combination field (the top bits of its last byte, little-endian) marks an
/// infinity with 11110 and a NaN with 11111.
fn is_finite(d: bson::Decimal128) -> bool {
    d.bytes()[15] & 0x78 != 0x78
}

impl ModelPlan {
    pub fn builds_instances(&self) -> bool {
        self.builds
    }

    pub fn keys(&self) -> Option<&AHashSet<String>> {
        self.keys.as_ref()
    }

    pub fn model_name(&self, py: Python<'_>) -> Option<String> {
        self.cls.bind(py).name().ok().map(|n| n.to_string())
    }
}

/// An instance of the plan's model from `doc`, or `None` when the document does not match the
/// plan exactly (it is then validated).
pub fn build_model<'a, 'py>(
    py: Python<'py>,
    doc: &'a [u8],
    plan: &ModelPlan,
    t: &PyTypes,
    cache: &mut KeyCache<'a>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let fields = &plan.fields;
    let mut values: Vec<Option<Bound<'py, PyAny>>> = fields.iter().map(|_| None).collect();
    let mut next = 0;
    let mut extras_checked = false;
    let Ok(elements) = Elements::of(doc) else {
        return Ok(None);
    };
    for element in elements {
        let Ok(element) = element else {
            return Ok(None);
        };
        let key = element.key;
        // Documents written from the model keep its field order: try the next field first.
        let index = if fields.get(next).is_some_and(|f| f.key.as_bytes() == key) {
            next
        } else {
            match fields.iter().position(|f| f.key.as_bytes() == key) {
                Some(index) => index,
                // Not a field: ignored, as validation ignores it, once the values that are not
                // fields are known to decode (else decoding the document reports the fault).
                None => {
                    // The ordinary decoder frames every element and refuses a key that is not
                    // UTF-8 (a field's key matched byte for byte is UTF-8 already).
                    if std::str::from_utf8(key).is_err() {
                        return Ok(None);
                    }
                    if plan.keys.is_none() && !extras_checked {
                        if !extras_decode(py, doc, fields, t, cache) {
                            return Ok(None);
                        }
                        extras_checked = true;
                    }
                    continue;
                }
            }
        };
        next = index + 1;
        if values[index].is_some() {
            return Ok(None);
        }
        match planned_value(py, &element, &fields[index].spec, t, cache)
            .map_err(|e| with_field(e, py, &String::from_utf8_lossy(key)))?
        {
            Some(v) => values[index] = Some(v),
            None => return Ok(None),
        }
    }
    if values.iter().any(Option::is_none) {
        return Ok(None); // a field is missing: validation applies the default
    }
    // A copy of the template already holds every key in field order: setting the values
    // replaces them in place, where filling an empty dict would resize it on the way.
    let dict = plan.template.bind(py).copy()?;
    for (field, value) in fields.iter().zip(values.into_iter().flatten()) {
        dict.set_item(field.name.bind(py), value)?;
    }
    let fields_set = ffi::name_set(plan.template.bind(py))?.into_any();
    let none = py.None().into_bound(py);
    let instance = PyTypes::bare_instance(
        plan.cls.bind(py),
        [
            (pyo3::intern!(py, "__dict__"), dict.into_any()),
            (pyo3::intern!(py, "__pydantic_fields_set__"), fields_set),
            (pyo3::intern!(py, "__pydantic_extra__"), none.clone()),
            (pyo3::intern!(py, "__pydantic_private__"), none),
        ],
    )?;
    Ok(Some(instance))
}

/// Whether every element of `doc` that is not a planned field decodes as the dict path would
/// decode it (the bson crate's checks and `decode_value`'s), so that a document is refused by
/// both paths or by neither. Runs only for documents with fields the model does not have.
fn extras_decode<'a>(
    py: Python<'_>,
    doc: &'a [u8],
    fields: &[Field],
    t: &PyTypes,
    cache: &mut KeyCache<'a>,
) -> bool {
    let Ok(raw) = RawDocument::from_bytes(doc) else {
        return false;
    };
    raw.iter().all(|element| match element {
        Ok((key, value)) => {
            fields.iter().any(|f| f.key == key) || decode_value(py, value, t, cache, 0).is_ok()
        }
        Err(_) => false,
    })
}

// -- writes ----------------------------------------------------------------------------------
