"""Model plans are derived from Pydantic's core schema by allow-list: whatever the core builds or
encodes itself is exactly what Pydantic would give, and everything else goes through Pydantic.

The property test generates model *classes* (nesting, Optional, lists, nested models, RootModel,
aliases, defaults, serializers, validators, constraints) and values for them, and checks every
read and write path against ``model_dump``/``model_validate`` over the wire. It runs
``VELLUM_PLAN_EXAMPLES`` examples (default 25 in the test command; e.g. 2000 by hand)."""

from __future__ import annotations

import enum
import gc
import math
import os
import weakref
from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    PlainSerializer,
    RootModel,
    ValidationError,
    computed_field,
    create_model,
    field_serializer,
)

from constrained import constrained, constrained_models
from vellum import (
    DocumentValidationError,
    ObjectId,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
)
from vellum._core import decode_bson, encode_bson
from vellum._plans import Refused, _Planner, read_plan, validation_plan, write_plan

T = TypeVar("T")

# -- the four failures this module was written for ----------------------------------------------


class Comment(BaseModel):
    text: str
    replies: list[Comment] = []


class Thread(VellumBaseModel):
    title: str
    comments: list[Comment] = []


class Tags(RootModel[list[str]]):
    pass


class Tagged(VellumBaseModel):
    name: str
    tags: Tags = Tags([])


async def test_a_recursive_model_gets_a_repository_and_round_trips(
    client: VellumClient, db_name: str
) -> None:
    threads = VellumRepository(Thread, client, db_name)
    assert validation_plan(Thread) is None  # recursive: Pydantic decides
    deep = Comment(text="a", replies=[Comment(text="b", replies=[Comment(text="c")])])
    stored = await threads.create(Thread(title="t", comments=[deep]))
    assert await threads.get(stored.id) == stored
    raw = await threads.collection.find_one({"_id": stored.id})
    assert raw is not None
    assert raw["comments"] == [deep.model_dump(by_alias=True)]


async def test_a_root_model_field_is_stored_as_model_dump_gives_it(
    client: VellumClient, db_name: str
) -> None:
    tagged = VellumRepository(Tagged, client, db_name)
    assert write_plan(Tagged) is None and validation_plan(Tagged) is None
    one = await tagged.create(Tagged(name="one", tags=Tags(["x", "y"])))
    (two,) = await tagged.create_many([Tagged(name="two", tags=Tags(["x"]))])
    found = await tagged.find({"tags": "x"}, sort=[("name", 1)])
    assert [t.name for t in found] == ["one", "two"]
    for model in (one, two):
        raw = await tagged.collection.find_one({"_id": model.id})
        assert raw is not None and raw["tags"] == model.tags.root
        assert await tagged.get(model.id) == model


def test_plans_do_not_keep_model_classes_alive(client: VellumClient) -> None:
    def make() -> weakref.ref[type[VellumBaseModel]]:
        class Inner(BaseModel):
            n: int

        class Passing(VellumBaseModel):
            name: str
            inner: list[Inner] = []

        VellumRepository(Passing, client, "x")
        # Both plans are built and kept on the class, and refer to it and to Inner.
        assert write_plan(Passing) is not None and validation_plan(Passing) is not None
        return weakref.ref(Passing)

    refs = [make() for _ in range(3)]
    gc.collect()
    assert [r() for r in refs] == [None, None, None]


# -- kinds the generator does not make: each is planned exactly or left to Pydantic ---------------


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"
    lives: int = 9


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    good: bool = True


class Box(BaseModel, Generic[T]):
    item: T
    items: list[T] = []


class Kinds(VellumBaseModel):
    pet: Cat | Dog = Field(discriminator="kind")
    box: Box[int]
    when: datetime
    shout: str = ""

    @field_serializer("shout")
    def _loud(self, value: str) -> str:
        return value.upper()


class Generic_(VellumBaseModel):
    box: Box[int]
    boxes: list[Box[str]] = []


