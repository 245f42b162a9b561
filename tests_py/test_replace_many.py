"""``Store.replace_many``: replacing documents by ``_id`` in a few ``update`` commands (schema
migrations), against the server, counting the commands sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from conftest import Server
from vellum import (
    DocumentTooLargeError,
    DuplicateKeyError,
    Index,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    connect_to_mongodb,
)
from vellum._bridge.documents import Store
from vellum.errors import UnvouchedDocumentError


class Item(VellumBaseModel):
    name: str
    n: int = 0
    schema_version: int = 1
    payload: str = ""

    class Settings:
        collection_name = "replace_items"


class Coded(VellumBaseModel):
    code: str

    class Settings:
        collection_name = "replace_coded"
        indexes = [Index("code", unique=True)]


@pytest.fixture
async def counting(server: Server, db_name: str) -> AsyncIterator[VellumClient]:
    """A client of the test's own that counts its commands, with ``db_name`` as its default."""
    client = await connect_to_mongodb(server.uri, db_name, count_commands=True)
    yield client
    await client.close()


@pytest.fixture
def items(counting: VellumClient) -> VellumRepository[Item]:
    return VellumRepository(Item, counting)


def store_of(repository: VellumRepository[Any]) -> Store:
    return repository._store  # pyright: ignore[reportPrivateUsage]


def plan_of(repository: VellumRepository[Any]) -> Any:
    return repository._documents.write_plan  # pyright: ignore[reportPrivateUsage]


async def stored(items: VellumRepository[Item]) -> dict[str, Item]:
    return {item.name: item for item in await items.find()}


async def test_thousands_of_models_take_a_handful_of_commands(
    counting: VellumClient, items: VellumRepository[Item]
) -> None:
    made = await items.create_many(Item(name=f"i{i}", n=i) for i in range(5000))
    assert plan_of(items) is not None  # the models are encoded from their fields
    for item in made:
        item.n = item.n * 2 + 1
        item.schema_version = 2
    counting.reset_command_counts()
    result = await store_of(items).replace_many(made, None, None, plan_of(items))
    counts = counting.command_counts()
    assert set(counts) == {"update"} and counts["update"] <= 3
    assert (result.matched, result.modified, result.upserted_id) == (5000, 5000, None)
    after = await stored(items)
    assert len(after) == 5000
    assert all(after[f"i{i}"].n == 2 * i + 1 for i in range(5000))
    assert all(item.schema_version == 2 for item in after.values())


async def test_dicts_are_replaced_as_they_are(
    counting: VellumClient, items: VellumRepository[Item]
) -> None:
    made = await items.create_many(Item(name=f"i{i}", n=i) for i in range(5000))
    replacements = [
        {**item.model_dump(by_alias=True), "n": -item.n, "schema_version": 3} for item in made
    ]
    counting.reset_command_counts()
    result = await store_of(items).replace_many(replacements, None, None, plan_of(items))
    counts = counting.command_counts()
    assert set(counts) == {"update"} and counts["update"] <= 3
    assert (result.matched, result.modified) == (5000, 5000)
    after = await stored(items)
    assert all(after[f"i{i}"].n == -i and after[f"i{i}"].schema_version == 3 for i in range(5000))


async def test_a_document_that_misses_its_filter_is_left_alone(
    items: VellumRepository[Item],
) -> None:
    made = await items.create_many(Item(name=f"i{i}", schema_version=1 + i % 2) for i in range(10))
    replacements = [
        {**item.model_dump(by_alias=True), "n": 99, "schema_version": 5} for item in made
    ]
    filters = [{"schema_version": 1} for _ in made]
    result = await store_of(items).replace_many(replacements, filters, None, None)
    assert (result.matched, result.modified) == (5, 5)
    after = await stored(items)
    assert {name for name, item in after.items() if item.n == 99} == {
        f"i{i}" for i in range(0, 10, 2)
    }
    assert all(after[f"i{i}"].schema_version == 2 for i in range(1, 10, 2))


async def test_filters_may_test_missing_fields_and_name_the_id(
    items: VellumRepository[Item],
) -> None:
    made = await items.create_many(Item(name=f"i{i}") for i in range(4))
    store = store_of(items)
    await store.collection.update_one({"name": "i1"}, {"$set": {"_vellum_step": "x"}})
    replacements = [{**item.model_dump(by_alias=True), "n": 7} for item in made]
    filters: list[dict[str, Any]] = [
        {"_vellum_step": {"$ne": "x"}},
        {"_vellum_step": {"$ne": "x"}},  # i1 was marked: skipped
        {"_id": {"$in": [made[2].id]}},  # names the _id too: both must hold
        {"_id": made[0].id},  # another document's _id: matches nothing
    ]
    result = await store.replace_many(replacements, filters, None, None)
    assert (result.matched, result.modified) == (2, 2)
    after = await stored(items)
    assert [after[f"i{i}"].n for i in range(4)] == [7, 0, 7, 0]


async def test_a_document_without_an_id_is_refused_before_anything_is_sent(
    counting: VellumClient, items: VellumRepository[Item]
) -> None:
    made = await items.create(Item(name="a"))
    counting.reset_command_counts()
    good = {**made.model_dump(by_alias=True), "n": 5}
    store = store_of(items)
    for missing in ({"name": "b"}, {"_id": None, "name": "b"}):
        with pytest.raises(ValueError, match=r"document 1 of the batch has no _id"):
            await store.replace_many([good, missing], None, None, None)
    with pytest.raises(ValueError, match=r"one filter per document: 1 filters for 2"):
        await store.replace_many([good, good], [{}], None, None)
    with pytest.raises(ValueError, match=r"top-level key \"\$set\""):
        await store.replace_many([{"_id": made.id, "$set": {"n": 1}}], None, None, None)
    with pytest.raises(DocumentTooLargeError, match=r"index 1 of the batch"):
        await store.replace_many([good, {**good, "payload": "x" * (17 << 20)}], None, None, None)
    assert "update" not in counting.command_counts()
    assert (await stored(items))["a"].n == 0


