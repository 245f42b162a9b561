"""The embedded server's launcher: its shims keep mongoeco's semantics (see
tests_py/launcher_differential.py, which runs in the server's own venv)."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest

from conftest import ROOT, Server
from vellum import (
    ConnectionError,
    DuplicateKeyError,
    Index,
    OperationFailure,
    Session,
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


async def test_a_commit_after_another_commit_is_a_transient_write_conflict(
    own_client: VellumClient, db_name: str, server: Server
) -> None:
    """Shim (m): the emulator refuses to commit a transaction when anything was written since it
    started; that refusal is MongoDB's WriteConflict (112, TransientTransactionError), and the
    transaction is aborted (the emulator answered code 8 and kept it open, so the session's next
    transaction conflicted again)."""
    if server.is_real_mongodb:
        pytest.skip("MongoDB refuses the conflicting write itself (test_transactions.py)")
    client = own_client  # without the shim the loser stays open on a pooled server session
    coll = client._core.collection(db_name, "conflicts")  # pyright: ignore[reportPrivateUsage]
    await coll.insert_one({"_id": "counter", "n": 0})
    async with client.start_session() as loser, client.start_session() as winner:
        await loser.start_transaction()
        await winner.start_transaction()
        await coll.update_one({"_id": "counter"}, {"$inc": {"n": 1}}, session=loser._core)  # pyright: ignore[reportPrivateUsage]
        await coll.insert_one({"_id": "loser"}, session=loser._core)  # pyright: ignore[reportPrivateUsage]
        await coll.update_one({"_id": "counter"}, {"$inc": {"n": 10}}, session=winner._core)  # pyright: ignore[reportPrivateUsage]
        await winner.commit_transaction()
        with pytest.raises(OperationFailure) as conflict:
            await loser.commit_transaction()
    assert conflict.value.code == 112
    assert conflict.value.code_name == "WriteConflict"
    assert conflict.value.has_error_label("TransientTransactionError")
    assert await coll.find({}) == [{"_id": "counter", "n": 10}]

    # The same session: committing the aborted transaction again is NoSuchTransaction, and its
    # next transaction starts from a fresh snapshot.
    async with client.start_session() as session:
        await session.start_transaction()
        await coll.insert_one({"_id": "first"}, session=session._core)  # pyright: ignore[reportPrivateUsage]
        await coll.insert_one({"_id": "between"})  # outside any transaction: a conflict too
        with pytest.raises(OperationFailure) as first:
            await session.commit_transaction()
        assert (first.value.code, first.value.error_labels) == (112, ("TransientTransactionError",))
        with pytest.raises(OperationFailure) as again:
            await session.commit_transaction()
        assert again.value.code == 251  # NoSuchTransaction
        assert again.value.has_error_label("TransientTransactionError")
        await session.start_transaction()
        await coll.insert_one({"_id": "second"}, session=session._core)  # pyright: ignore[reportPrivateUsage]
        await session.commit_transaction()
    stored = await coll.find({}, sort={"_id": 1})
    assert [d["_id"] for d in stored] == ["between", "counter", "second"]


async def test_with_transaction_retries_the_loser_of_a_write_conflict(
    own_client: VellumClient, db_name: str
) -> None:
    """Shim (m): two overlapping with_transaction calls increment one counter; the one that
    commits second conflicts (on MongoDB at its write, on the emulator at its commit) and is
    run again, so both increments land once each."""
    client = own_client
    coll = client._core.collection(db_name, "counters")  # pyright: ignore[reportPrivateUsage]
    await coll.insert_one({"_id": "counter", "n": 0, "by": []})
    attempts = {"winner": 0, "loser": 0}
    winner_wrote, loser_wrote, winner_committed = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def increment(session: Session, by: str) -> None:
        update = {"$inc": {"n": 1}, "$push": {"by": by}}
        await coll.update_one({"_id": "counter"}, update, session=session._core)  # pyright: ignore[reportPrivateUsage]

    async def winner(session: Session) -> None:
        attempts["winner"] += 1
        await increment(session, "winner")
        winner_wrote.set()
        await loser_wrote.wait()  # the loser's transaction has begun before this one commits

    async def loser(session: Session) -> None:
        attempts["loser"] += 1
        if attempts["loser"] == 1:
            await winner_wrote.wait()
            try:
                await increment(session, "loser")
            finally:
                loser_wrote.set()
            await winner_committed.wait()
        else:
            await increment(session, "loser")

    async def run_winner() -> None:
        await client.with_transaction(winner)
        winner_committed.set()

    await asyncio.wait_for(asyncio.gather(run_winner(), client.with_transaction(loser)), 60)
    assert attempts["winner"] == 1
    assert attempts["loser"] >= 2
    assert await coll.find({}) == [{"_id": "counter", "n": 2, "by": ["winner", "loser"]}]


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


def _to_decimal(to: object = "decimal", **options: object) -> dict[str, object]:
    return {"$convert": {"input": "$p", "to": to, **options}}


async def test_convert_to_decimal(client: VellumClient, db_name: str) -> None:
    """Shim (k): $convert to "decimal" (or its type code 19) converts what $toDecimal converts,
    gives onError's value for what it cannot convert and onNull's for null or missing input. The
    emulator refused the target on its 7.0 dialect (code 2) and, with onError, returned onError's
    value for every input."""
    coll = client._core.collection(db_name, "prices")  # pyright: ignore[reportPrivateUsage]
    stored = {1: "12.50", 2: "abc", 3: 7, 4: 2.5, 6: None, 7: True, 8: Decimal("1.10")}
    await coll.insert_many([{"_id": 5}, *({"_id": i, "p": p} for i, p in stored.items())])
    converted = {
        1: Decimal("12.50"), 2: "abc", 3: Decimal(7), 4: Decimal("2.5"), 5: "none", 6: "none",
        7: Decimal(1), 8: Decimal("1.10"),
    }  # fmt: skip
    kinds = {i: "string" if isinstance(v, str) else "decimal" for i, v in converted.items()}
    for to in ("decimal", 19):
        found = await coll.aggregate(
            [
                {"$set": {"q": _to_decimal(to, onError="$p", onNull="none")}},
                {"$project": {"q": 1, "kind": {"$type": "$q"}}},
                {"$sort": {"_id": 1}},
            ]
        )
        # Equal as numbers: MongoDB keeps 15 digits of a double (2.50000000000000).
        assert {d["_id"]: d["q"] for d in found} == converted, to
        assert {d["_id"]: d["kind"] for d in found} == kinds, to
    no_options = await coll.aggregate(
        [
            {"$match": {"_id": {"$in": [1, 5]}}},
            {"$project": {"q": _to_decimal()}},
            {"$sort": {"_id": 1}},
        ]
    )
    assert no_options == [{"_id": 1, "q": Decimal("12.50")}, {"_id": 5, "q": None}]
    with pytest.raises(OperationFailure) as failed:
        await coll.aggregate([{"$match": {"_id": 2}}, {"$project": {"q": _to_decimal()}}])
    assert failed.value.code == 241  # ConversionFailure

    # In an update pipeline: the unconvertible document keeps its string, found by $type after.
    done = await coll.update_many({}, [{"$set": {"p": _to_decimal(onError="$p", onNull="none")}}])
    assert (done.matched, done.modified) == (8, 6)  # "abc" and Decimal128("1.10") are unchanged
    documents = await coll.find({}, sort={"_id": 1})
    assert {d["_id"]: d["p"] for d in documents} == converted
    decimals = await coll.find({"p": {"$type": "decimal"}}, sort={"_id": 1})
    assert [d["_id"] for d in decimals] == [1, 3, 4, 7, 8]
    strings = await coll.find({"p": {"$type": "string"}}, sort={"_id": 1})
    assert [d["_id"] for d in strings] == [2, 5, 6]
    with pytest.raises(OperationFailure) as refused:
        await coll.update_many({"_id": 2}, [{"$set": {"p": _to_decimal()}}])
    assert refused.value.code == 241
    assert await coll.find({"_id": 2}) == [{"_id": 2, "p": "abc"}]


async def test_update_pipelines_convert_types_and_keep_what_does_not_convert(
    client: VellumClient, db_name: str
) -> None:
    """What a schema migration does: $convert with onError keeping the old value, then $type
    to find the documents that did not convert. Numeric type codes name targets too (k)."""
    coll = client._core.collection(db_name, "events")  # pyright: ignore[reportPrivateUsage]
    await coll.insert_many(
        [
            {"_id": 1, "when": "2024-01-02T03:04:05Z", "n": 7, "count": "42", "price": "9.99"},
            {"_id": 2, "when": "not a date", "n": 8, "count": "4x", "price": "cheap"},
            {"_id": 3, "n": 9, "count": None},
        ]
    )

    def convert(field: str, to: object) -> dict[str, object]:
        return {"$convert": {"input": f"${field}", "to": to, "onError": f"${field}"}}

    migration = {
        "when": convert("when", "date"),
        "n": convert("n", 2),  # string
        "count": convert("count", "int"),
        "price": convert("price", "decimal"),
    }
    done = await coll.update_many({}, [{"$set": migration}])
    assert (done.matched, done.modified) == (3, 3)
    documents = await coll.find({}, sort={"_id": 1})
    assert documents == [
        {
            "_id": 1,
            "when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
            "n": "7",
            "count": 42,
            "price": Decimal("9.99"),
        },
        {"_id": 2, "when": "not a date", "n": "8", "count": "4x", "price": "cheap"},
        # null or missing input without onNull: null
        {"_id": 3, "n": "9", "count": None, "when": None, "price": None},
    ]

    async def ids(query: dict[str, object]) -> list[object]:
        return [d["_id"] for d in await coll.find(query, sort={"_id": 1})]

    assert await ids({"when": {"$type": "string"}}) == [2]
    assert await ids({"when": {"$type": "date"}}) == [1]
    assert await ids({"count": {"$type": "string"}}) == [2]
    assert await ids({"count": {"$type": "int"}}) == [1]
    assert await ids({"price": {"$type": "string"}}) == [2]
    assert await ids({"n": {"$type": "string"}}) == [1, 2, 3]


async def test_update_pipelines_store_a_change_of_numeric_type(
    client: VellumClient, db_name: str
) -> None:
    """Shim (l): a pipeline that only changes a number's type (7 -> 7.0) modifies the document,
    as in MongoDB (its no-op test is byte equality); the emulator compared values and kept 7.
    Pipelines that change nothing are still no-ops."""
    coll = client._core.collection(db_name, "numbers")  # pyright: ignore[reportPrivateUsage]
    await coll.insert_many([{"_id": 1, "v": 7, "s": "x"}, {"_id": 2, "v": 2.0, "s": "y"}])
    no_ops: list[list[Mapping[str, Any]]] = [
        [{"$set": {"v": "$v", "s": "$s"}}],
        [{"$unset": "missing"}],
        [{"$set": {"z": 1}}, {"$unset": "z"}],
        [{"$replaceWith": "$$ROOT"}],
    ]
    for pipeline in no_ops:
        done = await coll.update_many({}, pipeline)
        assert (done.matched, done.modified) == (2, 0), pipeline
    for operator, kind, modified in (
        ("$toDouble", "double", 1),  # 2.0 stays as it is
        ("$toLong", "long", 2),
        ("$toInt", "int", 2),
        ("$toDecimal", "decimal", 2),
    ):
        done = await coll.update_many({}, [{"$set": {"v": {operator: "$v"}}}])
        assert (done.matched, done.modified) == (2, modified), operator
        typed = await coll.find({"v": {"$type": kind}}, sort={"_id": 1})
        assert [d["_id"] for d in typed] == [1, 2], operator


def _in_order(value: object) -> object:
    """``value`` with every document as a list of (key, value) pairs, to compare key order."""
    if isinstance(value, dict):
        items = cast("dict[str, object]", value).items()
        return [(key, _in_order(item)) for key, item in items]
    if isinstance(value, list):
        return [_in_order(item) for item in cast("list[object]", value)]
    return value


async def test_list_database_names_of_databases_holding_decimals(
    client: VellumClient, db_name: str
) -> None:
    # Shim (n): the names only, as MongoDB answers nameOnly (the emulator computed sizes, and
    # failed on a Decimal128).
    await client.command({"insert": "prices", "documents": [{"p": Decimal("1.5")}]}, db_name)
    reply = await client.command({"listDatabases": 1, "nameOnly": True}, "admin")
    assert {"name": db_name} in reply["databases"]
