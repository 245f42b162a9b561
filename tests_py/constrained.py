"""Generated constrained field types for the plan property tests.

Each generator draws an annotation with constraints the core may check (numeric bounds and
``multiple_of``, string lengths and patterns for either regex engine, list lengths, ``Literal``,
enums, ``X | None``, strict flags, ``Annotated`` metadata given through ``annotated_types``) and
returns it with a pool of values to store: values on both sides of each bound, of the right
type and of others. ``valid`` picks the pool values the annotation accepts as they are."""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import annotated_types as at
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

# Non-ASCII characters where Unicode tables matter: a letter, a sharp s, a Greek capital, an
# Arabic-Indic digit (\d in Unicode), the Kelvin sign and the long s (case-fold to k and s), a
# no-break space (\s in Unicode).
ODD = "éßΩ٣\u212aſ\u00a0"
WORDS = ["", "a", "ab", "abc", "Abc", "k", "K", "x y", "x1", "12", "_", "é", "ab٣", "Ωmega",
         "\u212a", "ſs", "a\u00a0b", "xxxxxxx", "ABAB", "-"]  # fmt: skip
# Patterns for Pydantic's default engine (the regex crate) and for Python's re; each list mixes
# patterns that consult Unicode tables with ones that do not.
RUST_PATTERNS = [r"^[a-z]+$", r"\d", r"^\w*$", "(?i)ab", r"^.{2}$", "é", r"\bx", r"^[^a]*$",
                 "[[:alpha:]]", r"\p{Greek}", r"^[A-Z][a-z]*$", "k", "(?i)k", r"\s",
                 "a|b|^$"]  # fmt: skip
PYTHON_PATTERNS = [r"^[a-z]+$", r"\d", r"^\w*$", "(?i)ab", r"^.{2}$", "é", r"\bx", "k"]
INT64 = (-(2**63), 2**63 - 1)


@dataclass
class Kind:
    annotation: Any
    pool: list[Any]  # stored values to try: valid ones and others

    def valid(self) -> list[Any]:
        """The pool values the annotation accepts unchanged in type (what a document holds)."""
        adapter: TypeAdapter[Any] = TypeAdapter(self.annotation)
        found: list[Any] = []
        for value in self.pool:
            try:
                result = adapter.validate_python(value)
            except ValidationError:
                continue
            if repr(_stored(result)) == repr(value) and not _is_nan(value):
                found.append(value)
        return found


