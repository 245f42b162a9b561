"""The state, conversions and reads of :class:`~vellum.VellumRepository` (private module)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar, overload

from pydantic import BaseModel, TypeAdapter, ValidationError

from . import _core  # pyright: ignore[reportPrivateUsage]
from ._plans import fetch_plan, read_plan, write_plan
from .client import VellumClient
from .errors import DocumentValidationError, DuplicateKeyError
from .hooks import run_hooks
from .indexes import comparable
from .model import VellumBaseModel
from .query import QueryExpr, QueryProxy, SortKey
from .session import Session, core_session

M = TypeVar("M", bound=VellumBaseModel)
P = TypeVar("P", bound=BaseModel)

Filter = Mapping[str, Any] | QueryExpr
"""A query expression (``User.Q.age >= 18``) or a raw filter dict (``{"age": {"$gte": 18}}``)."""

SortSpec = Sequence[tuple[str, int] | SortKey] | Mapping[str, int] | SortKey
"""``[User.Q.age.desc()]``, ``[("age", -1), ("name", 1)]`` or ``{"age": -1}``."""


@dataclass(frozen=True)
class UpdateResult:
    """What ``update_one``/``update_many`` did."""

    matched: int
    modified: int
    upserted_id: Any = None


# Fields the repository owns: callers cannot $set them through update().
MANAGED = frozenset({"id", "created_at", "updated_at"})


def utc_now() -> datetime:
    """Now in UTC, truncated to the millisecond BSON stores, so a returned model equals the
    stored one."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


def as_filter(filter: Filter | None) -> Filter:
    if filter is None:
        return {}
    if isinstance(filter, (Mapping, QueryExpr)):  # pyright: ignore[reportUnnecessaryIsInstance]
        return filter
    raise TypeError(
        f"a filter is a query expression (Model.Q.field == value) or a dict, got {filter!r}"
    )


