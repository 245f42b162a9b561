"""MongoDB's ODM benchmark, the `odm` scenario of benches/run.py.

The specification is mongodb/specifications, source/benchmarking/odm-benchmarking.md (v1.0);
what follows is how this file reads it, not its text.

Ten tasks, each timed over iterations of a fixed number of operations (10 000): flat models
(create a small model, update one field of it, find it by `_id`, find it by the `_id` of the
FOREIGN_KEY document it links to, with that document joined; create a large model, update one
of its fields) and nested models (create, update a field of an embedded document, find by an
embedded document's `unique_id`, find by the `unique_id` of the first document of an embedded
array). Each task has a set-up (once: load the data set, store the documents a task reads or
updates), the timed operation (every iteration), an "after" step (the creation tasks drop
their collection after every iteration) and a teardown (drop what the set-up stored).

Iterations: at least 30 s in all, then stop at 10 iterations or at 60 s, whichever comes first
(the time counted is each iteration's operation and its "after" step). Percentiles are the
specification's nearest rank (index `int(N * p / 100) - 1` of the sorted times, the first when
that is negative). The score is the task's size in MB (10^6 bytes: the data set's JSON size, or
the 13 bytes of `updated_value` for updates, times the operations) over the 50th percentile.

Where this reading departs from the specification: the tasks of the 3.2 MB model run 1 000
operations per iteration, not 10 000 (10 000 would send 32 GB per iteration and client, and
hold 24 GB of images in Beanie's instances, which its update refreshes from the server; the
score is per MB, so it compares the same). The two large update tasks list the drop
as an "after" step; here it is the teardown, as for the small update task, since the later
iterations must find the documents (the reference implementation for Django does the same).
The server is the stub (benches/stubserver) or the MongoDB of `VELLUM_BENCH_MONGODB_URI`, not
the specification's replica set. `--quick` bounds the iterations (1 000 operations, 100 for
the 3.2 MB model, five iterations or 20 s) and `--smoke` runs one tiny iteration: both are
labelled so in the output, and are not the specification's scores.

On the stub, the clients' iterations alternate (each client still follows the iteration
rules), so that the machine's drift is shared; on a real server each client runs a task from
set-up to teardown before the next, so that one client's documents are stored at a time. The
stub's own CPU time per iteration is read from `stubStats` around every iteration (outside the
timing) and reported beside each score.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odm_clients import CLIENTS, FK, FK_NAME, SMALL_FK, OdmClient, dig
from odm_data import LARGE, NESTED, SMALL, UPDATED_VALUE, Dataset, Datasets

REFERENCE = "vellum"
SPEC = "mongodb/specifications source/benchmarking/odm-benchmarking.md (v1.0)"
PERCENTILES = (10, 25, 50, 75, 90, 95, 98, 99)
BATCH_BYTES = 50_000_000
"""Set-up stores documents in batches of about this many bytes of JSON (at most 1 000)."""


@dataclass(frozen=True)
class Rules:
    """How many operations an iteration runs, and when a client's iterations stop."""

    name: str
    ops: int
    large_ops: int
    min_seconds: float
    enough_iterations: int
    max_seconds: float

    def done(self, iterations: int, seconds: float) -> bool:
        if seconds < self.min_seconds:
            return False
        return iterations >= self.enough_iterations or seconds >= self.max_seconds

    def ops_for(self, dataset: str) -> int:
        return self.large_ops if dataset == LARGE else self.ops


FULL = Rules("full (the specification's rules)", 10_000, 1_000, 30.0, 10, 60.0)
QUICK = Rules("quick (bounded iterations, not the specification's)", 1_000, 100, 0.0, 5, 20.0)
SMOKE = Rules("smoke (one tiny iteration, no timing)", 10, 2, 0.0, 1, 0.0)


# -- the tasks -------------------------------------------------------------------------------

State = Any


@dataclass(frozen=True)
class Task:
    key: str
    title: str
    group: str
    dataset: str
    kind: str
    scores_update: bool
    setup: Callable[[OdmClient, Dataset, int, int], Awaitable[State]]
    do: Callable[[OdmClient, State], Awaitable[None]]
    check: Callable[[OdmClient, State], Awaitable[str | None]] | None = None
    dropped_after: tuple[str, ...] = ()
    """Collections (model kinds) dropped after every iteration."""
    dropped_at_teardown: tuple[str, ...] = ()


def creation(key: str, title: str, group: str, dataset: str) -> Task:
    async def setup(client: OdmClient, data: Dataset, ops: int, batch: int) -> State:
        return (data.document, ops)

    async def do(client: OdmClient, state: State) -> None:
        document, ops = state
        for _ in range(ops):
            await client.create(dataset, document)

    return Task(key, title, group, dataset, dataset, False, setup, do, dropped_after=(dataset,))


