"""Writes validate what they write: instances built or changed without validation
(``model_construct``, ``model_copy(update=...)``) are checked before anything is sent."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel

from vellum import (
    DocumentValidationError,
    ValueOutOfRangeError,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
)


class Part(BaseModel):
    sku: str
    qty: int


class Order(VellumBaseModel):
    name: str
    score: float = 0.0
    parts: list[Part] = []


class Shape(VellumBaseModel):
    """No write plan (a union of models): every insert goes through the checked dump."""

    name: str
    detail: Part | dict[str, int] | None = None


@pytest.fixture
def orders(client: VellumClient, db_name: str) -> VellumRepository[Order]:
    return VellumRepository(Order, client, db_name)


async def test_wrong_types_are_refused_before_anything_is_written(
    orders: VellumRepository[Order],
) -> None:
    constructed = Order.model_construct(name=42)
    with pytest.raises(DocumentValidationError, match="name: Input should be a valid string"):
        await orders.create(constructed)
    good = Order(name="ok")
    copied = good.model_copy(update={"parts": [Part.model_construct(sku="a", qty="many")]})
    with pytest.raises(DocumentValidationError, match=r"document 1 of the batch.*parts\.0\.qty"):
        await orders.create_many([Order(name="first"), copied])
    with pytest.raises(DocumentValidationError, match=r"parts\.0\.qty"):
        await orders.create_many([Order(name="first"), copied], ordered=False)
    assert await orders.count() == 0  # not even the documents before it
    assert await orders.find() == []  # and the collection still reads


async def test_what_validation_coerces_is_stored_and_returned(
    orders: VellumRepository[Order],
) -> None:
    copied = Order(name="n").model_copy(update={"score": 3})  # an int in a float field
    created = await orders.create(copied)
    assert created.score == 3.0 and type(created.score) is float
    raw: dict[str, Any] | None = await orders.collection.find_one({"_id": created.id})
    assert raw is not None and type(raw["score"]) is float
    assert await orders.get(created.id) == created


async def test_save_checks_the_whole_document(orders: VellumRepository[Order]) -> None:
    stored = await orders.create(Order(name="kept", score=1.5))
    broken = stored.model_copy(update={"score": "high"})
    with pytest.raises(DocumentValidationError, match="score"):
        await orders.save(broken)
    assert await orders.get(stored.id) == stored


async def test_models_without_a_write_plan_are_checked_too(
    client: VellumClient, db_name: str
) -> None:
    shapes = VellumRepository(Shape, client, db_name)
    ok = await shapes.create(Shape(name="a", detail=Part(sku="x", qty=1)))
    assert await shapes.get(ok.id) == ok
    with pytest.raises(DocumentValidationError, match="detail"):
        await shapes.create(Shape.model_construct(name="b", detail=3.5))
    assert await shapes.count() == 1


class Event(VellumBaseModel):
    """Encoded by the core's write plan."""

    at: datetime
    seen: list[datetime] = []


class Window(VellumBaseModel):
    """No write plan (a union): inserted through the checked dump."""

    at: datetime
    window: Part | dict[str, datetime] | None = None


class Loose(VellumBaseModel):
    data: list[Any] = []


async def test_returned_datetimes_equal_the_stored_ones(client: VellumClient, db_name: str) -> None:
    """create() returns what get() returns: datetimes in UTC at BSON's millisecond precision,
    on the fast path (planned fields, lists of them) and the checked one (a union field)."""
    events = VellumRepository(Event, client, db_name)
    assert events._documents.write_plan is not None  # pyright: ignore[reportPrivateUsage]
    plus_two = timezone(timedelta(hours=2))
    fine = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=plus_two)
    naive = datetime(2024, 5, 1, 8, 0, 0, 999999)
    created = await events.create(Event(at=fine, seen=[naive, fine]))
    assert created.at == datetime(2024, 5, 1, 10, 30, 15, 123000, tzinfo=timezone.utc)
    assert created.at.tzinfo is timezone.utc and created.seen[0].tzinfo is timezone.utc
    assert created.seen[0] == datetime(2024, 5, 1, 8, 0, 0, 999000, tzinfo=timezone.utc)
    assert await events.get(created.id) == created
    many = await events.create_many([Event(at=fine), Event(at=naive)])
    assert [await events.get(e.id) for e in many] == many
    windows = VellumRepository(Window, client, db_name)
    unplanned = await windows.create(Window(at=fine, window={"start": naive}))
    assert unplanned.window == {"start": datetime(2024, 5, 1, 8, 0, 0, 999000, tzinfo=timezone.utc)}
    assert await windows.get(unplanned.id) == unplanned


async def test_a_model_that_contains_itself_is_refused(client: VellumClient, db_name: str) -> None:
    loose = VellumRepository(Loose, client, db_name)
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(ValueOutOfRangeError, match="nest deeper than 100 levels"):
        await loose.create(Loose.model_construct(data=looped))
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ValueOutOfRangeError, match="nest deeper than 100 levels"):
        await loose.create(Loose.model_construct(data=deep))
    assert await loose.count() == 0