async def test_discriminated_unions_generics_and_field_serializers(
    client: VellumClient, db_name: str
) -> None:
    # A generic model with planned parameters is planned; the rest goes through Pydantic.
    assert validation_plan(Generic_) is not None and write_plan(Generic_) is not None
    assert validation_plan(Kinds) is None and write_plan(Kinds) is None
    for model, value in (
        (Generic_, Generic_(box=Box[int](item=1, items=[2]), boxes=[Box[str](item="a")])),
        (
            Kinds,
            Kinds(
                pet=Dog(good=False),
                box=Box[int](item=3),
                when=datetime(2024, 1, 1, tzinfo=timezone.utc),
                shout="hey",
            ),
        ),
    ):
        repo: VellumRepository[Any] = VellumRepository(model, client, db_name)
        created = await repo.create(value)
        raw = await repo.collection.find_one({"_id": created.id})
        assert raw is not None and encode_bson(raw) == _stored(created)
        _same(await repo.get(created.id), model.model_validate(raw))


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Colour(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


class Ticket(VellumBaseModel):
    title: str = Field(min_length=1, max_length=20, pattern=r"^[A-Z]")
    priority: Priority = Priority.LOW
    colour: Colour | None = None
    state: Literal["open", "closed"] = "open"
    points: int = Field(default=0, ge=0, le=100, multiple_of=5)
    ratio: float = Field(default=0.0, ge=0, lt=1)
    tags: list[Annotated[str, Field(max_length=8)]] = Field(default_factory=list, max_length=3)


async def test_constraints_literals_and_enums_are_planned_both_ways(
    client: VellumClient, db_name: str
) -> None:
    assert validation_plan(Ticket) is not None and write_plan(Ticket) is not None
    repo = VellumRepository(Ticket, client, db_name)
    ticket = await repo.create(
        Ticket(title="Fix", priority=Priority.HIGH, colour=Colour.RED, state="closed",
               points=10, ratio=0.5, tags=["a"])
    )  # fmt: skip
    raw = await repo.collection.find_one({"_id": ticket.id})
    assert raw is not None and (raw["priority"], raw["colour"]) == (2, "red")
    assert encode_bson(raw) == _stored(ticket)
    # The core builds it (no dict reaches Pydantic), with the enum members themselves.
    plan = repo._documents.read_plan  # pyright: ignore[reportPrivateUsage]
    (built,) = await repo.collection.find({"_id": ticket.id}, plan=plan)
    assert type(built) is Ticket and built.priority is Priority.HIGH
    _same(await repo.get(ticket.id), Ticket.model_validate(raw))
    # Stored values past a constraint, or not a member: Pydantic's own error, on every path.
    for key, value, message in (
        ("points", 7, "multiple of 5"),
        ("points", 105, "less than or equal to 100"),
        ("ratio", 1.0, "less than 1"),
        ("title", "fix", "should match pattern"),
        ("tags", ["a", "b", "c", "d"], "at most 3 items"),
        ("tags", ["abcdefghi"], "at most 8 characters"),
        ("priority", 3, "Input should be 1 or 2"),
        ("state", "gone", "'open' or 'closed'"),
    ):
        await repo.collection.update_one({"_id": ticket.id}, {"$set": {key: value}})
        with pytest.raises(DocumentValidationError, match=message):
            await repo.get(ticket.id)
        with pytest.raises(DocumentValidationError, match=message):
            await repo.find({"_id": ticket.id})
        await repo.collection.update_one({"_id": ticket.id}, {"$set": {key: raw[key]}})
    # A value set without validation (not a member) is stored as model_dump stores it.
    loose = Ticket.model_construct(**(ticket.model_dump() | {"priority": 1}))
    await repo.save(loose)
    stored = await repo.collection.find_one({"_id": ticket.id})
    assert stored is not None and stored["priority"] == 1


def test_building_many_pipelines_does_not_grow_memory(client: VellumClient) -> None:
    class Item(VellumBaseModel):
        n: int

    repo = VellumRepository(Item, client, "x")

    def build(count: int) -> None:
        for i in range(count):
            pipeline = repo.aggregate_pipeline().facet(
                low=repo.aggregate_pipeline().match(Item.Q.n < i),
                high=repo.aggregate_pipeline().match(Item.Q.n >= i),
            )
            read_plan(pipeline._output)  # what executing it would build

    build(1000)  # warm up: caches, allocator arenas
    gc.collect()
    before = _rss()
    build(10_000)
    gc.collect()
    grown = _rss() - before
    assert grown < 16 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 10 000 pipelines"


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- the property: generated model classes ------------------------------------------------------

_SCALARS: dict[str, tuple[Any, st.SearchStrategy[Any]]] = {
    "str": (str, st.text(max_size=8)),
    "int": (int, st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    "float": (float, st.floats(allow_nan=False, width=64)),
    "bool": (bool, st.booleans()),
    "decimal": (
        Decimal,
        st.decimals(
            allow_nan=False, allow_infinity=False, places=3, min_value=-(10**20), max_value=10**20
        ),
    ),
    "datetime": (
        datetime,
        st.datetimes(
            min_value=datetime(1, 1, 1),
            max_value=datetime(9999, 12, 31),
            timezones=st.just(timezone.utc),
        ).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)),
    ),
    "uuid": (UUID, st.uuids()),
    "objectid": (ObjectId, st.binary(min_size=12, max_size=12).map(ObjectId)),
    "bytes": (bytes, st.binary(max_size=8)),
}


