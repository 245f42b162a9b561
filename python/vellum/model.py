"""``VellumBaseModel``: the Pydantic base class of stored documents."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Generic
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, create_model
from typing_extensions import TypeVar

from ._bridge import ObjectId
from ._policies import SETTINGS, Policies, compose
from ._policies.lifecycle import Lifecycle
from ._policies.polymorphism import Polymorphism
from ._policies.schema_version import SchemaVersioned
from ._policies.soft_delete import SoftDeletable, SoftDelete
from ._policies.timestamps import Timestamped
from ._policies.versioning import Versioned, Versioning
from .hooks import HookTable
from .indexes import Index
from .links import back_link_fields
from .query import QueryProxy

__all__ = [
    "DocumentSettings",
    "SchemaVersioned",
    "SoftDeletable",
    "VellumBaseModel",
    "Versioned",
]


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


class DocumentSettings:
    """A model's resolved ``Settings``: where it is stored, which indexes it declares, and the
    policies (timestamps, optimistic concurrency, soft delete, hooks...) its repository
    composes."""

    __slots__ = ("collection_name", "indexes", "policies", "validate_on_fetch")

    def __init__(
        self,
        collection_name: str,
        indexes: tuple[Index, ...],
        *,
        policies: Policies | None = None,
        validate_on_fetch: bool = True,
    ) -> None:
        self.collection_name = collection_name
        self.indexes = indexes
        self.policies = policies or Policies(())
        self.validate_on_fetch = validate_on_fetch

    @property
    def versioned(self) -> bool:
        """Whether writes use optimistic concurrency (``Versioned``)."""
        return self.policies.get(Versioning) is not None

    @property
    def soft_delete(self) -> bool:
        """Whether deletes can be soft (``SoftDeletable``)."""
        return self.policies.get(SoftDelete) is not None

    @property
    def collection_indexes(self) -> tuple[Index, ...]:
        """Every index the model's collection declares: the model's own, and for a polymorphic
        family every class's defined so far (the first declaration of a name wins)."""
        family = self.policies.get(Polymorphism)
        if family is None:
            return self.indexes
        found: dict[str, Index] = {}
        for model in family.family.by_name.values():
            for index in settings_of(model).indexes:
                found.setdefault(index.name, index)
        for index in self.indexes:
            found.setdefault(index.name, index)
        return tuple(found.values())

    @property
    def hooks(self) -> HookTable:
        """The model's hooks by event."""
        lifecycle = self.policies.get(Lifecycle)
        return {} if lifecycle is None else lifecycle.table

    def __repr__(self) -> str:
        return (
            f"DocumentSettings(collection_name={self.collection_name!r}, "
            f"indexes={self.indexes!r}, policies={self.policies!r}, "
            f"validate_on_fetch={self.validate_on_fetch})"
        )


_SETTINGS = ("collection_name", "indexes", "validate_on_fetch", *SETTINGS)
# What Beanie users write, and what Vellum calls it (or that it does not exist here).
_BEANIE_SETTINGS = {
    "name": "collection_name",
    "use_revision": "versioned = True (or inherit vellum.Versioned)",
    "keep_nulls": "nothing: Vellum always stores None as null",
    "is_root": "polymorphic = True",
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


def settings_of(model: type[BaseModel]) -> DocumentSettings:
    """The resolved settings of a document model known only as a ``BaseModel`` class."""
    settings: DocumentSettings = getattr(model, "__vellum_settings__")  # noqa: B009
    return settings


def _resolve_settings(cls: type[VellumBaseModel[Any]]) -> DocumentSettings:
    # Only the class's own Settings counts for the collection name: a subclass without one is
    # stored under its own name, as it is a different document type.
    own = cls.__dict__.get("Settings")
    _check_settings_names(cls.__name__, own)
    policies = compose(cls, own)
    family = policies.get(Polymorphism)
    collection_name = getattr(own, "collection_name", None) or _snake_case(cls.__name__)
    if family is not None and not family.is_root:
        root = family.family.root
        shared = settings_of(root).collection_name
        if getattr(own, "collection_name", None) not in (None, shared):
            raise TypeError(
                f"{cls.__name__} is stored in the collection of its polymorphic root "
                f"{root.__name__}: it cannot set a collection_name of its own"
            )
        collection_name = shared
    if not isinstance(collection_name, str):
        raise TypeError(f"{cls.__name__}.Settings.collection_name must be a str")
    indexes = tuple(getattr(own, "indexes", ()) or ())
    for index in indexes:
        if not isinstance(index, Index):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                f"{cls.__name__}.Settings.indexes must hold vellum.Index objects, got {index!r}"
            )
    validate_on_fetch = getattr(own, "validate_on_fetch", True)
    if not isinstance(validate_on_fetch, bool):
        raise TypeError(f"{cls.__name__}.Settings.validate_on_fetch must be True or False")
    return DocumentSettings(
        collection_name,
        indexes,
        policies=policies,
        validate_on_fetch=validate_on_fetch,
    )


