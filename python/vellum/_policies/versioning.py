"""Optimistic concurrency: a version counter that every write checks and increments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .._bridge import UpdateSpec
from ..errors import OptimisticLockError
from .base import Policy

if TYPE_CHECKING:
    from .._bridge.documents import Store, Written
    from ..query import Filter
    from ..session import Session

__all__ = ["Versioned", "Versioning"]


class Versioned(BaseModel):
    """Mixin for optimistic concurrency: every update and save filters on the version it
    started from and increments it; a concurrent change raises ``OptimisticLockError``.

    ``class Account(Versioned, VellumBaseModel): ...``
    """

    version: int = 1


(VERSION,) = Versioned.model_fields


class Versioning(Policy):
    """Inserts at version 1; each one-document write goes through the core's optimistic
    concurrency control (filter on the expected version, increment it, tell a conflict from a
    missing document); ``update_one``/``update_many`` increment the version."""

    __slots__ = ()
    fields = (VERSION,)
    settings = ("versioned",)

    @classmethod
    def of(cls, model: type[BaseModel], own: object) -> Versioning | None:
        if not (bool(getattr(own, "versioned", False)) or issubclass(model, Versioned)):
            return None
        if VERSION not in model.model_fields:
            raise TypeError(
                f"{model.__name__}.Settings.versioned needs a `{VERSION}: int = 1` field "
                "(or inherit vellum.Versioned)"
            )
        return cls()

    def prepare(self, documents: Sequence[BaseModel], now: datetime) -> None:
        for document in documents:
            vars(document)[VERSION] = 1
            document.__pydantic_fields_set__.add(VERSION)

    def operators(self, now: datetime) -> Sequence[UpdateSpec]:
        return (UpdateSpec("$inc", VERSION, 1),)

    async def write(
        self,
        store: Store,
        target: Filter,
        values: Mapping[str, Any],
        expected: int | None,
        session: Session | None,
    ) -> Written:
        return await store.versioned_set(target, values, expected, VERSION, session)

    @staticmethod
    def version_of(document: BaseModel) -> int:
        return int(getattr(document, VERSION))

    @staticmethod
    def conflict(document_id: Any, expected: int, written: Written) -> OptimisticLockError:
        """The error of a guarded write that matched nothing: another version is stored, the
        stored one has no usable version, or the document is gone."""
        return OptimisticLockError(
            document_id, expected, written.current_version, exists=written.exists
        )
