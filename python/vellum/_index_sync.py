"""Keeping a collection's indexes in step with the declared ones.

Which indexes may be dropped: ``_id_`` never. Another index only if Vellum created it, or the
declaration says it may (``Index(..., replaces=[name])``), or a declaration of the same name
replaces it. Vellum knows which indexes it created from the records it keeps in the database's
``vellum_indexes`` collection: one per index that :func:`sync_indexes` created or found declared
(``_id: {collection, index}`` and the index's key). The record travels with the database, not
with a process, so the next deployment knows; it names the key as well as the name, so an index
someone dropped and made again by hand under the same name is not taken for Vellum's.

Why records rather than names: marking indexes by a name prefix would rename every existing
index (``email_1`` is the name MongoDB itself gives, and the one applications and hints use),
and an index cannot carry a field of ours (the server refuses unknown index options).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ._index_specs import comparable, differences, public_spec, same_slot
from ._policies.timestamps import utc_now
from .errors import IndexConflictError, OperationFailure

if TYPE_CHECKING:
    from ._bridge.documents import Store
    from .indexes import Index
    from .session import Session

__all__ = ["RECORDS_COLLECTION", "IndexConflict", "IndexSync", "ensure_indexes", "sync_indexes"]

RECORDS_COLLECTION = "vellum_indexes"
_INDEX_NOT_FOUND = 27


@dataclass(frozen=True)
class IndexConflict:
    """A declared index that the server has under its name or in its place, defined otherwise.

    Attributes:
        name: the declared index's name.
        declared: its ``createIndexes`` spec.
        existing: the server's index, as :meth:`VellumRepository.list_indexes` shows it.
        differences: the options that differ (``"name"`` when only the name does).
        replaceable: whether :func:`sync_indexes` may drop the existing index to create the
            declared one (see the module's rule); when it may not, applying raises
            :class:`IndexConflictError` before changing anything.
    """

    name: str
    declared: dict[str, Any]
    existing: dict[str, Any]
    differences: tuple[str, ...]
    replaceable: bool


@dataclass(frozen=True)
class IndexSync:
    """The difference between a collection's declared and existing indexes, and what
    :func:`sync_indexes` did about it.

    Attributes:
        to_create: declared indexes the server lacks, by name.
        to_drop: indexes no longer declared that Vellum created (or a declaration ``replaces``).
        conflicting: declared indexes the server has otherwise; each is replaced (dropped, then
            created as declared).
        kept: indexes not declared and not Vellum's, left alone (``_id_`` is never listed).
        created: what was created (``to_create`` and the replacements); empty in a dry run.
        dropped: what was dropped (``to_drop`` and the replaced ones); empty in a dry run.
        dry_run: True when nothing was written.
    """

    to_create: tuple[str, ...]
    to_drop: tuple[str, ...]
    conflicting: tuple[IndexConflict, ...]
    kept: tuple[str, ...]
    created: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    dry_run: bool = False

    @property
    def in_step(self) -> bool:
        """Whether the server had the declared indexes, and no index to drop."""
        return not (self.to_create or self.to_drop or self.conflicting)

    def __str__(self) -> str:
        """One line per change, as a dry run would make it or as it was made."""
        if self.dry_run:
            lines = [f"would create {name}" for name in self.to_create]
            lines += [f"would drop {name}" for name in self.to_drop]
        else:
            lines = [f"created {name}" for name in self.to_create if name in self.created]
            lines += [f"dropped {name}" for name in self.to_drop if name in self.dropped]
        for conflict in self.conflicting:
            old = conflict.existing.get("name")
            which = old if old == conflict.name else f"{old} by {conflict.name}"
            verb = "differs" if len(conflict.differences) == 1 else "differ"
            why = f"{', '.join(conflict.differences)} {verb}"
            if not conflict.replaceable:
                lines.append(
                    f"conflict: {old} is not Vellum's, and {conflict.name} cannot replace it "
                    f"({why})"
                )
            else:
                lines.append(f"{'would replace' if self.dry_run else 'replaced'} {which} ({why})")
        if self.in_step:
            lines.insert(0, "indexes in step with the declaration")
        lines += [f"keep {name} (not created by Vellum)" for name in self.kept]
        return "\n".join(lines)


class _Plan:
    """The declared indexes matched with the existing ones."""

    __slots__ = ("conflicts", "in_step", "missing", "undeclared")

    def __init__(self) -> None:
        self.missing: list[Index] = []
        self.conflicts: list[tuple[Index, dict[str, Any]]] = []  # with the existing index
        self.in_step: list[tuple[Index, dict[str, Any]]] = []
        self.undeclared: list[dict[str, Any]] = []  # existing indexes no declaration matched


def _plan(declared: Sequence[Index], existing: Iterable[Mapping[str, Any]]) -> _Plan:
    """Matches each declaration with the existing index of its name, else with an existing
    index MongoDB would take for it (same key, collation and partial filter; see
    :func:`same_slot`) that no declaration names."""
    names = {index.name for index in declared}
    if len(names) != len(declared):
        twice = sorted({i.name for i in declared if [j.name for j in declared].count(i.name) > 1})
        raise ValueError(f"two declared indexes are named {', '.join(twice)}")
    for index in declared:
        for old in index.replaces:
            if old in names:
                raise ValueError(f"index {index.name!r} replaces {old!r}, which is declared too")
    by_name = {str(spec.get("name")): dict(spec) for spec in existing}
    plan = _Plan()
    matched: set[str] = set()
    for index in declared:
        spec = index.spec()
        found = by_name.get(index.name)
        if found is None:
            found = next(
                (
                    other
                    for name, other in by_name.items()
                    if name not in names and name not in matched and same_slot(spec, other)
                ),
                None,
            )
        if found is None:
            plan.missing.append(index)
            continue
        matched.add(str(found.get("name")))
        if found.get("name") == index.name and not differences(spec, found):
            plan.in_step.append((index, found))
        else:
            plan.conflicts.append((index, found))
    plan.undeclared = [
        spec for name, spec in by_name.items() if name not in names and name not in matched
    ]
    return plan


async def ensure_indexes(
    store: Store, declared: Sequence[Index], session: Session | None
) -> list[str]:
    """Creates the ``declared`` indexes the collection lacks; returns their names. An existing
    index with the same name, or MongoDB's equivalent of it, but other options is an
    :class:`IndexConflictError`."""
    plan = _plan(declared, await store.list_indexes(session))
    for index, found in plan.conflicts:
        raise IndexConflictError(store.name, index.spec(), public_spec(found))
    if plan.missing:
        await store.create_indexes((index.spec() for index in plan.missing), session)
    return [index.name for index in plan.missing]


class _Records:
    """Which of a collection's indexes Vellum created or adopted, as recorded in the database's
    ``vellum_indexes`` collection: by index name, the key it had."""

    __slots__ = ("collection", "keys", "store")

    def __init__(self, store: Store) -> None:
        self.store = store.sibling(RECORDS_COLLECTION)
        self.collection = store.name
        self.keys: dict[str, Any] = {}

    def _id(self, name: str) -> dict[str, str]:
        return {"collection": self.collection, "index": name}

    async def load(self, session: Session | None) -> None:
        rows = await self.store.find({"_id.collection": self.collection}, session=session)
        self.keys = {row["_id"]["index"]: row.get("key") for row in rows}

    def owns(self, spec: Mapping[str, Any]) -> bool:
        """Whether Vellum recorded this index (by name, with this key)."""
        name = spec.get("name")
        return name in self.keys and self.keys[name] == _key(spec)

    async def keep(
        self, owned: Sequence[tuple[str, Mapping[str, Any]]], session: Session | None
    ) -> None:
        """Records exactly the ``owned`` indexes, writing only what changed."""
        now = utc_now()
        for name, spec in owned:
            if self.keys.get(name) != _key(spec):
                await self.store.upsert_one(
                    {"_id": self._id(name)},
                    {"$set": {"key": _key(spec), "recorded_at": now}},
                    session,
                )
        names = {name for name, _ in owned}
        gone = [self._id(name) for name in self.keys if name not in names]
        if gone:
            await self.store.delete({"_id": {"$in": gone}}, many=True, session=session)


def _key(spec: Mapping[str, Any]) -> list[list[Any]]:
    return [[field, direction] for field, direction in comparable(spec)["key"]]


def _differences(index: Index, found: Mapping[str, Any]) -> tuple[str, ...]:
    renamed = ["name"] if found.get("name") != index.name else []
    return tuple(sorted(renamed + differences(index.spec(), found)))


def _report(plan: _Plan, declared: Sequence[Index], records: _Records, dry_run: bool) -> IndexSync:
    replaced = {old for index in declared for old in index.replaces}

    def droppable(spec: Mapping[str, Any]) -> bool:
        return spec.get("name") != "_id_" and (spec.get("name") in replaced or records.owns(spec))

    conflicts = tuple(
        IndexConflict(
            index.name,
            index.spec(),
            public_spec(found),
            _differences(index, found),
            droppable(found) or found.get("name") == index.name != "_id_",
        )
        for index, found in plan.conflicts
    )
    undeclared = [spec for spec in plan.undeclared if spec.get("name") != "_id_"]
    return IndexSync(
        to_create=tuple(index.name for index in plan.missing),
        to_drop=tuple(str(spec["name"]) for spec in undeclared if droppable(spec)),
        conflicting=conflicts,
        kept=tuple(str(spec["name"]) for spec in undeclared if not droppable(spec)),
        dry_run=dry_run,
    )


def _recreatable(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A listed index as ``createIndexes`` takes it back (MongoDB's own listing form, as
    ``mongorestore`` uses it)."""
    return {option: value for option, value in spec.items() if option not in ("v", "ns")}


async def _apply(
    store: Store,
    plan: _Plan,
    report: IndexSync,
    declared: Sequence[Index],
    session: Session | None,
) -> tuple[list[str], list[str]]:
    """Drops, then creates; returns what it created and dropped. If the server refuses the
    creation (a unique index over duplicate values...), the indexes it dropped are made again as
    they were before the error is raised, so that a failed sync does not leave the collection
    without them. (A creation cut short by a timeout or a cancellation may still finish on the
    server: nothing is made again then, and the next sync sees what is there.)"""
    existing = {str(found["name"]): found for _, found in plan.conflicts}
    existing.update((str(spec["name"]), spec) for spec in plan.undeclared)
    dropped: list[str] = []
    for name in dict.fromkeys([str(c.existing["name"]) for c in report.conflicting]):
        await _drop(store, name, session, dropped)
    for name in report.to_drop:
        await _drop(store, name, session, dropped)
    wanted = set(report.to_create) | {c.name for c in report.conflicting}
    create = [index for index in declared if index.name in wanted]
    if create:
        try:
            await store.create_indexes([index.spec() for index in create], session)
        except OperationFailure:  # refused: nothing was created (MongoDB builds them together)
            there = {spec.get("name") for spec in await store.list_indexes(session)}
            back = [_recreatable(existing[name]) for name in dropped if name not in there]
            if back:
                await store.create_indexes(back, session)
            raise
    return [index.name for index in create], dropped


async def _drop(store: Store, name: str, session: Session | None, dropped: list[str]) -> None:
    try:
        await store.drop_index(name, session)
    except OperationFailure as err:
        if err.code != _INDEX_NOT_FOUND:  # else dropped meanwhile (another deployment's sync)
            raise
    else:
        dropped.append(name)


async def sync_indexes(
    store: Store,
    declared: Sequence[Index],
    *,
    dry_run: bool = False,
    session: Session | None = None,
) -> IndexSync:
    """Compares the ``declared`` indexes with the collection's and, unless ``dry_run``, brings
    the collection in step: drops the indexes to drop and the conflicting ones, then creates the
    missing ones and the replacements (in one ``createIndexes``).

    Only indexes Vellum created, or that a declaration names (by its own name, or in
    ``replaces``), are ever dropped; ``_id_`` never. A conflict with an index Vellum may not
    drop raises :class:`IndexConflictError` before anything is changed. ``declared`` is every
    index of the collection: an index Vellum created for another model of the same collection
    and not declared here is dropped.
    """
    plan = _plan(declared, await store.list_indexes(session))
    records = _Records(store)
    await records.load(session)
    report = _report(plan, declared, records, dry_run)
    if dry_run:
        return report
    for conflict in report.conflicting:
        if not conflict.replaceable:
            raise IndexConflictError(store.name, conflict.declared, conflict.existing)
    created, dropped = await _apply(store, plan, report, declared, session)
    # Vellum owns every declared index now: those it created, and those it found (the
    # declaration claims them). No other: the others were dropped, or are not Vellum's.
    listed = {index.name: found for index, found in plan.in_step}
    await records.keep(
        [(index.name, listed.get(index.name) or index.spec()) for index in declared], session
    )
    return replace(report, created=tuple(created), dropped=tuple(dropped))
