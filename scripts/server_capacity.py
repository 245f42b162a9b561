"""Measure what the test server takes at a given collection size, through the wire.

    python scripts/server_capacity.py [SIZE ...]      # default: 1000 10000 100000

Uses the server that scripts/test_server.py chooses (or VELLUM_TEST_MONGODB_URI) and a scratch
database that it drops afterwards. For each size: create_many of that many small documents into
an empty collection (one call, as a user would), then the operations later tests rely on at that
size, each timed once. Prints one line per operation; nothing is asserted (this is a
measurement, run by hand; the numbers in the README's test-server section come from it).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel, Field

from vellum import Index, VellumBaseModel, VellumRepository, acc, connect_to_mongodb

SCRIPT = Path(__file__).resolve().parent / "test_server.py"


class Small(VellumBaseModel):
    n: int
    group: int
    name: str

    class Settings:
        collection_name = "capacity"
        indexes = [Index("name", unique=True), Index([("group", 1), ("n", 1)], unique=True)]


class GroupCount(BaseModel):
    id: int = Field(alias="_id")
    total: int


async def measure(uri: str, size: int) -> None:
    client = await connect_to_mongodb(uri, "vellum_capacity")
    repo = VellumRepository(Small, client, "vellum_capacity")
    await repo.drop_indexes()
    await repo.delete_many({})
    await repo.ensure_indexes()

    async def timed(label: str, op: object) -> None:
        start = time.perf_counter()
        await op  # type: ignore[misc]
        print(f"{size:>7} {label:<36} {time.perf_counter() - start:8.2f} s", flush=True)

    docs = [Small(n=i, group=i % 100, name=f"user-{i}") for i in range(size)]
    await timed("create_many", repo.create_many(docs))
    await timed("count({})", repo.count({}))
    await timed("find sort n desc, limit 10", repo.find({}, sort=[("n", -1)], limit=10))
    await timed("find all", repo.find({}))
    await timed("get by _id", repo.get(docs[size // 2].id))
    await timed("find_one by unique name", repo.find_one({"name": f"user-{size - 1}"}))
    pipeline = repo.aggregate_pipeline().group(
        Small.Q.group, output_model=GroupCount, total=acc.count()
    )
    await timed("aggregate $group by group", pipeline.execute())
    await timed("update_many all ($inc)", repo.update_many({}, Small.Q.n.inc(1)))
    await timed("delete_many all", repo.delete_many({}))
    await client.close()


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10_000, 100_000]
    uri = (
        os.environ.get("VELLUM_TEST_MONGODB_URI")
        or subprocess.run(
            [sys.executable, str(SCRIPT), "start"], check=True, stdout=subprocess.PIPE, text=True
        ).stdout.strip()
    )
    for size in sizes:
        asyncio.run(measure(uri, size))


if __name__ == "__main__":
    main()
