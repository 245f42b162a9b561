"""Keyset pagination: every document once, in sort order, across pages and writes between them."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vellum import (
    Page,
    PageTokenError,
    QueryError,
    SoftDeletable,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    encode_bson,
)


class Item(VellumBaseModel):
    rank: int | None = None
    group: str = ""
    tags: list[str] = []


class Gone(SoftDeletable, VellumBaseModel):
    n: int


@pytest.fixture
def items(client: VellumClient, db_name: str) -> VellumRepository[Item]:
    return VellumRepository(Item, client, db_name)


async def all_pages(repo: VellumRepository[Item], limit: int, **kw: Any) -> list[Item]:
    seen: list[Item] = []
    after: str | None = None
    while True:
        page = await repo.paginate(limit=limit, after=after, **kw)
        assert len(page.items) <= limit
        seen.extend(page.items)
        if page.next_after is None:
            return seen
        assert len(page.items) == limit  # only the last page is short
        after = page.next_after


SORTS = [
    [Item.Q.rank.asc()],
    [Item.Q.rank.desc()],
    [Item.Q.group.asc(), Item.Q.rank.desc()],
    [Item.Q.group.desc(), Item.Q.rank.asc()],
    [Item.Q.id.desc()],
    None,
]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(
        st.tuples(st.none() | st.integers(-3, 3), st.sampled_from(["a", "b", "c"])),
        max_size=14,
    ),
    sort=st.sampled_from(SORTS),
    limit=st.integers(1, 5),
)
async def test_pages_are_the_sorted_result_once_each(
    items: VellumRepository[Item], rows: list[tuple[int | None, str]], sort: Any, limit: int
) -> None:
    # Ties on every sort key and nulls, in both directions: the _id breaks ties.
    await items.delete_many({})
    if rows:
        await items.create_many([Item(rank=rank, group=group) for rank, group in rows])
    keys = [*(sort or []), Item.Q.id.asc()] if sort is None or "_id" not in str(sort) else sort
    expected = await items.find(sort=keys)
    paged = await all_pages(items, limit, sort=sort)
    assert [i.id for i in paged] == [i.id for i in expected]


@pytest.mark.real_mongodb(
    "a range operator never matches null on MongoDB (type bracketing); the emulator's $lt does "
    "(TEST-SERVER.md, difference 1), so it cannot tell whether the nulls after a descending "
    "position are asked for"
)
async def test_nulls_follow_the_values_in_descending_order(items: VellumRepository[Item]) -> None:
    await items.create_many([Item(rank=None), Item(rank=1), Item(rank=None), Item(rank=2)])
    paged = await all_pages(items, 1, sort=[Item.Q.rank.desc()])
    assert [i.rank for i in paged] == [2, 1, None, None]
    paged = await all_pages(items, 1, sort=[Item.Q.rank.asc()])
    assert [i.rank for i in paged] == [None, None, 1, 2]


async def test_stable_when_documents_are_inserted_and_deleted_between_pages(
    items: VellumRepository[Item],
) -> None:
    await items.create_many([Item(rank=r) for r in range(0, 20, 2)])  # 0, 2, ... 18
    first = await items.paginate(sort=[Item.Q.rank.asc()], limit=4)
    assert [i.rank for i in first.items] == [0, 2, 4, 6]
    await items.create_many([Item(rank=1), Item(rank=7), Item(rank=11)])  # before and after
    await items.delete_many(Item.Q.rank == 8)
    second = await items.paginate(sort=[Item.Q.rank.asc()], limit=4, after=first.next_after)
    # No repeat of page 1 (skip would repeat 6), the new 7 and 11 appear, the deleted 8 not.
    assert [i.rank for i in second.items] == [7, 10, 11, 12]


async def test_filters_and_soft_delete_apply_to_every_page(
    client: VellumClient, db_name: str, items: VellumRepository[Item]
) -> None:
    await items.create_many([Item(rank=r, group="ab"[r % 2]) for r in range(10)])
    typed = await all_pages(items, 2, filter=Item.Q.group == "a", sort=[Item.Q.rank.desc()])
    raw = await all_pages(items, 2, filter={"group": "a"}, sort={"rank": -1})
    assert [i.rank for i in typed] == [i.rank for i in raw] == [8, 6, 4, 2, 0]

    gone = VellumRepository(Gone, client, db_name)
    made = await gone.create_many([Gone(n=n) for n in range(5)])
    await gone.soft_delete(made[1].id)
    page = await gone.paginate(sort=[Gone.Q.n.asc()], limit=2)
    rest = await gone.paginate(sort=[Gone.Q.n.asc()], limit=2, after=page.next_after)
    assert [g.n for g in page.items + rest.items] == [0, 2, 3, 4]
    assert rest.next_after is None
    everything = await gone.paginate(sort=[Gone.Q.n.asc()], limit=10, include_deleted=True)
    assert len(everything.items) == 5


async def test_page_model_serialises_for_responses(items: VellumRepository[Item]) -> None:
    await items.create_many([Item(rank=r) for r in range(3)])
    page = await items.paginate(sort=[Item.Q.rank.asc()], limit=2)
    dumped = Page[Item].model_validate(page.model_dump()).model_dump(mode="json")
    assert [i["rank"] for i in dumped["items"]] == [0, 1]
    assert isinstance(dumped["next_after"], str)
    schema = Page[Item].model_json_schema(mode="serialization")
    assert set(schema["properties"]) == {"items", "next_after"}


async def test_bad_tokens_and_limits_are_refused(items: VellumRepository[Item]) -> None:
    await items.create_many([Item(rank=r) for r in range(3)])
    page = await items.paginate(sort=[Item.Q.rank.asc()], limit=1)
    assert page.next_after is not None
    with pytest.raises(PageTokenError, match="another sort order"):
        await items.paginate(sort=[Item.Q.rank.desc()], limit=1, after=page.next_after)
    for bad in ["", "not a token!", base64.urlsafe_b64encode(b"garbage").decode()]:
        with pytest.raises(PageTokenError, match="first page"):
            await items.paginate(sort=[Item.Q.rank.asc()], limit=1, after=bad)
    # A crafted token cannot smuggle an operator into the query.
    crafted = encode_bson({"k": [["rank", 1], ["_id", 1]], "v": [{"$gt": None}, None]})
    with pytest.raises(PageTokenError, match="cannot be queried"):
        await items.paginate(
            sort=[Item.Q.rank.asc()],
            limit=1,
            after=base64.urlsafe_b64encode(crafted).decode(),
        )
    for limit in (0, -1, 10_001, True):
        with pytest.raises(ValueError, match="limit must be between 1 and 10000"):
            await items.paginate(limit=limit)
    assert await items.count() == 3  # nothing was written by any of it


async def test_sorting_on_a_list_is_refused(items: VellumRepository[Item]) -> None:
    await items.create_many([Item(tags=["x"]), Item(tags=["y"])])
    with pytest.raises(QueryError, match="list"):
        await items.paginate(sort=[("tags", 1)], limit=1)
