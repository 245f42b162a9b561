"""Schema migrations: the folder's chain, each operation on the server, dry runs, the records
and the lock, resuming after a crash (no document migrated twice), and the command."""

from __future__ import annotations

import asyncio
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
from uuid import uuid4

import pytest

from conftest import Server
from vellum import (
    MigrationError,
    MigrationLockedError,
    SchemaVersioned,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    upgrades_from,
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
        "default people.active: 2",
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
SLOW_AFTER = int(os.environ.get("VELLUM_TEST_SLOW_AFTER", "-1"))
calls = 0

def change(item):
    global calls
    calls += 1
    if calls == CRASH_AT:
        raise RuntimeError("crash in the middle")
    if 0 <= SLOW_AFTER <= calls:
        import time
        time.sleep(0.004)
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


@pytest.mark.server_volume
@pytest.mark.timeout(900)  # about 2 minutes on the emulator
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


def test_the_package_installs_the_console_script() -> None:
    script = Path(sys.executable).parent / "vellum"
    assert script.exists(), "pip/maturin install `vellum` next to the interpreter"
    shown = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    assert "migrate" in shown.stdout


def test_help_documents_every_subcommand() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vellum.cli", "migrate", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for action in ("status", "up", "down", "stamp", "new"):
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


@pytest.mark.server_volume
@pytest.mark.timeout(600)
async def test_without_transactions_a_marker_keeps_a_resumed_transform_from_repeating(
    client: VellumClient, db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 10_000
    await seed_items(client, db, count)
    write(tmp_path, "t1", TRANSFORM.replace("BATCH", "2000"))
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.setenv("VELLUM_TEST_CRASH_AT", str(count // 2 + 7))
    with pytest.raises(RuntimeError, match="crash in the middle"):
        await upgrade(client, db, tmp_path, transactions=False)
    items = _raw(client, db, "items")
    marked = await items.count_documents({"_vellum_migration": {"$exists": True}})
    assert 0 < marked < count and marked == await items.count_documents({"seen": 1})
    monkeypatch.setenv("VELLUM_TEST_CRASH_AT", "-1")
    # Resuming it with transactions would redo the marked documents: refused.
    with pytest.raises(MigrationError, match=r"resume it the same way \(transactions=False\)"):
        await upgrade(client, db, tmp_path, transactions=True)
    assert await items.count_documents({"seen": 1}) == marked
    assert await upgrade(client, db, tmp_path, transactions=False) == ["t1"]
    assert await items.count_documents({"seen": 1}) == count
    assert await items.count_documents({"_vellum_migration": {"$exists": True}}) == 0


def kill_when(command: list[str], environment: dict[str, str], seen: str) -> tuple[int, str]:
    """Runs ``command``, reads its output until ``seen`` shows, then kills it (SIGKILL);
    its exit code and output."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment)
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if seen in line:
            process.kill()
            break
    code = process.wait(timeout=60)
    process.stdout.close()
    return code, "".join(lines)


@pytest.mark.server_volume
@pytest.mark.timeout(600)
async def test_a_killed_command_resumes_where_it_stopped(
    server: Server, client: VellumClient, db: str, tmp_path: Path
) -> None:
    count = 20_000
    await seed_items(client, db, count)
    folder = tmp_path / "migrations"
    # Batches of 500 whose second half each keep the event loop for 2 s (a slow function):
    # less than the 5 s lease, which is renewed between them, and time to kill the command.
    write(folder, "t1", TRANSFORM.replace("BATCH", "500"))
    environment = {
        **os.environ,
        "VELLUM_MONGODB_URI": server.uri,
        "VELLUM_DATABASE": db,
        "VELLUM_MIGRATIONS": str(folder),
        "PYTHONPATH": str(REPO / "tests_py"),
        "VELLUM_TEST_SLOW_AFTER": str(count // 2),
    }
    command = [sys.executable, "-m", "vellum.cli", "migrate", "up", "--lease", "5"]
    # Killed at its first progress line (after 5 s), halfway or so.
    code, output = await asyncio.to_thread(kill_when, command, environment, f"/{count} (")
    assert code == -9, output
    items = _raw(client, db, "items")
    assert 0 < await items.count_documents({"seen": 1}) < count
    await asyncio.sleep(5.5)  # the dead runner's lease runs out
    environment.pop("VELLUM_TEST_SLOW_AFTER")
    again = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=environment, timeout=600
    )
    assert again.returncode == 0, again.stderr
    assert await items.count_documents({"seen": 1}) == count
    assert await items.count_documents({"seen": {"$gt": 1}}) == 0


async def test_a_second_runner_is_refused_with_exit_code_3(
    server: Server, client: VellumClient, db: str, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    write(folder, "r1", 'revision = "r1"\ndown_revision = None\nasync def upgrade(ctx): pass\n')
    lock = Lock(State(client, db, "vellum_migrations"), timedelta(seconds=60))
    await lock.acquire()
    try:
        refused = await asyncio.to_thread(
            vellum_command, "migrate", "up", uri=server.uri, db=db, VELLUM_MIGRATIONS=str(folder)
        )
    finally:
        await lock.release()
    assert refused.returncode == 3 and "another runner" in refused.stderr


# -- schema versions: upgrades on read ----------------------------------------------------


class Profile(SchemaVersioned, VellumBaseModel):
    display_name: str
    cents: int
    bio: str = ""

    class Settings:
        collection_name = "profiles"
        schema_version = 3

    @upgrades_from(1)
    @staticmethod
    def _rename(doc: dict[str, Any]) -> dict[str, Any]:
        doc["display_name"] = doc.pop("name")
        return doc

    @upgrades_from(2)
    @staticmethod
    def _to_cents(doc: dict[str, Any]) -> dict[str, Any]:
        doc["cents"] = round(doc.pop("price") * 100)
        return doc


class WrittenBack(Profile):
    class Settings:
        collection_name = "profiles"
        schema_version = 3
        schema_write_back = True


async def test_older_documents_are_upgraded_on_read_and_newer_ones_refused(
    client: VellumClient, db: str
) -> None:
    from vellum import DocumentValidationError

    profiles = _raw(client, db, "profiles")
    await profiles.insert_many(
        [
            {"_id": uuid4(), "schema_version": 1, "name": "Ada", "price": 1.5},
            {"_id": uuid4(), "schema_version": 2, "display_name": "Bob", "price": 2.25},
            {"_id": uuid4(), "schema_version": 3, "display_name": "Cy", "cents": 7},
        ]
    )
    repository = VellumRepository(Profile, client, db)
    loaded = sorted(await repository.find(), key=lambda p: p.display_name)
    assert [(p.display_name, p.cents, p.schema_version) for p in loaded] == [
        ("Ada", 150, 3),
        ("Bob", 225, 3),
        ("Cy", 7, 3),
    ]
    # In memory only: the stored documents are as they were.
    assert await profiles.count_documents({"schema_version": {"$lt": 3}}) == 2

    written = VellumRepository(WrittenBack, client, db)
    assert len(await written.find()) == 3
    assert await profiles.count_documents({"schema_version": {"$lt": 3}}) == 0
    assert await profiles.count_documents({"name": {"$exists": True}}) == 0

    await profiles.insert_one(
        {"_id": uuid4(), "schema_version": 4, "display_name": "Z", "cents": 1}
    )
    with pytest.raises(DocumentValidationError, match="schema version 4, newer than Profile's 3"):
        await repository.find()


def test_an_upgrade_from_the_current_version_or_later_is_refused() -> None:
    with pytest.raises(TypeError, match="would never run"):

        class Ahead(SchemaVersioned, VellumBaseModel):  # pyright: ignore[reportUnusedClass]
            class Settings:
                schema_version = 2

            @upgrades_from(2)
            @staticmethod
            def _never(doc: dict[str, Any]) -> dict[str, Any]:
                return doc


# -- the README's worked example (examples/migrations) -----------------------------------------

EXAMPLE = REPO / "examples" / "migrations"


async def test_the_worked_example_runs_up_and_down(client: VellumClient, db: str) -> None:
    customers = _raw(client, db, "customers")
    await customers.insert_many(
        [
            {"_id": uuid4(), "name": "Ada Lovelace", "balance": "12.50"},
            {"_id": uuid4(), "name": "Bob", "balance": "3", "currency": "GBP"},
        ]
    )
    assert len(await upgrade(client, db, EXAMPLE)) == 3
    stored = sorted(await customers.find({}), key=lambda d: d["first_name"])
    assert [(d["first_name"], d["last_name"], d["balance"], d["currency"]) for d in stored] == [
        ("Ada", "Lovelace", Decimal("12.50"), "EUR"),
        ("Bob", "", Decimal("3"), "GBP"),
    ]
    assert "full_name" not in stored[0] and "name" not in stored[0]
    assert [row.applied for row in await status(client, db, EXAMPLE)] == [True, True, True]

    assert len(await downgrade(client, db, EXAMPLE, to="base")) == 3
    names = sorted((d["name"], d["balance"]) for d in await customers.find({}))
    assert names == [("Ada Lovelace", "12.50"), ("Bob", "3")]


async def test_a_dry_run_of_the_worked_example_from_base(client: VellumClient, db: str) -> None:
    # The transform reads documents as the rename before it leaves them; in a dry run that
    # rename has not run, so the transform says it cannot show its result instead of failing.
    customers = _raw(client, db, "customers")
    await customers.insert_many([{"_id": uuid4(), "name": "Ada Lovelace", "balance": "12.50"}])
    notes: list[str] = []
    counts: list[tuple[str, int]] = []

    class Notes(Reporter):
        def would(self, label: str, count: int, samples: Any = ()) -> None:
            counts.append((label, count))

        def note(self, message: str) -> None:
            notes.append(message)

    assert len(await upgrade(client, db, EXAMPLE, dry_run=True, reporter=Notes())) == 3
    assert any("does not fit Before now" in n and "dry run cannot show" in n for n in notes)
    assert ("rename customers.name to full_name", 1) in counts
    assert await customers.find({}) == [
        {"_id": (await customers.find({}))[0]["_id"], "name": "Ada Lovelace", "balance": "12.50"}
    ]  # nothing written


async def test_stamp_records_revisions_without_running_them(
    server: Server, client: VellumClient, db: str, tmp_path: Path
) -> None:
    await seed_people(client, db)
    folder = tmp_path / "migrations"
    write(folder, "r1", OPERATIONS)
    stamped = await asyncio.to_thread(
        vellum_command,
        "migrate",
        "stamp",
        "r1",
        uri=server.uri,
        db=db,
        VELLUM_MIGRATIONS=str(folder),
    )
    assert stamped.returncode == 0 and "1 revision(s) recorded" in stamped.stdout
    assert (await status(client, db, folder))[0].applied
    people = _raw(client, db, "people")
    assert await people.count_documents({"name": {"$exists": True}}) == 2  # nothing ran
    assert await upgrade(client, db, folder) == []


async def test_a_dry_run_of_a_transform_shows_documents_before_and_after(
    client: VellumClient, db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_items(client, db, 5)
    write(tmp_path, "t1", TRANSFORM.replace("BATCH", "100"))
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    shown: list[tuple[str, int, list[Any]]] = []

    class Samples(Reporter):
        def would(self, label: str, count: int, samples: Any = ()) -> None:
            shown.append((label, count, list(samples)))

    await upgrade(client, db, tmp_path, dry_run=True, reporter=Samples())
    ((label, count, samples),) = shown
    assert label == "transform items OldItem to NewItem" and count == 5
    assert len(samples) == 3
    before, after = samples[0]
    assert after["price"] == Decimal(before["price"]) and after["seen"] == before["seen"] + 1
    assert await _raw(client, db, "items").count_documents({"seen": 1}) == 0


async def test_write_back_never_undoes_a_concurrent_write_and_keeps_other_fields(
    client: VellumClient, db: str
) -> None:
    profiles = _raw(client, db, "profiles")
    old = datetime(2020, 1, 1, tzinfo=timezone.utc)
    first, second = uuid4(), uuid4()
    await profiles.insert_many(
        [
            {
                "_id": first,
                "schema_version": 1,
                "name": "Ada",
                "price": 1.0,
                "updated_at": old,
                "other": "kept",
            },
            {"_id": second, "schema_version": 1, "name": "Bob", "price": 2.0, "updated_at": old},
        ]
    )
    written = VellumRepository(WrittenBack, client, db)
    raws = await profiles.find({"_id": second})
    # Someone changes Bob after this reader read him and before its write-back.
    await profiles.update_one(
        {"_id": second}, {"$set": {"price": 9.0, "updated_at": datetime.now(timezone.utc)}}
    )
    await written._read(raws, None)  # pyright: ignore[reportPrivateUsage]
    bob = await profiles.find_one({"_id": second})
    assert bob is not None and bob["price"] == 9.0 and "cents" not in bob  # not undone
    await written.find({"_id": first})
    ada = await profiles.find_one({"_id": first})
    assert ada is not None and ada["cents"] == 100 and ada["other"] == "kept"
    assert ada["schema_version"] == 3


async def test_an_upgrade_that_returns_nothing_is_a_clear_error(
    client: VellumClient, db: str
) -> None:
    class Broken(SchemaVersioned, VellumBaseModel):
        class Settings:
            collection_name = "broken"
            schema_version = 2

        @upgrades_from(1)
        @staticmethod
        def _forgot(doc: dict[str, Any]) -> dict[str, Any]:
            doc["x"] = 1
            return None  # type: ignore[return-value]

    await _raw(client, db, "broken").insert_one({"_id": uuid4(), "schema_version": 1})
    with pytest.raises(TypeError, match="returned NoneType; an upgrade returns the document"):
        await VellumRepository(Broken, client, db).find()


async def test_a_write_returns_old_documents_upgraded(client: VellumClient, db: str) -> None:
    profiles = _raw(client, db, "profiles")
    doc_id = uuid4()
    await profiles.insert_one({"_id": doc_id, "schema_version": 1, "name": "Ada", "price": 1.5})
    updated = await VellumRepository(Profile, client, db).update(doc_id, {"bio": "hi"})
    assert updated is not None and updated.display_name == "Ada" and updated.cents == 150
    assert updated.bio == "hi"


def test_a_revision_is_named_by_its_id_or_a_prefix_only_it_has(tmp_path: Path) -> None:
    write(tmp_path, "a", 'revision = "v10_x"\ndown_revision = None\nasync def upgrade(ctx): pass\n')
    write(
        tmp_path, "b", 'revision = "v1_y"\ndown_revision = "v10_x"\nasync def upgrade(ctx): pass\n'
    )
    write(tmp_path, "c", 'revision = "v1"\ndown_revision = "v1_y"\nasync def upgrade(ctx): pass\n')
    chain = load_chain(tmp_path)
    assert chain.index("v1") == 2  # the exact id wins over prefixes
    assert chain.index("v10") == 0
    with pytest.raises(MigrationError, match="could be any of v10_x, v1_y, v1; give more"):
        chain.index("v")
    with pytest.raises(MigrationError, match="no revision ''"):
        chain.index("")


async def test_down_refuses_to_skip_a_partly_applied_revision_and_checks_downgrades_first(
    client: VellumClient, db: str, tmp_path: Path
) -> None:
    await _raw(client, db, "prices").insert_many([{"_id": 1, "p": "1"}, {"_id": 2, "p": "x"}])
    write(tmp_path, "r1", 'revision = "r1"\ndown_revision = None\nasync def upgrade(ctx): pass\n')
    write(
        tmp_path,
        "r2",
        """
        revision = "r2"
        down_revision = "r1"
        async def upgrade(ctx):
            await ctx.set_default("prices", "currency", "EUR")
            await ctx.convert_field("prices", "p", "int")
        async def downgrade(ctx):
            pass
        """,
    )
    with pytest.raises(MigrationError, match="1 did not"):
        await upgrade(client, db, tmp_path)  # r1 applied, r2 stopped after its first step
    with pytest.raises(MigrationError, match="stopped partway through its upgrade"):
        await downgrade(client, db, tmp_path)
    await _raw(client, db, "prices").update_one({"_id": 2}, {"$set": {"p": "2"}})
    assert await upgrade(client, db, tmp_path) == ["r2"]
    with pytest.raises(MigrationError, match=r"r1\.py has no downgrade.*nothing was undone"):
        await downgrade(client, db, tmp_path, to="base")
    assert [row.applied for row in await status(client, db, tmp_path)] == [True, True]


async def test_a_lease_too_short_or_lost_stops_the_runner(client: VellumClient, db: str) -> None:
    state = State(client, db, "vellum_migrations")
    lock = Lock(state, timedelta(seconds=60))
    await lock.acquire()
    lock._expires = 0.0  # pyright: ignore[reportPrivateUsage]  (as if the loop was blocked)
    with pytest.raises(MigrationError, match="ran out before it could be renewed"):
        lock.check()
    await lock.release()
    assert vellum_command("migrate", "up", "--lease", "0", uri="mongodb://x", db=db).returncode == 2
