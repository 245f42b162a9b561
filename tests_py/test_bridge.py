"""The async bridge: several event loops, cancellation, concurrency."""

from __future__ import annotations

import asyncio
import gc
import sys
import time

import pytest

from conftest import Server
from models import User
from vellum import VellumClient, VellumError, VellumRepository, connect_to_mongodb
from vellum._core import bridge_overhead_probe, panic_probe


def test_several_event_loops_one_after_another(server: object) -> None:
    uri: str = server.uri  # type: ignore[attr-defined]

    async def once(i: int) -> int:
        client = await connect_to_mongodb(uri, "vellum_loops")
        try:
            users = VellumRepository(User, client)
            made = await users.create(User(name=f"loop{i}", email=f"loop{i}@x"))
            got = await users.get(made.id)
            assert got == made
            await users.delete(made.id)
            return i
        finally:
            await client.close()

    assert [asyncio.run(once(i)) for i in range(3)] == [0, 1, 2]


async def test_cancelled_awaits_leave_the_client_usable(client: VellumClient, db_name: str) -> None:
    users = VellumRepository(User, client, db_name)
    await users.create_many([User(name=str(i), email=f"{i}@x") for i in range(300)])
    tasks = [asyncio.create_task(users.find()) for _ in range(20)]
    await asyncio.sleep(0.001)
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, (asyncio.CancelledError, list)) for r in results)
    # A cancelled wait does not kill the operation or the pool.
    assert len(await users.find()) == 300
    task = asyncio.create_task(users.create(User(name="late", email="late@x")))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await users.count() in (300, 301)


async def test_concurrent_gets(client: VellumClient, db_name: str) -> None:
    users = VellumRepository(User, client, db_name)
    made = await users.create_many([User(name=str(i), email=f"{i}@x") for i in range(50)])
    got = await asyncio.gather(*(users.get(u.id) for u in made * 4))
    assert got == made * 4


async def test_bridge_probe_round_trips() -> None:
    assert await bridge_overhead_probe() is None


async def test_large_batches_leave_the_garbage_collector_as_they_found_it(
    client: VellumClient, db_name: str
) -> None:
    # The core pauses the cyclic collector while it decodes a large batch: it must come back on,
    # and stay off for a user who had turned it off.
    collection = client._core.collection(db_name, "many")  # pyright: ignore[reportPrivateUsage]
    await collection.insert_many([{"i": i, "tags": ["a"]} for i in range(600)])
    assert gc.isenabled()
    assert len(await collection.find({})) == 600
    assert gc.isenabled()
    gc.disable()
    try:
        assert len(await collection.find({})) == 600
        assert not gc.isenabled()
    finally:
        gc.enable()


EXIT_SCRIPT = """
import asyncio
from vellum._core import bridge_overhead_probe

async def main():
    pending = [bridge_overhead_probe() for _ in range(2000)]
    await pending[0]  # and exit while the others are being delivered

asyncio.run(main())
"""


async def test_the_interpreter_exits_cleanly_with_results_still_arriving() -> None:
    # A worker thread that needs the GIL once the interpreter finalizes is terminated by
    # CPython mid-Rust, which aborts the process (or worse): the core stops and drains its
    # deliveries at exit. Without that, this crashed in 6 runs of 10.
    for _ in range(8):
        run = await asyncio.create_subprocess_exec(
            sys.executable, "-c", EXIT_SCRIPT, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await run.communicate()
        assert run.returncode == 0, stderr.decode()


PANIC_THEN_EXIT = """
import asyncio
from vellum import VellumError
from vellum._core import panic_probe

async def main():
    for at in ("operation", "conversion"):
        try:
            await panic_probe(at)
        except VellumError:
            pass

asyncio.run(main())
"""


async def test_a_panic_in_the_core_raises_and_never_hangs() -> None:
    for at in ("operation", "conversion"):
        with pytest.raises(VellumError, match=r"internal error in Vellum's core \(a Rust panic"):
            await asyncio.wait_for(panic_probe(at), timeout=20)
    await bridge_overhead_probe()  # the bridge works on
    # Nothing is left counted as a delivery under way: the exit does not wait for one (it would
    # wait 5 s).
    started = time.monotonic()
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PANIC_THEN_EXIT, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await run.communicate()
    assert run.returncode == 0, stderr.decode()
    assert time.monotonic() - started < 4.5


FORK_SCRIPT = """
import asyncio, os, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)  # fork() of a process with threads
from vellum import ForkedClientError, connect_to_mongodb

uri = sys.argv[1]

async def connect():
    client = await connect_to_mongodb(uri, "forked")
    await client.command({"ping": 1})
    return client

kept = asyncio.run(connect())  # the parent's client, still open
closed = asyncio.run(connect())
asyncio.run(closed.close())
pid = os.fork()
if pid == 0:
    async def child():
        try:
            await kept.command({"ping": 1})
            return 3  # a parent's client must not be usable here
        except ForkedClientError:
            pass
        own = await connect_to_mongodb(uri, "forked")  # a fresh client works
        await own.command({"ping": 1})
        await own.close()
        await kept.close()  # only marks it closed here
        return 0
    os._exit(asyncio.run(child()))
_, status = os.waitpid(pid, 0)
asyncio.run(kept.command({"ping": 1}))  # the parent's client is unaffected
print("child exit", os.waitstatus_to_exitcode(status))
"""


async def test_a_forked_child_connects_fresh_and_cannot_use_the_parents_client(
    server: Server,
) -> None:
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FORK_SCRIPT, server.uri,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(run.communicate(), timeout=60)
    assert run.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == "child exit 0", stderr.decode()