IdT = TypeVar("IdT", default=UUID)
"""The type of a document's ``id``: ``VellumBaseModel`` is ``VellumBaseModel[UUID]``."""

if TYPE_CHECKING:
    # To a type checker the id's type is a parameter, so that ``VellumBaseModel[ObjectId]``
    # types ``id`` as an ObjectId without an incompatible override of a UUID field.

    def _new_id() -> Any: ...

    class _Identified(BaseModel, Generic[IdT]):
        id: IdT = Field(default_factory=_new_id, alias="_id")

else:

    class _Identified(BaseModel):
        # Declared before the timestamps so that ``_id`` is the first key of every stored
        # document.
        id: UUID = Field(default_factory=uuid4, alias="_id")

        def __class_getitem__(cls, id_type: Any) -> Any:
            return cls  # ``_Identified[IdT]`` in VellumBaseModel's bases


class VellumBaseModel(Timestamped, _Identified[IdT]):
    """Base class for documents stored by a :class:`~vellum.VellumRepository`.

    ``id`` is stored as ``_id``: a UUID by default, a generated ObjectId for a subclass of
    ``VellumBaseModel[ObjectId]``, and for ``VellumBaseModel[str]`` (or any other id type) a
    value of that type, which nothing generates: it is required on creation. ``created_at`` and
    ``updated_at`` are set by the repository, as timezone-aware UTC datetimes truncated to
    milliseconds (the precision BSON stores).

    An inner ``class Settings`` names the collection (``collection_name``, by default the class
    name in snake case) and its ``indexes``. ``validate_on_fetch = False`` builds fetched
    documents whose stored types already match the model without re-validating them (see the
    documentation, "Performance: trusted fetch").
    """

    model_config = ConfigDict(
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=False,
        validate_assignment=True,
        arbitrary_types_allowed=False,
    )

    __vellum_settings__: ClassVar[DocumentSettings]
    Q: ClassVar[QueryProxy]
    """The model's fields for queries, sorts and updates: ``User.Q.age >= 18``."""

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
        back_link_fields(cls)  # a back-link without its field is refused here

    if not TYPE_CHECKING:

        def __class_getitem__(cls, id_type: Any) -> Any:
            if cls is not VellumBaseModel:
                raise TypeError(
                    f"{cls.__name__} is not a document base: the id type is chosen once, as "
                    "VellumBaseModel[<id type>]"
                )
            if id_type is Any or isinstance(id_type, TypeVar):
                return VellumBaseModel  # in annotations evaluated at run time: any document
            return _id_base(id_type)


VellumBaseModel.__vellum_settings__ = DocumentSettings("vellum_base_model", ())
VellumBaseModel.Q = QueryProxy(VellumBaseModel)


class _ObjectIdDocument(VellumBaseModel):
    """What ``VellumBaseModel[ObjectId]`` is at run time: ids are generated ObjectIds."""

    id: ObjectId = Field(default_factory=ObjectId, alias="_id")  # pyright: ignore[reportIncompatibleVariableOverride]


_ID_BASES: dict[Any, type[VellumBaseModel[Any]]] = {
    UUID: VellumBaseModel,
    ObjectId: _ObjectIdDocument,
}


def _id_base(id_type: Any) -> type[VellumBaseModel[Any]]:
    """The base of documents with ``id_type`` ids: generated UUIDs and ObjectIds; any other type
    (``str``, ``int``...) required on creation, as nothing can generate it."""
    base = _ID_BASES.get(id_type)
    if base is None:
        name = getattr(id_type, "__name__", repr(id_type))
        try:
            base = create_model(
                f"VellumBaseModel[{name}]",
                __base__=VellumBaseModel,
                __module__=__name__,
                id=(id_type, Field(alias="_id")),
            )
        except Exception as e:
            raise TypeError(f"VellumBaseModel[{name}]: {name} cannot be an id type: {e}") from e
        _ID_BASES[id_type] = base
    return base
