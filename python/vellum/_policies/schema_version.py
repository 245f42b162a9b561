"""Schema versions: each document records the version of its model's schema that wrote it
whole, so a migration can find the documents it has yet to upgrade and old code can refuse
documents written by a newer schema."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from ..errors import DocumentValidationError
from .base import Policy

__all__ = ["SchemaVersion", "SchemaVersioned"]


class SchemaVersioned(BaseModel):
    """Mixin for schema versions, with ``Settings.schema_version = N`` (a positive int):
    inserts and ``save()`` store ``N`` in ``schema_version``; partial updates (``update``,
    ``update_one``/``update_many``) leave it as stored, since they do not rewrite the rest of the
    document. A stored document without the field reads as version 0; one with a version above
    ``N`` (written by newer code) raises :class:`~vellum.DocumentValidationError` when read.

    ``class Account(SchemaVersioned, VellumBaseModel): class Settings: schema_version = 2``
    """

    schema_version: int = 0


(SCHEMA_VERSION,) = SchemaVersioned.model_fields


class SchemaVersion(Policy):
    """Stamps the model's schema version on whole writes and refuses newer documents on reads."""

    __slots__ = ("current",)
    fields = (SCHEMA_VERSION,)
    settings = (SCHEMA_VERSION,)

    def __init__(self, current: int) -> None:
        self.current = current

    @classmethod
    def of(cls, model: type[BaseModel], own: object) -> SchemaVersion | None:
        current: Any = getattr(own, SCHEMA_VERSION, None)
        if current is None:
            # A subclass without a Settings of its own keeps its parent's version.
            inherited = getattr(model, "__vellum_settings__", None)
            parent = None if inherited is None else inherited.policies.get(cls)
            if parent is None and issubclass(model, SchemaVersioned):
                raise TypeError(
                    f"{model.__name__} inherits vellum.SchemaVersioned: set "
                    f"`{SCHEMA_VERSION} = N` (a positive int) in its Settings"
                )
            return parent
        if isinstance(current, bool) or not isinstance(current, int) or current < 1:
            raise TypeError(
                f"{model.__name__}.Settings.{SCHEMA_VERSION} must be a positive int, "
                f"got {current!r}"
            )
        if SCHEMA_VERSION not in model.model_fields:
            raise TypeError(
                f"{model.__name__}.Settings.{SCHEMA_VERSION} needs a `{SCHEMA_VERSION}: int = 0` "
                "field (or inherit vellum.SchemaVersioned)"
            )
        return cls(current)

    def prepare(self, documents: Sequence[BaseModel], now: datetime) -> None:
        for document in documents:
            vars(document)[SCHEMA_VERSION] = self.current
            document.__pydantic_fields_set__.add(SCHEMA_VERSION)

    def stamp(self, values: dict[str, Any], now: datetime, whole: bool) -> None:
        if whole:
            values[SCHEMA_VERSION] = self.current

    def loaded(self, documents: Sequence[BaseModel]) -> None:
        for document in documents:
            stored: int = getattr(document, SCHEMA_VERSION)
            if stored > self.current:
                model = type(document).__name__
                raise DocumentValidationError(
                    f"stored document _id={getattr(document, 'id', None)!r} has schema version "
                    f"{stored}, newer than {model}'s {self.current}: it was written by newer "
                    "code. Run that code, or migrate the document down; nothing was skipped.",
                    model=model,
                    document_id=getattr(document, "id", None),
                )

    def __repr__(self) -> str:
        return f"SchemaVersion({self.current})"
