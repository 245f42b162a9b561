"""Q-expressions: each operator against the server, with documents that must and must not match."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel, Field

from vellum import (
    ObjectId,
    QueryError,
    QueryExpr,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    nor,
    raw,
)


class Status(enum.Enum):
    ACTIVE = "active"
    BANNED = "banned"


class Line(BaseModel):
    sku: str
    qty: int


class Address(BaseModel):
    city: str
    zip: str


class Customer(VellumBaseModel):
    name: str
    email: str
    age: int = Field(default=0, ge=0)
    score: int = 0
    balance: Decimal = Decimal("0")
    active: bool = False
    status: Status = Status.ACTIVE
    address: Address | None = None
    tags: list[str] = []
    scores: list[int] = []
    orders: list[Line] = []
    manager: ObjectId | None = None
    ref: UUID | None = None
    seen: datetime | None = None
    nickname: str | None = None
    display: str = Field(default="", alias="displayName")

    class Settings:
        collection_name = "customers"


class CustomerName(BaseModel):
    name: str
    email: str


Q = Customer.Q


@pytest.fixture
async def repo(client: VellumClient, db_name: str) -> VellumRepository[Customer]:
    repo = VellumRepository(Customer, client, db_name)
    boss = ObjectId("65f0c2a1b3d4e5f601234567")
    await repo.create_many(
        [
            Customer(
                name="ada",
                email="ada@example.com",
                age=36,
                balance=Decimal("10.50"),
                active=True,
                address=Address(city="Paris", zip="75001"),
                tags=["admin", "math"],
                scores=[81, 95],
                orders=[Line(sku="X1", qty=3), Line(sku="Y2", qty=1)],
                manager=boss,
                seen=datetime(2024, 1, 1, tzinfo=timezone.utc),
                display="Ada L.",
            ),
            Customer(
                name="bob",
                email="bob@test.org",
                age=17,
                status=Status.BANNED,
                address=Address(city="Lyon", zip="69001"),
                tags=[],
                scores=[50],
                orders=[Line(sku="X1", qty=1), Line(sku="Z9", qty=5)],
            ),
            Customer(
                name="cy",
                email="cy@example.com",
                age=52,
                balance=Decimal("-3"),
                tags=["math"],
                nickname="cyc",
                scores=[],
            ),
        ]
    )
    return repo


async def names(repo: VellumRepository[Customer], expr: QueryExpr) -> list[str]:
    return sorted(c.name for c in await repo.find(expr))


async def test_comparisons(repo: VellumRepository[Customer]) -> None:
    assert await names(repo, Q.age == 36) == ["ada"]
    assert await names(repo, Q.age != 36) == ["bob", "cy"]
    assert await names(repo, Q.age > 36) == ["cy"]
    assert await names(repo, Q.age >= 36) == ["ada", "cy"]
    assert await names(repo, Q.age < 36) == ["bob"]
    assert await names(repo, Q.age <= 36) == ["ada", "bob"]
    assert await names(repo, Q.balance < Decimal("0")) == ["cy"]
    assert await names(repo, Q.active == True) == ["ada"]  # noqa: E712


async def test_and_or_not_nor(repo: VellumRepository[Customer]) -> None:
    adults_in_paris = (Q.age >= 18) & (Q.address.city == "Paris")
    assert adults_in_paris.to_filter() == {"age": {"$gte": 18}, "address.city": "Paris"}
    assert await names(repo, adults_in_paris) == ["ada"]
    either = Q.tags.contains("admin") | ~Q.email.regex(r"@example\.com$", "i")
    assert await names(repo, either) == ["ada", "bob"]
    assert await names(repo, ~(Q.age > 20)) == ["bob"]
    assert await names(repo, ~((Q.age > 20) & (Q.name == "ada"))) == ["bob", "cy"]
    assert await repo.count(nor(Q.age < 18, Q.tags.size(0))) == 2
    # Same field twice: operators merge when they can, $and when they cannot.
    assert ((Q.age > 3) & (Q.age < 40)).to_filter() == {"age": {"$gt": 3, "$lt": 40}}
    both = (Q.age == 36) & (Q.age > 3)
    assert both.to_filter() == {"$and": [{"age": 36}, {"age": {"$gt": 3}}]}
    assert await names(repo, both) == ["ada"]


async def test_in_nin_exists_type(repo: VellumRepository[Customer]) -> None:
    ada = (await repo.find(Q.name == "ada"))[0]
    assert await names(repo, Q.id.in_([ada.id, uuid4()])) == ["ada"]
    assert await names(repo, Q.id.in_([str(ada.id)])) == ["ada"]
    assert await names(repo, Q.name.nin(["ada", "bob"])) == ["cy"]
    # None is stored as null: the field exists. A document written without it does not have it.
    assert await names(repo, Q.manager.exists()) == ["ada", "bob", "cy"]
    assert await names(repo, Q.manager == None) == ["bob", "cy"]  # noqa: E711
    await repo.collection.insert_one({"_id": uuid4(), "name": "dan", "email": "d@x"})
    assert await names(repo, Q.manager.exists(False)) == ["dan"]
    assert await names(repo, Q.manager.exists(True) & (Q.manager != None)) == ["ada"]  # noqa: E711
    assert await names(repo, Q.nickname.type_(str)) == ["cy"]
    assert await names(repo, Q.nickname.type_("null")) == ["ada", "bob"]
    assert await names(repo, Q.balance.type_("decimal")) == ["ada", "bob", "cy"]


async def test_regex_and_contains(repo: VellumRepository[Customer]) -> None:
    assert await names(repo, Q.email.regex(r"^ADA", "i")) == ["ada"]
    assert await names(repo, Q.email.regex(r"^ADA")) == []
    # contains on a str is a literal substring: regex characters are escaped.
    assert await names(repo, Q.email.contains("@example.com")) == ["ada", "cy"]
    assert await names(repo, Q.email.contains(".*")) == []
    assert await names(repo, Q.tags.contains("math")) == ["ada", "cy"]


async def test_array_operators(repo: VellumRepository[Customer]) -> None:
    assert await names(repo, Q.tags.size(0)) == ["bob"]
    assert await names(repo, Q.tags.all_(["admin", "math"])) == ["ada"]
    assert await names(repo, Q.tags.all_(["math"])) == ["ada", "cy"]
    big_x1 = Q.orders.elem_match((Q.orders.qty > 2) & (Q.orders.sku == "X1"))
    assert big_x1.to_filter() == {"orders": {"$elemMatch": {"qty": {"$gt": 2}, "sku": "X1"}}}
    assert await names(repo, big_x1) == ["ada"]
    # Without $elemMatch the two conditions may hold on different elements.
    assert await names(repo, (Q.orders.qty > 2) & (Q.orders.sku == "X1")) == ["ada", "bob"]
    in_80s = Q.scores.elem_match((Q.scores >= 80) & (Q.scores < 90))
    assert in_80s.to_filter() == {"scores": {"$elemMatch": {"$gte": 80, "$lt": 90}}}
    assert await names(repo, in_80s) == ["ada"]


async def test_nested_alias_enum_datetime_values(repo: VellumRepository[Customer]) -> None:
    assert (Q.display == "x").to_filter() == {"displayName": "x"}
    assert await names(repo, Q.display == "Ada L.") == ["ada"]
    assert await names(repo, Q.status == Status.BANNED) == ["bob"]
    assert await names(repo, Q.status == "banned") == ["bob"]  # coerced by the enum
    paris_time = datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    assert await names(repo, Q.seen == paris_time) == ["ada"]
    assert await names(repo, Q.manager == "65f0c2a1b3d4e5f601234567") == ["ada"]
    assert await names(repo, Q.address == Address(city="Lyon", zip="69001")) == ["bob"]


async def test_sort_projection_and_raw(repo: VellumRepository[Customer]) -> None:
    ordered = await repo.find(Q.age > 0, sort=[Q.age.desc(), Q.name.asc()], limit=2)
    assert [c.name for c in ordered] == ["cy", "ada"]
    only = await repo.find(Q.age > 30, projection=CustomerName, sort=Q.name.asc())
    assert only == [
        CustomerName(name="ada", email="ada@example.com"),
        CustomerName(name="cy", email="cy@example.com"),
    ]
    one = await repo.find_one(Q.name == "bob", projection=CustomerName)
    assert one == CustomerName(name="bob", email="bob@test.org")
    assert await names(repo, raw({"age": {"$mod": [2, 0]}})) == ["ada", "cy"]
    assert repo.Q.age.path == "age"


async def test_values_are_never_operators(repo: VellumRepository[Customer]) -> None:
    with pytest.raises(QueryError, match=r"Customer\.name expects str"):
        _ = Q.name == {"$ne": None}
    # A string that looks like an operator is matched literally.
    assert (Q.name == "$ne").to_filter() == {"name": "$ne"}
    assert await names(repo, Q.name == "$ne") == []
    assert await names(repo, Q.name.contains("$where")) == []


class Free(VellumBaseModel):
    meta: dict[str, Any] = {}


def test_dict_values_with_operator_keys_are_refused() -> None:
    with pytest.raises(QueryError, match="never read as operators"):
        _ = Free.Q.meta == {"a": {"$gt": 1}}
    assert (Free.Q.meta == {"a": 1}).to_filter() == {"meta": {"$eq": {"a": 1}}}


def test_bad_queries_fail_at_once() -> None:
    with pytest.raises(AttributeError, match=r"Customer has no field 'agee'.*'age'"):
        _ = Q.agee
    with pytest.raises(AttributeError, match=r"Customer.address \(Address\) has no field 'town'"):
        _ = Q.address.town
    with pytest.raises(QueryError, match=r"Customer.age expects int"):
        _ = Q.age > "abc"
    # Compared values are checked by type, not by the field's constraints (ge=0): asking for
    # ages below zero is a fair question, and finds documents stored before the constraint.
    assert (Q.age == -1).to_filter() == {"age": -1}
    assert (Q.age < -5).to_filter() == {"age": {"$lt": -5}}
    assert Q.age.in_([-1, 2]).to_filter() == {"age": {"$in": [-1, 2]}}
    with pytest.raises(QueryError, match="greater than or equal to 0"):
        Q.age.set(-1)  # what an update writes keeps every constraint
    # An increment is not the field's value: its type is checked, not the constraints.
    assert Q.age.inc(-1).to_update() == {"$inc": {"age": -1}}
    with pytest.raises(QueryError, match="expects int"):
        Q.age.inc(0.5)
    with pytest.raises(QueryError, match="not a list field"):
        Q.name.size(1)
    with pytest.raises(QueryError, match="elem_match on 'orders'"):
        Q.orders.elem_match(Q.age > 3)
    with pytest.raises(TypeError, match="truth value"):
        bool(Q.age > 3)
    with pytest.raises(ValueError, match="regex option"):
        Q.email.regex("a", "q")


def test_same_tree_same_filter() -> None:
    def build() -> QueryExpr:
        return (Q.age >= 18) & ((Q.tags.contains("a")) | (Q.name == "x"))

    assert build() == build()
    assert build().to_filter() == build().to_filter()
    assert repr(Q.age > 3) == "QueryExpr({'age': {'$gt': 3}})"


async def test_typed_updates(repo: VellumRepository[Customer]) -> None:
    ada = (await repo.find(Q.name == "ada"))[0]
    result = await repo.update_many(
        Q.age > 30, Q.score.inc(1), Q.active.set(True), Q.tags.add_to_set("senior")
    )
    assert (result.matched, result.modified) == (2, 2)
    after = {c.name: c for c in await repo.find()}
    assert after["ada"].score == 1 and after["cy"].active is True
    assert after["ada"].tags == ["admin", "math", "senior"] and after["cy"].tags == [
        "math",
        "senior",
    ]
    assert after["bob"].score == 0
    assert after["ada"].updated_at is not None and ada.updated_at is not None
    assert after["ada"].updated_at > ada.updated_at
    assert after["ada"].created_at == ada.created_at
    one = await repo.update_one(Q.email == "cy@example.com", Q.nickname.unset())
    assert (one.matched, one.modified) == (1, 1)
    assert (await repo.find(Q.name == "cy"))[0].nickname is None
    await repo.update_one(
        Q.name == "ada",
        Q.scores.push(70, 60, slice=-2),
        Q.balance.mul(2),
        Q.age.max(40),
        Q.score.min(0),
    )
    ada2 = (await repo.find(Q.name == "ada"))[0]
    assert (ada2.scores, ada2.balance, ada2.age, ada2.score) == ([70, 60], Decimal("21.00"), 40, 0)
    await repo.update_one(Q.name == "ada", Q.scores.pull(70), Q.tags.pop(first=True))
    ada3 = (await repo.find(Q.name == "ada"))[0]
    assert ada3.scores == [60] and ada3.tags == ["math", "senior"]
    await repo.update_one(Q.name == "ada", Q.seen.current_date())
    ada4 = (await repo.find(Q.name == "ada"))[0]
    assert ada4.seen is not None and ada4.seen > datetime(2025, 1, 1, tzinfo=timezone.utc)


async def test_bad_updates_fail_before_any_write(repo: VellumRepository[Customer]) -> None:
    before = await repo.find(sort=Q.name.asc())
    with pytest.raises(QueryError, match=r"Customer\.age expects int"):
        Q.age.set("old")
    with pytest.raises(QueryError, match="takes a number"):
        Q.score.inc("1")
    with pytest.raises(QueryError, match="required"):
        Q.name.unset()
    with pytest.raises(QueryError, match="two updates change 'score'"):
        await repo.update_many(Q.age > 0, Q.score.inc(1), Q.score.set(3))
    with pytest.raises(QueryError, match="managed by the repository"):
        await repo.update_many(Q.age > 0, Q.updated_at.set(datetime.now(timezone.utc)))
    with pytest.raises(QueryError, match="an element of"):
        Q.tags.push(3)
    assert await repo.find(sort=Q.name.asc()) == before


async def test_rename_and_upsert(client: VellumClient, db_name: str) -> None:
    class Legacy(VellumBaseModel):
        old: str | None = None
        new: str | None = None

    repo = VellumRepository(Legacy, client, db_name)
    await repo.create(Legacy(old="x"))
    await repo.update_many({}, Legacy.Q.old.rename("new"))
    stored = await repo.find()
    assert (stored[0].old, stored[0].new) == (None, "x")
    up = await repo.update_one(Legacy.Q.new == "y", Legacy.Q.old.set("z"), upsert=True)
    assert up.matched == 0 and up.upserted_id is not None
    assert await repo.count(Legacy.Q.new == "y") == 1


def test_fields_are_built_once_per_model() -> None:
    # A QField keeps its validators; rebuilding them on every query cost more than the query.
    assert Customer.Q.age is Customer.Q.age
    assert Customer.Q.address.city is Customer.Q.address.city
    assert Customer.Q.address.city.path == "address.city"


def test_in_nin_all_refuse_a_string_where_a_collection_is_meant() -> None:
    with pytest.raises(
        QueryError, match=r"in_\(\) takes a collection of values, such as in_\(\['abc'\]\)"
    ):
        Customer.Q.name.in_("abc")
    with pytest.raises(QueryError, match="nin"):
        Customer.Q.name.nin("abc")
    with pytest.raises(QueryError, match="all_"):
        Customer.Q.tags.all_("ab")
    assert Customer.Q.name.in_(["abc"]) is not None


def _nest(expr: QueryExpr, levels: int) -> QueryExpr:
    for i in range(levels):  # alternating & and |: each step nests one level
        expr = (expr | (Customer.Q.age == i)) if i % 2 else (expr & (Customer.Q.age == i))
    return expr


def test_deeply_nested_queries_are_refused_not_a_crash() -> None:
    deep = _nest(Customer.Q.age == 0, 99)
    assert deep.to_filter()  # 100 levels: compiled
    with pytest.raises(QueryError, match="nests deeper than 100 levels"):
        _ = deep | (Customer.Q.age == 1)  # the 99th step was &: this is level 101
    with pytest.raises(QueryError, match="nests deeper than 100 levels"):
        _nest(deep, 100_000)
    # Chains of one operator flatten: 2 000 conditions joined by & are one level.
    flat = Customer.Q.age == 0
    for i in range(2_000):
        flat = flat & (Customer.Q.score == i)
    assert len(flat.to_filter()["$and"]) == 2_001


def test_renaming_a_required_field_onto_another_declared_field_is_refused() -> None:
    with pytest.raises(QueryError, match=r"rename\(\) of Customer.name onto 'email'"):
        Customer.Q.name.rename("email")
    with pytest.raises(QueryError, match=r"required 'address\.city' missing"):
        Customer.Q.address.city.rename("address.zip")
    # An optional field onto another (a migration's step), or onto an undeclared name: fine.
    assert Customer.Q.nickname.rename("email") is not None
    assert Customer.Q.nickname.rename("alias") is not None
