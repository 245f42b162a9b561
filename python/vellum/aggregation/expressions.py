"""Pipeline expressions and accumulators: how ``Model.Q`` fields and Python values become the
arguments of aggregation stages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..errors import QueryError
from ..query import QField

if TYPE_CHECKING:
    from ..query import FieldRef

__all__ = ["Accumulator", "LiteralValue", "acc", "expr", "literal"]


class LiteralValue:
    """A value that a stage takes as itself, never as an expression: see :func:`literal`."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"literal({self.value!r})"


def literal(value: Any) -> LiteralValue:
    """``value`` as itself where a stage reads expressions (``$literal``).

    In ``project``, ``group``, ``add_fields``/``set``, ``replace_root``/``replace_with``,
    ``sort_by_count``, ``bucket``'s ``group_by`` and ``graph_lookup``'s ``start_with``, MongoDB
    reads values as expressions: a string starting with ``$`` is a field path and a dict with
    ``$`` keys is an operator. Wrap any value that comes from outside (user input) so that
    ``"$password"`` stays the string it is:
    ``pipeline.set(label=literal(user_label))``.
    """
    return LiteralValue(value)


MAX_DEPTH = 100
"""How deeply :func:`expr` follows dicts and lists (MongoDB's own nesting limit)."""


def expr(value: Any, depth: int = 0) -> Any:
    """A pipeline expression: ``Model.Q`` fields become ``"$path"``, :func:`literal` values
    ``{"$literal": value}``; lists and dicts are walked."""
    if depth > MAX_DEPTH:
        raise QueryError(
            f"a stage argument nests deeper than {MAX_DEPTH} levels (does a dict contain itself?)"
        )
    if isinstance(value, QField):
        return "$" + value.path
    if isinstance(value, LiteralValue):
        return {"$literal": value.value}
    if isinstance(value, Accumulator):
        return value.spec()
    if isinstance(value, Mapping):
        return {str(k): expr(v, depth + 1) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    if isinstance(value, (list, tuple)):
        return [expr(v, depth + 1) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def field_path(value: FieldRef | str) -> str:
    """A field path without ``$``: ``Q.orders.sku`` or ``"orders.sku"`` or ``"$orders.sku"``."""
    if isinstance(value, str):
        return value[1:] if value.startswith("$") else value
    return value.path  # Model.Q's field, or a typed one (the same object at run time)


class Accumulator:
    """A ``$group`` (or ``$bucket``) accumulator; build it with :data:`acc`."""

    __slots__ = ("argument", "operator")

    def __init__(self, operator: str, argument: Any) -> None:
        self.operator = operator
        self.argument = argument

    def spec(self) -> dict[str, Any]:
        return {self.operator: expr(self.argument)}

    def __repr__(self) -> str:
        return f"Accumulator({self.spec()!r})"


class _Accumulators:
    """Accumulators for ``group``: ``acc.sum(User.Q.balance)``, ``acc.count()``..."""

    @staticmethod
    def count() -> Accumulator:
        return Accumulator("$sum", 1)

    @staticmethod
    def sum(value: Any) -> Accumulator:
        return Accumulator("$sum", value)

    @staticmethod
    def avg(value: Any) -> Accumulator:
        return Accumulator("$avg", value)

    @staticmethod
    def min(value: Any) -> Accumulator:
        return Accumulator("$min", value)

    @staticmethod
    def max(value: Any) -> Accumulator:
        return Accumulator("$max", value)

    @staticmethod
    def first(value: Any) -> Accumulator:
        return Accumulator("$first", value)

    @staticmethod
    def last(value: Any) -> Accumulator:
        return Accumulator("$last", value)

    @staticmethod
    def push(value: Any) -> Accumulator:
        return Accumulator("$push", value)

    @staticmethod
    def add_to_set(value: Any) -> Accumulator:
        return Accumulator("$addToSet", value)

    @staticmethod
    def std_dev_pop(value: Any) -> Accumulator:
        return Accumulator("$stdDevPop", value)


acc = _Accumulators()


def accumulators(fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if not isinstance(value, Accumulator):
            raise TypeError(f"{name}= takes an accumulator such as acc.sum(...), got {value!r}")
        out[name] = value.spec()
    return out


def collection_of(source: type[BaseModel] | str) -> str:
    if isinstance(source, str):
        return source
    settings = getattr(source, "__vellum_settings__", None)
    if settings is None:
        raise TypeError(f"{source!r} is not a VellumBaseModel: pass a collection name")
    return settings.collection_name


def positive(what: str, n: int, *, allow_zero: bool = False) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0 or (n == 0 and not allow_zero):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError(
            f"{what} must be a {'non-negative' if allow_zero else 'positive'} int, got {n!r}"
        )
    return n
