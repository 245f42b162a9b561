"""`vellum typegen`: the committed typed fields are current, the command's modes, and typed
queries against the test server (they are the model's own Q at run time)."""

from __future__ import annotations

import io
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from library import Address, Author, Book, Genre, Order
from library_q import AuthorQ, BookChanges, BookData, BookQ
from vellum import VellumClient, VellumRepository, acc
from vellum.cli import main
from vellum.typegen import check, generate

HERE = Path(__file__).resolve().parent


def test_the_committed_typed_fields_are_current() -> None:
    assert check("library", HERE / "library_q.py"), "run: cd tests_py && vellum typegen library"
    assert BookQ is Book.Q and AuthorQ is Author.Q  # nothing changes at run time


def test_the_command_writes_and_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shop.py").write_text(
        textwrap.dedent(
            """
            from pydantic import BaseModel
            from vellum import VellumBaseModel

            class Box(BaseModel):
                size: int          # a name Q has as a method: reached as Q.box["size"]
                label: str

            class Parcel(VellumBaseModel):
                box: Box
                boxes: list[Box] = []
                meta: dict[str, int] = {}
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert main(["typegen", "shop"], out) == 0
    written = (tmp_path / "shop_q.py").read_text()
    assert "class ParcelFields(Fields[Parcel]):" in written
    assert "    box: BoxFields[Parcel]" in written
    assert "    boxes: BoxListFields[Parcel]" in written
    assert "    meta: Field[Parcel, Any]" in written  # what it cannot type exactly is Any
    assert '# size: a method of Q has this name; reach it as Q["size"]' not in written
    assert "# size: a method of Q has this name; reach it as Q['size']" in written
    assert main(["typegen", "shop", "--check"], out) == 0

    (tmp_path / "shop.py").write_text((tmp_path / "shop.py").read_text() + "    note: str = ''\n")
    sys.modules.pop("shop", None)
    assert main(["typegen", "shop", "--check"], out) == 1  # the models changed: stale
    assert main(["typegen", "no_such_module"], out) == 2
    sys.modules.pop("shop", None)


def test_generation_is_deterministic() -> None:
    assert generate("library") == generate("library")


@pytest.fixture
def books(client: VellumClient, db_name: str) -> VellumRepository[Book]:
    return VellumRepository(Book, client, db_name)


async def test_typed_queries_run(books: VellumRepository[Book]) -> None:
    Q = BookQ
    dune = await books.create(
        Book(
            title="Dune",
            year=1965,
            price=Decimal("9.5"),
            tags=["sf", "classic"],
            shop=Address(city="Paris", zip="75001"),
            orders=[Order(sku="X1", qty=3, price=Decimal(1))],
        )
    )
    gone: BookData = {"title": "Gone", "year": 2001, "genre": Genre.CRIME, "kind": "ebook"}
    await books.create(gone)
    found = await books.find((Q.year < 2000) & Q.tags.contains("sf") & (Q.shop.city == "Paris"))
    assert [b.title for b in found] == ["Dune"]
    assert await books.count(Q.orders.elem_match((Q.orders.qty > 2) & (Q.orders.sku == "X1"))) == 1
    assert [b.title for b in await books.find(sort=[Q.year.desc()])] == ["Gone", "Dune"]
    assert await books.count((Q.genre == Genre.CRIME) & (Q.kind == "ebook")) == 1
    await books.update_one(Q.id == dune.id, Q.year.inc(1), Q.tags.push("new"))
    changes: BookChanges = {"title": "Dune!", "isbn": "0441013597"}
    updated = await books.update(dune.id, changes)
    assert updated is not None and (updated.year, updated.title) == (1966, "Dune!")
    assert updated.tags == ["sf", "classic", "new"] and updated.isbn == "0441013597"
    rows = await (
        books.aggregate_pipeline()
        .unwind(Q.tags)
        .group(Q.tags, n=acc.count())
        .sort(("_id", 1))
        .execute()
    )
    assert [(r["_id"], r["n"]) for r in rows] == [("classic", 1), ("new", 1), ("sf", 1)]
    page = await books.paginate(Q.year > 0, sort=[Q.year.asc()], limit=1)
    assert [b.title for b in page.items] == ["Dune!"] and page.next_after is not None
