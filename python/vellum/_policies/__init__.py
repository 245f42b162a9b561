"""A model's policies, composed: the repository calls each point once, on the policies that
take part in it. To add a concern, write its :class:`Policy` in a module of its own and add
its class to ``KINDS``; the order of ``KINDS`` is the order the policies run at each point."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from .base import Policy
from .lifecycle import Lifecycle
from .polymorphism import Polymorphism
from .schema_version import SchemaVersion
from .soft_delete import SoftDelete
from .timestamps import Timestamps
from .versioning import Versioning

if TYPE_CHECKING:
    from .._bridge import UpdateSpec
    from ..query import Filter
    from ..session import Session

__all__ = ["KINDS", "SETTINGS", "Policies", "Policy", "compose"]

P = TypeVar("P", bound=Policy)

KINDS: tuple[type[Policy], ...] = (
    Polymorphism,
    Timestamps,
    Versioning,
    SoftDelete,
    SchemaVersion,
    Lifecycle,
)
SETTINGS: tuple[str, ...] = tuple(name for kind in KINDS for name in kind.settings)
"""The ``Settings`` names the policies read."""


def _points(policies: Sequence[Policy], name: str) -> tuple[Callable[..., Any], ...]:
    """The bound ``name`` methods of the policies that override it."""
    default = getattr(Policy, name)
    return tuple(getattr(p, name) for p in policies if getattr(type(p), name) is not default)


class Policies:
    """The policies of one model, in ``KINDS`` order, with each point's participants found
    once."""

    __slots__ = (
        "_events",
        "_loaded",
        "_operators",
        "_prepare",
        "_scope",
        "_stamp",
        "all",
        "fields",
        "writer",
    )

    def __init__(self, policies: Sequence[Policy]) -> None:
        self.all = tuple(policies)
        self.fields = frozenset(field for policy in policies for field in policy.fields)
        self._scope = _points(policies, "scope")
        self._prepare = _points(policies, "prepare")
        self._stamp = _points(policies, "stamp")
        self._operators = _points(policies, "operators")
        self._loaded = _points(policies, "loaded")
        self._events: dict[str, tuple[Policy, ...]] = {}
        for policy in policies:
            for event in policy.events:
                self._events[event] = (*self._events.get(event, ()), policy)
        writers = [p for p in policies if type(p).write is not Policy.write]
        if len(writers) > 1:
            raise TypeError(f"two policies write documents themselves: {writers}")
        self.writer: Policy | None = writers[0] if writers else None

    def get(self, kind: type[P]) -> P | None:
        """The model's policy of this kind, if it uses the concern."""
        return next((p for p in self.all if isinstance(p, kind)), None)

    def scope(self, filter: Filter, include_deleted: bool) -> Filter:
        for scope in self._scope:
            filter = scope(filter, include_deleted)
        return filter

    def prepare(self, documents: Sequence[BaseModel], now: datetime) -> None:
        for prepare in self._prepare:
            prepare(documents, now)

    def stamp(self, values: dict[str, Any], now: datetime, whole: bool) -> dict[str, Any]:
        for stamp in self._stamp:
            stamp(values, now, whole)
        return values

    def operators(self, now: datetime) -> list[UpdateSpec]:
        return [spec for operators in self._operators for spec in operators(now)]

    @property
    def checks_loaded(self) -> bool:
        """Whether a policy checks documents as they are read."""
        return bool(self._loaded)

    def loaded(self, documents: Sequence[BaseModel]) -> None:
        for loaded in self._loaded:
            loaded(documents)

    def handles(self, event: str) -> bool:
        return event in self._events

    async def on(self, event: str, document: BaseModel, session: Session | None) -> None:
        for policy in self._events.get(event, ()):
            await policy.on(event, document, session)

    def __repr__(self) -> str:
        return f"Policies({', '.join(map(repr, self.all))})"


def compose(model: type[BaseModel], own: object) -> Policies:
    """The policies ``model`` uses, from its class and its own ``Settings`` (or None)."""
    return Policies([p for kind in KINDS if (p := kind.of(model, own)) is not None])
