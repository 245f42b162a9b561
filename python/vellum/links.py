"""Relationships between documents: ``Link[T]`` stores a reference to one ``T`` document,
``BackLink[T]`` (stored nowhere) finds the ``T`` documents whose link points back.

>>> class Book(VellumBaseModel):                                    # doctest: +SKIP
...     title: str
...     author: Link[Author]
>>> book = await books.get(book_id, fetch_links=True)               # doctest: +SKIP
>>> book.author.doc.name                                            # doctest: +SKIP

A link is stored as the target's ``_id`` (``Annotated[Link[T], AsDBRef()]`` stores a DBRef
instead); either form, and the DBRefs Beanie writes, is read back as a :class:`Link`. Links
are loaded by the repository's reads (``fetch_links=``), one ``$in`` query per link path and
batch, or one at a time with ``await link.fetch()``.
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, Field, GetCoreSchemaHandler, TypeAdapter, ValidationError
from pydantic_core import core_schema

from .errors import DanglingLinkError, DocumentValidationError, LinkNotLoadedError

if TYPE_CHECKING:
    from .session import Session

__all__ = ["AsDBRef", "BackLink", "DeleteRule", "Link", "LinkRule", "LinkSource"]


class Identified(Protocol):
    """What a link points to: a stored document (a ``VellumBaseModel``), known by its id."""

    @property
    def id(self) -> Any: ...


T = TypeVar("T", bound=Identified)


class LinkRule(Enum):
    """What ``create``/``create_many``/``save`` do with links to documents never stored."""

    REFUSE = "refuse"
    """The default: raise :class:`~vellum.UnsavedLinkError` before anything is written."""
    WRITE = "write"
    """Insert the linked documents first (depth first, in the same session or transaction)."""


class DeleteRule(Enum):
    """What ``delete`` does with the documents a deleted document links to."""

    KEEP = "keep"
    """The default: linked documents stay; links to the deleted document become dangling."""
    DELETE_LINKS = "delete_links"
    """Delete the documents the deleted one links to (one level, in the same session)."""


class LinkSource(Protocol):
    """Where a loaded link fetches its document: the repository read that loaded it."""

    async def fetch_one(
        self, model: type[Any], doc_id: Any, session: Session | None
    ) -> Any | None: ...


_UNFETCHED: Any = object()
_MISSING: Any = object()

loading_source: ContextVar[LinkSource | None] = ContextVar("vellum_link_source", default=None)
"""Set by a repository while it validates the documents it read, so the links they hold can
fetch their documents later."""


class Link(Generic[T]):
    """A reference to one stored ``T`` document.

    ``id`` is always there. After a read with ``fetch_links=`` (or ``await link.fetch()``),
    ``doc`` is the document, typed ``T``; before, touching ``doc`` raises
    :class:`~vellum.LinkNotLoadedError`. A link whose document is gone (deleted, or
    soft-deleted) loads as *missing*: ``missing`` is True and ``doc`` raises
    :class:`~vellum.DanglingLinkError`; the read itself never fails for it.

    ``Link(document)`` links to a document (typed ``Link[User]`` for a ``User``); a field
    typed ``Link[User]`` also takes the ``User`` itself, its id, a ``Link`` or a DBRef.
    """

    __slots__ = ("_doc", "_source", "id", "model")

    def __init__(self, document: T) -> None:
        self.model: type[T] = type(document)
        self.id: Any = document.id
        self._doc: T = document
        self._source: LinkSource | None = None

    @classmethod
    def to(cls, model: type[T], doc_id: Any) -> Link[T]:
        """A link to the ``model`` document with this id, not loaded."""
        link: Link[T] = cls.__new__(cls)
        link.model = model
        try:
            link.id = _id_adapter(model).validate_python(doc_id)
        except ValidationError as err:
            raise DocumentValidationError(
                f"{doc_id!r} is not an id of {model.__name__}: {err.errors()[0]['msg']}",
                model=model.__name__,
                document_id=doc_id,
                errors=err.errors(),
            ) from None
        link._doc = _UNFETCHED
        link._source = None
        return link

    @classmethod
    def _stored(cls, model: type[T], doc_id: Any) -> Link[T]:
        link: Link[T] = cls.__new__(cls)
        link.model = model
        link.id = doc_id
        link._doc = _UNFETCHED
        link._source = loading_source.get()
        return link

    @property
    def fetched(self) -> bool:
        """Whether the link was loaded (its document found or found missing)."""
        return self._doc is not _UNFETCHED

    @property
    def missing(self) -> bool:
        """Whether the link was loaded and its document is not stored."""
        return self._doc is _MISSING

    @property
    def doc(self) -> T:
        """The linked document; raises if the link was not loaded or its document is gone."""
        doc = self._doc
        if doc is _UNFETCHED:
            raise LinkNotLoadedError(
                f"the link to {self.model.__name__} {self.id!r} is not loaded: read with "
                "fetch_links=True (or the path), or `await link.fetch()`"
            )
        if doc is _MISSING:
            raise DanglingLinkError(self.model.__name__, self.id)
        return doc

    def _resolve(self, document: T | None) -> None:
        self._doc = _MISSING if document is None else document

    async def fetch(self, *, session: Session | None = None, refresh: bool = False) -> T:
        """The linked document, read now unless the link was loaded already (``refresh=True``
        reads it again). Raises :class:`~vellum.DanglingLinkError` if it is not stored."""
        if self._doc is not _UNFETCHED and not refresh:
            return self.doc
        source = self._source
        if source is None:
            raise LinkNotLoadedError(
                f"the link to {self.model.__name__} {self.id!r} was not read through a "
                "repository, so it does not know where to fetch from; read its document with "
                f"that model's repository: `await repository.get(link.id)`"
            )
        self._resolve(await source.fetch_one(self.model, self.id, session))
        return self.doc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Link):
            return NotImplemented
        theirs = typing.cast("Link[Any]", other)
        return self.id == theirs.id and self.model is theirs.model

    def __hash__(self) -> int:
        return hash((self.model, self.id))

    def __copy__(self) -> Link[T]:
        link: Link[T] = object.__new__(type(self))
        link.model, link.id, link._doc, link._source = self.model, self.id, self._doc, self._source
        return link

    def __deepcopy__(self, memo: dict[int, Any]) -> Link[T]:
        link = self.__copy__()
        if link._doc is not _UNFETCHED and link._doc is not _MISSING:
            link._doc = copy.deepcopy(link._doc, memo)
        return link

    def __repr__(self) -> str:
        state = "missing" if self.missing else "fetched" if self.fetched else "not loaded"
        return f"Link({self.model.__name__}, id={self.id!r}, {state})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return _link_schema(source, handler, dbref=False)


class AsDBRef:
    """Stores a link field as a DBRef (``{"$ref": collection, "$id": id}``) instead of the bare
    id: ``author: Annotated[Link[Author], AsDBRef()]``. Reading accepts both forms either way.
    """

    __slots__ = ()

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        if typing.get_origin(source) is not Link:
            raise TypeError(f"AsDBRef() applies to Link[...] fields, not {source!r}")
        return _link_schema(source, handler, dbref=True)

    def __repr__(self) -> str:
        return "AsDBRef()"


class BackLink(Generic[T]):
    """The ``T`` documents whose link field ``field`` points to this document; nothing is
    stored. Declare it with its field: ``books: BackLink[Book] = BackLink(field="author")``
    (a dotted path reaches a link inside embedded models: ``"chapters.reviewer"``).

    Loaded by reads with ``fetch_links=``: then ``docs`` is the list of those documents (and
    the back-link iterates over them); before, ``docs`` raises
    :class:`~vellum.LinkNotLoadedError`.
    """

    __slots__ = ("_docs", "field")

    if not TYPE_CHECKING:

        def __class_getitem__(cls, item: Any) -> Any:
            # Stored nowhere: the field is left out of every dump (an annotation survives the
            # model rebuilds that forward references need, where a FieldInfo edit would not).
            return Annotated[super().__class_getitem__(item), Field(exclude=True)]

    def __init__(self, field: str) -> None:
        if not isinstance(field, str) or not field:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"BackLink(field=...) takes the linking field's name, got {field!r}")
        self.field = field
        self._docs: list[T] | None = None

    @property
    def fetched(self) -> bool:
        return self._docs is not None

    @property
    def docs(self) -> list[T]:
        """The documents linking here, once loaded."""
        if self._docs is None:
            raise LinkNotLoadedError(
                f"the back-link over {self.field!r} is not loaded: read with fetch_links=True "
                "(or its name)"
            )
        return self._docs

    def __iter__(self) -> Iterator[T]:
        return iter(self.docs)

    def __len__(self) -> int:
        return len(self.docs)

    def __bool__(self) -> bool:
        # A back-link is there whether loaded or not (Pydantic tests defaults for emptiness).
        return True

    def __eq__(self, other: object) -> bool:
        # What is stored decides equality: a back-link stores nothing, so two of the same field
        # are equal, loaded or not (models that hold one compare by their stored fields).
        if not isinstance(other, BackLink):
            return NotImplemented
        return self.field == typing.cast("BackLink[Any]", other).field

    # Unhashable, so that Pydantic copies the declared default for each instance (each gets
    # its own back-link, not loaded) instead of sharing it.
    __hash__ = None  # type: ignore[assignment]

    def __copy__(self) -> BackLink[T]:
        return BackLink(self.field)

    def __deepcopy__(self, memo: dict[int, Any]) -> BackLink[T]:
        fresh: BackLink[T] = BackLink(self.field)
        if self._docs is not None:
            fresh._docs = copy.deepcopy(self._docs, memo)
        return fresh

    def __repr__(self) -> str:
        loaded = f"{len(self._docs)} loaded" if self._docs is not None else "not loaded"
        return f"BackLink(field={self.field!r}, {loaded})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        target = _target(source, "BackLink")

        def validate(value: Any) -> BackLink[Any]:
            if isinstance(value, BackLink):
                return value  # pyright: ignore[reportUnknownVariableType]
            raise ValueError(
                f"a BackLink[{target.__name__}] is not stored and takes no value; it is "
                "loaded by reads with fetch_links="
            )

        return core_schema.json_or_python_schema(
            json_schema=core_schema.no_info_after_validator_function(
                validate, core_schema.list_schema(core_schema.any_schema())
            ),
            python_schema=core_schema.no_info_plain_validator_function(validate),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _: None),
        )


def back_link_fields(model: type[BaseModel]) -> dict[str, BackLink[Any]]:
    """The model's back-link fields and their declarations (defaults)."""
    found: dict[str, BackLink[Any]] = {}
    for name, field in model.model_fields.items():
        if isinstance(field.default, BackLink):
            found[name] = field.default  # pyright: ignore[reportUnknownMemberType]
        elif _origin_of(field.annotation) is BackLink:
            raise TypeError(
                f"{model.__name__}.{name} is a BackLink: declare the field that points back, "
                f'as in `{name}: BackLink[...] = BackLink(field="author")`'
            )
    return found


