"""The permanent fault suite: a server that dies and comes back mid-operation, mass
cancellation, many concurrent operations, and corrupted BSON. Every case is bounded in time:
an operation that would hang fails the test instead."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from models import User
from test_codec import documents
from vellum import (
    OperationFailure,
    Session,
    VellumBaseModel,
    VellumClient,
    VellumError,
    VellumRepository,
    connect_to_mongodb,
    decode_bson,
    encode_bson,
)
from vellum._plans import read_plan

LAUNCHER = ROOT / "scripts" / "mongoeco_launcher.py"
BOUND_S = 60.0  # no single step of a fault case may take longer


class Item(VellumBaseModel):
    n: int
    label: str = ""


class PrivateServer:
    """An embedded server of the test's own, which it can kill and start again on the same
    port (a new, empty in-memory server, as after a crash)."""

    def __init__(self, python: str, **env: str) -> None:
        self.python = python
        self.env = {**os.environ, **env}
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None
        self.uri = (
            f"mongodb://127.0.0.1:{self.port}/?directConnection=true"
            "&serverSelectionTimeoutMS=5000&connectTimeoutMS=5000"
        )

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.python, str(LAUNCHER), "--host", "127.0.0.1", "--port", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env=self.env,
        )
        deadline = time.monotonic() + BOUND_S
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("the private server exited at start") from None
                time.sleep(0.05)
        raise RuntimeError("the private server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=BOUND_S)

    def restart(self) -> None:
        self.kill()
        self.start()


@pytest.fixture
def private(mongoeco_python: str) -> Iterator[PrivateServer]:
    server = PrivateServer(mongoeco_python)
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def private_client(private: PrivateServer) -> AsyncIterator[VellumClient]:
    client = await connect_to_mongodb(private.uri, "faults")
    yield client
    await client.close()


async def bounded(awaitable: Any) -> Any:
    return await asyncio.wait_for(awaitable, BOUND_S)


async def still_works(client: VellumClient) -> None:
    """The same client, after the fault: writes, reads and a transaction."""
    items = VellumRepository(Item, client, "after_the_fault")
    await bounded(items.create(Item(n=-1)))
    async with client.transaction() as session:
        await bounded(items.create(Item(n=-2), session=session))
    assert sorted(i.n for i in await bounded(items.find())) == [-2, -1]


async def test_server_restarted_during_iter(
    private: PrivateServer, private_client: VellumClient
) -> None:
    items = VellumRepository(Item, private_client)
    await bounded(items.create_many(Item(n=i) for i in range(20_000)))
    seen = 0

    async def consume() -> None:
        nonlocal seen
        async for _ in items.iter(batch_size=1000):
            seen += 1
            if seen == 2500:  # inside the third batch: the next getMore meets the new server
                await asyncio.to_thread(private.restart)

    with pytest.raises(VellumError):
        await bounded(consume())
    assert 2500 <= seen < 20_000
    await still_works(private_client)


async def test_server_restarted_during_a_transaction(
    private: PrivateServer, private_client: VellumClient
) -> None:
    items = VellumRepository(Item, private_client)
    await bounded(items.create(Item(n=0)))

    async def transaction() -> None:
        async with private_client.transaction() as session:
            await items.create_many([Item(n=i) for i in range(1, 50)], session=session)
            await asyncio.to_thread(private.restart)
            await items.create(Item(n=99), session=session)

    with pytest.raises(VellumError):
        await bounded(transaction())
    assert await bounded(items.count()) == 0  # the new server holds nothing, partial or not
    await still_works(private_client)


async def test_server_restarted_during_create_many(
    private: PrivateServer, private_client: VellumClient
) -> None:
    items = VellumRepository(Item, private_client)
    insert = asyncio.create_task(items.create_many(Item(n=i) for i in range(20_000)))
    await asyncio.sleep(1.0)  # the emulator inserts about 2 000 documents a second
    await asyncio.to_thread(private.restart)
    # A typed error, or success: the driver retries a write batch once after a network error,
    # and the retry may reach the new server (what the old one had stored is gone with it).
    (outcome,) = await bounded(asyncio.gather(insert, return_exceptions=True))
    assert isinstance(outcome, (list, VellumError)), outcome
    stored = await bounded(items.count())
    assert stored <= 20_000
    if isinstance(outcome, list):  # the retried batch (all 20 000 fit in one) is all there
        assert stored == len(outcome) == 20_000
    await still_works(private_client)


async def test_two_hundred_cancellations_leave_a_working_client(
    client: VellumClient, db_name: str
) -> None:
    users = VellumRepository(User, client, db_name)
    await users.create_many([User(name=str(i), email=f"{i}@x") for i in range(200)])
    sessions: list[Session] = []

    async def in_transaction(i: int) -> None:
        async with client.transaction() as session:
            sessions.append(session)
            await users.update_many(User.Q.name == str(i), User.Q.age.inc(1), session=session)
            await asyncio.sleep(10)  # cancelled here, or earlier

    tasks = [asyncio.create_task(users.find()) for _ in range(100)]
    tasks += [asyncio.create_task(in_transaction(i)) for i in range(100)]
    await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    results = await bounded(asyncio.gather(*tasks, return_exceptions=True))
    assert all(isinstance(r, (asyncio.CancelledError, list)) for r in results)
    assert not any(session.in_transaction for session in sessions)
    assert await users.count(User.Q.age > 0) == 0  # every cancelled transaction aborted
    async with client.transaction() as session:
        await users.update_many({}, User.Q.age.inc(1), session=session)
    assert await users.count(User.Q.age == 1) == 200


async def test_a_thousand_concurrent_operations_on_one_client(
    client: VellumClient, db_name: str
) -> None:
    users = VellumRepository(User, client, db_name)
    made = await users.create_many([User(name=str(i), email=f"{i}@x") for i in range(100)])

    async def one(i: int) -> Any:
        match i % 4:
            case 0:
                return await users.get(made[i % 100].id)
            case 1:
                return await users.count(User.Q.name == str(i % 100))
            case 2:
                return await users.create(User(name=f"new{i}", email=f"new{i}@x"))
            case _:
                return await users.find(User.Q.name == str(i % 100))

    results = await bounded(asyncio.gather(*(one(i) for i in range(1000))))
    assert [r for i, r in enumerate(results) if i % 4 == 0] == [
        made[i % 100] for i in range(0, 1000, 4)
    ]
    assert all(r == 1 for i, r in enumerate(results) if i % 4 == 1)
    assert await users.count() == 100 + 250


# -- corrupted BSON ---------------------------------------------------------------------------

mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "cut", "insert", "length"]),
        st.integers(0, 10_000),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=4,
)


def corrupt(data: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for kind, where, byte in edits:
        at = where % max(len(buf), 1)
        if kind == "flip" and buf:
            buf[at] ^= byte or 1
        elif kind == "cut":
            del buf[at:]
        elif kind == "insert":
            buf[at:at] = bytes([byte])
        elif kind == "length" and len(buf) >= 4:
            buf[0:4] = (len(buf) + byte - 128).to_bytes(4, "little", signed=True)
    return bytes(buf)


class Shape(VellumBaseModel):
    name: str = ""
    n: int = 0
    tags: list[str] = []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents, edits=mutations)
def test_corrupted_bson_is_refused_or_decoded_never_a_crash(
    doc: dict[str, Any], edits: list[tuple[str, int, int]]
) -> None:
    data = corrupt(encode_bson(doc), edits)
    plan = read_plan(Shape)
    for use_plan in (None, plan):
        # A clear refusal is fine; anything else (a crash, a SystemError) fails the test.
        with contextlib.suppress(VellumError, ValueError):
            decode_bson(data, plan=use_plan)


async def test_a_server_error_without_a_code_is_an_operation_failure(mongoeco_python: str) -> None:
    """An error reply without `code` (which no MongoDB sends, but proxies and emulators do):
    a typed OperationFailure that quotes the server, not the driver's parse failure."""
    server = PrivateServer(mongoeco_python, VELLUM_LAUNCHER_ERROR_CODES="0")
    server.start()
    try:
        async with await connect_to_mongodb(server.uri, "faults") as client:
            with pytest.raises(OperationFailure) as refused:
                await bounded(client.command({"noSuchCommand": 1}))
            assert refused.value.code is None
            assert "noSuchCommand" in str(refused.value)
            assert "\\x" not in str(refused.value) and len(str(refused.value)) < 500
    finally:
        server.kill()
