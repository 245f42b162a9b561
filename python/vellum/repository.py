"""``VellumRepository``: CRUD, queries and indexes for one model's collection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from pydantic import BaseModel, TypeAdapter, ValidationError

from . import _core  # pyright: ignore[reportPrivateUsage]
from .aggregation import AggregationPipeline
from .client import VellumClient
from .errors import (
    DocumentValidationError,
    DuplicateKeyError,
    IndexConflictError,
    OptimisticLockError,
    QueryError,
)
from .hooks import run_hooks
from .indexes import Index, comparable
from .model import VellumBaseModel
from .query import QueryExpr, QueryProxy, SortKey, UpdateSpec
from .session import Session, TransactionContext, TransactionSettings

__all__ = ["Filter", "SortSpec", "UpdateResult", "VellumRepository"]

if TYPE_CHECKING:
    from typing_extensions import Unpack

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
_MANAGED = frozenset({"id", "created_at", "updated_at"})


def _now() -> datetime:
    """Now in UTC, truncated to the millisecond BSON stores, so a returned model equals the
    stored one."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


def _filter(filter: Filter | None) -> Filter:
    if filter is None:
        return {}
    if isinstance(filter, (Mapping, QueryExpr)):  # pyright: ignore[reportUnnecessaryIsInstance]
        return filter
    raise TypeError(
        f"a filter is a query expression (Model.Q.field == value) or a dict, got {filter!r}"
    )


def _sort_document(sort: SortSpec | None) -> dict[str, int] | None:
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


def _first_error(err: ValidationError) -> str:
    parts: list[str] = []
    for e in err.errors()[:3]:
        loc = ".".join(str(p) for p in e["loc"]) or "(document)"
        parts.append(f"{loc}: {e['msg']}")
    more = err.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def core_session(session: Session | None) -> _core.Session | None:
    if session is None:
        return None
    if not isinstance(session, Session):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(
            f"session= takes a vellum Session (from client.start_session() or "
            f"client.transaction()), got {type(session).__name__}"
        )
    return session._core  # pyright: ignore[reportPrivateUsage]


def _projection(model: type[BaseModel]) -> dict[str, int]:
    """Fetch only ``model``'s fields (by their stored names)."""
    spec = {(field.alias or name): 1 for name, field in model.model_fields.items()}
    if "_id" not in spec:
        spec["_id"] = 0
    return spec


_MANAGED_PATHS = ("_id", "created_at", "updated_at")


