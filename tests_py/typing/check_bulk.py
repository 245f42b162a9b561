"""The bulk writer, as pyright sees it: operations take the repository's model and its typed
filters and updates."""

from __future__ import annotations

from vellum import BulkResult, VellumBaseModel, VellumRepository


class Item(VellumBaseModel):
    name: str
    qty: int = 0


class Other(VellumBaseModel):
    label: str


async def write(items: VellumRepository[Item], others: VellumRepository[Other]) -> BulkResult:
    async with items.bulk(ordered=False) as bulk:
        bulk.insert(Item(name="a"))
        bulk.update_many(Item.Q.qty > 1, Item.Q.qty.inc(1))
        bulk.upsert(Item.Q.name == "b", Item.Q.qty.set(1))
        bulk.delete_one({"name": "c"})
        bulk.on(others).insert(Other(label="x"))
    upserted: dict[int, object] = bulk.result.upserted_ids
    assert upserted is not None
    return bulk.result
