"""``VellumBaseModel``: the Pydantic base class of stored documents."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .hooks import HookTable, collect_hooks
from .indexes import Index
from .query import QueryProxy

__all__ = ["DocumentSettings", "SoftDeletable", "VellumBaseModel", "Versioned"]


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


class DocumentSettings:
    """A model's resolved ``Settings``: where it is stored, which indexes it declares, whether
    it is versioned (optimistic concurrency) or soft-deletable, and its hooks by event."""

    __slots__ = (
        "collection_name",
        "hooks",
        "indexes",
        "soft_delete",
        "validate_on_fetch",
        "versioned",
    )

    def __init__(
        self,
        collection_name: str,
        indexes: tuple[Index, ...],
        *,
        versioned: bool = False,
        soft_delete: bool = False,
        hooks: HookTable | None = None,
        validate_on_fetch: bool = True,
    ) -> None:
        self.collection_name = collection_name
        self.indexes = indexes
        self.versioned = versioned
        self.soft_delete = soft_delete
        self.validate_on_fetch = validate_on_fetch
        self.hooks: HookTable = hooks or {}

    def __repr__(self) -> str:
        return (
            f"DocumentSettings(collection_name={self.collection_name!r}, "
            f"indexes={self.indexes!r}, versioned={self.versioned}, "
            f"soft_delete={self.soft_delete}, validate_on_fetch={self.validate_on_fetch})"
        )


_SETTINGS = ("collection_name", "indexes", "soft_delete", "validate_on_fetch", "versioned")
# What Beanie users write, and what Vellum calls it (or that it does not exist here).
_BEANIE_SETTINGS = {
    "name": "collection_name",
    "use_revision": "versioned = True (or inherit vellum.Versioned)",
    "keep_nulls": "nothing: Vellum always stores None as null",
    "validate_on_save": "nothing: Vellum validates every write",
}


def _check_settings_names(model: str, own: object) -> None:
    """A misspelt or foreign setting is an error, not silently ignored."""
    if own is None:
        return
    for name in vars(own):
        if name.startswith("_") or name in _SETTINGS:
            continue
        hint = _BEANIE_SETTINGS.get(name)
        where = f"{model}.Settings.{name}"
        if hint is not None:
            raise TypeError(f"{where} is Beanie's setting; in Vellum use {hint}")
        raise TypeError(f"{where} is not a Vellum setting; the settings are {', '.join(_SETTINGS)}")


def _resolve_settings(cls: type[VellumBaseModel]) -> DocumentSettings:
    # Only the class's own Settings counts for the collection name: a subclass without one is
    # stored under its own name, as it is a different document type.
    own = cls.__dict__.get("Settings")
    _check_settings_names(cls.__name__, own)
    collection_name = getattr(own, "collection_name", None) or _snake_case(cls.__name__)
    if not isinstance(collection_name, str):
        raise TypeError(f"{cls.__name__}.Settings.collection_name must be a str")
    indexes = tuple(getattr(own, "indexes", ()) or ())
    for index in indexes:
        if not isinstance(index, Index):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                f"{cls.__name__}.Settings.indexes must hold vellum.Index objects, got {index!r}"
            )
    fields = cls.model_fields
    versioned = bool(getattr(own, "versioned", False)) or issubclass(cls, Versioned)
    if versioned and "version" not in fields:
        raise TypeError(
            f"{cls.__name__}.Settings.versioned needs a `version: int = 1` field "
            "(or inherit vellum.Versioned)"
        )
    soft_delete = bool(getattr(own, "soft_delete", False)) or issubclass(cls, SoftDeletable)
    if soft_delete and "deleted_at" not in fields:
        raise TypeError(
            f"{cls.__name__}.Settings.soft_delete needs a `deleted_at: datetime | None = None` "
            "field (or inherit vellum.SoftDeletable)"
        )
    validate_on_fetch = getattr(own, "validate_on_fetch", True)
    if not isinstance(validate_on_fetch, bool):
        raise TypeError(f"{cls.__name__}.Settings.validate_on_fetch must be True or False")
    return DocumentSettings(
        collection_name,
        indexes,
        versioned=versioned,
        soft_delete=soft_delete,
        hooks=collect_hooks(cls),
        validate_on_fetch=validate_on_fetch,
    )


VERSION_FIELD = "version"
"""The stored name of a versioned model's counter (``Versioned.version``)."""


class Versioned(BaseModel):
    """Mixin for optimistic concurrency: every update and save filters on the version it
    started from and increments it; a concurrent change raises ``OptimisticLockError``.

    ``class Account(Versioned, VellumBaseModel): ...``
    """

    version: int = 1


class SoftDeletable(BaseModel):
    """Mixin for soft delete: ``repository.soft_delete(id)`` sets ``deleted_at`` and reads
    leave such documents out unless ``include_deleted=True``.

    ``class Account(SoftDeletable, VellumBaseModel): ...``
    """

    deleted_at: datetime | None = None


class VellumBaseModel(BaseModel):
    """Base class for documents stored by a :class:`~vellum.VellumRepository`.

    ``id`` is stored as ``_id`` (a UUID by default; declare ``id: ObjectId = Field(
    default_factory=ObjectId, alias="_id")`` for ObjectIds). ``created_at`` and ``updated_at``
    are set by the repository, as timezone-aware UTC datetimes truncated to milliseconds (the
    precision BSON stores).

    An inner ``class Settings`` names the collection (``collection_name``, by default the class
    name in snake case) and its ``indexes``. ``validate_on_fetch = False`` builds fetched
    documents whose stored types already match the model without re-validating them (see the
    README, "Trusted fetch").
    """

    model_config = ConfigDict(
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=False,
        validate_assignment=True,
        arbitrary_types_allowed=False,
    )

    id: UUID = Field(default_factory=uuid4, alias="_id")
    created_at: datetime | None = None
    updated_at: datetime | None = None

    __vellum_settings__: ClassVar[DocumentSettings]
    Q: ClassVar[QueryProxy]
    """The model's fields for queries, sorts and updates: ``User.Q.age >= 18``."""

    @field_validator("created_at", "updated_at")
    @classmethod
    def _as_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        id_field = cls.model_fields.get("id")
        if id_field is None or id_field.alias != "_id":
            raise TypeError(
                f"{cls.__name__}.id must be stored as _id: declare it as "
                '`id: <type> = Field(default_factory=..., alias="_id")`'
            )
        cls.__vellum_settings__ = _resolve_settings(cls)
        cls.Q = QueryProxy(cls)


VellumBaseModel.__vellum_settings__ = DocumentSettings("vellum_base_model", ())
VellumBaseModel.Q = QueryProxy(VellumBaseModel)
