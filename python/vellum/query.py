"""Type-safe queries: ``Model.Q`` walks the model's fields and builds expressions that the Rust
core compiles to MongoDB filters and updates.

>>> (User.Q.age >= 18).to_filter()                                  # doctest: +SKIP
{'age': {'$gte': 18}}

Values are checked and coerced by the field's type before anything is compiled, and they are
never read as operators: ``User.Q.name == {"$ne": None}`` raises instead of matching every
document. That makes query building safe against operator injection from user input.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal

from pydantic import BaseModel
from typing_extensions import TypeVar

from ._bridge import QueryExpr, Regex, UpdateSpec
from ._field_values import FieldValues, collection
from ._fields import (
    TYPE_ALIASES,
    LinkField,
    link_of,
    list_element,
    nested_model,
    resolve,
    stored_names,
    strip_optional,
)
from .errors import QueryError

if TYPE_CHECKING:
    from .geo import Geometry, MultiPolygon, Point, Polygon

_NUMBERS = (int, float, Decimal)

__all__ = [
    "Filter",
    "QField",
    "QueryExpr",
    "QueryProxy",
    "SortKey",
    "SortSpec",
    "UpdateSpec",
    "json_schema",
    "nor",
    "raw",
    "text_search",
]


def nor(*expressions: QueryExpr) -> QueryExpr:
    """Matches documents that match none of the expressions (``$nor``)."""
    return QueryExpr.none_of(expressions)


def text_search(
    search: str,
    *,
    language: str | None = None,
    case_sensitive: bool | None = None,
    diacritic_sensitive: bool | None = None,
) -> QueryExpr:
    """Documents whose text index matches ``search`` (``$text``): words, ``"exact phrases"``
    and ``-excluded`` words, as MongoDB reads the string (it is never an operator). The
    collection needs a text index; combine it with other conditions with ``&``. Rank the
    results with ``repository.find_text``."""
    if not isinstance(search, str) or not search.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
        raise QueryError(f"text_search() takes the words to search, got {search!r}")
    return QueryExpr.text(search, language, case_sensitive, diacritic_sensitive)


MAX_SCHEMA_DEPTH = 32
"""How deeply ``json_schema`` follows a schema's nesting."""


def json_schema(schema: Mapping[str, Any]) -> QueryExpr:
    """Documents that satisfy a MongoDB ``$jsonSchema`` (``bsonType``, ``required``,
    ``properties``...): to find the documents that do not fit a schema, as ``~json_schema(s)``,
    before a migration or a validator. The schema is a value: none of its keys may start with
    ``$``."""
    _schema_keys(schema, 0)
    return QueryExpr.raw({"$jsonSchema": dict(schema)})


def _schema_keys(value: Any, depth: int) -> None:
    if depth > MAX_SCHEMA_DEPTH:
        raise QueryError(f"a $jsonSchema nests deeper than {MAX_SCHEMA_DEPTH} levels")
    if isinstance(value, Mapping):
        for key, inner in typing.cast("Mapping[Any, Any]", value).items():
            if not isinstance(key, str) or key.startswith("$"):
                raise QueryError(
                    f"a $jsonSchema keyword is a plain name (bsonType, properties...), got {key!r}"
                )
            _schema_keys(inner, depth + 1)
    elif isinstance(value, (list, tuple)):
        for inner in typing.cast("Sequence[Any]", value):
            _schema_keys(inner, depth + 1)


def raw(filter: Mapping[str, Any]) -> QueryExpr:
    """An explicit escape hatch: ``filter`` is sent as written, operators included. Never build
    it from user input."""
    return QueryExpr.raw(filter)


M = TypeVar("M", default=Any)
"""The model a sort key, filter or update is for (to a type checker; Any when untyped)."""


class SortKey(Generic[M]):
    """A sort key: ``User.Q.age.desc()``."""

    __slots__ = ("direction", "path")

    def __init__(self, path: str, direction: Literal[1, -1]) -> None:
        self.path = path
        self.direction = direction

    def __iter__(self) -> typing.Iterator[str | int]:
        return iter((self.path, self.direction))

    def __repr__(self) -> str:
        return f"SortKey({self.path!r}, {self.direction})"


Filter = Mapping[str, Any] | QueryExpr
"""A query expression (``User.Q.age >= 18``) or a raw filter dict (``{"age": {"$gte": 18}}``)."""

SortSpec = Sequence[tuple[str, int] | SortKey] | Mapping[str, int] | SortKey
"""``[User.Q.age.desc()]``, ``[("age", -1), ("name", 1)]`` or ``{"age": -1}``."""

