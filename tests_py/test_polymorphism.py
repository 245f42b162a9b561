"""Polymorphic collections: a root model's subclasses share its collection; each document is
read back as the class it names, and a subclass's repository sees only its own documents."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from vellum import (
    DocumentValidationError,
    Index,
    SoftDeletable,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    acc,
    on_fetch,
)


class Vehicle(SoftDeletable, VellumBaseModel):
    name: str
    wheels: int = 4
    fetched: int = 0

    class Settings:
        collection_name = "vehicles"
        polymorphic = True
        indexes = [Index("name", unique=True)]


class Car(Vehicle):
    doors: int = 4

    class Settings:
        indexes = [Index("doors")]

    @on_fetch
    def count_fetch(self) -> None:
        self.fetched += 1


class Bike(Vehicle):
    wheels: int = 2
    gears: int = 1


class RoadBike(Bike):
    drop_bars: bool = True


class Trike(Bike):
    class Settings:
        class_name = "trike"


@pytest.fixture
def repos(client: VellumClient, db_name: str) -> dict[str, VellumRepository[Any]]:
    return {
        "vehicles": VellumRepository(Vehicle, client, db_name),
        "cars": VellumRepository(Car, client, db_name),
        "bikes": VellumRepository(Bike, client, db_name),
    }


async def seed(repos: dict[str, VellumRepository[Any]]) -> None:
    await repos["cars"].create(Car(name="mini", doors=3))
    await repos["bikes"].create_many([Bike(name="bmx"), RoadBike(name="racer", gears=22)])
    await repos["vehicles"].create_many([Vehicle(name="cart"), Trike(name="tri", wheels=3)])


async def test_each_document_comes_back_as_its_class(
    repos: dict[str, VellumRepository[Any]],
) -> None:
    await seed(repos)
    stored = await repos["vehicles"].collection.find({}, sort={"name": 1})
    assert [(d["name"], d["_class"]) for d in stored] == [
        ("bmx", "Vehicle.Bike"),
        ("cart", "Vehicle"),
        ("mini", "Vehicle.Car"),
        ("racer", "Vehicle.Bike.RoadBike"),
        ("tri", "trike"),
    ]
    everything = await repos["vehicles"].find(sort=[("name", 1)])
    assert [type(v) for v in everything] == [Bike, Vehicle, Car, RoadBike, Trike]
    racer = everything[3]
    assert isinstance(racer, RoadBike) and racer.gears == 22 and racer.wheels == 2
    mini = await repos["vehicles"].get(everything[2].id)
    assert isinstance(mini, Car) and mini.doors == 3
    assert mini.fetched == 1  # Car's own on_fetch hook ran, read through the root


async def test_a_subclass_sees_its_own_and_its_subclasses_documents(
    repos: dict[str, VellumRepository[Any]],
) -> None:
    await seed(repos)
    bikes = repos["bikes"]
    assert sorted(b.name for b in await bikes.find()) == ["bmx", "racer", "tri"]
    assert await bikes.count() == 3 and await repos["cars"].count() == 1
    mini = (await repos["cars"].find())[0]
    assert await bikes.get(mini.id) is None  # a car is not a bike
    changed = await bikes.update_many({}, Bike.Q.gears.inc(1))
    assert changed.matched == 3
    assert (await repos["cars"].find())[0].name == "mini"  # untouched
    rows = await (
        bikes.aggregate_pipeline().group(None, n=acc.count(), gears=acc.sum(Bike.Q.gears)).execute()
    )
    assert [(r["n"], r["gears"]) for r in rows] == [(3, 1 + 1 + 22 + 1 + 1 + 1)]
    typed = await bikes.aggregate_pipeline().sort(("name", 1)).execute()
    assert [type(b) for b in typed] == [Bike, RoadBike, Trike]
    assert await bikes.delete_many({"gears": {"$gt": 5}}) == 1  # the racer only
    assert await repos["vehicles"].count() == 4


async def test_soft_delete_and_writes_keep_the_class(
    repos: dict[str, VellumRepository[Any]],
) -> None:
    await seed(repos)
    racer = await repos["bikes"].find_one({"name": "racer"})
    assert isinstance(racer, RoadBike)
    await repos["vehicles"].soft_delete(racer.id)
    assert await repos["bikes"].count() == 2
    assert await repos["bikes"].count(include_deleted=True) == 3
    await repos["vehicles"].restore(racer.id)
    racer.gears = 30
    saved = await repos["bikes"].save(racer)
    assert isinstance(saved, RoadBike)
    stored = await repos["vehicles"].collection.find_one({"_id": racer.id})
    assert stored is not None and stored["_class"] == "Vehicle.Bike.RoadBike"
    made = await repos["vehicles"].create({"name": "van", "doors": 5, "_class": "Vehicle.Car"})
    assert isinstance(made, Car) and made.doors == 5
    with pytest.raises(TypeError, match="not a Bike"):
        await repos["bikes"].create({"name": "x", "_class": "Vehicle.Car"})


async def test_unknown_and_missing_class_names(repos: dict[str, VellumRepository[Any]]) -> None:
    vehicles = repos["vehicles"]
    legacy, alien = uuid4(), uuid4()
    await vehicles.collection.insert_many(
        [{"_id": legacy, "name": "old"}, {"_id": alien, "name": "ufo", "_class": "Vehicle.Ufo"}]
    )
    with pytest.raises(DocumentValidationError, match=rf"_id=UUID\('{alien}'\).*'Vehicle.Ufo'"):
        await vehicles.find()
    await vehicles.collection.delete_one({"_id": alien})
    # A document stored before the collection became polymorphic is its root's.
    (old,) = await vehicles.find()
    assert type(old) is Vehicle and old.id == legacy
    assert await repos["bikes"].count() == 0  # and no subclass's


async def test_the_collection_gets_every_class_s_indexes(
    repos: dict[str, VellumRepository[Any]],
) -> None:
    created = await repos["bikes"].ensure_indexes()
    assert set(created) == {"name_1", "doors_1"}
    names = {ix["name"] for ix in await repos["vehicles"].list_indexes()}
    assert {"name_1", "doors_1"} <= names


def test_the_family_is_declared_once_and_clearly() -> None:
    assert Car.__vellum_settings__.collection_name == "vehicles"
    with pytest.raises(TypeError, match="cannot set a collection_name of its own"):

        class Boat(Vehicle):
            class Settings:
                collection_name = "boats"

    with pytest.raises(TypeError, match="only the root of a polymorphic family"):

        class Plane(Vehicle):
            class Settings:
                discriminator = "kind"

    with pytest.raises(TypeError, match="names no field"):

        class Thing(VellumBaseModel):
            kind: str

            class Settings:
                polymorphic = True
                discriminator = "kind"

    with pytest.raises(TypeError, match="would both be stored as 'trike'"):

        class Tricycle(Bike):
            class Settings:
                class_name = "trike"

    with pytest.raises(TypeError, match="polymorphic = True"):

        class Lonely(VellumBaseModel):
            class Settings:
                class_name = "x"