def _upper(value: str) -> str:
    return value.upper()


_counter = iter(range(10**9))


@st.composite
def field_types(draw: st.DrawFn, depth: int = 0) -> tuple[Any, st.SearchStrategy[Any]]:
    """A field annotation and a strategy for its valid values."""
    choices = ["scalar"] * 6 + ["optional", "list", "validated", "serialized"] + ["constrained"] * 3
    if depth < 2:
        choices += ["model", "model", "root"]
    kind = draw(st.sampled_from(choices))
    if kind == "scalar":
        return _SCALARS[draw(st.sampled_from(sorted(_SCALARS)))]
    if kind == "optional":
        inner, values = draw(field_types(depth + 1))
        return (inner | None, st.none() | values)
    if kind == "list":
        inner, values = draw(field_types(depth + 1))
        return (list[inner], st.lists(values, max_size=3))  # type: ignore[valid-type]
    if kind == "constrained":  # of the kinds the core checks, with values that pass
        drawn = draw(constrained(depth=1))
        valid = drawn.valid()
        if valid:
            return (drawn.annotation, st.sampled_from(valid))
        return (Annotated[int, Field(ge=0)], st.integers(min_value=0, max_value=2**31))
    if kind == "validated":
        return (Annotated[str, AfterValidator(_upper)], st.text(max_size=5))
    if kind == "serialized":
        return (
            Annotated[int, PlainSerializer(lambda v: str(v), return_type=str)],
            st.integers(min_value=-1000, max_value=1000),
        )
    if kind == "root":
        root = RootModel[list[str]]
        return (root, st.lists(st.text(max_size=4), max_size=3).map(root))
    model, values = draw(models(BaseModel, depth + 1))
    return (model, values)


@st.composite
def models(
    draw: st.DrawFn, base: type[BaseModel], depth: int = 0
) -> tuple[type[BaseModel], st.SearchStrategy[Any]]:
    """A model class with 1-4 generated fields, and a strategy for its instances."""
    count = draw(st.integers(min_value=1, max_value=4))
    fields: dict[str, Any] = {}
    values: dict[str, st.SearchStrategy[Any]] = {}
    for i in range(count):
        annotation, strategy = draw(field_types(depth))
        name = f"f{i}"
        options: dict[str, Any] = {}
        if draw(st.booleans()):
            options["alias"] = f"a{i}"
        elif draw(st.integers(0, 5)) == 0:
            options["serialization_alias"] = f"s{i}"
        if draw(st.integers(0, 6)) == 0:
            options["exclude"] = True
        if "exclude" in options or "serialization_alias" in options:
            # Not read back under its own name: reads give the default.
            options["default"] = draw(strategy)
        fields[name] = (annotation, Field(**options)) if options else annotation
        values[options.get("alias", name)] = strategy
    extra: dict[str, Any] = {}
    if draw(st.integers(0, 5)) == 0:
        extra["total"] = computed_field(property(lambda self: len(self.__dict__)), return_type=int)
    name = f"Generated{next(_counter)}"  # stored in its own collection, generated{n}
    model = create_model(name, __base__=base, __validators__=extra, **fields)  # type: ignore[call-overload]
    return (model, st.fixed_dictionaries(values).map(lambda v: model(**v)))


