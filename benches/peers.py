"""The libraries the benchmark compares, each behind the same small interface.

Every peer runs the same operations on the same `users` documents (UUID `_id`, strings, int,
Decimal, bool, two UTC datetimes, a list of strings, a nested address, a version int) with
its own defaults, except where a setting is needed to read those documents at all (pymongo's
`uuidRepresentation="standard"`, so that UUIDs come back as UUIDs). What each peer returns is
what its users get: raw dicts for the drivers, validated models for the ODMs.

The links scenario reads a library instead: books that each link to one author, loaded with
their authors. The ODMs use their own link fields (Vellum's `Link` stored as the author's
`_id`, in `books`; Beanie's `Link` stored as a DBRef and joined with `$lookup`, in
`books_dbref`); the drivers join by hand: every book, then one `$in` query for their authors.

The migration scenario runs each ODM's migration tool on a folder holding one migration (see
migration.py); the drivers have none.
"""
# No `from __future__ import annotations`: the ODMs resolve models defined inside functions.

import importlib.metadata
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, Field

from migration import BEANIE as BEANIE_MIGRATION
from migration import VELLUM as VELLUM_MIGRATION

USERS = "users"
INSERTS = "inserts"
AUTHORS = "authors"
BOOKS = "books"  # the link stored as the author's _id
BOOKS_DBREF = "books_dbref"  # the link stored as a DBRef (Beanie's form)
GROUP_PIPELINE: list[dict[str, Any]] = [
    {
        "$group": {
            "_id": "$address.city",
            "users": {"$sum": 1},
            "avg_age": {"$avg": "$age"},
            "total_balance": {"$sum": "$balance"},
        }
    }
]


