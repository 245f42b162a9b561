"""Run mongoeco's wire server as Vellum's embedded test server.

    python mongoeco_launcher.py --port PORT [--host 127.0.0.1]

Runs under the Python 3.13 venv that scripts/test_server.py builds (mongoeco
needs >= 3.13). Storage is mongoeco's in-memory engine: every start is empty.
Four adjustments are made here, at import time, by wrapping mongoeco
functions (site-packages is not edited; written against mongoeco 4.11.0):

(a) cursor ids in replies are BSON Int64: the Rust driver rejects int32 ids;
(b) Int64 cursor ids sent back in getMore/killCursors are accepted, and so
    are Int64 options that the Rust driver sends (limit, skip, sort...);
(c) hello/isMaster describe a replica-set primary (setName rs0), so drivers
    allow sessions and transactions;
(d) error replies without a `code` get one (the Rust driver cannot parse a
    command error without it): 59, 48, 40324 for the messages known to lack
    one, else 8 UnknownError.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import mongoeco
import mongoeco.wire.executor as wire_executor
import mongoeco.wire.handshake as wire_handshake
import mongoeco.wire.proxy as wire_proxy
from bson.int64 import Int64
from bson.objectid import ObjectId
from mongoeco.core.bson_scalars import BsonInt64
from mongoeco.wire import AsyncMongoEcoProxyServer

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


def _with_code(error):
    if isinstance(error, dict) and "code" not in error:
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


async def serve(host: str, port: int) -> None:
    install_replica_set_hello(f"{host}:{port}")
    server = AsyncMongoEcoProxyServer(host=host, port=port)
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
