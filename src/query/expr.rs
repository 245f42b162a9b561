//! `QueryExpr`: the Python-facing query expression, built from checked values and combined with
//! `&`, `|`, `~`; the tree and its compilation are in `tree`.

use bson::{doc, Bson, Document};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::codec::{encode_filter, encode_value_for_filter};
use crate::error::QueryError;
use crate::pipeline::Pipeline;

use super::tree::{check_inside, compile, Expr, Op};

/// A compiled-on-demand query expression. Build it from a model's fields (`User.Q.age >= 18`),
/// combine with `&`, `|`, `~`, and pass it wherever a filter is taken.
#[pyclass(module = "vellum", frozen, name = "QueryExpr")]
#[derive(Clone)]
pub struct QueryExpr {
    expr: Expr,
    /// How deeply the tree nests (a comparison is 1): bounded, so that cloning, compiling and
    /// dropping it can never exhaust the stack.
    depth: u32,
    /// The linked documents the expression reads (`Book.Q.author.name`), in the order their
    /// `$lookup` stages must run; empty for a filter of the collection's own fields.
    lookups: Vec<Lookup>,
}

/// One `$lookup` a filter across a link needs: the documents of `from` whose `_id` is in the
/// value at `local`, put under `as_name` (which the filter's paths below the link start with),
/// restricted to the target's own scope (soft delete) when it has one.
#[derive(Clone, Debug, PartialEq)]
struct Lookup {
    from: String,
    local: String,
    as_name: String,
    scope: Option<Document>,
}

impl Lookup {
    fn stage(&self) -> Document {
        let mut spec = doc! {
            "from": &self.from,
            "localField": &self.local,
            "foreignField": "_id",
            "as": &self.as_name,
        };
        if let Some(scope) = &self.scope {
            spec.insert(
                "pipeline",
                vec![Bson::Document(doc! { "$match": scope.clone() })],
            );
        }
        doc! { "$lookup": spec }
    }
}

/// The lookups given from Python: `(from, local path, as name, scope filter or None)` each.
type PyLookups<'py> = Option<Vec<(String, String, String, Option<Bound<'py, PyAny>>)>>;

fn lookups_of(given: PyLookups<'_>) -> PyResult<Vec<Lookup>> {
    given
        .unwrap_or_default()
        .into_iter()
        .map(|(from, local, as_name, scope)| {
            if as_name.is_empty() || as_name.starts_with('$') || from.is_empty() {
                return Err(PyValueError::new_err(format!(
                    "a lookup needs a collection and a field name to put documents under, got \
                     from={from:?} as={as_name:?}"
                )));
            }
            let scope = match scope {
                Some(s) if !s.is_none() => Some(encode_filter(&s)?),
                _ => None,
            };
            Ok(Lookup {
                from,
                local,
                as_name,
                scope,
            })
        })
        .collect()
}

/// The lookups of several expressions, each once, in first-seen order (a lookup that depends
/// on another always comes after it in every list it is in).
fn merged<'a>(lists: impl IntoIterator<Item = &'a [Lookup]>) -> Vec<Lookup> {
    let mut out: Vec<Lookup> = Vec::new();
    for list in lists {
        for lookup in list {
            if !out.iter().any(|l| l.as_name == lookup.as_name) {
                out.push(lookup.clone());
            }
        }
    }
    out
}

/// How deeply `&`, `|`, `~`, `nor` and `elem_match` may nest (flattened chains of `&` or `|` count
/// once). MongoDB's own parser stops at about this depth.
const MAX_QUERY_DEPTH: u32 = 100;

fn checked(expr: Expr, depth: u32, lookups: Vec<Lookup>) -> PyResult<QueryExpr> {
    if depth > MAX_QUERY_DEPTH {
        return Err(QueryError::new_err(format!(
            "the query nests deeper than {MAX_QUERY_DEPTH} levels of &, |, ~, nor() and \
             elem_match(); build a flatter query (all_of/any_of of many conditions, in_ of \
             many values)"
        )));
    }
    Ok(QueryExpr {
        expr,
        depth,
        lookups,
    })
}

/// `items` joined by `kind`, their own `kind` nodes merged in (one level, not one per item).
fn combine(
    kind: fn(Vec<Expr>) -> Expr,
    is_same: fn(&Expr) -> Option<&Vec<Expr>>,
    items: Vec<QueryExpr>,
) -> PyResult<QueryExpr> {
    let children = items
        .iter()
        .map(|q| {
            if is_same(&q.expr).is_some() {
                q.depth - 1
            } else {
                q.depth
            }
        })
        .max()
        .unwrap_or(0);
    let lookups = merged(items.iter().map(|q| q.lookups.as_slice()));
    let exprs = items.into_iter().map(|q| q.expr).collect();
    checked(flatten(kind, is_same, exprs), children + 1, lookups)
}

