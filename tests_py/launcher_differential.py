"""The launcher's uniqueness shims against mongoeco's own engine: same operations, same outcomes.

    <mongoeco venv>/bin/python tests_py/launcher_differential.py [SEQUENCES] [FIRST_SEED]

Runs under the embedded server's Python 3.13 venv (mongoeco is importable only there; see
tests_py/test_launcher.py). Each sequence is a random list of operations on one collection (unique,
compound, sparse and partial indexes; inserts with colliding `_id`s and keys of several BSON
types; updates that create and remove collisions; replaces, deletes, index drops and creations,
collection drops, transactions that commit or abort), generated from a seed and run twice in
process: once by the engine alone, once with the launcher's shims. Every operation's result or
error (type, code, message, keyPattern, keyValue) and the collection's final documents and
indexes must be the same. Prints one summary line; exits 1 with the first difference.
"""

from __future__ import annotations

import importlib.util
import random
import sys
import uuid
from pathlib import Path
from typing import Any

import mongoeco
from bson import Binary, ObjectId
from mongoeco._types import ObjectId as EcoObjectId

LAUNCHER_PATH = Path(__file__).resolve().parents[1] / "scripts" / "mongoeco_launcher.py"
_spec = importlib.util.spec_from_file_location("mongoeco_launcher", LAUNCHER_PATH)
assert _spec is not None and _spec.loader is not None
launcher = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(launcher)

FIELDS = ("a", "b", "c.d")


class Sequence:
    """One seeded sequence of operations; `run` replays it on a fresh in-process server."""

    def __init__(self, seed: int, length: int) -> None:
        rng = random.Random(seed)
        self.rng = rng
        self.ids: list[Any] = [
            0, 1, 1.0, 2, "0", "x", {"k": 1}, {"k": 1.0}, b"x", Binary(b"x", 0), {"k": b"x"},
            {"k": Binary(b"x", 0)}, [1],
            *(uuid.UUID(int=rng.getrandbits(128)) for _ in range(3)),
            *(ObjectId(rng.getrandbits(96).to_bytes(12, "big")) for _ in range(2)),
            EcoObjectId(rng.getrandbits(96).to_bytes(12, "big")),
        ]  # fmt: skip
        self.values: list[Any] = [0, 1, 1.0, 2, None, "x", "y", [1, 2], [2, 3], {"k": 1}]
        self.ops = [self._op() for _ in range(length)]

    def _value(self) -> Any:
        return self.rng.choice(self.values)

    def _document(self) -> dict[str, Any]:
        rng = self.rng
        doc: dict[str, Any] = {}
        if rng.random() < 0.9:
            doc["_id"] = rng.choice(self.ids)
        for field in ("a", "b"):
            if rng.random() < 0.8:
                doc[field] = self._value()
        if rng.random() < 0.5:
            doc["c"] = {"d": self._value()} if rng.random() < 0.8 else [{"d": 1}, {"d": 2}]
        return doc

    def _filter(self) -> dict[str, Any]:
        rng = self.rng
        choice = rng.random()
        if choice < 0.4:
            return {"_id": rng.choice(self.ids)}
        if choice < 0.8:
            return {rng.choice(("a", "b")): self._value()}
        return {}

    def _update(self) -> dict[str, Any]:
        rng = self.rng
        field = rng.choice(FIELDS)
        kind = rng.random()
        if kind < 0.6:
            return {"$set": {field: self._value()}}
        if kind < 0.8:
            return {"$unset": {field: ""}}
        return {"$inc": {rng.choice(("a", "b")): rng.choice((1, -1, 0.5))}}

    def _index(self) -> tuple[list[tuple[str, int]], dict[str, Any]]:
        rng = self.rng
        fields = rng.sample(FIELDS, rng.choice((1, 2, 2, 3)))
        keys = [(field, rng.choice((1, -1))) for field in fields]
        options: dict[str, Any] = {"unique": rng.random() < 0.85}
        if rng.random() < 0.3:
            options["sparse"] = True
        elif rng.random() < 0.3:
            options["partial_filter_expression"] = rng.choice(
                ({fields[0]: {"$exists": True}}, {"a": {"$type": "number"}}, {"b": {"$gt": 0}})
            )
        return keys, options

    def _op(self) -> tuple[Any, ...]:
        rng = self.rng
        kind = rng.choices(
            ("insert_one", "insert_many", "update_one", "update_many", "replace_one",
             "delete_one", "delete_many", "create_index", "drop_index", "drop", "transaction"),
            weights=(30, 8, 12, 6, 6, 6, 2, 12, 3, 1, 6),
        )[0]  # fmt: skip
        if kind == "insert_one":
            return (kind, self._document())
        if kind == "insert_many":
            return (kind, [self._document() for _ in range(rng.randint(1, 5))], rng.random() < 0.5)
        if kind in ("update_one", "update_many"):
            return (kind, self._filter(), self._update(), rng.random() < 0.2)
        if kind == "replace_one":
            replacement = self._document()
            replacement.pop("_id", None)
            return (kind, self._filter(), replacement, rng.random() < 0.2)
        if kind in ("delete_one", "delete_many"):
            return (kind, self._filter())
        if kind == "create_index":
            return (kind, *self._index())
        if kind == "drop_index":
            return (kind, rng.randrange(4))
        if kind == "transaction":
            inner = [self._op() for _ in range(rng.randint(1, 4))]
            inner = [op for op in inner if op[0] not in ("transaction", "create_index", "drop",
                                                          "drop_index")]  # fmt: skip
            return (kind, inner, rng.random() < 0.5)
        return (kind,)

    def run(self, shims: bool) -> list[Any]:
        launcher.SHIMS_ENABLED = shims
        client = mongoeco.MongoClient()
        try:
            collection = client["db"]["c"]
            outcomes = [_outcome(lambda op=op: _apply(client, collection, op)) for op in self.ops]
            outcomes.append(("final", list(collection.find({})), _indexes(collection)))
            return _generated_ids_numbered(
                outcomes, {i for i in self.ids if type(i) in (ObjectId, EcoObjectId)}
            )
        finally:
            client.close()


