"""Index declarations with options, and the typed result of an index sync.

Type-checked only (pyright strict, in the test command). The mistakes at the end carry the
ignore of the error pyright reports; with reportUnnecessaryTypeIgnoreComment on, an ignore that
no longer matches an error is itself an error, so this file fails when pyright stops catching
one.
"""

# pyright: reportUnnecessaryTypeIgnoreComment=true

from __future__ import annotations

from datetime import datetime
from typing import Any

from typing_extensions import assert_type

from vellum import (
    DESCENDING,
    Collation,
    Index,
    IndexConflict,
    IndexSync,
    VellumBaseModel,
    VellumRepository,
    connect_to_mongodb,
)
from vellum.indexes import sync_indexes


class Shop(VellumBaseModel):
    name: str
    description: str = ""
    location: dict[str, Any] | None = None
    email: str | None = None
    active: bool = True
    seen_at: datetime | None = None

    class Settings:
        indexes = [
            Index("name", name="name_ci", collation=Collation("en", strength=2)),
            Index([("name", "text"), ("description", "text")], weights={"name": 10}),
            Index([("location", "2dsphere")]),
            Index("seen_at", expire_after_seconds=30 * 24 * 3600),
            Index("email", unique=True, partial_filter_expression={"active": True}),
            Index([("active", 1), ("name", DESCENDING)], hidden=True, replaces=["old_by_name"]),
        ]


async def sync() -> None:
    client = await connect_to_mongodb("mongodb://localhost:27017", "app")
    shops = VellumRepository(Shop, client)
    report = await shops.sync_indexes(dry_run=True)
    assert_type(report, IndexSync)
    assert_type(await shops.sync_indexes(), IndexSync)
    assert_type(await sync_indexes(shops._store, [], dry_run=True), IndexSync)  # pyright: ignore[reportPrivateUsage]
    assert_type(report.to_create, tuple[str, ...])
    assert_type(report.to_drop, tuple[str, ...])
    assert_type(report.kept, tuple[str, ...])
    assert_type(report.in_step, bool)
    for conflict in report.conflicting:
        assert_type(conflict, IndexConflict)
        assert_type(conflict.differences, tuple[str, ...])
        assert_type(conflict.replaceable, bool)
        assert_type(conflict.existing, dict[str, Any])
    assert_type(Collation("fr", numeric_ordering=True).document(), dict[str, Any])


def mistakes() -> None:
    Index([("name", "asc")])  # pyright: ignore[reportArgumentType]
    Index([("name", 2)])  # pyright: ignore[reportArgumentType]
    Index("name", collation={"locale": "fr"})  # pyright: ignore[reportArgumentType]
    Index("name", expire_after_seconds=1.5)  # pyright: ignore[reportArgumentType]
    Collation("fr", strength=6)  # pyright: ignore[reportArgumentType]
    Collation("fr", case_first="title")  # pyright: ignore[reportArgumentType]
