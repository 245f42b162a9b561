"""A repository's state, the steps its operations share, and its reads (private module; the
writes are in :mod:`vellum.repository`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from pydantic import BaseModel

from ._bridge import ModelPlan, Pipeline
from ._bridge.documents import Store, Written, as_filter
from ._links import FetchLinks, LinkLoader, link_paths
from ._models import M, ModelDocuments, P
from ._policies.schema_version import SCHEMA_VERSION, SchemaVersion
from ._policies.timestamps import UPDATED_AT, utc_now
from ._policies.versioning import Versioning
from .client import VellumClient
from .errors import DuplicateKeyError
from .links import loading_source
from .model import VellumBaseModel
from .pagination import MAX_LIMIT, Page, after_filter, sort_keys, token
from .query import Filter, QField, QueryExpr, QueryProxy, raw, text_search
from .session import Session

if TYPE_CHECKING:
    from .query import FilterOf, SortOf
    from .typed import Field, ListField

T = TypeVar("T")

_SCORE = "_vellum_text_score"
"""Where ``find_text`` keeps each result's score while it sorts (removed before loading)."""

__all__ = ["RepositoryReads"]

_LINK_BATCH = 100_000
"""The batch size asked for when loading links: the server still caps a reply at 16 MiB."""


class PipelineSource:
    """A repository's collection as its aggregations run against it: the store's aggregation,
    and the repository's link loading for the results."""

    __slots__ = ("_reads", "_store")

    def __init__(self, store: Store, reads: RepositoryReads[Any]) -> None:
        self._store = store
        self._reads = reads

    async def aggregate(
        self, pipeline: Pipeline, *, session: Session | None = None, plan: ModelPlan | None = None
    ) -> list[Any]:
        return await self._store.aggregate(pipeline, session=session, plan=plan)

    async def aggregate_iterate(
        self, pipeline: Pipeline, *, session: Session | None = None, plan: ModelPlan | None = None
    ) -> AsyncIterator[list[Any]]:
        return await self._store.aggregate_iterate(pipeline, session=session, plan=plan)

    async def explain(self, pipeline: Pipeline, verbosity: str) -> dict[str, Any]:
        return await self._store.explain(pipeline, verbosity)

    async def load_links(
        self,
        documents: list[Any],
        model: type[BaseModel],
        fetch_links: FetchLinks,
        session: Session | None,
    ) -> None:
        await self._reads._links.load(documents, model, fetch_links, False, session)  # pyright: ignore[reportPrivateUsage]


