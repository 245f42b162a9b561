"""Sessions and transactions against the server, with failures injected by failCommand."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import pytest

from conftest import Server
from models import User
from vellum import (
    ConnectionError,
    OperationFailure,
    Session,
    SessionError,
    TransactionError,
    VellumClient,
    VellumRepository,
    connect_to_mongodb,
)


@pytest.fixture
async def users(client: VellumClient, db_name: str) -> VellumRepository[User]:
    repo = VellumRepository(User, client, db_name)
    await repo.ensure_indexes()  # creates the collection outside any transaction
    return repo


async def test_commit_makes_every_write_visible(users: VellumRepository[User]) -> None:
    async with users.transaction() as session:
        ada = await users.create(User(name="Ada", email="a@x"), session=session)
        await users.create(User(name="Bob", email="b@x"), session=session)
        await users.update(ada.id, {"age": 37}, session=session)
        assert await users.count(session=session) == 2
        assert await users.count() == 0  # not visible outside before commit
    assert await users.count() == 2
    stored = await users.get(ada.id)
    assert stored is not None and stored.age == 37


async def test_an_exception_aborts_every_write(users: VellumRepository[User]) -> None:
    await users.create(User(name="Keep", email="k@x"))

    async def failing() -> None:
        async with users.transaction() as session:
            await users.create(User(name="Ada", email="a@x"), session=session)
            await users.delete_many({}, session=session)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await failing()
    assert [u.name for u in await users.find()] == ["Keep"]


async def test_every_method_runs_in_the_session(users: VellumRepository[User]) -> None:
    Q = User.Q
    base = await users.create_many([User(name=f"u{i}", email=f"{i}@x", age=i) for i in range(5)])
    async with users.transaction() as s:
        made = await users.create(User(name="new", email="new@x"), session=s)
        await users.create_many([User(name="n2", email="n2@x")], session=s)
        assert await users.get(made.id, session=s) == made
        assert len(await users.find(Q.age >= 0, session=s)) == 7
        assert await users.find_one(Q.name == "new", session=s) == made
        assert len([u async for u in users.iter(session=s, batch_size=2)]) == 7
        result = await users.update_many(Q.age < 3, Q.age.inc(10), session=s)
        assert result.modified == 5  # three of the base ones plus the two new (age 0)
        await users.update_one(Q.name == "u4", Q.tags.push("x"), session=s)
        assert await users.delete(base[0].id, session=s) is True
        assert await users.delete_many(Q.name == "n2", session=s) == 1
        assert await users.count(session=s) == 5
        await s.abort_transaction()
    assert sorted(u.age for u in await users.find()) == [0, 1, 2, 3, 4]


async def test_with_transaction_commits_and_returns(
    client: VellumClient, users: VellumRepository[User]
) -> None:
    async def transfer(session: Session) -> str:
        await users.create(User(name="Ada", email="a@x"), session=session)
        return "done"

    assert await client.with_transaction(transfer, max_commit_time_ms=5000) == "done"
    assert await users.count() == 1


async def retried_once(client: VellumClient, users: VellumRepository[User]) -> None:
    """with_transaction of a callback that inserts one document: after one failed attempt the
    whole callback ran again, and only the second attempt's document is stored."""
    attempts = 0

    async def callback(session: Session) -> None:
        nonlocal attempts
        attempts += 1
        await users.create(User(name=f"try{attempts}", email="once@x"), session=session)

    await client.with_transaction(callback)
    assert attempts == 2
    assert [u.name for u in await users.find()] == ["try2"]


async def test_transient_error_is_retried_and_writes_land_once(
    client: VellumClient, users: VellumRepository[User], fail_point: Any
) -> None:
    await fail_point(1, ["insert"], errorCode=112, errorLabels=["TransientTransactionError"])
    await retried_once(client, users)


async def test_unknown_commit_result_is_retried(
    client: VellumClient, users: VellumRepository[User], fail_point: Any
) -> None:
    await fail_point(
        2, ["commitTransaction"], errorCode=91, errorLabels=["UnknownTransactionCommitResult"]
    )
    calls = 0

    async def callback(session: Session) -> None:
        nonlocal calls
        calls += 1
        await users.create(User(name="Ada", email="a@x"), session=session)

    await client.with_transaction(callback)
    assert calls == 1
    assert await users.count() == 1


