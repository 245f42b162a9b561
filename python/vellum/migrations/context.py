"""``MigrationContext``: the operations a migration's ``upgrade``/``downgrade`` runs.

Each call is a *step*. Steps that MongoDB can run itself are one ``update_many`` (an update
pipeline where a value is computed), filtered so that running the step again changes nothing:
a run that stopped halfway is resumed by running it again. ``transform`` reads documents as
the old model, hands each to a Python function and writes what it returns, in batches (one
``update`` command of many replacements per batch); each written document carries a marker
of its step until the step ends, so a resumed run skips the documents already done and no
document is transformed twice. A step small enough (``TRANSACTION_LIMIT`` documents) runs in a
transaction with its record when the deployment has transactions.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import partial
from typing import Any, TypeVar

from .._bridge import Pipeline
from .._bridge.documents import Store
from .._models import ModelDocuments
from .._policies.schema_version import SchemaVersion
from .._policies.timestamps import utc_now
from ..client import VellumClient
from ..errors import DocumentValidationError, MigrationError
from ..indexes import Index
from ..model import VellumBaseModel
from ..session import Session
from .progress import Reporter
from .state import Lock, Progress, State

__all__ = ["TRANSACTION_LIMIT", "ConversionReport", "MigrationContext"]

Old = TypeVar("Old", bound="VellumBaseModel[Any]")
New = TypeVar("New", bound="VellumBaseModel[Any]")

TRANSACTION_LIMIT = 10_000
"""The most documents a step changes inside one transaction; larger steps rely on being
idempotent (their filters, or ``transform``'s marker)."""

MARKER = "_vellum_migration"
"""The field ``transform`` stamps on the documents it wrote, until its step ends."""

SAMPLES = 3

# What each conversion target is converted from by default, and its $convert name.
_CONVERSIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "decimal": ("decimal", ("string", "int", "long", "double")),
    "datetime": ("date", ("string",)),
    "int": ("int", ("string", "double", "decimal")),
    "long": ("long", ("string", "int", "double", "decimal")),
    "double": ("double", ("string", "int", "long", "decimal")),
    "string": ("string", ("int", "long", "double", "decimal", "bool", "date", "objectId")),
    # Not from strings: MongoDB converts every string to true, "false" and "" included.
    "bool": ("bool", ("int", "long", "double")),
}


@dataclass(frozen=True)
class ConversionReport:
    """What ``convert_field`` did: how many values converted, how many did not (they keep
    their stored value), and up to 5 of those (``_id`` and value)."""

    field: str
    to: str
    converted: int
    failed: int
    failures: list[dict[str, Any]] = dataclass_field(default_factory=list[dict[str, Any]])

    def __str__(self) -> str:
        text = f"{self.field} -> {self.to}: {self.converted} converted, {self.failed} did not"
        if self.failures:
            shown = ", ".join(f"{f.get('_id')!r}: {f.get('value')!r}" for f in self.failures)
            text += f" (for example {shown})"
        return text


Collection = str | type[VellumBaseModel[Any]]


def _name(collection: Collection) -> str:
    if isinstance(collection, str):
        return collection
    return collection.__vellum_settings__.collection_name