async def stored(client: OdmClient, data: Dataset, ops: int, batch: int) -> State:
    return await client.store(data.name, [data.document] * ops, batch)


def update(key: str, title: str, group: str, dataset: str, path: str) -> Task:
    async def do(client: OdmClient, instances: State) -> None:
        for instance in instances:
            await client.update(dataset, instance, path, UPDATED_VALUE)

    return Task(
        key, title, group, dataset, dataset, True, stored, do, dropped_at_teardown=(dataset,)
    )


def find(key: str, title: str, group: str, dataset: str, path: str) -> Task:
    async def setup(client: OdmClient, data: Dataset, ops: int, batch: int) -> State:
        return [dig(instance, path) for instance in await stored(client, data, ops, batch)]

    async def do(client: OdmClient, values: State) -> None:
        for value in values:
            await client.find(dataset, path, value)

    async def check(client: OdmClient, values: State) -> str | None:
        found = await client.find(dataset, path, values[-1])
        if found is None or dig(found, path) != values[-1]:
            return f"finding {path} = {values[-1]!r} gave {str(found)[:200]}"
        return None

    return Task(
        key, title, group, dataset, dataset, False, setup, do, check, dropped_at_teardown=(dataset,)
    )


async def linked(client: OdmClient, data: Dataset, ops: int, batch: int) -> State:
    return await client.store_linked([data.document] * ops, batch)


async def by_fk(client: OdmClient, fk_ids: State) -> None:
    for fk_id in fk_ids:
        await client.find_by_fk(fk_id)


async def check_fk(client: OdmClient, fk_ids: State) -> str | None:
    found = await client.find_by_fk(fk_ids[-1])
    try:
        joined = (dig(found, "field_fk._id"), dig(found, "field_fk.name"))
    except (AttributeError, KeyError, TypeError) as err:
        return f"no FOREIGN_KEY document joined ({err!r}): {str(found)[:200]}"
    if joined != (fk_ids[-1], FK_NAME):
        return f"joined {joined}, not ({fk_ids[-1]!r}, {FK_NAME!r})"
    return None


FLAT, NESTED_GROUP = "flat models", "nested models"
NESTED_FIELD = "embedded_str_doc_1"
TASKS: tuple[Task, ...] = (
    creation("small_create", "small model creation", FLAT, SMALL),
    update("small_update", "small model update", FLAT, SMALL, "field1"),
    find("small_find", "small model find by filter", FLAT, SMALL, "_id"),
    Task(
        "small_find_fk",
        "small model find foreign key by filter ($lookup)",
        FLAT,
        SMALL,
        SMALL_FK,
        False,
        linked,
        by_fk,
        check_fk,
        dropped_at_teardown=(SMALL_FK, FK),
    ),
    creation("large_create", "large model creation", FLAT, LARGE),
    update("large_update", "large model update", FLAT, LARGE, "field1"),
    creation("nested_create", "large nested model creation", NESTED_GROUP, NESTED),
    update(
        "nested_update",
        "large nested model update nested",
        NESTED_GROUP,
        NESTED,
        f"{NESTED_FIELD}.field1",
    ),
    find(
        "nested_find",
        "large nested model find nested by filter",
        NESTED_GROUP,
        NESTED,
        f"{NESTED_FIELD}.unique_id",
    ),
    find(
        "nested_find_array",
        "large nested model find nested array by filter",
        NESTED_GROUP,
        NESTED,
        "embedded_str_doc_array.unique_id",
    ),
)


# -- measuring -------------------------------------------------------------------------------


def nearest_rank(times: list[float], p: int) -> float:
    ordered = sorted(times)
    return ordered[max(0, int(len(ordered) * p / 100) - 1)]


@dataclass
class Series:
    """One client's iterations of one task."""

    times: list[float] = field(default_factory=list)
    seconds: float = 0.0
    stub_requests: list[int] = field(default_factory=list)
    stub_cpu_ns: list[int] = field(default_factory=list)

    def median(self) -> float:
        return nearest_rank(self.times, 50)

    def stub(self, ops: int) -> dict[str, float] | None:
        if not self.stub_requests or not sum(self.stub_requests):
            return None
        cpu, requests = sum(self.stub_cpu_ns), sum(self.stub_requests)
        return {
            "requests_per_op": requests / len(self.times) / ops,
            "cpu_us_per_request": cpu / requests / 1e3,
            "cpu_share_of_iteration": cpu / 1e9 / sum(self.times),
        }