async def test_a_connection_closed_in_a_transaction_is_retried(
    client: VellumClient, users: VellumRepository[User], fail_point: Any
) -> None:
    """A network error inside a transaction is a ConnectionError labelled
    TransientTransactionError (by the driver: the server never answered), and
    with_transaction retries the whole transaction on it."""
    await fail_point(1, ["insert"], closeConnection=True)
    with pytest.raises(ConnectionError) as raised:
        async with users.transaction() as session:
            await users.create(User(name="Ada", email="a@x"), session=session)
    assert raised.value.has_error_label("TransientTransactionError")
    assert await users.count() == 0
    await fail_point(1, ["insert"], closeConnection=True)
    await retried_once(client, users)


async def test_a_connection_closed_at_commit_is_retried(
    client: VellumClient,
    own_client: VellumClient,
    users: VellumRepository[User],
    fail_point: Any,
) -> None:
    """The driver retries a commit once itself; when that fails too, the error carries
    UnknownTransactionCommitResult and with_transaction commits again, without rerunning the
    callback."""
    await fail_point(2, ["commitTransaction"], closeConnection=True)
    # On a client of its own: the commit never ran, so its transaction stays open on the server.
    own = VellumRepository(User, own_client, users.database_name)
    with pytest.raises(ConnectionError) as raised:
        async with own.transaction() as session:
            await own.create(User(name="Bob", email="b@x"), session=session)
    assert raised.value.has_error_label("UnknownTransactionCommitResult")
    await own_client.close()
    await users.delete_many({})  # whether a commit happened is, by definition, unknown
    await fail_point(2, ["commitTransaction"], closeConnection=True)
    calls = 0

    async def callback(session: Session) -> None:
        nonlocal calls
        calls += 1
        await users.create(User(name="Ada", email="a@x"), session=session)

    await client.with_transaction(callback)
    assert calls == 1
    assert await users.count() == 1


async def test_other_errors_abort_and_are_raised(
    client: VellumClient, users: VellumRepository[User], fail_point: Any
) -> None:
    await fail_point(1, ["insert"], errorCode=2)

    async def callback(session: Session) -> None:
        await users.create(User(name="Ok", email="ok@x"), session=session)
        await users.create(User(name="Fails", email="f@x"), session=session)

    with pytest.raises(OperationFailure) as info:
        await client.with_transaction(callback)
    assert not info.value.has_error_label("TransientTransactionError")
    assert await users.count() == 0


async def test_retries_stop_at_the_time_limit(
    client: VellumClient, users: VellumRepository[User], fail_point: Any
) -> None:
    await fail_point(1000, ["insert"], errorCode=112, errorLabels=["TransientTransactionError"])

    async def callback(session: Session) -> None:
        await users.create(User(name="never", email="n@x"), session=session)

    with pytest.raises(OperationFailure) as info:
        await client.with_transaction(callback, timeout_s=0.3)
    assert info.value.has_error_label("TransientTransactionError")


async def test_cancelling_inside_the_block_aborts(
    client: VellumClient, users: VellumRepository[User]
) -> None:
    inside = asyncio.Event()

    async def work() -> None:
        async with users.transaction() as session:
            await users.create(User(name="Ada", email="a@x"), session=session)
            inside.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(work())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await users.count() == 0
    # The client is still usable, transactions included.
    async with users.transaction() as session:
        await users.create(User(name="After", email="after@x"), session=session)
    assert [u.name for u in await users.find()] == ["After"]


async def test_cancelling_during_the_commit_commits_and_says_so(
    client: VellumClient, users: VellumRepository[User], fail_point: Any
) -> None:
    """A commit cannot be recalled: cancelled while it is in flight, the task sees
    CancelledError, the commit still lands, and session.pending_commit gives its outcome."""
    # The first commit waits 400 ms and fails with a retryable error; the driver's own retry
    # commits. The task is cancelled during the wait.
    await fail_point(
        1,
        ["commitTransaction"],
        blockConnection=True,
        blockTimeMS=400,
        errorCode=91,
        errorLabels=["RetryableWriteError"],
    )
    sessions: list[Session] = []
    committing = asyncio.Event()

    async def work() -> None:
        async with users.transaction() as session:
            sessions.append(session)
            await users.create(User(name="Ada", email="a@x"), session=session)
            committing.set()  # the block ends here: next comes the commit

    task = asyncio.create_task(work())
    await committing.wait()
    await asyncio.sleep(0.1)  # inside the fail point's 400 ms
    task.cancel()
    with pytest.raises(asyncio.CancelledError) as cancelled:
        await task
    notes = getattr(cancelled.value, "__notes__", [])
    if sys.version_info >= (3, 11):
        assert any("commit had been sent" in note for note in notes)
    pending = sessions[0].pending_commit
    assert pending is not None
    await pending  # the outcome: committed
    assert [u.name for u in await users.find()] == ["Ada"]


