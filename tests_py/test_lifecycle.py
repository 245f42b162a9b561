"""Hooks, optimistic concurrency, soft delete and timestamps, against the server."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from vellum import (
    DocumentNotFoundError,
    Index,
    OptimisticLockError,
    Session,
    SoftDeletable,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    Versioned,
    after_delete,
    after_insert,
    after_update,
    before_delete,
    before_insert,
    before_update,
    on_fetch,
)

calls: list[str] = []


class Account(Versioned, SoftDeletable, VellumBaseModel):
    owner: str
    balance: Decimal
    note: str = ""

    @before_insert
    @before_update
    async def check(self) -> None:
        calls.append(f"check:{self.balance}")
        if self.balance < 0:
            raise ValueError("balance cannot be negative")

    @before_insert
    def normalise(self) -> None:
        calls.append("normalise")
        self.owner = self.owner.strip().lower()

    @after_insert
    def audit(self) -> None:
        calls.append(f"after_insert:v{self.version}")

    @after_update
    async def audited(self) -> None:
        calls.append(f"after_update:v{self.version}:{self.balance}")

    @on_fetch
    def mask(self) -> None:
        self.note = "masked"

    class Settings:
        indexes: ClassVar[list[Index]] = [
            # Unique among live accounts only: the partial-index recipe for soft delete.
            Index("owner", unique=True, partial_filter_expression={"deleted_at": {"$type": "null"}})
        ]


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    calls.clear()


@pytest.fixture
async def accounts(client: VellumClient, db_name: str) -> VellumRepository[Account]:
    repo = VellumRepository(Account, client, db_name)
    await repo.ensure_indexes()
    return repo


async def test_readme_flow(accounts: VellumRepository[Account]) -> None:
    a = await accounts.create(Account(owner="ada", balance=Decimal(10)))
    assert a.version == 1
    stale = await accounts.get(a.id)
    assert stale is not None
    a.balance += 5
    a = await accounts.save(a)
    assert a.version == 2
    stale.balance -= 1
    with pytest.raises(OptimisticLockError) as info:
        await accounts.save(stale)
    err = info.value
    assert (err.document_id, err.expected_version, err.current_version) == (a.id, 1, 2)
    stored = await accounts.get(a.id)
    assert stored is not None and stored.balance == Decimal(15) and stored.version == 2
    updated = await accounts.update(a.id, {"balance": Decimal(1)}, expected_version=2)
    assert updated is not None and updated.version == 3 and updated.balance == Decimal(1)
    with pytest.raises(OptimisticLockError, match="expected version 2"):
        await accounts.update(a.id, {"balance": Decimal(2)}, expected_version=2)

    assert await accounts.soft_delete(a.id) is True
    assert await accounts.get(a.id) is None
    deleted = await accounts.get(a.id, include_deleted=True)
    assert deleted is not None and deleted.deleted_at is not None
    assert await accounts.restore(a.id) is True
    assert await accounts.get(a.id) is not None


async def test_hooks_order_changes_and_after_state(accounts: VellumRepository[Account]) -> None:
    a = await accounts.create(Account(owner="  ADA ", balance=Decimal(3)))
    assert calls == ["check:3", "normalise", "after_insert:v1"]
    assert a.owner == "ada"
    raw = await accounts.collection.find_one({"_id": a.id})
    assert raw is not None and raw["owner"] == "ada"  # what the hook changed was written
    calls.clear()
    await accounts.update(a.id, {"balance": Decimal(4)})
    assert calls == ["check:4", "after_update:v2:4"]  # after-hooks see the stored state


async def test_before_hook_exception_cancels_and_reaches_caller(
    accounts: VellumRepository[Account],
) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        await accounts.create(Account(owner="x", balance=Decimal(-1)))
    assert await accounts.count(include_deleted=True) == 0
    a = await accounts.create(Account(owner="ada", balance=Decimal(10)))
    with pytest.raises(ValueError, match="cannot be negative"):
        await accounts.update(a.id, {"balance": Decimal(-5)})
    a.balance = Decimal(-7)
    with pytest.raises(ValueError, match="cannot be negative"):
        await accounts.save(a)
    stored = await accounts.collection.find_one({"_id": a.id})
    assert stored is not None and stored["balance"] == Decimal(10) and stored["version"] == 1


async def test_skip_hooks_and_bulk_paths(accounts: VellumRepository[Account]) -> None:
    made = await accounts.create_many(
        [Account(owner="A", balance=Decimal(1)), Account(owner="B", balance=Decimal(2))]
    )
    assert [m.owner for m in made] == ["a", "b"]
    assert calls.count("after_insert:v1") == 2
    calls.clear()
    await accounts.create(Account(owner="Raw", balance=Decimal(-1)), skip_hooks=True)
    assert calls == []
    # Bulk updates run no hooks (documented) but keep version and updated_at moving.
    before = {m.id: m for m in await accounts.find()}
    result = await accounts.update_many(Account.Q.balance >= 0, Account.Q.note.set("bulk"))
    assert result.modified == 2
    assert calls == []
    for m in await accounts.find(Account.Q.balance >= 0):
        assert m.version == before[m.id].version + 1
        assert m.updated_at is not None and before[m.id].updated_at is not None
        assert m.updated_at > before[m.id].updated_at
        assert m.created_at == before[m.id].created_at


async def test_on_fetch_runs_on_every_read(accounts: VellumRepository[Account]) -> None:
    a = await accounts.create(Account(owner="ada", balance=Decimal(1), note="secret"))
    assert a.note == "secret"
    got = await accounts.get(a.id)
    assert got is not None and got.note == "masked"
    assert [x.note for x in await accounts.find()] == ["masked"]
    one = await accounts.find_one()
    assert one is not None and one.note == "masked"
    assert [x.note async for x in accounts.iter()] == ["masked"]


class Ledger(VellumBaseModel):
    entry: str


class Audited(VellumBaseModel):
    name: str
    ledger_db: ClassVar[VellumRepository[Ledger] | None] = None

    @after_insert
    async def log(self, session: Session | None) -> None:
        assert Audited.ledger_db is not None
        await Audited.ledger_db.create(Ledger(entry=f"created {self.name}"), session=session)

    @before_delete
    def guard(self) -> None:
        if self.name == "keep":
            raise PermissionError("keep is protected")

    @after_delete
    def gone(self) -> None:
        calls.append(f"deleted {self.name}")


async def test_hooks_receive_the_session(client: VellumClient, db_name: str) -> None:
    repo = VellumRepository(Audited, client, db_name)
    Audited.ledger_db = VellumRepository(Ledger, client, db_name)
    await repo.ensure_indexes()
    await Audited.ledger_db.ensure_indexes()
    await repo.create(Audited(name="a"))
    assert await Audited.ledger_db.count() == 1

    async def fails() -> None:
        async with client.transaction() as s:
            await repo.create(Audited(name="b"), session=s)
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        await fails()
    # The hook's own write joined the transaction and was rolled back with it.
    assert await Audited.ledger_db.count() == 1
    assert await repo.count() == 1


async def test_delete_hooks(client: VellumClient, db_name: str) -> None:
    repo = VellumRepository(Audited, client, db_name)
    Audited.ledger_db = VellumRepository(Ledger, client, db_name)
    keep = await repo.create(Audited(name="keep"))
    drop = await repo.create(Audited(name="drop"))
    with pytest.raises(PermissionError):
        await repo.delete(keep.id)
    assert await repo.get(keep.id) is not None
    assert await repo.delete(drop.id) is True
    assert calls == ["deleted drop"]
    assert await repo.delete(keep.id, skip_hooks=True) is True


async def test_fifty_concurrent_read_modify_save_lose_nothing(
    accounts: VellumRepository[Account],
) -> None:
    a = await accounts.create(Account(owner="ada", balance=Decimal(0)))
    conflicts = 0

    async def deposit() -> None:
        nonlocal conflicts
        while True:
            current = await accounts.get(a.id)
            assert current is not None
            current.balance += 1
            try:
                await accounts.save(current)
                return
            except OptimisticLockError:
                conflicts += 1

    await asyncio.gather(*(deposit() for _ in range(50)))
    stored = await accounts.get(a.id)
    assert stored is not None
    assert stored.balance == Decimal(50)
    assert stored.version == 51
    assert conflicts > 0  # the tasks really did collide


async def test_soft_delete_hides_from_every_read_and_update(
    accounts: VellumRepository[Account],
) -> None:
    Q = Account.Q
    live = await accounts.create(Account(owner="live", balance=Decimal(1)))
    gone = await accounts.create(Account(owner="gone", balance=Decimal(1)))
    assert await accounts.soft_delete(gone.id) is True
    assert await accounts.soft_delete(gone.id) is False  # already deleted
    assert [x.owner for x in await accounts.find()] == ["live"]
    assert len(await accounts.find(include_deleted=True)) == 2
    assert await accounts.find_one(Q.owner == "gone") is None
    assert await accounts.find_one(Q.owner == "gone", include_deleted=True) is not None
    assert await accounts.count() == 1
    assert await accounts.count({}, include_deleted=True) == 2
    assert [x.owner async for x in accounts.iter()] == ["live"]
    assert await accounts.update(gone.id, {"note": "x"}) is None
    result = await accounts.update_many(Q.balance > 0, Q.note.set("touched"))
    assert result.matched == 1
    hidden = await accounts.collection.find_one({"_id": gone.id})
    assert hidden is not None and hidden["note"] == ""
    # The unique index counts live accounts only: the owner name can be reused.
    again = await accounts.create(Account(owner="gone", balance=Decimal(2)))
    assert await accounts.count(Q.owner == "gone", include_deleted=True) == 2
    assert await accounts.restore(live.id) is False  # not deleted
    # Hard delete still removes for good.
    assert await accounts.delete(gone.id) is True
    assert await accounts.get(gone.id, include_deleted=True) is None
    assert await accounts.get(again.id) is not None


async def test_timestamps(accounts: VellumRepository[Account]) -> None:
    a = await accounts.create(Account(owner="ada", balance=Decimal(1)))
    created, first = a.created_at, a.updated_at
    assert created is not None and first is not None
    await asyncio.sleep(0.002)
    saved = await accounts.save(a)
    assert saved.created_at == created and saved.updated_at is not None and saved.updated_at > first
    await asyncio.sleep(0.002)
    await accounts.soft_delete(a.id)
    deleted = await accounts.get(a.id, include_deleted=True)
    assert deleted is not None and deleted.created_at == created
    assert deleted.updated_at is not None and deleted.updated_at > saved.updated_at


def test_hook_order_with_inheritance() -> None:
    order: list[str] = []

    class Base(VellumBaseModel):
        @before_insert
        def first(self) -> None:
            order.append("base")

    class Child(Base):
        @before_insert
        def second(self) -> None:
            order.append("child")

    hooks = Child.__vellum_settings__.hooks["before_insert"]
    assert [h.name for h in hooks] == ["first", "second"]


def test_versioned_and_soft_delete_settings_are_checked() -> None:
    def define() -> Any:
        class Bad(VellumBaseModel):
            class Settings:
                versioned = True

        return Bad

    with pytest.raises(TypeError, match="version: int = 1"):
        define()


class Plain(VellumBaseModel):
    x: int = 0


async def test_lifecycle_misuse_is_clear(client: VellumClient, db_name: str) -> None:
    repo = VellumRepository(Plain, client, db_name)
    p = await repo.create(Plain())
    with pytest.raises(TypeError, match="soft-deletable"):
        await repo.soft_delete(p.id)
    with pytest.raises(TypeError, match="versioned model"):
        await repo.update(p.id, {"x": 1}, expected_version=1)

    class Other(BaseModel):
        x: int

    with pytest.raises(TypeError, match="save\\(\\) takes a Plain"):
        await repo.save(Other(x=1))  # type: ignore[arg-type]


class Note(VellumBaseModel):
    text: str


class VersionedNote(Versioned, VellumBaseModel):
    text: str


@pytest.mark.parametrize("model", [Note, VersionedNote])
async def test_save_never_brings_back_a_deleted_document(
    client: VellumClient, db_name: str, model: type[Note] | type[VersionedNote]
) -> None:
    notes: VellumRepository[Any] = VellumRepository(model, client, db_name)
    # Never stored: save() stores it.
    fresh = await notes.save(model(text="new"))
    assert (await notes.get(fresh.id)) == fresh
    # Stored, read, changed, then deleted by someone else: the stale save raises and stores
    # nothing.
    stale = await notes.get(fresh.id)
    assert stale is not None
    stale.text = "stale edit"
    assert await notes.delete(fresh.id)
    expected = OptimisticLockError if model is VersionedNote else DocumentNotFoundError
    with pytest.raises(expected) as err:
        await notes.save(stale)
    assert err.value.document_id == fresh.id
    if isinstance(err.value, OptimisticLockError):
        assert err.value.current_version is None
    assert await notes.get(fresh.id) is None
    assert await notes.count({}) == 0
    # Storing it again on purpose is create()'s job.
    again = await notes.create(stale)
    assert (await notes.get(fresh.id)) == again
