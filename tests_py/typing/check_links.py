"""Type-checked only (pyright strict): links keep their target's type through every part of
the API (declaring, building, loading, fetching, filtering, writing rules)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel
from typing_extensions import assert_type

from vellum import (
    AsDBRef,
    BackLink,
    DeleteRule,
    Link,
    LinkRule,
    QueryExpr,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
)


class Author(VellumBaseModel):
    name: str
    books: BackLink[Book] = BackLink(field="author")


class Chapter(BaseModel):
    title: str
    reviewer: Link[Author] | None = None


class Book(VellumBaseModel):
    title: str
    author: Link[Author]
    editors: list[Annotated[Link[Author], AsDBRef()]] = []
    chapters: list[Chapter] = []


async def links(client: VellumClient) -> None:
    authors = VellumRepository(Author, client)
    books = VellumRepository(Book, client)

    ada = await authors.create(Author(name="Ada"))
    link = Link(ada)
    assert_type(link, Link[Author])
    book = await books.create(Book(title="Notes", author=link, editors=[Link(ada)]))
    assert_type(await books.create(book, link_rule=LinkRule.WRITE), Book)

    loaded = await books.get(book.id, fetch_links=True)
    assert loaded is not None
    assert_type(loaded.author, Link[Author])
    assert_type(loaded.author.doc, Author)
    assert_type(loaded.author.missing, bool)
    assert_type(await loaded.author.fetch(), Author)
    assert_type(loaded.editors[0].doc.name, str)
    reviewer = loaded.chapters[0].reviewer
    if reviewer is not None:
        assert_type(reviewer.doc, Author)

    author = await authors.get(ada.id, fetch_links=["books"])
    assert author is not None
    assert_type(author.books.docs, list[Book])
    for written in author.books:
        assert_type(written, Book)

    assert_type(await books.find(fetch_links=2), list[Book])
    assert_type(await books.find_one(fetch_links=["author", "chapters.reviewer"]), Book | None)
    async for streamed in books.iter(fetch_links=True):
        assert_type(streamed, Book)

    across = Book.Q.author.name == "Ada"
    assert_type(across, QueryExpr)
    by_id = Book.Q.author.id == ada.id
    assert_type(await books.find(across & by_id), list[Book])
    assert_type(await books.aggregate_pipeline().match(by_id).execute(fetch_links=True), list[Book])
    assert_type(await books.delete(book.id, link_rule=DeleteRule.DELETE_LINKS), bool)
