"""Index declarations with options, and sync_indexes against the test server: every option
round-trips (declared, created, listed, compared equal, a second sync does nothing), a dry run
writes nothing, conflicts are reported and replaced, and only Vellum's indexes are dropped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from vellum import (
    Collation,
    DuplicateKeyError,
    Index,
    IndexConflictError,
    IndexSync,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
)
from vellum._index_specs import comparable, differences
from vellum.indexes import ensure_indexes, sync_indexes


class Place(VellumBaseModel):
    name: str = ""

    class Settings:
        collection_name = "places"


async def sync(
    repo: VellumRepository[Any], declared: Sequence[Index], *, dry_run: bool = False
) -> IndexSync:
    """What ``repo.sync_indexes()`` does for a model declaring ``declared``."""
    return await sync_indexes(repo._store, declared, dry_run=dry_run)


async def names(repo: VellumRepository[Any]) -> list[str]:
    return sorted(spec["name"] for spec in await repo.list_indexes())


async def records(repo: VellumRepository[Any]) -> list[dict[str, Any]]:
    return await repo._store.sibling("vellum_indexes").find({})


@pytest.fixture
async def places(client: VellumClient, db_name: str) -> VellumRepository[Place]:
    return VellumRepository(Place, client, db_name)


ROUND_TRIPS = {
    "ascending": Index("name"),
    "compound": Index([("city", 1), ("age", -1)], name="by_city"),
    "unique": Index("email", unique=True),
    "sparse": Index("nickname", sparse=True),
    "unique_sparse": Index("code", unique=True, sparse=True),
    "hidden": Index("legacy", hidden=True),
    "partial": Index("score", partial_filter_expression={"score": {"$gt": 5}}),
    "ttl": Index("seen_at", expire_after_seconds=3600),
    "ttl_zero": Index("expires_at", expire_after_seconds=0),
    "collation": Index("name", name="name_fr", collation=Collation("fr", strength=2)),
    "collation_all_options": Index(
        "title",
        collation=Collation(
            "en_US",
            strength=3,
            case_level=True,
            case_first="upper",
            numeric_ordering=True,
            alternate="shifted",
            max_variable="space",
            backwards=False,
            normalization=True,
        ),
    ),
    "text": Index([("title", "text"), ("body", "text")]),
    "text_options": Index(
        [("title", "text"), ("body", "text")],
        name="search",
        weights={"title": 10, "body": 2},
        default_language="french",
        language_override="lang",
    ),
    "text_compound": Index([("shop", 1), ("title", "text")], default_language="es"),
    "text_wildcard": Index([("$**", "text")]),
    "2dsphere": Index([("location", "2dsphere")]),
    "2d": Index([("point", "2d")]),
    "hashed": Index([("shard", "hashed")]),
    "partial_unique": Index(
        "email",
        name="active_email",
        unique=True,
        partial_filter_expression={"active": True},
    ),
}


ROUND_TRIPS_ON_MONGODB = {
    # The emulator accepts weights only for fields the key names.
    "text_wildcard_weights": Index([("$**", "text")], name="everything", weights={"title": 3}),
    # It refuses compound 2dsphere indexes ("special index types currently require a
    # single-field key pattern").
    "2dsphere_compound": Index([("location", "2dsphere"), ("kind", 1)]),
}


@pytest.mark.parametrize(
    "index",
    [
        *ROUND_TRIPS.values(),
        *(
            pytest.param(index, marks=pytest.mark.real_mongodb("the emulator cannot create it"))
            for index in ROUND_TRIPS_ON_MONGODB.values()
        ),
    ],
    ids=[*ROUND_TRIPS, *ROUND_TRIPS_ON_MONGODB],
)
async def test_every_option_round_trips(places: VellumRepository[Place], index: Index) -> None:
    first = await sync(places, [index])
    assert (first.to_create, first.created, first.dropped) == ((index.name,), (index.name,), ())
    listed = {spec["name"]: spec for spec in await places._store.list_indexes(None)}
    assert differences(index.spec(), listed[index.name]) == []
    second = await sync(places, [index])
    assert second.in_step
    assert (second.created, second.dropped, second.kept) == ((), (), ())
    assert await ensure_indexes(places._store, [index], None) == []
    assert str(second) == "indexes in step with the declaration"


async def test_a_dry_run_reports_and_writes_nothing(places: VellumRepository[Place]) -> None:
    await sync(places, [Index("name"), Index("old"), Index("email")])
    await places.collection.create_indexes([{"key": {"by_hand": 1}, "name": "by_hand"}])
    before, recorded = await places.list_indexes(), await records(places)

    report = await sync(
        places, [Index("name"), Index("email", unique=True), Index("age")], dry_run=True
    )
    assert report.dry_run
    assert report.to_create == ("age_1",)
    assert report.to_drop == ("old_1",)
    assert [(c.name, c.differences, c.replaceable) for c in report.conflicting] == [
        ("email_1", ("unique",), True)
    ]
    assert report.conflicting[0].declared["unique"] is True
    assert "unique" not in report.conflicting[0].existing
    assert report.kept == ("by_hand",)
    assert (report.created, report.dropped) == ((), ())
    assert str(report).splitlines() == [
        "would create age_1",
        "would drop old_1",
        "would replace email_1 (unique differs)",
        "keep by_hand (not created by Vellum)",
    ]
    assert await places.list_indexes() == before
    assert await records(places) == recorded


async def test_conflicting_options_are_replaced(places: VellumRepository[Place]) -> None:
    await sync(places, [Index("email"), Index("name", collation=Collation("fr"))])
    declared = [Index("email", unique=True), Index("name", collation=Collation("fr", strength=1))]
    report = await sync(places, declared)
    assert [(c.name, c.differences) for c in report.conflicting] == [
        ("email_1", ("unique",)),
        ("name_1", ("collation",)),
    ]
    assert report.dropped == ("email_1", "name_1")
    assert report.created == ("email_1", "name_1")
    assert str(report) == "replaced email_1 (unique differs)\nreplaced name_1 (collation differs)"
    specs = {spec["name"]: spec for spec in await places.list_indexes()}
    assert specs["email_1"]["unique"] is True
    assert specs["name_1"]["collation"]["strength"] == 1
    assert (await sync(places, declared)).in_step


async def test_a_replacement_that_fails_puts_the_old_index_back(
    places: VellumRepository[Place],
) -> None:
    await sync(places, [Index("name"), Index("old")])
    await places.create_many([Place(name="twin"), Place(name="twin")])
    before = await places.list_indexes()
    # A unique index over duplicate values cannot be built: the index it replaces, and the one
    # no longer declared, were dropped first; they are made again before the error is raised.
    with pytest.raises(DuplicateKeyError):
        await sync(places, [Index("name", unique=True)])
    assert await places.list_indexes() == before
    assert sorted(r["_id"]["index"] for r in await records(places)) == ["name_1", "old_1"]


async def test_a_hand_made_index_of_the_declared_name_is_replaced(
    places: VellumRepository[Place],
) -> None:
    # The declaration names it: the model owns that name.
    await places.collection.create_indexes([{"key": {"email": 1}, "name": "email_1"}])
    report = await sync(places, [Index("email", unique=True)])
    assert report.conflicting[0].replaceable
    assert report.dropped == report.created == ("email_1",)


async def test_a_renamed_declaration_replaces_vellums_index(
    places: VellumRepository[Place],
) -> None:
    await sync(places, [Index("email", unique=True)])
    report = await sync(places, [Index("email", unique=True, name="unique_email")])
    [conflict] = report.conflicting
    assert (conflict.name, conflict.existing["name"], conflict.differences) == (
        "unique_email",
        "email_1",
        ("name",),
    )
    assert report.dropped == ("email_1",)
    assert report.created == ("unique_email",)
    assert str(report) == "replaced email_1 by unique_email (name differs)"
    assert await names(places) == ["_id_", "unique_email"]


async def test_an_index_vellum_did_not_create_is_never_dropped(
    places: VellumRepository[Place],
) -> None:
    await places.collection.create_indexes([{"key": {"by_hand": 1}, "name": "by_hand"}])
    report = await sync(places, [Index("name")])
    assert (report.to_drop, report.kept, report.dropped) == ((), ("by_hand",), ())
    assert await names(places) == ["_id_", "by_hand", "name_1"]
    assert (await sync(places, [])).kept == ("by_hand",)
    assert await names(places) == ["_id_", "by_hand"]


async def test_a_conflict_with_an_index_vellum_did_not_create_changes_nothing(
    places: VellumRepository[Place],
) -> None:
    # The same key under another name: MongoDB takes it for the declared index, so the declared
    # one cannot be created beside it, and Vellum may not drop it.
    await places.collection.create_indexes([{"key": {"email": 1}, "name": "mail"}])
    declared = [Index("name"), Index("email", unique=True)]
    report = await sync(places, declared, dry_run=True)
    [conflict] = report.conflicting
    assert (conflict.existing["name"], conflict.differences, conflict.replaceable) == (
        "mail",
        ("name", "unique"),
        False,
    )
    assert str(report) == (
        "would create name_1\n"
        "conflict: mail is not Vellum's, and email_1 cannot replace it (name, unique differ)"
    )
    with pytest.raises(IndexConflictError, match="mail") as info:
        await sync(places, declared)
    assert info.value.wanted["unique"] is True
    assert await names(places) == ["_id_", "mail"]  # not even name_1 was created
    # replaces= marks it droppable.
    declared = [Index("name"), Index("email", unique=True, replaces=["mail"])]
    report = await sync(places, declared)
    assert report.dropped == ("mail",)
    assert await names(places) == ["_id_", "email_1", "name_1"]


async def test_replaces_drops_an_index_made_by_hand(places: VellumRepository[Place]) -> None:
    await places.collection.create_indexes([{"key": {"old": 1}, "name": "legacy"}])
    report = await sync(places, [Index("name", replaces=["legacy"])])
    assert (report.to_drop, report.dropped) == (("legacy",), ("legacy",))
    assert await names(places) == ["_id_", "name_1"]


async def test_indexes_no_longer_declared_are_dropped(places: VellumRepository[Place]) -> None:
    await sync(places, [Index("name"), Index("email")])
    assert sorted(r["_id"]["index"] for r in await records(places)) == ["email_1", "name_1"]
    report = await sync(places, [Index("name"), Index("age")])
    assert (report.to_drop, report.dropped) == (("email_1",), ("email_1",))
    assert str(report) == "created age_1\ndropped email_1"
    assert await names(places) == ["_id_", "age_1", "name_1"]
    assert sorted(r["_id"]["index"] for r in await records(places)) == ["age_1", "name_1"]


async def test_indexes_ensure_indexes_made_are_adopted_by_a_sync(
    places: VellumRepository[Place],
) -> None:
    await ensure_indexes(places._store, [Index("name"), Index("email")], None)
    assert await records(places) == []  # ensure_indexes writes only indexes
    adopted = await sync(places, [Index("name"), Index("email")])
    assert adopted.in_step and adopted.created == ()
    assert len(await records(places)) == 2
    assert (await sync(places, [Index("name")])).dropped == ("email_1",)


async def test_a_record_names_the_key_as_well_as_the_name(
    places: VellumRepository[Place],
) -> None:
    await sync(places, [Index("name", name="idx")])
    # Someone drops it and makes another index of that name by hand.
    await places.drop_index("idx")
    await places.collection.create_indexes([{"key": {"other": 1}, "name": "idx"}])
    report = await sync(places, [])
    assert (report.to_drop, report.kept) == ((), ("idx",))
    assert await records(places) == []  # the stale record is gone


async def test_the_id_index_is_never_dropped(places: VellumRepository[Place]) -> None:
    await places.create(Place(name="x"))
    # Even recorded as Vellum's (it never is), and with nothing declared.
    await places._store.sibling("vellum_indexes").upsert_one(
        {"_id": {"collection": "places", "index": "_id_"}}, {"$set": {"key": [["_id", 1]]}}, None
    )
    report = await sync(places, [])
    assert (report.to_drop, report.kept, report.dropped) == ((), (), ())
    assert await names(places) == ["_id_"]
    # A declaration that MongoDB would take for the _id index is a conflict never replaced.
    report = await sync(places, [Index("_id", name="pk")], dry_run=True)
    assert [(c.existing["name"], c.replaceable) for c in report.conflicting] == [("_id_", False)]
    with pytest.raises(IndexConflictError):
        await sync(places, [Index("_id", name="pk")])
    assert await names(places) == ["_id_"]


async def test_ensure_indexes_keeps_its_behaviour(places: VellumRepository[Place]) -> None:
    declared = [Index("email", unique=True), Index([("loc", "2dsphere")])]
    assert await ensure_indexes(places._store, declared, None) == ["email_1", "loc_2dsphere"]
    assert await ensure_indexes(places._store, declared, None) == []
    with pytest.raises(IndexConflictError, match="email_1"):
        await ensure_indexes(places._store, [Index("email")], None)


async def test_a_sync_runs_in_the_session_given(
    client: VellumClient, places: VellumRepository[Place]
) -> None:
    async with client.start_session() as session:
        report = await sync_indexes(places._store, [Index("name")], session=session)
        assert report.created == ("name_1",)
        dry = await sync_indexes(places._store, [], dry_run=True, session=session)
        assert dry.to_drop == ("name_1",)


class Venue(VellumBaseModel):
    name: str
    city: str = ""

    class Settings:
        collection_name = "venues"
        indexes = [Index("name", collation=Collation("en", strength=2)), Index("city")]


async def test_the_repository_syncs_the_models_indexes(client: VellumClient, db_name: str) -> None:
    venues = VellumRepository(Venue, client, db_name)
    report = await venues.sync_indexes(dry_run=True)
    assert report.to_create == ("name_1", "city_1") and report.dry_run
    assert await names(venues) in ([], ["_id_"])  # no collection yet, or an empty one
    report = await venues.sync_indexes()
    assert report.created == ("name_1", "city_1")
    assert (await venues.sync_indexes()).in_step


async def test_declarations_must_be_consistent(places: VellumRepository[Place]) -> None:
    with pytest.raises(ValueError, match="two declared indexes are named email_1"):
        await sync(places, [Index("email"), Index("email", unique=True)])
    with pytest.raises(ValueError, match="replaces 'name_1', which is declared too"):
        await sync(places, [Index("name"), Index("email", replaces=["name_1"])])


@pytest.mark.real_mongodb(
    "the emulator refuses two indexes of one key that differ in collation (IndexKeySpecsConflict)"
)
async def test_indexes_of_one_key_with_other_collations_coexist(
    places: VellumRepository[Place],
) -> None:
    declared = [Index("name"), Index("name", name="name_ci", collation=Collation("en", strength=2))]
    report = await sync(places, declared)
    assert report.created == ("name_1", "name_ci")
    assert (await sync(places, declared)).in_step


# -- how listings compare (no server) ----------------------------------------------------------


def test_mongodbs_listing_of_a_text_index_compares_equal() -> None:
    # MongoDB lists a text index with its text fields folded into _fts/_ftsx and every default.
    declared = Index([("shop", 1), ("title", "text"), ("body", "text")], weights={"title": 5})
    listed = {
        "v": 2,
        "key": {"shop": 1, "_fts": "text", "_ftsx": 1},
        "name": "shop_1_title_text_body_text",
        "weights": {"body": 1, "title": 5},
        "default_language": "english",
        "language_override": "language",
        "textIndexVersion": 3,
    }
    assert differences(declared.spec(), listed) == []
    assert differences(Index([("title", "text")], default_language="fr").spec(), listed) == [
        "default_language",
        "key",
        "weights",
    ]


def test_a_collation_compares_the_options_declared() -> None:
    # MongoDB lists every option of a collation, the locale's defaults (backwards for fr_CA)
    # and the ICU version included.
    listed = {
        "key": {"name": 1},
        "name": "name_1",
        "collation": {
            "locale": "fr_CA",
            "caseLevel": False,
            "caseFirst": "off",
            "strength": 2,
            "numericOrdering": False,
            "alternate": "non-ignorable",
            "maxVariable": "punct",
            "normalization": False,
            "backwards": True,
            "version": "57.1",
        },
    }
    assert differences(Index("name", collation=Collation("fr_CA", strength=2)).spec(), listed) == []
    assert differences(Index("name", collation=Collation("fr_CA", strength=3)).spec(), listed) == [
        "collation"
    ]
    assert differences(Index("name").spec(), listed) == ["collation"]
    # The "simple" locale is no collation: the server lists none.
    simple = Index("name", collation=Collation("simple")).spec()
    assert differences(simple, {"key": {"name": 1}, "name": "name_1"}) == []


def test_listed_numbers_and_false_flags_compare_as_declared() -> None:
    listed = {
        "key": {"a": 1.0, "b": -1},
        "name": "x",
        "unique": False,
        "sparse": False,
        "hidden": False,
        "expireAfterSeconds": 60.0,
        "v": 2,
        "ns": "db.c",
    }
    assert comparable(listed) == {"key": [("a", 1), ("b", -1)], "expireAfterSeconds": 60}


# -- declarations checked on construction ------------------------------------------------------


BAD: list[tuple[Any, type[Exception], str]] = [
    (lambda: Index([]), ValueError, "at least one key"),
    (lambda: Index([("a", 2)]), ValueError, "1 or -1"),
    (lambda: Index([("a", True)]), TypeError, "must be 1, -1 or an index type"),
    (lambda: Index([("a", "geo")]), ValueError, "index type for 'a' must be one of"),
    (lambda: Index([("a", 1), ("a", -1)]), ValueError, "'a' appears twice"),
    (lambda: Index([("a", "text"), ("b", "2dsphere")]), ValueError, "mixes 2dsphere and text"),
    (lambda: Index([("a", "hashed"), ("b", "hashed")]), ValueError, "one hashed field"),
    (
        lambda: Index([("a", "text"), ("b", 1), ("c", "text")]),
        ValueError,
        "text fields of an index must be side by side",
    ),
    (lambda: Index("a", name=""), ValueError, "non-empty str"),
    (lambda: Index("a", name="*"), ValueError, "other than '*'"),
    (lambda: Index("a", unique=1), TypeError, "unique must be True or False"),
    (lambda: Index("a", hidden="yes"), TypeError, "hidden must be True or False"),
    (lambda: Index([("a", "hashed")], unique=True), ValueError, "hashed index cannot be unique"),
    (lambda: Index("a", partial_filter_expression=[("a", 1)]), TypeError, "filter document"),
    (
        lambda: Index("a", sparse=True, partial_filter_expression={"a": 1}),
        ValueError,
        "sparse or partial, not both",
    ),
    (lambda: Index("a", expire_after_seconds=-1), ValueError, "between 0 and 2147483647"),
    (lambda: Index("a", expire_after_seconds=2**31), ValueError, "between 0 and 2147483647"),
    (lambda: Index("a", expire_after_seconds=1.5), TypeError, "whole number of seconds"),
    (lambda: Index("a", expire_after_seconds=True), TypeError, "whole number of seconds"),
    (lambda: Index([("a", 1), ("b", 1)], expire_after_seconds=5), ValueError, "one ascending"),
    (lambda: Index([("a", "2dsphere")], expire_after_seconds=5), ValueError, "one ascending"),
    (lambda: Index("_id", expire_after_seconds=5), ValueError, "other than _id"),
    (lambda: Index("a", collation={"locale": "fr"}), TypeError, r"takes a vellum\.Collation"),
    (
        lambda: Index([("a", "text")], collation=Collation("fr")),
        ValueError,
        "text index compares strings as bytes",
    ),
    (lambda: Index("a", weights={"a": 2}), ValueError, "weights only apply to a text index"),
    (
        lambda: Index("a", default_language="fr", language_override="l"),
        ValueError,
        "default_language, language_override only apply to a text index",
    ),
    (
        lambda: Index([("a", "text")], weights={"b": 2}),
        ValueError,
        "'b', which is not a text field of the index",
    ),
    (lambda: Index([("a", "text")], weights={"a": 0}), ValueError, "between 1 and 99999"),
    (lambda: Index([("a", "text")], weights={"a": 2.5}), TypeError, "whole number"),
    (
        lambda: Index([("a", "text")], default_language="klingon"),
        ValueError,
        "default_language must be one of MongoDB's text search languages",
    ),
    (lambda: Index([("a", "text")], language_override=""), ValueError, "language_override"),
    (lambda: Index("a", replaces="old"), TypeError, "list of index names"),
    (lambda: Index("a", replaces=["_id_"]), ValueError, "_id_ index is never dropped"),
    (lambda: Index("a", replaces=["a_1"]), ValueError, "cannot replace itself"),
    (lambda: Collation(""), ValueError, "ICU locale"),
    (lambda: Collation("fr", strength=6), ValueError, "strength must be one of 1, 2, 3, 4, 5"),
    (lambda: Collation("fr", strength=True), ValueError, "strength must be one of"),
    (lambda: Collation("fr", case_first="title"), ValueError, "case_first must be one of"),
    (lambda: Collation("fr", alternate="ignore"), ValueError, "alternate must be one of"),
    (lambda: Collation("fr", numeric_ordering=1), TypeError, "numeric_ordering must be True"),
    (lambda: Collation("fr", max_variable="space"), ValueError, "only applies with alternate"),
    (lambda: Collation("simple", strength=1), ValueError, "'simple' locale"),
]


@pytest.mark.parametrize(("make", "error", "message"), BAD)
def test_bad_options_are_refused_with_a_clear_error(
    make: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        make()


def test_declarations_give_their_createindexes_spec() -> None:
    assert Index(
        [("title", "text"), ("body", "text")],
        name="search",
        weights={"title": 10},
        default_language="fr",
        language_override="lang",
    ).spec() == {
        "key": {"title": "text", "body": "text"},
        "name": "search",
        "weights": {"title": 10},
        "default_language": "fr",
        "language_override": "lang",
    }
    assert Index(
        "name", hidden=True, collation=Collation("de", strength=1, numeric_ordering=True)
    ).spec() == {
        "key": {"name": 1},
        "name": "name_1",
        "hidden": True,
        "collation": {"locale": "de", "strength": 1, "numericOrdering": True},
    }
    assert Index([("loc", "2dsphere")]).name == "loc_2dsphere"
    assert Index("a", replaces=["old"]) != Index("a")
    assert repr(Index("a", replaces=["old"])) == (
        "Index({'key': {'a': 1}, 'name': 'a_1'}, replaces=['old'])"
    )
