"""vellum.fastapi over HTTP: the lifespan, the dependencies, and each error's answer."""

# No `from __future__ import annotations`: the routes' annotations name aliases local to
# make_app, which FastAPI can resolve only if they are evaluated where they are written.
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from uuid import uuid4

import pytest

from conftest import Server

fastapi = pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402

from vellum import (  # noqa: E402
    ClientClosedError,
    DuplicateKeyError,
    Index,
    Session,
    VellumBaseModel,
    VellumRepository,
    Versioned,
    connect_to_mongodb,
    timeout,
)
from vellum.fastapi import Vellum, add_error_handlers, get_or_404  # noqa: E402
from webserver import serve  # noqa: E402


class Plain(VellumBaseModel):
    name: str


class Gadget(Versioned, VellumBaseModel):
    name: str
    price: int = 0

    class Settings:
        indexes = [Index("name", unique=True)]


def make_app(uri: str, db_name: str) -> tuple[FastAPI, Vellum, list[str]]:
    vellum = Vellum(uri, db_name, ensure_indexes=(Gadget,))
    events: list[str] = []

    @asynccontextmanager
    async def own(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        # The app's own startup runs connected, and its state reaches the routes.
        gadgets = vellum.get_repository(Gadget)
        events.append(f"startup: {await gadgets.count()} gadgets")
        yield {"greeting": "hello"}
        events.append("shutdown")

    app = FastAPI(lifespan=vellum.lifespan(own))
    add_error_handlers(app)
    Gadgets = Annotated[VellumRepository[Gadget], vellum.repository(Gadget)]
    Transaction = Annotated[Session, vellum.transaction()]
    OwnSession = Annotated[Session, vellum.session()]

    @app.get("/greeting")
    async def greeting(request: Request) -> str:
        return request.state.greeting

    @app.post("/gadgets")
    async def create(gadget: Gadget, gadgets: Gadgets) -> Gadget:
        return await gadgets.create(gadget)

    @app.get("/gadgets/{gadget_id}")
    async def get(gadget_id: str, gadgets: Gadgets) -> Gadget:
        return await get_or_404(gadgets, gadget_id)

    @app.put("/gadgets/{gadget_id}")
    async def save(gadget_id: str, gadget: Gadget, gadgets: Gadgets) -> Gadget:
        return await gadgets.save(gadget)

    @app.post("/gadgets/{gadget_id}/reprice")
    async def reprice(gadget_id: str, price: int, gadgets: Gadgets, session: Transaction) -> Gadget:
        # Reads in the transaction, then someone else writes the same document before this
        # transaction writes it: the transaction cannot commit (a write conflict).
        current = await get_or_404(gadgets, gadget_id, session=session)
        await gadgets.update_one(Gadget.Q.id == current.id, Gadget.Q.name.set("changed"))
        changed = await gadgets.update(current.id, {"price": price}, session=session)
        assert changed is not None
        return changed

    @app.post("/gadgets/session")
    async def in_session(gadget: Gadget, gadgets: Gadgets, session: OwnSession) -> int:
        await gadgets.create(gadget, session=session)
        return await gadgets.count(session=session)

    @app.put("/gone/{gadget_id}")
    async def save_gone(gadget_id: str, gadgets: Gadgets) -> Gadget:
        # A plain model whose document was deleted after it was read: DocumentNotFoundError.
        made = await gadgets.create(Gadget(name=f"gone-{gadget_id}"))
        await gadgets.delete(made.id)
        plain = VellumRepository(Plain, vellum.client)
        kept = await plain.create(Plain(name="x"))
        await plain.delete(kept.id)
        await plain.save(kept)
        return made

    @app.get("/slow")
    async def slow(gadgets: Gadgets) -> int:
        with timeout(0.000001):
            return await gadgets.count()

    @app.get("/refused")
    async def refused() -> int:
        raise ClientClosedError("a Vellum error nobody maps: the client was closed")

    @app.get("/unreachable")
    async def unreachable() -> int:
        client = await connect_to_mongodb(
            "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200", "x"
        )
        try:
            return await VellumRepository(Gadget, client).count()
        finally:
            await client.close()

    return app, vellum, events


@pytest.fixture
async def web(server: Server, db_name: str) -> AsyncIterator[tuple[Any, Vellum, list[str]]]:
    app, vellum, events = make_app(server.uri, db_name)
    with pytest.raises(RuntimeError, match="not connected"):
        _ = vellum.client
    with serve(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=20) as http:
            yield http, vellum, events
    assert events[-1] == "shutdown" and vellum._client is None


async def test_lifespan_composes_with_the_apps_own(web: tuple[Any, Vellum, list[str]]) -> None:
    http, vellum, events = web
    assert events == ["startup: 0 gadgets"]
    assert (await http.get("/greeting")).json() == "hello"
    indexes = await vellum.get_repository(Gadget).list_indexes()
    assert {"name": "name_1", "key": [("name", 1)], "unique": True} in indexes  # at startup


async def test_error_answers(web: tuple[Any, Vellum, list[str]]) -> None:
    http, vellum, _ = web
    made = (await http.post("/gadgets", json={"name": "lamp", "price": 3})).json()
    dup = await http.post("/gadgets", json={"name": "lamp"})
    assert (dup.status_code, dup.json().get("fields")) == (409, ["name"]), dup.text
    assert "lamp" not in dup.text

    missing = await http.get("/gadgets/8e3c5a8e-0a43-4a37-9b39-2f3f4d1d6b1c")
    assert missing.status_code == 404
    assert (await http.get("/gadgets/not-a-uuid")).status_code == 404  # no such id can exist

    stale = dict(made, price=4)
    assert (await http.put(f"/gadgets/{made['_id']}", json=stale)).status_code == 200
    conflict = await http.put(f"/gadgets/{made['_id']}", json=stale)  # version 1 again
    assert conflict.status_code == 409 and conflict.json()["current_version"] == 2

    # A stored document that no longer fits is the server's fault: 500, and nothing leaks.
    gadgets = vellum.get_repository(Gadget)
    bad_id = uuid4()
    await gadgets.collection.insert_one(
        {"_id": bad_id, "name": "secret", "price": "not a number", "version": 1}
    )
    broken = await http.get(f"/gadgets/{bad_id}")
    assert broken.status_code == 500 and broken.json() == {"detail": "internal server error"}

    gone = await http.put("/gone/1")
    assert (gone.status_code, gone.json()) == (404, {"detail": "document not found"})
    slow = await http.get("/slow")
    assert slow.status_code == 503 and "in time" in slow.json()["detail"]
    refused = await http.get("/refused")
    assert refused.status_code == 500 and refused.json() == {"detail": "internal server error"}

    unreachable = await http.get("/unreachable")
    assert unreachable.status_code == 503 and unreachable.headers["retry-after"] == "1"
    assert "9" not in unreachable.json()["detail"]  # no address, no credential


async def test_failed_commit_is_not_a_success(web: tuple[Any, Vellum, list[str]]) -> None:
    http, vellum, _ = web
    made = (await http.post("/gadgets", json={"name": "desk", "price": 10})).json()
    answer = await http.post(f"/gadgets/{made['_id']}/reprice", params={"price": 99})
    assert answer.status_code == 503, answer.text  # a write conflict: the client may retry
    stored = await vellum.get_repository(Gadget).get(made["_id"])
    assert stored is not None and stored.price == 10  # the transaction's write is gone


async def test_session_dependency(web: tuple[Any, Vellum, list[str]]) -> None:
    http, _, _ = web
    answer = await http.post("/gadgets/session", json={"name": "chair"})
    assert answer.json() == 1  # reads its own write


async def test_handlers_can_be_overridden(server: Server, db_name: str) -> None:
    app, _, _ = make_app(server.uri, db_name)

    async def mine(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, DuplicateKeyError)
        return JSONResponse({"mine": True}, status_code=400)

    app.add_exception_handler(DuplicateKeyError, mine)
    with serve(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=20) as http:
            await http.post("/gadgets", json={"name": "x"})
            dup = await http.post("/gadgets", json={"name": "x"})
            missing = await http.get("/gadgets/x")
    assert (dup.status_code, dup.json()) == (400, {"mine": True})
    assert missing.status_code == 404  # the others stay