class RepositoryReads(Generic[M]):
    """The state and reads of a :class:`~vellum.VellumRepository`."""

    def __init__(self, model: type[M], client: VellumClient, db_name: str | None = None) -> None:
        if not (isinstance(model, type) and issubclass(model, VellumBaseModel)):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"VellumRepository needs a VellumBaseModel subclass, got {model!r}")
        if not model.__pydantic_complete__:
            raise TypeError(
                f"{model.__name__} is not fully defined yet (a model it names, such as a link's "
                f"target, is defined later): call {model.__name__}.model_rebuild() once it is"
            )
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
        self._schema = policies.get(SchemaVersion)
        self._checks = policies.checks_loaded or policies.handles("on_fetch")
        self._links = LinkLoader(self._linked)
        self._linked_reads: dict[type[Any], RepositoryReads[Any]] = {}
        # Links read from documents remember this repository, to fetch their documents later.
        self._links_in = bool(link_paths(model))

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

    async def _read(
        self,
        raws: list[Any],
        session: Session | None,
        fetch_links: FetchLinks = None,
        include_deleted: bool = False,
    ) -> list[M]:
        """Documents (or models the core built) just read, as checked models: upgraded from
        older schema versions (and written back if the model asks), validated, handed to the
        policies and hooks, their links loaded as ``fetch_links`` asks."""
        upgraded = self._documents.upgrade_all(raws) if self._documents.upgrades else {}
        documents = self._load_all(raws)
        if upgraded and self._schema is not None and self._schema.write_back:
            await self._write_back([d for d in documents if d.id in upgraded], upgraded, session)
        if self._checks or fetch_links:
            await self._fetched(documents, session, fetch_links, include_deleted)
        return documents

    async def _write_back(
        self, documents: list[M], raws: dict[Any, dict[str, Any]], session: Session | None
    ) -> None:
        """Stores documents upgraded on read: only where the stored one is still older and
        unchanged since the read (its ``updated_at``), so a concurrent write is never undone;
        stored fields the model does not declare are kept."""
        current = self._schema.current if self._schema else 0
        stored = self._documents.checked(documents)
        filters: list[Mapping[str, Any]] = []
        for document in stored:
            raw = raws[document["_id"]]
            document.update({k: v for k, v in raw.items() if k not in document})
            filters.append(
                {
                    SCHEMA_VERSION: {"$not": {"$gte": current}},
                    UPDATED_AT: raw.get(UPDATED_AT),
                }
            )
        await self._store.replace_many(stored, filters, session, None)

    def _load_all(self, raws: list[Any]) -> list[M]:
        if not self._links_in:
            return self._documents.load_all(raws)
        token = loading_source.set(self)
        try:
            return self._documents.load_all(raws)
        finally:
            loading_source.reset(token)

    async def _fetched(
        self,
        documents: list[M],
        session: Session | None,
        fetch_links: FetchLinks = None,
        include_deleted: bool = False,
    ) -> list[M]:
        """Documents just read: checked by the policies, handed to the ``on_fetch`` hooks
        (once each), and their links loaded as ``fetch_links`` asks."""
        self._policies.loaded(documents)
        if self._policies.handles("on_fetch"):
            for document in documents:
                await self._policies.on("on_fetch", document, session)
        if fetch_links:
            await self._links.load(documents, self.model, fetch_links, include_deleted, session)
        return documents

    # -- links ------------------------------------------------------------------------------

    def _linked(self, model: type[Any]) -> RepositoryReads[Any]:
        """The reads of a linked model, in this repository's database."""
        reads = self._linked_reads.get(model)
        if reads is None:
            reads = type(self)(model, self.client, self.database_name)
            self._linked_reads[model] = reads
        return reads

    async def find_linked(
        self,
        filter: Mapping[str, Any],
        fetch_links: FetchLinks,
        include_deleted: bool,
        session: Session | None,
    ) -> list[M]:
        """The documents a link path of another model points to (one ``$in`` query, read in
        as few batches as the server allows)."""
        raws = await self._store.find(
            self._scope(filter, include_deleted),
            session=session,
            plan=self._documents.read_plan,
            batch_size=_LINK_BATCH,
        )
        return await self._read(raws, session, fetch_links, include_deleted)

    async def fetch_one(self, model: type[Any], doc_id: Any, session: Session | None) -> Any:
        """A link's document, for ``await link.fetch()``."""
        return await self._linked(model).get(doc_id, session=session)

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
            return await self._store.set_one(target, values, session, self._documents.read_plan)
        except DuplicateKeyError as err:
            self._documents.enrich_duplicate(err, [values])
            raise

    # -- reads ------------------------------------------------------------------------------

    async def get(
        self,
        doc_id: Any,
        *,
        fetch_links: FetchLinks = None,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> M | None:
        """The document with this id, or None (also None when soft-deleted, unless
        ``include_deleted=True``). ``fetch_links``: see :meth:`find`."""
        by_id = self._by_id(doc_id, include_deleted)
        raw = await self._store.find_one(by_id, session=session, plan=self._documents.read_plan)
        if raw is None:
            return None
        return (await self._read([raw], session, fetch_links, include_deleted))[0]

    @overload
    async def find(
        self,
        filter: FilterOf[M] | None = None,
        *,
        skip: int = 0,
        limit: int = 0,
        sort: SortOf[M] | None = None,
        projection: None = None,
        fetch_links: FetchLinks = None,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> list[M]: ...
    @overload
    async def find(
        self,
        filter: FilterOf[M] | None = None,
        *,
        skip: int = 0,
        limit: int = 0,
        sort: SortOf[M] | None = None,
        projection: type[P],
        fetch_links: FetchLinks = None,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> list[P]: ...
    async def find(
        self,
        filter: FilterOf[M] | None = None,
        *,
        skip: int = 0,
        limit: int = 0,
        sort: SortOf[M] | None = None,
        projection: type[BaseModel] | None = None,
        fetch_links: FetchLinks = None,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> list[M] | list[Any]:
        """Every matching document (``limit=0``: no limit). With ``projection=SubModel`` only
        that model's fields are fetched, and SubModel instances come back.

        ``fetch_links`` loads the documents the results link to: True for every link field
        (one level), a depth (links of the linked documents too, up to 10), or the paths to
        load (``["author", "author.publisher", "chapters.reviewer"]``). Each link path costs
        one ``$in`` query for the whole result (the paths of a level run concurrently); a
        target that is gone (or soft-deleted, unless ``include_deleted=True``) loads as a
        missing link."""
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
            projected = [self._documents.load_as(projection, raw) for raw in raws]
            if fetch_links:
                await self._links.load(projected, projection, fetch_links, include_deleted, session)
            return projected
        return await self._read(raws, session, fetch_links, include_deleted)

    @overload
    async def find_one(
        self,
        filter: FilterOf[M] | None = None,
        *,
        sort: SortOf[M] | None = None,
        skip: int = 0,
        projection: None = None,
        fetch_links: FetchLinks = None,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> M | None: ...
    @overload
    async def find_one(
        self,
        filter: FilterOf[M] | None = None,
        *,
        sort: SortOf[M] | None = None,
        skip: int = 0,
        projection: type[P],
        fetch_links: FetchLinks = None,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> P | None: ...
    async def find_one(
        self,
        filter: FilterOf[M] | None = None,
        *,
        sort: SortOf[M] | None = None,
        skip: int = 0,
        projection: type[BaseModel] | None = None,
        fetch_links: FetchLinks = None,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> M | Any | None:
        """The first matching document, or None. ``fetch_links``: see :meth:`find`."""
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
            projected = self._documents.load_as(projection, raw)
            if fetch_links:
                await self._links.load(
                    [projected], projection, fetch_links, include_deleted, session
                )
            return projected
        return (await self._read([raw], session, fetch_links, include_deleted))[0]

    async def paginate(
        self,
        filter: FilterOf[M] | None = None,
        *,
        sort: SortOf[M] | None = None,
        limit: int = 20,
        after: str | None = None,
        fetch_links: FetchLinks = None,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> Page[M]:
        """One page of matching documents in ``sort`` order, and the token of the next page
        (``page.next_after``, None on the last page): pass it back as ``after=`` with the same
        filter and sort.

        Keyset pagination: the next page starts strictly after the last document's sort values
        (``_id`` breaks ties, and is added to the sort if it is not in it), so pages stay
        stable when documents are inserted or deleted between requests, and page 1 000 costs
        what page 1 does when the sort keys are indexed. Sort on fields that hold one value of
        one type (numbers of any type compare with each other; null and missing sort first);
        sorting on a list is refused. A token made for another sort, or not by ``paginate``,
        raises :class:`~vellum.PageTokenError`."""
        if isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit!r}")
        keys = sort_keys(sort)
        scoped = as_filter(filter)
        if after is not None:
            position = after_filter(keys, after)
            scoped = (
                scoped & position
                if isinstance(scoped, QueryExpr)
                else position
                if not scoped
                else QueryExpr.raw(scoped) & position
            )
        found = await self.find(
            scoped,
            sort=keys,
            limit=limit + 1,
            fetch_links=fetch_links,
            include_deleted=include_deleted,
            session=session,
        )
        items = found[:limit]
        more = len(found) > limit
        return Page(items=items, next_after=token(keys, items[-1]) if more else None)

    async def iter(
        self,
        filter: FilterOf[M] | None = None,
        *,
        skip: int = 0,
        limit: int = 0,
        sort: SortOf[M] | None = None,
        batch_size: int = 1000,
        fetch_links: FetchLinks = None,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> AsyncIterator[M]:
        """Streams matching documents batch by batch, never holding more than one batch.
        ``fetch_links`` (see :meth:`find`) loads the links of each batch with one query per
        link path."""
        batches = await self._store.iterate(
            self._scope(filter, include_deleted),
            sort=sort,
            skip=skip,
            limit=limit,
            batch_size=batch_size,
            session=session,
            plan=self._documents.read_plan,
        )
        async for batch in batches:
            for document in await self._read(batch, session, fetch_links, include_deleted):
                yield document

    async def find_text(
        self,
        search: str,
        filter: FilterOf[M] | None = None,
        *,
        limit: int = 0,
        language: str | None = None,
        case_sensitive: bool | None = None,
        fetch_links: FetchLinks = None,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> list[tuple[M, float]]:
        """The documents that match ``search`` in the collection's text index (and ``filter``),
        best first, each with its relevance score (MongoDB's ``textScore``). The collection
        needs a text index (``Index([("title", "text")])``)."""
        matched = text_search(search, language=language, case_sensitive=case_sensitive)
        if filter is not None:
            matched = matched & (filter if isinstance(filter, QueryExpr) else raw(filter))
        pipeline = (
            Pipeline()
            .with_stage("$match", self._scope(matched, include_deleted))
            .with_stage("$set", {_SCORE: {"$meta": "textScore"}})
            .with_stage("$sort", {_SCORE: {"$meta": "textScore"}})
        )
        if limit:
            pipeline = pipeline.with_stage("$limit", limit)
        raws: list[dict[str, Any]] = await self._store.aggregate(pipeline, session=session)
        scores = [float(raw.pop(_SCORE)) for raw in raws]
        documents = await self._read(list(raws), session, fetch_links, include_deleted)
        return list(zip(documents, scores, strict=True))

    @overload
    async def distinct(
        self,
        field: ListField[Any, T],
        filter: FilterOf[M] | None = None,
        *,
        include_deleted: bool = False,
    ) -> list[T]: ...
    @overload
    async def distinct(
        self,
        field: Field[Any, T],
        filter: FilterOf[M] | None = None,
        *,
        include_deleted: bool = False,
    ) -> list[T]: ...
    @overload
    async def distinct(
        self,
        field: QField | str,
        filter: FilterOf[M] | None = None,
        *,
        include_deleted: bool = False,
    ) -> list[Any]: ...
    async def distinct(
        self,
        field: Any,
        filter: FilterOf[M] | None = None,
        *,
        include_deleted: bool = False,
    ) -> list[Any]:
        """The distinct values of ``field`` among the matching documents (MongoDB's
        ``distinct``: the elements of a list field each count), as the field's type gives
        them. A typed field (``vellum typegen``) types the result: ``list[str]`` for a
        ``list[str]`` field."""
        q = field if isinstance(field, QField) else self.model.Q[field]
        scoped = self._scope(filter, include_deleted)
        query = scoped.to_filter() if isinstance(scoped, QueryExpr) else dict(scoped)
        reply = await self.client.command(
            {"distinct": self.collection_name, "key": q.path, "query": query},
            self.database_name,
        )
        return [q.stored_value(value) for value in reply.get("values", [])]

    async def count(
        self,
        filter: FilterOf[M] | None = None,
        *,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> int:
        """How many documents match."""
        return await self._store.count(self._scope(filter, include_deleted), session=session)
