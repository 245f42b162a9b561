"""The bulk writer: mixed operations across repositories, few commands, hooks and versions
kept, and a failure that says which operation failed and what was applied before it."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Server
from vellum import (
    BulkWriteError,
    DuplicateKeyError,
    Index,
    OptimisticLockError,
    QueryError,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    Versioned,
    before_insert,
    before_update,
    connect_to_mongodb,
)


class Account(Versioned, VellumBaseModel):
    owner: str
    balance: int = 0
    audited: int = 0

    class Settings:
        indexes = [Index("owner", unique=True)]

    @before_insert
    @before_update
    def audit(self) -> None:
        self.audited += 1


class Entry(VellumBaseModel):
    account: str
    amount: int


@pytest.fixture
async def counting(server: Server, db_name: str) -> Any:
    client = await connect_to_mongodb(server.uri, db_name, count_commands=True)
    yield client
    await client.close()


async def test_mixed_operations_across_repositories_in_few_commands(counting: VellumClient) -> None:
    accounts = VellumRepository(Account, counting)
    entries = VellumRepository(Entry, counting)
    await accounts.ensure_indexes()
    await accounts.create_many([Account(owner=o, balance=10) for o in "abc"])
    b = await accounts.find_one(Account.Q.owner == "b")
    assert b is not None
    start = b.version
    counting.reset_command_counts()
    Q = Account.Q
    async with accounts.bulk() as bulk:
        bulk.insert(Account(owner="d"))
        bulk.insert(Account(owner="e"))
        b.balance = 100
        bulk.replace(b)  # before the updates below change b's version
        bulk.update_one(Q.owner == "a", Q.balance.inc(5))
        bulk.update_many(Q.balance >= 10, Q.balance.inc(1))
        bulk.upsert(Q.owner == "f", Q.balance.set(7))
        bulk.delete_one(Q.owner == "c")
        bulk.on(entries).insert(Entry(account="a", amount=5))
        bulk.on(entries).insert(Entry(account="f", amount=7))
    result = bulk.result
    assert (result.inserted, result.matched, result.modified) == (4, 4, 4)
    assert (result.deleted, result.replaced) == (1, 1)
    assert list(result.upserted_ids) == [5]  # the upsert's position in the queue
    counts = counting.command_counts()
    # The two inserts in one command, the two entries in another; the updates and the upsert
    # in one update command; the delete.
    assert counts.get("insert") == 2 and counts.get("delete") == 1
    stored = {a.owner: a for a in await accounts.find()}
    assert sorted(stored) == ["a", "b", "d", "e", "f"]
    assert stored["a"].balance == 16 and stored["b"].balance == 101 and stored["f"].balance == 7
    assert stored["d"].audited == 1 and stored["b"].audited == 2  # hooks ran per document
    assert stored["f"].id == result.upserted_ids[5]
    assert stored["b"].version == start + 2  # the replace, then update_many
    assert await entries.count() == 2


async def test_an_ordered_failure_names_the_operation_and_what_was_applied(
    client: VellumClient, db_name: str
) -> None:
    accounts = VellumRepository(Account, client, db_name)
    await accounts.ensure_indexes()
    await accounts.create(Account(owner="a"))
    Q = Account.Q

    async def write() -> None:
        async with accounts.bulk() as bulk:
            bulk.update_one(Q.owner == "a", Q.balance.inc(1))
            bulk.insert(Account(owner="x"))
            bulk.insert(Account(owner="a"))  # a duplicate owner
            bulk.insert(Account(owner="y"))
            bulk.delete_many({})

    with pytest.raises(BulkWriteError) as failed:
        await write()
    error = failed.value
    assert error.index == 2 and error.operation == "insert"
    assert isinstance(error.error, DuplicateKeyError) and error.__cause__ is error.error
    assert error.result.matched == 1 and error.result.inserted == 1
    assert sorted(a.owner for a in await accounts.find()) == ["a", "x"]  # stopped there


async def test_unordered_sends_everything_and_reports_the_first_failure(
    client: VellumClient, db_name: str
) -> None:
    accounts = VellumRepository(Account, client, db_name)
    await accounts.ensure_indexes()
    await accounts.create(Account(owner="a"))

    async def write() -> None:
        async with accounts.bulk(ordered=False) as bulk:
            bulk.insert(Account(owner="a"))
            bulk.insert(Account(owner="z"))
            bulk.delete_many(Account.Q.owner == "nobody")

    with pytest.raises(BulkWriteError) as failed:
        await write()
    assert isinstance(failed.value.error, DuplicateKeyError)
    assert sorted(a.owner for a in await accounts.find()) == ["a", "z"]


async def test_a_stale_replace_keeps_its_version_check(client: VellumClient, db_name: str) -> None:
    accounts = VellumRepository(Account, client, db_name)
    made = await accounts.create(Account(owner="a"))
    stale = await accounts.get(made.id)
    assert stale is not None
    made.balance = 1
    await accounts.save(made)
    stale.balance = 2
    with pytest.raises(BulkWriteError) as failed:
        async with accounts.bulk() as bulk:
            bulk.replace(stale)
    assert isinstance(failed.value.error, OptimisticLockError) and failed.value.index == 0
    assert (await accounts.get(made.id)).balance == 1  # type: ignore[union-attr]


async def test_nothing_is_sent_on_an_exception_and_bad_operations_fail_where_written(
    client: VellumClient, db_name: str
) -> None:
    accounts = VellumRepository(Account, client, db_name)

    async def interrupted() -> None:
        async with accounts.bulk() as bulk:
            bulk.insert(Account(owner="a"))
            raise RuntimeError("oops")

    with pytest.raises(RuntimeError, match="oops"):
        await interrupted()
    assert await accounts.count() == 0
    async with accounts.bulk() as bulk:
        with pytest.raises(QueryError, match="managed by the repository"):
            bulk.update_one(Account.Q.owner == "a", Account.Q.version.set(3))
    other = VellumRepository(Entry, client, db_name + "_other")
    with pytest.raises(ValueError, match="one database"):
        bulk.on(other)
    with pytest.raises(RuntimeError, match="sent already"):
        bulk.insert(Account(owner="late"))


async def test_a_bulk_in_a_transaction_is_all_or_nothing(
    client: VellumClient, db_name: str
) -> None:
    if not client.supports_transactions:
        pytest.skip("needs transactions")
    accounts = VellumRepository(Account, client, db_name)
    await accounts.ensure_indexes()
    await accounts.create(Account(owner="a"))

    async def write() -> None:
        async with accounts.transaction() as session, accounts.bulk(session=session) as bulk:
            bulk.insert(Account(owner="new"))
            bulk.insert(Account(owner="a"))

    with pytest.raises(BulkWriteError):
        await write()
    assert [a.owner for a in await accounts.find()] == ["a"]
