"""Typed query fields: what ``vellum typegen`` writes a model's ``Q`` as, so that pyright checks
queries without a plugin.

A generated module (see :mod:`vellum.typegen`) declares, for each model, a class whose attributes
are the model's fields, typed with the classes below, and gives the model's run-time ``Q`` that
type:

>>> from app.models_q import BookQ                       # doctest: +SKIP
>>> await books.find(BookQ.year > 2000)                   # doctest: +SKIP

Nothing here exists at run time beyond names for annotations: ``BookQ`` *is* ``Book.Q``, whose
fields check values when the query is built, as always. To pyright, a field has the operators
its type makes sense for (``regex`` on strings, ``inc`` on numbers, ``push`` and ``size`` on
lists), takes values of its type, and builds filters, updates and sort keys bound to its model
(``QueryExpr[Book]``, ``UpdateSpec[Book]``, ``SortKey[Book]``): a filter built from another
model's fields, an update passed as a filter, or a value of the wrong type is an error before
the code runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeAlias

from typing_extensions import TypeVar

__all__ = [
    "Field",
    "Fields",
    "GeoField",
    "ListField",
    "NumberField",
    "OrderedField",
    "StrField",
]

M = TypeVar("M")
"""The model a field belongs to, and so the model its filters, updates and sorts are for."""
T = TypeVar("T")
"""The field's value type (for a list field: its elements')."""

if TYPE_CHECKING:
    from decimal import Decimal

    from ._bridge import QueryExpr, UpdateSpec
    from .geo import Geometry, MultiPolygon, Point, Polygon
    from .query import SortKey

    # Filters, updates and sort keys bound to M: at run time QueryExpr, UpdateSpec, SortKey.
    Where: TypeAlias = QueryExpr[M]
    Update: TypeAlias = UpdateSpec[M]
    Sort: TypeAlias = SortKey[M]


class Fields(Generic[M]):
    """The fields of a model (or of an embedded model) reached from ``M``'s ``Q``; generated
    subclasses declare them as attributes."""

    if TYPE_CHECKING:

        @property
        def path(self) -> str: ...


class Field(Generic[M, T]):
    """A field of value type ``T`` in ``M``'s documents: equality, membership, presence,
    sorting, and the updates every field takes."""

    if TYPE_CHECKING:

        @property
        def path(self) -> str: ...

        # Comparisons build filters; pyright checks the value against T.
        def __eq__(self, value: T | Field[M, T]) -> Where[M]: ...  # type: ignore[override]
        def __ne__(self, value: T | Field[M, T]) -> Where[M]: ...  # type: ignore[override]
        def in_(self, values: Iterable[T]) -> Where[M]: ...
        def nin(self, values: Iterable[T]) -> Where[M]: ...
        def exists(self, present: bool = True) -> Where[M]: ...
        def type_(self, *bson_types: str | int | type) -> Where[M]: ...

        def asc(self) -> Sort[M]: ...
        def desc(self) -> Sort[M]: ...

        def set(self, value: T) -> Update[M]: ...
        def unset(self) -> Update[M]: ...
        def rename(self, new_name: str) -> Update[M]: ...


class OrderedField(Field[M, T]):
    """A field whose values are ordered (numbers, strings, dates, ids): ranges, ``min``/``max``."""

    if TYPE_CHECKING:
        # Another field of the same document compares too (``$expr``).
        def __gt__(self, value: T | OrderedField[M, T]) -> Where[M]: ...
        def __ge__(self, value: T | OrderedField[M, T]) -> Where[M]: ...
        def __lt__(self, value: T | OrderedField[M, T]) -> Where[M]: ...
        def __le__(self, value: T | OrderedField[M, T]) -> Where[M]: ...
        def min(self, value: T) -> Update[M]: ...
        def max(self, value: T) -> Update[M]: ...
        def current_date(self) -> Update[M]: ...


class StrField(OrderedField[M, T]):
    """A string field: pattern matching and substrings too."""

    if TYPE_CHECKING:

        def regex(self, pattern: str | re.Pattern[str], options: str = "") -> Where[M]: ...
        def contains(self, value: str) -> Where[M]: ...


class NumberField(OrderedField[M, T]):
    """A numeric field: arithmetic updates too."""

    if TYPE_CHECKING:

        def inc(self, amount: int | float | Decimal = 1) -> Update[M]: ...
        def mul(self, factor: int | float | Decimal) -> Update[M]: ...
        def mod(self, divisor: int, remainder: int) -> Where[M]: ...
        def bits_all_set(self, mask: int | bytes | Iterable[int]) -> Where[M]: ...
        def bits_any_set(self, mask: int | bytes | Iterable[int]) -> Where[M]: ...
        def bits_all_clear(self, mask: int | bytes | Iterable[int]) -> Where[M]: ...
        def bits_any_clear(self, mask: int | bytes | Iterable[int]) -> Where[M]: ...


class GeoField(Field[M, T]):
    """A GeoJSON field (``vellum.geo``): geospatial queries."""

    if TYPE_CHECKING:

        def near(
            self,
            point: Point | Mapping[str, Any],
            *,
            max_distance: float | None = None,
            min_distance: float | None = None,
            spherical: bool = False,
        ) -> Where[M]: ...
        def geo_within(self, geometry: Polygon | MultiPolygon | Mapping[str, Any]) -> Where[M]: ...
        def geo_intersects(self, geometry: Geometry | Mapping[str, Any]) -> Where[M]: ...


class ListField(Field[M, "list[T]"], Generic[M, T]):
    """A list field of element type ``T``: element tests and array updates."""

    if TYPE_CHECKING:

        def contains(self, value: T) -> Where[M]: ...
        def all_(self, values: Iterable[T]) -> Where[M]: ...
        def size(self, length: int) -> Where[M]: ...
        def elem_match(self, condition: Where[M]) -> Where[M]: ...
        def push(
            self, *values: T, each: Iterable[T] | None = None, slice: int | None = None
        ) -> Update[M]: ...
        def add_to_set(self, *values: T, each: Iterable[T] | None = None) -> Update[M]: ...
        def pull(self, value: T) -> Update[M]: ...
        def pop(self, first: bool = False) -> Update[M]: ...