@dataclass
class TaskResult:
    task: Task
    ops: int
    bytes_per_op: int
    series: dict[str, Series] = field(default_factory=dict)

    @property
    def megabytes(self) -> float:
        return self.ops * self.bytes_per_op / 1e6

    def score(self, label: str) -> float | None:
        series = self.series.get(label)
        return self.megabytes / series.median() if series and series.times else None

    def ratio(self, label: str, reference: str = REFERENCE) -> float | None:
        """How many times the reference's score this client's is (>1: the reference is faster)."""
        mine, theirs = self.score(reference), self.score(label)
        return mine / theirs if mine and theirs else None


class Harness:
    """The benchmark's own connection: drops, and the stub's counters."""

    def __init__(self, uri: str, database: str, on_stub: bool) -> None:
        from pymongo import AsyncMongoClient

        self.client: Any = AsyncMongoClient(uri)
        self.db = self.client[database]
        self.on_stub = on_stub

    async def drop(self, client: OdmClient, kinds: tuple[str, ...]) -> None:
        for kind in kinds:
            await self.db.drop_collection(client.collection(kind))

    async def stub_counters(self) -> tuple[int, int] | None:
        if not self.on_stub:
            return None
        stats = await self.client.admin.command("stubStats")
        return int(stats["requests"]), int(stats["cpu_ns"])

    async def close(self) -> None:
        await self.client.close()