async def test_a_commit_cancelled_as_it_is_sent_still_lands(
    client: VellumClient, users: VellumRepository[User]
) -> None:
    """Cancelled right as the block ends, the commit has been sent, and the session's end (in
    the same exit) must not overtake it: ending first would abort the transaction, and a commit
    that was promised to complete would fail. Many rounds, as the two race."""
    made = await users.create(User(name="Ada", email="a@x", age=0))
    committed = 0
    for round_ in range(1, 61):
        sessions: list[Session] = []
        ended = asyncio.Event()

        async def work(n: int, sessions: list[Session], ended: asyncio.Event) -> None:
            async with client.transaction() as s:
                sessions.append(s)
                await users.update(made.id, {"age": n}, session=s)
                ended.set()

        task = asyncio.create_task(work(round_, sessions, ended))
        await ended.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        pending = sessions[0].pending_commit
        if pending is None:  # cancelled before the commit was sent: aborted, nothing stored
            continue
        await pending  # raises if the commit was refused
        committed += 1
        stored = await users.get(made.id)
        assert stored is not None and stored.age == round_
    assert committed > 0


async def test_causally_consistent_session(
    users: VellumRepository[User], client: VellumClient
) -> None:
    async with client.start_session(causal_consistency=True) as s:
        u = await users.create(User(name="Ada", email="a@x"), session=s)
        assert await users.get(u.id, session=s) is not None


async def test_session_used_after_its_block(
    users: VellumRepository[User], client: VellumClient
) -> None:
    async with client.start_session() as s:
        pass
    assert s.ended
    with pytest.raises(SessionError, match="has ended"):
        await users.count(session=s)
    async with client.transaction() as t:
        pass
    with pytest.raises(SessionError, match="has ended"):
        await users.create(User(name="x", email="x@x"), session=t)
    assert await users.count() == 0


async def test_session_from_another_client(server: Server, users: VellumRepository[User]) -> None:
    other = await connect_to_mongodb(server.uri, "other")
    try:
        async with other.start_session() as s:
            with pytest.raises(SessionError, match="another client"):
                await users.count(session=s)
    finally:
        await other.close()


async def test_nested_transactions_are_refused(
    users: VellumRepository[User], client: VellumClient
) -> None:
    async with client.transaction() as s:
        await users.create(User(name="Ada", email="a@x"), session=s)
        with pytest.raises(TransactionError, match="do not nest"):
            await s.start_transaction()
        with pytest.raises(TransactionError, match="do not nest"):
            async with client.transaction(session=s):
                pass
    assert await users.count() == 1


async def test_bad_session_argument(users: VellumRepository[User]) -> None:
    with pytest.raises(TypeError, match="vellum Session"):
        await users.count(session="nope")  # type: ignore[arg-type]


async def test_transaction_options(users: VellumRepository[User], client: VellumClient) -> None:
    async with client.transaction(
        read_concern="snapshot", w="majority", max_commit_time_ms=5000
    ) as s:
        await users.create(User(name="Ada", email="a@x"), session=s)
    assert await users.count() == 1
    with pytest.raises(ValueError, match="read_concern must be"):
        async with client.transaction(read_concern="bogus") as s:  # type: ignore[arg-type]
            pass


@pytest.mark.real_mongodb(
    "the emulator reports no write conflict between open transactions "
    "(TEST-SERVER.md, difference 2)"
)
async def test_write_conflict_between_transactions(
    users: VellumRepository[User], client: VellumClient
) -> None:
    ada = await users.create(User(name="Ada", email="a@x"))
    async with client.start_session() as s1, client.start_session() as s2:
        await s1.start_transaction()
        await s2.start_transaction()
        await users.update(ada.id, {"age": 1}, session=s1)
        with pytest.raises(OperationFailure) as info:
            await users.update(ada.id, {"age": 2}, session=s2)
        assert info.value.code == 112
        assert info.value.has_error_label("TransientTransactionError")
        await s2.abort_transaction()
        await s1.commit_transaction()
    stored = await users.get(ada.id)
    assert stored is not None and stored.age == 1