class VellumRepository(Generic[M]):
    """Stores and loads one model's documents.

    >>> users = VellumRepository(User, client, "app")   # doctest: +SKIP
    >>> ada = await users.create(User(name="Ada", email="ada@example.com"))   # doctest: +SKIP

    Documents are validated by the model on the way in and on the way out: a stored document
    that no longer fits raises :class:`DocumentValidationError` naming its ``_id`` and field.
    """

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
                f"{doc_id!r} is not a valid id for {self.model.__name__}: {_first_error(err)}",
                model=self.model.__name__,
                document_id=doc_id,
                errors=err.errors(),
            ) from None

    def _load(self, raw: dict[str, Any]) -> M:
        return self._load_as(self.model, raw)

    def _load_as(self, model: type[P], raw: dict[str, Any]) -> P:
        try:
            return model.model_validate(raw)
        except ValidationError as err:
            raise DocumentValidationError(
                f"stored document _id={raw.get('_id')!r} in {self.collection_name!r} does not "
                f"fit {model.__name__}: {_first_error(err)}. Migrate the document or relax "
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
                    f"document does not fit {self.model.__name__}: {_first_error(err)}",
                    model=self.model.__name__,
                    document_id=document.get("_id", document.get("id")),
                    errors=err.errors(),
                ) from None
        raise TypeError(
            f"expected a {self.model.__name__} or a dict, got {type(document).__name__}"
        )

    def _scope(self, filter: Filter | None, include_deleted: bool) -> Filter:
        """The filter, narrowed to live documents for a soft-deletable model."""
        base = _filter(filter)
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

    @staticmethod
    def _stamp(document: VellumBaseModel, created: datetime | None, updated: datetime) -> None:
        # Set without re-running assignment validation: the values are already UTC datetimes.
        fields_set = document.__pydantic_fields_set__
        if created is not None:
            object.__setattr__(document, "created_at", created)
            fields_set.add("created_at")
        object.__setattr__(document, "updated_at", updated)
        fields_set.add("updated_at")

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
                if name not in _MANAGED
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
            if name in _MANAGED:
                raise DocumentValidationError(
                    f"{name!r} is managed by the repository and cannot be updated. Nothing was "
                    "written.",
                    model=self.model.__name__,
                )
            try:
                validator.validate_assignment(blank, name, value)
            except ValidationError as err:
                raise DocumentValidationError(
                    f"update of {self.model.__name__} rejected: {_first_error(err)}. Nothing was "
                    "written.",
                    model=self.model.__name__,
                    errors=err.errors(),
                ) from None
            names.append(name)
        return blank.model_dump(include=set(names), by_alias=True)

    # -- writes -----------------------------------------------------------------------------

    async def create(
        self,
        document: M | Mapping[str, Any],
        *,
        session: Session | None = None,
        skip_hooks: bool = False,
    ) -> M:
        """Inserts a document and returns it with ``created_at``/``updated_at`` set (and
        ``version`` 1 for a versioned model). Runs ``before_insert`` hooks (which may change the
        document, or raise to cancel the insert) and ``after_insert`` hooks."""
        doc = self._coerce(document)
        if not skip_hooks:
            await self._hooks_for("before_insert", doc, session)
        self._prepare_insert(doc)
        raw = doc.model_dump(by_alias=True)
        try:
            await self.collection.insert_one(raw, session=core_session(session))
        except DuplicateKeyError as err:
            self._enrich_duplicate(err, [raw])
            raise
        if not skip_hooks:
            await self._hooks_for("after_insert", doc, session)
        return doc

    def _prepare_insert(self, doc: M, now: datetime | None = None) -> None:
        now = now or _now()
        self._stamp(doc, now, now)
        if self._versioned:
            self._set_field(doc, "version", 1)

    async def create_many(
        self,
        documents: Iterable[M | Mapping[str, Any]],
        *,
        ordered: bool = True,
        session: Session | None = None,
        skip_hooks: bool = False,
    ) -> list[M]:
        """Inserts documents in bulk, running the insert hooks of each. With ``ordered=True``
        (the default) the first failure stops the batch; the documents before it are stored."""
        docs = [self._coerce(d) for d in documents]
        if not skip_hooks:
            for doc in docs:
                await self._hooks_for("before_insert", doc, session)
        now = _now()
        for doc in docs:
            self._prepare_insert(doc, now)
        raws = [doc.model_dump(by_alias=True) for doc in docs]
        try:
            await self.collection.insert_many(raws, ordered=ordered, session=core_session(session))
        except DuplicateKeyError as err:
            self._enrich_duplicate(err, raws)
            raise
        if not skip_hooks:
            for doc in docs:
                await self._hooks_for("after_insert", doc, session)
        return docs

    async def update(
        self,
        doc_id: Any,
        changes: BaseModel | Mapping[str, Any],
        *,
        expected_version: int | None = None,
        include_deleted: bool = False,
        session: Session | None = None,
        skip_hooks: bool = False,
    ) -> M | None:
        """Sets the given fields (validated against the model first) and a fresh
        ``updated_at``; returns the stored document after the update, or None if no document
        has that id.

        With ``before_update`` hooks the document is read first, the changes applied to it,
        and the hooks run on the result: what they change is written too. For a versioned
        model the write filters on the version it started from (``expected_version``, or the
        version read for the hooks) and raises :class:`OptimisticLockError` on a conflict.
        """
        values = self._changes(changes)
        expected = expected_version
        before_hooks = () if skip_hooks else self._hooks.get("before_update", ())
        if expected is not None and not self._versioned:
            raise TypeError(
                f"expected_version needs a versioned model; {self.model.__name__} is not"
            )
        if before_hooks:
            current = await self.get(doc_id, include_deleted=include_deleted, session=session)
            if current is None:
                return None
            if expected is None and self._versioned:
                expected = int(current.model_dump(include={"version"})["version"])
            merged = self.model.model_validate({**current.model_dump(by_alias=True), **values})
            baseline = merged.model_dump(by_alias=True)
            await run_hooks(merged, before_hooks, session)
            final = merged.model_dump(by_alias=True)
            values = {
                key: value
                for key, value in final.items()
                if key not in _MANAGED_PATHS
                and key != "version"
                and (key in values or value != baseline.get(key))
            }
        values["updated_at"] = _now()
        stored = await self._write(doc_id, values, expected, include_deleted, session)
        if stored is not None and not skip_hooks:
            await self._hooks_for("after_update", stored, session)
        return stored

    async def _write(
        self,
        doc_id: Any,
        values: dict[str, Any],
        expected: int | None,
        include_deleted: bool,
        session: Session | None,
    ) -> M | None:
        """``$set`` on one document by id: through the core's optimistic concurrency control
        for a versioned model, else a plain findAndModify."""
        native = core_session(session)
        target = self._by_id(doc_id, include_deleted)
        try:
            if self._versioned:
                raw, exists, current = await self.collection.versioned_update(
                    target, values, expected, session=native
                )
                if raw is None and exists and expected is not None:
                    raise OptimisticLockError(self._id(doc_id), expected, current)
                if raw is None and expected is not None and not exists:
                    raise OptimisticLockError(self._id(doc_id), expected, None)
            else:
                raw = await self.collection.find_one_and_update(
                    target, {"$set": values}, return_after=True, session=native
                )
        except DuplicateKeyError as err:
            self._enrich_duplicate(err, [values])
            raise
        return None if raw is None else self._load(raw)

    async def save(
        self, document: M, *, session: Session | None = None, skip_hooks: bool = False
    ) -> M:
        """Writes every field of a stored document back (``created_at`` excepted) and returns
        the stored result. A document not stored yet is created.

        For a versioned model the write filters on ``document.version`` and increments it: if
        someone else saved first, :class:`OptimisticLockError` is raised and the stored document
        is left unchanged. Runs the update hooks.
        """
        if not isinstance(document, self.model):
            raise TypeError(f"save() takes a {self.model.__name__}, got {type(document).__name__}")
        if not skip_hooks:
            await self._hooks_for("before_update", document, session)
        raw = document.model_dump(by_alias=True)
        values = {k: v for k, v in raw.items() if k not in _MANAGED_PATHS and k != "version"}
        values["updated_at"] = _now()
        expected = getattr(document, "version", None) if self._versioned else None
        native = core_session(session)
        if self._versioned:
            stored_raw, exists, current = await self.collection.versioned_update(
                {"_id": raw["_id"]}, values, expected, session=native
            )
            if stored_raw is None and exists:
                raise OptimisticLockError(raw["_id"], expected or 0, current)
        else:
            stored_raw = await self.collection.find_one_and_update(
                {"_id": raw["_id"]}, {"$set": values}, return_after=True, session=native
            )
        if stored_raw is None:  # not stored yet
            return await self.create(document, session=session, skip_hooks=skip_hooks)
        stored = self._load(stored_raw)
        for name in ("updated_at", "version"):
            if name in self.model.model_fields:
                self._set_field(document, name, getattr(stored, name))
        if not skip_hooks:
            await self._hooks_for("after_update", stored, session)
        return stored

    def _update_spec(self, updates: Sequence[UpdateSpec]) -> UpdateSpec:
        for update in updates:
            if not isinstance(update, UpdateSpec):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise TypeError(
                    f"updates are Model.Q expressions such as User.Q.age.inc(1), got {update!r}"
                )
            for path in (*_MANAGED_PATHS, "version", "deleted_at"):
                managed = path != "deleted_at" or self._soft_delete
                if managed and update.touches(path):
                    raise QueryError(
                        f"{path!r} is managed by the repository and cannot be updated: {update!r}"
                    )
        extra = [UpdateSpec("$set", "updated_at", _now())]
        if self._versioned:
            extra.append(UpdateSpec("$inc", "version", 1))
        return UpdateSpec.combine([*updates, *extra])

    async def update_one(
        self,
        filter: Filter,
        *updates: UpdateSpec,
        upsert: bool = False,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> UpdateResult:
        """Applies the updates (``User.Q.age.inc(1)``...) to the first matching document and
        refreshes its ``updated_at`` (and increments ``version`` for a versioned model).
        Runs no hooks: it is a server-side update of documents that are never loaded."""
        return await self._update(filter, updates, upsert, include_deleted, session, many=False)

    async def update_many(
        self,
        filter: Filter,
        *updates: UpdateSpec,
        upsert: bool = False,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> UpdateResult:
        """Applies the updates to every matching document and refreshes their ``updated_at``
        (and increments ``version`` for a versioned model). Runs no hooks: documents are
        changed on the server without being loaded; use ``update``/``save`` per document when
        hooks must run."""
        return await self._update(filter, updates, upsert, include_deleted, session, many=True)

    async def _update(
        self,
        filter: Filter,
        updates: Sequence[UpdateSpec],
        upsert: bool,
        include_deleted: bool,
        session: Session | None,
        *,
        many: bool,
    ) -> UpdateResult:
        if not updates:
            raise ValueError("pass at least one update, such as User.Q.age.inc(1)")
        spec = self._update_spec(updates)
        run = self.collection.update_many if many else self.collection.update_one
        matched, modified, upserted = await run(
            self._scope(filter, include_deleted),
            spec,
            upsert=upsert,
            session=core_session(session),
        )
        return UpdateResult(matched, modified, None if upserted is None else upserted["_id"])

    async def delete(
        self, doc_id: Any, *, session: Session | None = None, skip_hooks: bool = False
    ) -> bool:
        """Deletes one document for good (soft-deleted or not); True if it existed. With
        ``before_delete``/``after_delete`` hooks the document is read first and handed to
        them; a before-hook that raises cancels the delete."""
        native = core_session(session)
        hooked = not skip_hooks and (
            self._hooks.get("before_delete") or self._hooks.get("after_delete")
        )
        document = None
        if hooked:
            document = await self.get(doc_id, include_deleted=True, session=session)
            if document is None:
                return False
            await self._hooks_for("before_delete", document, session)
        deleted = await self.collection.delete_one({"_id": self._id(doc_id)}, session=native)
        if deleted and document is not None:
            await self._hooks_for("after_delete", document, session)
        return deleted == 1

    async def delete_many(
        self, filter: Filter, *, include_deleted: bool = True, session: Session | None = None
    ) -> int:
        """Deletes every matching document for good; returns how many. An empty filter deletes
        all. Runs no hooks: documents are deleted on the server without being loaded."""
        return await self.collection.delete_many(
            self._scope(filter, include_deleted), session=core_session(session)
        )

    async def soft_delete(
        self, doc_id: Any, *, session: Session | None = None, skip_hooks: bool = False
    ) -> bool:
        """Marks a document deleted (``deleted_at``); reads then leave it out unless
        ``include_deleted=True``. Runs the delete hooks. True if a live document was marked."""
        self._need_soft_delete("soft_delete")
        document = None
        hooked = not skip_hooks and (
            self._hooks.get("before_delete") or self._hooks.get("after_delete")
        )
        if hooked:
            document = await self.get(doc_id, session=session)
            if document is None:
                return False
            await self._hooks_for("before_delete", document, session)
        now = _now()
        stored = await self._write(
            doc_id, {"deleted_at": now, "updated_at": now}, None, False, session
        )
        if stored is not None and hooked:
            await self._hooks_for("after_delete", stored, session)
        return stored is not None

    async def restore(self, doc_id: Any, *, session: Session | None = None) -> bool:
        """Brings a soft-deleted document back; True if one was restored."""
        self._need_soft_delete("restore")
        target = {"_id": self._id(doc_id), "deleted_at": {"$ne": None}}
        now = _now()
        if self._versioned:
            raw, _, _ = await self.collection.versioned_update(
                target,
                {"deleted_at": None, "updated_at": now},
                None,
                session=core_session(session),
            )
        else:
            raw = await self.collection.find_one_and_update(
                target,
                {"$set": {"deleted_at": None, "updated_at": now}},
                session=core_session(session),
            )
        return raw is not None

    def _need_soft_delete(self, what: str) -> None:
        if not self._soft_delete:
            raise TypeError(
                f"{what}() needs a soft-deletable model: inherit vellum.SoftDeletable in "
                f"{self.model.__name__} (or set Settings.soft_delete = True)"
            )

    # -- reads ------------------------------------------------------------------------------

    async def get(
        self, doc_id: Any, *, include_deleted: bool = False, session: Session | None = None
    ) -> M | None:
        """The document with this id, or None (also None when soft-deleted, unless
        ``include_deleted=True``)."""
        raw = await self.collection.find_one(
            self._by_id(doc_id, include_deleted), session=core_session(session)
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
            sort=_sort_document(sort),
            skip=skip or None,
            limit=limit or None,
            projection=None if projection is None else _projection(projection),
            session=core_session(session),
        )
        if projection is not None:
            return [self._load_as(projection, raw) for raw in raws]
        docs = [self._load(raw) for raw in raws]
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
            sort=_sort_document(sort),
            skip=skip or None,
            projection=None if projection is None else _projection(projection),
            session=core_session(session),
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
            sort=_sort_document(sort),
            skip=skip or None,
            limit=limit or None,
            batch_size=batch_size,
            session=core_session(session),
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

    def aggregate_pipeline(
        self, *, include_deleted: bool = False, session: Session | None = None
    ) -> AggregationPipeline[M]:
        """An aggregation pipeline over this collection, to chain stages on. For a
        soft-deletable model it starts by leaving deleted documents out, unless
        ``include_deleted=True``. ``session`` is used by every run of the pipeline."""
        pipeline = _core.Pipeline()
        if self._soft_delete and not include_deleted:
            pipeline = pipeline.with_stage("$match", {"deleted_at": None})
        return AggregationPipeline(self, pipeline, self.model, "the collection", session)

    # -- indexes ----------------------------------------------------------------------------

    async def ensure_indexes(self, *, session: Session | None = None) -> list[str]:
        """Creates the model's declared indexes; returns the names it created.

        An identical existing index is left alone. One with the same name or the same keys but
        other options raises :class:`IndexConflictError` showing both definitions.
        """
        declared = self.model.__vellum_settings__.indexes
        native = core_session(session)
        existing = await self.collection.list_indexes(session=native)
        missing: list[Index] = []
        for index in declared:
            wanted = comparable(index.spec())
            match = next(
                (
                    spec
                    for spec in existing
                    if spec.get("name") == index.name
                    or comparable(spec).get("key") == wanted["key"]
                ),
                None,
            )
            if match is None:
                missing.append(index)
            elif comparable(match) != wanted or match.get("name") != index.name:
                raise IndexConflictError(self.collection_name, index.spec(), _public_spec(match))
        if missing:
            await self.collection.create_indexes(
                [index.spec() for index in missing], session=native
            )
        return [index.name for index in missing]

    async def list_indexes(self, *, session: Session | None = None) -> list[dict[str, Any]]:
        specs = await self.collection.list_indexes(session=core_session(session))
        return [_public_spec(spec) for spec in specs]

    async def drop_index(self, name: str, *, session: Session | None = None) -> None:
        await self.collection.drop_index(name, session=core_session(session))

    async def drop_indexes(self, *, session: Session | None = None) -> None:
        """Drops every index but ``_id_``."""
        await self.collection.drop_indexes(session=core_session(session))

    def transaction(
        self, *, session: Session | None = None, **options: Unpack[TransactionSettings]
    ) -> TransactionContext:
        """Shortcut for ``client.transaction(...)``."""
        return self.client.transaction(session=session, **options)


def _public_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": spec.get("name"), **comparable(spec)}
