"""The migration scenario: 100 000 items whose `price` goes from a string to a Decimal through
a Python function, run by each ODM's own migration tool from a migrations folder.

The items are `{_id, name, sku, price, stock, created_at, updated_at}` with a UUID `_id`
(the stub serves them in `_id` order; benches/stubserver/src/items.rs) and `price` a string
such as "4711.05". Each ODM reads every item as its old model, calls the function, and writes
the new model (`price` a Decimal, stored as Decimal128) in place of the old document:

- Vellum: a module with `revision`, `down_revision = None` and `async def upgrade(ctx)` that
  calls `ctx.transform(OldItem, NewItem, to_decimal, batch_size=...)`, run by
  `vellum.migrations.upgrade(client, database, folder)`;
- Beanie: a module with a `Forward` class whose method is an `iterative_migration` (its
  `convert(input_document, output_document)` sets the price), run by
  `beanie.executors.migrate.run_migrate(MigrationSettings(...))`, what `beanie migrate` runs.

Each peer writes its module into a folder of its own (`folder`); the checks read what the
server received (`stub_tally`, from the stub) or stored (`stored_problem`, on a real server).
"""

from __future__ import annotations

import random
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ITEMS = "items"
RECORDS = ("vellum_migrations", "migrations_log")  # Vellum's and Beanie's own records
PRODUCTS = ["Lamp", "Kettle", "Chair", "Notebook", "Backpack", "Teapot", "Clock", "Scarf"]
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def price_text(index: int) -> str:
    """Item `index`'s stored price (the stub computes the same in items.rs)."""
    cents = (index * 7919 + 13) % 1_000_000
    return f"{cents // 100}.{cents % 100:02d}"


def item_document(index: int, rng: random.Random) -> dict[str, Any]:
    """One item as a real server is seeded with it (the stub's have the same shape)."""
    created = BASE + timedelta(seconds=index)
    return {
        # The index in the top bits: `_id` order is the items' order, as on the stub.
        "_id": uuid.UUID(int=(index << 96) | rng.getrandbits(96), version=4),
        "name": f"{PRODUCTS[index % 8]} {index}",
        "sku": f"SKU-{index:07d}",
        "price": price_text(index),
        "stock": rng.randrange(500),
        "created_at": created,
        "updated_at": created + timedelta(seconds=rng.randrange(86_400)),
    }


# -- the migrations -------------------------------------------------------------------------

VELLUM = '''"""Item prices from strings to Decimal, item by item."""

from decimal import Decimal

from vellum import VellumBaseModel
from vellum.migrations import MigrationContext

revision = "0001_price_to_decimal"
down_revision = None


class OldItem(VellumBaseModel):
    name: str
    sku: str
    price: str
    stock: int

    class Settings:
        collection_name = "items"


class NewItem(VellumBaseModel):
    name: str
    sku: str
    price: Decimal
    stock: int

    class Settings:
        collection_name = "items"


def to_decimal(item: OldItem) -> NewItem:
    return NewItem(
        id=item.id,
        name=item.name,
        sku=item.sku,
        price=Decimal(item.price),
        stock=item.stock,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


async def upgrade(ctx: MigrationContext) -> None:
    await ctx.transform(OldItem, NewItem, to_decimal, batch_size={batch_size})
'''

# No `from __future__ import annotations` here: Beanie reads the models from the annotations
# of `convert`'s parameters.
BEANIE = '''"""Item prices from strings to Decimal, item by item."""

import uuid
from datetime import datetime
from decimal import Decimal

from beanie import DecimalAnnotation, Document, iterative_migration
from pydantic import Field


class OldItem(Document):
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    name: str
    sku: str
    price: str
    stock: int
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "items"


class NewItem(Document):
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    name: str
    sku: str
    price: DecimalAnnotation
    stock: int
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "items"


class Forward:
    @iterative_migration(batch_size={batch_size})
    async def convert(self, input_document: OldItem, output_document: NewItem) -> None:
        output_document.price = Decimal(input_document.price)


class Backward:
    pass
'''


@contextmanager
def folder(source: str, batch_size: int) -> Iterator[Path]:
    """A temporary migrations folder holding `source` (VELLUM or BEANIE) as its only
    migration."""
    root = Path(tempfile.mkdtemp(prefix="vellum-bench-migrations-"))
    try:
        text = source.replace("{batch_size}", str(batch_size))
        (root / "0001_price_to_decimal.py").write_text(text)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- a real server ----------------------------------------------------------------------------


async def reseed(db: Any, count: int) -> None:
    """The items as they were before any migration, and no migration records: what a run
    starts from on a real server (the stub keeps nothing, so every run starts there)."""
    for name in (ITEMS, *RECORDS):
        await db.drop_collection(name)
    rng = random.Random(0x17E5)
    for start in range(0, count, 10_000):
        end = min(start + 10_000, count)
        await db[ITEMS].insert_many([item_document(i, rng) for i in range(start, end)])


async def stored_problem(db: Any, count: int) -> str | None:
    """What is wrong with the migrated items on a real server: each must be there once, with
    its price a Decimal128 of its old string and no other change; None if nothing is."""
    from bson import Decimal128

    fields = {"_id", "name", "sku", "price", "stock", "created_at", "updated_at"}
    seen = 0
    async for item in db[ITEMS].find({}):
        seen += 1
        index = int(item["sku"].removeprefix("SKU-"))
        price = item.get("price")
        if not isinstance(price, Decimal128) or price.to_decimal() != Decimal(price_text(index)):
            return f"item {index}: price {price!r}, not Decimal128({price_text(index)!r})"
        if set(item) != fields:
            return f"item {index}: fields {sorted(item)}, not {sorted(fields)}"
    return None if seen == count else f"{seen} items stored, not {count}"


# -- the stub ------------------------------------------------------------------------------------


async def stub_tally(db: Any, recording: bool) -> dict[str, Any]:
    """Starts (or stops) the stub's check of the replacements it receives; returns its tally
    so far: `statements`, `replaced` (items replaced correctly), `repeated`, `wrong`,
    `problem` (see items.rs)."""
    return await db.command({"stubRecordItems": recording})


def tally_problem(tally: dict[str, Any], count: int) -> str | None:
    """What the stub's tally says is wrong with one run over `count` items, or None."""
    if tally.get("wrong"):
        return f"{tally['wrong']} wrong replacements, the first: {tally.get('problem')}"
    if tally.get("repeated"):
        return f"{tally['repeated']} items replaced twice"
    if tally.get("replaced") != count:
        return f"{tally.get('replaced')} items replaced, not {count}"
    return None
