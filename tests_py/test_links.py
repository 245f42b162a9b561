"""Links between documents: declaring, storing (ids and DBRefs, Beanie's included), loading in
batches (round trips counted), back-links, missing targets, and the typed API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import uuid4

import pytest
from pydantic import BaseModel

from conftest import Server
from vellum import (
    AsDBRef,
    BackLink,
    DanglingLinkError,
    DocumentValidationError,
    Link,
    LinkNotLoadedError,
    ObjectId,
    OptimisticLockError,
    QueryError,
    SoftDeletable,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    Versioned,
    acc,
    connect_to_mongodb,
    on_fetch,
)


class Publisher(VellumBaseModel):
    name: str


class Author(VellumBaseModel, SoftDeletable):
    name: str
    publisher: Link[Publisher] | None = None
    books: BackLink[Book] = BackLink(field="author")
    reviewed: BackLink[Book] = BackLink(field="chapters.reviewer")

    fetched: int = 0

    @on_fetch
    def count_fetch(self) -> None:
        self.fetched += 1


class Chapter(BaseModel):
    title: str
    reviewer: Link[Author] | None = None


class Book(VellumBaseModel):
    title: str
    author: Link[Author]
    editors: list[Annotated[Link[Author], AsDBRef()]] = []
    chapters: list[Chapter] = []


Author.model_rebuild()


@pytest.fixture
async def counting(server: Server, db_name: str) -> AsyncIterator[VellumClient]:
    client = await connect_to_mongodb(server.uri, db_name, count_commands=True)
    yield client
    await client.close()


class Repos:
    def __init__(self, client: VellumClient) -> None:
        self.publishers = VellumRepository(Publisher, client)
        self.authors = VellumRepository(Author, client)
        self.books = VellumRepository(Book, client)


async def stored_document(repository: VellumRepository[Any], doc_id: Any) -> dict[str, Any]:
    """The document as stored, read past the model."""
    found = await repository.collection.find_one({"_id": doc_id})
    assert found is not None
    return found


@pytest.fixture
def repos(counting: VellumClient) -> Repos:
    return Repos(counting)


async def test_a_link_is_stored_as_the_id_and_loads_on_request(repos: Repos) -> None:
    ada = await repos.authors.create(Author(name="Ada"))
    book = await repos.books.create(Book(title="Notes", author=Link(ada)))
    stored = await stored_document(repos.books, book.id)
    assert stored["author"] == ada.id

    plain = await repos.books.get(book.id)
    assert plain is not None
    assert plain.author.id == ada.id and not plain.author.fetched
    with pytest.raises(LinkNotLoadedError, match="fetch_links"):
        _ = plain.author.doc

    loaded = await repos.books.get(book.id, fetch_links=True)
    assert loaded is not None
    assert loaded.author.doc.name == "Ada"
    assert (await plain.author.fetch()).name == "Ada"
    assert plain.author.doc.name == "Ada"


async def test_links_inside_embedded_models_and_lists_load_in_one_query_per_path(
    repos: Repos, counting: VellumClient
) -> None:
    ada, bob, cy = await repos.authors.create_many(Author(name=n) for n in ("Ada", "Bob", "Cy"))
    book = await repos.books.create(
        Book(
            title="Notes",
            author=Link(ada),
            editors=[Link(bob), Link(cy)],
            chapters=[Chapter(title="1", reviewer=Link(cy)), Chapter(title="2")],
        )
    )
    stored = await stored_document(repos.books, book.id)
    assert stored["editors"] == [
        {"$ref": "author", "$id": bob.id},
        {"$ref": "author", "$id": cy.id},
    ]
    assert stored["chapters"] == [
        {"title": "1", "reviewer": cy.id},
        {"title": "2", "reviewer": None},
    ]

    counting.reset_command_counts()
    loaded = await repos.books.find_one(Book.Q.id == book.id, fetch_links=True)
    assert counting.command_counts() == {"find": 4}  # the book, then one per link path
    assert loaded is not None
    assert loaded.author.doc.name == "Ada"
    assert [e.doc.name for e in loaded.editors] == ["Bob", "Cy"]
    reviewer = loaded.chapters[0].reviewer
    assert reviewer is not None and reviewer.doc.name == "Cy"
    assert loaded.chapters[1].reviewer is None
    # One document per id and load: the editor and the reviewer are the same Cy only when
    # read by the same path; each loaded document ran its on_fetch hook once.
    assert loaded.editors[1].doc.fetched == 1 and reviewer.doc.fetched == 1


async def test_dbrefs_written_by_beanie_read_as_links(repos: Repos) -> None:
    ada = await repos.authors.create(Author(name="Ada"))
    # Beanie stores every link as a DBRef: {"$ref": <collection>, "$id": <id>}.
    beanie_book = {
        "_id": uuid4(),
        "title": "Old",
        "author": {"$ref": "author", "$id": ada.id},
        "editors": [{"$ref": "author", "$id": ada.id}],
        "chapters": [{"title": "1", "reviewer": {"$ref": "author", "$id": ada.id, "$db": "x"}}],
    }
    await repos.books.collection.insert_one(beanie_book)
    (loaded,) = await repos.books.find({"title": "Old"}, fetch_links=True)
    assert loaded.author.id == ada.id and loaded.author.doc.name == "Ada"
    assert loaded.editors[0].doc.name == "Ada"
    reviewer = loaded.chapters[0].reviewer
    assert reviewer is not None and reviewer.doc.name == "Ada"


class DBRefReview(VellumBaseModel):
    """A top-level DBRef link: Pydantic keeps its AsDBRef() in the field's metadata."""

    text: str
    author: Annotated[Link[Author], AsDBRef()]


