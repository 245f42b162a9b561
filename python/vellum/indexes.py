"""Index declarations and how they compare with what the server has."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import IndexConflictError

if TYPE_CHECKING:
    from ._bridge.documents import Store
    from .session import Session

__all__ = ["ASCENDING", "DESCENDING", "Index"]

ASCENDING = 1
DESCENDING = -1

IndexDirection = int | str
"""1, -1, or a special index type such as ``"text"``, ``"2dsphere"``, ``"hashed"``."""

# The options that make two index definitions differ. Others (the server's "v", "ns"...) are
# bookkeeping and are ignored when comparing.
_COMPARED = ("key", "unique", "sparse", "partialFilterExpression", "expireAfterSeconds")
_FALSE_BY_DEFAULT = ("unique", "sparse")


class Index:
    """A MongoDB index, declared in a model's ``Settings.indexes``.

    >>> Index("email", unique=True).spec()
    {'key': {'email': 1}, 'name': 'email_1', 'unique': True}
    >>> Index([("age", -1), ("name", 1)]).name
    'age_-1_name_1'
    """

    __slots__ = (
        "expire_after_seconds",
        "keys",
        "name",
        "partial_filter_expression",
        "sparse",
        "unique",
    )

    def __init__(
        self,
        keys: str | Sequence[tuple[str, IndexDirection]],
        *,
        name: str | None = None,
        unique: bool = False,
        sparse: bool = False,
        partial_filter_expression: Mapping[str, Any] | None = None,
        expire_after_seconds: int | None = None,
    ) -> None:
        if isinstance(keys, str):
            pairs: list[tuple[str, IndexDirection]] = [(keys, ASCENDING)]
        else:
            pairs = [(str(field), direction) for field, direction in keys]
        if not pairs:
            raise ValueError("an Index needs at least one key")
        for field, direction in pairs:
            if isinstance(direction, bool) or not isinstance(direction, (int, str)):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise TypeError(
                    f"index direction for {field!r} must be 1, -1 or an index type such as "
                    f"'text', got {direction!r}"
                )
            if isinstance(direction, int) and direction not in (1, -1):
                raise ValueError(f"index direction for {field!r} must be 1 or -1, got {direction}")
        if expire_after_seconds is not None and expire_after_seconds < 0:
            raise ValueError("expire_after_seconds must be >= 0")
        self.keys: tuple[tuple[str, IndexDirection], ...] = tuple(pairs)
        self.name: str = name or "_".join(f"{field}_{direction}" for field, direction in pairs)
        self.unique = unique
        self.sparse = sparse
        self.partial_filter_expression = (
            dict(partial_filter_expression) if partial_filter_expression is not None else None
        )
        self.expire_after_seconds = expire_after_seconds

    def spec(self) -> dict[str, Any]:
        """The ``createIndexes`` spec of this index."""
        spec: dict[str, Any] = {"key": dict(self.keys), "name": self.name}
        if self.unique:
            spec["unique"] = True
        if self.sparse:
            spec["sparse"] = True
        if self.partial_filter_expression is not None:
            spec["partialFilterExpression"] = self.partial_filter_expression
        if self.expire_after_seconds is not None:
            spec["expireAfterSeconds"] = self.expire_after_seconds
        return spec

    def __repr__(self) -> str:
        return f"Index({self.spec()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Index) and self.spec() == other.spec()

    def __hash__(self) -> int:
        return hash(repr(self))


def comparable(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an index spec that matter, normalised so that a server's listing and a
    declaration compare equal when they define the same index."""
    out: dict[str, Any] = {}
    for option in _COMPARED:
        if option not in spec:
            continue
        value = spec[option]
        if option in _FALSE_BY_DEFAULT and not value:
            continue
        if option == "key":
            # Servers may list 1.0 or Int64(1) for 1; compare directions as numbers.
            value = [
                (k, int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                for k, v in dict(value).items()
            ]
        elif option == "expireAfterSeconds":
            value = int(value)
        out[option] = value
    return out


def public_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """An index as the server lists it, without its bookkeeping options."""
    return {"name": spec.get("name"), **comparable(spec)}


async def ensure_indexes(
    store: Store, declared: Sequence[Index], session: Session | None
) -> list[str]:
    """Creates the ``declared`` indexes the collection lacks; returns their names. An existing
    index with the same name or keys but other options is an :class:`IndexConflictError`."""
    existing = await store.list_indexes(session)
    missing: list[Index] = []
    for index in declared:
        wanted = comparable(index.spec())
        match = next(
            (
                spec
                for spec in existing
                if spec.get("name") == index.name or comparable(spec).get("key") == wanted["key"]
            ),
            None,
        )
        if match is None:
            missing.append(index)
        elif comparable(match) != wanted or match.get("name") != index.name:
            raise IndexConflictError(store.name, index.spec(), public_spec(match))
    if missing:
        await store.create_indexes((index.spec() for index in missing), session)
    return [index.name for index in missing]
