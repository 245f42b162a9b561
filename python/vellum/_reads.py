"""A repository's state, the steps its operations share, and its reads (private module; the
writes are in :mod:`vellum.repository`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Generic, overload

from pydantic import BaseModel

from ._bridge.documents import Store, Written, as_filter
from ._models import M, ModelDocuments, P
from ._policies.timestamps import utc_now
from ._policies.versioning import Versioning
from .client import VellumClient
from .errors import DuplicateKeyError
from .model import VellumBaseModel
from .query import Filter, QueryProxy, SortSpec
from .session import Session

__all__ = ["RepositoryReads"]


class RepositoryReads(Generic[M]):
    """The state and reads of a :class:`~vellum.VellumRepository`."""

    def __init__(self, model: type[M], client: VellumClient, db_name: str | None = None) -> None:
        if not (isinstance(model, type) and issubclass(model, VellumBaseModel)):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"VellumRepository needs a VellumBaseModel subclass, got {model!r}")
        self.model: type[M] = model
        self.client = client
        self.database_name = client.database_name(db_name)
        self.collection_name = model.__vellum_settings__.collection_name
        self._store = Store(client, self.database_name, self.collection_name)
        self.collection = self._store.collection
        self._documents: ModelDocuments[M] = ModelDocuments(model, self.collection_name)
        self._policies = policies = model.__vellum_settings__.policies
        self._managed = policies.fields | {"_id"}
        self._versioning = policies.get(Versioning)

    @property
    def Q(self) -> QueryProxy:
        """The model's fields for queries: ``users.Q.age >= 18``."""
        return self.model.Q

    def __repr__(self) -> str:
        where = f"{self.database_name}.{self.collection_name}"
        return f"VellumRepository({self.model.__name__}, {where!r})"

    # -- steps shared by the operations -----------------------------------------------------

    def _scope(self, filter: Filter | None, include_deleted: bool) -> Filter:
        return self._policies.scope(as_filter(filter), include_deleted)

    def _by_id(self, doc_id: Any, include_deleted: bool = False) -> Filter:
        return self._scope({"_id": self._documents.id(doc_id)}, include_deleted)

    async def _event(self, event: str, document: Any, session: Session | None) -> None:
        if self._policies.handles(event):
            await self._policies.on(event, document, session)

    async def _fetched(self, documents: list[M], session: Session | None) -> list[M]:
        self._policies.loaded(documents)
        if self._policies.handles("on_fetch"):
            for document in documents:
                await self._policies.on("on_fetch", document, session)
        return documents

    async def _write_one(
        self,
        target: Filter,
        values: dict[str, Any],
        expected: int | None,
        session: Session | None,
        *,
        whole: bool = False,
    ) -> Written:
        """``$set`` on one document (``whole``: every field of the model), stamped by the
        policies, written by the one that takes writes over (optimistic concurrency) or as a
        plain ``$set``."""
        values = self._policies.stamp(values, utc_now(), whole)
        writer = self._policies.writer
        try:
            if writer is not None:
                return await writer.write(self._store, target, values, expected, session)
            return await self._store.set_one(target, values, session)
        except DuplicateKeyError as err:
            self._documents.enrich_duplicate(err, [values])
            raise

    # -- reads ------------------------------------------------------------------------------

    async def get(
        self, doc_id: Any, *, include_deleted: bool = False, session: Session | None = None
    ) -> M | None:
        """The document with this id, or None (also None when soft-deleted, unless
        ``include_deleted=True``)."""
        by_id = self._by_id(doc_id, include_deleted)
        raw = await self._store.find_one(by_id, session=session, plan=self._documents.read_plan)
        if raw is None:
            return None
        return (await self._fetched([self._documents.load(raw)], session))[0]

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
        raws = await self._store.find(
            self._scope(filter, include_deleted),
            sort=sort,
            skip=skip,
            limit=limit,
            projection=projection,
            session=session,
            plan=self._documents.read_plan if projection is None else None,
        )
        if projection is not None:
            return [self._documents.load_as(projection, raw) for raw in raws]
        return await self._fetched(self._documents.load_all(raws), session)

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
        raw = await self._store.find_one(
            self._scope(filter, include_deleted),
            sort=sort,
            skip=skip,
            projection=projection,
            session=session,
            plan=self._documents.read_plan if projection is None else None,
        )
        if raw is None:
            return None
        if projection is not None:
            return self._documents.load_as(projection, raw)
        return (await self._fetched([self._documents.load(raw)], session))[0]

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
        batches = await self._store.iterate(
            self._scope(filter, include_deleted),
            sort=sort,
            skip=skip,
            limit=limit,
            batch_size=batch_size,
            session=session,
            plan=self._documents.read_plan,
        )
        checked = self._policies.checks_loaded or self._policies.handles("on_fetch")
        load = self._documents.load
        async for batch in batches:
            for raw in batch:
                document = load(raw)
                if checked:
                    await self._fetched([document], session)
                yield document

    async def count(
        self,
        filter: Filter | None = None,
        *,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> int:
        """How many documents match."""
        return await self._store.count(self._scope(filter, include_deleted), session=session)