async def test_a_top_level_dbref_link_is_filtered_loaded_and_written_as_a_dbref(
    repos: Repos, counting: VellumClient
) -> None:
    reviews = VellumRepository(DBRefReview, counting)
    ada = await repos.authors.create(Author(name="Ada"))
    made = await reviews.create(DBRefReview(text="good", author=Link(ada)))
    stored = await stored_document(reviews, made.id)
    assert stored["author"] == {"$ref": "author", "$id": ada.id}
    Q = DBRefReview.Q
    assert (Q.author.id == ada.id).to_filter() == {"author.$id": ada.id}
    assert await reviews.count(Q.author.id == ada.id) == 1
    assert await reviews.count(Q.author == ada) == 1
    (loaded,) = await reviews.find(Q.author.name == "Ada", fetch_links=True)
    assert loaded.author.doc.name == "Ada"


async def test_a_dbref_to_another_collection_is_refused_with_the_fix(repos: Repos) -> None:
    from vellum import DocumentValidationError

    await repos.books.collection.insert_one(
        {"_id": uuid4(), "title": "X", "author": {"$ref": "Author", "$id": ObjectId()}}
    )
    with pytest.raises(DocumentValidationError, match="collection_name"):
        await repos.books.find({"title": "X"})


async def test_finding_a_thousand_books_costs_one_query_per_link_path(
    repos: Repos, counting: VellumClient
) -> None:
    authors = await repos.authors.create_many(Author(name=f"a{i}") for i in range(100))
    await repos.books.create_many(
        Book(title=f"b{i}", author=Link(authors[i % 100])) for i in range(1000)
    )
    counting.reset_command_counts()
    await repos.books.find()
    plain = counting.command_counts()
    counting.reset_command_counts()
    books = await repos.books.find(fetch_links=["author"])
    with_links = counting.command_counts()
    batches = plain["find"] + plain.get("getMore", 0)
    assert with_links == {**plain, "find": plain["find"] + 1}
    assert sum(with_links.values()) <= 2 * batches
    assert {b.author.doc.name for b in books} == {f"a{i}" for i in range(100)}
    # Books by one author share the one loaded document.
    assert books[0].author.doc is books[100].author.doc


async def test_iter_loads_links_per_batch(repos: Repos, counting: VellumClient) -> None:
    ada = await repos.authors.create(Author(name="Ada"))
    await repos.books.create_many(Book(title=f"b{i}", author=Link(ada)) for i in range(10))
    counting.reset_command_counts()
    titles = [b.title async for b in repos.books.iter(batch_size=4, fetch_links=True)]
    counts = counting.command_counts()
    assert len(titles) == 10
    # 3 batches of books (find + 2 getMore), each with one author query.
    assert counts == {"find": 1 + 3, "getMore": 2}