def version_of(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# -- the documents ------------------------------------------------------------------------

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson"]
TAGS = ["premium", "beta", "newsletter", "mobile", "web", "trial", "enterprise", "support"]
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def user_document(i: int) -> dict[str, Any]:
    """One user as the drivers insert it (the same shape the stub server serves)."""
    first, last = FIRST[i % 8], LAST[(i // 8) % 8]
    created = BASE + timedelta(minutes=i)
    return {
        "_id": uuid.uuid4(),
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}{i}@example.com",
        "age": 18 + i % 63,
        "balance": Decimal(i % 100_000) / 100,
        "active": i % 10 < 8,
        "created_at": created,
        "updated_at": created + timedelta(seconds=i % 86_400),
        "tags": [TAGS[i % 8], TAGS[(i + 3) % 8], TAGS[(i + 5) % 8]],
        "address": {"city": f"city-{i % 1000}", "zip": f"{i % 100_000:05d}"},
        "version": 1 + i % 5,
    }


COUNTRIES = ["US", "IT", "AR", "GB", "CO", "NG", "JP", "FR"]


def library_documents(
    books: int, authors: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Authors, and books that each link to one of them by `_id` (the shape the stub serves;
    a real server is seeded with these)."""
    rng = random.Random(0x5EED)

    def uid() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    author_docs = [
        {
            "_id": uid(),
            "name": f"{FIRST[i % 8]} {LAST[(i // 8) % 8]} {i}",
            "born": 1850 + rng.randrange(130),
            "country": COUNTRIES[i % 8],
        }
        for i in range(authors)
    ]
    book_docs = [
        {
            "_id": uid(),
            "title": f"{TAGS[rng.randrange(8)].title()} {LAST[rng.randrange(8)]} {i}",
            "year": 1900 + rng.randrange(125),
            "author": author_docs[rng.randrange(authors)]["_id"],
        }
        for i in range(books)
    ]
    return author_docs, book_docs


def _from_decimal128(value: Any) -> Any:
    # pymongo (and mongojet, which decodes with pymongo's bson) return Decimal128: a hand-rolled
    # ODM converts it before Pydantic sees it.
    to_decimal = getattr(value, "to_decimal", None)
    return value if to_decimal is None else to_decimal()


def for_driver(document: dict[str, Any]) -> dict[str, Any]:
    """A document as pymongo's codec takes it: its Decimal as Decimal128."""
    from bson import Decimal128

    document["balance"] = Decimal128(document["balance"])
    return document


Money = Annotated[Decimal, BeforeValidator(_from_decimal128)]


class Address(BaseModel):
    city: str
    zip: str


class PlainUser(BaseModel):
    """The hand-rolled ODM's model: pymongo (or mongojet) plus `model_validate`."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, alias="_id")
    name: str
    email: str
    age: int
    balance: Money
    active: bool
    created_at: datetime
    updated_at: datetime
    tags: list[str]
    address: Address
    version: int


# The constrained scenario's model: the same fields with ordinary constraints, as production
# models have them (a length, a pattern, two bounds). Every stored user meets them.
Name = Annotated[str, Field(max_length=64)]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]+$")]
Age = Annotated[int, Field(ge=0)]
Version = Annotated[int, Field(ge=1)]


class ConstrainedUser(PlainUser):
    name: Name
    email: Email
    age: Age
    version: Version


def _from_binary(value: Any) -> Any:
    as_uuid = getattr(value, "as_uuid", None)
    return value if as_uuid is None else as_uuid()


class JetUser(PlainUser):
    """mongojet decodes with pymongo's default codec options, where a UUID is a `Binary`."""

    id: Annotated[uuid.UUID, BeforeValidator(_from_binary)] = Field(
        default_factory=uuid.uuid4, alias="_id"
    )


class PlainAuthor(BaseModel):
    id: uuid.UUID = Field(alias="_id")
    name: str
    born: int
    country: str


class PlainBook(BaseModel):
    """The hand-written join's book: its author embedded, validated with each book from the
    author's dict."""

    id: uuid.UUID = Field(alias="_id")
    title: str
    year: int
    author: PlainAuthor


class CityStats(BaseModel):
    """The validated output model of the `$group` aggregation."""

    id: str = Field(alias="_id")
    users: int
    avg_age: float
    total_balance: Money


# -- the interface ------------------------------------------------------------------------


class Peer:
    """One library. `label` names it in the report, `package` gives its version."""

    label = ""
    package = ""

    async def connect(self, uri: str, database: str) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None

    async def find(self, n: int) -> list[Any]:
        raise NotImplementedError

    async def get(self, doc_id: uuid.UUID) -> Any:
        raise NotImplementedError

    async def find_constrained(self, n: int) -> list[Any]:
        """`find`, into the model with constraints (`ConstrainedUser`'s)."""
        raise NotImplementedError

    def insert_payload(self, documents: list[dict[str, Any]]) -> list[Any]:
        """What this peer's users hold before an insert (models, or dicts for the drivers);
        built outside the timed part."""
        return [PlainUser.model_validate(d) for d in documents]

    async def insert_many(self, payload: list[Any]) -> None:
        raise NotImplementedError

    async def update_one(self, doc_id: uuid.UUID, age: int) -> None:
        raise NotImplementedError

    async def aggregate_group(self) -> list[Any]:
        raise NotImplementedError

    def stream(self, n: int) -> AsyncIterator[Any]:
        raise NotImplementedError

    async def ping(self) -> None:
        raise NotImplementedError

    async def find_books(self) -> list[Any]:
        """Every book with its author loaded: the ODM's own link loading, or a second query
        by hand for a driver."""
        raise NotImplementedError

    def book_authors(self, books: list[Any]) -> dict[str, str]:
        """Title to author name in what `find_books` returned, to check that peers agree."""
        raise NotImplementedError

    migration = ""
    """The source of this ODM's migration module (migration.py), for `migrate`."""

    async def migrate(self, folder: Path) -> None:
        """Runs the migrations in `folder` with this ODM's own tool, as its users run it."""
        raise NotImplementedError

    @property
    def version(self) -> str:
        return version_of(self.package)


# -- Vellum ----------------------------------------------------------------------------------


class VellumPeer(Peer):
    label = "vellum"
    package = "vellum-odm"
    trusted = False

    async def connect(self, uri: str, database: str) -> None:
        from vellum import Link, VellumBaseModel, VellumRepository, connect_to_mongodb

        class VUser(VellumBaseModel):
            name: str
            email: str
            age: int
            balance: Decimal
            active: bool
            tags: list[str]
            address: Address
            version: int

            class Settings:
                collection_name = USERS
                validate_on_fetch = not self.trusted

        class VInsert(VUser):
            class Settings:
                collection_name = INSERTS

        class VConstrained(VellumBaseModel):
            name: Name
            email: Email
            age: Age
            balance: Decimal
            active: bool
            tags: list[str]
            address: Address
            version: Version

            class Settings:
                collection_name = USERS
                validate_on_fetch = not self.trusted

        class Author(VellumBaseModel):
            name: str
            born: int
            country: str

            class Settings:
                collection_name = AUTHORS

        class Book(VellumBaseModel):
            title: str
            year: int
            author: Link[Author]

            class Settings:
                collection_name = BOOKS

        self.model = VUser
        self.client = await connect_to_mongodb(uri, database)
        self.users = VellumRepository(VUser, self.client)
        self.constrained = VellumRepository(VConstrained, self.client)
        self.inserts = VellumRepository(VInsert, self.client)
        self.insert_model = VInsert
        self.author_model = Author
        self.books = VellumRepository(Book, self.client)

    async def close(self) -> None:
        await self.client.close()

    async def find(self, n: int) -> list[Any]:
        return await self.users.find(limit=n)

    async def find_constrained(self, n: int) -> list[Any]:
        return await self.constrained.find(limit=n)

    async def get(self, doc_id: uuid.UUID) -> Any:
        return await self.users.get(doc_id)

    def insert_payload(self, documents: list[dict[str, Any]]) -> list[Any]:
        return [self.insert_model.model_validate(d) for d in documents]

    async def insert_many(self, payload: list[Any]) -> None:
        await self.inserts.create_many(payload)

    async def update_one(self, doc_id: uuid.UUID, age: int) -> None:
        q = self.model.Q
        await self.users.update_one(q.id == doc_id, q.age.set(age))

    async def aggregate_group(self) -> list[Any]:
        from vellum import acc

        q = self.model.Q
        pipeline = self.users.aggregate_pipeline().group(
            q.address.city,
            output_model=CityStats,
            users=acc.sum(1),
            avg_age=acc.avg(q.age),
            total_balance=acc.sum(q.balance),
        )
        return await pipeline.to_list()

    async def stream(self, n: int) -> AsyncIterator[Any]:
        async for user in self.users.iter(limit=n):
            yield user

    async def ping(self) -> None:
        await self.client.command({"ping": 1})

    async def find_books(self) -> list[Any]:
        return await self.books.find(fetch_links=True)

    def book_authors(self, books: list[Any]) -> dict[str, str]:
        assert all(isinstance(b.author.doc, self.author_model) for b in books)
        return {b.title: b.author.doc.name for b in books}

    migration = VELLUM_MIGRATION

    async def migrate(self, folder: Path) -> None:
        from vellum.migrations import upgrade

        # Transactions where the deployment has them (the default): none on the stub.
        applied = await upgrade(self.client, None, folder)
        assert len(applied) == 1, applied

    @property
    def transactions(self) -> bool:
        return self.client.supports_transactions


class VellumTrustedPeer(VellumPeer):
    label = "vellum trusted"
    trusted = True

    async def find_books(self) -> list[Any]:
        raise NotImplementedError("validate_on_fetch=False takes no Link fields")

    async def migrate(self, folder: Path) -> None:
        raise NotImplementedError  # the same run as vellum's: a migration's models are its own


# -- pymongo ---------------------------------------------------------------------------------


class PymongoPeer(Peer):
    """pymongo's native async client, returning raw dicts: the baseline of every ratio."""

    label = "pymongo raw"
    package = "pymongo"

    async def connect(self, uri: str, database: str) -> None:
        from pymongo import AsyncMongoClient

        self.client: Any = AsyncMongoClient(uri, uuidRepresentation="standard")
        self.db = self.client[database]
        self.users = self.db[USERS]
        self.inserts = self.db[INSERTS]

    async def close(self) -> None:
        await self.client.close()

    async def find(self, n: int) -> list[Any]:
        return await self.users.find({}, limit=n).to_list()

    async def find_constrained(self, n: int) -> list[Any]:
        return await self.find(n)  # raw dicts: nothing is checked

    async def get(self, doc_id: uuid.UUID) -> Any:
        return await self.users.find_one({"_id": doc_id})

    def insert_payload(self, documents: list[dict[str, Any]]) -> list[Any]:
        # A driver's users hold what its codec encodes: Decimal128, not Decimal.
        return [for_driver(dict(d)) for d in documents]

    async def insert_many(self, payload: list[Any]) -> None:
        await self.inserts.insert_many(payload)

    async def update_one(self, doc_id: uuid.UUID, age: int) -> None:
        await self.users.update_one({"_id": doc_id}, {"$set": {"age": age}})

    async def aggregate_group(self) -> list[Any]:
        cursor = await self.users.aggregate(GROUP_PIPELINE)
        return await cursor.to_list()

    async def stream(self, n: int) -> AsyncIterator[Any]:
        async for doc in self.users.find({}, limit=n):
            yield doc

    async def ping(self) -> None:
        await self.db.command("ping")

    async def find_books(self) -> list[Any]:
        """The best join by hand: every book, then one `$in` query for their distinct
        authors, each book's link replaced by its author's dict."""
        books = await self.db[BOOKS].find({}).to_list()
        ids = list(dict.fromkeys(book["author"] for book in books))
        found = await self.db[AUTHORS].find({"_id": {"$in": ids}}).to_list()
        authors = {author["_id"]: author for author in found}
        for book in books:
            book["author"] = authors.get(book["author"])
        return books

    def book_authors(self, books: list[Any]) -> dict[str, str]:
        return {b["title"]: b["author"]["name"] for b in books}


class Validating(Peer):
    """The hand-rolled ODM on a driver peer: its dicts through `model_validate`, and
    `model_dump` to write. Mixed in before the driver peer."""

    user_model: type[PlainUser] = PlainUser

    async def find(self, n: int) -> list[Any]:
        validate = self.user_model.model_validate
        return [validate(d) for d in await super().find(n)]

    async def find_constrained(self, n: int) -> list[Any]:
        validate = ConstrainedUser.model_validate
        return [validate(d) for d in await super().find(n)]

    async def get(self, doc_id: uuid.UUID) -> Any:
        doc = await super().get(doc_id)
        return None if doc is None else self.user_model.model_validate(doc)

    def insert_payload(self, documents: list[dict[str, Any]]) -> list[Any]:
        return [self.user_model.model_validate(d) for d in documents]

    async def insert_many(self, payload: list[Any]) -> None:
        await super().insert_many([self.dumped(m) for m in payload])

    def dumped(self, model: BaseModel) -> dict[str, Any]:
        return for_driver(model.model_dump(by_alias=True))

    async def aggregate_group(self) -> list[Any]:
        return [CityStats.model_validate(d) for d in await super().aggregate_group()]

    async def stream(self, n: int) -> AsyncIterator[Any]:
        async for doc in super().stream(n):
            yield self.user_model.model_validate(doc)

    async def find_books(self) -> list[Any]:
        validate = PlainBook.model_validate
        return [validate(book) for book in await super().find_books()]

    def book_authors(self, books: list[Any]) -> dict[str, str]:
        assert all(isinstance(b.author, PlainAuthor) for b in books)
        return {b.title: b.author.name for b in books}


class PymongoPydanticPeer(Validating, PymongoPeer):
    label = "pymongo+pydantic"


class MotorPeer(PymongoPeer):
    label = "motor raw"
    package = "motor"

    async def connect(self, uri: str, database: str) -> None:
        from motor.motor_asyncio import AsyncIOMotorClient

        self.client = AsyncIOMotorClient(uri, uuidRepresentation="standard")
        self.db = self.client[database]
        self.users = self.db[USERS]
        self.inserts = self.db[INSERTS]

    async def close(self) -> None:
        self.client.close()

    async def find(self, n: int) -> list[Any]:
        return await self.users.find({}, limit=n).to_list(None)

    async def aggregate_group(self) -> list[Any]:
        return await self.users.aggregate(GROUP_PIPELINE).to_list(None)


# -- mongojet --------------------------------------------------------------------------------


class MongojetPeer(Peer):
    """mongojet (the Rust driver under a Python API), returning raw dicts."""

    label = "mongojet raw"
    package = "mongojet"

    async def connect(self, uri: str, database: str) -> None:
        from bson import Binary
        from mongojet import create_client

        self.client: Any = await create_client(uri)
        self.db = self.client.get_database(database)
        self.users = self.db.get_collection(USERS)
        self.inserts = self.db.get_collection(INSERTS)
        # Its codec cannot encode uuid.UUID: users convert ids themselves.
        self.binary = Binary.from_uuid

    async def close(self) -> None:
        await self.client.close()

    async def find(self, n: int) -> list[Any]:
        return await self.users.find_many({}, limit=n)

    async def get(self, doc_id: uuid.UUID) -> Any:
        return await self.users.find_one({"_id": self.binary(doc_id)})

    def insert_payload(self, documents: list[dict[str, Any]]) -> list[Any]:
        return [for_driver({**d, "_id": self.binary(d["_id"])}) for d in documents]

    async def insert_many(self, payload: list[Any]) -> None:
        await self.inserts.insert_many(payload)

    async def update_one(self, doc_id: uuid.UUID, age: int) -> None:
        await self.users.update_one({"_id": self.binary(doc_id)}, {"$set": {"age": age}})

    async def aggregate_group(self) -> list[Any]:
        cursor = await self.users.aggregate(GROUP_PIPELINE)
        return await cursor.to_list()

    async def stream(self, n: int) -> AsyncIterator[Any]:
        cursor = await self.users.find({}, limit=n)
        async for doc in cursor:
            yield doc

    async def ping(self) -> None:
        await self.db.run_command({"ping": 1})


class MongojetPydanticPeer(Validating, MongojetPeer):
    label = "mongojet+pydantic"
    user_model = JetUser

    def dumped(self, model: BaseModel) -> dict[str, Any]:
        document = super().dumped(model)
        document["_id"] = self.binary(document["_id"])
        return document


# -- Beanie ----------------------------------------------------------------------------------


class BeaniePeer(Peer):
    label = "beanie"
    package = "beanie"

    async def connect(self, uri: str, database: str) -> None:
        from beanie import DecimalAnnotation, Document, Link, init_beanie
        from pymongo import AsyncMongoClient

        class BUser(Document):
            id: uuid.UUID = Field(default_factory=uuid.uuid4)  # type: ignore[assignment]
            name: str
            email: str
            age: int
            balance: DecimalAnnotation  # Beanie's documented type for Decimal128
            active: bool
            created_at: datetime
            updated_at: datetime
            tags: list[str]
            address: Address
            version: int

            class Settings:
                name = USERS

        class BInsert(BUser):
            class Settings:
                name = INSERTS

        class BConstrained(Document):
            id: uuid.UUID = Field(default_factory=uuid.uuid4)  # type: ignore[assignment]
            name: Name
            email: Email
            age: Age
            balance: DecimalAnnotation
            active: bool
            created_at: datetime
            updated_at: datetime
            tags: list[str]
            address: Address
            version: Version

            class Settings:
                name = USERS

        class BAuthor(Document):
            id: uuid.UUID = Field(default_factory=uuid.uuid4)  # type: ignore[assignment]
            name: str
            born: int
            country: str

            class Settings:
                name = AUTHORS

        class BBook(Document):
            id: uuid.UUID = Field(default_factory=uuid.uuid4)  # type: ignore[assignment]
            title: str
            year: int
            author: Link[BAuthor]

            class Settings:
                name = BOOKS_DBREF

        self.model: Any = BUser
        self.constrained_model: Any = BConstrained
        self.insert_model: Any = BInsert
        self.author_model: Any = BAuthor
        self.book_model: Any = BBook
        self.uri, self.database = uri, database
        self.client: Any = AsyncMongoClient(uri, uuidRepresentation="standard")
        await init_beanie(
            database=self.client[database],
            document_models=[BUser, BInsert, BConstrained, BAuthor, BBook],
        )

    async def close(self) -> None:
        await self.client.close()

    async def find(self, n: int) -> list[Any]:
        return await self.model.find_all(limit=n).to_list()

    async def find_constrained(self, n: int) -> list[Any]:
        return await self.constrained_model.find_all(limit=n).to_list()

    async def get(self, doc_id: uuid.UUID) -> Any:
        return await self.model.get(doc_id)

    def insert_payload(self, documents: list[dict[str, Any]]) -> list[Any]:
        return [self.insert_model.model_validate({**d, "id": d["_id"]}) for d in documents]

    async def insert_many(self, payload: list[Any]) -> None:
        await self.insert_model.insert_many(payload)

    async def update_one(self, doc_id: uuid.UUID, age: int) -> None:
        from beanie.operators import Set

        await self.model.find_one(self.model.id == doc_id).update(Set({self.model.age: age}))

    async def aggregate_group(self) -> list[Any]:
        return await self.model.aggregate(GROUP_PIPELINE, projection_model=CityStats).to_list()

    async def stream(self, n: int) -> AsyncIterator[Any]:
        async for user in self.model.find_all(limit=n):
            yield user

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def find_books(self) -> list[Any]:
        return await self.book_model.find(fetch_links=True).to_list()

    def book_authors(self, books: list[Any]) -> dict[str, str]:
        assert all(isinstance(b.author, self.author_model) for b in books)
        return {b.title: b.author.name for b in books}

    migration = BEANIE_MIGRATION

    async def migrate(self, folder: Path) -> None:
        """What `beanie migrate -uri URI -db DB -p FOLDER --no-use-transaction` runs. Its
        runner connects a client of its own from the URI: the URI asks for standard UUIDs (the
        items' ids), as this peer's client does."""
        from beanie.executors.migrate import MigrationSettings, run_migrate

        settings = MigrationSettings(
            connection_uri=with_option(self.uri, "uuidRepresentation=standard"),
            database_name=self.database,
            path=str(folder),
            direction="FORWARD",
            use_transaction=False,  # its default from Python; the stub has no transactions
        )
        await run_migrate(settings)


def with_option(uri: str, option: str) -> str:
    """`uri` with one more `name=value` option."""
    if urlsplit(uri).query:
        return f"{uri}&{option}"
    return f"{uri}?{option}" if urlsplit(uri).path else f"{uri}/?{option}"


# -- ODMantic --------------------------------------------------------------------------------


class OdmanticPeer(Peer):
    """ODMantic on motor. It has no aggregation API (users go to the motor collection)."""

    label = "odmantic"
    package = "odmantic"

    async def connect(self, uri: str, database: str) -> None:
        from motor.motor_asyncio import AsyncIOMotorClient
        from odmantic import AIOEngine, EmbeddedModel, Model
        from odmantic import Field as OField

        class OAddress(EmbeddedModel):
            city: str
            zip: str

        def model(collection: str) -> Any:
            # ODMantic models cannot inherit from one another: one class per collection.
            class OUser(Model):
                id: uuid.UUID = OField(primary_field=True, default_factory=uuid.uuid4)
                name: str
                email: str
                age: int
                balance: Decimal
                active: bool
                created_at: datetime
                updated_at: datetime
                tags: list[str]
                address: OAddress
                version: int

                model_config = {"collection": collection}

            return OUser

        self.model = model(USERS)
        self.insert_model = model(INSERTS)
        self.client: Any = AsyncIOMotorClient(uri, uuidRepresentation="standard")
        self.engine: Any = AIOEngine(client=self.client, database=database)

    async def close(self) -> None:
        self.client.close()

    async def find(self, n: int) -> list[Any]:
        return await self.engine.find(self.model, limit=n)

    async def get(self, doc_id: uuid.UUID) -> Any:
        return await self.engine.find_one(self.model, self.model.id == doc_id)

    def insert_payload(self, documents: list[dict[str, Any]]) -> list[Any]:
        return [self.insert_model.model_validate_doc(d) for d in documents]

    async def insert_many(self, payload: list[Any]) -> None:
        await self.engine.save_all(payload)

    async def update_one(self, doc_id: uuid.UUID, age: int) -> None:
        # ODMantic updates through instances: the idiomatic update-by-id fetches, then saves.
        user = await self.engine.find_one(self.model, self.model.id == doc_id)
        user.model_update({"age": age})
        await self.engine.save(user)

    async def aggregate_group(self) -> list[Any]:
        raise NotImplementedError("ODMantic has no aggregation API")

    async def stream(self, n: int) -> AsyncIterator[Any]:
        async for user in self.engine.find(self.model, limit=n):
            yield user

    async def ping(self) -> None:
        await self.client.admin.command("ping")


PEERS: dict[str, type[Peer]] = {
    peer.label: peer
    for peer in (
        PymongoPeer,
        PymongoPydanticPeer,
        MotorPeer,
        MongojetPeer,
        MongojetPydanticPeer,
        BeaniePeer,
        OdmanticPeer,
        VellumPeer,
        VellumTrustedPeer,
    )
}
