"""Schema migrations: the folder's chain, each operation on the server, dry runs, the records
and the lock, resuming after a crash (no document migrated twice), and the command."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import Server
from vellum import (
    MigrationError,
    MigrationLockedError,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
)
from vellum.migrations import (
    PlainReporter,
    Reporter,
    downgrade,
    load_chain,
    reporter_for,
    scaffold,
    status,
    upgrade,
)
from vellum.migrations.state import Lock, State

REPO = Path(__file__).resolve().parent.parent


def write(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


@pytest.fixture
def db(db_name: str) -> str:
    return db_name


def _raw(client: VellumClient, db: str, name: str) -> Any:
    """A collection read and written as stored, past any model."""
    return client._core.collection(db, name)  # pyright: ignore[reportPrivateUsage]


# -- the chain ---------------------------------------------------------------------------------


def test_the_chain_is_ordered_by_down_revision_and_refuses_forks(tmp_path: Path) -> None:
    write(tmp_path, "b", 'revision = "b"\ndown_revision = "a"\nasync def upgrade(ctx): pass\n')
    write(tmp_path, "a", 'revision = "a"\ndown_revision = None\nasync def upgrade(ctx): pass\n')
    write(
        tmp_path,
        "c",
        '"""third"""\nrevision = "c"\ndown_revision = "b"\nasync def upgrade(ctx): pass\n',
    )
    chain = load_chain(tmp_path)
    assert [m.revision for m in chain] == ["a", "b", "c"]
    assert chain.head == "c" and chain.migrations[2].name == "third"

    write(tmp_path, "d", 'revision = "d"\ndown_revision = "b"\nasync def upgrade(ctx): pass\n')
    with pytest.raises(MigrationError, match="forks"):
        load_chain(tmp_path)
    (tmp_path / "d.py").unlink()
    write(tmp_path, "e", 'revision = "e"\ndown_revision = "zz"\nasync def upgrade(ctx): pass\n')
    with pytest.raises(MigrationError, match="'zz', which no file declares"):
        load_chain(tmp_path)
    (tmp_path / "e.py").unlink()
    write(tmp_path, "f", 'revision = "a"\ndown_revision = "c"\nasync def upgrade(ctx): pass\n')
    with pytest.raises(MigrationError, match="declared by both"):
        load_chain(tmp_path)
    (tmp_path / "f.py").unlink()
    write(tmp_path, "g", 'revision = "g"\ndown_revision = "c"\ndef upgrade(ctx): pass\n')
    with pytest.raises(MigrationError, match="async def upgrade"):
        load_chain(tmp_path)


def test_new_scaffolds_a_file_chained_to_the_head(tmp_path: Path) -> None:
    first = scaffold(tmp_path, "Create users", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    second = scaffold(tmp_path, "rename name", datetime(2026, 1, 3, tzinfo=timezone.utc))
    assert first.name == "20260102_030405_create_users.py"
    chain = load_chain(tmp_path)
    assert [m.path for m in chain] == [first, second]
    assert chain.migrations[1].down_revision == chain.migrations[0].revision
    with pytest.raises(MigrationError, match="letters or digits"):
        scaffold(tmp_path, "!!!")


# -- operations --------------------------------------------------------------------------------

OPERATIONS = '''
"""rename, default, convert, remove, index"""
from vellum import Index

revision = "r1"
down_revision = None


async def upgrade(ctx):
    await ctx.rename_field("people", "name", "full_name")
    await ctx.set_default("people", "active", True)
    await ctx.convert_field("people", "balance", "decimal")
    await ctx.convert_field("people", "joined", "datetime")
    await ctx.convert_field("people", "age", "string")
    await ctx.remove_field("people", "legacy")
    await ctx.create_index("people", Index("full_name"))


async def downgrade(ctx):
    await ctx.drop_index("people", "full_name_1")
    await ctx.convert_field("people", "age", "int")
    await ctx.remove_field("people", "active")
    await ctx.rename_field("people", "full_name", "name")
'''


async def seed_people(client: VellumClient, db: str) -> Any:
    people = _raw(client, db, "people")
    await people.insert_many(
        [
            {
                "_id": 1,
                "name": "Ada",
                "balance": "10.50",
                "joined": "2024-01-02T03:04:05Z",
                "age": 36,
                "legacy": 1,
            },
            {
                "_id": 2,
                "name": "Bob",
                "balance": "7",
                "joined": "2023-05-06T00:00:00Z",
                "age": 41,
                "active": False,
            },
            {"_id": 3, "balance": "0.1", "joined": "2022-01-01T00:00:00Z", "age": 20},
        ]
    )
    return people


async def test_operations_run_on_the_server_and_undo(
    client: VellumClient, db: str, tmp_path: Path
) -> None:
    people = await seed_people(client, db)
    write(tmp_path, "r1", OPERATIONS)
    assert await upgrade(client, db, tmp_path) == ["r1"]
    docs = {d["_id"]: d for d in await people.find({})}
    assert docs[1] == {
        "_id": 1,
        "balance": Decimal("10.50"),
        "joined": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        "age": "36",
        "full_name": "Ada",
        "active": True,
    }
    assert docs[2]["active"] is False  # a present value is kept
    assert "full_name" not in docs[3] and docs[3]["active"] is True
    assert any(i["name"] == "full_name_1" for i in await people.list_indexes())
    (row,) = await status(client, db, tmp_path)
    assert row.applied and row.applied_at is not None

    assert await upgrade(client, db, tmp_path) == []  # nothing left to apply
    assert await downgrade(client, db, tmp_path) == ["r1"]
    docs = {d["_id"]: d for d in await people.find({})}
    assert docs[1]["name"] == "Ada" and docs[1]["age"] == 36 and "active" not in docs[1]
    assert not any(i["name"] == "full_name_1" for i in await people.list_indexes())
    assert not (await status(client, db, tmp_path))[0].applied


async def test_a_dry_run_counts_and_writes_nothing(
    client: VellumClient, db: str, tmp_path: Path
) -> None:
    people = await seed_people(client, db)
    before = await people.find({})
    write(tmp_path, "r1", OPERATIONS)
    lines: list[str] = []

    class Lines(Reporter):
        def would(self, label: str, count: int, samples: Any = ()) -> None:
            lines.append(f"{label}: {count}")

    assert await upgrade(client, db, tmp_path, dry_run=True, reporter=Lines()) == ["r1"]
    assert await people.find({}) == before
    assert not (await status(client, db, tmp_path))[0].applied
    assert lines[:3] == [
        "rename people.name to full_name: 2",
        "default people.active = True: 2",
        "convert people.balance to decimal: 3",
    ]


async def test_values_that_do_not_convert_are_reported_and_stop_the_run(
    client: VellumClient, db: str, tmp_path: Path
) -> None:
    prices = _raw(client, db, "prices")
    await prices.insert_many([{"_id": i, "p": p} for i, p in enumerate(["1.5", "abc", "2", "x1"])])
    write(
        tmp_path,
        "r1",
        """
        revision = "r1"
        down_revision = None
        async def upgrade(ctx):
            await ctx.convert_field("prices", "p", "decimal")
        """,
    )
    with pytest.raises(
        MigrationError, match=r"2 did not \(for example 1: 'abc', 3: 'x1'\); nothing was converted"
    ):
        await upgrade(client, db, tmp_path)
    assert {d["_id"]: d["p"] for d in await prices.find({})} == {
        0: "1.5",
        1: "abc",
        2: "2",
        3: "x1",
    }
    assert not (await status(client, db, tmp_path))[0].applied
    await prices.update_many({"_id": {"$in": [1, 3]}}, {"$set": {"p": "0"}})
    assert await upgrade(client, db, tmp_path) == ["r1"]  # fixed: the run completes


# -- transform, crash and resume -----------------------------------------------------------


class OldItem(VellumBaseModel):
    class Settings:
        collection_name = "items"

    price: str
    seen: int = 0


class NewItem(VellumBaseModel):
    class Settings:
        collection_name = "items"

    price: Decimal
    seen: int = 0


TRANSFORM = """
revision = "t1"
down_revision = None
import os
from decimal import Decimal
from test_migrations import OldItem, NewItem

