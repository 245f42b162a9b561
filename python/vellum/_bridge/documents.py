"""One collection's operations, as the repository and the aggregation builder use them: Python
options (filters, sort specs, projection models, sessions) become the core's arguments, and the
core's results become Python values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from ..client import VellumClient
from ..errors import QueryError
from ..query import Filter, QueryExpr, SortKey, SortSpec, UpdateSpec
from ..session import Session
from . import ModelPlan, NativeClient, NativeCollection, NativeCursor, NativeSession, Pipeline
from .timeouts import bounded

if TYPE_CHECKING:
    from .._core import BulkOutcome

__all__ = ["Store", "UpdateResult", "Written", "core_session"]

Raw = dict[str, Any]
Plan = ModelPlan | None


@dataclass(frozen=True)
class UpdateResult:
    """What ``update_one``/``update_many``/``replace_many`` did."""

    matched: int
    modified: int
    upserted_id: Any = None


@dataclass(frozen=True, slots=True)
class Written:
    """A one-document write: the stored document after it (None if nothing matched), whether
    a document matched the target without its version guard, and its current version then."""

    document: Raw | None
    exists: bool
    current_version: int | None = None


def core_session(session: Session | None) -> NativeSession | None:
    """The core's session behind ``session=`` (or None), checking that it is a vellum Session."""
    if session is None:
        return None
    if not isinstance(session, Session):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(
            f"session= takes a vellum Session (from client.start_session() or "
            f"client.transaction()), got {type(session).__name__}"
        )
    return session._core  # pyright: ignore[reportPrivateUsage]


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


def projection_of(model: type[BaseModel] | None) -> dict[str, int] | None:
    """Fetch only ``model``'s fields (by their stored names)."""
    if model is None:
        return None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise QueryError(
            f"projection= takes a pydantic model class whose fields are fetched (such as "
            f"projection=UserName), got {model!r}"
        )
    spec = {(field.alias or name): 1 for name, field in model.model_fields.items()}
    if "_id" not in spec:
        spec["_id"] = 0
    return spec


def across_links(
    filter: Filter,
    *,
    sort: SortSpec | None = None,
    skip: int = 0,
    limit: int = 0,
    projection: type[BaseModel] | None = None,
) -> Pipeline | None:
    """For a filter that reads linked documents (``Book.Q.author.name == "Ada"``): the
    aggregation the core compiles for it (``$lookup`` stages, ``$match``, looked-up fields
    removed), then the read's sort, skip, limit and projection. None for any other filter."""
    if not (isinstance(filter, QueryExpr) and filter.needs_lookup):
        return None
    pipeline = filter.lookup_pipeline()
    order = sort_document(sort)
    if order:
        pipeline = pipeline.with_stage("$sort", order)
    if skip:
        pipeline = pipeline.with_stage("$skip", skip)
    if limit:
        pipeline = pipeline.with_stage("$limit", limit)
    fields = projection_of(projection)
    if fields:
        pipeline = pipeline.with_stage("$project", fields)
    return pipeline


async def batches(cursor: NativeCursor, timeout_ms: int | None) -> AsyncIterator[list[Any]]:
    """A core cursor's batches (documents, or models the core built), each fetched within the
    operation bound; closes the cursor at the end, or when the consumer stops early."""
    try:
        while batch := await bounded(cursor.next_batch, timeout_ms):
            yield batch
    finally:
        await cursor.close()


