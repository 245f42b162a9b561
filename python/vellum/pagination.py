"""Keyset ("cursor") pagination: ``await repo.paginate(filter, sort=..., after=token)``.

A page ends at a position in the sort order, and the next page starts strictly after it: the
filter of the next page asks for what sorts after the last document's sort values, with ``_id``
breaking ties. Unlike ``skip``, which counts documents again on every page, this stays stable
when documents are inserted or deleted between pages, and it costs the same on page 1 000 as on
page 1 when the sort keys are indexed.

The token is opaque to clients but not secret: it holds the last document's sort values, as
BSON in URL-safe base64. A token that was tampered with can only move the position; the values
in it are compared as values, never read as operators, and the query's filter still applies.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel

from ._bridge import decode_bson, encode_bson
from ._bridge.documents import sort_document
from .errors import PageTokenError, QueryError
from .query import QueryExpr, SortSpec

__all__ = ["Page"]

T = TypeVar("T")

MAX_LIMIT = 10_000
"""The most documents one page may ask for."""


class Page(BaseModel, Generic[T]):
    """One page of results: ``items``, and ``next_after``, the token that asks for the next page
    (None on the last page). A FastAPI route can return ``Page[User]`` as it is."""

    items: list[T]
    next_after: str | None = None


def sort_keys(sort: SortSpec | None) -> list[tuple[str, int]]:
    """The sort as (path, direction) pairs, ``_id`` last to break ties."""
    keys = list((sort_document(sort) or {}).items())
    if all(path != "_id" for path, _ in keys):
        keys.append(("_id", 1))
    return keys


def after_filter(keys: Sequence[tuple[str, int]], after: str) -> QueryExpr:
    """What sorts strictly after the position in ``after``, in the order of ``keys``."""
    values = _decode(after, keys)
    clauses: list[QueryExpr] = []
    ties: list[QueryExpr] = []
    try:
        for (path, direction), value in zip(keys, values, strict=True):
            beyond = _beyond(path, direction, value)
            if beyond is not None:
                clauses.append(QueryExpr.all_of([*ties, beyond]))
            ties.append(QueryExpr.compare(path, "$eq", value))
    except (QueryError, TypeError, ValueError) as e:
        raise PageTokenError(f"the page token holds a value that cannot be queried: {e}") from e
    return QueryExpr.any_of(clauses)


def _beyond(path: str, direction: int, value: Any) -> QueryExpr | None:
    # MongoDB sorts null (and a missing field) before every other value, and a range operator
    # never matches null: so after a value in descending order come the nulls too, and nothing
    # comes after null in descending order.
    if value is None:
        return QueryExpr.compare(path, "$ne", None) if direction == 1 else None
    if direction == 1:
        return QueryExpr.compare(path, "$gt", value)
    return QueryExpr.compare(path, "$lt", value) | QueryExpr.compare(path, "$eq", None)


def token(keys: Sequence[tuple[str, int]], last: BaseModel) -> str:
    """The token of the position of ``last``, the last document of a page."""
    stored = last.model_dump(by_alias=True)
    values = [_value_at(stored, path) for path, _ in keys]
    raw = encode_bson({"k": [[path, direction] for path, direction in keys], "v": values})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _value_at(stored: Mapping[str, Any], path: str) -> Any:
    value: Any = stored
    for part in path.split("."):
        if isinstance(value, list):
            raise _in_a_list(path)
        if not isinstance(value, Mapping):
            return None
        value = cast(Mapping[str, Any], value).get(part)
    if isinstance(value, list):
        raise _in_a_list(path)
    return value


def _in_a_list(path: str) -> QueryError:
    return QueryError(
        f"cannot paginate on {path!r}: it holds or reaches into a list, and MongoDB sorts a list "
        "by its smallest or largest element, which no position can follow. Sort on a field "
        "that holds one value"
    )


def _decode(after: str, keys: Sequence[tuple[str, int]]) -> list[Any]:
    if not isinstance(after, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise PageTokenError(f"a page token is a str, got {type(after).__name__}")
    try:
        raw = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4))
        decoded = decode_bson(raw)
    except (binascii.Error, ValueError, TypeError) as e:
        raise PageTokenError(
            "not a page token made by paginate(): ask for the first page (no after=)"
        ) from e
    made_for = decoded.get("k")
    values = decoded.get("v")
    if made_for != [[path, direction] for path, direction in keys]:
        raise PageTokenError(
            "this page token was made for another sort order: ask for the first page of this "
            "sort (no after=)"
        )
    if not isinstance(values, list) or len(values) != len(keys):  # pyright: ignore[reportUnknownArgumentType]
        raise PageTokenError("a damaged page token: ask for the first page (no after=)")
    return values  # pyright: ignore[reportUnknownVariableType]
