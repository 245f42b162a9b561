"""Run mongoeco's wire server as Vellum's embedded test server.

    python mongoeco_launcher.py --port PORT [--host 127.0.0.1]

Runs under the Python 3.13 venv that scripts/test_server.py builds (mongoeco
needs >= 3.13). Storage is mongoeco's in-memory engine: every start is empty.
Adjustments are made here, at import time, by wrapping mongoeco
functions (site-packages is not edited; written against mongoeco 4.11.0):

(a) cursor ids in replies are BSON Int64: the Rust driver rejects int32 ids;
(b) Int64 cursor ids sent back in getMore/killCursors are accepted, and so
    are Int64 options that the Rust driver sends (limit, skip, sort...);
(c) hello/isMaster describe a replica-set primary (setName rs0), so drivers
    allow sessions and transactions;
(d) error replies without a `code` get one (the Rust driver cannot parse a
    command error without it): 59, 48, 40324 for the messages known to lack
    one, else 8 UnknownError;
(e) the `_id` uniqueness check of a single-document insert costs O(1), not
    a scan of the whole collection, wherever the scan cannot find anything
    the storage-key check has not;
(f) compound unique indexes are checked through a hash map per index, not by
    comparing the candidate with every stored document;
(g) aggregations may hold any number of documents, as in MongoDB 6+;
(h) a failCommand fail point with closeConnection closes the connection, as
    MongoDB does, instead of answering with an error (code 8);
(i) failCommand fail points apply to commitTransaction too (the wire server
    answers it itself, before fail points are consulted).
(j) DBRefs ({$ref, $id, $db?} subdocuments) whose $id or extra fields hold a
    UUID can be read back (the reply encoder refused them: error code 8).
(k) $convert accepts `to: "decimal"` (MongoDB 4.0+; the emulator's 7.0 dialect
    refused it with code 2, or silently returned onError for every input) and
    MongoDB's numeric type codes (1 double, 2 string, 7 objectId, 8 bool,
    9 date, 16 int, 18 long, 19 decimal; refused with code 8 even with onError);
(l) an update pipeline is a no-op only when the document's BSON is unchanged,
    as in MongoDB, so changing only a number's type (7 -> 7.0, Decimal128("7"),
    Int64 7) is stored (the emulator compared values: 7 == 7.0, nothing written).
(m) a transaction whose commit fails with the memory engine's write conflict (any write
    committed since it started) is aborted, and the reply is MongoDB's: code 112
    WriteConflict with the TransientTransactionError label, so drivers retry the whole
    transaction (the emulator answered code 8 with no label and kept the transaction open,
    so every later transaction on that session conflicted again); committing it again is
    NoSuchTransaction (251), not a silent ok.
(n) listDatabases with nameOnly lists the names without computing each database's size, as
    MongoDB does (the emulator computed them anyway, and its size computation fails with code 8
    for a database holding a Decimal128).
(e) and (f) keep the engine's semantics exactly (tests_py/launcher_differential.py
compares the engine with and without them over random operation sequences).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import decimal
import os
import signal
import sys
import uuid
from typing import Any

import bson
import mongoeco
import mongoeco.api._async._database_admin_read_commands as admin_read_commands
import mongoeco.api._async.raw_batch_cursor as raw_batch_cursor
import mongoeco.core.aggregation.runtime as aggregation_runtime
import mongoeco.core.operators as update_operators
import mongoeco.wire._executor_handlers as wire_executor_handlers
import mongoeco.wire.bson_bridge as bson_bridge
import mongoeco.wire.executor as wire_executor
import mongoeco.wire.handshake as wire_handshake
import mongoeco.wire.protocol as wire_protocol
import mongoeco.wire.proxy as wire_proxy
import mongoeco.wire.sessions as wire_sessions
from bson.dbref import DBRef as BsonDBRef
from bson.int64 import Int64
from bson.objectid import ObjectId
from mongoeco._types import ObjectId as EcoObjectId
from mongoeco.core.bson_scalars import BsonInt64, unwrap_bson_numeric
from mongoeco.core.server_errors import server_error
from mongoeco.engines._memory_collection import MemoryCollection
from mongoeco.engines.memory import MemoryEngine
from mongoeco.engines.virtual_indexes import document_in_virtual_index
from mongoeco.errors import ConnectionFailure
from mongoeco.errors import OperationFailure as EcoOperationFailure
from mongoeco.types import DBRef as EcoDBRef
from mongoeco.types import Decimal128 as EcoDecimal128
from mongoeco.types import UndefinedType
from mongoeco.wire import AsyncMongoEcoProxyServer
from mongoeco.wire._session_identity import wire_session_key

EXPECTED_MONGOECO = "4.11.0"
REPLICA_SET = "rs0"


# (a) Every reply goes through proxy.encode_op_msg_response (OP_MSG) or
# proxy.encode_op_reply (legacy OP_QUERY handshakes); rewrite cursor.id there.
# (d) In the same place: give a `code` to errors that lack one. The Rust driver
# cannot parse a command error (or a write error) without `code` and reports
# "invalid reply ... missing field `code`" instead of the server's error.
_ERROR_CODES = (  # (substring of errmsg, code, codeName) as real MongoDB answers
    ("unsupported wire command", 59, "CommandNotFound"),
    ("already exists", 48, "NamespaceExists"),
    ("Unsupported aggregation stage", 40324, "Location40324"),
)


# VELLUM_LAUNCHER_ERROR_CODES=0 leaves errors as mongoeco sends them (tests of how Vellum reports
# a server error without a code).
ERROR_CODES_ENABLED = os.environ.get("VELLUM_LAUNCHER_ERROR_CODES", "1") != "0"


def _with_code(error):
    if ERROR_CODES_ENABLED and isinstance(error, dict) and "code" not in error:
        message = str(error.get("errmsg", ""))
        code, name = 8, "UnknownError"
        for fragment, known_code, known_name in _ERROR_CODES:
            if fragment in message:
                code, name = known_code, known_name
                break
        error["code"] = code
        error.setdefault("codeName", name)


def _fix_reply(document):
    if not isinstance(document, dict):
        return document
    cursor = document.get("cursor")
    if isinstance(cursor, dict) and "id" in cursor:
        cursor_id = cursor["id"]
        if isinstance(cursor_id, BsonInt64):
            cursor_id = cursor_id.value
        if isinstance(cursor_id, int) and not isinstance(cursor_id, bool):
            cursor["id"] = Int64(cursor_id)
    if document.get("ok") in (0, 0.0) and "errmsg" in document:
        _with_code(document)
    for error in document.get("writeErrors") or ():
        _with_code(error)
    _with_code(document.get("writeConcernError"))
    return document


_encode_op_msg_response = wire_proxy.encode_op_msg_response
_encode_op_reply = wire_proxy.encode_op_reply


def encode_op_msg_response(document, **kwargs):
    return _encode_op_msg_response(_fix_reply(document), **kwargs)


def encode_op_reply(documents, **kwargs):
    return _encode_op_reply([_fix_reply(d) for d in documents], **kwargs)


wire_proxy.encode_op_msg_response = encode_op_msg_response
wire_proxy.encode_op_reply = encode_op_reply


# (b) The wire decoder turns every bson.Int64 into mongoeco's BsonInt64
# wrapper, which the request validation and WireCursorStore reject as "not an
# integer". Drivers send Int64 cursor ids in getMore and killCursors, and the
# Rust driver sends i64 (BSON Int64) for limit/skip and wherever a Rust i64
# ends up (sort directions, index keys, expireAfterSeconds, $limit...), all
# of which real MongoDB accepts. Unwrap Int64 in those option positions, never
# in document data (filters, inserted documents, update values), before
# validation. Stored cursor ids are plain ints and Int64(n) == n.
def _plain(value):
    return value.value if isinstance(value, BsonInt64) else value


def _plain_values(spec):
    # {field: Int64(1)} -> {field: 1}, one level deep (sort, projection, keys)
    if isinstance(spec, dict):
        for key, value in spec.items():
            if isinstance(value, BsonInt64):
                spec[key] = value.value
            elif isinstance(value, dict) and "$slice" in value:
                value["$slice"] = _plain(value["$slice"])
                if isinstance(value["$slice"], list):
                    value["$slice"] = [_plain(v) for v in value["$slice"]]


def _plain_pipeline(pipeline):
    for stage in pipeline if isinstance(pipeline, list) else ():
        if not isinstance(stage, dict):
            continue
        for name in ("$limit", "$skip"):
            if name in stage:
                stage[name] = _plain(stage[name])
        _plain_values(stage.get("$sort"))
        if isinstance(stage.get("$sample"), dict):
            _plain_values(stage["$sample"])
        for name in ("$lookup", "$unionWith"):
            if isinstance(stage.get(name), dict):
                _plain_pipeline(stage[name].get("pipeline"))
        if isinstance(stage.get("$facet"), dict):
            for sub in stage["$facet"].values():
                _plain_pipeline(sub)


def _plain_command(body):
    _plain_values(body)  # getMore id, limit, skip, batchSize, maxTimeMS, ...
    for name in ("sort", "projection", "fields"):
        _plain_values(body.get(name))
    if isinstance(body.get("cursor"), dict):
        _plain_values(body["cursor"])  # batchSize
    if isinstance(body.get("cursors"), list):  # killCursors
        body["cursors"] = [_plain(c) for c in body["cursors"]]
    for statement in body.get("deletes") or ():  # delete limit
        _plain_values(statement)
    for index in body.get("indexes") or ():  # createIndexes
        _plain_values(index)  # expireAfterSeconds, ...
        if isinstance(index, dict):
            _plain_values(index.get("key"))
    _plain_pipeline(body.get("pipeline"))


_build_request_context = wire_executor.build_request_context


def build_request_context(body, **kwargs):
    if isinstance(body, dict):
        _plain_command(body)
    return _build_request_context(body, **kwargs)


wire_executor.build_request_context = build_request_context


# (c) A replica-set primary of one member, this server itself.
def install_replica_set_hello(address: str) -> None:
    election_id = ObjectId("7fffffff0000000000000001")
    original = wire_handshake.WireHandshakeService.build_hello_response

    def build_hello_response(self, **kwargs):
        response = original(self, **kwargs)
        response.update(
            isWritablePrimary=True,
            secondary=False,
            setName=REPLICA_SET,
            setVersion=1,
            electionId=election_id,
            hosts=[address],
            primary=address,
            me=address,
            logicalSessionTimeoutMinutes=30,
        )
        return response

    wire_handshake.WireHandshakeService.build_hello_response = build_hello_response


# (e) MemoryEngine._ensure_unique_indexes checks a candidate `_id` in two ways:
# its storage key (bson_engine_key: hashed, O(1)) and, for every insert of a
# single document (the wire server inserts documents one at a time) or any
# numeric id, a scan of the whole collection comparing bson_equality_key,
# which makes n inserts cost n^2/2 key computations. The scan can only find
# what the storage-key check missed: an existing `_id` that is equal under
# BSON comparison but stored under another key (1 vs 1.0 vs Int64(1) vs
# Decimal128("1"), bytes vs Binary subtype 0, and documents or arrays holding
# such values). For an id built only of the types below, equal equality keys
# imply equal storage keys (bson_equality_key falls through to
# bson_engine_key for each of them, and documents and arrays compare element
# by element), so the scan is skipped for them and only for them. Every other
# id (numbers, binaries, anything unlisted) still gets the engine's own scan.
_PLAIN_ID_SCALARS: frozenset[type] = frozenset(
    # mongoeco holds ObjectIds from the wire as its own class; both are keyed alike.
    {type(None), bool, str, uuid.UUID, datetime.datetime, ObjectId, EcoObjectId}
)
_PLAIN_ID_MAX_DEPTH = 100


def plain_id(value: Any, depth: int = 0) -> bool:
    """True when BSON equality of ``value`` with any stored id is storage-key equality."""
    kind = type(value)
    if kind in _PLAIN_ID_SCALARS:
        return True
    if depth >= _PLAIN_ID_MAX_DEPTH:
        return False
    # Documents (mongoeco holds them as a dict subclass) and arrays: both key functions walk
    # any dict or list element by element.
    if isinstance(value, dict):
        return all(plain_id(item, depth + 1) for item in value.values())
    if isinstance(value, list):
        return all(plain_id(item, depth + 1) for item in value)
    return False


# (f) For a unique index that the engine cannot look up in its own index map
# (compound indexes: it keeps maps only for single fields), the same method
# compares the candidate with every stored document of the collection. Here
# such indexes get a map of their own from each unique key the engine computes
# (_unique_index_keys, the equality keys it intersects) to the storage keys of
# the documents in the index (document_in_virtual_index: sparse and partial
# filters as the engine applies them). The map lives on the collection object
# itself and is kept right by its mutation methods (every insert, update,
# replace, delete and rename of a row goes through __setitem__, __delitem__ or
# replace_key); a rollback (_restore_state) or clear() drops it, and it is
# rebuilt from the rows on the next check. The conflicting document reported
# is the one the engine's scan would reach first (the earliest in collection
# order), and the error is built by the engine from it. Indexes with a
# collation, and collections that are not MemoryCollections, keep the scan.
# Tests compare the engine with and without them; VELLUM_LAUNCHER_SHIMS=0 turns them off (to
# measure what they save).
SHIMS_ENABLED = os.environ.get("VELLUM_LAUNCHER_SHIMS", "1") != "0"
STATS = {  # how often (e), (f), (h), (i) and (m) took over
    "id_scans_skipped": 0,
    "mapped_checks": 0,
    "connections_closed": 0,
    "transaction_fail_points": 0,
    "write_conflicts": 0,
}
_UNIQUE_MAPS = "_vellum_unique_maps"


class _UniqueMap:
    """Unique key -> storage keys of one index over one collection object."""

    __slots__ = ("by_key", "engine", "index", "keys_of")

    def __init__(self, engine: Any, index: Any, collection: Any) -> None:
        self.engine = engine
        self.index = index
        self.by_key: dict[Any, set[Any]] = {}
        self.keys_of: dict[Any, frozenset[Any]] = {}
        for storage_key, data in collection.items():
            self.add(storage_key, data)

    def add(self, storage_key: Any, data: Any) -> None:
        document = self.engine._borrow_storage_document(data)
        if not document_in_virtual_index(document, self.index):
            return
        keys = frozenset(self.engine._unique_index_keys(document, self.index["fields"]))
        self.keys_of[storage_key] = keys
        for key in keys:
            self.by_key.setdefault(key, set()).add(storage_key)

    def remove(self, storage_key: Any) -> None:
        for key in self.keys_of.pop(storage_key, ()):
            holders = self.by_key[key]
            holders.discard(storage_key)
            if not holders:
                del self.by_key[key]


def _index_signature(index: Any) -> tuple[Any, ...]:
    return (
        index["name"],
        tuple(index["fields"]),
        bool(index.get("sparse")),
        repr(index.get("partial_filter_expression")),
    )


def _unique_map(engine: Any, collection: Any, index: Any) -> _UniqueMap:
    maps = collection.__dict__.setdefault(_UNIQUE_MAPS, {})
    signature = _index_signature(index)
    found = maps.get(signature)
    if found is None or found.engine is not engine:
        found = maps[signature] = _UniqueMap(engine, index, collection)
    return found


def _wrap_collection_mutations() -> None:
    set_item, del_item = MemoryCollection.__setitem__, MemoryCollection.__delitem__
    replace_key, restore = MemoryCollection.replace_key, MemoryCollection._restore_state
    clear = MemoryCollection.clear

    def __setitem__(self, key, value):
        set_item(self, key, value)
        for unique in self.__dict__.get(_UNIQUE_MAPS, {}).values():
            unique.remove(key)
            unique.add(key, value)

    def __delitem__(self, key):
        del_item(self, key)
        for unique in self.__dict__.get(_UNIQUE_MAPS, {}).values():
            unique.remove(key)

    def _replace_key(self, key, replacement):
        replace_key(self, key, replacement)
        if key != replacement:
            for unique in self.__dict__.get(_UNIQUE_MAPS, {}).values():
                unique.remove(key)
                unique.add(replacement, self[replacement])

    def _restore_state(self, state):
        self.__dict__.pop(_UNIQUE_MAPS, None)
        restore(self, state)

    def _clear(self):
        self.__dict__.pop(_UNIQUE_MAPS, None)
        clear(self)

    MemoryCollection.__setitem__ = __setitem__
    MemoryCollection.__delitem__ = __delitem__
    MemoryCollection.replace_key = _replace_key
    MemoryCollection._restore_state = _restore_state
    MemoryCollection.clear = _clear


def _mapped(index: Any, index_data: Any) -> bool:
    """True for the unique indexes that the engine would check by scanning (and that (f) maps)."""
    if not index.get("unique") or index.get("collation") is not None:
        return False
    return len(index["fields"]) != 1 or index_data.get(index["name"]) is None


def install_unique_shims() -> None:
    original = MemoryEngine._ensure_unique_indexes
    if getattr(original, "__vellum_shim__", False):
        return
    _wrap_collection_mutations()

    def _ensure_unique_indexes(self, db_name, coll_name, candidate, **kwargs):
        if not SHIMS_ENABLED:
            return original(self, db_name, coll_name, candidate, **kwargs)
        if kwargs.get("scan_payload_id") and plain_id(candidate.get("_id")):
            kwargs["scan_payload_id"] = False  # (e)
            STATS["id_scans_skipped"] += 1
        indexes_view = kwargs.get("indexes_view")
        indexes = (self._indexes if indexes_view is None else indexes_view).get(db_name, {})
        indexes = indexes.get(coll_name, [])
        storage_view = kwargs.get("storage_view")
        coll = (self._storage if storage_view is None else storage_view).get(db_name, {})
        coll = coll.get(coll_name, {})
        index_data_view = kwargs.get("index_data_view")
        index_data = self._index_data if index_data_view is None else index_data_view
        index_data = index_data.get(db_name, {}).get(coll_name, {})
        if not isinstance(coll, MemoryCollection) or not any(
            _mapped(index, index_data) for index in indexes
        ):
            return original(self, db_name, coll_name, candidate, **kwargs)
        # The `_id` check first, then each index in the engine's order: unmapped ones by the
        # engine itself, mapped ones here.
        one_index = {db_name: {coll_name: []}}
        original(self, db_name, coll_name, candidate, **{**kwargs, "indexes_view": one_index})
        kwargs["check_id_storage"] = False
        exclude = kwargs.get("exclude_storage_key")
        if exclude is not None and exclude not in coll:
            exclude = self._storage_key(exclude)
        for index in indexes:
            if not _mapped(index, index_data):
                one_index[db_name][coll_name] = [index]
                original(
                    self, db_name, coll_name, candidate, **{**kwargs, "indexes_view": one_index}
                )
                continue
            if not document_in_virtual_index(candidate, index):
                continue
            self._validate_compound_multikey_shape(candidate, index)
            STATS["mapped_checks"] += 1
            unique = _unique_map(self, coll, index)
            holders = {
                storage_key
                for key in self._unique_index_keys(candidate, index["fields"])
                for storage_key in unique.by_key.get(key, ())
                if storage_key != exclude
            }
            if not holders:
                continue
            first = min(holders, key=coll.ordinal_for)
            existing = self._borrow_storage_document(coll[first])
            duplicate_key = self._unique_index_conflict(candidate, existing, index)
            raise self._unique_key_error(
                f"Duplicate key for unique index '{index['name']}': "
                f"{index['fields']}={duplicate_key!r}",
                f"{db_name}.{coll_name}",
                candidate,
                index=index,
                conflict=duplicate_key,
            )
        return None

    _ensure_unique_indexes.__vellum_shim__ = True  # type: ignore[attr-defined]
    MemoryEngine._ensure_unique_indexes = _ensure_unique_indexes


install_unique_shims()


# (h) mongoeco's failCommand with `closeConnection: true` raises its ConnectionFailure inside
# the command, and the wire server turns every error of a command into an error reply. MongoDB
# closes the connection without a reply, which is what drivers must survive (and label
# TransientTransactionError inside a transaction, UnknownTransactionCommitResult at commit).
# Close it here the way the server closes a connection after a fatal protocol error: the
# handler's error ends the connection.
_wire_failure = wire_proxy.AsyncMongoEcoProxyServer._wire_failure


def _close_on_connection_failure(self, error, header, state):
    if isinstance(error, ConnectionFailure) and state.phase == "execute":
        state.outcome = "error"
        state.disposition = "close"
        state.response = "closed"
        STATS["connections_closed"] += 1
        raise error
    return _wire_failure(self, error, header, state)


wire_proxy.AsyncMongoEcoProxyServer._wire_failure = _close_on_connection_failure


# (i) The wire server answers commitTransaction from its session store, so a failCommand fail
# point naming it never fires. Consult it first, as the command path
# does for every other command (blockTimeMS, closeConnection, errorCode, errorLabels).
def _with_fail_point(name: str, handle):
    async def handler(self, context):
        state = getattr(self._client._engine, "_command_failpoint_state", None)
        fail = None if state is None else state.consume_fail_command(name)
        if fail is not None:
            STATS["transaction_fail_points"] += 1
            if fail.block_time_ms > 0:
                await asyncio.sleep(fail.block_time_ms / 1000)
            if fail.close_connection:
                raise ConnectionFailure(fail.error_message, error_labels=fail.error_labels)
            raise EcoOperationFailure(
                fail.error_message,
                code=fail.error_code,
                details={"failPoint": "failCommand", "commandName": name},
                error_labels=fail.error_labels,
            )
        return await handle(self, context)

    return handler


_Handlers = wire_executor_handlers.WireSpecialCommandHandlers
_Handlers._handle_commit_transaction = _with_fail_point(
    "commitTransaction", _Handlers._handle_commit_transaction
)


# (j) pymongo's BSON decoder turns every subdocument that starts like a DBRef ($ref string, $id,
# $db string or absent) into a bson DBRef, and the wire bridge into mongoeco's DBRef, whose $id
# and extra fields hold mongoeco values (a UUID as a native uuid.UUID). Reads materialize stored
# documents as PyMongo values first (core/codec.py, DocumentCodec.to_pymongo: a bson DBRef
# built around the still native UUID, left for codec options that never look inside a DBRef),
# and the reply encoder (wire/bson_bridge.py, encode_wire_value) converts mongoeco's DBRef
# but passes a bson DBRef through untouched, so BSON.encode meets a native UUID without a UUID
# representation and the whole reply fails. Convert the $id and extras of both kinds here.
# BSON.encode writes a DBRef as {$ref, $id, $db?, extras...}: documents stored in that order
# come back byte for byte; another order comes back in this one (pymongo's decoder, in front
# of mongoeco, already rebuilt it; MongoDB keeps any order). `_extra`, not **kwargs, so that
# extra fields named like DBRef's parameters (id, collection...) cannot clash.
_encode_wire_value = bson_bridge.encode_wire_value


def encode_wire_value(value: Any) -> Any:
    if isinstance(value, BsonDBRef):
        extras = {k: v for k, v in value.as_doc().items() if k not in ("$ref", "$id", "$db")}
        return BsonDBRef(
            value.collection,
            encode_wire_value(value.id),
            value.database,
            _extra={key: encode_wire_value(item) for key, item in extras.items()},
        )
    if isinstance(value, EcoDBRef):
        return BsonDBRef(
            value.collection,
            encode_wire_value(value.id),
            value.database,
            _extra={key: encode_wire_value(item) for key, item in value.extras.items()},
        )
    return _encode_wire_value(value)


# The bridge recurses through its module's name; the other two imported the function itself.
bson_bridge.encode_wire_value = encode_wire_value
wire_protocol.encode_wire_value = encode_wire_value
raw_batch_cursor.encode_wire_value = encode_wire_value


# (k) mongoeco evaluates $convert (core/aggregation/scalar_expressions.py,
# evaluate_scalar_expression) with a table of targets that has "decimal" only under its
# extended-conversions dialects (8.0+), not under the default 7.0 one: `to: "decimal"` raised
# "$convert target type is not supported" (code 2), and with onError the same refusal was
# caught, so every input, even "1.5", came back as onError's value. A numeric `to` (MongoDB's
# type codes) raised "to must resolve to a string", outside the onError handling (code 8 from
# (d)). Here `to` is evaluated first: a type code becomes its name and goes on to the engine;
# "decimal" is evaluated through the engine's own $toDecimal (which converts bools, ints, longs,
# doubles, decimals and base-10 strings as MongoDB does, and fails with ConversionFailure 241),
# with onNull for null, undefined or missing input, onError for a failed conversion, and a date
# as its milliseconds since the epoch (MongoDB's rule; the emulator's $toDecimal refuses dates).
# Every other $convert, and every dialect that converts to decimal itself, is left to the engine
# unchanged.
_CONVERT_TYPE_CODES = {
    1: "double",
    2: "string",
    7: "objectId",
    8: "bool",
    9: "date",
    16: "int",
    18: "long",
    19: "decimal",
}
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_evaluate_scalar_expression = aggregation_runtime.evaluate_scalar_expression


def convert_type_name(target: Any) -> Any:
    """$convert's `to` as a type name: a numeric type code becomes its name; anything else is
    returned as it is (the engine judges it)."""
    number = unwrap_bson_numeric(target)
    if isinstance(number, EcoDecimal128):
        number = number.to_decimal()
    if isinstance(number, bool) or not isinstance(number, (int, float, decimal.Decimal)):
        return target
    try:
        code = int(number)
    except (ValueError, OverflowError):  # NaN, infinities
        return target
    return _CONVERT_TYPE_CODES.get(code, target) if code == number else target


def _convert_to_decimal(document: Any, spec: dict[str, Any], variables: Any, kwargs: Any) -> Any:
    evaluate = kwargs["evaluate_expression"]
    value = kwargs["evaluate_expression_with_missing"](document, spec["input"], variables)
    if value is kwargs["missing_sentinel"] or value is None or isinstance(value, UndefinedType):
        return evaluate(document, spec["onNull"], variables) if "onNull" in spec else None
    if isinstance(value, datetime.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)
        value = (aware - _EPOCH) // datetime.timedelta(milliseconds=1)
    try:
        return _evaluate_scalar_expression(
            "$toDecimal", document, [{"$literal": value}], variables, **kwargs
        )
    except Exception as error:
        if "onError" in spec:
            return evaluate(document, spec["onError"], variables)
        if isinstance(error, EcoOperationFailure) and error.code == 241:
            message = str(error).replace("$toDecimal", "$convert")
            raise server_error(message, code=241) from error
        raise


def evaluate_scalar_expression(
    operator: str, document: Any, spec: Any, variables: Any, **kwargs: Any
) -> Any:
    if operator != "$convert" or not isinstance(spec, dict) or not {"input", "to"} <= spec.keys():
        return _evaluate_scalar_expression(operator, document, spec, variables, **kwargs)
    try:
        target = kwargs["evaluate_expression"](document, spec["to"], variables)
    except Exception:  # the engine evaluates it again and reports the error its own way
        return _evaluate_scalar_expression(operator, document, spec, variables, **kwargs)
    name = convert_type_name(target)
    dialect = kwargs.get("dialect")
    extended = dialect is not None and dialect.behavior_flag(
        "uses_extended_conversions", default=False
    )
    if name == "decimal" and not extended:
        return _convert_to_decimal(document, spec, variables, kwargs)
    if name is not target:  # a type code: the engine reads names only
        spec = {**spec, "to": name}
    return _evaluate_scalar_expression(operator, document, spec, variables, **kwargs)


# The expression evaluator (core/aggregation/runtime.py) calls it through its module's name.
aggregation_runtime.evaluate_scalar_expression = evaluate_scalar_expression


# (l) CompiledUpdatePipelinePlan.apply (core/operators.py) writes the pipeline's result only when
# `document_id_bson_type_changed(original, result)` (a numeric type change of `_id`) or the two
# documents differ under BSON value comparison, where 7 == 7.0 == Int64(7) == Decimal128("7"):
# converting a number to another numeric type (with $convert, $toDecimal, $toDouble...) changed
# nothing stored. MongoDB's pipeline updates are no-ops only when the new document is
# byte-for-byte the old one (ObjectReplaceExecutor::applyReplacementUpdate, binaryEqual). The
# name is looked up in that module only there; here it also answers True when the two documents'
# BSON differs. A document the reply encoder cannot encode keeps the engine's comparison.
_id_type_changed = update_operators.document_id_bson_type_changed


def _pipeline_result_changed(original: dict[str, Any], result: dict[str, Any]) -> bool:
    if _id_type_changed(original, result):
        return True
    try:
        return bson.encode(encode_wire_value(original)) != bson.encode(encode_wire_value(result))
    except Exception:
        return False


update_operators.document_id_bson_type_changed = _pipeline_result_changed


# (m) MemoryEngine._commit_session_transaction (engines/memory.py) refuses to commit a transaction
# with writes when anything at all was written since its snapshot (another transaction's commit
# or any write outside one, in any database): OperationFailure("Write conflict during transaction
# commit"), with no code and no label, which (d) made code 8 UnknownError. It raises before
# dropping the transaction, and the session's transaction stays active: the wire session store
# starts a new one on `startTransaction` only when none is active, so the driver's retry ran on
# the stale snapshot (with the first attempt's writes still in it) and conflicted again forever.
# MongoDB reports a write conflict as WriteConflict (112) with the TransientTransactionError label
# and aborts the transaction, and a commit of an aborted transaction is NoSuchTransaction (251,
# also TransientTransactionError at commit). Do both here, at the wire's commit (labels on the
# engine's error would make mongoeco's session retry the commit itself). Which writes conflict is
# still the engine's rule (any write, not only writes to the same documents).
WRITE_CONFLICT_MESSAGE = "Write conflict during transaction commit"
TRANSIENT_TRANSACTION_ERROR = "TransientTransactionError"
_CONFLICTS = "_vellum_write_conflicts"  # session key -> txnNumber aborted by a conflict
_store_commit_transaction = wire_sessions.WireSessionStore.commit_transaction


def _transaction_failure(message: str, code: int, code_name: str) -> EcoOperationFailure:
    return EcoOperationFailure(
        message,
        code=code,
        details={"codeName": code_name},
        error_labels=(TRANSIENT_TRANSACTION_ERROR,),
    )


def commit_transaction(self, body):
    conflicts = self.__dict__.setdefault(_CONFLICTS, {})
    lsid, number = body.get("lsid"), _plain(body.get("txnNumber"))
    key = None if lsid is None or number is None else wire_session_key(lsid)
    if key is not None and conflicts.get(key) == number:
        message = f"Transaction {number} has been aborted (write conflict at its commit)."
        raise _transaction_failure(message, 251, "NoSuchTransaction")
    try:
        return _store_commit_transaction(self, body)
    except EcoOperationFailure as error:
        if error.code is not None or WRITE_CONFLICT_MESSAGE not in str(error):
            raise
        session = self._require_session(body)
        if session.transaction_active:
            session.abort_transaction()
        if key is not None:
            conflicts[key] = number
        STATS["write_conflicts"] += 1
        raise _transaction_failure(str(error), 112, "WriteConflict") from error


wire_sessions.WireSessionStore.commit_transaction = commit_transaction


async def serve(host: str, port: int) -> None:
    install_replica_set_hello(f"{host}:{port}")
    # (g) No cap on the documents an aggregation may hold: the engine's default refuses any
    # blocking stage ($group, $sort, count_documents...) over 50 000 documents, where
    # MongoDB 6+ spills to disk by default (allowDiskUseByDefault).
    engine = MemoryEngine(aggregation_materialization_limit=None)
    server = AsyncMongoEcoProxyServer(host=host, port=port, engine=engine)
    address = await server.start()
    print(
        f"mongoeco {mongoeco.__version__} listening on {address.host}:{address.port}",
        file=sys.stderr,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()
        print("mongoeco stopped", file=sys.stderr, flush=True)


# (n) listDatabases {nameOnly: true} without a filter: the names, no sizes.
_list_databases = admin_read_commands.DatabaseAdminReadCommandService.command_list_databases


async def command_list_databases(self, spec, *, session=None):
    if spec.get("nameOnly") is True and not spec.get("filter"):
        self._admin._ensure_session_active(session)
        names = await self._admin._engine.list_databases(context=session)
        return admin_read_commands.ListDatabasesCommandResult(
            databases=[{"name": str(name)} for name in names], total_size=0
        )
    return await _list_databases(self, spec, session=session)


admin_read_commands.DatabaseAdminReadCommandService.command_list_databases = command_list_databases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if getattr(mongoeco, "__version__", None) != EXPECTED_MONGOECO:
        print(
            f"warning: launcher written for mongoeco {EXPECTED_MONGOECO}, "
            f"found {getattr(mongoeco, '__version__', '?')}",
            file=sys.stderr,
        )
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