async def test_missing_and_soft_deleted_targets_load_as_missing(repos: Repos) -> None:
    ada, bob = await repos.authors.create_many([Author(name="Ada"), Author(name="Bob")])
    gone = await repos.books.create(Book(title="gone", author=Link(ada)))
    hidden = await repos.books.create(Book(title="hidden", author=Link(bob)))
    await repos.authors.delete(ada.id)
    await repos.authors.soft_delete(bob.id)

    loaded = await repos.books.get(gone.id, fetch_links=True)
    assert loaded is not None and loaded.author.fetched and loaded.author.missing
    with pytest.raises(DanglingLinkError) as caught:
        _ = loaded.author.doc
    assert caught.value.document_id == ada.id and caught.value.model == "Author"

    soft = await repos.books.get(hidden.id, fetch_links=True)
    assert soft is not None and soft.author.missing
    shown = await repos.books.get(hidden.id, fetch_links=True, include_deleted=True)
    assert shown is not None and shown.author.doc.name == "Bob"
    with pytest.raises(DanglingLinkError):
        await (await repos.books.get(gone.id)).author.fetch()  # type: ignore[union-attr]


async def test_back_links_and_nested_paths(repos: Repos, counting: VellumClient) -> None:
    house = await repos.publishers.create(Publisher(name="House"))
    ada = await repos.authors.create(Author(name="Ada", publisher=Link(house)))
    bob = await repos.authors.create(Author(name="Bob"))
    await repos.books.create_many(
        [
            Book(title="one", author=Link(ada)),
            Book(title="two", author=Link(ada), chapters=[Chapter(title="c", reviewer=Link(bob))]),
            Book(title="three", author=Link(bob)),
        ]
    )
    counting.reset_command_counts()
    authors = await repos.authors.find(sort=[("name", 1)], fetch_links=True)
    assert counting.command_counts() == {"find": 1 + 3}  # publisher, books, reviewed
    by_name = {a.name: a for a in authors}
    assert sorted(b.title for b in by_name["Ada"].books) == ["one", "two"]
    assert [b.title for b in by_name["Bob"].reviewed] == ["two"]
    assert [b.title for b in by_name["Bob"].books] == ["three"]
    assert by_name["Ada"].publisher is not None and by_name["Ada"].publisher.doc.name == "House"
    # One level: the books' own links are not loaded.
    assert not by_name["Ada"].books.docs[0].author.fetched
    # A back-link is stored nowhere.
    stored = await stored_document(repos.authors, ada.id)
    assert "books" not in stored and "reviewed" not in stored

    counting.reset_command_counts()
    book = await repos.books.find_one({"title": "one"}, fetch_links=["author.publisher"])
    assert counting.command_counts() == {"find": 3}
    assert book is not None
    publisher = book.author.doc.publisher
    assert publisher is not None and publisher.doc.name == "House"
    assert not book.author.doc.books.fetched

    deep = await repos.books.find_one({"title": "one"}, fetch_links=2)
    assert deep is not None
    assert sorted(b.title for b in deep.author.doc.books) == ["one", "two"]


async def test_cycles_stop_at_the_depth_asked_for(repos: Repos) -> None:
    ada = await repos.authors.create(Author(name="Ada"))
    await repos.books.create(Book(title="one", author=Link(ada)))
    author = await repos.authors.get(ada.id, fetch_links=3)
    assert author is not None
    book = author.books.docs[0]
    assert book.author.doc.books.fetched  # author -> books -> author -> books
    assert not book.author.doc.books.docs[0].author.fetched


async def test_fetch_links_refuses_what_it_cannot_load(repos: Repos) -> None:
    with pytest.raises(QueryError, match="list of paths"):
        await repos.books.find(fetch_links="author")
    with pytest.raises(QueryError, match=r"no link at 'title'.*'author'"):
        await repos.books.find(fetch_links=["title"])
    with pytest.raises(QueryError, match="depth from 0 to 10"):
        await repos.books.find(fetch_links=11)


async def test_links_load_in_the_session_of_the_read(repos: Repos, counting: VellumClient) -> None:
    async with counting.transaction() as session:
        ada = await repos.authors.create(Author(name="Ada"), session=session)
        book = await repos.books.create(Book(title="t", author=Link(ada)), session=session)
        inside = await repos.books.get(book.id, fetch_links=True, session=session)
        assert inside is not None and inside.author.doc.name == "Ada"


