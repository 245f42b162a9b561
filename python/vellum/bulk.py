"""A bulk writer: inserts, updates, upserts, replaces and deletes, queued across repositories of
one database and sent as few write commands as the server's limits allow.

>>> async with users.bulk() as bulk:                                  # doctest: +SKIP
...     bulk.insert(User(name="Ada", email="a@x"))
...     bulk.update_one(User.Q.email == "b@x", User.Q.age.inc(1))
...     bulk.on(orders).delete_many(Order.Q.state == "cancelled")
>>> bulk.result.inserted                                              # doctest: +SKIP

Nothing is sent until the block ends (an exception in the block sends nothing). Consecutive
operations of one kind on one collection go in one command (split only where the server's
limits require); with ``ordered=False`` the operations of each kind and collection are grouped
regardless of order. Each kind keeps what its single operation does: inserts run the insert
hooks of each document and stamp it; ``replace`` runs the update hooks and, for a versioned
model, its optimistic-concurrency check (so replaces are sent one per round trip); updates,
upserts and deletes are server-side writes that run no hooks, as ``update_many`` and
``delete_many`` do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal

from ._models import M
from .errors import DocumentTooLargeError, VellumError

if TYPE_CHECKING:
    from ._bridge import UpdateSpec
    from .query import FilterOf
    from .repository import VellumRepository
    from .session import Session

__all__ = ["BulkResult", "BulkWriteError", "BulkWriter"]

Kind = Literal["insert", "update", "replace", "delete"]

# The position WriteFailures (src/error.rs) adds to a server's write error message.
_POSITION = re.compile(r"\(document (\d+) of the batch\)")


@dataclass
class BulkResult:
    """What a bulk write did (so far, for a failed one)."""

    inserted: int = 0
    matched: int = 0
    modified: int = 0
    deleted: int = 0
    replaced: int = 0
    upserted_ids: dict[int, Any] = field(default_factory=dict[int, Any])
    """The ``_id`` each upsert inserted, by the operation's position in the queue."""


class BulkWriteError(VellumError):
    """A queued operation failed. ``index`` is its position in the queue (None when the server
    did not say which), ``operation`` what it was, ``result`` what the bulk did before it (with
    ``ordered=False``, everything else that succeeded), and ``error`` (also ``__cause__``) the
    failure itself (a ``DuplicateKeyError``, an ``OptimisticLockError``...)."""

    def __init__(
        self, error: BaseException, index: int | None, operation: str, result: BulkResult
    ) -> None:
        where = f"operation {index} ({operation})" if index is not None else operation
        super().__init__(f"bulk write failed at {where}: {error}")
        self.error = error
        self.index = index
        self.operation = operation
        self.result = result


@dataclass
class _Op:
    kind: Kind
    repository: VellumRepository[Any]
    position: int
    document: Any = None
    statement: tuple[Any, ...] = ()
    label: str = ""


class BulkOps(Generic[M]):
    """The operations a bulk write queues for one repository (``bulk`` itself queues for the
    repository it was made from, ``bulk.on(other)`` for another of the same database)."""

    def __init__(self, writer: BulkWriter[Any], repository: VellumRepository[M]) -> None:
        self._writer = writer
        self._repository = repository

    def insert(self, document: M) -> None:
        """Queues an insert (its insert hooks run when the bulk is sent)."""
        self._writer._queue(_Op("insert", self._repository, 0, document=document, label="insert"))  # pyright: ignore[reportPrivateUsage]

    def insert_many(self, documents: Sequence[M]) -> None:
        for document in documents:
            self.insert(document)

    def update_one(self, filter: FilterOf[M], *updates: UpdateSpec[M]) -> None:
        """Queues ``update_one(filter, *updates)``."""
        self._update(filter, updates, multi=False, upsert=False)

    def update_many(self, filter: FilterOf[M], *updates: UpdateSpec[M]) -> None:
        """Queues ``update_many(filter, *updates)``."""
        self._update(filter, updates, multi=True, upsert=False)

    def upsert(self, filter: FilterOf[M], *updates: UpdateSpec[M]) -> None:
        """Queues ``update_one(filter, *updates, upsert=True)``: a new document of the model
        when none matches (its ``_id`` reported in ``result.upserted_ids``)."""
        self._update(filter, updates, multi=False, upsert=True)

    def replace(self, document: M) -> None:
        """Queues ``replace(document.id, document)``: every field written, the update hooks
        run, a versioned model's version checked."""
        self._writer._queue(_Op("replace", self._repository, 0, document=document, label="replace"))  # pyright: ignore[reportPrivateUsage]

    def delete_one(self, filter: FilterOf[M]) -> None:
        """Queues deleting the first matching document (for good, as ``delete`` does)."""
        self._delete(filter, many=False)

    def delete_many(self, filter: FilterOf[M]) -> None:
        """Queues ``delete_many(filter)``."""
        self._delete(filter, many=True)

    def _update(
        self, filter: Any, updates: tuple[UpdateSpec, ...], *, multi: bool, upsert: bool
    ) -> None:
        repository = self._repository
        scoped = repository._scope(filter, False)  # pyright: ignore[reportPrivateUsage]
        # Checked now, so that a bad update fails where it is written, before anything is sent.
        spec = repository._update_spec(updates, scoped if upsert else None)  # pyright: ignore[reportPrivateUsage]
        label = "upsert" if upsert else "update_many" if multi else "update_one"
        statement = (scoped, spec, multi, upsert)
        self._writer._queue(_Op("update", repository, 0, statement=statement, label=label))  # pyright: ignore[reportPrivateUsage]

    def _delete(self, filter: Any, *, many: bool) -> None:
        repository = self._repository
        scoped = repository._scope(filter, True)  # pyright: ignore[reportPrivateUsage]
        label = "delete_many" if many else "delete_one"
        self._writer._queue(_Op("delete", repository, 0, statement=(scoped, many), label=label))  # pyright: ignore[reportPrivateUsage]


