//! The query expression tree and its compilation to a MongoDB filter: pure Rust, no Python
//! except the errors of building a node.

use bson::{Bson, Document};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::error::QueryError;

/// The comparison operators a field can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Nin,
    All,
    Size,
    Type,
    Exists,
    Mod,
    BitsAllSet,
    BitsAnySet,
    BitsAllClear,
    BitsAnyClear,
    GeoWithin,
    GeoIntersects,
    Near,
    NearSphere,
}

impl Op {
    pub(super) fn parse(name: &str) -> PyResult<Op> {
        Ok(match name {
            "$eq" => Op::Eq,
            "$ne" => Op::Ne,
            "$gt" => Op::Gt,
            "$gte" => Op::Gte,
            "$lt" => Op::Lt,
            "$lte" => Op::Lte,
            "$in" => Op::In,
            "$nin" => Op::Nin,
            "$all" => Op::All,
            "$size" => Op::Size,
            "$type" => Op::Type,
            "$exists" => Op::Exists,
            "$mod" => Op::Mod,
            "$bitsAllSet" => Op::BitsAllSet,
            "$bitsAnySet" => Op::BitsAnySet,
            "$bitsAllClear" => Op::BitsAllClear,
            "$bitsAnyClear" => Op::BitsAnyClear,
            "$geoWithin" => Op::GeoWithin,
            "$geoIntersects" => Op::GeoIntersects,
            "$near" => Op::Near,
            "$nearSphere" => Op::NearSphere,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown query operator {other:?}"
                )))
            }
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Op::Eq => "$eq",
            Op::Ne => "$ne",
            Op::Gt => "$gt",
            Op::Gte => "$gte",
            Op::Lt => "$lt",
            Op::Lte => "$lte",
            Op::In => "$in",
            Op::Nin => "$nin",
            Op::All => "$all",
            Op::Size => "$size",
            Op::Type => "$type",
            Op::Exists => "$exists",
            Op::Mod => "$mod",
            Op::BitsAllSet => "$bitsAllSet",
            Op::BitsAnySet => "$bitsAnySet",
            Op::BitsAllClear => "$bitsAllClear",
            Op::BitsAnyClear => "$bitsAnyClear",
            Op::GeoWithin => "$geoWithin",
            Op::GeoIntersects => "$geoIntersects",
            Op::Near => "$near",
            Op::NearSphere => "$nearSphere",
        }
    }

    /// The operators whose operand is a `$geometry` document (built by `QueryExpr.geo`).
    pub(super) fn is_geo(self) -> bool {
        matches!(
            self,
            Op::GeoWithin | Op::GeoIntersects | Op::Near | Op::NearSphere
        )
    }

    /// The comparisons one field can make with another (`$expr`).
    pub(super) fn compares_fields(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Gte | Op::Lt | Op::Lte)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Expr {
    Compare {
        path: String,
        op: Op,
        value: Bson,
    },
    Regex {
        path: String,
        pattern: String,
        options: String,
    },
    ElemMatch {
        path: String,
        inner: Box<Expr>,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Nor(Vec<Expr>),
    Not(Box<Expr>),
    Raw(Document),
    /// `$text`: a search of the collection's text index (its operand document).
    Text(Document),
    /// `$expr` comparing two fields of the same document.
    Fields {
        left: String,
        op: Op,
        right: String,
    },
}

/// The operator document a single-field node puts under its path, for `$not` and `$elemMatch`.
fn operator_document(expr: &Expr, relative_to: Option<&str>) -> Option<(String, Document)> {
    let relative = |path: &str| -> String {
        match relative_to {
            Some(prefix) if path == prefix => String::new(),
            Some(prefix) => path[prefix.len() + 1..].to_owned(),
            None => path.to_owned(),
        }
    };
    match expr {
        Expr::Compare { path, op, value } => {
            let mut d = Document::new();
            d.insert(op.name(), value.clone());
            Some((relative(path), d))
        }
        Expr::Regex {
            path,
            pattern,
            options,
        } => {
            let mut d = Document::new();
            d.insert("$regex", pattern.clone());
            if !options.is_empty() {
                d.insert("$options", options.clone());
            }
            Some((relative(path), d))
        }
        Expr::ElemMatch { path, inner } => {
            let mut d = Document::new();
            d.insert("$elemMatch", compile(inner, Some(path)));
            Some((relative(path), d))
        }
        _ => None,
    }
}

/// Whether a value may stand bare as `{path: value}` (an implicit `$eq`): documents and regexes
/// would be read differently there, so they keep an explicit `$eq`.
fn bare_equality(value: &Bson) -> bool {
    !matches!(value, Bson::Document(_) | Bson::RegularExpression(_))
}

/// Adds `key: value` to `target`, merging operator documents of the same path
/// (`{"age": {"$gt": 3}}` and `{"age": {"$lt": 9}}` give `{"age": {"$gt": 3, "$lt": 9}}`).
/// Returns false when the two cannot be merged without changing the meaning.
fn merge_into(target: &mut Document, key: &str, value: &Bson) -> bool {
    match target.get_mut(key) {
        None => {
            target.insert(key, value.clone());
            true
        }
        Some(Bson::Document(existing)) if !key.starts_with('$') => {
            let Bson::Document(incoming) = value else {
                return false;
            };
            let operators_only =
                |d: &Document| !d.is_empty() && d.keys().all(|k| k.starts_with('$'));
            if !operators_only(existing) || !operators_only(incoming) {
                return false;
            }
            if incoming.keys().any(|k| existing.contains_key(k)) {
                return false;
            }
            for (k, v) in incoming {
                existing.insert(k.clone(), v.clone());
            }
            true
        }
        Some(_) => false,
    }
}

/// Compiles a node into a filter document. Inside `$elemMatch`, paths are relative to the
/// array element (`relative_to` is the array's path).
pub(super) fn compile(expr: &Expr, relative_to: Option<&str>) -> Document {
    match expr {
        Expr::Compare {
            op: Op::Eq,
            value,
            path,
        } if bare_equality(value) => {
            let (key, _) = operator_document(expr, relative_to).expect("single-field node");
            if key.is_empty() {
                // `$elemMatch` over scalars takes operators only.
                let mut d = Document::new();
                d.insert("$eq", value.clone());
                return d;
            }
            let _ = path;
            let mut d = Document::new();
            d.insert(key, value.clone());
            d
        }
        Expr::Compare { .. } | Expr::Regex { .. } | Expr::ElemMatch { .. } => {
            let (key, ops) = operator_document(expr, relative_to).expect("single-field node");
            if key.is_empty() {
                return ops;
            }
            let mut d = Document::new();
            d.insert(key, ops);
            d
        }
        Expr::And(children) => {
            let compiled: Vec<Document> =
                children.iter().map(|c| compile(c, relative_to)).collect();
            let mut merged = Document::new();
            let mut ok = true;
            'outer: for doc in &compiled {
                for (k, v) in doc {
                    if !merge_into(&mut merged, k, v) {
                        ok = false;
                        break 'outer;
                    }
                }
            }
            if ok {
                merged
            } else {
                let mut d = Document::new();
                d.insert(
                    "$and",
                    compiled.into_iter().map(Bson::Document).collect::<Vec<_>>(),
                );
                d
            }
        }
        Expr::Or(children) => {
            let mut d = Document::new();
            d.insert(
                "$or",
                children
                    .iter()
                    .map(|c| Bson::Document(compile(c, relative_to)))
                    .collect::<Vec<_>>(),
            );
            d
        }
        Expr::Nor(children) => {
            let mut d = Document::new();
            d.insert(
                "$nor",
                children
                    .iter()
                    .map(|c| Bson::Document(compile(c, relative_to)))
                    .collect::<Vec<_>>(),
            );
            d
        }
        Expr::Not(inner) => compile_not(inner, relative_to),
        Expr::Raw(doc) => doc.clone(),
        Expr::Text(search) => {
            let mut d = Document::new();
            d.insert("$text", search.clone());
            d
        }
        Expr::Fields { left, op, right } => {
            let mut compare = Document::new();
            compare.insert(op.name(), vec![format!("${left}"), format!("${right}")]);
            let mut d = Document::new();
            d.insert("$expr", compare);
            d
        }
    }
}

