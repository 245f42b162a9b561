"""The remaining query operators: $mod, bitwise, field-to-field $expr, geospatial, $text; and
distinct and replace. Each compiled in the core, checked against the field's type."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from conftest import Server
from vellum import (
    Index,
    OptimisticLockError,
    QueryError,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    Versioned,
    json_schema,
    text_search,
)
from vellum.geo import LineString, Point, Polygon


class Budget(Versioned, VellumBaseModel):
    name: str
    spent: Decimal = Decimal(0)
    budget: Decimal = Decimal(0)
    count: int = 0
    flags: int = 0
    tags: list[str] = []


class Place(VellumBaseModel):
    name: str
    location: Point

    class Settings:
        indexes = [Index([("location", "2dsphere")])]


class Article(VellumBaseModel):
    title: str
    body: str

    class Settings:
        indexes = [Index([("title", "text"), ("body", "text")])]


@pytest.fixture
def budgets(client: VellumClient, db_name: str) -> VellumRepository[Budget]:
    return VellumRepository(Budget, client, db_name)


async def seed(budgets: VellumRepository[Budget]) -> None:
    await budgets.create_many(
        [
            Budget(
                name="a", spent=Decimal(5), budget=Decimal(10), count=7, flags=0b101, tags=["x"]
            ),
            Budget(name="b", spent=Decimal(12), budget=Decimal(10), count=8, flags=0b010),
            Budget(name="c", spent=Decimal(10), budget=Decimal(10), count=9, tags=["x", "y"]),
        ]
    )


async def test_mod_and_bits(budgets: VellumRepository[Budget]) -> None:
    await seed(budgets)
    Q = Budget.Q
    assert (Q.count.mod(4, 1)).to_filter() == {"count": {"$mod": [4, 1]}}
    assert [b.name for b in await budgets.find(Q.count.mod(4, 1))] == ["c"]
    assert [b.name for b in await budgets.find(Q.flags.bits_all_set(0b101))] == ["a"]
    assert [b.name for b in await budgets.find(Q.flags.bits_any_set([1]))] == ["b"]
    assert sorted(b.name for b in await budgets.find(Q.flags.bits_all_clear([0, 2]))) == ["b", "c"]
    assert sorted(b.name for b in await budgets.find(Q.flags.bits_any_clear(0b11))) == [
        "a",
        "b",
        "c",
    ]
    with pytest.raises(QueryError, match="applies to int, float or Decimal fields"):
        Q.name.mod(2, 0)
    with pytest.raises(QueryError, match="cannot divide by 0"):
        Q.count.mod(0, 0)
    with pytest.raises(QueryError, match="applies to int or bytes fields"):
        Q.name.bits_all_set(1)
    with pytest.raises(TypeError, match="bit positions >= 0"):
        Q.flags.bits_all_set([-1])


async def test_one_field_compared_with_another(budgets: VellumRepository[Budget]) -> None:
    await seed(budgets)
    Q = Budget.Q
    over = Q.spent > Q.budget
    assert over.to_filter() == {"$expr": {"$gt": ["$spent", "$budget"]}}
    assert [b.name for b in await budgets.find(over)] == ["b"]
    assert [b.name for b in await budgets.find((Q.spent == Q.budget) | (Q.count < 8))] == [
        "a",
        "c",
    ]
    assert await budgets.count((Q.spent <= Q.budget) & Q.tags.contains("y")) == 1
    with pytest.raises(QueryError, match="top level"):
        Q.tags.elem_match(Q.spent > Q.budget)


async def test_geospatial(client: VellumClient, db_name: str, server: Server) -> None:
    places = VellumRepository(Place, client, db_name)
    await places.ensure_indexes()
    await places.create_many(
        [
            Place(name="louvre", location=Point.at(2.3376, 48.8606)),
            Place(name="eiffel", location=Point.at(2.2945, 48.8584)),
            Place(name="versailles", location=Point.at(2.1204, 48.8049)),
        ]
    )
    Q = Place.Q
    paris = Polygon(
        coordinates=[[(2.25, 48.81), (2.42, 48.81), (2.42, 48.90), (2.25, 48.90), (2.25, 48.81)]]
    )
    inside = await places.find(Q.location.geo_within(paris))
    assert sorted(p.name for p in inside) == ["eiffel", "louvre"]
    seine = LineString(coordinates=[(2.20, 48.80), (2.30, 48.86), (2.45, 48.86)])
    assert (Q.location.geo_intersects(seine)).to_filter() == {
        "location": {"$geoIntersects": {"$geometry": seine.model_dump(mode="json")}}
    }
    near = Q.location.near(Point.at(2.3376, 48.8606), max_distance=5_000)
    assert near.to_filter()["location"]["$near"]["$maxDistance"] == 5000.0
    if server.is_real_mongodb:  # the emulator does not sort by distance
        assert [p.name for p in await places.find(near)] == ["louvre", "eiffel"]
    with pytest.raises(QueryError, match="no operator keys"):
        Q.location.geo_within({"type": "Polygon", "$where": "1"})
    with pytest.raises(ValueError, match="latitude 91"):
        Point.at(0, 91)
    with pytest.raises(ValueError, match="closed"):
        Polygon(coordinates=[[(0, 0), (1, 0), (1, 1), (0, 1)]])


@pytest.mark.real_mongodb("the embedded emulator has no text indexes or textScore")
async def test_text_search_ranked(client: VellumClient, db_name: str) -> None:
    articles = VellumRepository(Article, client, db_name)
    await articles.ensure_indexes()
    await articles.create_many(
        [
            Article(title="Rust and Python", body="a core in Rust"),
            Article(title="Gardening", body="tomatoes"),
            Article(title="Python", body="Python Python"),
        ]
    )
    ranked = await articles.find_text("python")
    assert [a.title for a, _ in ranked][:1] == ["Python"] and len(ranked) == 2
    assert ranked[0][1] >= ranked[1][1] > 0
    assert await articles.count(text_search("tomatoes")) == 1
    assert await articles.count(text_search("$where")) == 0  # a word, never an operator


def test_text_search_compiles_literally() -> None:
    assert text_search("rust -python", language="en").to_filter() == {
        "$text": {"$search": "rust -python", "$language": "en"}
    }
    with pytest.raises(QueryError, match="words to search"):
        text_search("  ")


async def test_distinct_returns_the_field_s_type(budgets: VellumRepository[Budget]) -> None:
    await seed(budgets)
    Q = Budget.Q
    assert sorted(await budgets.distinct(Q.tags)) == ["x", "y"]  # elements of a list field
    spent = await budgets.distinct(Q.spent)
    assert sorted(spent) == [Decimal(5), Decimal(10), Decimal(12)]
    assert all(isinstance(v, Decimal) for v in spent)
    assert sorted(await budgets.distinct("name", Q.count > 7)) == ["b", "c"]


async def test_replace(budgets: VellumRepository[Budget]) -> None:
    await seed(budgets)
    a = await budgets.find_one(Budget.Q.name == "a")
    assert a is not None
    fresh = Budget(name="a2", budget=Decimal(99), version=a.version)
    replaced = await budgets.replace(a.id, fresh)
    assert replaced is not None and replaced.id == a.id and replaced.name == "a2"
    assert replaced.created_at == a.created_at and replaced.version == a.version + 1
    assert replaced.spent == Decimal(0)  # every field is the new document's
    stale = Budget(name="a3", version=a.version)
    with pytest.raises(OptimisticLockError):
        await budgets.replace(a.id, stale)
    assert await budgets.replace(uuid4(), Budget(name="z")) is None  # nothing is created
    assert await budgets.count() == 3


async def test_find_one_and_update_returns_before_or_after(
    budgets: VellumRepository[Budget],
) -> None:
    await seed(budgets)
    Q = Budget.Q
    after = await budgets.find_one_and_update(Q.name == "a", Q.count.inc(10))
    assert after is not None and after.count == 17 and after.version == 2
    before = await budgets.find_one_and_update(
        Q.name == "a", Q.count.inc(1), return_document="before"
    )
    assert before is not None and before.count == 17
    assert (await budgets.find_one(Q.name == "a")).count == 18  # type: ignore[union-attr]
    first = await budgets.find_one_and_update(
        Q.count >= 0, Q.tags.push("first"), sort=[Q.count.desc()]
    )
    assert first is not None and first.name == "a" and first.tags[-1] == "first"
    assert await budgets.find_one_and_update(Q.name == "none", Q.count.inc(1)) is None
    made = await budgets.find_one_and_update(Q.name == "new", Q.count.set(1), upsert=True)
    assert made is not None and made.name == "new" and made.count == 1
    with pytest.raises(QueryError, match="managed by the repository"):
        await budgets.find_one_and_update(Q.name == "a", Q.version.set(9))
    with pytest.raises(ValueError, match="return_document"):
        await budgets.find_one_and_update(Q.name == "a", Q.count.inc(1), return_document="x")  # type: ignore[arg-type]


async def test_an_upsert_inserts_a_document_of_the_model(
    budgets: VellumRepository[Budget],
) -> None:
    # The server alone would give an ObjectId _id (the model's ids are UUIDs) and no created_at.
    Q = Budget.Q
    result = await budgets.update_one(Q.name == "up", Q.count.set(3), upsert=True)
    assert result.upserted_id is not None
    (made,) = await budgets.find(Q.name == "up")
    assert made.id == result.upserted_id and made.created_at is not None and made.count == 3
    assert made.version == 1
    again = await budgets.update_one(Q.name == "up", Q.count.set(4), upsert=True)
    assert again.upserted_id is None and again.matched == 1
    pinned = uuid4()
    await budgets.update_one((Q.id == pinned) & (Q.name == "p"), Q.count.set(1), upsert=True)
    assert (await budgets.get(pinned)) is not None


async def test_json_schema_finds_what_does_not_fit(budgets: VellumRepository[Budget]) -> None:
    await seed(budgets)
    await budgets.collection.insert_one({"_id": uuid4(), "name": 7, "version": 1})
    schema = {"required": ["name"], "properties": {"name": {"bsonType": "string"}}}
    assert await budgets.count(json_schema(schema)) == 3
    odd = await budgets.collection.find((~json_schema(schema)).to_filter())
    assert [d["name"] for d in odd] == [7]
    with pytest.raises(QueryError, match="plain name"):
        json_schema({"properties": {"x": {"$where": "1"}}})
