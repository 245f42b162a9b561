"""The embedded server's launcher: its shims keep mongoeco's semantics (see
tests_py/launcher_differential.py, which runs in the server's own venv)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any, cast

import pytest

from conftest import ROOT
from vellum import (
    ConnectionError,
    DuplicateKeyError,
    Index,
    OperationFailure,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
)

DIFFERENTIAL = Path(__file__).with_name("launcher_differential.py")


def test_uniqueness_shims_match_the_engine_over_random_operation_sequences(
    mongoeco_python: str,
) -> None:
    # 300 seeded sequences of 40 operations (about 10 s); more by hand:
    #   <venv>/bin/python tests_py/launcher_differential.py 5000
    done = subprocess.run(
        [mongoeco_python, str(DIFFERENTIAL), "300"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert "300 sequences identical" in done.stdout


class Member(VellumBaseModel):
    n: int
    team: int
    email: str

    class Settings:
        collection_name = "members"
        indexes = [Index("email", unique=True), Index([("team", 1), ("n", 1)], unique=True)]


async def test_the_server_takes_tens_of_thousands_of_documents_and_still_refuses_duplicates(
    client: VellumClient, db_name: str
) -> None:
    # Before the launcher's uniqueness shims, the embedded server stopped answering at about
    # 4 000 inserted documents (a scan of the collection per inserted document).
    members = VellumRepository(Member, client, db_name)
    await members.ensure_indexes()
    size = 20_000
    stored = await members.create_many(
        [Member(n=i, team=i % 50, email=f"m{i}@example.com") for i in range(size)]
    )
    assert await members.count({}) == size
    with pytest.raises(DuplicateKeyError) as same_id:
        await members.create(stored[size // 2])
    assert same_id.value.index_name == "_id_"
    with pytest.raises(DuplicateKeyError) as same_pair:
        await members.create(Member(n=size - 1, team=(size - 1) % 50, email="new@example.com"))
    assert same_pair.value.index_name == "team_1_n_1"
    assert same_pair.value.key_pattern == {"team": 1, "n": 1}
    with pytest.raises(DuplicateKeyError) as same_email:
        await members.create(Member(n=size, team=0, email="m7@example.com"))
    assert same_email.value.index_name == "email_1"
    # Freeing a key makes it usable again.
    assert await members.delete(stored[-1].id)
    await members.create(Member(n=size - 1, team=(size - 1) % 50, email="again@example.com"))
    moved = await members.update_many(Member.Q.team == 3, Member.Q.n.inc(size))
    assert (moved.matched, moved.modified) == (size // 50, size // 50)
    with pytest.raises(DuplicateKeyError):  # n=3 + 20 000 of team 3 is taken now
        await members.create(Member(n=size + 3, team=3, email="late@example.com"))
    assert await members.count({}) == size


async def test_close_connection_fail_points_close_the_connection(
    client: VellumClient, db_name: str, fail_point: Any
) -> None:
    """Shim (h): the driver sees a network error, as with MongoDB. A read is retried once by
    the driver, so one closed connection goes unnoticed and two are a ConnectionError."""
    coll = client._core.collection(db_name, "closed")  # pyright: ignore[reportPrivateUsage]
    await fail_point(1, ["find"], closeConnection=True)
    assert await coll.find({}) == []
    await fail_point(2, ["find"], closeConnection=True)
    with pytest.raises(ConnectionError, match="I/O error"):
        await coll.find({})
    assert await coll.find({}) == []  # the client reconnects


async def test_fail_points_reach_commit(
    own_client: VellumClient, db_name: str, fail_point: Any
) -> None:
    """Shim (i): a fail point names commitTransaction as any other command."""
    client = own_client  # the refused commit leaves its transaction open on the server
    coll = client._core.collection(db_name, "committed")  # pyright: ignore[reportPrivateUsage]
    await fail_point(1, ["commitTransaction"], errorCode=251)  # NoSuchTransaction: not retried
    with pytest.raises(OperationFailure) as refused:
        async with client.transaction() as session:
            await coll.insert_one({"_id": 1}, session=session._core)  # pyright: ignore[reportPrivateUsage]
    assert refused.value.code == 251
    async with client.transaction() as session:  # the fail point was used up
        await coll.insert_one({"_id": 2}, session=session._core)  # pyright: ignore[reportPrivateUsage]
    assert await coll.find({"_id": 2}) == [{"_id": 2}]


async def test_dbrefs_with_uuid_ids_come_back_as_stored(client: VellumClient, db_name: str) -> None:
    """Shim (j): a subdocument shaped like a DBRef ($ref, $id, $db?) is stored and returned
    unchanged, in that key order, when its $id or an extra field is a UUID (binary subtype 4;
    Vellum reads only subtype 4 as uuid.UUID). The emulator refused to send them (code 8)."""
    books = client._core.collection(db_name, "books")  # pyright: ignore[reportPrivateUsage]
    authors = client._core.collection(db_name, "author")  # pyright: ignore[reportPrivateUsage]
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    stored = [
        {"_id": 1, "author": {"$ref": "author", "$id": first}},
        {"_id": 2, "author": {"$ref": "author", "$id": second, "$db": db_name, "by": third}},
        {"_id": 3, "authors": [{"$ref": "author", "$id": first}, {"$ref": "author", "$id": 7}]},
        {"_id": 4, "author": {"$ref": "author", "$id": {"key": third, "n": 1}}},
    ]
    assert await books.insert_many(stored) == 4
    for document in stored:
        found = await books.find_one({"_id": document["_id"]})
        assert _in_order(found) == _in_order(document)
    assert await books.find({}, sort={"_id": 1}, batch_size=1) == stored  # getMore replies
    # Queries and $lookup on the $id path
    by_id = await books.find({"author.$id": {"$in": [first, second]}}, sort={"_id": 1})
    assert [book["_id"] for book in by_id] == [1, 2]
    assert [book["_id"] for book in await books.find({"authors.$id": first})] == [3]
    await authors.insert_many([{"_id": first, "name": "A"}, {"_id": second, "name": "B"}])
    joined = await books.aggregate(
        [
            {"$match": {"_id": {"$in": [1, 2]}}},
            {"$sort": {"_id": 1}},
            {
                "$lookup": {
                    "from": "author",
                    "localField": "author.$id",
                    "foreignField": "_id",
                    "as": "found",
                }
            },
        ]
    )
    assert joined == [
        {**stored[0], "found": [{"_id": first, "name": "A"}]},
        {**stored[1], "found": [{"_id": second, "name": "B"}]},
    ]


def _in_order(value: object) -> object:
    """``value`` with every document as a list of (key, value) pairs, to compare key order."""
    if isinstance(value, dict):
        items = cast("dict[str, object]", value).items()
        return [(key, _in_order(item)) for key, item in items]
    if isinstance(value, list):
        return [_in_order(item) for item in cast("list[object]", value)]
    return value