/// `~expr`: a field-level `$not` where MongoDB allows one, `$ne` for equality, `$nor` otherwise.
fn compile_not(inner: &Expr, relative_to: Option<&str>) -> Document {
    match inner {
        Expr::Not(again) => compile(again, relative_to),
        Expr::Compare {
            path,
            op: Op::Eq,
            value,
        } => compile(
            &Expr::Compare {
                path: path.clone(),
                op: Op::Ne,
                value: value.clone(),
            },
            relative_to,
        ),
        Expr::Compare {
            path,
            op: Op::Ne,
            value,
        } => compile(
            &Expr::Compare {
                path: path.clone(),
                op: Op::Eq,
                value: value.clone(),
            },
            relative_to,
        ),
        Expr::Compare { .. } | Expr::Regex { .. } | Expr::ElemMatch { .. } => {
            let (key, ops) = operator_document(inner, relative_to).expect("single-field node");
            let mut not = Document::new();
            not.insert("$not", ops);
            if key.is_empty() {
                return not;
            }
            let mut d = Document::new();
            d.insert(key, not);
            d
        }
        other => {
            let mut d = Document::new();
            d.insert("$nor", vec![Bson::Document(compile(other, relative_to))]);
            d
        }
    }
}

/// Checks that every path in `expr` lies inside the array at `array_path`.
pub(super) fn check_inside(expr: &Expr, array_path: &str) -> PyResult<()> {
    let inside = |path: &str| {
        path == array_path
            || (path.starts_with(array_path) && path[array_path.len()..].starts_with('.'))
    };
    match expr {
        Expr::Compare { path, .. } | Expr::Regex { path, .. } | Expr::ElemMatch { path, .. }
            if !inside(path) =>
        {
            Err(QueryError::new_err(format!(
                "elem_match on '{array_path}' can only test fields of its elements \
                 ('{array_path}.<field>'), but got a condition on '{path}'"
            )))
        }
        Expr::Compare { .. } | Expr::Regex { .. } | Expr::ElemMatch { .. } => Ok(()),
        Expr::And(children) | Expr::Or(children) | Expr::Nor(children) => children
            .iter()
            .try_for_each(|c| check_inside(c, array_path)),
        Expr::Not(inner) => check_inside(inner, array_path),
        Expr::Raw(_) => Ok(()),
        Expr::Text(_) | Expr::Fields { .. } => Err(QueryError::new_err(format!(
            "elem_match on '{array_path}' cannot hold a text search or a comparison of two              fields: MongoDB allows them at the top level of a filter only"
        ))),
    }
}