if TYPE_CHECKING:
    from typing import TypeAlias

    FilterOf: TypeAlias = Mapping[str, Any] | QueryExpr[M]
    """A filter for ``M``'s repository: typed fields (``vellum typegen``) bind it to ``M``."""
    SortOf: TypeAlias = Sequence[tuple[str, int] | SortKey[M]] | Mapping[str, int] | SortKey[M]
    """A sort for ``M``'s repository."""

    from .typed import Field, Fields

    FieldRef: TypeAlias = "QField | Field[Any, Any] | Fields[Any]"
    """A field where a stage names one: ``Model.Q``'s, or a typed field of ``vellum typegen``."""


class QField(FieldValues):
    """One field of a model, reached through ``Model.Q``: compare it, sort on it, update it.

    Sub-fields of a nested model (or of a list of models) are attributes:
    ``User.Q.address.city``, ``User.Q.orders.qty``. A sub-field whose name clashes with a method
    here (``size``, ``set``...) is reached with ``Q.address["size"]``.
    """

    __slots__ = ()

    # -- walking --------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The stored (dotted) path, aliases applied: ``Q.id.path == "_id"``."""
        return self._path

    def __getattr__(self, name: str) -> QField:
        if name.startswith("__"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> QField:
        children: dict[str, QField] = self.__dict__.setdefault("_children", {})
        cached = children.get(name)
        if cached is not None:
            return cached
        link = link_of(self._annotation, self._field.metadata if self._field else ())
        if link is not None:
            field = self._across(link, name)
            children[name] = field
            return field
        model = nested_model(self._annotation)
        if model is None:
            raise AttributeError(f"{self._label} is not a model, so it has no field {name!r}")
        child = resolve(model, name, self._label)
        in_array = self._in_array or list_element(self._annotation) is not None
        field = QField(
            f"{self._path}.{child[0]}",
            f"{self._label}.{name}",
            child[1],
            child[2],
            in_array,
            frozenset(f"{self._path}.{stored}" for stored in stored_names(model)),
        )
        children[name] = field
        return field

    def _across(self, link: LinkField, name: str) -> QField:
        """A field of the linked document: ``id`` is the link's own stored id (no lookup);
        any other field is read through a ``$lookup`` of the target's collection."""
        target = link.target
        in_array = self._in_array or list_element(self._annotation) is not None
        if name in ("id", "_id"):
            info = target.model_fields["id"]
            return QField(
                link.id_path(self._path),
                f"{self._label}.id",
                info.annotation,
                info,
                in_array,
                frozenset(),
                self._lookups,
            )
        lookup = link.lookup(self._path)
        under = lookup[2]
        stored, annotation, info = resolve(target, name, self._label)
        return QField(
            f"{under}.{stored}",
            f"{self._label}.{name}",
            annotation,
            info,
            True,
            frozenset(f"{under}.{s}" for s in stored_names(target)),
            (*self._lookups, lookup),
        )

    # -- comparisons ------------------------------------------------------------------------

    # A field compared with another field of the same document (``Q.spent > Q.budget``)
    # compiles to ``$expr``; with a value, to the field's operator.

    def __eq__(self, value: object) -> QueryExpr:  # type: ignore[override]
        return self._either("$eq", value)

    def __ne__(self, value: object) -> QueryExpr:  # type: ignore[override]
        return self._either("$ne", value)

    def __gt__(self, value: Any) -> QueryExpr:
        return self._either("$gt", value)

    def __ge__(self, value: Any) -> QueryExpr:
        return self._either("$gte", value)

    def __lt__(self, value: Any) -> QueryExpr:
        return self._either("$lt", value)

    def __le__(self, value: Any) -> QueryExpr:
        return self._either("$lte", value)

    def _either(self, op: str, value: Any) -> QueryExpr:
        if not isinstance(value, QField):
            return self._compare(op, self._value(value))
        other = value
        if self._lookups or other._lookups:
            raise QueryError(
                f"{self._label} {op} {other._label}: a comparison of two fields reads the "
                "document's own fields only, not a linked document's"
            )
        return QueryExpr.fields(self._where, op, other._where)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        raise TypeError(f"{self._label} has no truth value; compare it: Q.x == value")

    def in_(self, values: Iterable[Any]) -> QueryExpr:
        """The field equals one of ``values`` (``$in``)."""
        return self._compare("$in", [self._value(v) for v in collection("in_", values)])

    def nin(self, values: Iterable[Any]) -> QueryExpr:
        """The field equals none of ``values`` (``$nin``)."""
        return self._compare("$nin", [self._value(v) for v in collection("nin", values)])

    def exists(self, present: bool = True) -> QueryExpr:
        """The field is present (or, with False, absent) in the stored document."""
        return self._compare("$exists", bool(present), at=self._path)

    def regex(self, pattern: str | re.Pattern[str], options: str = "") -> QueryExpr:
        """The string field matches ``pattern`` (``$regex``; options from ``imsxu``)."""
        if isinstance(pattern, re.Pattern):
            stored = Regex.from_pattern(pattern)  # its flags as MongoDB options, as stored
            options += stored.flags
            pattern = stored.pattern
        return QueryExpr.regex(self._path, pattern, options, self._lookups or None)

    def contains(self, value: Any) -> QueryExpr:
        """For a list field: it holds ``value``. For a str field: it contains the substring
        (matched literally: regex characters are escaped)."""
        if self._element_adapter is not None:
            return self._compare("$eq", self._element(value, compared=True))
        if not isinstance(value, str):
            raise QueryError(f"{self._label}.contains() takes a str, got {value!r}")
        return QueryExpr.regex(self._path, re.escape(value), "", self._lookups or None)

    def type_(self, *bson_types: str | int | type) -> QueryExpr:
        """The stored value has one of these BSON types (``"string"``, ``2``, or ``str``)."""
        names: list[str | int] = []
        for t in bson_types:
            if isinstance(t, type):
                if t not in TYPE_ALIASES:
                    raise QueryError(f"no BSON type for Python type {t.__name__}")
                names.extend(TYPE_ALIASES[t])
            else:
                names.append(t)
        if not names:
            raise QueryError("type_() needs at least one type")
        return self._compare("$type", names if len(names) > 1 else names[0], at=self._path)

    def size(self, length: int) -> QueryExpr:
        """The list field has exactly ``length`` elements (``$size``)."""
        if self._element_adapter is None:
            raise QueryError(f"{self._label} is not a list field; size() applies to lists")
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise QueryError(f"size() takes an int >= 0, got {length!r}")
        return self._compare("$size", length, at=self._path)

    def all_(self, values: Iterable[Any]) -> QueryExpr:
        """The list field holds every one of ``values`` (``$all``)."""
        return self._compare(
            "$all", [self._element(v, compared=True) for v in collection("all_", values)]
        )

    def elem_match(self, condition: QueryExpr) -> QueryExpr:
        """One element of the list field satisfies the whole condition (``$elemMatch``); paths
        in ``condition`` must lie under this field."""
        if self._element_adapter is None:
            raise QueryError(f"{self._label} is not a list field; elem_match() applies to lists")
        return QueryExpr.elem_match(self._path, condition, self._lookups or None)

    def stored_value(self, value: Any) -> Any:
        """A value stored in this field (or, for a list field, one of its elements), as the
        field's type gives it: how ``distinct`` returns values."""
        adapter = self._element_adapter or self._type_adapter
        try:
            return adapter.validate_python(value)
        except ValueError:
            return value  # stored before a change of type: as it is

    # -- numbers, bits and places --------------------------------------------------------

    def mod(self, divisor: int, remainder: int) -> QueryExpr:
        """The number divided by ``divisor`` leaves ``remainder`` (``$mod``)."""
        self._kind_of("mod()", _NUMBERS)
        for name, n in (("divisor", divisor), ("remainder", remainder)):
            if isinstance(n, bool) or not isinstance(n, int):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise QueryError(f"mod() takes an int {name}, got {n!r}")
        if divisor == 0:
            raise QueryError("mod() cannot divide by 0")
        return self._compare("$mod", [divisor, remainder])

    def bits_all_set(self, mask: int | bytes | Iterable[int]) -> QueryExpr:
        """Every bit of ``mask`` (an int, bytes, or bit positions) is 1 (``$bitsAllSet``)."""
        return self._bits("$bitsAllSet", mask)

    def bits_any_set(self, mask: int | bytes | Iterable[int]) -> QueryExpr:
        """Some bit of ``mask`` is 1 (``$bitsAnySet``)."""
        return self._bits("$bitsAnySet", mask)

    def bits_all_clear(self, mask: int | bytes | Iterable[int]) -> QueryExpr:
        """Every bit of ``mask`` is 0 (``$bitsAllClear``)."""
        return self._bits("$bitsAllClear", mask)

    def bits_any_clear(self, mask: int | bytes | Iterable[int]) -> QueryExpr:
        """Some bit of ``mask`` is 0 (``$bitsAnyClear``)."""
        return self._bits("$bitsAnyClear", mask)

    def _bits(self, op: str, mask: int | bytes | Iterable[int]) -> QueryExpr:
        self._kind_of(f"{op}", (int, bytes))
        if isinstance(mask, bool):
            raise QueryError(f"{op} takes a mask, not a bool")
        value: Any = mask if isinstance(mask, (int, bytes)) else list(mask)
        return self._compare(op, value, at=self._path)

    def near(
        self,
        point: Point | Mapping[str, Any],
        *,
        max_distance: float | None = None,
        min_distance: float | None = None,
        spherical: bool = False,
    ) -> QueryExpr:
        """Documents by distance from ``point``, nearest first, within ``max_distance`` (and
        beyond ``min_distance``) meters (``$near``; ``$nearSphere`` with ``spherical``). Needs a
        geospatial index on the field, and sorts the results itself: give no ``sort``."""
        op = "$nearSphere" if spherical else "$near"
        return self._geo(op, point, max_distance, min_distance)

    def geo_within(self, geometry: Polygon | MultiPolygon | Mapping[str, Any]) -> QueryExpr:
        """Geometries entirely inside ``geometry`` (``$geoWithin``)."""
        return self._geo("$geoWithin", geometry, None, None)

    def geo_intersects(self, geometry: Geometry | Mapping[str, Any]) -> QueryExpr:
        """Geometries that share a point with ``geometry`` (``$geoIntersects``)."""
        return self._geo("$geoIntersects", geometry, None, None)

    def _geo(
        self, op: str, geometry: Any, max_distance: float | None, min_distance: float | None
    ) -> QueryExpr:
        if isinstance(geometry, BaseModel):
            document: Any = geometry.model_dump(mode="json")
        elif isinstance(geometry, Mapping):
            document = dict(typing.cast("Mapping[str, Any]", geometry))
        else:
            raise QueryError(
                f"{op} takes a GeoJSON geometry (vellum.geo.Point, Polygon... or a dict), got "
                f"{geometry!r}"
            )
        return QueryExpr.geo(
            self._path, op, document, max_distance, min_distance, self._lookups or None
        )

    def _kind_of(self, what: str, kinds: tuple[type, ...]) -> None:
        """Refuses an operator on a field whose declared type it does not apply to."""
        element = list_element(self._annotation)
        options = strip_optional(element if element is not None else self._annotation)
        plain = [typing.get_args(o)[0] if typing.get_origin(o) is Annotated else o for o in options]
        if not any(
            isinstance(o, type) and issubclass(o, kinds) and not issubclass(o, bool) for o in plain
        ):
            *rest, last = [k.__name__ for k in kinds]
            names = f"{', '.join(rest)} or {last}" if rest else last
            raise QueryError(f"{what} applies to {names} fields; {self._label} is not one")

    # -- sorting ----------------------------------------------------------------------------

    def asc(self) -> SortKey:
        return SortKey(self._own("sort on"), 1)

    def desc(self) -> SortKey:
        return SortKey(self._own("sort on"), -1)

    # -- updates ----------------------------------------------------------------------------

    def set(self, value: Any) -> UpdateSpec:
        """``$set`` the field to ``value`` (checked against the field's type)."""
        return UpdateSpec(
            "$set", self._own("update"), self._check(self._adapter, value, self._type_name())
        )

    def unset(self) -> UpdateSpec:
        """``$unset`` the field. Refused for a required field: documents would stop validating."""
        if self._field is not None and self._field.is_required():
            raise QueryError(
                f"cannot unset {self._label}: it is required (no default), so stored documents "
                "would no longer validate"
            )
        return UpdateSpec("$unset", self._own("update"), "")

    def _number(self, operator: str, value: Any) -> UpdateSpec:
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise QueryError(f"{operator} on {self._label} takes a number, got {value!r}")
        # An amount or factor is not the field's value: its type counts, not the field's
        # constraints (``inc(-5)`` on a ``ge=0`` field is fine; guard the result with the filter).
        checked = self._check(self._adapter, value, self._type_name(), compared=True)
        return UpdateSpec(operator, self._own("update"), checked)

    def inc(self, amount: int | float | Decimal = 1) -> UpdateSpec:
        """``$inc`` the numeric field by ``amount``."""
        return self._number("$inc", amount)

    def mul(self, factor: int | float | Decimal) -> UpdateSpec:
        """``$mul`` the numeric field by ``factor``."""
        return self._number("$mul", factor)

    def min(self, value: Any) -> UpdateSpec:
        """Set the field to ``value`` if ``value`` is smaller (``$min``)."""
        return UpdateSpec(
            "$min", self._own("update"), self._check(self._adapter, value, self._type_name())
        )

    def max(self, value: Any) -> UpdateSpec:
        """Set the field to ``value`` if ``value`` is larger (``$max``)."""
        return UpdateSpec(
            "$max", self._own("update"), self._check(self._adapter, value, self._type_name())
        )

    def push(
        self, *values: Any, each: Iterable[Any] | None = None, slice: int | None = None
    ) -> UpdateSpec:
        """Append to the list field (``$push``); ``each=[...]`` appends several and ``slice=n``
        keeps the first n (or, negative, the last n) elements afterwards."""
        items = [self._element(v) for v in (*values, *(each or ()))]
        if slice is None and each is None and len(items) == 1:
            return UpdateSpec("$push", self._own("update"), items[0])
        if not items and slice is None:
            raise QueryError("push() needs a value")
        spec: dict[str, Any] = {"$each": items}
        if slice is not None:
            spec["$slice"] = int(slice)
        return UpdateSpec("$push", self._own("update"), spec)

    def add_to_set(self, *values: Any, each: Iterable[Any] | None = None) -> UpdateSpec:
        """Add to the list field unless already present (``$addToSet``, ``each=`` for several)."""
        items = [self._element(v) for v in (*values, *(each or ()))]
        if not items:
            raise QueryError("add_to_set() needs a value")
        if each is None and len(items) == 1:
            return UpdateSpec("$addToSet", self._own("update"), items[0])
        return UpdateSpec("$addToSet", self._own("update"), {"$each": items})

    def pull(self, value: Any) -> UpdateSpec:
        """Remove every element equal to ``value`` from the list field (``$pull``)."""
        return UpdateSpec("$pull", self._own("update"), self._element(value))

    def pop(self, first: bool = False) -> UpdateSpec:
        """Remove the last (or, with ``first=True``, the first) element (``$pop``)."""
        if self._element_adapter is None:
            raise QueryError(f"{self._label} is not a list field; pop() applies to lists")
        return UpdateSpec("$pop", self._own("update"), -1 if first else 1)

    def rename(self, new_name: str) -> UpdateSpec:
        """Rename the stored field (``$rename``), for migrations."""
        if not new_name or new_name.startswith("$"):
            raise QueryError(f"rename() needs a field name, got {new_name!r}")
        required = self._field is not None and self._field.is_required()
        if required and new_name in self._siblings and new_name != self._path:
            raise QueryError(
                f"rename() of {self._label} onto {new_name!r}, another field of the model, would "
                f"leave the required {self._path!r} missing from every document (so none of "
                "them would load); give it a default first, or rename it to a name the model "
                "does not declare"
            )
        return UpdateSpec("$rename", self._own("update"), new_name)

    def current_date(self) -> UpdateSpec:
        """Set the datetime field to the server's current time (``$currentDate``)."""
        if datetime not in strip_optional(self._annotation):
            raise QueryError(f"current_date() applies to datetime fields, not {self._label}")
        return UpdateSpec("$currentDate", self._own("update"), True)

    def __repr__(self) -> str:
        return f"QField({self._label} -> {self._path!r})"


class QueryProxy:
    """``Model.Q``: attribute access gives the model's fields as :class:`QField` objects."""

    __slots__ = ("_fields", "_model")

    def __init__(self, model: type[BaseModel]) -> None:
        self._model = model
        # One QField per name: each keeps its validators, built on first use (building one
        # costs far more than the query it checks).
        self._fields: dict[str, QField] = {}

    def __getattr__(self, name: str) -> QField:
        if name.startswith("__"):
            raise AttributeError(name)
        field = self._fields.get(name)
        if field is None:
            stored, annotation, info = resolve(self._model, name, self._model.__name__)
            field = QField(
                stored,
                f"{self._model.__name__}.{name}",
                annotation,
                info,
                False,
                frozenset(stored_names(self._model)),
            )
            self._fields[name] = field
        return field

    def __getitem__(self, name: str) -> QField:
        return self.__getattr__(name)

    def __repr__(self) -> str:
        return f"{self._model.__name__}.Q"