def sort_document(sort: SortSpec | None) -> dict[str, int] | None:
    if sort is None:
        return None
    if isinstance(sort, SortKey):
        sort = [sort]
    pairs = list(sort.items()) if isinstance(sort, Mapping) else list(sort)
    out: dict[str, int] = {}
    for pair in pairs:
        if isinstance(pair, SortKey):
            pair = (pair.path, pair.direction)
        if not (isinstance(pair, tuple) and len(pair) == 2):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                f"sort takes (field, direction) pairs such as ('age', -1), got {pair!r}"
            )
        field, direction = pair
        if direction not in (1, -1) or isinstance(direction, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValueError(f"sort direction for {field!r} must be 1 or -1, got {direction!r}")
        out[field] = direction
    return out


def first_error(err: ValidationError) -> str:
    parts: list[str] = []
    for e in err.errors()[:3]:
        loc = ".".join(str(p) for p in e["loc"]) or "(document)"
        parts.append(f"{loc}: {e['msg']}")
    more = err.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def projection_of(model: type[BaseModel]) -> dict[str, int]:
    """Fetch only ``model``'s fields (by their stored names)."""
    spec = {(field.alias or name): 1 for name, field in model.model_fields.items()}
    if "_id" not in spec:
        spec["_id"] = 0
    return spec


MANAGED_PATHS = ("_id", "created_at", "updated_at")
STAMPED = ("created_at", "updated_at")


class RepositoryBase(Generic[M]):
    """The state, conversions and reads of a repository; see :class:`VellumRepository`."""

    def __init__(self, model: type[M], client: VellumClient, db_name: str | None = None) -> None:
        if not (isinstance(model, type) and issubclass(model, VellumBaseModel)):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"VellumRepository needs a VellumBaseModel subclass, got {model!r}")
        self.model = model
        self.client = client
        self.database_name = client.database_name(db_name)
        self.collection_name = model.__vellum_settings__.collection_name
        self.collection: _core.Collection = client._core.collection(  # pyright: ignore[reportPrivateUsage]
            self.database_name, self.collection_name
        )
        self._id_adapter: TypeAdapter[Any] = TypeAdapter(model.model_fields["id"].annotation)
        self._aliases = {(field.alias or name): name for name, field in model.model_fields.items()}
        settings = model.__vellum_settings__
        self._versioned = settings.versioned
        self._soft_delete = settings.soft_delete
        self._hooks = settings.hooks
        # The core builds documents that match the model's types as instances: always where
        # that is all validation checks, and on request (trusted fetch) despite constraints.
        self._plan = read_plan(model) if settings.validate_on_fetch else fetch_plan(model)
        # Inserts encode models from their fields where that is what model_dump would store.
        self._write_plan = write_plan(model)

    @property
    def Q(self) -> QueryProxy:
        """The model's fields for queries: ``users.Q.age >= 18``."""
        return self.model.Q

    def __repr__(self) -> str:
        where = f"{self.database_name}.{self.collection_name}"
        return f"VellumRepository({self.model.__name__}, {where!r})"

    # -- conversion -------------------------------------------------------------------------

    def _id(self, doc_id: Any) -> Any:
        try:
            return self._id_adapter.validate_python(doc_id)
        except ValidationError as err:
            raise DocumentValidationError(
                f"{doc_id!r} is not a valid id for {self.model.__name__}: {first_error(err)}",
                model=self.model.__name__,
                document_id=doc_id,
                errors=err.errors(),
            ) from None

    def _load(self, raw: dict[str, Any] | M) -> M:
        return self._load_all([raw])[0]

    def _load_all(self, raws: list[dict[str, Any] | M]) -> list[M]:
        """A batch as models: the ones the core built from documents that match the plan are
        kept, dicts are validated (one comprehension, not a method call per document)."""
        model = self.model
        return [self._load_as(model, raw) if isinstance(raw, dict) else raw for raw in raws]

    def _load_as(self, model: type[P], raw: dict[str, Any]) -> P:
        try:
            return model.model_validate(raw)
        except ValidationError as err:
            raise DocumentValidationError(
                f"stored document _id={raw.get('_id')!r} in {self.collection_name!r} does not "
                f"fit {model.__name__}: {first_error(err)}. Migrate the document or relax "
                "the model; nothing was skipped.",
                model=model.__name__,
                document_id=raw.get("_id"),
                errors=err.errors(),
            ) from None

    def _coerce(self, document: M | Mapping[str, Any]) -> M:
        if isinstance(document, self.model):
            return document
        if isinstance(document, Mapping):
            try:
                return self.model.model_validate(document)
            except ValidationError as err:
                raise DocumentValidationError(
                    f"document does not fit {self.model.__name__}: {first_error(err)}",
                    model=self.model.__name__,
                    document_id=document.get("_id", document.get("id")),
                    errors=err.errors(),
                ) from None
        raise TypeError(
            f"expected a {self.model.__name__} or a dict, got {type(document).__name__}"
        )

    def _scope(self, filter: Filter | None, include_deleted: bool) -> Filter:
        """The filter, narrowed to live documents for a soft-deletable model."""
        base = as_filter(filter)
        if not self._soft_delete or include_deleted:
            return base
        if isinstance(base, QueryExpr):
            return base & QueryExpr.compare("deleted_at", "$eq", None)
        if not base:
            return {"deleted_at": None}
        return {"$and": [base, {"deleted_at": None}]}

    def _by_id(self, doc_id: Any, include_deleted: bool = False) -> Filter:
        return self._scope({"_id": self._id(doc_id)}, include_deleted)

    async def _hooks_for(self, event: str, document: Any, session: Session | None) -> None:
        hooks = self._hooks.get(event)
        if hooks:
            await run_hooks(document, hooks, session)

    async def _fetched(self, document: M, session: Session | None) -> M:
        await self._hooks_for("on_fetch", document, session)
        return document

    @staticmethod
    def _set_field(document: BaseModel, name: str, value: Any) -> None:
        # Without re-running assignment validation: the repository's own values are valid.
        object.__setattr__(document, name, value)
        document.__pydantic_fields_set__.add(name)

    def _prepare_insert(self, documents: Iterable[VellumBaseModel], now: datetime) -> None:
        """Stamps ``created_at``/``updated_at`` (and ``version`` 1 for a versioned model)
        straight into the instances' fields, without re-running assignment validation: the
        values are the repository's own. One loop for a whole batch."""
        names = ("created_at", "updated_at", "version") if self._versioned else STAMPED
        for document in documents:
            fields: dict[str, Any] = vars(document)
            fields["created_at"] = fields["updated_at"] = now
            if self._versioned:
                fields["version"] = 1
            document.__pydantic_fields_set__.update(names)

    def _enrich_duplicate(
        self, err: DuplicateKeyError, documents: Iterable[Mapping[str, Any]]
    ) -> None:
        index = next(
            (i for i in self.model.__vellum_settings__.indexes if i.name == err.index_name), None
        )
        if index is None:
            return
        err.key_pattern = dict(index.keys)
        fields = [field for field, _ in index.keys]
        for document in documents:
            value = {f: document.get(f) for f in fields}
            if err.key_value is None or str(next(iter(value.values()), "")) in str(err.key_value):
                err.key_value = value
                break

    def _changes(self, changes: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
        """Validates a partial update field by field and returns its ``$set`` document, or raises
        before anything is written."""
        if isinstance(changes, self.model):
            data = {
                name: getattr(changes, name)
                for name in self.model.model_fields
                if name not in MANAGED
            }
        elif isinstance(changes, BaseModel):
            data = {name: getattr(changes, name) for name in changes.model_fields_set}
        elif isinstance(changes, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
            data = dict(changes)
        else:
            raise TypeError(f"update takes a dict or a BaseModel, got {type(changes).__name__}")
        if not data:
            raise ValueError("update has nothing to change")
        blank = self.model.model_construct()
        validator = self.model.__pydantic_validator__
        names: list[str] = []
        for key, value in data.items():
            name = self._aliases.get(key, key)
            if name not in self.model.model_fields:
                raise DocumentValidationError(
                    f"{self.model.__name__} has no field {key!r}; its fields are "
                    f"{sorted(self.model.model_fields)}. Nothing was written.",
                    model=self.model.__name__,
                )
            if name in MANAGED:
                raise DocumentValidationError(
                    f"{name!r} is managed by the repository and cannot be updated. Nothing was "
                    "written.",
                    model=self.model.__name__,
                )
            try:
                validator.validate_assignment(blank, name, value)
            except ValidationError as err:
                raise DocumentValidationError(
                    f"update of {self.model.__name__} rejected: {first_error(err)}. Nothing was "
                    "written.",
                    model=self.model.__name__,
                    errors=err.errors(),
                ) from None
            names.append(name)
        return blank.model_dump(include=set(names), by_alias=True)

    # -- reads ------------------------------------------------------------------------------

    async def get(
        self, doc_id: Any, *, include_deleted: bool = False, session: Session | None = None
    ) -> M | None:
        """The document with this id, or None (also None when soft-deleted, unless
        ``include_deleted=True``)."""
        raw = await self.collection.find_one(
            self._by_id(doc_id, include_deleted), session=core_session(session), plan=self._plan
        )
        return None if raw is None else await self._fetched(self._load(raw), session)

    @overload
    async def find(
        self,
        filter: Filter | None = None,
        *,
        skip: int = 0,
        limit: int = 0,
        sort: SortSpec | None = None,
        projection: None = None,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> list[M]: ...
    @overload
    async def find(
        self,
        filter: Filter | None = None,
        *,
        skip: int = 0,
        limit: int = 0,
        sort: SortSpec | None = None,
        projection: type[P],
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> list[P]: ...
    async def find(
        self,
        filter: Filter | None = None,
        *,
        skip: int = 0,
        limit: int = 0,
        sort: SortSpec | None = None,
        projection: type[BaseModel] | None = None,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> list[M] | list[Any]:
        """Every matching document (``limit=0``: no limit). With ``projection=SubModel`` only
        that model's fields are fetched, and SubModel instances come back."""
        raws = await self.collection.find(
            self._scope(filter, include_deleted),
            sort=sort_document(sort),
            skip=skip or None,
            limit=limit or None,
            projection=None if projection is None else projection_of(projection),
            session=core_session(session),
            plan=self._plan if projection is None else None,
        )
        if projection is not None:
            return [self._load_as(projection, raw) for raw in raws]
        docs = self._load_all(raws)
        if self._hooks.get("on_fetch"):
            for doc in docs:
                await self._fetched(doc, session)
        return docs

    @overload
    async def find_one(
        self,
        filter: Filter | None = None,
        *,
        sort: SortSpec | None = None,
        skip: int = 0,
        projection: None = None,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> M | None: ...
    @overload
    async def find_one(
        self,
        filter: Filter | None = None,
        *,
        sort: SortSpec | None = None,
        skip: int = 0,
        projection: type[P],
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> P | None: ...
    async def find_one(
        self,
        filter: Filter | None = None,
        *,
        sort: SortSpec | None = None,
        skip: int = 0,
        projection: type[BaseModel] | None = None,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> M | Any | None:
        """The first matching document, or None."""
        raw = await self.collection.find_one(
            self._scope(filter, include_deleted),
            sort=sort_document(sort),
            skip=skip or None,
            projection=None if projection is None else projection_of(projection),
            session=core_session(session),
            plan=self._plan if projection is None else None,
        )
        if raw is None:
            return None
        if projection is not None:
            return self._load_as(projection, raw)
        return await self._fetched(self._load(raw), session)

    async def iter(
        self,
        filter: Filter | None = None,
        *,
        skip: int = 0,
        limit: int = 0,
        sort: SortSpec | None = None,
        batch_size: int = 1000,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> AsyncIterator[M]:
        """Streams matching documents batch by batch, never holding more than one batch."""
        cursor = await self.collection.find_cursor(
            self._scope(filter, include_deleted),
            sort=sort_document(sort),
            skip=skip or None,
            limit=limit or None,
            batch_size=batch_size,
            session=core_session(session),
            plan=self._plan,
        )
        on_fetch = self._hooks.get("on_fetch")
        try:
            while batch := await cursor.next_batch():
                for raw in batch:
                    doc = self._load(raw)
                    if on_fetch:
                        await run_hooks(doc, on_fetch, session)
                    yield doc
        finally:
            await cursor.close()

    async def count(
        self,
        filter: Filter | None = None,
        *,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> int:
        """How many documents match."""
        return await self.collection.count_documents(
            self._scope(filter, include_deleted), session=core_session(session)
        )


def public_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": spec.get("name"), **comparable(spec)}
