"""Sessions and multi-document transactions.

>>> async with client.transaction() as session:          # doctest: +SKIP
...     await accounts.update(a.id, {"balance": a.balance - 10}, session=session)
...     await accounts.update(b.id, {"balance": b.balance + 10}, session=session)

The block commits when it ends normally and aborts on any exception raised inside it (a
cancellation included). A commit already sent cannot be recalled: see
:meth:`Session.commit_transaction`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Literal, TypedDict, TypeVar

from ._bridge import NativeClient, NativeSession
from ._bridge.timeouts import bounded
from .errors import OperationFailure, OperationTimeoutError, VellumError

__all__ = ["Session", "TransactionOptions"]

T = TypeVar("T")

ReadConcernLevel = Literal["local", "majority", "snapshot", "linearizable", "available"]
ReadPreferenceMode = Literal[
    "primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest"
]

TRANSIENT = "TransientTransactionError"
UNKNOWN_COMMIT = "UnknownTransactionCommitResult"
# MongoDB's convenient transaction API gives up retrying after this long.
DEFAULT_TIMEOUT_S = 120.0


class TransactionSettings(TypedDict, total=False):
    """The keyword arguments of ``client.transaction()`` and ``client.with_transaction()``."""

    read_concern: ReadConcernLevel
    w: int | str
    journal: bool
    wtimeout_ms: int
    read_preference: ReadPreferenceMode
    max_commit_time_ms: int


class TransactionOptions:
    """Read concern, write concern, read preference and commit time of a transaction."""

    __slots__ = (
        "journal",
        "max_commit_time_ms",
        "read_concern",
        "read_preference",
        "w",
        "wtimeout_ms",
    )

    def __init__(
        self,
        *,
        read_concern: ReadConcernLevel | None = None,
        w: int | str | None = None,
        journal: bool | None = None,
        wtimeout_ms: int | None = None,
        read_preference: ReadPreferenceMode | None = None,
        max_commit_time_ms: int | None = None,
    ) -> None:
        self.read_concern = read_concern
        self.w = w
        self.journal = journal
        self.wtimeout_ms = wtimeout_ms
        self.read_preference = read_preference
        self.max_commit_time_ms = max_commit_time_ms


class Session:
    """A client session: pass it as ``session=`` to repository methods so they run in it.

    Use it as an async context manager (``async with client.start_session() as s``); it ends
    with the block, and using it afterwards raises :class:`~vellum.SessionError`.
    """

    __slots__ = ("_core", "_timeout_ms", "pending_commit")

    def __init__(self, native: NativeSession, timeout_ms: int | None = None) -> None:
        self._core = native
        self._timeout_ms = timeout_ms
        self.pending_commit: asyncio.Future[None] | None = None
        """The last commit this session sent, to await for its outcome when the task that
        sent it was cancelled before it completed (see :meth:`commit_transaction`)."""

    @classmethod
    async def start(cls, client: NativeClient, causal_consistency: bool = True) -> Session:
        """Starts a server session on the core ``client`` (use ``client.start_session()``,
        which also ends it)."""
        native = await bounded(
            lambda: client.start_session(causal_consistency=causal_consistency), client.timeout_ms
        )
        return cls(native, client.timeout_ms)

    @property
    def in_transaction(self) -> bool:
        return self._core.in_transaction

    @property
    def ended(self) -> bool:
        return self._core.ended

    async def start_transaction(self, options: TransactionOptions | None = None) -> None:
        """Starts a transaction; raises :class:`~vellum.TransactionError` if one is open, and
        :class:`~vellum.TransactionsNotSupportedError` on a deployment without transactions."""
        o = options or TransactionOptions()
        await bounded(
            lambda: self._core.start_transaction(
                read_concern=o.read_concern,
                w=o.w,
                journal=o.journal,
                wtimeout_ms=o.wtimeout_ms,
                read_preference=o.read_preference,
                max_commit_time_ms=o.max_commit_time_ms,
            ),
            self._timeout_ms,
        )

    async def commit_transaction(self) -> None:
        """Commits the open transaction.

        A commit cannot be recalled: once this is called the commit is sent and completes on
        the server even if the awaiting task is cancelled. The cancelled task sees
        ``CancelledError`` (with a note saying the commit was sent, on Python 3.11+); the
        commit's outcome is ``session.pending_commit``, a future that completes with it (it
        raises the commit's error if it failed)."""

        def send() -> Awaitable[None]:
            commit = asyncio.ensure_future(self._core.commit_transaction())
            commit.add_done_callback(_retrieve)
            self.pending_commit = commit
            return asyncio.shield(commit)  # neither a cancellation nor a deadline recalls it

        try:
            await bounded(send, self._timeout_ms)
        except OperationTimeoutError as late:
            if not late.sent:
                raise
            raise OperationTimeoutError(
                "the commit did not complete within its time; it completes on the server "
                "regardless: await session.pending_commit for its outcome",
                sent=True,
            ) from None
        except asyncio.CancelledError as cancelled:
            add_note = getattr(cancelled, "add_note", None)  # Python 3.11+
            commit = self.pending_commit
            if commit is not None and not commit.done() and add_note is not None:
                add_note(
                    "vellum: the transaction's commit had been sent when this task was "
                    "cancelled; it completes on the server regardless (a commit cannot be "
                    "recalled). Await session.pending_commit for its outcome."
                )
            raise

    async def abort_transaction(self) -> None:
        await bounded(self._core.abort_transaction, self._timeout_ms)

    async def end(self) -> None:
        """Ends the session, aborting an open transaction. A commit in flight (sent by a task
        that was cancelled) completes first: ending now would race it for the session and
        could abort the transaction it was committing."""
        commit = self.pending_commit
        if commit is not None and not commit.done():
            try:
                await asyncio.wait({commit})
            except asyncio.CancelledError:
                # Cancelled again while waiting: the session ends once the commit has.
                core = self._core
                commit.add_done_callback(lambda _: _end_soon(core))
                raise
        await self._core.end()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.end()

    def __repr__(self) -> str:
        state = "ended" if self.ended else "in transaction" if self.in_transaction else "open"
        return f"<Session {state}>"