def _generated_ids_numbered(outcomes: list[Any], pool: set[Any]) -> list[str]:
    """The ObjectIds the server generated for documents without `_id`, as "generated #n" in
    order of appearance (they differ between runs; their order and reuse must not)."""
    names: dict[Any, str] = {}
    text = repr(outcomes)
    for generated in sorted(
        {o for o in _walk(outcomes) if isinstance(o, (ObjectId, EcoObjectId)) and o not in pool},
        key=lambda o: text.index(repr(o)),
    ):
        names[generated] = f"generated #{len(names)}"
    return [_renamed(repr(outcome), names) for outcome in outcomes]


def _walk(value: Any) -> Any:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk(item)


def _renamed(text: str, names: dict[Any, str]) -> str:
    for generated, name in names.items():
        text = text.replace(repr(generated), name).replace(str(generated), name)
    return text


def _indexes(collection: Any) -> list[Any]:
    return sorted(
        (index["name"], repr(index.get("key")), index.get("unique"), index.get("sparse"),
         repr(index.get("partialFilterExpression")))
        for index in collection.list_indexes()
    )  # fmt: skip


def _apply(client: Any, collection: Any, op: tuple[Any, ...], session: Any = None) -> Any:
    kind, *args = op
    if kind == "insert_one":
        return collection.insert_one(dict(args[0]), session=session).inserted_id
    if kind == "insert_many":
        docs, ordered = args
        result = collection.insert_many([dict(d) for d in docs], ordered=ordered, session=session)
        return result.inserted_ids
    if kind in ("update_one", "update_many", "replace_one"):
        method = getattr(collection, kind)
        result = method(args[0], args[1], upsert=args[2], session=session)
        return (result.matched_count, result.modified_count, result.upserted_id)
    if kind in ("delete_one", "delete_many"):
        return getattr(collection, kind)(args[0], session=session).deleted_count
    if kind == "create_index":
        keys, options = args
        return collection.create_index(keys, **options)
    if kind == "drop_index":
        names = sorted(i["name"] for i in collection.list_indexes() if i["name"] != "_id_")
        if not names:
            return None
        collection.drop_index(names[args[0] % len(names)])
        return names[args[0] % len(names)]
    if kind == "drop":
        return collection.drop()
    if kind == "transaction":
        inner, commit = args
        with client.start_session() as txn:
            txn.start_transaction()
            results = [_outcome(lambda o=o: _apply(client, collection, o, txn)) for o in inner]
            if commit:
                txn.commit_transaction()
            else:
                txn.abort_transaction()
        return results
    raise AssertionError(kind)


def _outcome(call: Any) -> Any:
    try:
        return ("ok", call())
    except Exception as error:  # every error is part of the outcome to compare
        details = getattr(error, "details", None)
        return ("error", type(error).__name__, getattr(error, "code", None), str(error), details)


def _wire_ids_are_plain() -> bool:
    """The id types drivers send (as the wire server decodes them) take the O(1) check: a type
    the shim does not recognise would silently keep the quadratic scan."""
    from datetime import datetime, timezone

    import bson
    from mongoeco.core.codec import DocumentCodec
    from mongoeco.wire.bson_bridge import decode_wire_value

    sent = [bson.ObjectId(), uuid.uuid4(), "text", datetime.now(timezone.utc), {"k": "v"}]
    held = [DocumentCodec.to_internal(decode_wire_value(value)) for value in sent]
    missed = [type(value) for value in held if not launcher.plain_id(value)]
    if missed:
        print(f"not recognised as plain ids: {missed}")
    return not missed


def main() -> int:
    if not _wire_ids_are_plain():
        return 1
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    duplicates = 0
    for seed in range(first, first + count):
        sequence = Sequence(seed, length=40)
        expected = sequence.run(shims=False)
        actual = sequence.run(shims=True)
        for step, (want, got) in enumerate(zip(expected, actual, strict=True)):
            if want != got:
                op = sequence.ops[step] if step < len(sequence.ops) else "final state"
                print(f"seed {seed}, step {step}: {op!r}\n engine: {want}\n  shims: {got}")
                return 1
        duplicates += sum(outcome.count("DuplicateKeyError") for outcome in expected)
    stats = launcher.STATS
    print(
        f"{count} sequences identical with and without the shims; {duplicates} duplicate-key "
        f"errors compared; id scans skipped {stats['id_scans_skipped']}, "
        f"mapped index checks {stats['mapped_checks']}"
    )
    if not (duplicates and stats["id_scans_skipped"] and stats["mapped_checks"]):
        print("the sequences did not exercise the shims")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
