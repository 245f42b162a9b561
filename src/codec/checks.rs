//! Constraints a read plan checks in the core, with Pydantic's own semantics.
//!
//! `vellum._plans` hands over only constraints whose meaning it recognised exactly in the
//! model's core schema; each check here mirrors the pydantic-core validator of that node. A
//! value that fails a check (or one whose result could depend on something the two sides may
//! not share, such as a NaN against a bound or a non-ASCII string against a Unicode class) sends
//! its document to Pydantic, which then reports the error in its own words.
//!
//! - int (`gt`, `ge`, `lt`, `le`, `multiple_of`): compared as integers.
//! - float (`gt`, `ge`, `lt`, `le`): compared as f64; a NaN is left to Pydantic (its releases
//!   have disagreed on NaN against a bound). `multiple_of` on floats is never planned: its
//!   rounding rule changed between releases.
//! - str (`min_length`, `max_length` in characters; `pattern`): a pattern for Pydantic's default
//!   engine is compiled with the same `regex` crate and matched with `is_match` (a search, as
//!   Pydantic does). Patterns whose result depends on Unicode tables (`\w`, `\d`, `\s`, `\b`,
//!   `\p{..}`, case-insensitive matching) are only evaluated on ASCII strings, where every table
//!   version agrees. A pattern for Python's `re` (a compiled `re.Pattern`, or
//!   `regex_engine='python-re'`) is matched by calling that pattern's own `search`.
//! - list (`min_length`, `max_length`): item counts.
//! - Literal of str/int/bool and Enum members by value ([`Choices`]): the stored value is looked
//!   up by its exact BSON type, and the expected object (the Literal's value, the enum member)
//!   is what the field gets, as in Pydantic.

use ahash::AHashMap;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString, PyType};
use pyo3::{PyTraverseError, PyVisit};
use regex::Regex;
use regex_syntax::ast::{self, Ast, ClassSetItem};

/// Numeric bounds; a check fails where Pydantic's comparison fails.
#[derive(Default)]
pub(super) struct Bounds<T> {
    gt: Option<T>,
    ge: Option<T>,
    lt: Option<T>,
    le: Option<T>,
}

impl<T: PartialOrd + Copy> Bounds<T> {
    fn holds(&self, v: T) -> bool {
        self.gt.is_none_or(|b| v > b)
            && self.ge.is_none_or(|b| v >= b)
            && self.lt.is_none_or(|b| v < b)
            && self.le.is_none_or(|b| v <= b)
    }

    fn any(&self) -> bool {
        self.gt.is_some() || self.ge.is_some() || self.lt.is_some() || self.le.is_some()
    }
}

/// `min_length`/`max_length` of a str (characters) or a list (items).
#[derive(Default)]
pub(super) struct Lengths {
    min: Option<usize>,
    max: Option<usize>,
}

impl Lengths {
    pub(super) fn holds(&self, len: usize) -> bool {
        self.min.is_none_or(|m| len >= m) && self.max.is_none_or(|m| len <= m)
    }

    fn any(&self) -> bool {
        self.min.is_some() || self.max.is_some()
    }
}

pub(super) enum Pattern {
    /// Pydantic's default engine: the same crate, matched with `is_match`. `tables`: the result
    /// may depend on the Unicode tables of the crate's version, so only ASCII input is matched.
    Rust { regex: Regex, tables: bool },
    /// Python's `re`: the compiled pattern's `search` method.
    Python(Py<PyAny>),
}

pub(super) enum Checks {
    None,
    Int {
        bounds: Bounds<i64>,
        multiple_of: Option<i64>,
    },
    Float(Bounds<f64>),
    Str {
        lengths: Lengths,
        pattern: Option<Box<Pattern>>,
    },
    List(Lengths),
}

/// What a checked value may still need once it is a Python object.
pub(super) enum Verdict<'c> {
    Fails,
    Passes,
    /// Passes if this Python `re` pattern's `search` finds a match in the decoded string.
    Search(&'c Py<PyAny>),
}

