"""Schema versions (the policy that shows a new concern is one module), and the managed
fields every policy protects, against the server."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import Field

from vellum import (
    DocumentValidationError,
    OptimisticLockError,
    QueryError,
    SchemaVersioned,
    SoftDeletable,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    Versioned,
)


class Profile(SchemaVersioned, VellumBaseModel):
    name: str
    city: str = ""

    class Settings:
        collection_name = "profiles"
        schema_version = 3


class Premium(Profile):
    """No Settings of its own: keeps Profile's schema version, in its own collection."""

    level: int = 1


class Legacy(SchemaVersioned, VellumBaseModel):
    """The same collection, with the string ids an older application stored."""

    id: str = Field(alias="_id")  # pyright: ignore[reportIncompatibleVariableOverride]
    name: str
    city: str = ""

    class Settings:
        collection_name = "profiles"
        schema_version = 3


@pytest.fixture
def profiles(client: VellumClient, db_name: str) -> VellumRepository[Profile]:
    return VellumRepository(Profile, client, db_name)


async def stored(repo: VellumRepository[Any], doc_id: Any) -> dict[str, Any]:
    raw = await repo.collection.find_one({"_id": doc_id})
    assert raw is not None
    return raw


async def test_whole_writes_stamp_the_schema_version(profiles: VellumRepository[Profile]) -> None:
    ada = await profiles.create(Profile(name="Ada"))
    assert ada.schema_version == 3
    assert (await stored(profiles, ada.id))["schema_version"] == 3
    many = await profiles.create_many([Profile(name="B"), {"name": "C", "schema_version": 1}])
    assert [p.schema_version for p in many] == [3, 3]
    assert await profiles.count(Profile.Q.schema_version == 3) == 3
    # A document from before versioning (no field) reads as version 0; save() rewrites it whole
    # with the model's fields, so it is stamped with the current version.
    await profiles.collection.insert_one({"_id": "legacy-1", "name": "Old"})
    legacy_repo = VellumRepository(Legacy, profiles.client, profiles.database_name)
    old = await legacy_repo.get("legacy-1")
    assert old is not None and old.schema_version == 0
    old.city = "Paris"
    saved = await legacy_repo.save(old)
    assert saved.schema_version == 3 and old.schema_version == 3
    raw = await stored(legacy_repo, "legacy-1")
    assert (raw["schema_version"], raw["city"]) == (3, "Paris")


async def test_partial_updates_keep_the_stored_version(
    profiles: VellumRepository[Profile],
) -> None:
    await profiles.collection.insert_one({"_id": "p-1", "name": "Old", "schema_version": 2})
    legacy = VellumRepository(Legacy, profiles.client, profiles.database_name)
    updated = await legacy.update("p-1", {"city": "Rome"})
    assert updated is not None and updated.schema_version == 2
    result = await legacy.update_many(Legacy.Q.name == "Old", Legacy.Q.city.set("Oslo"))
    assert result.modified == 1
    raw = await stored(legacy, "p-1")
    assert (raw["schema_version"], raw["city"]) == (2, "Oslo")


async def test_a_newer_document_is_refused_on_every_read(
    profiles: VellumRepository[Profile],
) -> None:
    ok = await profiles.create(Profile(name="Ok"))
    newer = Profile(name="Future")
    await profiles.collection.insert_one(newer.model_dump(by_alias=True) | {"schema_version": 4})
    message = r"schema version 4, newer than Profile's 3"
    with pytest.raises(DocumentValidationError, match=message) as info:
        await profiles.get(newer.id)
    assert info.value.document_id == newer.id
    with pytest.raises(DocumentValidationError, match=message):
        await profiles.find()
    with pytest.raises(DocumentValidationError, match=message):
        await profiles.find_one(Profile.Q.name == "Future")
    with pytest.raises(DocumentValidationError, match=message):
        _ = [p async for p in profiles.iter()]
    # Nothing is hidden: the document is counted, and the others still read one by one.
    assert await profiles.count() == 2
    assert await profiles.get(ok.id) == ok


async def test_the_schema_version_is_managed(profiles: VellumRepository[Profile]) -> None:
    ada = await profiles.create(Profile(name="Ada"))
    with pytest.raises(DocumentValidationError, match="managed by the repository"):
        await profiles.update(ada.id, {"schema_version": 9})
    with pytest.raises(QueryError, match="managed by the repository"):
        await profiles.update_many(Profile.Q.name == "Ada", Profile.Q.schema_version.set(9))
    assert (await stored(profiles, ada.id))["schema_version"] == 3


