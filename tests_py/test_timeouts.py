"""Operation timeouts: MongoDB's timeoutMS in the URI, and vellum.timeout() blocks. A server
that does not answer in time gives OperationTimeoutError at the bound, not after the driver's
own waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from conftest import Server
from models import User
from vellum import (
    ConfigurationError,
    OperationFailure,
    OperationTimeoutError,
    Session,
    VellumClient,
    VellumRepository,
    connect_to_mongodb,
    timeout,
)


@pytest.fixture
async def users(client: VellumClient, db_name: str) -> VellumRepository[User]:
    repo = VellumRepository(User, client, db_name)
    await repo.ensure_indexes()
    return repo


async def blocked_find(fail_point: Any, ms: int) -> None:
    """The next find waits ``ms`` on the server, then fails with code 2 (the same on the emulator
    and on MongoDB, whose fail point would otherwise answer normally)."""
    await fail_point(1, ["find"], blockConnection=True, blockTimeMS=ms, errorCode=2)


async def test_a_timeout_block_bounds_each_operation(
    users: VellumRepository[User], fail_point: Any
) -> None:
    await blocked_find(fail_point, 1500)
    started = time.monotonic()
    with pytest.raises(OperationTimeoutError) as late, timeout(0.3):
        await users.find()
    assert time.monotonic() - started < 1.2
    assert late.value.sent
    assert not isinstance(late.value, TimeoutError)  # wait_for users can tell theirs apart
    # Outside the block nothing is bounded: the same wait ends with the server's answer.
    await blocked_find(fail_point, 500)
    with pytest.raises(OperationFailure) as answered:
        await users.find()
    assert answered.value.code == 2
    assert await users.count() == 0  # and the client works


async def test_blocks_nest_and_the_tighter_deadline_wins(
    users: VellumRepository[User], fail_point: Any
) -> None:
    await blocked_find(fail_point, 1500)
    started = time.monotonic()
    with pytest.raises(OperationTimeoutError), timeout(30), timeout(0.2):
        await users.find()
    assert time.monotonic() - started < 1.2
    with timeout(0.05):
        await asyncio.sleep(0.1)  # the block's time is used up before the operation starts
        with pytest.raises(OperationTimeoutError) as never:
            await users.count()
    assert not never.value.sent


@pytest.fixture
async def bounded_client(server: Server) -> AsyncIterator[VellumClient]:
    client = await connect_to_mongodb(server.uri + "&timeoutMS=300", "vellum_timeouts")
    yield client
    await client.close()


async def test_timeout_ms_in_the_uri_bounds_every_operation(
    bounded_client: VellumClient, fail_point: Any
) -> None:
    users = VellumRepository(User, bounded_client)
    await blocked_find(fail_point, 1500)
    started = time.monotonic()
    with pytest.raises(OperationTimeoutError):
        await users.find()
    assert time.monotonic() - started < 1.2
    await blocked_find(fail_point, 500)
    with pytest.raises(OperationFailure), timeout(None):  # a block without any bound
        await users.find()
    assert await users.count() == 0  # the bounded client still works


async def test_socket_timeout_ms_is_accepted_as_the_bound(server: Server, fail_point: Any) -> None:
    async with await connect_to_mongodb(server.uri + "&socketTimeoutMS=300", "x") as client:
        await blocked_find(fail_point, 1500)
        with pytest.raises(OperationTimeoutError):
            await VellumRepository(User, client).find()


async def test_bad_timeouts_are_refused(server: Server) -> None:
    with pytest.raises(ConfigurationError, match="timeoutMS must be a whole number"):
        await connect_to_mongodb(server.uri + "&timeoutMS=soon", "x")
    with pytest.raises(ValueError, match="positive number of seconds"), timeout(-1):
        pass
    with pytest.raises(TypeError, match="seconds as a number"), timeout("1"):  # type: ignore[arg-type]
        pass


async def test_a_commit_that_outlasts_its_time_still_commits(
    client: VellumClient, users: VellumRepository[User], fail_point: Any
) -> None:
    await fail_point(
        1,
        ["commitTransaction"],
        blockConnection=True,
        blockTimeMS=800,
        errorCode=91,
        errorLabels=["RetryableWriteError"],  # the driver's own retry then commits
    )
    sessions: list[Session] = []

    async def transfer() -> None:
        async with client.transaction() as session:
            sessions.append(session)
            await users.create(User(name="Ada", email="a@x"), session=session)

    with pytest.raises(OperationTimeoutError, match="pending_commit"), timeout(0.3):
        await transfer()
    pending = sessions[0].pending_commit
    assert pending is not None
    await pending
    assert [u.name for u in await users.find()] == ["Ada"]
