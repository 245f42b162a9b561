from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from models import Address, Tagged, User
from vellum import (
    DocumentTooLargeError,
    DocumentValidationError,
    DuplicateKeyError,
    Index,
    IndexConflictError,
    ObjectId,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
)


@pytest.fixture
def users(client: VellumClient, db_name: str) -> VellumRepository[User]:
    return VellumRepository(User, client, db_name)


async def test_quickstart_flow(users: VellumRepository[User]) -> None:
    await users.ensure_indexes()
    ada = await users.create(User(name="Ada", email="ada@example.com", balance=Decimal("10.25")))
    assert await users.get(ada.id) == ada
    page = await users.find({"age": {"$gte": 0}}, skip=0, limit=20, sort=[("age", -1)])
    assert page == [ada]
    bob = await users.update(ada.id, {"age": 37})
    assert bob is not None and bob.age == 37 and bob.name == "Ada"
    assert await users.count({}) == 1
    assert await users.delete(ada.id) is True
    assert await users.delete(ada.id) is False
    assert await users.get(ada.id) is None


async def test_create_sets_utc_millisecond_timestamps(users: VellumRepository[User]) -> None:
    before = datetime.now(timezone.utc)
    ada = await users.create(User(name="Ada", email="a@x"))
    assert ada.created_at is not None and ada.created_at == ada.updated_at
    assert (
        ada.created_at.tzinfo is not None
        and ada.created_at.utcoffset() == timezone.utc.utcoffset(None)
    )
    assert ada.created_at.microsecond % 1000 == 0
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= ada.created_at


async def test_update_refreshes_updated_at_and_keeps_created_at(
    users: VellumRepository[User],
) -> None:
    ada = await users.create(User(name="Ada", email="a@x"))
    updated = await users.update(ada.id, {"name": "Ada L."})
    assert updated is not None
    assert updated.created_at == ada.created_at
    assert updated.updated_at is not None and ada.updated_at is not None
    assert updated.updated_at >= ada.updated_at


async def test_round_trip_of_every_field_type(users: VellumRepository[User]) -> None:
    boss = ObjectId()
    ada = await users.create(
        User(
            name="Ada",
            email="a@x",
            age=36,
            balance=Decimal("-1234567890.000000001"),
            address=Address(city="London", zip="N1"),
            tags=["math", "poetry"],
            manager=boss,
        )
    )
    got = await users.get(ada.id)
    assert got == ada
    assert got is not None and got.manager == boss and isinstance(got.balance, Decimal)


async def test_get_accepts_the_id_as_a_string(users: VellumRepository[User]) -> None:
    ada = await users.create(User(name="Ada", email="a@x"))
    assert await users.get(str(ada.id)) == ada


async def test_get_with_an_invalid_id_is_a_clear_error(users: VellumRepository[User]) -> None:
    with pytest.raises(DocumentValidationError, match="not a valid id for User"):
        await users.get("not-a-uuid")


async def test_find_sort_skip_limit(users: VellumRepository[User]) -> None:
    await users.create_many([User(name=f"u{i}", email=f"{i}@x", age=i) for i in range(10)])
    page = await users.find({"age": {"$gte": 3}}, skip=2, limit=3, sort=[("age", -1)])
    assert [u.age for u in page] == [7, 6, 5]
    assert [u.age for u in await users.find(sort={"age": 1}, limit=2)] == [0, 1]
    assert await users.count({"age": {"$lt": 4}}) == 4
    first = await users.find_one({"age": {"$gt": 4}}, sort=[("age", 1)])
    assert first is not None and first.age == 5
    assert await users.find_one({"age": 99}) is None


async def test_bad_sort_is_refused_before_the_query(users: VellumRepository[User]) -> None:
    with pytest.raises(ValueError, match="must be 1 or -1"):
        await users.find(sort=[("age", 2)])


async def test_iter_streams_across_many_batches(users: VellumRepository[User]) -> None:
    await users.create_many([User(name=f"u{i}", email=f"{i}@x", age=i) for i in range(257)])
    ages = [u.age async for u in users.iter({}, sort=[("age", 1)], batch_size=50)]
    assert ages == list(range(257))
    # Breaking out early closes the cursor; the repository stays usable.
    async for user in users.iter(batch_size=10):
        assert user.name.startswith("u")
        break
    assert await users.count() == 257


async def test_create_many_and_duplicate_in_batch(users: VellumRepository[User]) -> None:
    await users.ensure_indexes()
    made = await users.create_many([User(name="a", email="same@x"), User(name="b", email="b@x")])
    assert len(made) == 2
    with pytest.raises(DuplicateKeyError) as info:
        await users.create_many([User(name="c", email="c@x"), User(name="d", email="same@x")])
    assert info.value.index_name == "email_1"
    assert info.value.key_pattern == {"email": 1}
    assert info.value.key_value == {"email": "same@x"}
    # Ordered insert: the document before the failure is stored, nothing after it.
    assert await users.count() == 3


