"""Aggregation pipelines: every stage against the server, typed outputs, errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel, Field

from models import Address, User
from vellum import (
    DocumentValidationError,
    QueryError,
    SoftDeletable,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    acc,
    literal,
)

Q = User.Q


class CityStats(BaseModel):
    id: str = Field(alias="_id")
    users: int
    avg_age: float
    total_balance: Decimal


class Tag(BaseModel):
    tag: str


class Order(VellumBaseModel):
    user_id: UUID
    sku: str
    qty: int


class Employee(VellumBaseModel):
    name: str
    boss: str | None = None


@pytest.fixture
async def users(client: VellumClient, db_name: str) -> VellumRepository[User]:
    repo = VellumRepository(User, client, db_name)
    await repo.create_many(
        [
            User(
                name="ada",
                email="a@x",
                age=36,
                balance=Decimal("10.5"),
                address=Address(city="Paris", zip="1"),
                tags=["math", "admin"],
            ),
            User(
                name="bob",
                email="b@x",
                age=17,
                balance=Decimal("1"),
                address=Address(city="Paris", zip="1"),
                tags=["art"],
            ),
            User(
                name="cy",
                email="c@x",
                age=52,
                balance=Decimal("2.25"),
                address=Address(city="Lyon", zip="2"),
                tags=[],
            ),
            User(
                name="dee",
                email="d@x",
                age=30,
                balance=Decimal("4"),
                address=Address(city="Paris", zip="1"),
                tags=["math"],
            ),
        ]
    )
    return repo


async def test_readme_group_pipeline(users: VellumRepository[User]) -> None:
    pipeline = (
        users.aggregate_pipeline()
        .match(User.Q.age >= 18)
        .group(
            User.Q.address.city,
            output_model=CityStats,
            users=acc.count(),
            avg_age=acc.avg(User.Q.age),
            total_balance=acc.sum(User.Q.balance),
        )
        .sort(("users", -1))
        .limit(10)
    )
    assert pipeline.stages[1] == {
        "$group": {
            "_id": "$address.city",
            "users": {"$sum": 1},
            "avg_age": {"$avg": "$age"},
            "total_balance": {"$sum": "$balance"},
        }
    }
    stats = await pipeline.execute()
    assert stats == [
        CityStats(_id="Paris", users=2, avg_age=33.0, total_balance=Decimal("14.5")),
        CityStats(_id="Lyon", users=1, avg_age=52.0, total_balance=Decimal("2.25")),
    ]


async def test_unwind_project_and_async_iteration(users: VellumRepository[User]) -> None:
    rows = (
        users.aggregate_pipeline()
        .unwind(User.Q.tags)
        .project({"tag": "$tags", "_id": 0}, output_model=Tag)
    )
    tags = sorted([t.tag async for t in rows])
    assert tags == ["admin", "art", "math", "math"]
    kept = await (
        users.aggregate_pipeline()
        .unwind("$tags", preserve_null_and_empty_arrays=True, include_array_index="i")
        .match(User.Q.name == "cy")
        .execute()
    )
    assert len(kept) == 1 and kept[0]["i"] is None and "tags" not in kept[0]


async def test_lookup_by_fields_and_by_pipeline(
    client: VellumClient, db_name: str, users: VellumRepository[User]
) -> None:
    orders = VellumRepository(Order, client, db_name)
    ada = await users.find_one(Q.name == "ada")
    assert ada is not None
    await orders.create_many(
        [Order(user_id=ada.id, sku="X1", qty=2), Order(user_id=ada.id, sku="Y2", qty=9)]
    )
    joined = await (
        orders.aggregate_pipeline()
        .lookup(from_=User, local_field=Order.Q.user_id, foreign_field=User.Q.id, as_="user")
        .unwind("$user")
        .execute()
    )
    assert [j["user"]["name"] for j in joined] == ["ada", "ada"]
    big = await (
        users.aggregate_pipeline()
        .match(Q.name == "ada")
        .lookup(
            from_=Order,
            let={"uid": Q.id},
            pipeline=orders.aggregate_pipeline()
            .match({"$expr": {"$eq": ["$user_id", "$$uid"]}})
            .match(Order.Q.qty > 5),
            as_="big_orders",
        )
        .execute()
    )
    assert [o["sku"] for o in big[0]["big_orders"]] == ["Y2"]


async def test_facet_with_a_model_per_sub_pipeline(users: VellumRepository[User]) -> None:
    by_city = (
        users.aggregate_pipeline()
        .group(
            Q.address.city,
            output_model=CityStats,
            users=acc.count(),
            avg_age=acc.avg(Q.age),
            total_balance=acc.sum(Q.balance),
        )
        .sort(("_id", 1))
    )
    names = users.aggregate_pipeline().project({"tag": "$name", "_id": 0}, output_model=Tag)
    result = await users.aggregate_pipeline().facet(cities=by_city, names=names).first()
    assert result is not None
    assert [c.id for c in result.cities] == ["Lyon", "Paris"]
    assert isinstance(result.cities[0], CityStats)
    assert sorted(n.tag for n in result.names) == ["ada", "bob", "cy", "dee"]


async def test_field_stages(users: VellumRepository[User]) -> None:
    base = users.aggregate_pipeline().match(Q.name == "ada")
    added = await base.add_fields(next_age={"$add": [Q.age, 1]}).execute()
    assert added[0]["next_age"] == 37
    set_ = await base.set(city=Q.address.city).execute()
    assert set_[0]["city"] == "Paris"
    unset = await base.unset(Q.address, "tags").execute()
    assert "address" not in unset[0] and "tags" not in unset[0] and unset[0]["name"] == "ada"
    root = await base.replace_root(Q.address, output_model=Address).execute()
    assert root == [Address(city="Paris", zip="1")]
    with_ = await base.replace_with({"who": Q.name}).execute()
    assert with_ == [{"who": "ada"}]


async def test_literal_values_are_never_read_as_expressions(users: VellumRepository[User]) -> None:
    """A string from outside given to set() would read another field ("$email"); literal()
    keeps it, and any dict, the value it is."""
    base = users.aggregate_pipeline().match(Q.name == "ada")
    leaked = await base.set(label="$email").first()
    assert leaked is not None and leaked["label"] == "a@x"  # MongoDB's semantics
    kept = await base.set(
        label=literal("$email"), meta={"note": literal({"$concat": ["a", "b"]})}
    ).first()
    assert kept is not None
    assert kept["label"] == "$email"
    assert kept["meta"] == {"note": {"$concat": ["a", "b"]}}
    projected = await base.project({"x": literal(1), "_id": 0}).first()
    assert projected == {"x": 1}  # 1 would otherwise mean "include x"
    looped: dict[str, Any] = {}
    looped["self"] = looped
    with pytest.raises(QueryError, match="nests deeper than 100 levels"):
        base.set(loop=looped)


async def test_count_sample_skip_sort_by_count(users: VellumRepository[User]) -> None:
    assert await users.aggregate_pipeline().count_stage("n").execute() == [{"n": 4}]
    assert await users.aggregate_pipeline().match(Q.age > 20).count() == 3
    sampled = await users.aggregate_pipeline().sample(2).execute()
    assert len(sampled) == 2 and all(isinstance(u, User) for u in sampled)
    skipped = await users.aggregate_pipeline().sort(Q.age.asc()).skip(1).limit(2).execute()
    assert [u.name for u in skipped] == ["dee", "ada"]
    counts = await users.aggregate_pipeline().unwind(Q.tags).sort_by_count(Q.tags).execute()
    assert counts[0] == {"_id": "math", "count": 2}


async def test_buckets(users: VellumRepository[User]) -> None:
    buckets = (
        await users.aggregate_pipeline().bucket(Q.age, [0, 18, 40, 100], n=acc.count()).execute()
    )
    assert buckets == [{"_id": 0, "n": 1}, {"_id": 18, "n": 2}, {"_id": 40, "n": 1}]
    auto = await users.aggregate_pipeline().bucket_auto(Q.age, 2, n=acc.count()).execute()
    assert sum(b["n"] for b in auto) == 4 and len(auto) == 2


async def test_union_with(
    client: VellumClient, db_name: str, users: VellumRepository[User]
) -> None:
    staff = VellumRepository(Employee, client, db_name)
    await staff.create_many([Employee(name="ceo"), Employee(name="cto", boss="ceo")])
    names = staff.aggregate_pipeline().project({"n": "$name", "_id": 0})
    both = await (
        users.aggregate_pipeline()
        .project({"n": "$name", "_id": 0})
        .union_with(Employee, names)
        .execute()
    )
    assert sorted(r["n"] for r in both) == ["ada", "bob", "ceo", "cto", "cy", "dee"]


def graph(staff: VellumRepository[Employee]) -> Any:
    return (
        staff.aggregate_pipeline()
        .match(Employee.Q.name == "dev")
        .graph_lookup(
            from_=Employee,
            start_with=Employee.Q.boss,
            connect_from_field=Employee.Q.boss,
            connect_to_field=Employee.Q.name,
            as_="chain",
            max_depth=5,
            depth_field="depth",
        )
    )


def test_graph_lookup_stage_is_built(client: VellumClient) -> None:
    staff = VellumRepository(Employee, client, "x")
    assert graph(staff).stages[1] == {
        "$graphLookup": {
            "from": "employee",
            "startWith": "$boss",
            "connectFromField": "boss",
            "connectToField": "name",
            "as": "chain",
            "maxDepth": 5,
            "depthField": "depth",
        }
    }


@pytest.mark.real_mongodb("the emulator rejects $graphLookup (unsupported stage, code 40324)")
async def test_graph_lookup_walks_the_chain(client: VellumClient, db_name: str) -> None:
    staff = VellumRepository(Employee, client, db_name)
    await staff.create_many(
        [Employee(name="ceo"), Employee(name="cto", boss="ceo"), Employee(name="dev", boss="cto")]
    )
    chain = await graph(staff).execute()
    assert sorted(c["name"] for c in chain[0]["chain"]) == ["ceo", "cto"]


async def test_accumulators(users: VellumRepository[User]) -> None:
    rows = await (
        users.aggregate_pipeline()
        .sort(Q.age.asc())
        .group(
            None,
            youngest=acc.first(Q.name),
            oldest=acc.last(Q.name),
            lo=acc.min(Q.age),
            hi=acc.max(Q.age),
            names=acc.push(Q.name),
            cities=acc.add_to_set(Q.address.city),
            sd=acc.std_dev_pop(Q.age),
        )
        .execute()
    )
    r = rows[0]
    assert (r["youngest"], r["oldest"], r["lo"], r["hi"]) == ("bob", "cy", 17, 52)
    assert r["names"] == ["bob", "dee", "ada", "cy"] and sorted(r["cities"]) == ["Lyon", "Paris"]
    assert 12 < r["sd"] < 13


async def test_merge_writes_results(
    client: VellumClient, db_name: str, users: VellumRepository[User]
) -> None:
    await (
        users.aggregate_pipeline()
        .group(Q.address.city, n=acc.count())
        .merge("city_counts")
        .execute()
    )
    stored = await client._core.collection(db_name, "city_counts").find({}, sort={"_id": 1})  # pyright: ignore[reportPrivateUsage]
    assert stored == [{"_id": "Lyon", "n": 1}, {"_id": "Paris", "n": 3}]


def test_out_stage_is_built_and_must_be_last(users: VellumRepository[User]) -> None:
    pipeline = users.aggregate_pipeline().match(Q.age > 1).out("archive")
    assert pipeline.stages == [{"$match": {"age": {"$gt": 1}}}, {"$out": "archive"}]
    with pytest.raises(ValueError, match=r"\$out must be the last stage"):
        pipeline.limit(1)


@pytest.mark.real_mongodb("the emulator does not implement $out (TEST-SERVER.md, difference 3)")
async def test_out_replaces_a_collection(
    client: VellumClient, db_name: str, users: VellumRepository[User]
) -> None:
    await users.aggregate_pipeline().match(Q.age > 18).out("adults").execute()
    assert len(await client._core.collection(db_name, "adults").find({})) == 3  # pyright: ignore[reportPrivateUsage]


async def test_output_validation_error_names_stage_model_field_document(
    users: VellumRepository[User],
) -> None:
    class Wrong(BaseModel):
        id: str = Field(alias="_id")
        users: str

    pipeline = users.aggregate_pipeline().group(
        Q.address.city, output_model=Wrong, users=acc.count()
    )
    with pytest.raises(DocumentValidationError) as info:
        await pipeline.execute()
    message = str(info.value)
    assert "stage 1 ($group)" in message and "Wrong" in message and "users" in message
    assert "'_id':" in message


def test_bad_stages_fail_when_built(users: VellumRepository[User]) -> None:
    with pytest.raises(AttributeError, match="no field 'agee'"):
        users.aggregate_pipeline().group(User.Q.agee)
    with pytest.raises(TypeError, match="accumulator"):
        users.aggregate_pipeline().group(None, n=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        users.aggregate_pipeline().limit(0)
    with pytest.raises(ValueError, match="one"):
        users.aggregate_pipeline().raw_stage({"$a": 1, "$b": 2})
    with pytest.raises(ValueError, match="local_field and foreign_field"):
        users.aggregate_pipeline().lookup(from_="x", local_field="a", as_="y")


async def test_raw_stage_first_to_list_explain(users: VellumRepository[User]) -> None:
    rows = await users.aggregate_pipeline().raw_stage({"$match": {"name": "ada"}}).execute()
    assert rows[0]["name"] == "ada" and isinstance(rows[0], dict)
    first = await users.aggregate_pipeline().sort(Q.age.desc()).first()
    assert first is not None and first.name == "cy"
    assert len(await users.aggregate_pipeline().to_list(2)) == 2
    plan: dict[str, Any] = await users.aggregate_pipeline().match(Q.age > 1).explain()
    assert plan


class Note(SoftDeletable, VellumBaseModel):
    text: str


async def test_soft_deleted_documents_are_left_out(client: VellumClient, db_name: str) -> None:
    notes = VellumRepository(Note, client, db_name)
    keep, gone = await notes.create_many([Note(text="keep"), Note(text="gone")])
    await notes.soft_delete(gone.id)
    assert [n.text for n in await notes.aggregate_pipeline().execute()] == ["keep"]
    assert len(await notes.aggregate_pipeline(include_deleted=True).execute()) == 2
    assert keep.id != gone.id


async def test_pipeline_in_a_transaction(
    client: VellumClient, users: VellumRepository[User]
) -> None:
    async with client.transaction() as s:
        await users.create(User(name="eve", email="e@x", age=99), session=s)
        inside = await users.aggregate_pipeline(session=s).match(Q.age > 90).execute()
        assert [u.name for u in inside] == ["eve"]
        assert await users.aggregate_pipeline().match(Q.age > 90).execute() == []
        await s.abort_transaction()


@pytest.mark.parametrize("levels", [101, 100_000])
def test_stage_arguments_nest_at_most_100_levels(
    users: VellumRepository[User], levels: int
) -> None:
    nested: Any = 1
    for _ in range(levels):
        nested = {"a": nested}
    with pytest.raises(QueryError, match="nests deeper than 100 levels"):
        users.aggregate_pipeline().set(deep=nested)
    fine: Any = 1
    for _ in range(99):
        fine = {"a": fine}
    assert users.aggregate_pipeline().set(deep=fine).stages
