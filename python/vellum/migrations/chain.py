"""The migrations folder: one Python module per revision, chained by ``down_revision``.

A migration module holds::

    revision = "20261201_1200_rename_name"     # unique, never changed once applied
    down_revision = "20261130_0900_init"        # the revision it follows (None for the first)

    async def upgrade(ctx: MigrationContext) -> None: ...
    async def downgrade(ctx: MigrationContext) -> None: ...

The revisions form one chain from the first to the head; a fork (two revisions following the
same one), a cycle, a missing parent or a duplicate id is refused with the files named.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import MigrationError

if TYPE_CHECKING:
    from .context import MigrationContext

__all__ = ["Chain", "Migration", "load_chain", "scaffold"]

Step = Callable[["MigrationContext"], Awaitable[None]]


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    revision: str
    down_revision: str | None
    name: str
    path: Path
    upgrade: Step
    downgrade: Step | None


class Chain:
    """The revisions of a migrations folder in order, first to head."""

    __slots__ = ("folder", "migrations")

    def __init__(self, folder: Path, migrations: list[Migration]) -> None:
        self.folder = folder
        self.migrations = migrations

    @property
    def head(self) -> str | None:
        return self.migrations[-1].revision if self.migrations else None

    def index(self, revision: str) -> int:
        """The position of ``revision``: its id, or a prefix that only it starts with."""
        ids = [m.revision for m in self.migrations]
        if revision in ids:
            return ids.index(revision)
        matches = [i for i, known in enumerate(ids) if revision and known.startswith(revision)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            shown = ", ".join(ids[i] for i in matches)
            raise MigrationError(f"{revision!r} could be any of {shown}; give more of it")
        known = ", ".join(ids) or "none"
        raise MigrationError(f"no revision {revision!r} in {self.folder}; the revisions: {known}")

    def __iter__(self):
        return iter(self.migrations)

    def __len__(self) -> int:
        return len(self.migrations)


def load_chain(folder: str | Path) -> Chain:
    """The migrations in ``folder`` (``*.py`` files not starting with ``_``), in chain order."""
    root = Path(folder)
    if not root.is_dir():
        raise MigrationError(
            f"the migrations folder {str(root)!r} does not exist; create it with "
            "`vellum migrate new NAME --folder ...` or pass --folder"
        )
    loaded = [_load(path) for path in sorted(root.glob("*.py")) if not path.name.startswith("_")]
    by_id: dict[str, Migration] = {}
    for migration in loaded:
        other = by_id.get(migration.revision)
        if other is not None:
            raise MigrationError(
                f"revision {migration.revision!r} is declared by both {other.path.name} and "
                f"{migration.path.name}"
            )
        by_id[migration.revision] = migration
    children: dict[str | None, list[Migration]] = {}
    for migration in loaded:
        if migration.down_revision is not None and migration.down_revision not in by_id:
            raise MigrationError(
                f"{migration.path.name} follows revision {migration.down_revision!r}, which no "
                "file declares"
            )
        children.setdefault(migration.down_revision, []).append(migration)
    for parent, kids in children.items():
        if len(kids) > 1:
            names = ", ".join(k.path.name for k in kids)
            where = "the start" if parent is None else f"revision {parent!r}"
            raise MigrationError(
                f"{names} all follow {where}: the chain forks. Set down_revision so that each "
                "revision follows the one before it"
            )
    ordered: list[Migration] = []
    current = children.get(None, [])
    while current:
        (migration,) = current
        ordered.append(migration)
        current = children.get(migration.revision, [])
    if len(ordered) != len(loaded):
        stuck = sorted(m.path.name for m in loaded if m not in ordered)
        raise MigrationError(f"revisions in a cycle, never reached from the start: {stuck}")
    return Chain(root, ordered)


def _load(path: Path) -> Migration:
    module_name = f"vellum_migration_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise MigrationError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise MigrationError(f"{path.name} failed to import: {err!r}") from err
    return _read(module, path)


def _read(module: ModuleType, path: Path) -> Migration:
    revision: Any = getattr(module, "revision", None)
    if not isinstance(revision, str) or not revision:
        raise MigrationError(f'{path.name} has no `revision = "..."`')
    down: Any = getattr(module, "down_revision", None)
    if down is not None and not isinstance(down, str):
        raise MigrationError(f"{path.name}: down_revision must be a str or None")
    upgrade: Any = getattr(module, "upgrade", None)
    if not inspect.iscoroutinefunction(upgrade):
        raise MigrationError(f"{path.name} has no `async def upgrade(ctx)`")
    downgrade: Any = getattr(module, "downgrade", None)
    if downgrade is not None and not inspect.iscoroutinefunction(downgrade):
        raise MigrationError(f"{path.name}: downgrade must be `async def downgrade(ctx)`")
    doc = (module.__doc__ or "").strip().splitlines()
    name = doc[0] if doc else path.stem
    return Migration(revision, down, name, path, upgrade, downgrade)


_TEMPLATE = '''"""{name}"""

from vellum.migrations import MigrationContext

revision = "{revision}"
down_revision = {down!r}


async def upgrade(ctx: MigrationContext) -> None:
    ...


async def downgrade(ctx: MigrationContext) -> None:
    ...
'''


def scaffold(folder: str | Path, name: str, now: datetime | None = None) -> Path:
    """Writes a new migration file chained to the current head and returns its path."""
    slug = re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")
    if not slug:
        raise MigrationError(f"a migration needs a name with letters or digits, got {name!r}")
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    head = load_chain(root).head
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d_%H%M%S")
    revision = f"{stamp}_{slug}"
    path = root / f"{revision}.py"
    if path.exists():
        raise MigrationError(f"{path} exists already")
    path.write_text(_TEMPLATE.format(name=name, revision=revision, down=head))
    return path