fn extract_exprs(items: &Bound<'_, PyAny>) -> PyResult<Vec<QueryExpr>> {
    items
        .try_iter()?
        .map(|item| {
            let item = item?;
            let expr = item.cast::<QueryExpr>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "expected query expressions (Model.Q...), got {}",
                    item.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ))
            })?;
            Ok(expr.get().clone())
        })
        .collect()
}

fn flatten(
    kind: fn(Vec<Expr>) -> Expr,
    is_same: fn(&Expr) -> Option<&Vec<Expr>>,
    items: Vec<Expr>,
) -> Expr {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match is_same(&item) {
            Some(children) => out.extend(children.iter().cloned()),
            None => out.push(item),
        }
    }
    kind(out)
}

fn and_children(e: &Expr) -> Option<&Vec<Expr>> {
    match e {
        Expr::And(c) => Some(c),
        _ => None,
    }
}

fn or_children(e: &Expr) -> Option<&Vec<Expr>> {
    match e {
        Expr::Or(c) => Some(c),
        _ => None,
    }
}

impl QueryExpr {
    pub fn to_document(&self) -> Document {
        compile(&self.expr, None)
    }

    /// The filter of a plain read or write: refused when it reads linked documents, which
    /// only an aggregation (`lookup_pipeline`) can.
    pub fn plain_document(&self) -> PyResult<Document> {
        if let Some(lookup) = self.lookups.first() {
            return Err(QueryError::new_err(format!(
                "this filter reads fields of linked documents (in '{}'), which needs a $lookup: \
                 find, find_one, iter and count run it; for updates and deletes, filter on the \
                 link's id (Model.Q.<link>.id == ...) instead",
                lookup.from
            )));
        }
        Ok(self.to_document())
    }
}

#[pymethods]
impl QueryExpr {
    /// `path <op> value`, with `value` already coerced by the field's type.
    #[staticmethod]
    #[pyo3(signature = (path, op, value, lookups = None))]
    fn compare(
        path: String,
        op: &str,
        value: &Bound<'_, PyAny>,
        lookups: PyLookups<'_>,
    ) -> PyResult<Self> {
        let op = Op::parse(op)?;
        let value = encode_value_for_filter(value)?;
        if let Some(key) = operator_key_in(&value) {
            return Err(QueryError::new_err(format!(
                "the value compared with '{path}' holds the key {key:?}; values are never \
                 read as operators. Use Q.<field>.<operator>(...) or raw({{...}}) instead"
            )));
        }
        if matches!(op, Op::In | Op::Nin | Op::All) && !matches!(value, Bson::Array(_)) {
            return Err(PyTypeError::new_err(format!(
                "{} takes a list of values",
                op.name()
            )));
        }
        if op.is_geo() {
            return Err(PyValueError::new_err(format!(
                "{} takes a geometry: build it with QueryExpr.geo",
                op.name()
            )));
        }
        check_operand(op, &value)?;
        checked(Expr::Compare { path, op, value }, 1, lookups_of(lookups)?)
    }

    /// `path <geo op> {$geometry: geometry, $maxDistance..., $minDistance...}`: `geometry` is a
    /// GeoJSON object (values only: no key of it may start with `$`).
    #[staticmethod]
    #[pyo3(signature = (path, op, geometry, max_distance = None, min_distance = None, lookups = None))]
    fn geo(
        path: String,
        op: &str,
        geometry: &Bound<'_, PyAny>,
        max_distance: Option<f64>,
        min_distance: Option<f64>,
        lookups: PyLookups<'_>,
    ) -> PyResult<Self> {
        let op = Op::parse(op)?;
        if !op.is_geo() {
            return Err(PyValueError::new_err(format!(
                "{} is not a geospatial operator",
                op.name()
            )));
        }
        let geometry = encode_value_for_filter(geometry)?;
        if let Some(key) = operator_key_in(&geometry) {
            return Err(QueryError::new_err(format!(
                "the geometry compared with '{path}' holds the key {key:?}; a GeoJSON object \
                 has no operator keys"
            )));
        }
        if !matches!(geometry, Bson::Document(_)) {
            return Err(PyTypeError::new_err(
                "a geometry is a GeoJSON object: {\"type\": ..., \"coordinates\": ...}",
            ));
        }
        let near = matches!(op, Op::Near | Op::NearSphere);
        if !near && (max_distance.is_some() || min_distance.is_some()) {
            return Err(PyValueError::new_err(format!(
                "{} takes no distance; near() does",
                op.name()
            )));
        }
        let mut operand = Document::new();
        operand.insert("$geometry", geometry);
        for (key, distance) in [
            ("$maxDistance", max_distance),
            ("$minDistance", min_distance),
        ] {
            if let Some(d) = distance {
                if !(d.is_finite() && d >= 0.0) {
                    return Err(PyValueError::new_err(format!(
                        "{key} must be a finite distance >= 0 (meters), got {d}"
                    )));
                }
                operand.insert(key, d);
            }
        }
        let value = Bson::Document(operand);
        checked(Expr::Compare { path, op, value }, 1, lookups_of(lookups)?)
    }

