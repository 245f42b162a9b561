"""The FastAPI example under a real uvicorn server: connect at startup, close at shutdown."""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from conftest import Server

uvicorn = pytest.importorskip("uvicorn")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fastapi_app.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_fastapi_lifespan_under_uvicorn(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", server.uri)
    spec = importlib.util.spec_from_file_location("fastapi_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    port = _free_port()
    config = uvicorn.Config(module.app, host="127.0.0.1", port=port, log_level="warning")
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not web.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        base = f"http://127.0.0.1:{port}"
        made = _call("POST", f"{base}/notes", {"text": "hello"})
        assert made["text"] == "hello" and made["created_at"]
        fetched = _call("GET", f"{base}/notes/{made['_id']}")
        assert fetched == made
        client = module.client_of(module.app)
    finally:
        web.should_exit = True
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert client.closed  # the lifespan closed it at shutdown
