"""Query mistakes pyright catches with the typed fields of `vellum typegen` (library_q.py).

Type-checked only (pyright strict, in the test command). Each mistake carries the ignore of the
error pyright reports; with reportUnnecessaryTypeIgnoreComment on, an ignore that no longer
matches an error is itself an error, so this file fails when pyright stops catching one.
"""

# pyright: reportUnnecessaryTypeIgnoreComment=true

from __future__ import annotations

from decimal import Decimal

from library import Author, Book, Genre, Order
from library_q import AuthorQ, BookChanges, BookData, BookQ
from vellum import VellumRepository, acc, json_schema
from vellum.geo import Point


async def correct(books: VellumRepository[Book], authors: VellumRepository[Author]) -> None:
    """The same queries written right: no error."""
    Q = BookQ
    found: list[Book] = await books.find(
        (Q.year > 2000) & Q.tags.contains("sf") & (Q.shop.city == "Paris"),
        sort=[Q.year.desc(), Q.title.asc()],
        limit=10,
    )
    assert found
    await books.find(Q.orders.qty >= 2)
    await books.find(Q.orders.elem_match((Q.orders.qty > 2) & (Q.orders.sku == "X1")))
    await books.find(Q.title.regex("^The", "i") | (Q.genre == Genre.CRIME))
    await books.find((Q.kind == "ebook") & Q.isbn.exists() & Q.tags.size(2))
    await books.find(Q.year.in_([1999, 2000]))
    await books.count(Q.price < Decimal("10"))
    await books.update_one(Q.id == found[0].id, Q.year.inc(1), Q.tags.push("new"))
    await books.update_many(Q.title.contains("x"), Q.price.mul(2), Q.title.set("y"))
    await books.update_one(Q.title == "x", Q.orders.push(Order(sku="a", qty=1, price=Decimal(1))))
    new: BookData = {"title": "Dune", "year": 1965, "tags": ["sf"]}
    await books.create(new)
    changes: BookChanges = {"title": "Dune", "year": 1965}
    await books.update(found[0].id, changes)
    page = await books.paginate(Q.year > 0, sort=[Q.year.asc()], limit=5)
    assert page.items
    await authors.find(AuthorQ.born == None)  # noqa: E711 - a query, not a comparison
    # Field against field, $mod, bits, places, distinct values typed by the field.
    await books.find((Q.pages > Q.year) & Q.year.mod(4, 0) & Q.pages.bits_any_set(1))
    await books.find(Q.shop_at.near(Point.at(2.35, 48.85), max_distance=1000))
    ranked: list[tuple[Book, float]] = await books.find_text("dune", Q.year > 1900, limit=5)
    after: Book | None = await books.find_one_and_update(
        Q.title == "Dune", Q.pages.inc(1), return_document="before", sort=[Q.year.asc()]
    )
    again: Book | None = await books.replace(found[0].id, found[0])
    odd = await books.count(~json_schema({"required": ["title"]}))
    assert ranked and after and again and odd >= 0
    titles: list[str] = await books.distinct(Q.title)
    tags: list[str] = await books.distinct(Q.tags)
    assert titles and tags
    # Aggregation stages take typed fields where they name one.
    rows = await (
        books.aggregate_pipeline()
        .match(Q.year > 0)
        .unwind(Q.tags)
        .group(Q.tags, n=acc.count(), total=acc.sum(Q.price))
        .execute()
    )
    assert rows
    # Untyped Q still works everywhere (checked when the query is built, not by pyright).
    await books.find(Book.Q.year > 2000)


async def mistakes(books: VellumRepository[Book], book: Book) -> None:
    Q = BookQ
    # A misspelled field, top level, nested, in a list of models.
    await books.find(Q.yeer > 2000)  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownArgumentType]
    await books.find(Q.shop.citty == "Paris")  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownArgumentType]
    await books.find(Q.orders.qtty > 1)  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownArgumentType]
    # A value of the wrong type.
    await books.find(Q.year > "abc")  # pyright: ignore[reportOperatorIssue, reportUnknownArgumentType]
    await books.find(Q.tags.contains(3))  # pyright: ignore[reportArgumentType]
    await books.find(Q.year.in_(["1999"]))  # pyright: ignore[reportArgumentType]
    await books.update_one(Q.title == "x", Q.year.set("new"))  # pyright: ignore[reportArgumentType]
    # Operators only where they make sense.
    await books.update_one(Q.title == "x", Q.title.inc(1))  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownArgumentType]
    await books.find(Q.year.regex("^19"))  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownArgumentType]
    await books.find(Q.title.size(3))  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownArgumentType]
    await books.update_one(Q.title == "x", Q.year.push(1))  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownArgumentType]
    await books.find(Q.price > Q.year)  # pyright: ignore[reportOperatorIssue, reportUnknownArgumentType]
    await books.find(Q.title.mod(2, 0))  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownArgumentType]
    await books.find(Q.title.near(Point.at(0, 0)))  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownArgumentType]
    # A filter bound to another model: it runs, and silently finds nothing.
    await books.find(AuthorQ.name == "Ada")  # pyright: ignore[reportArgumentType]
    await books.find(sort=[AuthorQ.name.asc()])  # pyright: ignore[reportArgumentType]
    # An update where a filter goes, and a filter where an update goes.
    await books.find(Q.year.inc(1))  # pyright: ignore[reportArgumentType]
    await books.update_many(Q.year > 1, Q.year > 2)  # pyright: ignore[reportArgumentType]
    # An unknown field, or a wrong value, in an update dict.
    bad: BookChanges = {"yeer": 1965}  # pyright: ignore[reportAssignmentType]
    worse: BookChanges = {"year": "1965"}  # pyright: ignore[reportAssignmentType]
    await books.update(book.id, bad)
    await books.update(book.id, worse)
    # A new document without a required field, or with an unknown one.
    incomplete: BookData = {"title": "Dune"}  # pyright: ignore[reportAssignmentType]
    unknown: BookData = {"title": "Dune", "year": 1, "yeer": 1}  # pyright: ignore[reportAssignmentType]
    await books.create(incomplete)
    await books.create(unknown)