class SessionContext:
    """``client.start_session()``: starts the session on entry, ends it on exit."""

    __slots__ = ("_causal_consistency", "_client", "_session")

    def __init__(self, client: NativeClient, causal_consistency: bool) -> None:
        self._client = client
        self._causal_consistency = causal_consistency
        self._session: Session | None = None

    async def __aenter__(self) -> Session:
        self._session = await Session.start(self._client, self._causal_consistency)
        return self._session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.end()


class TransactionContext:
    """``client.transaction()``: a session with a transaction that commits when the block ends
    and aborts on any exception or cancellation inside it (a commit in flight completes
    regardless: see :meth:`Session.commit_transaction`)."""

    __slots__ = ("_client", "_options", "_own", "_session")

    def __init__(
        self, client: NativeClient, options: TransactionOptions, session: Session | None
    ) -> None:
        self._client = client
        self._options = options
        self._session = session
        self._own = session is None

    async def __aenter__(self) -> Session:
        if self._session is None:
            self._session = await Session.start(self._client)
        try:
            await self._session.start_transaction(self._options)
        except BaseException:
            if self._own:
                await self._session.end()
            raise
        return self._session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._session
        assert session is not None
        try:
            if exc_type is None:
                if session.in_transaction:
                    await session.commit_transaction()
            elif session.in_transaction:
                await session.abort_transaction()
        finally:
            if self._own:
                await session.end()


def _end_soon(core: NativeSession) -> None:
    asyncio.ensure_future(core.end()).add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[None]) -> None:
    # A commit nobody awaits after a cancellation must not log "exception never retrieved".
    if not future.cancelled():
        future.exception()


def _has_label(exc: BaseException, label: str) -> bool:
    return isinstance(exc, VellumError) and exc.has_error_label(label)


async def with_transaction(
    session: Session,
    callback: Callable[[Session], Awaitable[T]],
    options: TransactionOptions,
    timeout_s: float,
) -> T:
    """MongoDB's convenient transaction: run ``callback`` in a transaction, retrying the whole
    callback on ``TransientTransactionError`` and the commit on
    ``UnknownTransactionCommitResult``, until ``timeout_s`` has passed."""
    start = time.monotonic()

    def within_time() -> bool:
        return time.monotonic() - start < timeout_s

    while True:
        await session.start_transaction(options)
        try:
            result = await callback(session)
        except BaseException as exc:
            if session.in_transaction:
                await session.abort_transaction()
            if _has_label(exc, TRANSIENT) and within_time():
                continue
            raise
        if not session.in_transaction:
            return result  # the callback committed or aborted it itself
        while True:
            try:
                await session.commit_transaction()
                return result
            except VellumError as exc:
                code = exc.code if isinstance(exc, OperationFailure) else None
                if exc.has_error_label(UNKNOWN_COMMIT) and within_time() and code != 50:
                    continue  # 50: MaxTimeMSExpired, retrying cannot help
                if exc.has_error_label(TRANSIENT) and within_time():
                    break  # retry the whole transaction
                raise