class MigrationContext:
    """What a migration step works with. ``client`` and ``database`` are there for anything
    the operations do not cover; ``dry_run`` is True when nothing may be written."""

    def __init__(
        self,
        client: VellumClient,
        database: str,
        revision: str,
        direction: str,
        *,
        state: State,
        lock: Lock | None,
        finished: Mapping[int, str],
        reporter: Reporter,
        dry_run: bool = False,
        transactions: bool = False,
    ) -> None:
        self.client = client
        self.database = database
        self.revision = revision
        self.direction = direction
        self.dry_run = dry_run
        self._state = state
        self._lock = lock
        self._finished = dict(finished)
        self._reporter = reporter
        self._transactions = transactions
        self._index = 0

    def _quiet(self) -> AbstractAsyncContextManager[Any]:
        """Keeps the lock's renewal out of a step's transaction."""
        return nullcontext() if self._lock is None else self._lock.quiet

    def store(self, collection: Collection) -> Store:
        return Store(self.client, self.database, _name(collection))

    # -- steps ------------------------------------------------------------------------------

    def _next(self, label: str) -> int | None:
        """The next step's index, or None when an earlier run finished it (refused if the
        migration changed since)."""
        if self._lock is not None:
            self._lock.check()
        index = self._index
        self._index += 1
        done = self._finished.get(index)
        if done is None:
            return index
        if done != label:
            raise MigrationError(
                f"step {index} of {self.revision} finished in an earlier run as {done!r}, but "
                f"the migration now says {label!r}: a partly applied migration was edited. "
                "Restore it as it was, or undo its finished steps by hand"
            )
        self._reporter.skip(label)
        return None

    async def _finish(self, index: int, label: str, changed: int, session: Session | None) -> None:
        await self._state.finish_step(self.revision, self.direction, index, label, changed, session)
        self._reporter.finish(label, changed)

    async def _server_step(
        self,
        label: str,
        store: Store,
        filter: Mapping[str, Any],
        update: Any,
        claimed: int | None = None,
    ) -> int:
        """One ``update_many`` whose filter selects exactly the documents still to change
        (``claimed``: the step's index, when the caller took it already)."""
        index = self._next(label) if claimed is None else claimed
        if index is None:
            return 0
        total = await store.count(filter)
        if self.dry_run:
            self._reporter.would(label, total)
            return total
        self._reporter.start(label, total)
        if self._transactions and 0 < total <= TRANSACTION_LIMIT:

            async def write(session: Session) -> int:
                result = await store.update(
                    filter, update, upsert=False, many=True, session=session
                )
                await self._state.finish_step(
                    self.revision, self.direction, index, label, result.modified, session
                )
                return result.modified

            async with self._quiet():
                modified = await self.client.with_transaction(write)
            self._reporter.finish(label, modified)
            return modified
        result = await store.update(filter, update, upsert=False, many=True, session=None)
        self._reporter.advance(result.modified)
        await self._finish(index, label, result.modified, None)
        return result.modified

    # -- operations -------------------------------------------------------------------------

    async def rename_field(self, collection: Collection, old: str, new: str) -> int:
        """Renames a stored field in every document that has it (``$rename``); returns how
        many documents changed."""
        _check_path(old)
        _check_path(new)
        if old == new:
            raise MigrationError(f"rename_field({old!r}, {new!r}) renames nothing")
        label = f"rename {_name(collection)}.{old} to {new}"
        filter = {old: {"$exists": True}}
        return await self._server_step(
            label, self.store(collection), filter, {"$rename": {old: new}}
        )

    async def set_default(self, collection: Collection, field: str, value: Any) -> int:
        """Sets ``field`` to ``value`` in the documents that lack it (a present null is kept);
        returns how many changed."""
        _check_path(field)
        # The value is not part of the label: a value made at run time (a timestamp, an id)
        # must not look like an edited migration when a stopped run resumes.
        label = f"default {_name(collection)}.{field}"
        filter = {field: {"$exists": False}}
        return await self._server_step(
            label, self.store(collection), filter, {"$set": {field: value}}
        )

    async def remove_field(self, collection: Collection, field: str) -> int:
        """Removes ``field`` from every document that has it; returns how many changed."""
        _check_path(field)
        label = f"remove {_name(collection)}.{field}"
        filter = {field: {"$exists": True}}
        return await self._server_step(
            label, self.store(collection), filter, {"$unset": {field: ""}}
        )

    async def convert_field(
        self,
        collection: Collection,
        field: str,
        to: str,
        *,
        source_types: Sequence[str] | None = None,
        allow_failures: bool = False,
    ) -> ConversionReport:
        """Converts the stored type of ``field`` on the server (``$convert``): to
        ``"decimal"``, ``"datetime"``, ``"int"``, ``"long"``, ``"double"``, ``"string"`` or
        ``"bool"``, from the BSON types ``source_types`` (by default the ones that convert to
        it, such as strings for ``"decimal"``). The server first finds the values that would
        not convert: unless ``allow_failures=True`` the step then raises
        :class:`MigrationError` with a report (how many, and up to 5 ``_id``s and values) and
        converts nothing; with it, the others are converted and those keep their value."""
        _check_path(field)
        if to not in _CONVERSIONS:
            raise MigrationError(f"convert_field to {to!r}: choose one of {sorted(_CONVERSIONS)}")
        target, defaults = _CONVERSIONS[to]
        sources = list(source_types or defaults)
        if to == "string" and "string" in sources:
            raise MigrationError("a conversion to string cannot also convert from string")
        name = _name(collection)
        label = f"convert {name}.{field} to {to}"
        index = self._next(label)
        if index is None:
            return ConversionReport(field, to, 0, 0)
        store = self.store(collection)
        pending = {field: {"$type": sources}}
        # The values that would not convert are found first, by the server: with failures
        # (and no allow_failures) nothing is converted, so the run stops with no data changed.
        trial = (
            Pipeline()
            .with_stage("$match", pending)
            .with_stage(
                "$project",
                {
                    "value": f"${field}",
                    "v": {"$convert": {"input": f"${field}", "to": target, "onError": None}},
                },
            )
            .with_stage("$match", {"v": None})
        )
        counted = await store.aggregate(trial.with_stage("$count", "n"))
        failed = int(counted[0]["n"]) if counted else 0
        failures: list[dict[str, Any]] = []
        if failed:
            rows = await store.aggregate(
                trial.with_stage("$sort", {"_id": 1}).with_stage("$limit", 5)
            )
            failures = [{"_id": row.get("_id"), "value": row.get("value")} for row in rows]
        if failed and not allow_failures:
            report = ConversionReport(field, to, 0, failed, failures)
            self._reporter.note(str(report))
            raise MigrationError(
                f"{name}: {report}; nothing was converted. Fix those values and run again, or "
                "pass allow_failures=True to convert the others and keep them as they are"
            )
        convert = {"$convert": {"input": f"${field}", "to": target, "onError": f"${field}"}}
        changed = await self._server_step(
            label, store, pending, [{"$set": {field: convert}}], claimed=index
        )
        report = ConversionReport(field, to, 0 if self.dry_run else changed, failed, failures)
        if failed:
            self._reporter.note(str(report))
        return report

    async def create_index(self, collection: Collection, index: Index) -> None:
        """Creates ``index`` (nothing happens if it exists as declared)."""
        store = self.store(collection)
        await self._index_step(
            f"create index {_name(collection)}.{index.name}",
            lambda: store.create_indexes([index.spec()], None),
        )

    async def drop_index(self, collection: Collection, name: str) -> None:
        """Drops the index ``name`` if it exists."""
        store = self.store(collection)

        async def drop() -> None:
            if any(spec.get("name") == name for spec in await store.list_indexes(None)):
                await store.drop_index(name, None)

        await self._index_step(f"drop index {_name(collection)}.{name}", drop)

    async def _index_step(self, label: str, run: Callable[[], Awaitable[None]]) -> None:
        """A step on indexes: idempotent by itself (and outside transactions, where MongoDB
        creates indexes only on empty collections)."""
        index = self._next(label)
        if index is None:
            return
        if self.dry_run:
            self._reporter.would(label, 0)
            return
        self._reporter.start(label, None)
        await run()
        await self._finish(index, label, 0, None)

    async def transform(
        self,
        old: type[Old],
        new: type[New],
        function: Callable[[Old], New | None] | Callable[[Old], Awaitable[New | None]],
        *,
        collection: Collection | None = None,
        filter: Mapping[str, Any] | None = None,
        batch_size: int = 1000,
    ) -> int:
        """Reads each document (matching ``filter``) as ``old``, calls ``function`` with it and
        stores the ``new`` document it returns in its place (same ``_id``; validated by
        ``new`` before anything is written). Stored fields that ``old`` does not declare are
        kept as they are; those it declares and ``new`` does not are dropped. ``None`` keeps
        the document as it is. Runs in
        batches of ``batch_size``: one read and one write round trip each. Returns how many
        documents were written."""
        name = _name(collection or new)
        label = f"transform {name} {old.__name__} to {new.__name__}"
        index = self._next(label)
        if index is None:
            return 0
        if batch_size < 1:
            raise MigrationError(f"batch_size must be at least 1, got {batch_size}")
        store = self.store(name)
        step = f"{self.revision}:{self.direction}:{index}"
        # With transactions, each batch is written in one with the step's progress (the last
        # _id done): a resumed run starts after it. Without, each written document carries
        # the step's marker until the step ends, and a resumed run skips the marked ones.
        atomic = self._transactions and not self.dry_run
        done = await self._state.progress(self.revision, self.direction, index)
        mode = "transaction" if atomic else "marker"
        if done is not None and done.mode == "unmark":
            return await self._unmark(store, step, index, label, done.written)
        if done is not None and done.mode != mode and not self.dry_run:
            raise MigrationError(
                f"{label} started {'with' if done.mode == 'transaction' else 'without'} "
                f"transactions and stopped; resume it the same way (transactions="
                f"{done.mode == 'transaction'}), or documents would be transformed twice"
            )
        if atomic:
            pending: dict[str, Any] = {} if done is None else {"_id": {"$gt": done.last_id}}
            written = 0 if done is None else done.written
        else:
            pending, written = {MARKER: {"$ne": step}}, 0
            if done is None and not self.dry_run:
                await self._state.save_progress(
                    self.revision, self.direction, index, Progress(mode, None, 0), None
                )
        if filter:
            pending = {"$and": [dict(filter), pending]}
        reading = ModelDocuments(old, name)
        writing = ModelDocuments(new, name)
        declared = {f.alias or n for n, f in old.model_fields.items()} | {MARKER}
        schema = new.__vellum_settings__.policies.get(SchemaVersion)
        total = await store.count(pending)
        if self.dry_run:
            samples: list[tuple[Any, Any]] = []
            for raw in await store.find(pending, limit=SAMPLES, sort={"_id": 1}):
                try:
                    before = reading.load_as(old, raw)
                except DocumentValidationError as unfit:
                    # A dry run writes nothing, so the steps before this one have not shaped
                    # the documents yet: say so, and do not stop the rest of the dry run.
                    self._reporter.note(
                        f"{label}: a stored document does not fit {old.__name__} now "
                        f"({unfit}). If a step before this one changes these documents, a "
                        "dry run cannot show this step's result; otherwise the real run "
                        "stops here"
                    )
                    break
                after = await _call(function, before)
                samples.append((raw, None if after is None else after.model_dump(by_alias=True)))
            self._reporter.would(label, total, samples)
            return total
        self._reporter.start(label, total)
        batches = await store.iterate(pending, sort={"_id": 1}, batch_size=batch_size)
        async for batch in batches:
            if self._lock is not None:
                self._lock.check()
            changed: list[Any] = []
            others: list[dict[str, Any]] = []
            kept: list[dict[str, Any]] = []
            for raw in batch:
                before = reading.load_as(old, raw)
                after = await _call(function, before)
                if after is None:
                    kept.append(raw)
                    continue
                if not isinstance(after, new):
                    raise MigrationError(
                        f"{label}: the function returned {type(after).__name__}, not a "
                        f"{new.__name__} (or None); nothing of this batch was written"
                    )
                if after.id != before.id:
                    raise MigrationError(
                        f"{label}: the function changed _id {before.id!r} to {after.id!r}; a "
                        "transform keeps each document's _id"
                    )
                changed.append(after)
                others.append({k: v for k, v in raw.items() if k not in declared})
            # The stored fields neither model declares are kept as they are.
            if schema is not None:
                schema.prepare(changed, utc_now())  # stored at the new model's version
            documents = [
                {**document, **{k: v for k, v in extra.items() if k not in document}}
                for document, extra in zip(writing.checked(changed), others, strict=True)
            ]
            if atomic:
                async with self._quiet():
                    # Retried whole on a transient error (a write conflict with another writer
                    # of the same documents, such as a killed runner's transaction until the
                    # server aborts it).
                    written += await self.client.with_transaction(
                        partial(
                            self._write_batch, store, documents, index, batch[-1]["_id"], written
                        )
                    )
            else:
                for document in (*documents, *kept):
                    document[MARKER] = step
                result = await store.replace_many([*documents, *kept], None, None, None)
                written += result.modified - len(kept)
            self._reporter.advance(len(batch))
        if not atomic:
            # Recorded first: a run that stops while the markers are removed resumes by
            # removing the rest, never by transforming the unmarked documents again.
            await self._state.save_progress(
                self.revision, self.direction, index, Progress("unmark", None, written), None
            )
            return await self._unmark(store, step, index, label, written)
        await self._finish(index, label, written, None)
        return written

    async def _unmark(self, store: Store, step: str, index: int, label: str, written: int) -> int:
        await store.update(
            {MARKER: step}, {"$unset": {MARKER: ""}}, upsert=False, many=True, session=None
        )
        await self._finish(index, label, written, None)
        return written

    async def _write_batch(
        self,
        store: Store,
        documents: list[dict[str, Any]],
        index: int,
        last_id: Any,
        so_far: int,
        session: Session,
    ) -> int:
        """One batch of a transform and the step's progress, in ``session``'s transaction."""
        modified = 0
        if documents:
            modified = (await store.replace_many(documents, None, session, None)).modified
        await self._state.save_progress(
            self.revision,
            self.direction,
            index,
            Progress("transaction", last_id, so_far + modified),
            session,
        )
        return modified


async def _call(function: Callable[..., Any], value: Any) -> Any:
    result = function(value)
    if inspect.isawaitable(result):
        result = await result
    return result


def _check_path(path: str) -> None:
    if not isinstance(path, str) or not path or path.startswith("$") or ".." in path:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise MigrationError(f"{path!r} is not a field path")
