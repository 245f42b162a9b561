"""``VellumRepository``: CRUD, queries, lifecycle, aggregation and indexes for one model's
collection.

Each method is the list of its steps; what a model's concerns add to a step (timestamps,
optimistic concurrency, soft delete, hooks...) comes from its policies (``vellum._policies``),
called at the points the policy interface names. Reads and the shared steps are in
``vellum._reads``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from ._bridge import ModelPlan, Pipeline
from ._bridge.documents import UpdateResult, Written
from ._links import MAX_DEPTH, link_ids, linked_documents
from ._models import M
from ._policies.soft_delete import SoftDelete
from ._policies.timestamps import CREATED_AT, utc_now
from ._reads import PipelineSource, RepositoryReads
from .aggregation import AggregationPipeline
from .bulk import BulkWriter
from .errors import (
    DocumentNotFoundError,
    DuplicateKeyError,
    QueryError,
    UnsavedLinkError,
    UnvouchedDocumentError,
)
from .indexes import IndexSync, ensure_indexes, public_spec, sync_indexes
from .links import DeleteRule, LinkRule
from .query import Filter, QueryExpr, SortSpec, UpdateSpec
from .session import Session, TransactionContext, TransactionSettings

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .query import FilterOf, SortOf

__all__ = ["Filter", "SortSpec", "UpdateResult", "VellumRepository"]


class VellumRepository(RepositoryReads[M]):
    """Stores and loads one model's documents.

    >>> users = VellumRepository(User, client, "app")   # doctest: +SKIP
    >>> ada = await users.create(User(name="Ada", email="ada@example.com"))   # doctest: +SKIP

    Documents are validated by the model on the way in and on the way out: a stored document
    that no longer fits raises :class:`DocumentValidationError` naming its ``_id`` and field.
    ``collection`` is the core's collection, for raw access that bypasses the model.
    """

    # -- writes -----------------------------------------------------------------------------

    async def create(
        self,
        document: M | Mapping[str, Any],
        *,
        session: Session | None = None,
        skip_hooks: bool = False,
        link_rule: LinkRule = LinkRule.REFUSE,
    ) -> M:
        """Inserts a document and returns it with ``created_at``/``updated_at`` set (and
        ``version`` 1 for a versioned model). Runs ``before_insert`` hooks (which may change the
        document, or raise to cancel the insert) and ``after_insert`` hooks.

        A link to a document that was never stored raises :class:`UnsavedLinkError` before
        anything is written; ``link_rule=LinkRule.WRITE`` inserts such documents first (their
        own unsaved links too), in ``session``: pass a transaction's session to make the whole
        write atomic."""
        return (await self._insert([document], True, session, skip_hooks, link_rule))[0]

    async def create_many(
        self,
        documents: Iterable[M | Mapping[str, Any]],
        *,
        ordered: bool = True,
        session: Session | None = None,
        skip_hooks: bool = False,
        link_rule: LinkRule = LinkRule.REFUSE,
    ) -> list[M]:
        """Inserts documents in bulk, running the insert hooks of each. With ``ordered=True``
        (the default) the first failure stops the batch; the documents before it are stored.
        ``link_rule``: see :meth:`create`."""
        return await self._insert(documents, ordered, session, skip_hooks, link_rule, many=True)

    async def _insert(
        self,
        documents: Iterable[M | Mapping[str, Any]],
        ordered: bool,
        session: Session | None,
        skip_hooks: bool,
        link_rule: LinkRule,
        *,
        many: bool = False,
        links_checked: bool = False,
    ) -> list[M]:
        model, coerce = self.model, self._documents.coerce
        # Comprehensions rather than a method call per document: on 10 000 documents the calls
        # cost a tenth of the whole insert.
        docs = [d if isinstance(d, model) else coerce(d) for d in documents]
        events = not skip_hooks
        if events and self._policies.handles("before_insert"):
            for doc in docs:
                await self._policies.on("before_insert", doc, session)
        if self._links_in and not links_checked:
            await self._store_links(docs, link_rule, session)
        self._policies.prepare(docs, utc_now())
        encoded, plan = self._documents.for_insert(docs), self._documents.write_plan
        try:
            try:
                await self._send(encoded, plan, ordered, session, many)
            except UnvouchedDocumentError:
                # A value the write plan does not vouch for (raised before anything is sent).
                await self._send(self._documents.checked(docs), None, ordered, session, many)
        except DuplicateKeyError as err:
            self._documents.enrich_duplicate(err, (doc.model_dump(by_alias=True) for doc in docs))
            raise
        if events and self._policies.handles("after_insert"):
            for doc in docs:
                await self._policies.on("after_insert", doc, session)
        return docs

    async def _store_links(
        self,
        docs: Sequence[M],
        rule: LinkRule,
        session: Session | None,
        depth: int = 0,
        writing: set[int] | None = None,
    ) -> None:
        """Applies ``rule`` to the documents that ``docs`` link to and that were never stored:
        refuses them (nothing written), or inserts them first, their own links first.
        ``writing``: the documents this write stores (by ``id()``), links between which
        (cycles included) need no check."""
        if depth > MAX_DEPTH:
            raise UnsavedLinkError(f"links to unsaved documents nest deeper than {MAX_DEPTH}")
        if writing is None:
            writing = {id(doc) for doc in docs}
        for target, linked in linked_documents(docs, self.model).items():
            # Only documents the repository never stamped can be unsaved; the server says
            # which of them are.
            fresh = [d for d in linked if id(d) not in writing and d.created_at is None]
            if not fresh:
                continue
            repository = self._linked(target)
            stored = await repository._store.stored_ids([d.id for d in fresh], session)  # pyright: ignore[reportPrivateUsage]
            unsaved = [d for d in fresh if d.id not in stored]
            if not unsaved:
                continue
            if rule is not LinkRule.WRITE:
                shown = ", ".join(repr(d.id) for d in unsaved[:3])
                raise UnsavedLinkError(
                    f"{self.model.__name__} links to {len(unsaved)} {target.__name__} "
                    f"document(s) never stored ({shown}); nothing was written. Create them "
                    "first, or pass link_rule=LinkRule.WRITE to insert them in this write."
                )
            if not isinstance(repository, VellumRepository):
                raise TypeError("linked documents are written through a VellumRepository")
            writing.update(id(d) for d in unsaved)
            await repository._store_links(unsaved, rule, session, depth + 1, writing)  # pyright: ignore[reportPrivateUsage]
            await repository._insert(  # pyright: ignore[reportPrivateUsage]
                unsaved, True, session, False, rule, many=True, links_checked=True
            )

    async def _send(
        self,
        encoded: list[M] | list[dict[str, Any]],
        plan: ModelPlan | None,
        ordered: bool,
        session: Session | None,
        many: bool,
    ) -> None:
        if many:
            await self._store.insert_many(encoded, ordered, session, plan)
        else:
            await self._store.insert_one(encoded[0], session, plan)

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
        values = self._documents.changes(changes, self._managed)
        expected, versioning = expected_version, self._versioning
        if expected is not None and versioning is None:
            raise TypeError(
                f"expected_version needs a versioned model; {self.model.__name__} is not"
            )
        if not skip_hooks and self._policies.handles("before_update"):
            current = await self.get(doc_id, include_deleted=include_deleted, session=session)
            if current is None:
                return None
            if expected is None and versioning is not None:
                expected = versioning.version_of(current)
            merged = self.model.model_validate({**current.model_dump(by_alias=True), **values})
            baseline = merged.model_dump(by_alias=True)
            await self._policies.on("before_update", merged, session)
            final = merged.model_dump(by_alias=True)
            values = {
                key: value
                for key, value in final.items()
                if key not in self._managed and (key in values or value != baseline.get(key))
            }
        written = await self._write_one(
            self._by_id(doc_id, include_deleted), values, expected, session
        )
        if written.document is None:
            if expected is not None and versioning is not None:
                raise versioning.conflict(self._documents.id(doc_id), expected, written)
            return None
        stored = self._documents.load(written.document)
        if not skip_hooks:
            await self._event("after_update", stored, session)
        return stored

    async def save(
        self,
        document: M,
        *,
        session: Session | None = None,
        skip_hooks: bool = False,
        link_rule: LinkRule = LinkRule.REFUSE,
    ) -> M:
        """Writes every field of a stored document back (those the repository manages
        excepted) and returns the stored result. A document never stored (no ``created_at``)
        is created; one that was stored and has been deleted since is not brought back:
        :class:`OptimisticLockError` (``current_version`` None) for a versioned model, else
        :class:`DocumentNotFoundError`.

        For a versioned model the write filters on ``document.version`` and increments it: if
        someone else saved first, :class:`OptimisticLockError` is raised and the stored document
        is left unchanged. Runs the update hooks. ``link_rule``: see :meth:`create`.
        """
        if not isinstance(document, self.model):
            raise TypeError(f"save() takes a {self.model.__name__}, got {type(document).__name__}")
        raw, expected, written = await self._write_whole(
            document, None, session, skip_hooks, link_rule
        )
        versioning = self._versioning
        if written.document is None:
            # Stored before (the repository stamped it) and gone, or changed by someone else:
            # writing it again would undo their delete or their change.
            stored_before = getattr(document, CREATED_AT) is not None
            if versioning is not None and expected is not None:
                if written.exists or stored_before:
                    raise versioning.conflict(raw["_id"], expected, written)
            elif stored_before:
                raise DocumentNotFoundError(raw["_id"], self.collection_name)
            return await self.create(
                document, session=session, skip_hooks=skip_hooks, link_rule=link_rule
            )
        return await self._written_whole(document, written.document, session, skip_hooks)

    async def replace(
        self,
        doc_id: Any,
        document: M,
        *,
        session: Session | None = None,
        skip_hooks: bool = False,
        link_rule: LinkRule = LinkRule.REFUSE,
    ) -> M | None:
        """Replaces the stored document ``doc_id`` by ``document``: every field is written
        (the repository's own excepted: ``created_at`` stays, ``updated_at`` is fresh) and the
        stored result returned, or None if no document has that id (nothing is created). The
        document's ``id`` is set to ``doc_id``. For a versioned model the write filters on
        ``document.version``: :class:`OptimisticLockError` if another version is stored. Runs
        the update hooks."""
        if not isinstance(document, self.model):
            raise TypeError(
                f"replace() takes a {self.model.__name__}, got {type(document).__name__}"
            )
        target = self._documents.id(doc_id)
        if document.id != target:
            object.__setattr__(document, "id", target)
        _, expected, written = await self._write_whole(
            document, self._by_id(target), session, skip_hooks, link_rule
        )
        if written.document is None:
            if self._versioning is not None and expected is not None and written.exists:
                raise self._versioning.conflict(target, expected, written)
            return None
        return await self._written_whole(document, written.document, session, skip_hooks)

    async def _write_whole(
        self,
        document: M,
        target: Filter | None,
        session: Session | None,
        skip_hooks: bool,
        link_rule: LinkRule,
    ) -> tuple[dict[str, Any], int | None, Written]:
        """The shared write of ``save`` and ``replace``: hooks before, links, every field
        validated and written (by ``_id``, or within ``target``), the version checked."""
        if not skip_hooks:
            await self._event("before_update", document, session)
        if self._links_in:
            await self._store_links([document], link_rule, session)
        raw = self._documents.checked([document])[0]
        values = {k: v for k, v in raw.items() if k not in self._managed}
        versioning = self._versioning
        expected = None if versioning is None else versioning.version_of(document)
        where = {"_id": raw["_id"]} if target is None else target
        written = await self._write_one(where, values, expected, session, whole=True)
        return raw, expected, written

    async def _written_whole(
        self, document: M, written: Any, session: Session | None, skip_hooks: bool
    ) -> M:
        stored = self._documents.load(written)
        self._documents.copy_fields(stored, document, self._policies.fields)
        if not skip_hooks:
            await self._event("after_update", stored, session)
        return stored

    async def update_one(
        self,
        filter: FilterOf[M],
        *updates: UpdateSpec[M],
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
        filter: FilterOf[M],
        *updates: UpdateSpec[M],
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
        scoped = self._scope(filter, include_deleted)
        spec = self._update_spec(updates, scoped if upsert else None)
        return await self._store.update(scoped, spec, upsert=upsert, many=many, session=session)

    def _update_spec(
        self, updates: Sequence[UpdateSpec], upsert: Filter | None = None
    ) -> UpdateSpec:
        """The updates as one, checked (no field the repository manages), with the policies'
        own (a fresh ``updated_at``, the version's increment). For an upsert (``upsert`` is its
        filter), what a document inserted by it needs too: an ``_id`` of the model's type
        (unless the filter gives it), ``created_at``, and a polymorphic class's name."""
        if not updates:
            raise ValueError("pass at least one update, such as User.Q.age.inc(1)")
        for update in updates:
            if not isinstance(update, UpdateSpec):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise TypeError(
                    f"updates are Model.Q expressions such as User.Q.age.inc(1), got {update!r}"
                )
            for path in sorted(self._managed):
                if update.touches(path):
                    raise QueryError(
                        f"{path!r} is managed by the repository and cannot be updated: {update!r}"
                    )
        now = utc_now()
        extra = [] if upsert is None else self._on_insert(upsert, now)
        return UpdateSpec.combine([*updates, *self._policies.operators(now), *extra])

    def _on_insert(self, filter: Filter, now: datetime) -> list[UpdateSpec]:
        compiled = filter.to_filter() if isinstance(filter, QueryExpr) else dict(filter)
        pinned = "_id" in compiled or any(
            "_id" in part for part in compiled.get("$and", ()) if isinstance(part, Mapping)
        )
        specs = [UpdateSpec("$setOnInsert", CREATED_AT, now)]
        if not pinned:
            factory = self.model.model_fields["id"].default_factory
            if factory is None:
                raise QueryError(
                    f"an upsert of {self.model.__name__} must give the _id in its filter: "
                    "nothing generates its ids"
                )
            specs.append(UpdateSpec("$setOnInsert", "_id", factory()))  # type: ignore[call-arg]
        family = self._documents.classes
        if family is not None:
            specs.append(UpdateSpec("$setOnInsert", family.family.field, family.name))
        return specs

    async def find_one_and_update(
        self,
        filter: FilterOf[M],
        *updates: UpdateSpec[M],
        return_document: Literal["before", "after"] = "after",
        sort: SortOf[M] | None = None,
        upsert: bool = False,
        include_deleted: bool = False,
        session: Session | None = None,
    ) -> M | None:
        """Applies the updates to the first matching document (in ``sort`` order), atomically,
        and returns that document as it was before or as it is after (``return_document``);
        None if nothing matched. With ``upsert``, a document is inserted when none matches
        (``"before"`` then returns None). Refreshes ``updated_at`` and a versioned model's
        version like ``update_one``; runs no hooks."""
        if return_document not in ("before", "after"):
            raise ValueError(f'return_document is "before" or "after", got {return_document!r}')
        scoped = self._scope(filter, include_deleted)
        spec = self._update_spec(updates, scoped if upsert else None)
        raw = await self._store.find_one_and_update(
            scoped,
            spec,
            sort=sort,
            upsert=upsert,
            return_after=return_document == "after",
            session=session,
        )
        return None if raw is None else self._documents.load(raw)

    async def delete(
        self,
        doc_id: Any,
        *,
        session: Session | None = None,
        skip_hooks: bool = False,
        link_rule: DeleteRule = DeleteRule.KEEP,
    ) -> bool:
        """Deletes one document for good (soft-deleted or not); True if it existed. With
        ``before_delete``/``after_delete`` hooks the document is read first and handed to
        them; a before-hook that raises cancels the delete.

        ``link_rule=DeleteRule.DELETE_LINKS`` also deletes the documents it links to (one
        level, one ``delete_many`` per linked model, in ``session``: pass a transaction's
        session to make it atomic; their hooks do not run). By default they stay, and links
        to the deleted document load as missing."""
        document = None
        cascade = link_rule is DeleteRule.DELETE_LINKS
        if self._delete_hooked(skip_hooks) or cascade:
            document = await self.get(doc_id, include_deleted=True, session=session)
            if document is None:
                return False
            if not skip_hooks:
                await self._event("before_delete", document, session)
        by_id = {"_id": self._documents.id(doc_id)}
        deleted = await self._store.delete(by_id, many=False, session=session)
        if deleted and document is not None:
            if cascade:
                for target, ids in link_ids([document], self.model).items():
                    store = self._linked(target)._store  # pyright: ignore[reportPrivateUsage]
                    await store.delete({"_id": {"$in": ids}}, many=True, session=session)
            if not skip_hooks:
                await self._event("after_delete", document, session)
        return deleted == 1

    def _delete_hooked(self, skip_hooks: bool) -> bool:
        handles = self._policies.handles
        return not skip_hooks and (handles("before_delete") or handles("after_delete"))

    async def delete_many(
        self,
        filter: FilterOf[M],
        *,
        include_deleted: bool = True,
        session: Session | None = None,
    ) -> int:
        """Deletes every matching document for good; returns how many. An empty filter deletes
        all. Runs no hooks: documents are deleted on the server without being loaded."""
        scoped = self._scope(filter, include_deleted)
        return await self._store.delete(scoped, many=True, session=session)

    async def soft_delete(
        self, doc_id: Any, *, session: Session | None = None, skip_hooks: bool = False
    ) -> bool:
        """Marks a document deleted (``deleted_at``); reads then leave it out unless
        ``include_deleted=True``. Runs the delete hooks. True if a live document was marked."""
        soft = self._soft_delete("soft_delete")
        hooked = self._delete_hooked(skip_hooks)
        if hooked:
            document = await self.get(doc_id, session=session)
            if document is None:
                return False
            await self._event("before_delete", document, session)
        written = await self._write_one(self._by_id(doc_id), soft.mark(utc_now()), None, session)
        if written.document is not None and hooked:
            stored = self._documents.load(written.document)
            await self._event("after_delete", stored, session)
        return written.document is not None

    async def restore(self, doc_id: Any, *, session: Session | None = None) -> bool:
        """Brings a soft-deleted document back; True if one was restored."""
        deleted, values = self._soft_delete("restore").unmark()
        target = {"_id": self._documents.id(doc_id), **deleted}
        return (await self._write_one(target, values, None, session)).document is not None

    def _soft_delete(self, what: str) -> SoftDelete:
        policy = self._policies.get(SoftDelete)
        if policy is None:
            raise TypeError(
                f"{what}() needs a soft-deletable model: inherit vellum.SoftDeletable in "
                f"{self.model.__name__} (or set Settings.soft_delete = True)"
            )
        return policy

    def bulk(
        self, *, ordered: bool = True, session: Session | None = None, skip_hooks: bool = False
    ) -> BulkWriter[M]:
        """A bulk write, for ``async with``: inserts, updates, upserts, replaces and deletes
        queued here (and with ``bulk.on(other)`` on other repositories of the database), sent
        as few write commands as the server allows when the block ends. See
        :class:`~vellum.BulkWriter`."""
        return BulkWriter(self, ordered=ordered, session=session, skip_hooks=skip_hooks)

    # -- aggregation, indexes, transactions -------------------------------------------------

    def aggregate_pipeline(
        self, *, include_deleted: bool = False, session: Session | None = None
    ) -> AggregationPipeline[M]:
        """An aggregation pipeline over this collection, to chain stages on. It starts with the
        policies' scope (for a soft-deletable model, leaving deleted documents out unless
        ``include_deleted=True``). ``session`` is used by every run of the pipeline."""
        pipeline = Pipeline()
        scope = self._policies.scope({}, include_deleted)
        if scope:
            pipeline = pipeline.with_stage("$match", scope)
        source = PipelineSource(self._store, self)
        return AggregationPipeline(source, pipeline, self.model, "the collection", session)

    async def ensure_indexes(self, *, session: Session | None = None) -> list[str]:
        """Creates the model's declared indexes; returns the names it created.

        An identical existing index is left alone. One with the same name or the same keys but
        other options raises :class:`IndexConflictError` showing both definitions.
        """
        declared = self.model.__vellum_settings__.collection_indexes
        return await ensure_indexes(self._store, declared, session)

    async def sync_indexes(
        self, *, dry_run: bool = False, session: Session | None = None
    ) -> IndexSync:
        """Brings the collection's indexes in step with the declared ones (every class's, for a
        polymorphic family): creates the missing, replaces the conflicting and drops the ones
        no longer declared, but only indexes Vellum created (or that a declaration names in
        ``replaces``), never ``_id_``. ``dry_run=True`` reports what it would do and changes
        nothing. Returns the :class:`~vellum.IndexSync` report."""
        declared = self.model.__vellum_settings__.collection_indexes
        return await sync_indexes(self._store, declared, dry_run=dry_run, session=session)

    async def list_indexes(self, *, session: Session | None = None) -> list[dict[str, Any]]:
        return [public_spec(spec) for spec in await self._store.list_indexes(session)]

    async def drop_index(self, name: str, *, session: Session | None = None) -> None:
        await self._store.drop_index(name, session)

    async def drop_indexes(self, *, session: Session | None = None) -> None:
        """Drops every index but ``_id_``."""
        await self._store.drop_indexes(session)

    def transaction(
        self, *, session: Session | None = None, **options: Unpack[TransactionSettings]
    ) -> TransactionContext:
        """Shortcut for ``client.transaction(...)``."""
        return self.client.transaction(session=session, **options)
