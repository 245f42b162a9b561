"""Connecting: ``connect_to_mongodb`` and ``init_db_client``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._bridge import NativeClient
from ._bridge.timeouts import bounded
from .session import (
    DEFAULT_TIMEOUT_S,
    Session,
    SessionContext,
    TransactionContext,
    TransactionOptions,
    TransactionSettings,
    with_transaction,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

T = TypeVar("T")

__all__ = ["VellumClient", "connect_to_mongodb", "init_db_client"]


class VellumClient:
    """A connection pool to one MongoDB deployment, with an optional default database.

    Close it before the event loop ends (``await client.close()``), or use it as
    ``async with await connect_to_mongodb(...) as client:``.
    """

    __slots__ = ("_core", "default_database")

    def __init__(self, native: NativeClient, default_database: str | None = None) -> None:
        self._core = native
        self.default_database = default_database

    @property
    def uri(self) -> str:
        """The connection string, with any password replaced by ``***``."""
        return self._core.uri

    @property
    def supports_transactions(self) -> bool:
        """Whether the deployment runs transactions (a replica set or a sharded cluster)."""
        return self._core.transactions

    @property
    def closed(self) -> bool:
        return self._core.closed

    def database_name(self, name: str | None) -> str:
        resolved = name or self.default_database
        if not resolved:
            raise ValueError(
                "no database name: pass one (VellumRepository(Model, client, 'app')) or connect "
                "with a default (connect_to_mongodb(uri, 'app'))"
            )
        return resolved

    async def command(self, command: dict[str, Any], database: str | None = None) -> dict[str, Any]:
        """Runs a database command (``{"ping": 1}``...) and returns the server's reply."""
        name = self.database_name(database)
        return await bounded(lambda: self._core.command(name, command), self._core.timeout_ms)

    async def list_collection_names(self, database: str | None = None) -> list[str]:
        name = self.database_name(database)
        return await bounded(lambda: self._core.list_collection_names(name), self._core.timeout_ms)

    async def drop_database(self, database: str | None = None) -> None:
        name = self.database_name(database)
        await bounded(lambda: self._core.drop_database(name), self._core.timeout_ms)

    def start_session(self, *, causal_consistency: bool = True) -> SessionContext:
        """A session for ``async with``: ``async with client.start_session() as s: ...``."""
        return SessionContext(self._core, causal_consistency)

    def transaction(
        self, *, session: Session | None = None, **options: Unpack[TransactionSettings]
    ) -> TransactionContext:
        """A transaction for ``async with``: commits when the block ends, aborts on any
        exception or cancellation inside the block (a commit in flight completes regardless: see
        ``Session.commit_transaction``). Starts its own session unless given one. Options:
        ``read_concern``, ``w``, ``journal``, ``wtimeout_ms``, ``read_preference``,
        ``max_commit_time_ms``."""
        return TransactionContext(self._core, TransactionOptions(**options), session)

    async def with_transaction(
        self,
        callback: Callable[[Session], Awaitable[T]],
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        **options: Unpack[TransactionSettings],
    ) -> T:
        """Runs ``callback(session)`` in a transaction and commits it, following MongoDB's
        convenient transaction rules: the whole callback is retried on a
        ``TransientTransactionError``, the commit on ``UnknownTransactionCommitResult``, until
        ``timeout_s`` (120 s by default) has passed; anything else aborts and is re-raised.
        Takes the options of :meth:`transaction`."""
        async with self.start_session() as session:
            return await with_transaction(
                session, callback, TransactionOptions(**options), timeout_s
            )

    def command_counts(self) -> dict[str, int]:
        """For tests and diagnostics: how many commands of each name (``"find"``,
        ``"getMore"``, ``"insert"``...) this client sent since it connected or since the last
        :meth:`reset_command_counts`, as a copy. Handshake, authentication and monitoring
        commands (``hello``, ``saslStart``, ``ping``, ``endSessions``...) are not counted.

        Counting costs a little per command, so it is off by default: connect with
        ``count_commands=True``, otherwise this raises ``ConfigurationError``.

        >>> client = await connect_to_mongodb(uri, "app", count_commands=True)  # doctest: +SKIP
        >>> books = await repository.find()  # doctest: +SKIP
        >>> client.command_counts()  # doctest: +SKIP
        {'find': 1, 'getMore': 2}
        """
        return self._core.command_counts()

    def reset_command_counts(self) -> None:
        """Sets every command count back to zero (see :meth:`command_counts`); raises
        ``ConfigurationError`` unless the client was connected with ``count_commands=True``."""
        self._core.reset_command_counts()

    async def close(self) -> None:
        """Closes the pool; later operations raise ``ClientClosedError``."""
        await self._core.close()

    async def __aenter__(self) -> VellumClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"VellumClient({self.uri!r}, default_database={self.default_database!r})"


async def init_db_client(
    uri: str,
    *,
    default_database: str | None = None,
    app_name: str | None = None,
    server_selection_timeout_ms: int | None = None,
    count_commands: bool = False,
) -> VellumClient:
    """Connects to ``uri`` and checks that the server answers.

    Raises ``ConfigurationError`` for a malformed URI and ``ServerSelectionTimeoutError`` when no
    server answers in time (``serverSelectionTimeoutMS`` in the URI, or the argument here).

    ``count_commands=True`` counts the commands the client sends, by name, for tests and
    diagnostics (:meth:`VellumClient.command_counts`); counting costs a little per command, so
    it is off by default.
    """
    native = await NativeClient.connect(
        uri,
        app_name=app_name,
        server_selection_timeout_ms=server_selection_timeout_ms,
        count_commands=count_commands,
    )
    return VellumClient(native, default_database)


async def connect_to_mongodb(
    uri: str,
    db_name: str | None = None,
    *,
    app_name: str | None = None,
    server_selection_timeout_ms: int | None = None,
    count_commands: bool = False,
) -> VellumClient:
    """Connects to ``uri`` with ``db_name`` as the default database of repositories. Takes the
    options of :func:`init_db_client` (``count_commands=True`` to count commands for tests)."""
    return await init_db_client(
        uri,
        default_database=db_name,
        app_name=app_name,
        server_selection_timeout_ms=server_selection_timeout_ms,
        count_commands=count_commands,
    )