def test_link_fields_take_documents_ids_links_and_dbrefs() -> None:
    ada = Author(name="Ada")
    assert Book(title="t", author=ada).author.doc is ada  # type: ignore[arg-type]
    assert Book(title="t", author=ada.id).author == Link(ada)  # type: ignore[arg-type]
    as_ref: Any = {"$ref": "author", "$id": str(ada.id)}
    assert Book(title="t", author=as_ref).author.id == ada.id
    book = Book(title="t", author=Link(ada))
    book.author = Author(name="Bob")  # type: ignore[assignment]
    assert book.author.doc.name == "Bob"
    with pytest.raises(ValueError, match="not an id of Author"):
        Book(title="t", author="nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected a Author"):
        Book(title="t", author=Publisher(name="p"))  # type: ignore[arg-type]
    assert Book(title="t", author=ada).model_dump(mode="json")["author"] == str(ada.id)  # type: ignore[arg-type]
    assert "books" not in ada.model_dump()


def test_a_link_needs_its_model_and_a_back_link_its_field() -> None:
    with pytest.raises(TypeError, match=r"Link\[User\]"):

        class Bad(VellumBaseModel):  # pyright: ignore[reportUnusedClass]
            other: Link  # type: ignore[type-arg]

    with pytest.raises(TypeError, match="BackLink"):

        class Lost(VellumBaseModel):  # pyright: ignore[reportUnusedClass]
            books: BackLink[Book]


async def test_filters_across_links_and_by_link_id(repos: Repos) -> None:
    house = await repos.publishers.create(Publisher(name="House"))
    ada = await repos.authors.create(Author(name="Ada", publisher=Link(house)))
    bob = await repos.authors.create(Author(name="Bob"))
    await repos.books.create_many(
        [
            Book(title="one", author=Link(ada), editors=[Link(bob)]),
            Book(title="two", author=Link(ada)),
            Book(
                title="three", author=Link(bob), chapters=[Chapter(title="c", reviewer=Link(ada))]
            ),
        ]
    )
    by_ada = await repos.books.find(Book.Q.author.name == "Ada", sort=[("title", 1)])
    assert [b.title for b in by_ada] == ["one", "two"]
    # Fetched too, and with the rest of the read's options.
    (first,) = await repos.books.find(
        (Book.Q.author.name == "Ada") & (Book.Q.title != "two"), fetch_links=True, limit=1
    )
    assert first.title == "one" and first.author.doc.name == "Ada"
    # Two hops, a list of DBRefs, a link inside a list of embedded models.
    by_house = await repos.books.find(Book.Q.author.publisher.name == "House")
    assert sorted(b.title for b in by_house) == ["one", "two"]
    assert [b.title for b in await repos.books.find(Book.Q.chapters.reviewer.name == "Ada")] == [
        "three"
    ]
    assert await repos.books.count(Book.Q.author.name == "Bob") == 1
    found = await repos.books.find_one(Book.Q.author.name == "Bob")
    assert found is not None and found.title == "three"
    assert [b.title async for b in repos.books.iter(Book.Q.author.name == "Bob")] == ["three"]
    # The looked-up documents are not left in the results.
    stored = await repos.books.find(Book.Q.author.name == "Bob", projection=None)
    assert "_vellum_author" not in stored[0].model_dump()

    # By the link's id: a plain filter, no lookup.
    assert (Book.Q.author.id == ada.id).to_filter() == {"author": ada.id}
    assert (Book.Q.author == ada).to_filter() == {"author": ada.id}
    assert (Book.Q.editors.contains(bob)).to_filter() == {"editors.$id": bob.id}
    assert sorted(b.title for b in await repos.books.find(Book.Q.author.id == ada.id)) == [
        "one",
        "two",
    ]
    assert [b.title for b in await repos.books.find(Book.Q.editors.id == bob.id)] == ["one"]


async def test_filters_across_links_leave_soft_deleted_targets_out(repos: Repos) -> None:
    ada = await repos.authors.create(Author(name="Ada"))
    await repos.books.create(Book(title="one", author=Link(ada)))
    await repos.authors.soft_delete(ada.id)
    assert await repos.books.find(Book.Q.author.name == "Ada") == []


