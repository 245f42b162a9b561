"""Schema versions: each document records the version of its model's schema that wrote it
whole, so a migration can find the documents it has yet to upgrade and old code can refuse
documents written by a newer schema."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from pydantic import BaseModel

from ..errors import DocumentValidationError
from .base import Policy

__all__ = ["SchemaVersion", "SchemaVersioned", "upgrades_from"]

Upgrade = Callable[[dict[str, Any]], dict[str, Any]]
F = TypeVar("F")
_MARK = "__vellum_upgrades_from__"


def upgrades_from(version: int) -> Callable[[F], F]:
    """Registers a model's function that upgrades a stored document of schema ``version`` to
    ``version + 1``: it takes the document as stored (a dict, stored field names) and returns
    it upgraded. Documents read at an older version go through each upgrade up to the model's
    ``Settings.schema_version`` before validation, in memory (``Settings.schema_write_back =
    True`` also writes them back)::

        class Profile(SchemaVersioned, VellumBaseModel):
            display_name: str
            class Settings:
                schema_version = 2

            @upgrades_from(1)
            @staticmethod
            def _name(doc: dict) -> dict:
                doc["display_name"] = doc.pop("name")
                return doc
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"upgrades_from takes a schema version (an int >= 0), got {version!r}")

    def mark(function: F) -> F:
        target: Any = function
        if isinstance(target, staticmethod):
            target = target.__func__  # pyright: ignore[reportUnknownMemberType]
        setattr(target, _MARK, version)
        return function

    return mark


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

    __slots__ = ("current", "upgrades", "write_back")
    fields = (SCHEMA_VERSION,)
    settings = (SCHEMA_VERSION, "schema_write_back")

    def __init__(
        self, current: int, upgrades: dict[int, Upgrade] | None = None, write_back: bool = False
    ) -> None:
        self.current = current
        self.upgrades = upgrades or {}
        self.write_back = write_back

    def upgrade(self, raw: dict[str, Any]) -> bool:
        """Upgrades a stored document older than the model's version in place, through each
        registered upgrade; True if it changed. A document with no upgrade for its version is
        left to validation as it is."""
        stored: Any = raw.get(SCHEMA_VERSION, 0)
        if not isinstance(stored, int) or stored >= self.current or stored not in self.upgrades:
            return False
        version = stored
        while version < self.current:
            step = self.upgrades.get(version)
            if step is None:
                break
            doc_id = raw.get("_id")
            result = cast("object", step(raw))  # user code: check what it returned
            if not isinstance(result, dict):
                raise TypeError(
                    f"the upgrade from schema version {version} returned "
                    f"{type(result).__name__}; an upgrade returns the document (a dict)"
                )
            upgraded = cast("dict[str, Any]", result)
            if upgraded.get("_id") != doc_id:
                raise TypeError(
                    f"the upgrade from schema version {version} changed or dropped _id "
                    f"{doc_id!r}; an upgrade keeps the document's _id"
                )
            if upgraded is not raw:
                raw.clear()
                raw.update(upgraded)
            version += 1
            raw[SCHEMA_VERSION] = version
        return True

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
        write_back: Any = getattr(own, "schema_write_back", False)
        if not isinstance(write_back, bool):
            raise TypeError(f"{model.__name__}.Settings.schema_write_back must be True or False")
        return cls(current, _upgrades(model, current), write_back)

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
                    stored=True,
                )

    def __repr__(self) -> str:
        return f"SchemaVersion({self.current}, upgrades from {sorted(self.upgrades)})"


def _upgrades(model: type[BaseModel], current: int) -> dict[int, Upgrade]:
    """The model's registered upgrades by the version they upgrade from (base classes
    first, a subclass's own replacing theirs)."""
    found: dict[int, Upgrade] = {}
    for klass in reversed(model.__mro__):
        for name, value in list(vars(klass).items()):
            function: Any = value.__func__ if isinstance(value, staticmethod) else value  # pyright: ignore[reportUnknownMemberType]
            version: Any = getattr(function, _MARK, None)
            if version is None:
                continue
            if version >= current:
                raise TypeError(
                    f"{model.__name__}.{name} upgrades from schema version {version}, but the "
                    f"model is at version {current}: it would never run"
                )
            found[version] = function
    return found
