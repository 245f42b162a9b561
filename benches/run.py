#!/usr/bin/env python3
"""Vellum against its peers, in one run, against one server.

    bash benches/run.sh                # the full suite (builds the stub server first)
    bash benches/run.sh --smoke        # every scenario and peer once, on tiny sizes
    bash benches/run.sh --scenarios links --out /tmp/links   # some scenarios only
    bash benches/run.sh --scenarios migration --out /tmp/mig # the migration scenario alone
    bash benches/run.sh --scenarios odm --odm-data DIR --out /tmp/odm   # MongoDB's ODM benchmark
    bash benches/run.sh --scenarios odm --quick --out /tmp/odm        # ...with bounded iterations

The server is the wire-protocol stub in benches/stubserver (it answers from canned,
pre-encoded documents, so the numbers are the clients' costs), or the MongoDB that
`VELLUM_BENCH_MONGODB_URI` names (its `vellum_bench` database is dropped and seeded first).

Prints a table, and writes docs/benchmarks.json and docs/benchmarks.png: the median of several
repetitions per scenario and peer, and its ratio to pymongo's async client returning raw dicts
(the baseline) from the same run. Then it checks the targets of the performance issue and says
plainly which are missed. A run of some scenarios (`--scenarios`) writes only to an `--out`
named on the command line, never over the committed docs.

The `odm` scenario is MongoDB's ODM benchmark (odm.py): its own tasks, iteration rules and
scores (MB/s), reported in the same JSON under "odm" with Vellum's ratio to each peer, and
charted in odm-benchmark.png beside benchmarks.png.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import odm
import odm_data
from migration import RECORDS, reseed, stored_problem, stub_tally, tally_problem
from migration import folder as migration_folder
from peers import (
    AUTHORS,
    BOOKS,
    BOOKS_DBREF,
    PEERS,
    Peer,
    PlainUser,
    for_driver,
    library_documents,
    user_document,
    version_of,
)

REPO = Path(__file__).resolve().parent.parent
STUB = REPO / "benches" / "stubserver" / "target" / "release"
DATABASE = "vellum_bench"
BASELINE = "pymongo raw"
SCENARIOS = (
    "find",
    "constrained",
    "get",
    "concurrent",
    "insert",
    "update",
    "group",
    "links",
    "migration",
    "ping",
    "bridge",
    "stream",
    "odm",
)
"""The names `--scenarios` chooses from, in the order the suite runs them."""


@dataclass
class Sizes:
    finds: tuple[int, ...] = (100, 10_000, 100_000)
    gets: int = 2000
    concurrent: int = 200
    inserts: int = 10_000
    updates: int = 1000
    pings: int = 2000
    stream: int = 100_000
    reps: int = 9  # this kind of VM varies by up to 30% between runs: more samples per median
    big_reps: int = 3  # for scenarios over 100 000 documents
    books: int = 10_000  # each links to one of `authors`
    authors: int = 1000
    migration: int = 100_000  # items migrated
    migration_batch: int = 1000  # documents per batch, for every ODM
    constrained: tuple[int, ...] = (10_000, 100_000)  # finds into the constrained model

    @classmethod
    def smoke(cls) -> Sizes:
        sizes = cls((100,), 20, 10, 50, 20, 20, 500, 1, 1, 200, 20)
        sizes.migration, sizes.migration_batch = 300, 100
        sizes.constrained = (100,)
        return sizes


@dataclass
class Result:
    scenario: str
    unit: str
    samples: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    extra: dict[str, dict[str, float]] = field(default_factory=dict)

    def median(self, peer: str) -> float | None:
        values = self.samples.get(peer)
        return statistics.median(values) if values else None

    def ratio(self, peer: str) -> float | None:
        mine, base = self.median(peer), self.median(BASELINE)
        return None if mine is None or not base else mine / base


# -- the server -----------------------------------------------------------------------------


class StubServer:
    def __init__(self, docs: int, books: int, authors: int, items: int) -> None:
        binary = STUB / "stubserver"
        if not binary.exists():
            raise SystemExit(
                f"{binary} is missing: build it with "
                "`cargo build --release --manifest-path benches/stubserver/Cargo.toml` "
                "(benches/run.sh does)"
            )
        command = [str(binary), "--docs", str(docs), "--books", str(books)]
        command += ["--authors", str(authors), "--items", str(items)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise SystemExit(f"stub server did not start: {line!r}")
        self.address = line.removeprefix("listening on ")
        self.uri = f"mongodb://{self.address}/?directConnection=true"

    def round_trip(self) -> dict[str, float]:
        """The raw round trip of a ping on loopback, and the stub's own time per request."""
        out = subprocess.run(
            [str(STUB / "pingbench"), self.address, "20000"],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


async def seed(uri: str, documents: int, sizes: Sizes) -> None:
    """Fills `vellum_bench` on a real server with the documents the stub would serve: the
    users, and the library (its books twice: links as ids, and as DBRefs). The items of the
    migration scenario are seeded before each of its runs."""
    from bson import DBRef
    from pymongo import AsyncMongoClient

    client: Any = AsyncMongoClient(uri, uuidRepresentation="standard")
    try:
        await client.drop_database(DATABASE)
        users = client[DATABASE]["users"]
        for start in range(0, documents, 10_000):
            end = min(start + 10_000, documents)
            batch = [for_driver(user_document(i)) for i in range(start, end)]
            await users.insert_many(batch)
        authors, books = library_documents(sizes.books, sizes.authors)
        await client[DATABASE][AUTHORS].insert_many(authors)
        await client[DATABASE][BOOKS].insert_many([dict(book) for book in books])
        await client[DATABASE][BOOKS_DBREF].insert_many(
            [{**book, "author": DBRef(AUTHORS, book["author"])} for book in books]
        )
    finally:
        await client.close()


async def library_reference(uri: str) -> dict[str, str]:
    """Title to author name, joined here from a plain read of both collections: what every
    peer's books with their links loaded must show."""
    from pymongo import AsyncMongoClient

    client: Any = AsyncMongoClient(uri, uuidRepresentation="standard")
    try:
        db = client[DATABASE]
        names = {a["_id"]: a["name"] for a in await db[AUTHORS].find({}).to_list()}
        return {b["title"]: names[b["author"]] for b in await db[BOOKS].find({}).to_list()}
    finally:
        await client.close()


async def known_ids(uri: str, count: int) -> list[uuid.UUID]:
    from vellum import _core

    client = await _core.Client.connect(uri)
    try:
        docs = await client.collection(DATABASE, "users").find({}, limit=count)
        return [doc["_id"] for doc in docs]
    finally:
        await client.close()


async def drop_inserts(uri: str) -> None:
    from vellum import _core

    client = await _core.Client.connect(uri)
    try:
        await client.collection(DATABASE, "inserts").delete_many({})
    finally:
        await client.close()


# -- timing ---------------------------------------------------------------------------------


async def timed(action: Callable[[], Awaitable[Any]]) -> float:
    """Seconds until `action`'s result is in hand. The result is freed after the clock stops,
    for every peer alike: dropped at once, a driver's list of dicts would be freed inside the
    measurement, while a result delivered through an asyncio future (Vellum's) lives until the
    task next suspends."""
    gc.collect()
    started = time.perf_counter()
    result = await action()
    seconds = time.perf_counter() - started
    del result
    return seconds


def memory_kib(field: str) -> int:
    """VmRSS (resident now) or VmHWM (peak resident) of this process, from /proc. Not
    getrusage's ru_maxrss: that one keeps the parent's peak across fork and exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} is not in /proc/self/status")


async def stream_child(label: str, uri: str, n: int) -> None:
    """Runs in its own process so that peak memory is this peer's alone."""
    peer = PEERS[label]()
    await peer.connect(uri, DATABASE)
    before = memory_kib("VmRSS")
    count = 0
    started = time.perf_counter()
    async for _ in peer.stream(n):
        count += 1
    seconds = time.perf_counter() - started
    peak = memory_kib("VmHWM")
    await peer.close()
    growth = max(0, peak - before) * 1024
    print(json.dumps({"seconds": seconds, "count": count, "rss_growth": growth}))


def run_stream(label: str, uri: str, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--stream-child", label, "--uri", uri, "--n", str(n)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "failed")
    return json.loads(out.stdout)


# -- the scenarios --------------------------------------------------------------------------


async def linking_peers(
    uri: str, peers: dict[str, Peer], sizes: Sizes
) -> tuple[dict[str, Peer], dict[str, str]]:
    """The peers that load links, each checked once: all the books, each with the right
    author. The others raise NotImplementedError, with a reason to note or none."""
    reference = await library_reference(uri)
    if len(reference) != sizes.books or len(set(reference.values())) < 2:
        raise RuntimeError(f"the library holds {len(reference)} books, not {sizes.books}")
    linking: dict[str, Peer] = {}
    notes: dict[str, str] = {}
    for label, peer in peers.items():
        try:
            books = await peer.find_books()
        except NotImplementedError as err:
            if str(err):
                notes[label] = str(err)
            continue
        found = peer.book_authors(books)
        wrong = sum(found.get(title) != name for title, name in reference.items())
        if len(books) != sizes.books or wrong:
            raise RuntimeError(
                f"{label} loaded {len(books)} books of {sizes.books}, {wrong} with the wrong "
                "author (or none)"
            )
        linking[label] = peer
    return linking, notes


async def migration_scenario(
    uri: str,
    peers: dict[str, Peer],
    sizes: Sizes,
    on_stub: bool,
    scenario: Callable[..., Awaitable[Result]],
) -> None:
    """Each ODM's migration tool runs one migration over `sizes.migration` items: `price`, a
    string, becomes a Decimal through a Python function (migration.py). Each peer's run is
    checked once, then timed: every item replaced once, with the right Decimal128 price and
    its other fields as they were (on the stub, which checks the replacements it receives;
    on a real server, by reading the items back). On a real server the items and the runners'
    records are seeded again before every run, outside the timing; the stub keeps nothing, so
    every run finds the items unmigrated and no migration applied."""
    from pymongo import AsyncMongoClient

    client: Any = AsyncMongoClient(uri, uuidRepresentation="standard")
    db = client[DATABASE]
    n, batch = sizes.migration, sizes.migration_batch

    async def fresh() -> None:
        if not on_stub:
            await reseed(db, n)

    try:
        with ExitStack() as stack:
            folders = {
                label: stack.enter_context(migration_folder(peer.migration, batch))
                for label, peer in peers.items()
                if peer.migration
            }
            migrating: dict[str, Peer] = {}
            notes: dict[str, str] = {}
            for label, folder in folders.items():
                peer = peers[label]
                await fresh()
                if on_stub:
                    await stub_tally(db, True)
                try:
                    await peer.migrate(folder)
                except NotImplementedError as err:
                    if str(err):
                        notes[label] = str(err)
                    continue
                finally:
                    tally = await stub_tally(db, False) if on_stub else {}
                problem = tally_problem(tally, n) if on_stub else await stored_problem(db, n)
                if problem:
                    raise RuntimeError(f"{label}'s migration went wrong: {problem}")
                migrating[label] = peer

            async def migrate(peer: Peer) -> float:
                await fresh()
                return await timed(lambda: peer.migrate(folders[peer.label])) * 1e3

            result = await scenario(
                f"migration: {n:,} documents, price str → Decimal by a Python function",
                "ms",
                sizes.big_reps,
                migrate,
                only=lambda peer: peer.label in migrating,
            )
        for label, peer in migrating.items():
            notes[label] = migration_note(peer, batch)
        if on_stub:
            notes["stub"] = (
                "filters on items are ignored (nothing is stored, so every item is still to "
                "migrate and Vellum's marker filter selects them all); no sort is applied "
                "(items are served in _id order); records collections are always empty; "
                "counts of {_id: {$in: ids}} on items count the listed ids that are items'"
            )
        result.notes.update(notes)
    finally:
        if not on_stub:
            for name in RECORDS:
                await db.drop_collection(name)
        await client.close()


def migration_note(peer: Peer, batch: int) -> str:
    """How the peer's run went: its runner, batch size, and whether it used transactions."""
    if peer.label.startswith("vellum"):
        if getattr(peer, "transactions", False):
            path = "a transaction per batch (with its progress record)"
        else:
            path = "no transactions on this server: marker path (one final update_many)"
        return f"upgrade(), ctx.transform(batch_size={batch}); {path}"
    return (
        f"run_migrate (connects its own client), iterative_migration(batch_size={batch}), "
        "use_transaction=False"
    )


async def run_all(
    uri: str,
    labels: list[str],
    sizes: Sizes,
    chosen: frozenset[str] = frozenset(SCENARIOS),
    on_stub: bool = True,
) -> list[Result]:
    peers: dict[str, Peer] = {}
    for label in labels:
        peer = PEERS[label]()
        await peer.connect(uri, DATABASE)
        peers[label] = peer
    ids = await known_ids(uri, sizes.gets)
    results: list[Result] = []

    async def scenario(
        name: str,
        unit: str,
        reps: int,
        run: Callable[[Peer], Awaitable[float]],
        only: Callable[[Peer], bool] = lambda _: True,
    ) -> Result:
        result = Result(name, unit)
        for _ in range(reps):
            for label, peer in peers.items():
                if not only(peer):
                    continue
                try:
                    value = await run(peer)
                except NotImplementedError as err:
                    result.notes[label] = str(err) or "not supported"
                    continue
                result.samples.setdefault(label, []).append(value)
        results.append(result)
        print(f"  {name}: done", file=sys.stderr)
        return result

    for n in sizes.finds if "find" in chosen else ():
        reps = sizes.big_reps if n >= 100_000 else sizes.reps

        async def find(peer: Peer, n: int = n) -> float:
            seconds = await timed(lambda: peer.find(n))
            return seconds * 1e3

        await scenario(f"find {n:,} into models", "ms", reps, find)
        # The floor: Pydantic validating the same documents, already decoded in memory.
        docs = await peers[BASELINE].find(n) if BASELINE in peers else []
        if docs:
            floor = Result(f"pydantic floor, {n:,} documents", "ms")
            for _ in range(reps):
                gc.collect()
                started = time.perf_counter()
                validated = [PlainUser.model_validate(d) for d in docs]
                floor.samples.setdefault("model_validate", []).append(
                    (time.perf_counter() - started) * 1e3
                )
                del validated
            results.append(floor)
            del docs

    for n in sizes.constrained if "constrained" in chosen else ():

        async def find_constrained(peer: Peer, n: int = n) -> float:
            seconds = await timed(lambda: peer.find_constrained(n))
            return seconds * 1e3

        reps = sizes.big_reps if n >= 100_000 else sizes.reps
        await scenario(f"find {n:,} into constrained models", "ms", reps, find_constrained)

    async def gets(peer: Peer) -> float:
        async def run() -> None:
            for doc_id in ids:
                await peer.get(doc_id)

        return await timed(run) / len(ids) * 1e6

    if "get" in chosen:
        await scenario(f"get by _id, {sizes.gets:,} in sequence", "µs/op", sizes.reps, gets)

    async def concurrent(peer: Peer) -> float:
        batch = (ids * (sizes.concurrent // len(ids) + 1))[: sizes.concurrent]
        seconds = await timed(lambda: asyncio.gather(*(peer.get(i) for i in batch)))
        return seconds * 1e3

    if "concurrent" in chosen:
        await scenario(f"{sizes.concurrent} concurrent gets", "ms", sizes.reps, concurrent)

    documents = [user_document(i) for i in range(sizes.inserts)] if "insert" in chosen else []

    async def insert(peer: Peer) -> float:
        await drop_inserts(uri)
        payload = peer.insert_payload([{**d, "_id": uuid.uuid4()} for d in documents])
        return await timed(lambda: peer.insert_many(payload)) * 1e3

    if "insert" in chosen:
        await scenario(f"insert_many {sizes.inserts:,} models", "ms", sizes.reps, insert)
        await drop_inserts(uri)

    async def update(peer: Peer) -> float:
        targets = ids[: sizes.updates]

        async def run() -> None:
            for age, doc_id in enumerate(targets):
                await peer.update_one(doc_id, 20 + age % 50)

        return await timed(run) / len(targets) * 1e6

    if "update" in chosen:
        await scenario("update_one by _id", "µs/op", sizes.reps, update)

    async def group(peer: Peer) -> float:
        return await timed(peer.aggregate_group) * 1e3

    if "group" in chosen:
        await scenario("aggregate $group → 1,000 models", "ms", sizes.reps, group)

    async def books(peer: Peer) -> float:
        return await timed(peer.find_books) * 1e3

    if "links" in chosen:
        linking, notes = await linking_peers(uri, peers, sizes)
        links = await scenario(
            f"links: {sizes.books:,} books → {sizes.authors:,} authors, fetched",
            "ms",
            sizes.reps,
            books,
            only=lambda peer: peer.label in linking,
        )
        links.notes.update(notes)

    if "migration" in chosen:
        await migration_scenario(uri, peers, sizes, on_stub, scenario)

    async def ping(peer: Peer) -> float:
        async def run() -> None:
            for _ in range(sizes.pings):
                await peer.ping()

        return await timed(run) / sizes.pings * 1e6

    if "ping" in chosen:
        await scenario("ping round trip", "µs/op", sizes.reps, ping)

    if "vellum" in peers and "bridge" in chosen:
        from vellum._core import bridge_overhead_probe

        probe = Result("async bridge alone (no I/O)", "µs/op")
        for _ in range(sizes.reps):

            async def spin() -> None:
                for _ in range(sizes.pings):
                    await bridge_overhead_probe()

            probe.samples.setdefault("vellum", []).append(await timed(spin) / sizes.pings * 1e6)
        results.append(probe)

    for peer in peers.values():
        await peer.close()

    if "stream" not in chosen:
        return results
    stream = Result(f"stream {sizes.stream:,} with iter()", "ms")
    for label in labels:
        for _ in range(sizes.big_reps):
            try:
                measured = run_stream(label, uri, sizes.stream)
            except RuntimeError as err:
                stream.notes[label] = str(err)
                break
            if measured["count"] != sizes.stream:
                stream.notes[label] = f"streamed {measured['count']} of {sizes.stream}"
            stream.samples.setdefault(label, []).append(measured["seconds"] * 1e3)
            growth = stream.extra.setdefault(label, {"rss_growth_mb": 0.0})
            growth["rss_growth_mb"] = max(growth["rss_growth_mb"], measured["rss_growth"] / 2**20)
    results.append(stream)
    print("  stream: done", file=sys.stderr)
    return results


# -- the report -----------------------------------------------------------------------------


def table(results: list[Result], labels: list[str]) -> str:
    lines: list[str] = []
    for result in results:
        lines.append(f"\n{result.scenario} ({result.unit}, median; ratio to {BASELINE})")
        for label in [*labels, *[k for k in result.samples if k not in labels]]:
            median = result.median(label)
            if median is None:
                if label in result.notes:
                    lines.append(f"  {label:<20} {'n/a':>12}  {result.notes[label]}")
                continue
            ratio = result.ratio(label)
            ratio_text = f"{ratio:6.2f}x" if ratio is not None else ""
            extra = "".join(f"  {k}={v:.1f}" for k, v in result.extra.get(label, {}).items())
            note = f"  ({result.notes[label]})" if label in result.notes else ""
            lines.append(f"  {label:<20} {median:12.2f}  {ratio_text}{extra}{note}")
    return "\n".join(lines)


@dataclass
class Target:
    text: str
    met: bool | None
    measured: str


def targets(results: list[Result], vellum: str = "vellum") -> list[Target]:
    by_name = {r.scenario: r for r in results}
    out: list[Target] = []

    def check(text: str, met: bool, measured: str) -> None:
        out.append(Target(text, met, measured))

    def find(prefix: str) -> Result | None:
        return next((r for name, r in by_name.items() if name.startswith(prefix)), None)

    for n in ("10,000", "100,000"):
        result, floor = by_name.get(f"find {n} into models"), find(f"pydantic floor, {n} ")
        constrained = by_name.get(f"find {n} into constrained models")
        ratio = None if constrained is None else constrained.ratio(vellum)
        if ratio is not None:
            check(f"find {n} constrained: {vellum} / pymongo raw <= 1.0", ratio <= 1.0,
                  f"{ratio:.2f}")  # fmt: skip
        if result is None:
            continue
        ratio, mine = result.ratio(vellum), result.median(vellum)
        beanie = result.median("beanie")
        if ratio is not None:
            check(f"find {n}: {vellum} / pymongo raw <= 1.0", ratio <= 1.0, f"{ratio:.2f}")
        if beanie and mine:
            check(f"find {n}: beanie / {vellum} >= 5", beanie / mine >= 5, f"{beanie / mine:.1f}")
        if floor is not None and mine and floor.median("model_validate"):
            over = mine / (floor.median("model_validate") or 1)
            check(f"find {n}: {vellum} / pydantic floor <= 1.5", over <= 1.5, f"{over:.2f}")
    for prefix in ("get by _id", "200 concurrent"):
        result = find(prefix)
        if result is None:
            continue
        mine, jet = result.median(vellum), result.median("mongojet+pydantic")
        if mine and jet:
            check(f"{prefix}: {vellum} <= mongojet+pydantic", mine <= jet, f"{mine / jet:.2f}x")
    result = find("insert_many")
    if result is not None:
        ratio, mine, beanie = result.ratio(vellum), result.median(vellum), result.median("beanie")
        if ratio is not None:
            check(f"insert_many: {vellum} / pymongo raw <= 1.0", ratio <= 1.0, f"{ratio:.2f}")
        if beanie and mine:
            check(
                f"insert_many: beanie / {vellum} >= 8", beanie / mine >= 8, f"{beanie / mine:.1f}"
            )
    result = find("links:")
    if result is not None:
        mine, beanie = result.median(vellum), result.median("beanie")
        by_hand = result.median("pymongo+pydantic")
        if beanie and mine:
            check(f"links: beanie / {vellum} >= 5", beanie / mine >= 5, f"{beanie / mine:.1f}")
        if by_hand and mine:
            check(
                f"links: {vellum} <= pymongo+pydantic (by hand: $in, model_validate)",
                mine <= by_hand,
                f"{mine / by_hand:.2f}x",
            )
    result = find("migration:")
    if result is not None:
        mine, beanie = result.median(vellum), result.median("beanie")
        if beanie and mine:
            check(f"migration: beanie / {vellum} >= 5", beanie / mine >= 5, f"{beanie / mine:.1f}")
    result = find("stream")
    if result is not None and vellum in result.extra:
        growth = result.extra[vellum]["rss_growth_mb"]
        check(f"stream: {vellum} RSS growth <= 64 MB", growth <= 64, f"{growth:.1f} MB")
    probe, ping = find("async bridge"), find("ping")
    if probe is not None and ping is not None and ping.median(vellum):
        out.append(
            Target(
                "async bridge overhead (documented)",
                None,
                f"{probe.median('vellum'):.1f} µs no-op await; ping {ping.median(vellum):.1f} µs "
                f"vs pymongo {ping.median(BASELINE) or float('nan'):.1f} µs",
            )
        )
    return out


def chart(results: list[Result], labels: list[str], path: Path) -> bool:
    """Draws each scenario's ratios to the baseline into `path`; False (nothing drawn) when no
    scenario has a baseline (the migration scenario alone)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if r.median(BASELINE)]
    if not rows:
        return False
    shown = [label for label in labels if label != BASELINE]
    fig, ax = plt.subplots(figsize=(11, 0.9 + 0.55 * len(rows) * max(1, len(shown)) / 3))
    height = 0.8 / max(1, len(shown))
    for i, label in enumerate(shown):
        ys = [row_index + i * height for row_index in range(len(rows))]
        ratios = [r.ratio(label) or 0 for r in rows]
        ax.barh(ys, ratios, height=height, label=label)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(rows))])
    ax.set_yticklabels([r.scenario for r in rows])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel(f"time relative to {BASELINE} (lower is faster; log scale)")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="odm scenario: bounded iterations (1 000 operations, five iterations or 20 s)",
    )
    parser.add_argument(
        "--odm-data",
        help="odm scenario: the specification's odm-data directory (or VELLUM_ODM_DATA); "
        "without it, data sets of the same shape are generated",
    )
    parser.add_argument("--peers", help="comma-separated labels (default: every installed one)")
    parser.add_argument(
        "--scenarios", help=f"comma-separated, from {','.join(SCENARIOS)} (default: all)"
    )
    parser.add_argument(
        "--out", type=Path, help="where to write the results (default: docs/, for a full run)"
    )
    parser.add_argument("--stream-child", help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_child:
        asyncio.run(stream_child(args.stream_child, args.uri, args.n))
        return 0

    sizes = Sizes.smoke() if args.smoke else Sizes()
    chosen = frozenset(args.scenarios.split(",") if args.scenarios else SCENARIOS)
    if chosen - set(SCENARIOS):
        raise SystemExit(
            f"unknown scenarios {sorted(chosen - set(SCENARIOS))}; choose from {list(SCENARIOS)}"
        )
    out = args.out or (REPO / "docs" if chosen == set(SCENARIOS) else None)
    wanted = args.peers.split(",") if args.peers else list(PEERS)
    unknown = [label for label in wanted if label not in PEERS]
    if unknown:
        raise SystemExit(f"unknown peers {unknown}; choose from {list(PEERS)}")
    labels = [label for label in wanted if version_of(PEERS[label].package) != "not installed"]
    skipped = sorted(set(wanted) - set(labels))
    if skipped:
        print(f"not installed, left out: {skipped}", file=sys.stderr)

    rules = odm.SMOKE if args.smoke else odm.QUICK if args.quick else odm.FULL
    datasets = odm_data.load(args.odm_data) if "odm" in chosen else None
    uri = os.environ.get("VELLUM_BENCH_MONGODB_URI")
    stub = None
    documents = max(max(sizes.finds), sizes.stream)
    if uri:
        server = "MongoDB at VELLUM_BENCH_MONGODB_URI"
        if chosen - {"odm"}:
            print(f"seeding {documents:,} documents", file=sys.stderr)
            asyncio.run(seed(uri, documents, sizes))
    else:
        stub = StubServer(documents, sizes.books, sizes.authors, sizes.migration)
        uri = stub.uri
        server = "stub server (benches/stubserver)"
    odm_run = None
    try:
        results: list[Result] = []
        if chosen - {"odm"}:
            results = asyncio.run(run_all(uri, labels, sizes, chosen, on_stub=stub is not None))
        if datasets is not None:
            odm_run = asyncio.run(
                odm.scenario(uri, DATABASE, labels, rules, datasets, on_stub=stub is not None)
            )
        round_trip = stub.round_trip() if stub else None
    finally:
        if stub:
            stub.stop()

    report = table(results, labels)
    checked = targets(results)
    print(report)
    if round_trip:
        print(
            f"\nstub server: raw ping round trip {round_trip['rtt_median_us']:.1f} µs on loopback "
            f"(a blocking Rust socket), of which the stub's own CPU time is "
            f"{round_trip['server_cpu_ns'] / 1000:.1f} µs (building the reply "
            f"{round_trip['server_build_ns'] / 1000:.2f} µs, the rest is socket syscalls)"
        )
    if odm_run is not None:
        print(odm.table(odm_run))
    print("\ntargets (vellum, validated models, default settings):")
    for target in checked:
        status = "documented" if target.met is None else "met" if target.met else "MISSED"
        print(f"  [{status}] {target.text}: {target.measured}")
    for text, met, measured in odm.targets(odm_run) if odm_run else ():
        print(f"  [{'met' if met else 'MISSED'}] {text}: {measured}")

    if args.smoke and odm_run is not None:
        with tempfile.TemporaryDirectory() as scratch:  # the chart is drawn, and thrown away
            odm.chart(odm_run, Path(scratch) / "odm-benchmark.png")
    if not args.smoke and out is None:
        print("\nsome scenarios only: nothing written (name a directory with --out)")
    elif not args.smoke:
        out.mkdir(parents=True, exist_ok=True)
        payload = {
            "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "server": server,
            "stub_round_trip": round_trip,
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
            "baseline": BASELINE,
            "versions": {label: PEERS[label]().version for label in labels}
            | {"pydantic": version_of("pydantic")},
            "results": [
                {
                    "scenario": r.scenario,
                    "unit": r.unit,
                    "median": {k: r.median(k) for k in r.samples},
                    "ratio": {k: r.ratio(k) for k in r.samples},
                    "samples": r.samples,
                    "notes": r.notes,
                    "extra": r.extra,
                }
                for r in results
            ],
            "targets": [t.__dict__ for t in checked],
        }
        if odm_run is not None:
            payload["odm"] = odm.payload(odm_run)
            odm.chart(odm_run, out / "odm-benchmark.png")
            print(f"wrote {out / 'odm-benchmark.png'}")
        (out / "benchmarks.json").write_text(json.dumps(payload, indent=2) + "\n")
        drawn = chart(results, labels, out / "benchmarks.png")
        chart_text = f" and {out / 'benchmarks.png'}" if drawn else " (no chart: no baseline)"
        print(f"\nwrote {out / 'benchmarks.json'}{chart_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