async def test_an_unvouched_model_is_refused_before_anything_is_sent(
    counting: VellumClient, items: VellumRepository[Item]
) -> None:
    made = await items.create_many(Item(name=f"i{i}") for i in range(3))
    made[1] = Item.model_construct(id=made[1].id, name="i1", n="not an int")
    counting.reset_command_counts()
    with pytest.raises(UnvouchedDocumentError):
        await store_of(items).replace_many(made, None, None, plan_of(items))
    assert "update" not in counting.command_counts()


async def test_a_duplicate_key_in_an_unordered_batch_raises_after_the_others(
    counting: VellumClient,
) -> None:
    coded = VellumRepository(Coded, counting)
    await coded.ensure_indexes()
    made = await coded.create_many(Coded(code=f"c{i}") for i in range(10))
    await coded.create(Coded(code="taken"))
    replacements = [
        {**doc.model_dump(by_alias=True), "code": "taken" if i == 5 else f"new{i}"}
        for i, doc in enumerate(made)
    ]
    with pytest.raises(DuplicateKeyError, match=r"document 5 of the batch") as caught:
        await store_of(coded).replace_many(replacements, None, None, None)
    assert caught.value.code == 11000
    codes = {doc.id: doc.code for doc in await coded.find()}
    assert [codes[doc.id] for doc in made] == ["c5" if i == 5 else f"new{i}" for i in range(10)]


async def test_an_ordered_batch_stops_at_the_first_error(counting: VellumClient) -> None:
    coded = VellumRepository(Coded, counting)
    await coded.ensure_indexes()
    made = await coded.create_many(Coded(code=f"c{i}") for i in range(10))
    await coded.create(Coded(code="taken"))
    replacements = [
        {**doc.model_dump(by_alias=True), "code": "taken" if i == 5 else f"new{i}"}
        for i, doc in enumerate(made)
    ]
    collection = store_of(coded).collection
    with pytest.raises(DuplicateKeyError, match=r"document 5 of the batch"):
        await collection.replace_many(replacements, ordered=True)
    codes = {doc.id: doc.code for doc in await coded.find()}
    assert [codes[doc.id] for doc in made] == [f"new{i}" if i < 5 else f"c{i}" for i in range(10)]


async def test_it_runs_in_a_transaction_and_is_rolled_back_on_abort(
    counting: VellumClient, items: VellumRepository[Item]
) -> None:
    made = await items.create_many(Item(name=f"i{i}", n=i) for i in range(100))
    replacements = [{**item.model_dump(by_alias=True), "n": 1000 + item.n} for item in made]
    store = store_of(items)

    async with counting.transaction() as session:
        result = await store.replace_many(replacements, None, session, None)
        assert result.matched == 100
        inside = {item.n for item in await items.find(session=session)}
        assert inside == {1000 + i for i in range(100)}
        assert {item.n for item in await items.find()} == set(range(100))  # not yet visible
        await session.abort_transaction()
    assert {item.n for item in await items.find()} == set(range(100))

    async with counting.transaction() as session:
        await store.replace_many(replacements, None, session, None)
    assert {item.n for item in await items.find()} == {1000 + i for i in range(100)}


async def test_a_batch_over_16_mib_is_split_and_all_written(
    counting: VellumClient, items: VellumRepository[Item]
) -> None:
    made = await items.create_many(Item(name=f"i{i}", n=i) for i in range(3000))
    for item in made:
        item.payload = f"{item.n:05d}" + "x" * 10_000
    counting.reset_command_counts()
    result = await store_of(items).replace_many(made, None, None, plan_of(items))
    counts = counting.command_counts()
    assert set(counts) == {"update"} and 2 <= counts["update"] <= 3
    assert (result.matched, result.modified) == (3000, 3000)
    after = await stored(items)
    assert all(after[f"i{i}"].payload == f"{i:05d}" + "x" * 10_000 for i in range(3000))


async def test_a_duplicate_key_in_a_transaction_raises_it_and_writes_nothing(
    counting: VellumClient,
) -> None:
    coded = VellumRepository(Coded, counting)
    await coded.ensure_indexes()
    made = await coded.create_many(Coded(code=f"c{i}") for i in range(2000))
    await coded.create(Coded(code="taken"))
    # 20 MB of replacements: two commands; MongoDB refuses the second one (the write error
    # aborted the transaction), and the duplicate key is what is raised.
    replacements = [
        {**doc.model_dump(by_alias=True), "code": "taken" if i == 5 else f"{i}" + "x" * 10_000}
        for i, doc in enumerate(made)
    ]
    counting.reset_command_counts()
    with pytest.raises(DuplicateKeyError, match=r"document 5 of the batch"):
        async with counting.transaction() as session:
            await store_of(coded).replace_many(replacements, None, session, None)
    assert counting.command_counts()["update"] == 2
    assert sorted(doc.code for doc in await coded.find()) == sorted(
        ["taken", *(f"c{i}" for i in range(2000))]
    )