def _origin_of(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return typing.get_origin(annotation)


def _target(source: Any, kind: str) -> type[Any]:
    args: tuple[Any, ...] = typing.get_args(source)
    target: Any = args[0] if args else None
    if not (isinstance(target, type) and hasattr(target, "__vellum_settings__")):
        raise TypeError(
            f"{kind} needs the linked model as its parameter, such as {kind}[User]; got "
            f"{source!r}. (A model defined further down the module is named in quotes: "
            f'{kind}["User"], then `Model.model_rebuild()` once it exists.)'
        )
    return target


_ID_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _id_adapter(model: type[Any]) -> TypeAdapter[Any]:
    adapter = _ID_ADAPTERS.get(model)
    if adapter is None:
        adapter = TypeAdapter(model.model_fields["id"].annotation)
        _ID_ADAPTERS[model] = adapter
    return adapter


def _link_schema(source: Any, handler: GetCoreSchemaHandler, *, dbref: bool) -> Any:
    target = _target(source, "Link")
    id_schema = handler.generate_schema(target.model_fields["id"].annotation)
    ids = _id_adapter(target)
    collection = target.__vellum_settings__.collection_name
    name = target.__name__

    def stored_id(value: Any) -> Any:
        try:
            return ids.validate_python(value)
        except ValidationError as err:
            raise ValueError(
                f"{value!r} is not an id of {name}: {err.errors()[0]['msg']}"
            ) from None

    def stored(value: Any) -> Link[Any]:
        return Link[Any]._stored(target, stored_id(value))  # pyright: ignore[reportPrivateUsage]

    def validate(value: Any) -> Link[Any]:
        if isinstance(value, Link):
            link = typing.cast("Link[Any]", value)
            if issubclass(link.model, target):
                return link
            raise ValueError(f"a link to {link.model.__name__} is not a Link[{name}]")
        if isinstance(value, target):
            return Link(value)
        if isinstance(value, Mapping):
            raw = typing.cast("Mapping[str, Any]", value)
            if "$ref" in raw and "$id" in raw:  # a DBRef (Beanie stores links so)
                if raw["$ref"] != collection:
                    raise ValueError(
                        f"the DBRef points to collection {raw['$ref']!r}, but {name} is stored "
                        f"in {collection!r} (set {name}.Settings.collection_name to match)"
                    )
                return stored(raw["$id"])
            return Link(target.model_validate(raw))  # the document itself ($lookup results)
        if isinstance(value, BaseModel):
            raise ValueError(f"expected a {name} (or its id), got a {type(value).__name__}")
        return stored(value)

    def serialize(link: Any, info: core_schema.SerializationInfo) -> Any:
        if not isinstance(link, Link):
            return link
        doc_id: Any = link.id  # pyright: ignore[reportUnknownMemberType]
        if info.mode == "json":
            return ids.dump_python(doc_id, mode="json")
        return {"$ref": collection, "$id": doc_id} if dbref else doc_id

    # In JSON (and so in OpenAPI) a link is its target's id, in both directions.
    return core_schema.json_or_python_schema(
        json_schema=core_schema.no_info_after_validator_function(validate, id_schema),
        python_schema=core_schema.no_info_plain_validator_function(validate),
        serialization=core_schema.plain_serializer_function_ser_schema(serialize, info_arg=True),
        metadata={"vellum_link": (target, dbref)},
    )
