"""The policy interface: what a cross-cutting concern of a repository may do, and when.

A policy is a small object resolved once per model from its class and ``Settings``. The
repository calls it at fixed points of a read or a write; every point does nothing unless the
policy overrides it, and the composition (:class:`vellum._policies.Policies`) calls a point
only on the policies that override it, so a concern costs nothing for models without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .._bridge import UpdateSpec
    from .._bridge.documents import Store, Written
    from ..query import Filter
    from ..session import Session

__all__ = ["Policy"]


class Policy:
    """One concern of a model's repository. Points, in the order a write meets them:

    - ``scope(filter, include_deleted)``: narrows the filter of every read and filtered write
      (and the start of an aggregation) to the documents the concern lets the caller see.
    - ``on(event, document, session)`` for the ``before_*`` events of ``events``: runs before
      an insert, update or delete; may change the document or raise to cancel the write.
    - ``prepare(documents, now)``: fills the fields the concern manages in documents about to
      be inserted, in place.
    - ``stamp(values, now, whole)``: adds to the ``$set`` values of a one-document write:
      ``whole`` for ``save`` (every field of the model), partial for ``update``,
      ``soft_delete`` and ``restore``.
    - ``operators(now)``: update operators added to ``update_one``/``update_many``.
    - ``write(store, target, values, expected, session)``: performs a one-document write; at
      most one policy (optimistic concurrency) takes it over from the plain ``$set``.
    - ``on(event, document, session)`` for the ``after_*`` events: runs after the write
      succeeded.
    - ``loaded(documents)``: checks documents just read, before the ``on_fetch`` event.

    ``skip_hooks=True`` on a repository method skips the events, not the other points.

    ``fields`` are the stored names the concern manages: ``update()`` and ``Model.Q`` updates
    cannot set them. ``settings`` are the ``Settings`` names it reads, so an unknown name can be
    refused when the model is defined.
    """

    __slots__ = ()

    fields: ClassVar[tuple[str, ...]] = ()
    settings: ClassVar[tuple[str, ...]] = ()
    events: frozenset[str] = frozenset()

    @classmethod
    def of(cls, model: type[BaseModel], own: object) -> Policy | None:
        """The policy for ``model`` (whose own ``Settings`` class is ``own``, or None), or None
        when the model does not use the concern; raises ``TypeError`` for a wrong setting."""
        return None

    def scope(self, filter: Filter, include_deleted: bool) -> Filter:
        return filter

    def prepare(self, documents: Sequence[BaseModel], now: datetime) -> None:
        return None

    def stamp(self, values: dict[str, Any], now: datetime, whole: bool) -> None:
        return None

    def operators(self, now: datetime) -> Sequence[UpdateSpec]:
        return ()

    async def write(
        self,
        store: Store,
        target: Filter,
        values: Mapping[str, Any],
        expected: int | None,
        session: Session | None,
    ) -> Written:
        raise NotImplementedError

    async def on(self, event: str, document: BaseModel, session: Session | None) -> None:
        return None

    def loaded(self, documents: Sequence[BaseModel]) -> None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