def _stored(model: BaseModel) -> bytes:
    return encode_bson(model.model_dump(by_alias=True))


async def _check(
    client: VellumClient,
    db_name: str,
    model: type[VellumBaseModel],
    value: Any,
    others: list[tuple[str, Any]],
) -> None:
    repo = VellumRepository(model, client, db_name)
    await repo.delete_many({})
    created = await repo.create(value)
    raw = await repo.collection.find_one({"_id": created.id})
    assert raw is not None
    assert encode_bson(raw) == _stored(created)  # stored exactly what model_dump encodes to
    expected = model.model_validate(raw)
    for got in (
        await repo.get(created.id),
        (await repo.find({"_id": created.id}))[0],
        await repo.find_one({"_id": created.id}),
        *[doc async for doc in repo.iter({"_id": created.id})],
        *(await repo.aggregate_pipeline().match({"_id": created.id}).execute()),
    ):
        _same(got, expected)
    await repo.save(created)  # every field written back, with a new updated_at
    raw_saved = await repo.collection.find_one({"_id": created.id})
    assert raw_saved is not None
    written = created.model_dump(by_alias=True) | {"updated_at": raw_saved["updated_at"]}
    assert encode_bson(raw_saved) == encode_bson(written)
    # update() of every field with its own value: $set of exactly what model_dump gives.
    changes = {name: getattr(created, name) for name in model.model_fields}
    for managed in ("id", "created_at", "updated_at"):
        del changes[managed]
    if changes:
        await repo.update(created.id, changes)
        raw_updated = await repo.collection.find_one({"_id": created.id})
        assert raw_updated is not None
        written = created.model_dump(by_alias=True) | {"updated_at": raw_updated["updated_at"]}
        assert encode_bson(raw_updated) == encode_bson(written)
    (many,) = await repo.create_many([value.model_copy(update={"id": uuid4()})])
    raw_many = await repo.collection.find_one({"_id": many.id})
    assert raw_many is not None and encode_bson(raw_many) == _stored(many)
    # Other stored values (of another type, out of a constraint's range, null, missing): the
    # repository reads what model_validate gives, or fails as it does, on every path.
    for key, replacement in others:
        changed = dict(raw, _id=uuid4())
        if replacement is _MISSING:
            changed.pop(key, None)
        else:
            changed[key] = replacement
        await repo.collection.insert_one(changed)
        try:
            want = model.model_validate(changed)
        except ValidationError as err:
            # Pydantic's own errors (the input aside: reads decode only the keys it reads).
            expected = _errors(err.errors())
            with pytest.raises(DocumentValidationError) as got_get:
                await repo.get(changed["_id"])
            with pytest.raises(DocumentValidationError) as got_find:
                await repo.find({"_id": changed["_id"]})
            assert _errors(got_get.value.errors) == expected == _errors(got_find.value.errors)
            continue
        for got in (await repo.get(changed["_id"]), *(await repo.find({"_id": changed["_id"]}))):
            _same(got, want)


def _errors(errors: Any) -> list[tuple[Any, ...]]:
    return [(e["type"], e["loc"], e["msg"], repr(e.get("ctx"))) for e in errors]


def _same(got: BaseModel | None, want: BaseModel) -> None:
    """Equal with the same types all the way down (NaN included) and the same fields set."""
    assert type(got) is type(want)
    assert repr(got.__dict__) == repr(want.__dict__)
    assert got.model_fields_set == want.model_fields_set