    /// `$text`: searches the collection's text index for `search` (terms, "phrases" and
    /// -negations, as MongoDB reads them: the string is a value, never an operator).
    #[staticmethod]
    #[pyo3(signature = (search, language = None, case_sensitive = None, diacritic_sensitive = None))]
    fn text(
        search: String,
        language: Option<String>,
        case_sensitive: Option<bool>,
        diacritic_sensitive: Option<bool>,
    ) -> PyResult<Self> {
        let mut operand = Document::new();
        operand.insert("$search", search);
        if let Some(language) = language {
            operand.insert("$language", language);
        }
        if let Some(flag) = case_sensitive {
            operand.insert("$caseSensitive", flag);
        }
        if let Some(flag) = diacritic_sensitive {
            operand.insert("$diacriticSensitive", flag);
        }
        checked(Expr::Text(operand), 1, Vec::new())
    }

    /// `$expr` comparing two fields of the same document: `left <op> right`.
    #[staticmethod]
    fn fields(left: String, op: &str, right: String) -> PyResult<Self> {
        let op = Op::parse(op)?;
        if !op.compares_fields() {
            return Err(PyValueError::new_err(format!(
                "two fields compare with $eq, $ne, $gt, $gte, $lt or $lte, not {}",
                op.name()
            )));
        }
        checked(Expr::Fields { left, op, right }, 1, Vec::new())
    }

    #[staticmethod]
    #[pyo3(signature = (path, pattern, options = String::new(), lookups = None))]
    fn regex(
        path: String,
        pattern: String,
        options: String,
        lookups: PyLookups<'_>,
    ) -> PyResult<Self> {
        if let Some(bad) = options.chars().find(|c| !"imsxu".contains(*c)) {
            return Err(PyValueError::new_err(format!(
                "regex option {bad:?} is not one of MongoDB's: i, m, s, x, u"
            )));
        }
        let mut sorted: Vec<char> = options.chars().collect();
        sorted.sort_unstable();
        sorted.dedup();
        checked(
            Expr::Regex {
                path,
                pattern,
                options: sorted.into_iter().collect(),
            },
            1,
            lookups_of(lookups)?,
        )
    }

    #[staticmethod]
    #[pyo3(signature = (path, inner, lookups = None))]
    fn elem_match(
        path: String,
        inner: &Bound<'_, QueryExpr>,
        lookups: PyLookups<'_>,
    ) -> PyResult<Self> {
        let depth = inner.get().depth + 1;
        let own = lookups_of(lookups)?;
        let lookups = merged([own.as_slice(), inner.get().lookups.as_slice()]);
        let inner = inner.get().expr.clone();
        check_inside(&inner, &path)?;
        checked(
            Expr::ElemMatch {
                path,
                inner: Box::new(inner),
            },
            depth,
            lookups,
        )
    }

    #[staticmethod]
    fn all_of(items: &Bound<'_, PyAny>) -> PyResult<Self> {
        combine(Expr::And, and_children, extract_exprs(items)?)
    }

    #[staticmethod]
    fn any_of(items: &Bound<'_, PyAny>) -> PyResult<Self> {
        combine(Expr::Or, or_children, extract_exprs(items)?)
    }

    #[staticmethod]
    fn none_of(items: &Bound<'_, PyAny>) -> PyResult<Self> {
        let exprs = extract_exprs(items)?;
        if exprs.is_empty() {
            return Err(PyValueError::new_err("nor() needs at least one expression"));
        }
        let depth = exprs.iter().map(|q| q.depth).max().unwrap_or(0) + 1;
        let lookups = merged(exprs.iter().map(|q| q.lookups.as_slice()));
        checked(
            Expr::Nor(exprs.into_iter().map(|q| q.expr).collect()),
            depth,
            lookups,
        )
    }

    /// An explicit escape hatch: this dict is sent as written (operators and all).
    #[staticmethod]
    fn raw(filter: &Bound<'_, PyAny>) -> PyResult<Self> {
        checked(Expr::Raw(encode_filter(filter)?), 1, Vec::new())
    }