class Store:
    """One collection in one database of a client."""

    __slots__ = ("_client", "_timeout_ms", "collection", "database_name", "name")

    def __init__(self, client: VellumClient, database_name: str, name: str) -> None:
        self._client: NativeClient = client._core  # pyright: ignore[reportPrivateUsage]
        self._timeout_ms = self._client.timeout_ms
        self.database_name = database_name
        self.name = name
        self.collection: NativeCollection = self._client.collection(database_name, name)

    def sibling(self, name: str) -> Store:
        """Another collection of the same database, through the same client (for the records
        Vellum keeps beside a collection, such as which of its indexes Vellum created)."""
        other = Store.__new__(Store)
        other._client = self._client
        other._timeout_ms = self._timeout_ms
        other.database_name = self.database_name
        other.name = name
        other.collection = self._client.collection(self.database_name, name)
        return other

    # -- reads ------------------------------------------------------------------------------

    async def find(
        self,
        filter: Filter,
        *,
        sort: SortSpec | None = None,
        skip: int = 0,
        limit: int = 0,
        projection: type[BaseModel] | None = None,
        session: Session | None = None,
        plan: Plan = None,
        batch_size: int | None = None,
    ) -> list[Any]:
        pipeline = across_links(filter, sort=sort, skip=skip, limit=limit, projection=projection)
        if pipeline is not None:
            return await self.aggregate(pipeline, session=session, plan=plan)
        return await bounded(
            lambda: self.collection.find(
                as_filter(filter),
                sort=sort_document(sort),
                skip=skip or None,
                limit=limit or None,
                projection=projection_of(projection),
                batch_size=batch_size,
                session=core_session(session),
                plan=plan,
            ),
            self._timeout_ms,
        )

    async def find_one(
        self,
        filter: Filter,
        *,
        sort: SortSpec | None = None,
        skip: int = 0,
        projection: type[BaseModel] | None = None,
        session: Session | None = None,
        plan: Plan = None,
    ) -> Any:
        pipeline = across_links(filter, sort=sort, skip=skip, limit=1, projection=projection)
        if pipeline is not None:
            found = await self.aggregate(pipeline, session=session, plan=plan)
            return found[0] if found else None
        return await bounded(
            lambda: self.collection.find_one(
                as_filter(filter),
                sort=sort_document(sort),
                skip=skip or None,
                projection=projection_of(projection),
                session=core_session(session),
                plan=plan,
            ),
            self._timeout_ms,
        )

    async def iterate(
        self,
        filter: Filter,
        *,
        sort: SortSpec | None = None,
        skip: int = 0,
        limit: int = 0,
        batch_size: int = 1000,
        session: Session | None = None,
        plan: Plan = None,
    ) -> AsyncIterator[list[Any]]:
        pipeline = across_links(filter, sort=sort, skip=skip, limit=limit)
        if pipeline is not None:
            return await self.aggregate_iterate(pipeline, session=session, plan=plan)
        cursor = await bounded(
            lambda: self.collection.find_cursor(
                as_filter(filter),
                sort=sort_document(sort),
                skip=skip or None,
                limit=limit or None,
                batch_size=batch_size,
                session=core_session(session),
                plan=plan,
            ),
            self._timeout_ms,
        )
        return batches(cursor, self._timeout_ms)

    async def stored_ids(self, ids: list[Any], session: Session | None) -> set[Any]:
        """Which of ``ids`` are the ``_id`` of a stored document (deleted-soft or not)."""
        found = await bounded(
            lambda: self.collection.find(
                {"_id": {"$in": ids}}, projection={"_id": 1}, session=core_session(session)
            ),
            self._timeout_ms,
        )
        return {doc["_id"] for doc in found}

    async def count(self, filter: Filter, *, session: Session | None = None) -> int:
        pipeline = across_links(filter)
        if pipeline is not None:
            rows = await self.aggregate(pipeline.with_stage("$count", "n"), session=session)
            return int(rows[0]["n"]) if rows else 0
        return await bounded(
            lambda: self.collection.count_documents(
                as_filter(filter), session=core_session(session)
            ),
            self._timeout_ms,
        )

    async def aggregate(
        self, pipeline: Pipeline, *, session: Session | None = None, plan: Plan = None
    ) -> list[Any]:
        return await bounded(
            lambda: self.collection.aggregate(pipeline, session=core_session(session), plan=plan),
            self._timeout_ms,
        )

    async def aggregate_iterate(
        self, pipeline: Pipeline, *, session: Session | None = None, plan: Plan = None
    ) -> AsyncIterator[list[Any]]:
        cursor = await bounded(
            lambda: self.collection.aggregate_cursor(
                pipeline, session=core_session(session), plan=plan
            ),
            self._timeout_ms,
        )
        return batches(cursor, self._timeout_ms)

    async def explain(self, pipeline: Pipeline, verbosity: str) -> dict[str, Any]:
        command: dict[str, Any] = {
            "explain": {"aggregate": self.name, "pipeline": pipeline, "cursor": {}},
            "verbosity": verbosity,
        }
        return await bounded(
            lambda: self._client.command(self.database_name, command), self._timeout_ms
        )

    # -- writes -----------------------------------------------------------------------------

    async def insert_one(self, document: Any, session: Session | None, plan: Plan) -> None:
        """Inserts a model (encoded by ``plan``) or a dict."""
        await bounded(
            lambda: self.collection.insert_one(document, session=core_session(session), plan=plan),
            self._timeout_ms,
        )

    async def insert_many(
        self, documents: list[Any], ordered: bool, session: Session | None, plan: Plan
    ) -> None:
        """Inserts models (encoded by ``plan``) or dicts, in as few batches as fit."""
        await bounded(
            lambda: self.collection.insert_many(
                documents, ordered=ordered, session=core_session(session), plan=plan
            ),
            self._timeout_ms,
        )

    async def replace_many(
        self,
        documents: list[Any],
        filters: Sequence[Mapping[str, Any]] | None,
        session: Session | None,
        plan: Plan,
    ) -> UpdateResult:
        """Replaces each model (encoded by ``plan``) or dict by its ``_id``, ANDed with its
        filter in ``filters`` when given (one per document), in a few ``update`` commands for
        the whole list; the documents that do not match are left alone (not counted in
        ``matched``). Raises ``UnvouchedDocumentError`` as ``insert_many`` does, before
        anything is sent."""
        outcome = await bounded(
            lambda: self.collection.replace_many(
                documents, filters=filters, plan=plan, session=core_session(session)
            ),
            self._timeout_ms,
        )
        return UpdateResult(outcome.matched, outcome.modified)

    async def set_one(
        self,
        target: Filter,
        values: Mapping[str, Any],
        session: Session | None,
        plan: Plan = None,
    ) -> Written:
        """``$set`` on the first document matching ``target``; the stored document after it
        (built by the core as a model where ``plan`` says how)."""
        raw = await bounded(
            lambda: self.collection.find_one_and_update(
                as_filter(target),
                {"$set": values},
                return_after=True,
                session=core_session(session),
                plan=plan,
            ),
            self._timeout_ms,
        )
        return Written(raw, raw is not None)

    async def versioned_set(
        self,
        target: Filter,
        values: Mapping[str, Any],
        expected: int | None,
        version: str,
        session: Session | None,
    ) -> Written:
        """``$set`` and increment ``version`` on the document matching ``target`` at version
        ``expected`` (any when None), by the core's optimistic concurrency control."""
        outcome = await bounded(
            lambda: self.collection.versioned_update(
                as_filter(target), values, expected, version=version, session=core_session(session)
            ),
            self._timeout_ms,
        )
        return Written(outcome.document, outcome.exists, outcome.current_version)

    async def upsert_one(
        self, filter: Filter, update: Mapping[str, Any], session: Session | None
    ) -> Raw | None:
        """Updates the document matching ``filter``, or inserts one built from the filter's
        equalities and the update; returns the document after."""
        return await bounded(
            lambda: self.collection.find_one_and_update(
                as_filter(filter),
                update,
                upsert=True,
                return_after=True,
                session=core_session(session),
            ),
            self._timeout_ms,
        )

    async def update(
        self,
        filter: Filter,
        update: UpdateSpec | Mapping[str, Any] | list[Mapping[str, Any]],
        *,
        upsert: bool,
        many: bool,
        session: Session | None,
    ) -> UpdateResult:
        run = self.collection.update_many if many else self.collection.update_one
        outcome = await bounded(
            lambda: run(as_filter(filter), update, upsert=upsert, session=core_session(session)),
            self._timeout_ms,
        )
        return UpdateResult(outcome.matched, outcome.modified, outcome.upserted_id)

    async def find_one_and_update(
        self,
        filter: Filter,
        update: UpdateSpec,
        *,
        sort: SortSpec | None,
        upsert: bool,
        return_after: bool,
        session: Session | None,
    ) -> Raw | None:
        """Updates the first matching document (in ``sort`` order) and returns it as stored
        after the update, or before it; None when nothing matched (and nothing was upserted)."""
        return await bounded(
            lambda: self.collection.find_one_and_update(
                as_filter(filter),
                update,
                sort=sort_document(sort),
                upsert=upsert,
                return_after=return_after,
                session=core_session(session),
            ),
            self._timeout_ms,
        )

    async def write_statements(
        self,
        verb: Literal["update", "delete"],
        statements: list[tuple[Any, ...]],
        *,
        ordered: bool,
        session: Session | None,
    ) -> BulkOutcome:
        """Update statements ``(filter, update, multi, upsert)`` or delete statements
        ``(filter, many)`` in as few commands as the server allows; the outcome holds the
        failure rather than raising it."""
        return await bounded(
            lambda: self.collection.write_statements(
                verb,
                [(as_filter(s[0]), *s[1:]) for s in statements],
                ordered=ordered,
                session=core_session(session),
            ),
            self._timeout_ms,
        )

    async def delete(self, filter: Filter, *, many: bool, session: Session | None) -> int:
        run = self.collection.delete_many if many else self.collection.delete_one
        return await bounded(
            lambda: run(as_filter(filter), session=core_session(session)), self._timeout_ms
        )

    # -- indexes ----------------------------------------------------------------------------

    async def list_indexes(self, session: Session | None) -> list[Raw]:
        return await bounded(
            lambda: self.collection.list_indexes(session=core_session(session)), self._timeout_ms
        )

    async def create_indexes(self, specs: Iterable[Raw], session: Session | None) -> None:
        await bounded(
            lambda: self.collection.create_indexes(list(specs), session=core_session(session)),
            self._timeout_ms,
        )

    async def drop_index(self, name: str, session: Session | None) -> None:
        await bounded(
            lambda: self.collection.drop_index(name, session=core_session(session)),
            self._timeout_ms,
        )

    async def drop_indexes(self, session: Session | None) -> None:
        await bounded(
            lambda: self.collection.drop_indexes(session=core_session(session)), self._timeout_ms
        )