async def test_a_subclass_keeps_its_parents_version(client: VellumClient, db_name: str) -> None:
    premium = await VellumRepository(Premium, client, db_name).create(Premium(name="P"))
    assert premium.schema_version == 3


def test_schema_version_settings_are_checked() -> None:
    for wrong in (0, -1, True, "2", 1.5):
        with pytest.raises(TypeError, match="schema_version must be a positive int"):

            class Wrong(SchemaVersioned, VellumBaseModel):
                class Settings:
                    schema_version = wrong

    with pytest.raises(TypeError, match="set `schema_version = N`"):

        class Unset(SchemaVersioned, VellumBaseModel):
            pass

    with pytest.raises(TypeError, match="needs a `schema_version: int = 0` field"):

        class NoField(VellumBaseModel):
            class Settings:
                schema_version = 2


async def test_every_policys_fields_are_managed(client: VellumClient, db_name: str) -> None:
    """What each concern manages cannot be written through update() or Q updates."""

    class Ledger(Versioned, SoftDeletable, VellumBaseModel):
        total: int = 0

    ledgers = VellumRepository(Ledger, client, db_name)
    entry = await ledgers.create(Ledger())
    for field in ("version", "deleted_at", "created_at", "updated_at", "id"):
        with pytest.raises(DocumentValidationError, match="managed by the repository"):
            await ledgers.update(entry.id, {field: None})
    for q in (Ledger.Q.version.inc(1), Ledger.Q.deleted_at.set(None)):
        with pytest.raises(QueryError, match="managed by the repository"):
            await ledgers.update_many({}, q)
    # A whole model given to update() writes its own fields only.
    changed = entry.model_copy(update={"total": 5, "version": 40})
    after = await ledgers.update(entry.id, changed)
    assert after is not None and (after.total, after.version) == (5, 2)


class Wallet(Versioned, VellumBaseModel):
    owner: str
    balance: int = 0


async def test_documents_stored_before_versioning_count_as_version_one(
    client: VellumClient, db_name: str
) -> None:
    """A collection written by code (or Beanie) without a version field: its documents read
    as version 1, and the first versioned write sets 2, once."""
    wallets = VellumRepository(Wallet, client, db_name)
    old = [Wallet(owner=name) for name in ("a", "b", "c", "d")]
    for wallet in old:
        raw = wallet.model_dump(by_alias=True)
        del raw["version"]
        await wallets.collection.insert_one(raw)
    a, b, c, d = old
    first = await wallets.get(a.id)
    stale = await wallets.get(a.id)
    assert first is not None and stale is not None and first.version == 1
    first.balance = 10
    saved = await wallets.save(first)
    assert (saved.version, first.version) == (2, 2)
    assert (await stored(wallets, a.id))["version"] == 2
    # The other holder of "version 1" loses, as it would against a versioned document.
    stale.balance = 99
    with pytest.raises(OptimisticLockError) as lost:
        await wallets.save(stale)
    assert (lost.value.expected_version, lost.value.current_version) == (1, 2)
    assert (await stored(wallets, a.id))["balance"] == 10
    # update() without and with an expected version of 1.
    updated = await wallets.update(b.id, {"balance": 5})
    assert updated is not None and updated.version == 2
    updated = await wallets.update(c.id, {"balance": 6}, expected_version=1)
    assert updated is not None and updated.version == 2
    # Expecting another version of an unversioned document is a conflict that says so.
    with pytest.raises(OptimisticLockError, match="version field is missing") as wrong:
        await wallets.update(d.id, {"balance": 7}, expected_version=3)
    assert wrong.value.exists and wrong.value.current_version is None
    assert "version" not in await stored(wallets, d.id)


async def test_a_version_that_is_not_an_integer_is_reported(
    client: VellumClient, db_name: str
) -> None:
    wallets = VellumRepository(Wallet, client, db_name)
    wallet = Wallet(owner="x")
    await wallets.collection.insert_one(wallet.model_dump(by_alias=True) | {"version": "7"})
    with pytest.raises(OptimisticLockError, match="missing or not an integer") as info:
        await wallets.update(wallet.id, {"balance": 1}, expected_version=1)
    assert info.value.exists
    assert (await stored(wallets, wallet.id))["version"] == "7"
