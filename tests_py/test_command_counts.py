"""Opt-in command counting: how many round trips an operation costs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from conftest import Server
from models import User
from vellum import ConfigurationError, VellumClient, VellumRepository, connect_to_mongodb


@pytest.fixture
async def counting(server: Server, db_name: str) -> AsyncIterator[VellumClient]:
    """A client of the test's own that counts its commands, with ``db_name`` as its default."""
    client = await connect_to_mongodb(server.uri, db_name, count_commands=True)
    yield client
    await client.close()


def users_of(client: VellumClient) -> VellumRepository[User]:
    return VellumRepository(User, client)


async def test_connecting_counts_nothing(counting: VellumClient) -> None:
    # The connect-time `hello` is the driver's upkeep, not an operation of the user's.
    assert counting.command_counts() == {}


async def test_insert_many_is_one_insert(counting: VellumClient) -> None:
    users = users_of(counting)
    await users.create_many(User(name=f"u{i}", email=f"u{i}@example.com") for i in range(3))
    assert counting.command_counts() == {"insert": 1}


async def test_a_find_in_batches_counts_its_get_mores(counting: VellumClient) -> None:
    users = users_of(counting)
    await users.create_many(User(name=f"u{i}", email=f"u{i}@example.com") for i in range(5))
    counting.reset_command_counts()
    names = [user.name async for user in users.iter(sort=[("name", 1)], batch_size=2)]
    assert names == [f"u{i}" for i in range(5)]
    counts = counting.command_counts()
    assert counts["find"] == 1
    assert counts["getMore"] >= 1
    assert set(counts) <= {"find", "getMore", "killCursors"}


async def test_counts_are_a_copy_and_reset_clears_them(counting: VellumClient) -> None:
    users = users_of(counting)
    await users.create(User(name="Ada", email="ada@example.com"))
    snapshot = counting.command_counts()
    assert await users.count() == 1
    assert snapshot == {"insert": 1}
    assert counting.command_counts()["insert"] == 1
    counting.reset_command_counts()
    assert counting.command_counts() == {}
    assert await users.find() != []
    assert counting.command_counts() == {"find": 1}


async def test_a_client_that_does_not_count_says_how_to(client: VellumClient) -> None:
    with pytest.raises(ConfigurationError, match="count_commands=True"):
        client.command_counts()
    with pytest.raises(ConfigurationError, match="count_commands=True"):
        client.reset_command_counts()
