"""Soft delete: documents marked ``deleted_at`` are left out of reads unless asked for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from .._bridge import QueryExpr
from ..query import Filter
from .base import Policy

__all__ = ["SoftDeletable", "SoftDelete"]


class SoftDeletable(BaseModel):
    """Mixin for soft delete: ``repository.soft_delete(id)`` sets ``deleted_at`` and reads
    leave such documents out unless ``include_deleted=True``.

    ``class Account(SoftDeletable, VellumBaseModel): ...``
    """

    deleted_at: datetime | None = None


(DELETED_AT,) = SoftDeletable.model_fields
LIVE: dict[str, Any] = {DELETED_AT: None}


class SoftDelete(Policy):
    """Narrows reads and filtered writes to live documents (``deleted_at`` null or missing),
    unless ``include_deleted=True``; marks and unmarks documents."""

    __slots__ = ()
    fields = (DELETED_AT,)
    settings = ("soft_delete",)

    @classmethod
    def of(cls, model: type[BaseModel], own: object) -> SoftDelete | None:
        if not (bool(getattr(own, "soft_delete", False)) or issubclass(model, SoftDeletable)):
            return None
        if DELETED_AT not in model.model_fields:
            raise TypeError(
                f"{model.__name__}.Settings.soft_delete needs a `{DELETED_AT}: datetime | None "
                "= None` field (or inherit vellum.SoftDeletable)"
            )
        return cls()

    def scope(self, filter: Filter, include_deleted: bool) -> Filter:
        if include_deleted:
            return filter
        if isinstance(filter, QueryExpr):
            return filter & QueryExpr.compare(DELETED_AT, "$eq", None)
        if not filter:
            return dict(LIVE)
        return {"$and": [filter, dict(LIVE)]}

    @staticmethod
    def mark(now: datetime) -> dict[str, Any]:
        """The ``$set`` of a soft delete."""
        return {DELETED_AT: now}

    @staticmethod
    def unmark() -> tuple[dict[str, Any], dict[str, Any]]:
        """The filter of a deleted document and the ``$set`` that restores it."""
        return {DELETED_AT: {"$ne": None}}, {DELETED_AT: None}