def _stored(value: Any) -> Any:
    """A validated value as it is stored: enum members by value, models as dicts."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, BaseModel):
        return {name: _stored(v) for name, v in value.__dict__.items()}
    if isinstance(value, list):
        return [_stored(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


_counter = iter(range(10**9))
OTHERS = [None, True, False, 0, 1, -1, 2.0, 2.5, "", "1", "a", [], {}]


@st.composite
def ints(draw: st.DrawFn) -> Kind:
    low = draw(st.integers(-5, 5))
    high = low + draw(st.integers(0, 12))
    options: dict[str, Any] = {}
    if draw(st.booleans()):
        options["ge" if draw(st.booleans()) else "gt"] = low
    if draw(st.booleans()):
        options["le" if draw(st.booleans()) else "lt"] = high
    if draw(st.integers(0, 2)) == 0:
        options["multiple_of"] = draw(st.integers(1, 4))
    pool = [*range(low - 2, high + 3), *INT64, 2**40, -(2**40), *OTHERS]
    metadata: Any = Field(**options)
    if draw(st.booleans()) and "multiple_of" not in options:  # the annotated-types spelling
        metadata = at.Interval(**options)
    if draw(st.integers(0, 4)) == 0:
        return Kind(Annotated[int, metadata, Field(strict=True)], pool)
    return Kind(Annotated[int, metadata], pool)


@st.composite
def floats(draw: st.DrawFn) -> Kind:
    low = draw(st.sampled_from([-1.5, 0.0, 0.1, 1.0, 2.5]))
    high = low + draw(st.sampled_from([0.0, 0.5, 3.0, 1e9]))
    options: dict[str, Any] = {}
    if draw(st.booleans()):
        options["ge" if draw(st.booleans()) else "gt"] = low
    if draw(st.booleans()):
        options["le" if draw(st.booleans()) else "lt"] = high if draw(st.booleans()) else int(high)
    near = [math.nextafter(b, d) for b in (low, high) for d in (-math.inf, math.inf)]
    pool = [low, high, *near, 0.0, -0.0, 1e300, -1e300, math.inf, -math.inf, math.nan, *OTHERS]
    return Kind(Annotated[float, Field(**options)], pool)


@st.composite
def strs(draw: st.DrawFn, python_re: bool) -> Kind:
    options: dict[str, Any] = {}
    if draw(st.booleans()):
        options["min_length"] = draw(st.integers(0, 3))
    if draw(st.booleans()):
        options["max_length"] = options.get("min_length", 0) + draw(st.integers(0, 4))
    shape = draw(st.sampled_from(["none", "rust", "python", "compiled"]))
    if shape == "rust" and not python_re:
        options["pattern"] = draw(st.sampled_from(RUST_PATTERNS))
    elif shape in ("python", "rust"):
        options["pattern"] = draw(st.sampled_from(PYTHON_PATTERNS))
    elif shape == "compiled":
        flags = draw(st.sampled_from([0, re.IGNORECASE, re.ASCII]))
        options["pattern"] = re.compile(draw(st.sampled_from(PYTHON_PATTERNS)), flags)
    extra = draw(st.lists(st.text(alphabet="abkK1 _" + ODD, max_size=6), max_size=3))
    pool = [*WORDS, *extra, None, 1, 2.5, True, b"ab", ["a"]]
    if draw(st.booleans()) and "pattern" not in options:  # the annotated-types spelling
        low, high = options.get("min_length", 0), options.get("max_length")
        return Kind(Annotated[str, at.MinLen(low), at.MaxLen(high) if high else at.MinLen(0)], pool)
    return Kind(Annotated[str, Field(**options)], pool)


@st.composite
def literals(draw: st.DrawFn) -> Kind:
    choices = ["a", "b", "", "1", 0, 1, 2, -(2**63), True, False]
    values = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=4, unique_by=repr))
    return Kind(Literal[tuple(values)], [*choices, "c", 3, 2**63 - 1, 1.0, None])  # type: ignore[misc]


@st.composite
def enums(draw: st.DrawFn) -> Kind:
    shape = draw(st.sampled_from(["plain", "str", "int", "strict"]))
    name = f"Choice{next(_counter)}"
    values: list[Any]
    if shape == "str":
        values = draw(st.lists(st.sampled_from(["a", "b", "1", ""]), min_size=1, unique=True))
        cls: Any = enum.Enum(name, {f"M{i}": v for i, v in enumerate(values)}, type=str)
    elif shape == "int":
        values = draw(st.lists(st.integers(-2, 3), min_size=1, unique=True))
        cls = enum.IntEnum(name, {f"M{i}": v for i, v in enumerate(values)})
    else:
        values = draw(
            st.lists(st.sampled_from(["a", "b", "1", 0, 1, 2]), min_size=1, unique_by=repr)
        )
        cls = enum.Enum(name, {f"M{i}": v for i, v in enumerate(values)})
    pool = ["a", "b", "c", "1", "", -2, 0, 1, 2, 3, 9, True, False, 1.0, None]
    if shape == "strict":
        return Kind(Annotated[cls, Field(strict=True)], pool)
    return Kind(cls, pool)


@st.composite
def lists(draw: st.DrawFn, python_re: bool) -> Kind:
    item = draw(st.one_of(ints(), strs(python_re), literals()))
    options: dict[str, Any] = {}
    if draw(st.booleans()):
        options["min_length"] = draw(st.integers(0, 2))
    if draw(st.booleans()):
        options["max_length"] = options.get("min_length", 0) + draw(st.integers(0, 2))
    sample = item.valid() or item.pool
    pool = [sample[:n] for n in range(4)] + [[x] for x in item.pool[:6]] + [None, "a", 1]
    return Kind(Annotated[list[item.annotation], Field(**options)], pool)  # type: ignore[name-defined]


@st.composite
def constrained(draw: st.DrawFn, python_re: bool = False, depth: int = 0) -> Kind:
    """One constrained field type; ``python_re``: the model's config selects Python's re, so
    string patterns are drawn from those both engines read alike."""
    makers: list[Callable[[], st.SearchStrategy[Kind]]] = [
        ints, floats, lambda: strs(python_re), literals, enums, lambda: lists(python_re)
    ]  # fmt: skip
    if depth < 1:
        makers.append(lambda: nested(python_re, depth + 1))
    kind = draw(st.sampled_from(makers).flatmap(lambda make: make()))
    if draw(st.integers(0, 3)) == 0:
        return Kind(kind.annotation | None, [*kind.pool, None])
    return kind


@st.composite
def nested(draw: st.DrawFn, python_re: bool, depth: int) -> Kind:
    model, kinds = draw(constrained_models(BaseModel, depth))
    valid = {key: kind.valid() for key, kind in kinds.items()}
    first = {key: values[0] for key, values in valid.items() if values}
    pool: list[Any] = [first, {}, None, "x"]
    for key, kind in kinds.items():
        pool += [first | {key: value} for value in kind.pool[:8]]
    return Kind(model, pool)


@st.composite
def constrained_models(
    draw: st.DrawFn, base: type[BaseModel], depth: int = 0
) -> tuple[type[BaseModel], dict[str, Kind]]:
    """A model class of 1-4 constrained fields under a drawn config, and each field's kind by
    its stored key."""
    config = ConfigDict()
    if draw(st.integers(0, 3)) == 0:
        config["str_max_length"] = draw(st.integers(1, 5))
    python_re = draw(st.integers(0, 3)) == 0
    if python_re:
        config["regex_engine"] = "python-re"
    if draw(st.integers(0, 7)) == 0:
        config["strict"] = True
    kinds = {f"f{i}": draw(constrained(python_re, depth)) for i in range(draw(st.integers(1, 4)))}
    fields: dict[str, Any] = {key: (kind.annotation, ...) for key, kind in kinds.items()}
    configured = type(f"Configured{next(_counter)}", (base,), {"model_config": config})
    # Its own name: a VellumBaseModel subclass is stored in a collection named after it.
    model = create_model(f"Constrained{next(_counter)}", __base__=configured, **fields)  # type: ignore[call-overload]
    return model, kinds