def test_links_are_read_across_in_filters_only() -> None:
    with pytest.raises(QueryError, match="linked document"):
        Book.Q.author.name.set("x")
    with pytest.raises(QueryError, match="linked document"):
        Book.Q.author.name.asc()
    assert Book.Q.author.asc().path == "author"
    ada = Author(name="A")
    assert Book.Q.author.set(ada).to_update() == {"$set": {"author": ada.id}}
    assert Book.Q.editors.push(ada).to_update() == {
        "$push": {"editors": {"$ref": "author", "$id": ada.id}}
    }


async def test_updates_and_deletes_refuse_filters_across_links(repos: Repos) -> None:
    with pytest.raises(QueryError, match=r"link's id"):
        await repos.books.delete_many(Book.Q.author.name == "Ada")
    with pytest.raises(QueryError, match=r"link's id"):
        await repos.books.update_many(Book.Q.author.name == "Ada", Book.Q.title.set("x"))


async def test_a_link_to_an_unsaved_document_is_refused_or_written_first(
    repos: Repos, counting: VellumClient
) -> None:
    from vellum import LinkRule, UnsavedLinkError

    ghost = Author(name="Ghost")
    with pytest.raises(UnsavedLinkError, match=r"LinkRule\.WRITE") as caught:
        await repos.books.create(Book(title="t", author=Link(ghost)))
    assert "Author" in str(caught.value)
    assert await repos.books.count() == 0 and await repos.authors.count() == 0

    house = Publisher(name="House")
    ada = Author(name="Ada", publisher=Link(house))
    book = await repos.books.create(
        Book(title="t", author=Link(ada), chapters=[Chapter(title="c", reviewer=Link(ada))]),
        link_rule=LinkRule.WRITE,
    )
    assert ada.created_at is not None and house.created_at is not None
    loaded = await repos.books.get(book.id, fetch_links=2)
    assert loaded is not None
    publisher = loaded.author.doc.publisher
    assert publisher is not None and publisher.doc.name == "House"

    # A stored document linked from a copy without timestamps is not written again.
    copy = Author(id=ada.id, name="Ada")
    await repos.books.create(Book(title="u", author=Link(copy)))
    assert await repos.authors.count() == 1

    # In a transaction, the linked documents and the document are written together.
    async with counting.transaction() as session:
        bob = Author(name="Bob")
        await repos.books.create(
            Book(title="v", author=Link(bob)), session=session, link_rule=LinkRule.WRITE
        )
    assert await repos.authors.get(bob.id) is not None

    # save() applies the rule too.
    stored = await repos.books.get(book.id)
    assert stored is not None
    stored.author = Link(Author(name="Cy"))
    with pytest.raises(UnsavedLinkError):
        await repos.books.save(stored)
    await repos.books.save(stored, link_rule=LinkRule.WRITE)
    assert await repos.authors.find_one({"name": "Cy"}) is not None


async def test_deleting_with_links_deletes_the_linked_documents_on_request(repos: Repos) -> None:
    from vellum import DeleteRule

    ada, bob = await repos.authors.create_many([Author(name="Ada"), Author(name="Bob")])
    keep = await repos.books.create(Book(title="keep", author=Link(ada)))
    cascade = await repos.books.create(Book(title="cascade", author=Link(bob)))
    assert await repos.books.delete(keep.id)
    assert await repos.authors.get(ada.id) is not None  # the default leaves linked documents
    assert await repos.books.delete(cascade.id, link_rule=DeleteRule.DELETE_LINKS)
    assert await repos.authors.get(bob.id, include_deleted=True) is None
    assert not await repos.books.delete(cascade.id, link_rule=DeleteRule.DELETE_LINKS)


async def test_aggregation_results_load_their_links(repos: Repos, counting: VellumClient) -> None:
    ada = await repos.authors.create(Author(name="Ada"))
    await repos.books.create_many(Book(title=f"b{i}", author=Link(ada)) for i in range(3))
    pipeline = repos.books.aggregate_pipeline().match(Book.Q.title != "b1").sort(("title", 1))
    counting.reset_command_counts()
    books = await pipeline.execute(fetch_links=True)
    assert counting.command_counts() == {"aggregate": 1, "find": 1}
    assert [(b.title, b.author.doc.name) for b in books] == [("b0", "Ada"), ("b2", "Ada")]
    first = await pipeline.first(fetch_links=["author"])
    assert first is not None and first.author.doc is not None
    counted = repos.books.aggregate_pipeline().group("$author", n=acc.sum(1))
    with pytest.raises(QueryError, match="output model"):
        await counted.execute(fetch_links=True)


