"""What a database records of its migrations, in a collection of their own
(``vellum_migrations`` by default): the revisions applied, the steps of a revision that have
finished (so a run that stopped resumes after them), and the lock that lets one runner at a
time migrate, with a lease so that a runner that crashed does not block the next forever."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from .._bridge.documents import Store
from .._policies.timestamps import utc_now
from ..client import VellumClient
from ..errors import DuplicateKeyError, MigrationError, MigrationLockedError
from ..session import Session

__all__ = ["STATE_COLLECTION", "Lock", "Progress", "State"]

STATE_COLLECTION = "vellum_migrations"
LOCK_ID = "lock"


@dataclass(frozen=True)
class Progress:
    """How far a batched step got: ``mode`` is ``"transaction"`` (each batch committed with
    this record; ``last_id`` the last ``_id`` done), ``"marker"`` (written documents carry the
    step's marker) or ``"unmark"`` (every batch is written; the markers are being removed)."""

    mode: str
    last_id: Any
    written: int


class State:
    """One database's migration records."""

    __slots__ = ("store",)

    def __init__(self, client: VellumClient, database: str, collection: str) -> None:
        self.store = Store(client, database, collection)

    async def applied(self) -> dict[str, Mapping[str, Any]]:
        """The applied revisions and their records, by revision."""
        rows = await self.store.find({"kind": "revision"})
        return {row["revision"]: row for row in rows}

    async def record(self, revision: str, name: str, session: Session | None) -> None:
        await self.store.upsert_one(
            {"_id": f"revision:{revision}"},
            {
                "$set": {
                    "kind": "revision",
                    "revision": revision,
                    "name": name,
                    "applied_at": utc_now(),
                }
            },
            session,
        )

    async def forget(self, revision: str, session: Session | None) -> None:
        await self.store.delete({"_id": f"revision:{revision}"}, many=False, session=session)

    # -- steps ------------------------------------------------------------------------------

    async def finished_steps(self, revision: str, direction: str) -> dict[int, str]:
        """The steps of a revision's upgrade (or downgrade) that finished, by index: their
        labels."""
        rows = await self.store.find({"kind": "step", "revision": revision, "direction": direction})
        return {int(row["index"]): str(row["label"]) for row in rows}

    async def finish_step(
        self,
        revision: str,
        direction: str,
        index: int,
        label: str,
        changed: int,
        session: Session | None,
    ) -> None:
        await self.store.upsert_one(
            {"_id": f"step:{revision}:{direction}:{index}"},
            {
                "$set": {
                    "kind": "step",
                    "revision": revision,
                    "direction": direction,
                    "index": index,
                    "label": label,
                    "changed": changed,
                    "finished_at": utc_now(),
                }
            },
            session,
        )

    async def clear_steps(self, revision: str, session: Session | None) -> None:
        await self.store.delete(
            {"kind": {"$in": ["step", "progress"]}, "revision": revision},
            many=True,
            session=session,
        )

    async def progress(self, revision: str, direction: str, index: int) -> Progress | None:
        """How far a batched step got."""
        row = await self.store.find_one({"_id": f"progress:{revision}:{direction}:{index}"})
        if row is None:
            return None
        return Progress(row.get("mode", "transaction"), row.get("last_id"), int(row["written"]))

    async def save_progress(
        self,
        revision: str,
        direction: str,
        index: int,
        progress: Progress,
        session: Session | None,
    ) -> None:
        await self.store.upsert_one(
            {"_id": f"progress:{revision}:{direction}:{index}"},
            {
                "$set": {
                    "kind": "progress",
                    "revision": revision,
                    "direction": direction,
                    "index": index,
                    "mode": progress.mode,
                    "last_id": progress.last_id,
                    "written": progress.written,
                }
            },
            session,
        )


class Lock:
    """The database's migration lock, held by this runner while it migrates.

    The lock is a document with a lease (``expires_at``): while the runner works, a background
    task renews it; a runner that died stops renewing, and once the lease has run out the next
    runner takes the lock over. A runner whose renewal fails (the lease ran out and someone else
    took over) stops at its next step with a :class:`MigrationError`.
    """

    __slots__ = ("_cause", "_expires", "_lost", "_renewal", "lease", "owner", "quiet", "store")

    def __init__(self, state: State, lease: timedelta) -> None:
        self.store = state.store
        self.lease = lease
        self.owner = uuid4().hex
        self._renewal: asyncio.Task[None] | None = None
        self._lost: str | None = None
        self._cause: Exception | None = None  # the renewal's error, kept with its code and labels
        self._expires = 0.0  # when the lease runs out unless renewed (monotonic clock)
        # Held by a step around each of its transactions: the renewal waits for it, so that
        # this runner's own lock write never lands inside its transaction (a server that
        # detects conflicts coarsely, such as the test emulator, would abort the commit).
        self.quiet = asyncio.Lock()

    def _claim(self, now: datetime) -> dict[str, Any]:
        return {
            "$set": {
                "kind": "lock",
                "owner": self.owner,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "expires_at": now + self.lease,
            },
            "$setOnInsert": {"acquired_at": now},
        }

    async def acquire(self) -> None:
        now = utc_now()
        free = {"_id": LOCK_ID, "$or": [{"expires_at": {"$lte": now}}, {"owner": self.owner}]}
        try:
            await self.store.upsert_one(free, self._claim(now), None)
        except DuplicateKeyError:
            holder: dict[str, Any] = await self.store.find_one({"_id": LOCK_ID}) or {}
            raise MigrationLockedError(
                f"another runner is migrating this database (host {holder.get('host')!r}, pid "
                f"{holder.get('pid')}, lease until {holder.get('expires_at')}); nothing was "
                "done. Wait for it, or for its lease to run out if it crashed.",
                holder,
            ) from None
        self._expires = time.monotonic() + self.lease.total_seconds()
        self._renewal = asyncio.create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            started = time.monotonic()
            try:
                async with self.quiet:
                    # Never an upsert: a lock another runner took (and maybe released) since
                    # is lost, not taken back.
                    renewed = await self.store.set_one(
                        {"_id": LOCK_ID, "owner": self.owner},
                        {"expires_at": utc_now() + self.lease},
                        None,
                    )
            except Exception as err:
                self._lost = f"renewing the migration lock failed: {err}"
                self._cause = err
                return
            if renewed.document is None:
                self._lost = "the migration lock's lease ran out and another runner took it"
                return
            self._expires = started + self.lease.total_seconds()

    def check(self) -> None:
        """Raises if the lock was lost, or its lease ran out without a renewal (the event
        loop was blocked, say): checked between steps and batches."""
        if self._lost is None and time.monotonic() > self._expires:
            self._lost = "the migration lock's lease ran out before it could be renewed"
        if self._lost is not None:
            raise MigrationError(f"{self._lost}; stopped here, the next run resumes") from (
                self._cause
            )

    async def release(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
            with suppress(asyncio.CancelledError):
                await self._renewal
        await self.store.delete({"_id": LOCK_ID, "owner": self.owner}, many=False, session=None)
