"""The example service (examples/fastapi_app.py) end to end: uvicorn, HTTP, the test server."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import Server

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from webserver import serve  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fastapi_app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import does: pydantic resolves annotations there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def bank(
    server: Server, db_name: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[ModuleType, Any]]:
    monkeypatch.setenv("MONGODB_URI", server.uri)
    monkeypatch.setenv("BANK_DATABASE", db_name)
    module = load_example()
    with serve(module.app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=20) as http:
            yield module, http
    assert module.vellum._client is None  # the lifespan closed it at shutdown


async def test_customers_crud_and_errors(bank: tuple[ModuleType, Any]) -> None:
    _, http = bank
    made = await http.post("/customers", json={"name": "Ada", "email": "ada@example.com"})
    assert made.status_code == 201
    ada = made.json()
    assert len(ada["_id"]) == 24 and ada["created_at"].endswith("Z")
    assert (await http.get(f"/customers/{ada['_id']}")).json() == ada

    taken = await http.post("/customers", json={"name": "Eve", "email": "ada@example.com"})
    assert taken.status_code == 409
    assert taken.json() == {
        "detail": "a document with this email already exists",
        "fields": ["email"],
    }  # the other customer's data is not echoed

    missing = await http.get("/customers/65f0c2a1b3d4e5f601234567")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Customer 65f0c2a1b3d4e5f601234567 not found"}
    assert (await http.get("/customers/not-an-id")).status_code == 422  # FastAPI's own check

    renamed = await http.patch(f"/customers/{ada['_id']}", json={"name": "Ada L."})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Ada L."
    bad = await http.patch(f"/customers/{ada['_id']}", json={"name": ""})
    assert bad.status_code == 422
    [error] = bad.json()["detail"]
    assert error["loc"] == ["name"] and error["type"] == "string_too_short"
    unknown = await http.patch(f"/customers/{ada['_id']}", json={"nickname": "x"})
    assert unknown.status_code == 422 and "no field 'nickname'" in unknown.text


async def test_accounts_pages_versions_totals_and_transfers(bank: tuple[ModuleType, Any]) -> None:
    _, http = bank
    ada = (await http.post("/customers", json={"name": "Ada", "email": "a@x"})).json()
    bob = (await http.post("/customers", json={"name": "Bob", "email": "b@x"})).json()
    opened = []
    for owner, currency, balance in [
        (ada, "EUR", "100.50"),
        (ada, "EUR", "20"),
        (ada, "USD", "7"),
        (bob, "EUR", "20"),
        (bob, "USD", "0.25"),
    ]:
        r = await http.post(
            "/accounts", json={"owner": owner["_id"], "currency": currency, "balance": balance}
        )
        assert r.status_code == 201, r.text
        opened.append(r.json())
    assert opened[0]["owner"] == ada["_id"] and opened[0]["balance"] == "100.50"
    no_owner = await http.post(
        "/accounts", json={"owner": "65f0c2a1b3d4e5f601234567", "currency": "EUR"}
    )
    assert no_owner.status_code == 404

    # A sorted, filtered list, page by page: every account once, ties broken by id.
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        params = {"limit": 2, "order": "-balance", **({"after": after} if after else {})}
        page = (await http.get("/accounts", params=params)).json()
        seen.extend(page["items"])
        after = page["next_after"]
        if after is None:
            break
    assert [Decimal(a["balance"]) for a in seen] == sorted(
        (Decimal(a["balance"]) for a in opened), reverse=True
    )
    assert len({a["_id"] for a in seen}) == 5
    mine = (await http.get("/accounts", params={"owner": bob["_id"], "order": "balance"})).json()
    assert [a["balance"] for a in mine["items"]] == ["0.25", "20"]
    assert (await http.get("/accounts", params={"after": "junk"})).status_code == 400

    # Optimistic concurrency: a change from a stale version answers 409 with the current one.
    account = opened[4]
    url = f"/accounts/{account['_id']}"
    changed = await http.patch(url, json={"currency": "EUR", "version": account["version"]})
    assert changed.status_code == 200 and changed.json()["version"] == account["version"] + 1
    stale = await http.patch(url, json={"currency": "USD", "version": account["version"]})
    assert stale.status_code == 409
    assert stale.json()["current_version"] == account["version"] + 1
    assert (await http.get(url)).json()["currency"] == "EUR"

    totals = (await http.get("/totals")).json()
    assert totals == [
        {"_id": "EUR", "accounts": 4, "total": "140.75"},
        {"_id": "USD", "accounts": 1, "total": "7"},
    ]

    # A transfer moves money in a transaction; a failed one leaves both balances alone.
    src, dst = opened[0]["_id"], opened[3]["_id"]
    moved = await http.post("/transfers", json={"source": src, "target": dst, "amount": "0.50"})
    assert moved.status_code == 200, moved.text
    assert {a["_id"]: a["balance"] for a in moved.json()} == {src: "100.00", dst: "20.50"}
    broke = await http.post("/transfers", json={"source": src, "target": dst, "amount": "1000"})
    assert broke.status_code == 409 and broke.json() == {"detail": "insufficient funds"}
    usd = opened[2]["_id"]  # debited first, then no EUR target: the debit is rolled back
    lost = await http.post("/transfers", json={"source": src, "target": usd, "amount": "1"})
    assert lost.status_code == 404
    assert (await http.get(f"/accounts/{src}")).json()["balance"] == "100.00"
    assert (await http.get(f"/accounts/{usd}")).json()["balance"] == "7"
    negative = await http.post("/transfers", json={"source": src, "target": dst, "amount": "-1"})
    assert negative.status_code == 422

    assert (await http.delete(f"/accounts/{dst}")).status_code == 204
    assert (await http.delete(f"/accounts/{dst}")).status_code == 404


async def test_openapi_schema_types(bank: tuple[ModuleType, Any]) -> None:
    _, http = bank
    schema = (await http.get("/openapi.json")).json()
    account = schema["components"]["schemas"]["Account"]["properties"]
    objectid = {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"}
    assert {k: account["_id"][k] for k in objectid} == objectid
    assert {k: account["owner"][k] for k in objectid} == objectid  # a link is its id
    assert account["balance"]["type"] == "string"  # Decimal: a string, exact in JavaScript
    assert {"type": "string", "format": "date-time"} in account["created_at"]["anyOf"]
    assert (await http.get("/docs")).status_code == 200