async def run_task(
    task: Task,
    clients: list[OdmClient],
    rules: Rules,
    datasets: Datasets,
    harness: Harness,
) -> TaskResult:
    data: Dataset = getattr(datasets, task.dataset)
    ops = rules.ops_for(task.dataset)
    bytes_per_op = len(UPDATED_VALUE.encode()) if task.scores_update else data.json_bytes
    result = TaskResult(task, ops, bytes_per_op)
    batch = max(1, min(1000, BATCH_BYTES // data.json_bytes))
    runners = [c for c in clients if c.tasks is None or task.key in c.tasks]
    groups = [runners] if harness.on_stub else [[c] for c in runners]
    kinds = (*task.dropped_after, *task.dropped_at_teardown)
    for group in groups:
        states: dict[str, State] = {}
        for client in group:
            await harness.drop(client, kinds)
            states[client.label] = await task.setup(client, data, ops, batch)
            problem = await task.check(client, states[client.label]) if task.check else None
            if problem:
                raise RuntimeError(f"{task.key}: {client.label}: {problem}")
            result.series[client.label] = Series()
        pending = list(group)
        while pending:
            for client in list(pending):
                series = result.series[client.label]
                gc.collect()
                before = await harness.stub_counters()
                started = time.perf_counter()
                await task.do(client, states[client.label])
                seconds = time.perf_counter() - started
                after = await harness.stub_counters()
                dropped = time.perf_counter()
                await harness.drop(client, task.dropped_after)
                series.times.append(seconds)
                series.seconds += seconds + time.perf_counter() - dropped
                if before and after:
                    series.stub_requests.append(after[0] - before[0] - 1)  # less stubStats
                    series.stub_cpu_ns.append(after[1] - before[1])
                if rules.done(len(series.times), series.seconds):
                    pending.remove(client)
        for client in group:
            await harness.drop(client, task.dropped_at_teardown)
        del states
    return result


@dataclass
class OdmRun:
    rules: Rules
    datasets: Datasets
    labels: list[str]
    versions: dict[str, str]
    results: list[TaskResult]
    seconds: float
    load: dict[str, float]
    """The machine's one-minute load average at the start and after each task (two cores)."""


def clients_for(labels: list[str]) -> list[str]:
    """The benchmark's clients among the suite's peers: Vellum's other calls come with it."""
    chosen = [label for label in CLIENTS if label in labels]
    if REFERENCE in chosen:
        chosen.append("vellum (other calls)")
    return list(dict.fromkeys(chosen))


async def scenario(
    uri: str, database: str, labels: list[str], rules: Rules, datasets: Datasets, on_stub: bool
) -> OdmRun:
    started = time.perf_counter()
    clients: list[OdmClient] = []
    for label in clients_for(labels):
        client = CLIENTS[label]()
        await client.connect(uri, database)
        clients.append(client)
    harness = Harness(uri, database, on_stub)
    results: list[TaskResult] = []
    load = {"start": os.getloadavg()[0]}
    try:
        for task in TASKS:
            results.append(await run_task(task, clients, rules, datasets, harness))
            load[task.key] = os.getloadavg()[0]
            print(f"  odm: {task.title}: done (load {load[task.key]:.1f})", file=sys.stderr)
    finally:
        for client in clients:
            await client.close()
        await harness.close()
    versions = {c.label: c.version for c in clients}
    return OdmRun(
        rules,
        datasets,
        [c.label for c in clients],
        versions,
        results,
        time.perf_counter() - started,
        load,
    )


# -- the report ------------------------------------------------------------------------------


def peers_of(run: OdmRun) -> list[str]:
    return [label for label in run.labels if not label.startswith(REFERENCE)]


def table(run: OdmRun) -> str:
    peers = peers_of(run)
    lines = [
        f"\nMongoDB's ODM benchmark, {run.rules.name}: MB/s (median of iterations; higher is "
        f"faster); {REFERENCE} ÷ peer (>1: {REFERENCE} faster). Data: {run.datasets.origin}."
    ]
    header = f"  {'task':52}" + "".join(f"{label[:20]:>21}" for label in run.labels)
    header += "".join(f"{'÷ ' + p[:12]:>15}" for p in peers)
    lines.append(header)
    for result in run.results:
        cells = []
        for label in run.labels:
            score = result.score(label)
            cells.append(f"{score:21.3f}" if score is not None else f"{'n/a':>21}")
        for peer in peers:
            ratio = result.ratio(peer)
            cells.append(f"{ratio:14.2f}x" if ratio is not None else f"{'n/a':>15}")
        lines.append(f"  {result.task.title[:52]:52}" + "".join(cells))
    if not any(s.stub_requests for r in run.results for s in r.series.values()):
        return "\n".join(lines)
    lines.append("\n  stub's own CPU per iteration (share of the client's time), per client:")
    for result in run.results:
        shares = []
        for label in run.labels:
            stub = result.series[label].stub(result.ops) if label in result.series else None
            shares.append(f"{stub['cpu_share_of_iteration']:20.1%}" if stub else f"{'-':>20}")
        lines.append(f"  {result.task.title[:52]:52} " + " ".join(shares))
    return "\n".join(lines)


def targets(run: OdmRun) -> list[tuple[str, bool, str]]:
    """The performance issue's target for this benchmark: every task at least 3x Beanie's
    score, as (what, met, measured)."""
    out = []
    for result in run.results:
        ratio = result.ratio("beanie")
        if ratio is not None:
            what = f"odm {result.task.key}: {REFERENCE} / beanie MB/s >= 3"
            out.append((what, ratio >= 3, f"{ratio:.1f}"))
    return out


def payload(run: OdmRun) -> dict[str, Any]:
    return {
        "specification": SPEC,
        "rules": run.rules.__dict__,
        "data": {"origin": run.datasets.origin, "json_bytes": run.datasets.sizes()},
        "clients": run.labels,
        "versions": run.versions,
        "reference": REFERENCE,
        "seconds": run.seconds,
        "load_average_1min": run.load,
        "targets": [{"text": t, "met": met, "measured": m} for t, met, m in targets(run)],
        "tasks": [
            {
                "task": r.task.key,
                "title": r.task.title,
                "group": r.task.group,
                "ops_per_iteration": r.ops,
                "bytes_per_op": r.bytes_per_op,
                "megabytes": r.megabytes,
                "mb_per_s": {label: r.score(label) for label in r.series},
                "vellum_ratio": {p: r.ratio(p) for p in peers_of(run) if p in r.series},
                "iterations": {label: len(s.times) for label, s in r.series.items()},
                "percentiles_s": {
                    label: {str(p): nearest_rank(s.times, p) for p in PERCENTILES}
                    for label, s in r.series.items()
                },
                "times_s": {label: s.times for label, s in r.series.items()},
                "stub": {label: s.stub(r.ops) for label, s in r.series.items()},
            }
            for r in run.results
        ],
    }


def chart(run: OdmRun, path: Path) -> None:
    """MB/s per task and client, grouped by task, on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = run.labels
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.42 * len(run.results) * len(labels) / 2))
    height = 0.8 / len(labels)
    for i, label in enumerate(labels):
        ys = [row + i * height for row in range(len(run.results))]
        scores = [r.score(label) or 0 for r in run.results]
        ax.barh(ys, scores, height=height, label=label)
    ax.set_yticks([row + 0.4 - height / 2 for row in range(len(run.results))])
    ax.set_yticklabels([r.task.title for r in run.results], fontsize="small")
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("MB/s (median of iterations; higher is faster; log scale)")
    ax.set_title(f"MongoDB's ODM benchmark, {run.rules.name.split(' (')[0]} run", fontsize="medium")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
