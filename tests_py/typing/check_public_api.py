"""Type-checked only (pyright strict): the README's examples keep precise types."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from typing_extensions import assert_type

from vellum import (
    DuplicateKeyError,
    Index,
    ObjectId,
    QueryExpr,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    acc,
    connect_to_mongodb,
    nor,
)


class Address(BaseModel):
    city: str
    zip: str


class CityStats(BaseModel):
    users: int
    avg_age: float


class UserName(BaseModel):
    name: str


class User(VellumBaseModel):
    name: str
    email: str
    age: int = 0
    balance: Decimal = Decimal("0")
    address: Address | None = None
    tags: list[str] = []
    manager: ObjectId | None = None

    class Settings:
        collection_name = "users"
        indexes = [Index("email", unique=True), Index([("age", -1), ("name", 1)])]


async def quickstart() -> None:
    client = await connect_to_mongodb("mongodb://localhost:27017", "app")
    assert_type(client, VellumClient)
    users = VellumRepository(User, client, "app")
    assert_type(users, VellumRepository[User])
    assert_type(await users.ensure_indexes(), list[str])
    ada = await users.create(User(name="Ada", email="ada@example.com", balance=Decimal("10.25")))
    assert_type(ada, User)
    assert_type(await users.get(ada.id), User | None)
    page = await users.find({"age": {"$gte": 18}}, skip=0, limit=20, sort=[("age", -1)])
    assert_type(page, list[User])
    bob = await users.update(ada.id, {"age": 37})
    assert_type(bob, User | None)
    assert_type(await users.count({}), int)
    assert_type(await users.delete(ada.id), bool)
    async for user in users.iter({"age": {"$gt": 1}}):
        assert_type(user, User)
    try:
        await users.create_many([User(name="x", email="y")])
    except DuplicateKeyError as err:
        assert_type(err.index_name, str | None)
    Q = User.Q
    adults = await users.find(
        (Q.age >= 18) & (Q.address.city == "Paris"), sort=[Q.age.desc(), Q.name.asc()], limit=10
    )
    assert_type(adults, list[User])
    names = await users.find(Q.age > 30, projection=UserName)
    assert_type(names, list[UserName])
    assert_type(await users.find_one(Q.email == "a", projection=UserName), UserName | None)
    result = await users.update_many(Q.age > 30, Q.age.inc(1), Q.tags.add_to_set("senior"))
    assert_type(result.modified, int)
    assert_type(users.Q.age > 3, QueryExpr)
    assert_type(nor(Q.age < 18, Q.tags.size(0)), QueryExpr)
    stats = await (
        users.aggregate_pipeline()
        .match(User.Q.age >= 18)
        .group(
            User.Q.address.city,
            output_model=CityStats,
            users=acc.count(),
            avg_age=acc.avg(User.Q.age),
        )
        .sort(("users", -1))
        .limit(10)
        .execute()
    )
    assert_type(stats, list[CityStats])
    rows = await users.aggregate_pipeline().unwind(User.Q.tags).execute()
    assert_type(rows, list[dict[str, Any]])
    assert_type(await users.aggregate_pipeline().first(), User | None)
    async for tag in users.aggregate_pipeline().project({"tag": "$tags"}, output_model=UserName):
        assert_type(tag, UserName)
    oid = ObjectId()
    assert_type(oid.generation_time.year, int)
    await client.close()
