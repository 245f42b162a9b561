"""How a ``Model.Q`` field checks the values given to it (private module): of the field's
type, with its constraints for what updates write and without them for what filters compare,
element by element for list fields."""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from ._bridge import QueryExpr
from ._fields import Lookup, link_of, list_element
from .errors import QueryError
from .links import Link

__all__ = ["FieldValues", "collection"]


# Pydantic's error types for a value of the right type that breaks a constraint.
_CONSTRAINT_ERRORS = frozenset(
    {
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "multiple_of",
        "too_short",
        "too_long",
        "string_too_short",
        "string_too_long",
        "string_pattern_mismatch",
        "decimal_max_digits",
        "decimal_max_places",
        "decimal_whole_digits",
    }
)


class FieldValues:
    """A field's place in its model and the checks of the values given to it; the operators
    are :class:`~vellum.QField`'s."""

    __slots__ = (
        "__dict__",
        "_annotation",
        "_field",
        "_id_path",
        "_in_array",
        "_label",
        "_lookups",
        "_path",
        "_siblings",
    )

    def __init__(
        self,
        path: str,
        label: str,
        annotation: Any,
        field: FieldInfo | None,
        in_array: bool,
        siblings: frozenset[str] = frozenset(),
        lookups: tuple[Lookup, ...] = (),
    ) -> None:
        self._path = path
        self._label = label
        self._annotation = annotation
        self._field = field
        self._in_array = in_array
        self._siblings = siblings  # the stored paths of the other fields at this level
        # The $lookup stages a filter on this field needs (a field of a linked document).
        self._lookups = lookups
        # For a link field: where its target's id is stored (``author``, ``author.$id``).
        found = link_of(annotation, field.metadata if field is not None else ())
        self._id_path: str | None = None if found is None else found.id_path(path)

    # -- where ------------------------------------------------------------------------------

    @property
    def _where(self) -> str:
        """The path comparisons use: a link field compares its target's id."""
        return self._id_path or self._path

    def _compare(self, op: str, value: Any, *, at: str | None = None) -> QueryExpr:
        return QueryExpr.compare(at or self._where, op, value, self._lookups or None)

    def _own(self, what: str) -> str:
        """The path of an update or sort, which only the collection's own fields take."""
        if self._lookups:
            raise QueryError(
                f"{self._label} is a field of a linked document: filters can read it, but "
                f"{what} it only through its own model's repository"
            )
        return self._where if what == "sort on" else self._path

    # -- values -----------------------------------------------------------------------------

    @cached_property
    def _adapter(self) -> TypeAdapter[Any]:
        # The field's constraints (ge=0, max_length...) apply to the values updates write; for
        # values a filter compares, only the type counts (see _check).
        if self._field is not None and self._field.metadata:
            return TypeAdapter(Annotated[(self._annotation, *self._field.metadata)])  # pyright: ignore[reportInvalidTypeArguments]
        return TypeAdapter(self._annotation)

    @cached_property
    def _element_adapter(self) -> TypeAdapter[Any] | None:
        element = list_element(self._annotation)
        return None if element is None else TypeAdapter(element)

    def _check(
        self, adapter: TypeAdapter[Any], value: Any, what: str, *, compared: bool = False
    ) -> Any:
        """``value`` as the field's type gives it. A value a filter compares (``compared``) is
        checked by type only: ``Q.year < 5000`` is a fine question about a field declared
        ``le=3000`` (and finds documents stored before the constraint), so a failure that is
        only a constraint is retried without the field's constraints."""
        try:
            valid = adapter.validate_python(value)
        except ValidationError as err:
            errors = err.errors()
            if compared and all(e["type"] in _CONSTRAINT_ERRORS for e in errors):
                return self._check(self._type_adapter, value, what)
            raise QueryError(
                f"{self._label} expects {what}: {value!r} does not fit ({errors[0]['msg']})"
            ) from None
        if self._id_path is not None and compared:
            return _link_ids(valid)
        return adapter.dump_python(valid, mode="python", by_alias=True)

    @cached_property
    def _type_adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self._annotation)

    def _value(self, value: Any) -> Any:
        """A value compared with this field: of the field's type, or for a list field, of its
        elements (MongoDB matches arrays that contain it)."""
        if isinstance(value, (QueryExpr, FieldValues)):
            raise QueryError(f"compare {self._label} with a value, not with {value!r}")
        element = self._element_adapter
        if element is not None and not isinstance(value, (list, tuple, set)):
            return self._check(element, value, f"an element of {self._type_name()}", compared=True)
        return self._check(self._adapter, value, self._type_name(), compared=True)

    def _element(self, value: Any, *, compared: bool = False) -> Any:
        element = self._element_adapter
        if element is None:
            raise QueryError(f"{self._label} is not a list field ({self._type_name()})")
        return self._check(element, value, f"an element of {self._type_name()}", compared=compared)

    def _type_name(self) -> str:
        return getattr(self._annotation, "__name__", None) or repr(self._annotation)


def _link_ids(value: Any) -> Any:
    """What a link field is compared by: its target's id (lists: element by element)."""
    if isinstance(value, Link):
        return typing.cast("Link[Any]", value).id
    if isinstance(value, list):
        return [_link_ids(item) for item in typing.cast("list[Any]", value)]
    return value


def collection(method: str, values: Iterable[Any]) -> Iterable[Any]:
    """A collection of values; a str, bytes or mapping is refused (``in_("abc")`` would
    otherwise mean ``$in: ["a", "b", "c"]``)."""
    shown: object = values
    if isinstance(shown, (str, bytes, Mapping)):
        raise QueryError(
            f"{method}() takes a collection of values, such as {method}([{shown!r}]); "
            f"got the {type(values).__name__} {values!r}"
        )
    return values