CRASH_AT = int(os.environ.get("VELLUM_TEST_CRASH_AT", "-1"))
calls = 0

def change(item):
    global calls
    calls += 1
    if calls == CRASH_AT:
        raise RuntimeError("crash in the middle")
    return NewItem(id=item.id, price=Decimal(item.price), seen=item.seen + 1,
                   created_at=item.created_at, updated_at=item.updated_at)

async def upgrade(ctx):
    await ctx.transform(OldItem, NewItem, change, batch_size=BATCH)
"""


async def seed_items(client: VellumClient, db: str, count: int) -> VellumRepository[OldItem]:
    items = VellumRepository(OldItem, client, db)
    for start in range(0, count, 20_000):
        await items.create_many(
            OldItem(price=f"{i}.25") for i in range(start, min(count, start + 20_000))
        )
    return items


async def test_a_transform_that_fails_halfway_resumes_and_migrates_each_document_once(
    client: VellumClient, db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 100_000
    await seed_items(client, db, count)
    write(tmp_path, "t1", TRANSFORM.replace("BATCH", "20000"))
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.setenv("VELLUM_TEST_CRASH_AT", str(count // 2 + 123))
    with pytest.raises(RuntimeError, match="crash in the middle"):
        await upgrade(client, db, tmp_path)
    items = _raw(client, db, "items")
    done = await items.count_documents({"seen": 1})
    assert 0 < done < count
    monkeypatch.setenv("VELLUM_TEST_CRASH_AT", "-1")
    assert await upgrade(client, db, tmp_path) == ["t1"]
    assert await items.count_documents({"seen": 1}) == count  # each exactly once
    assert await items.count_documents({"price": {"$type": "decimal"}}) == count
    assert await items.count_documents({"_vellum_migration": {"$exists": True}}) == 0
    assert await VellumRepository(NewItem, client, db).count() == count


# -- the lock ----------------------------------------------------------------------------------


async def test_one_runner_at_a_time_and_a_crashed_runner_s_lease_runs_out(
    client: VellumClient, db: str
) -> None:
    state = State(client, db, "vellum_migrations")
    first = Lock(state, timedelta(seconds=60))
    await first.acquire()
    second = Lock(state, timedelta(seconds=60))
    with pytest.raises(MigrationLockedError, match="another runner") as caught:
        await second.acquire()
    assert caught.value.holder["owner"] == first.owner
    await first.release()
    await second.acquire()  # released: free again
    # A runner that died keeps the lock only until its lease runs out.
    await state.store.update(
        {"_id": "lock"},
        {"$set": {"expires_at": datetime.now(timezone.utc) - timedelta(seconds=1)}},
        upsert=False,
        many=False,
        session=None,
    )
    third = Lock(state, timedelta(seconds=60))
    await third.acquire()
    await third.release()


# -- the command -------------------------------------------------------------------------------


def vellum_command(*args: str, uri: str, db: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "VELLUM_MONGODB_URI": uri, "VELLUM_DATABASE": db, **env}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "tests_py"), environment.get("PYTHONPATH", "")]
    )
    return subprocess.run(
        [sys.executable, "-m", "vellum.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


def test_help_documents_every_subcommand() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vellum.cli", "migrate", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for action in ("status", "up", "down", "new"):
        assert action in out
    assert "VELLUM_MONGODB_URI" in out and "exit codes" in out
    up = subprocess.run(
        [sys.executable, "-m", "vellum.cli", "migrate", "up", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--dry-run" in up and "--to" in up and "--folder" in up


async def test_the_command_in_a_pipe_prints_lines_and_exit_codes_tell_failure(
    server: Server, client: VellumClient, db: str, tmp_path: Path
) -> None:
    await seed_people(client, db)
    folder = tmp_path / "migrations"
    write(folder, "r1", OPERATIONS)
    common = {"uri": server.uri, "db": db, "VELLUM_MIGRATIONS": str(folder)}
    dry = vellum_command("migrate", "up", "--dry-run", **common)
    assert dry.returncode == 0, dry.stderr
    assert "would change 2 document(s)" in dry.stdout and "\r" not in dry.stdout
    up = vellum_command("migrate", "up", **common)
    assert up.returncode == 0, up.stderr
    assert "rename people.name to full_name: done, 2 changed" in up.stdout
    assert "1 revision(s) applied" in up.stdout
    listed = vellum_command("migrate", "status", **common)
    assert listed.stdout.startswith("applied  r1")
    missing = vellum_command("migrate", "up", "--to", "nope", **common)
    assert missing.returncode == 1 and "no revision 'nope'" in missing.stderr
    no_uri = vellum_command("migrate", "status", uri="", db=db)
    assert no_uri.returncode == 2


def on_a_terminal(command: list[str], environment: dict[str, str]) -> tuple[int, bytes]:
    """Runs ``command`` with a pseudo-terminal as its output; its exit code and output."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, stdout=follower, stderr=follower, env=environment)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(timeout=120), output


async def test_on_a_terminal_the_command_draws_a_progress_bar(
    server: Server, client: VellumClient, db: str, tmp_path: Path
) -> None:
    await seed_items(client, db, 3000)
    folder = tmp_path / "migrations"
    write(folder, "t1", TRANSFORM.replace("BATCH", "1000"))
    environment = {
        **os.environ,
        "VELLUM_MONGODB_URI": server.uri,
        "VELLUM_DATABASE": db,
        "VELLUM_MIGRATIONS": str(folder),
        "PYTHONPATH": str(REPO / "tests_py"),
    }
    code, output = on_a_terminal([sys.executable, "-m", "vellum.cli", "migrate", "up"], environment)
    assert code == 0, output
    text = output.decode()
    assert "\r\x1b[2K" in text  # redrawn in place
    assert "/3000" in text and "/s" in text
    assert "transform items OldItem to NewItem: done, 3000 changed" in text
    assert isinstance(reporter_for(io.StringIO()), PlainReporter)