    /// Whether the expression reads fields of linked documents (so it runs as an aggregation).
    #[getter]
    fn needs_lookup(&self) -> bool {
        !self.lookups.is_empty()
    }

    /// The aggregation that finds the documents this expression matches when it reads linked
    /// documents: the `$lookup` stages, the `$match`, and the looked-up fields removed again
    /// (so the results are the collection's documents as stored).
    fn lookup_pipeline(&self) -> Pipeline {
        let mut stages: Vec<Document> = self.lookups.iter().map(Lookup::stage).collect();
        stages.push(doc! { "$match": self.to_document() });
        let names: Vec<Bson> = self
            .lookups
            .iter()
            .map(|l| Bson::String(l.as_name.clone()))
            .collect();
        if !names.is_empty() {
            stages.push(doc! { "$unset": names });
        }
        Pipeline::from_stages(stages)
    }

    /// The MongoDB filter this expression compiles to.
    fn to_filter<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let raw = bson::RawDocumentBuf::from_document(&self.to_document())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        crate::codec::functions::decode_to_dict(py, raw.as_bytes())
    }

    fn __and__(&self, other: &Bound<'_, QueryExpr>) -> PyResult<Self> {
        combine(
            Expr::And,
            and_children,
            vec![self.clone(), other.get().clone()],
        )
    }

    fn __or__(&self, other: &Bound<'_, QueryExpr>) -> PyResult<Self> {
        combine(
            Expr::Or,
            or_children,
            vec![self.clone(), other.get().clone()],
        )
    }

    fn __invert__(&self) -> PyResult<Self> {
        checked(
            Expr::Not(Box::new(self.expr.clone())),
            self.depth + 1,
            self.lookups.clone(),
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<QueryExpr>()
            .is_ok_and(|o| o.get().expr == self.expr && o.get().lookups == self.lookups)
    }

    fn __bool__(&self) -> PyResult<bool> {
        Err(PyTypeError::new_err(
            "a query expression has no truth value: combine expressions with & and | (not `and`/`or`), \
             and compare fields one at a time (not a < Q.x < b)",
        ))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("QueryExpr({})", self.to_filter(py)?.repr()?))
    }
}

/// The operand shapes MongoDB requires of `$mod` and the bitwise operators.
fn check_operand(op: Op, value: &Bson) -> PyResult<()> {
    let integer = |v: &Bson| matches!(v, Bson::Int32(_) | Bson::Int64(_));
    match op {
        Op::Mod => match value {
            Bson::Array(items) if items.len() == 2 && items.iter().all(integer) => Ok(()),
            _ => Err(PyTypeError::new_err(
                "$mod takes [divisor, remainder], two ints (the divisor not 0)",
            )),
        },
        Op::BitsAllSet | Op::BitsAnySet | Op::BitsAllClear | Op::BitsAnyClear => {
            let position = |v: &Bson| match v {
                Bson::Int32(n) => *n >= 0,
                Bson::Int64(n) => *n >= 0,
                _ => false,
            };
            let fine = match value {
                Bson::Int32(_) | Bson::Int64(_) => position(value),
                Bson::Array(items) => items.iter().all(position),
                Bson::Binary(_) => true,
                _ => false,
            };
            if fine {
                Ok(())
            } else {
                Err(PyTypeError::new_err(format!(
                    "{} takes a mask (an int >= 0, or bytes) or a list of bit positions >= 0",
                    op.name()
                )))
            }
        }
        _ => Ok(()),
    }
}

fn first_operator_key(doc: &Document) -> Option<String> {
    doc.iter().find_map(|(k, v)| {
        if k.starts_with('$') {
            Some(k.clone())
        } else {
            operator_key_in(v)
        }
    })
}

fn operator_key_in(value: &Bson) -> Option<String> {
    match value {
        Bson::Document(doc) => first_operator_key(doc),
        Bson::Array(items) => items.iter().find_map(operator_key_in),
        _ => None,
    }
}

/// A filter given from Python: a `QueryExpr`, a mapping, or None (everything).
pub fn filter_document(filter: Option<&Bound<'_, PyAny>>) -> PyResult<Document> {
    match filter {
        None => Ok(Document::new()),
        Some(f) if f.is_none() => Ok(Document::new()),
        Some(f) => match f.cast::<QueryExpr>() {
            Ok(expr) => expr.get().plain_document(),
            Err(_) => {
                if f.is_instance_of::<PyList>() {
                    return Err(PyTypeError::new_err(
                        "a filter is a dict or a query expression, not a list; combine \
                         expressions with & or |",
                    ));
                }
                encode_filter(f)
            }
        },
    }
}