class BulkWriter(BulkOps[M]):
    """``async with repository.bulk(ordered=True, session=None) as bulk``: see the module."""

    def __init__(
        self,
        repository: VellumRepository[M],
        *,
        ordered: bool = True,
        session: Session | None = None,
        skip_hooks: bool = False,
    ) -> None:
        super().__init__(self, repository)
        self.ordered = ordered
        self.session = session
        self.skip_hooks = skip_hooks
        self.result = BulkResult()
        self._ops: list[_Op] = []
        self._sent = False

    def on(self, repository: VellumRepository[Any]) -> BulkOps[Any]:
        """The operations of this bulk on another repository of the same database."""
        mine = self._repository
        if repository.client is not mine.client or repository.database_name != (mine.database_name):
            raise ValueError(
                "a bulk write spans repositories of one client and one database: "
                f"{repository!r} is not in {mine.database_name!r} of the same client"
            )
        return BulkOps(self, repository)

    def _queue(self, op: _Op) -> None:
        if self._sent:
            raise RuntimeError("this bulk write was sent already: start a new one")
        op.position = len(self._ops)
        self._ops.append(op)

    async def __aenter__(self) -> BulkWriter[M]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.send()

    async def send(self) -> BulkResult:
        """Sends what is queued (the block's end does); returns :attr:`result`."""
        if self._sent:
            raise RuntimeError("this bulk write was sent already")
        self._sent = True
        failure: BulkWriteError | None = None
        for run in _runs(self._ops, self.ordered):
            try:
                await self._send_run(run)
            except BulkWriteError as failed:
                if self.ordered:
                    raise
                failure = failure or failed
        if failure is not None:
            raise failure
        return self.result

    async def _send_run(self, run: list[_Op]) -> None:
        repository, kind = run[0].repository, run[0].kind
        if kind == "insert":
            await self._inserts(repository, run)
        elif kind == "replace":
            for op in run:
                await self._replace(repository, op)
        else:
            await self._statements(repository, kind, run)

    async def _inserts(self, repository: VellumRepository[Any], run: list[_Op]) -> None:
        try:
            await repository.create_many(
                [op.document for op in run],
                ordered=self.ordered,
                session=self.session,
                skip_hooks=self.skip_hooks,
            )
        except VellumError as error:
            at = _position(error)
            if isinstance(error, DocumentTooLargeError):
                self.result.inserted += error.inserted
            elif at is not None and self.ordered:
                self.result.inserted += at
            self._fail(error, run, at)
        self.result.inserted += len(run)

    async def _replace(self, repository: VellumRepository[Any], op: _Op) -> None:
        done = None
        try:
            done = await repository.replace(
                op.document.id, op.document, session=self.session, skip_hooks=self.skip_hooks
            )
        except VellumError as error:
            self._fail(error, [op], 0)
        if done is not None:
            self.result.replaced += 1

    async def _statements(
        self, repository: VellumRepository[Any], kind: Kind, run: list[_Op]
    ) -> None:
        outcome = await repository._store.write_statements(  # pyright: ignore[reportPrivateUsage]
            "update" if kind == "update" else "delete",
            [op.statement for op in run],
            ordered=self.ordered,
            session=self.session,
        )
        self.result.matched += outcome.matched
        self.result.modified += outcome.modified
        self.result.deleted += outcome.deleted
        for at, upserted_id in outcome.upserted:
            self.result.upserted_ids[run[at].position] = upserted_id
        if outcome.error is not None:
            self._fail(outcome.error, run, outcome.failed_index)

    def _fail(self, error: BaseException, run: list[_Op], at: int | None) -> None:
        op = run[at] if at is not None and at < len(run) else None
        raise BulkWriteError(
            error,
            None if op is None else op.position,
            run[0].label if op is None else op.label,
            self.result,
        ) from error


def _runs(ops: list[_Op], ordered: bool) -> list[list[_Op]]:
    """The operations in the commands that carry them: consecutive ones of one kind on one
    collection when ordered, every one of a kind and collection otherwise."""
    runs: list[list[_Op]] = []
    if ordered:
        for op in ops:
            last = runs[-1][0] if runs else None
            if last is not None and last.kind == op.kind and last.repository is op.repository:
                runs[-1].append(op)
            else:
                runs.append([op])
        return runs
    groups: dict[tuple[int, str], list[_Op]] = {}
    for op in ops:
        groups.setdefault((id(op.repository), op.kind), []).append(op)
    return list(groups.values())


def _position(error: BaseException) -> int | None:
    if isinstance(error, DocumentTooLargeError):
        return error.index
    found = _POSITION.search(str(error))
    return int(found.group(1)) if found else None