impl Checks {
    /// Parses the checks `vellum._plans` made for a field of `kind` (a dict, or None).
    pub(super) fn parse(kind: &str, checks: &Bound<'_, PyAny>) -> PyResult<Self> {
        if checks.is_none() {
            return Ok(Checks::None);
        }
        let checks = checks.cast::<PyDict>()?;
        let known: &[&str] = match kind {
            "int" | "float" => &["gt", "ge", "lt", "le", "multiple_of"],
            "str" => &["min_length", "max_length", "pattern", "search"],
            "list" => &["min_length", "max_length"],
            _ => &[],
        };
        for key in checks.keys() {
            let key: String = key.extract()?;
            if !known.contains(&key.as_str()) || (kind == "float" && key == "multiple_of") {
                return Err(PyValueError::new_err(format!(
                    "the core does not check {key:?} on {kind} fields"
                )));
            }
        }
        Ok(match kind {
            "int" => {
                let multiple_of: Option<i64> = get(checks, "multiple_of")?;
                if multiple_of.is_some_and(|m| m <= 0) {
                    return Err(PyValueError::new_err("multiple_of must be positive"));
                }
                Checks::Int {
                    bounds: bounds(checks)?,
                    multiple_of,
                }
            }
            "float" => Checks::Float(bounds(checks)?),
            "str" => Checks::Str {
                lengths: lengths(checks)?,
                pattern: pattern(checks)?.map(Box::new),
            },
            "list" => Checks::List(lengths(checks)?),
            _ => Checks::None,
        })
    }

    pub(super) fn int(&self, v: i64) -> bool {
        match self {
            Checks::Int {
                bounds,
                multiple_of,
            } => bounds.holds(v) && multiple_of.is_none_or(|m| v % m == 0),
            _ => true,
        }
    }

    pub(super) fn float(&self, v: f64) -> bool {
        match self {
            Checks::Float(bounds) => !(v.is_nan() && bounds.any()) && bounds.holds(v),
            _ => true,
        }
    }

    pub(super) fn str(&self, s: &str) -> Verdict<'_> {
        let Checks::Str { lengths, pattern } = self else {
            return Verdict::Passes;
        };
        if lengths.any() && !lengths.holds(s.chars().count()) {
            return Verdict::Fails;
        }
        match pattern.as_deref() {
            None => Verdict::Passes,
            Some(Pattern::Rust { regex, tables }) => {
                if (*tables && !s.is_ascii()) || !regex.is_match(s) {
                    Verdict::Fails
                } else {
                    Verdict::Passes
                }
            }
            Some(Pattern::Python(search)) => Verdict::Search(search),
        }
    }

    pub(super) fn list(&self, len: usize) -> bool {
        match self {
            Checks::List(lengths) => lengths.holds(len),
            _ => true,
        }
    }

    pub(super) fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Checks::Str { pattern, .. } = self {
            if let Some(Pattern::Python(search)) = pattern.as_deref() {
                visit.call(search)?;
            }
        }
        Ok(())
    }
}

fn get<'py, T: FromPyObjectOwned<'py>>(
    checks: &Bound<'py, PyDict>,
    key: &str,
) -> PyResult<Option<T>> {
    checks
        .get_item(key)?
        .map(|v| v.extract().map_err(Into::into))
        .transpose()
}

fn bounds<'py, T: FromPyObjectOwned<'py>>(checks: &Bound<'py, PyDict>) -> PyResult<Bounds<T>> {
    Ok(Bounds {
        gt: get(checks, "gt")?,
        ge: get(checks, "ge")?,
        lt: get(checks, "lt")?,
        le: get(checks, "le")?,
    })
}

fn lengths(checks: &Bound<'_, PyDict>) -> PyResult<Lengths> {
    Ok(Lengths {
        min: get(checks, "min_length")?,
        max: get(checks, "max_length")?,
    })
}

fn pattern(checks: &Bound<'_, PyDict>) -> PyResult<Option<Pattern>> {
    if let Some(search) = checks.get_item("search")? {
        if !search.is_callable() {
            return Err(PyTypeError::new_err(
                "search must be a compiled pattern's search",
            ));
        }
        return Ok(Some(Pattern::Python(search.unbind())));
    }
    let Some(source) = get::<String>(checks, "pattern")? else {
        return Ok(None);
    };
    // Pydantic compiles with `Regex::new` too; a pattern this crate refuses is not planned.
    let regex = Regex::new(&source)
        .map_err(|e| PyTypeError::new_err(format!("pattern {source:?}: {e}")))?;
    let tables = uses_unicode_tables(&source)
        .map_err(|e| PyTypeError::new_err(format!("pattern {source:?}: {e}")))?;
    Ok(Some(Pattern::Rust { regex, tables }))
}

