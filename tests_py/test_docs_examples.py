"""Every Python example in README.md and docs/ runs, against the test server.

A page is one script: its ```python blocks run in order in one module namespace (so a later
block uses what an earlier one defined), with top-level ``await`` allowed. The connection string
``mongodb://localhost:27017`` in an example is replaced by the test server's, and the databases
a page creates are dropped after it. A block is left out only when the line before it says why:

    <!-- example: skip (the reason) -->            never run (shell sessions, fragments)
    <!-- example: real_mongodb (the reason) -->    run only against real MongoDB

Blocks of other languages (```bash, ```text...) are not run.
"""

from __future__ import annotations

import ast
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import Server
from vellum import VellumClient

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LOCAL_URI = "mongodb://localhost:27017"
SYSTEM_DATABASES = {"admin", "config", "local"}

_FENCE = re.compile(r"^```(\w*)\s*$")
_MARK = re.compile(r"^<!-- example: (skip|real_mongodb) \((.+)\) -->$")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    code: str
    mark: str | None  # "skip" or "real_mongodb"
    reason: str


def python_blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        start, language = i, fence.group(1)
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        assert i < len(lines), f"{page.name}:{start + 1}: a code block is never closed"
        i += 1
        if language != "python":
            continue
        mark = _MARK.match(lines[start - 1]) if start > 0 else None
        blocks.append(
            Block(
                start + 1,
                "\n".join(body) + "\n",
                mark.group(1) if mark else None,
                mark.group(2) if mark else "",
            )
        )
    return blocks


def test_every_page_has_its_examples_collected() -> None:
    # A block with a mark that does not parse would run silently, or not at all: refuse both.
    for page in PAGES:
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("<!-- example:"):
                assert _MARK.match(line), f"{page.name}:{n}: write <!-- example: skip (why) -->"


async def _databases(client: VellumClient) -> set[str]:
    reply = await client.command({"listDatabases": 1, "nameOnly": True}, "admin")
    return {d["name"] for d in reply["databases"]} - SYSTEM_DATABASES


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
async def test_examples_run(page: Path, server: Server, client: VellumClient) -> None:
    blocks = python_blocks(page)
    if not blocks:
        pytest.skip(f"{page.name} has no Python examples")
    name = "docs_example_" + re.sub(r"\W", "_", page.stem)
    module = types.ModuleType(name)
    module.__file__ = str(page)
    sys.modules[name] = module  # pydantic resolves forward references through it
    before = await _databases(client)
    try:
        for block in blocks:
            if block.mark == "skip" or (
                block.mark == "real_mongodb" and not server.is_real_mongodb
            ):
                continue
            source = block.code.replace(LOCAL_URI, server.uri)
            # Line numbers of errors point into the page.
            tree = ast.parse("\n" * block.line + source, filename=str(page))
            # dont_inherit: the page runs under its own __future__ imports, not this file's.
            flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
            code = compile(tree, str(page), "exec", flags=flags, dont_inherit=True)
            result = eval(code, module.__dict__)
            if isinstance(result, types.CoroutineType):
                await result
    finally:
        sys.modules.pop(name, None)
        for database in await _databases(client) - before:
            await client.drop_database(database)