_MISSING = object()
_OTHER_VALUES = st.just(-1) | st.sampled_from(  # -1 often: below the generated ge=0
    [_MISSING, None, -1, 0, 2**40, 1.5, float("nan"), "", "x" * 40, "ab", True, [], ["x"], {},
     {"n": 1}, b"", Decimal("NaN"), Decimal("-1"), ObjectId(b"\x00" * 12), UUID(int=0),
     datetime(2000, 1, 1, tzinfo=timezone.utc)]
)  # fmt: skip


EXAMPLES = int(os.environ.get("VELLUM_PLAN_EXAMPLES", "25"))


@pytest.mark.timeout(120 + 2 * EXAMPLES)  # a larger count by hand takes longer
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_generated_models_store_and_load_exactly_as_pydantic_does(
    client: VellumClient, data: st.DataObject
) -> None:
    model, instances = data.draw(models(VellumBaseModel))
    value = data.draw(instances)
    stored = sorted(value.model_dump(by_alias=True).keys() - {"_id"})
    others = data.draw(st.lists(st.tuples(st.sampled_from(stored), _OTHER_VALUES), max_size=4))
    await _check(client, "vellum_plan_property", model, value, others)


def test_lists_nested_past_the_plan_depth_go_through_pydantic(client: VellumClient) -> None:
    annotation: Any = int
    for _ in range(70):
        annotation = list[annotation]
    deep = create_model("DeepLists", __base__=VellumBaseModel, values=(annotation, []))
    assert validation_plan(deep) is None and write_plan(deep) is None
    VellumRepository(deep, client, "x")  # a repository all the same


# -- constraints the core checks: generated models against model_validate, in process -----------

CONSTRAINT_EXAMPLES = EXAMPLES * 40


def _outcome(model: type[BaseModel], raw: bytes) -> Any:
    try:
        return model.model_validate(decode_bson(raw))
    except ValidationError as err:
        return err


def _exactly_typed(value: Any) -> bool:
    """Whether a stored value is one the core must build without Pydantic: what a valid field
    holds, with no string outside ASCII (a pattern may consult Unicode tables) and no NaN."""
    if isinstance(value, dict):
        return all(_exactly_typed(v) for v in value.values())
    if isinstance(value, list):
        return all(_exactly_typed(v) for v in value)
    if isinstance(value, float):
        return not math.isnan(value)
    return not isinstance(value, str) or value.isascii()


@pytest.mark.timeout(120 + CONSTRAINT_EXAMPLES // 20)
@settings(max_examples=CONSTRAINT_EXAMPLES, deadline=None)
@given(data=st.data())
def test_constrained_models_are_built_exactly_as_pydantic_validates(data: st.DataObject) -> None:
    model, kinds = data.draw(constrained_models(BaseModel))
    plan = validation_plan(model)
    if plan is None:  # the two kinds of constraint generated that the core leaves to Pydantic
        with pytest.raises(Refused, match=r"is a strict enum|multiple_of="):
            _Planner("exact").plan(model)
        return
    valid = {key: kind.valid() for key, kind in kinds.items()}
    documents = [{key: data.draw(st.sampled_from(kind.pool)) for key, kind in kinds.items()}
                 for _ in range(4)]  # fmt: skip
    if all(valid.values()):
        documents.append({key: data.draw(st.sampled_from(v)) for key, v in valid.items()})
    for document in documents:
        raw = encode_bson(document)
        built = decode_bson(raw, plan=plan)
        validated = _outcome(model, raw)
        if type(built) is dict:
            # Handed to Pydantic: errors are its own. A well-typed valid document must not be.
            assert not (
                isinstance(validated, model)
                and all(repr(v) in map(repr, valid[k]) for k, v in document.items())
                and _exactly_typed(document)
            ), f"the core handed a valid document to Pydantic: {document!r}"
            continue
        assert isinstance(validated, model), f"built what Pydantic rejects: {validated}"
        _same(built, validated)
        for name, value in built.__dict__.items():  # nested models too, with their fields set
            if isinstance(value, BaseModel):
                _same(value, getattr(validated, name))