async def test_duplicate_key_error_keeps_the_stored_document(users: VellumRepository[User]) -> None:
    await users.ensure_indexes()
    ada = await users.create(User(name="Ada", email="ada@example.com"))
    with pytest.raises(DuplicateKeyError) as info:
        await users.create(User(name="Impostor", email="ada@example.com"))
    err = info.value
    assert err.code == 11000
    assert err.index_name == "email_1"
    assert err.key_pattern == {"email": 1}
    assert err.key_value == {"email": "ada@example.com"}
    assert await users.find() == [ada]


async def test_update_validates_before_any_write(users: VellumRepository[User]) -> None:
    ada = await users.create(User(name="Ada", email="a@x", age=3))
    with pytest.raises(DocumentValidationError, match="no field 'nickname'"):
        await users.update(ada.id, {"nickname": "A"})
    with pytest.raises(DocumentValidationError, match="age"):
        await users.update(ada.id, {"age": "abc"})
    with pytest.raises(DocumentValidationError, match="age"):
        await users.update(ada.id, {"age": -1})  # Field(ge=0)
    with pytest.raises(DocumentValidationError, match="managed by the repository"):
        await users.update(ada.id, {"id": uuid4()})
    assert await users.get(ada.id) == ada


async def test_update_with_models(users: VellumRepository[User]) -> None:
    ada = await users.create(User(name="Ada", email="a@x", age=3))

    class AgeOnly(BaseModel):
        age: int

    updated = await users.update(ada.id, AgeOnly(age=4))
    assert updated is not None and updated.age == 4 and updated.email == "a@x"
    whole = User(name="Ada", email="new@x", age=5, address=Address(city="Paris", zip="75"))
    updated = await users.update(ada.id, whole)
    assert updated is not None
    assert (updated.id, updated.email, updated.address) == (ada.id, "new@x", whole.address)
    assert updated.created_at == ada.created_at


async def test_update_validates_changes_without_calling_default_factories(
    client: VellumClient, db_name: str
) -> None:
    calls: list[str] = []

    def next_code() -> str:
        calls.append("code")
        return f"c{len(calls)}"

    class Coupon(VellumBaseModel):
        code: str = Field(default_factory=next_code)
        uses: int = Field(default=0, ge=0)

        @field_validator("uses")
        @classmethod
        def _sees_defaults(cls, value: int, info: ValidationInfo) -> int:
            assert "code" in info.data  # other fields hold their defaults, as before
            return value

    coupons = VellumRepository(Coupon, client, db_name)
    coupon = await coupons.create(Coupon())
    assert calls == ["code"]
    for uses in range(1, 4):
        updated = await coupons.update(coupon.id, {"uses": uses})
        assert updated is not None and (updated.code, updated.uses) == ("c1", uses)
    with pytest.raises(DocumentValidationError, match="uses"):
        await coupons.update(coupon.id, {"uses": -1})
    # One call for the defaults the updates validate against, not one per update.
    assert calls == ["code", "code"]


async def test_update_of_a_missing_document_returns_none(users: VellumRepository[User]) -> None:
    assert await users.update(uuid4(), {"age": 1}) is None
    assert await users.count() == 0


async def test_stored_document_that_no_longer_validates_names_id_and_field(
    users: VellumRepository[User],
) -> None:
    bad_id = uuid4()
    await users.collection.insert_one({"_id": bad_id, "name": "X", "email": "x@x", "age": "old"})
    await users.create(User(name="ok", email="ok@x"))
    with pytest.raises(DocumentValidationError) as info:
        await users.find()
    err = info.value
    assert err.document_id == bad_id
    assert str(bad_id) in str(err) and "age" in str(err)
    assert err.errors and err.errors[0]["loc"] == ("age",)
    with pytest.raises(DocumentValidationError):
        await users.get(bad_id)
    with pytest.raises(DocumentValidationError):
        _ = [u async for u in users.iter()]


async def test_create_from_a_dict_validates(users: VellumRepository[User]) -> None:
    made = await users.create({"name": "Ada", "email": "a@x"})
    assert isinstance(made, User) and await users.get(made.id) == made
    with pytest.raises(DocumentValidationError, match="email"):
        await users.create({"name": "no email"})
    assert await users.count() == 1


async def test_objectid_ids(client: VellumClient, db_name: str) -> None:
    tags = VellumRepository(Tagged, client, db_name)
    t = await tags.create(Tagged(label="x"))
    assert isinstance(t.id, ObjectId)
    assert await tags.get(t.id) == t
    assert await tags.get(str(t.id)) == t
    raw = await tags.collection.find_one({})
    assert raw is not None and raw["_id"] == t.id


async def test_delete_many(users: VellumRepository[User]) -> None:
    await users.create_many([User(name=str(i), email=f"{i}@x", age=i) for i in range(5)])
    assert await users.delete_many({"age": {"$gte": 3}}) == 2
    assert await users.count() == 3


