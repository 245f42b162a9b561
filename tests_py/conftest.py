"""Every test talks to a real server over the wire: VELLUM_TEST_MONGODB_URI, docker compose, or
the embedded emulator, as scripts/test_server.py decides."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from vellum import VellumClient, connect_to_mongodb

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "test_server.py"


@dataclass(frozen=True)
class Server:
    uri: str
    kind: str  # "uri", "docker" or "embedded"

    @property
    def is_real_mongodb(self) -> bool:
        return self.kind != "embedded"


def _run(command: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), command],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        timeout=1800,
    )
    return done.stdout.strip()


_server: Server | None = None


def get_server() -> Server:
    global _server
    if _server is None:
        if os.environ.get("VELLUM_TEST_MONGODB_URI"):
            kind = os.environ.get("VELLUM_TEST_SERVER_KIND", "uri")
            _server = Server(os.environ["VELLUM_TEST_MONGODB_URI"], kind)
        else:
            uri = _run("start")
            _server = Server(uri, _run("kind"))
    return _server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("real_mongodb")]
    if not marked or get_server().is_real_mongodb:
        return
    for item in marked:
        marker = item.get_closest_marker("real_mongodb")
        assert marker is not None
        why = marker.args[0] if marker.args else "behaviour only real MongoDB has"
        item.add_marker(pytest.mark.skip(reason=f"needs real MongoDB: {why}"))


@pytest.fixture(scope="session")
def server() -> Server:
    return get_server()


@pytest.fixture(scope="session")
async def client(server: Server) -> AsyncIterator[VellumClient]:
    client = await connect_to_mongodb(server.uri, f"vellum_tests_{os.getpid()}")
    yield client
    await client.close()


@pytest.fixture
async def db_name(client: VellumClient) -> AsyncIterator[str]:
    """A database of the test's own, dropped afterwards."""
    name = f"vt_{uuid.uuid4().hex[:12]}"
    yield name
    await client.drop_database(name)


@pytest.fixture
async def own_client(server: Server) -> AsyncIterator[VellumClient]:
    """A client of the test's own, for tests that leave a transaction open on the server (a
    commit that never ran): closing it ends its sessions, so no other test reuses them."""
    client = await connect_to_mongodb(server.uri, f"vellum_tests_{os.getpid()}")
    yield client
    await client.close()


@pytest.fixture
async def fail_point(client: VellumClient) -> AsyncIterator[Any]:
    """Arms MongoDB's failCommand fail point; always disarmed afterwards."""

    async def arm(times: int, commands: list[str], **data: Any) -> None:
        await client.command(
            {
                "configureFailPoint": "failCommand",
                "mode": {"times": times},
                "data": {"failCommands": commands, **data},
            },
            database="admin",
        )

    yield arm
    await client.command({"configureFailPoint": "failCommand", "mode": "off"}, database="admin")


@pytest.fixture(scope="session")
def mongoeco_python(server: Server) -> str:
    """The embedded emulator's Python (tests that run the launcher themselves)."""
    if server.kind != "embedded":
        pytest.skip("needs the embedded emulator (its launcher is run directly)")
    return _run("mongoeco-python")