/// Whether matching `pattern` consults Unicode tables, which differ between versions of the
/// regex crate: Unicode and Perl classes, word boundaries, case-insensitive matching. Only
/// ASCII input gives the same result under every version then. (The AST walk is the crate's
/// own, which uses a heap stack rather than recursion; the parser limits nesting.)
fn uses_unicode_tables(pattern: &str) -> Result<bool, Box<ast::Error>> {
    struct Tables(bool);
    impl ast::Visitor for Tables {
        type Output = bool;
        type Err = Box<ast::Error>;

        fn finish(self) -> Result<bool, Self::Err> {
            Ok(self.0)
        }

        fn visit_pre(&mut self, node: &Ast) -> Result<(), Self::Err> {
            self.0 |= match node {
                Ast::ClassUnicode(_) | Ast::ClassPerl(_) => true,
                Ast::Assertion(a) => !matches!(
                    a.kind,
                    ast::AssertionKind::StartLine
                        | ast::AssertionKind::EndLine
                        | ast::AssertionKind::StartText
                        | ast::AssertionKind::EndText
                ),
                Ast::Flags(set) => case_insensitive(&set.flags),
                Ast::Group(group) => match &group.kind {
                    ast::GroupKind::NonCapturing(flags) => case_insensitive(flags),
                    _ => false,
                },
                _ => false,
            };
            Ok(())
        }

        fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), Self::Err> {
            self.0 |= matches!(item, ClassSetItem::Unicode(_) | ClassSetItem::Perl(_));
            Ok(())
        }
    }
    fn case_insensitive(flags: &ast::Flags) -> bool {
        flags.items.iter().any(|item| {
            matches!(
                item.kind,
                ast::FlagsItemKind::Flag(ast::Flag::CaseInsensitive)
            )
        })
    }
    let parsed = ast::parse::Parser::new().parse(pattern).map_err(Box::new)?;
    ast::visit(&parsed, Tables(false))
}

/// A Literal's values or an Enum's members, looked up by the stored value's exact type: what
/// pydantic-core's literal lookup finds first for such an input.
pub(super) struct Choices {
    falsy: Option<Py<PyAny>>,
    truthy: Option<Py<PyAny>>,
    ints: AHashMap<i64, Py<PyAny>>,
    strs: AHashMap<String, Py<PyAny>>,
    /// The enum class (an instance of exactly it is what the write plan vouches for); None for
    /// a Literal, whose values are str, int or bool.
    pub(super) enum_cls: Option<Py<PyType>>,
}

impl Choices {
    /// `inner`: `(enum_class_or_None, [(value, result), ...])` with values of exactly str, int
    /// (within 64 bits) or bool.
    pub(super) fn parse(inner: &Bound<'_, PyAny>) -> PyResult<Self> {
        let (enum_cls, pairs): (Option<Bound<'_, PyType>>, Bound<'_, PyList>) = inner.extract()?;
        let mut choices = Choices {
            falsy: None,
            truthy: None,
            ints: AHashMap::new(),
            strs: AHashMap::new(),
            enum_cls: enum_cls.map(Bound::unbind),
        };
        for pair in pairs.iter() {
            let (value, result): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair.extract()?;
            let result = result.unbind();
            if value.is_exact_instance_of::<PyBool>() {
                if value.is_truthy()? {
                    choices.truthy = Some(result);
                } else {
                    choices.falsy = Some(result);
                }
            } else if value.is_exact_instance_of::<PyInt>() {
                choices.ints.insert(value.extract()?, result);
            } else if value.is_exact_instance_of::<PyString>() {
                choices.strs.insert(value.extract()?, result);
            } else {
                return Err(PyTypeError::new_err(format!(
                    "the core does not look up choices of type {}",
                    value.get_type().name()?
                )));
            }
        }
        Ok(choices)
    }

    pub(super) fn bool(&self, v: bool) -> Option<&Py<PyAny>> {
        if v {
            self.truthy.as_ref()
        } else {
            self.falsy.as_ref()
        }
    }

    pub(super) fn int(&self, v: i64) -> Option<&Py<PyAny>> {
        self.ints.get(&v)
    }

    pub(super) fn str(&self, v: &str) -> Option<&Py<PyAny>> {
        self.strs.get(v)
    }

    pub(super) fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        for found in [&self.falsy, &self.truthy].into_iter().flatten() {
            visit.call(found)?;
        }
        for found in self.ints.values().chain(self.strs.values()) {
            visit.call(found)?;
        }
        if let Some(cls) = &self.enum_cls {
            visit.call(cls)?;
        }
        Ok(())
    }
}