def test_collection_name_defaults_to_snake_case() -> None:
    class OrderLineItem(VellumBaseModel):
        qty: int

    assert OrderLineItem.__vellum_settings__.collection_name == "order_line_item"
    assert User.__vellum_settings__.collection_name == "users"


def test_model_dump_by_alias_gives_underscore_id() -> None:
    user = User(name="a", email="b")
    assert user.model_dump(by_alias=True)["_id"] == user.id
    assert User(id=user.id, name="a", email="b").id == user.id
    assert User.model_validate({"_id": str(user.id), "name": "a", "email": "b"}).id == user.id


def test_id_must_keep_its_alias() -> None:
    def define() -> type[VellumBaseModel]:
        class Bad(VellumBaseModel):
            id: int = 0  # pyright: ignore[reportIncompatibleVariableOverride]

        return Bad

    with pytest.raises(TypeError, match='alias="_id"'):
        define()


class Indexed(VellumBaseModel):
    email: str
    age: int = 0

    class Settings:
        indexes = [Index("email", unique=True), Index([("age", -1), ("email", 1)], name="by_age")]


async def test_ensure_indexes_is_idempotent(client: VellumClient, db_name: str) -> None:
    repo = VellumRepository(Indexed, client, db_name)
    assert await repo.ensure_indexes() == ["email_1", "by_age"]
    assert await repo.ensure_indexes() == []
    specs = {s["name"]: s for s in await repo.list_indexes()}
    assert specs["email_1"]["unique"] is True
    assert specs["by_age"]["key"] == [("age", -1), ("email", 1)]
    await repo.drop_indexes()
    assert [s["name"] for s in await repo.list_indexes()] == ["_id_"]


async def test_ensure_indexes_conflict_shows_both_definitions(
    client: VellumClient, db_name: str
) -> None:
    repo = VellumRepository(Indexed, client, db_name)
    # Same name, other options: not unique on the server.
    await repo.collection.create_indexes([{"key": {"email": 1}, "name": "email_1"}])
    with pytest.raises(IndexConflictError) as info:
        await repo.ensure_indexes()
    assert info.value.wanted["unique"] is True
    assert "unique" not in info.value.existing
    assert "email_1" in str(info.value)
    await repo.drop_index("email_1")
    # Same keys under another name.
    await repo.collection.create_indexes([{"key": {"email": 1}, "name": "mail", "unique": True}])
    with pytest.raises(IndexConflictError, match="mail"):
        await repo.ensure_indexes()


def test_index_declarations_are_checked() -> None:
    assert Index("email", unique=True).spec() == {
        "key": {"email": 1},
        "name": "email_1",
        "unique": True,
    }
    with pytest.raises(ValueError, match="1 or -1"):
        Index([("a", 2)])

    def define() -> type[VellumBaseModel]:
        class Bad(VellumBaseModel):
            class Settings:
                indexes: list[Any] = ["email"]

        return Bad

    with pytest.raises(TypeError, match=r"vellum\.Index"):
        define()


def test_unknown_and_beanie_settings_are_errors_naming_vellums() -> None:
    with pytest.raises(TypeError, match=r"Settings.name is Beanie's setting; .*collection_name"):

        class Named(VellumBaseModel):
            class Settings:
                name = "things"

    with pytest.raises(TypeError, match=r"use_revision .*versioned = True"):

        class Revised(VellumBaseModel):
            class Settings:
                use_revision = True

    with pytest.raises(TypeError, match=r"Settings.colection_name is not a Vellum setting"):

        class Typo(VellumBaseModel):
            class Settings:
                colection_name = "x"


class Blob(VellumBaseModel):
    data: str


async def test_documents_over_16_mib_are_refused_as_the_server_refuses_a_write(
    client: VellumClient, db_name: str
) -> None:
    blobs = VellumRepository(Blob, client, db_name)
    huge = "x" * (16 * 1024 * 1024)

    def big() -> Blob:
        return Blob(data=huge)

    alone = big()
    with pytest.raises(DocumentTooLargeError, match=r"over MongoDB's limit .*16 MiB") as err:
        await blobs.create(alone)
    assert (err.value.document_id, err.value.index, err.value.inserted) == (alone.id, 0, 0)
    assert err.value.size > 16 * 1024 * 1024
    assert await blobs.count({}) == 0
    # Ordered: the documents before it are stored, none after.
    first, oversized, last = Blob(data="a"), big(), Blob(data="c")
    with pytest.raises(DocumentTooLargeError) as err:
        await blobs.create_many([first, oversized, last])
    assert (err.value.index, err.value.inserted, err.value.document_id) == (1, 1, oversized.id)
    assert {b.data for b in await blobs.find({})} == {"a"}
    # Unordered: all the others are stored.
    with pytest.raises(DocumentTooLargeError) as err:
        await blobs.create_many([Blob(data="d"), big(), Blob(data="e")], ordered=False)
    assert err.value.inserted == 2
    assert {b.data for b in await blobs.find({})} == {"a", "d", "e"}