def test_a_model_whose_link_target_is_not_defined_yet_is_refused_with_the_fix(
    client: VellumClient,
) -> None:
    class Early(VellumBaseModel):
        later: Link[Later]  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(TypeError, match=r"Early\.model_rebuild\(\)"):
        VellumRepository(Early, client)


class Reviewer(VellumBaseModel, Versioned):
    name: str


class Review(VellumBaseModel):
    text: str
    reviewer: Link[Reviewer]


async def test_loaded_documents_keep_their_versions_for_optimistic_writes(
    counting: VellumClient,
) -> None:
    reviewers = VellumRepository(Reviewer, counting)
    reviews = VellumRepository(Review, counting)
    rita = await reviewers.create(Reviewer(name="Rita"))
    review = await reviews.create(Review(text="fine", reviewer=Link(rita)))
    first = await reviews.get(review.id, fetch_links=True)
    second = await reviews.get(review.id, fetch_links=True)
    assert first is not None and second is not None
    loaded = first.reviewer.doc
    assert loaded.version == 1
    loaded.name = "Rita B."
    assert (await reviewers.save(loaded)).version == 2
    stale = second.reviewer.doc
    stale.name = "Rita C."
    with pytest.raises(OptimisticLockError):
        await reviewers.save(stale)


async def test_very_many_ids_are_read_in_bounded_concurrent_chunks(
    repos: Repos, counting: VellumClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vellum._links

    monkeypatch.setattr(vellum._links, "IN_CHUNK", 2)
    authors = await repos.authors.create_many(Author(name=f"a{i}") for i in range(5))
    await repos.books.create_many(
        Book(title=f"b{i}", author=Link(a)) for i, a in enumerate(authors)
    )
    counting.reset_command_counts()
    books = await repos.books.find(fetch_links=["author"])
    assert counting.command_counts() == {"find": 1 + 3}  # 5 ids in chunks of 2
    assert sorted(b.author.doc.name for b in books) == [f"a{i}" for i in range(5)]


async def test_models_with_back_links_update_and_compare(repos: Repos) -> None:
    ada = await repos.authors.create(Author(name="Ada"))
    updated = await repos.authors.update(ada.id, {"name": "Ada L."})
    assert updated is not None and updated.name == "Ada L."
    again = await repos.authors.get(ada.id)
    assert again is not None
    assert again.books == updated.books  # a back-link stores nothing: equal loaded or not
    assert Author.model_construct(name="x").books.field == "author"


class Inner(BaseModel):
    b: Link[Publisher] | None = None


class Collide(VellumBaseModel):
    a_b: Link[Author] | None = None
    a: Inner = Inner()


def test_lookups_of_different_paths_never_share_a_name() -> None:
    expr = (Collide.Q.a_b.name == "x") & (Collide.Q.a.b.name == "y")
    lookups = [s["$lookup"] for s in expr.lookup_pipeline().stages if "$lookup" in s]
    assert [(lookup["from"], lookup["as"]) for lookup in lookups] == [
        ("author", "_vellum_a__b"),
        ("publisher", "_vellum_a_b"),
    ]


class Person(VellumBaseModel):
    name: str
    friend: Link[Person] | None = None


async def test_write_stores_a_cycle_of_unsaved_documents(counting: VellumClient) -> None:
    from vellum import LinkRule

    people = VellumRepository(Person, counting)
    a, b = Person(name="a"), Person(name="b")
    a.friend, b.friend = Link(b), Link(a)
    await people.create(a, link_rule=LinkRule.WRITE)
    loaded = await people.get(a.id, fetch_links=2)
    assert loaded is not None and loaded.friend is not None
    friend = loaded.friend.doc
    assert friend.name == "b" and friend.friend is not None and friend.friend.doc.name == "a"


def test_a_link_to_an_id_is_checked_and_not_loaded() -> None:
    ada = Author(name="Ada")
    link = Link.to(Author, str(ada.id))
    assert link.id == ada.id and not link.fetched and link == Link(ada)
    with pytest.raises(DocumentValidationError, match="'not an id' is not an id of Author"):
        Link.to(Author, "not an id")
