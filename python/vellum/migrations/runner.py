"""Running a migrations folder against a database: ``status``, ``upgrade``, ``downgrade``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..client import VellumClient
from ..errors import MigrationError
from .chain import Chain, Migration, load_chain
from .context import MigrationContext
from .progress import Reporter
from .state import STATE_COLLECTION, Lock, State

__all__ = ["RevisionStatus", "downgrade", "stamp", "status", "upgrade"]

LEASE = timedelta(seconds=60)
BASE = "base"
"""``downgrade(to="base")`` undoes every revision."""


@dataclass(frozen=True)
class RevisionStatus:
    """A revision of the folder and whether the database has it."""

    revision: str
    name: str
    applied: bool
    applied_at: datetime | None


class _Run:
    """What one command needs: the folder's chain and the database's records."""

    def __init__(
        self, client: VellumClient, database: str | None, folder: str | Path, collection: str
    ) -> None:
        self.client = client
        self.database = client.database_name(database)
        self.chain: Chain = load_chain(folder)
        self.state = State(client, self.database, collection)

    async def applied(self) -> dict[str, Any]:
        """The applied revisions, checked to be the start of the folder's chain."""
        applied = await self.state.applied()
        known = {m.revision for m in self.chain}
        unknown = sorted(set(applied) - known)
        if unknown:
            raise MigrationError(
                f"the database has revisions the folder {str(self.chain.folder)!r} does not: "
                f"{unknown} (an older checkout, or the wrong folder?)"
            )
        order = [m.revision for m in self.chain]
        count = len(applied)
        if set(order[:count]) != set(applied):
            raise MigrationError(
                "the applied revisions are not the start of the chain (a revision was inserted "
                f"before applied ones?): applied {sorted(applied)}, chain {order}"
            )
        return applied

    async def run(
        self,
        plan: Callable[[dict[str, Any]], Awaitable[list[Migration]]],
        direction: str,
        dry_run: bool,
        reporter: Reporter,
        lease: timedelta,
        transactions: bool | None,
    ) -> list[str]:
        supported = self.client.supports_transactions
        if transactions and not supported:
            raise MigrationError(
                "transactions=True, but the deployment runs no transactions (they need a "
                "replica set or a sharded cluster)"
            )
        use_transactions = supported if transactions is None else transactions
        done: list[str] = []
        lock = None if dry_run else Lock(self.state, lease)
        if lock is not None:
            await lock.acquire()
        try:
            # What to run is decided under the lock: a runner that just finished may have
            # applied some of it.
            migrations = await plan(await self.applied())
            if direction == "down":
                cannot = [m.path.name for m in migrations if m.downgrade is None]
                if cannot:
                    raise MigrationError(
                        f"{', '.join(cannot)} {'has' if len(cannot) == 1 else 'have'} no "
                        "downgrade, so they cannot be undone; nothing was undone"
                    )
            for migration in migrations:
                reporter.revision(migration.revision, migration.name, direction)
                step = migration.upgrade if direction == "up" else migration.downgrade
                if step is None:
                    raise MigrationError(
                        f"{migration.path.name} has no downgrade; it cannot be undone"
                    )
                finished = (
                    {}
                    if dry_run
                    else await self.state.finished_steps(migration.revision, direction)
                )
                ctx = MigrationContext(
                    self.client,
                    self.database,
                    migration.revision,
                    direction,
                    state=self.state,
                    lock=lock,
                    finished=finished,
                    reporter=reporter,
                    dry_run=dry_run,
                    transactions=use_transactions,
                )
                await step(ctx)
                if not dry_run:
                    if direction == "up":
                        await self.state.record(migration.revision, migration.name, None)
                    else:
                        await self.state.forget(migration.revision, None)
                    await self.state.clear_steps(migration.revision, None)
                done.append(migration.revision)
        finally:
            if lock is not None:
                await lock.release()
        return done


async def status(
    client: VellumClient,
    database: str | None = None,
    folder: str | Path = "migrations",
    *,
    collection: str = STATE_COLLECTION,
) -> list[RevisionStatus]:
    """Every revision of the folder, in order, and whether the database has it."""
    run = _Run(client, database, folder, collection)
    applied = await run.applied()
    return [
        RevisionStatus(
            m.revision,
            m.name,
            m.revision in applied,
            applied[m.revision].get("applied_at") if m.revision in applied else None,
        )
        for m in run.chain
    ]


async def upgrade(
    client: VellumClient,
    database: str | None = None,
    folder: str | Path = "migrations",
    *,
    to: str | None = None,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    lease: timedelta = LEASE,
    collection: str = STATE_COLLECTION,
    transactions: bool | None = None,
) -> list[str]:
    """Applies the revisions not applied yet, in order, up to ``to`` (the head by default);
    returns the revisions applied. ``dry_run=True`` reports what each step would change and
    writes nothing. A run that stopped (killed, or a step that raised) resumes where it
    stopped when run again. ``transactions``: whether steps use transactions (by default
    when the deployment has them); ``lease``: how long the lock outlives a runner that died."""
    run = _Run(client, database, folder, collection)
    last = len(run.chain) - 1 if to is None else run.chain.index(to)

    async def pending(applied: dict[str, Any]) -> list[Migration]:
        return [m for m in run.chain.migrations[: last + 1] if m.revision not in applied]

    return await run.run(pending, "up", dry_run, reporter or Reporter(), lease, transactions)


async def downgrade(
    client: VellumClient,
    database: str | None = None,
    folder: str | Path = "migrations",
    *,
    to: str | None = None,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    lease: timedelta = LEASE,
    collection: str = STATE_COLLECTION,
    transactions: bool | None = None,
) -> list[str]:
    """Undoes applied revisions, newest first: the last one (by default), or every one after
    ``to`` (``"base"``: all of them); returns the revisions undone."""
    run = _Run(client, database, folder, collection)
    chain = run.chain.migrations
    keep = None if to in (None, BASE) else run.chain.index(to)

    async def undo(applied: dict[str, Any]) -> list[Migration]:
        applied_in_order = [m for m in chain if m.revision in applied]
        following = chain[len(applied_in_order)] if len(applied_in_order) < len(chain) else None
        if following is not None and await run.state.finished_steps(following.revision, "up"):
            raise MigrationError(
                f"{following.path.name} stopped partway through its upgrade; run `up` to finish "
                "it first (undoing the revision before it would leave its changes behind)"
            )
        if to is None:
            chosen = applied_in_order[-1:]
        elif to == BASE:
            chosen = applied_in_order
        else:
            chosen = [m for m in applied_in_order if chain.index(m) > (keep or 0)]
        return list(reversed(chosen))

    return await run.run(undo, "down", dry_run, reporter or Reporter(), lease, transactions)


async def stamp(
    client: VellumClient,
    database: str | None = None,
    folder: str | Path = "migrations",
    *,
    to: str,
    collection: str = STATE_COLLECTION,
) -> list[str]:
    """Records the revisions up to ``to`` as applied without running them (for a database
    whose data is already in that shape, such as one a Beanie project migrated); returns the
    revisions recorded."""
    run = _Run(client, database, folder, collection)
    applied = await run.applied()
    last = run.chain.index(to)
    recorded: list[str] = []
    lock = Lock(run.state, LEASE)
    await lock.acquire()
    try:
        for migration in run.chain.migrations[: last + 1]:
            if migration.revision not in applied:
                await run.state.record(migration.revision, migration.name, None)
                recorded.append(migration.revision)
    finally:
        await lock.release()
    return recorded
