"""Trusted fetch (`Settings.validate_on_fetch = False`): the same models as validation gives,
built without re-validating documents whose stored types already match the model."""

from __future__ import annotations

import gc
import weakref
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    computed_field,
    field_serializer,
    field_validator,
)

from vellum import (
    DocumentValidationError,
    ObjectId,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    _core,
)
from vellum._core import decode_bson, encode_bson
from vellum._plans import fetch_plan, read_keys, validation_plan


class Line(BaseModel):
    sku: str
    qty: int
    price: Decimal


class Address(BaseModel):
    city: str
    zip: str


class Checked(VellumBaseModel):
    name: str
    age: int = Field(default=0, ge=0)
    score: float = 0.0
    active: bool = True
    balance: Decimal = Decimal("0")
    born: datetime | None = None
    token: UUID | None = None
    owner: ObjectId | None = None
    blob: bytes = b""
    tags: list[str] = []
    address: Address | None = None
    lines: list[Line] = []

    class Settings:
        collection_name = "orders"


class Trusted(Checked):
    class Settings:
        collection_name = "orders"
        validate_on_fetch = False


@pytest.fixture
def checked(client: VellumClient, db_name: str) -> VellumRepository[Checked]:
    return VellumRepository(Checked, client, db_name)


@pytest.fixture
def trusted(client: VellumClient, db_name: str) -> VellumRepository[Trusted]:
    return VellumRepository(Trusted, client, db_name)


def full(name: str) -> Checked:
    return Checked(
        name=name,
        age=41,
        score=2.5,
        active=False,
        balance=Decimal("12.50"),
        born=datetime(1990, 5, 1, 12, 30, tzinfo=timezone.utc),
        token=uuid4(),
        owner=ObjectId(),
        blob=b"\x00\x01",
        tags=["a", "b"],
        address=Address(city="Oslo", zip="0150"),
        lines=[Line(sku="x", qty=2, price=Decimal("1.25"))],
    )


def same(trusted: Trusted, checked: Checked) -> None:
    """Equal field by field, with the same types and the same fields set."""
    assert type(trusted) is Trusted
    assert trusted.__dict__ == checked.__dict__
    assert [type(v) for v in trusted.__dict__.values()] == [
        type(v) for v in checked.__dict__.values()
    ]
    assert trusted.model_fields_set == checked.model_fields_set
    assert trusted.__pydantic_extra__ == checked.__pydantic_extra__
    assert trusted.__pydantic_private__ == checked.__pydantic_private__
    assert trusted.model_dump() == checked.model_dump()


async def test_trusted_reads_equal_validated_reads(
    checked: VellumRepository[Checked], trusted: VellumRepository[Trusted]
) -> None:
    stored = [await checked.create(full(f"n{i}")) for i in range(3)]
    # The core built these itself: no dict went through validation.
    plan = trusted._documents.read_plan  # pyright: ignore[reportPrivateUsage]
    built = await trusted.collection.find({}, plan=plan)
    assert [type(doc) for doc in built] == [Trusted] * 3
    sort = [("name", 1)]
    for fast, slow in zip(
        await trusted.find(sort=sort), await checked.find(sort=sort), strict=True
    ):
        same(fast, slow)
    same(await trusted.get(stored[0].id), await checked.get(stored[0].id))  # type: ignore[arg-type]
    first = await trusted.find_one({"name": "n1"})
    assert first is not None
    same(first, await checked.find_one({"name": "n1"}))  # type: ignore[arg-type]
    streamed = [doc async for doc in trusted.iter(sort=sort, batch_size=2)]
    assert [d.name for d in streamed] == ["n0", "n1", "n2"]
    assert isinstance(streamed[0].lines[0], Line) and isinstance(streamed[0].address, Address)


async def test_trusted_models_behave_like_validated_ones(
    trusted: VellumRepository[Trusted], checked: VellumRepository[Checked]
) -> None:
    doc = await checked.create(full("Ada"))
    loaded = await trusted.get(doc.id)
    assert loaded is not None
    loaded.tags.append("c")
    loaded.age = 42
    saved = await trusted.save(loaded)
    assert saved.age == 42
    again = await trusted.get(doc.id)
    assert again is not None and again.tags == ["a", "b", "c"] and again.age == 42
    assert again.model_copy(update={"name": "Bo"}).name == "Bo"


async def test_documents_that_do_not_match_the_plan_are_validated(
    checked: VellumRepository[Checked], trusted: VellumRepository[Trusted]
) -> None:
    raw = trusted.collection
    await raw.insert_one({"_id": uuid4(), "name": "float-age", "age": 3.0, "score": 2})
    await raw.insert_one({"_id": uuid4(), "name": "missing", "extra_field": [1, 2]})
    await raw.insert_one(
        {
            "_id": uuid4(),
            "name": "nested",
            "lines": [{"sku": "y", "qty": 1.0, "price": Decimal("2")}],
        }
    )
    plan = trusted._documents.read_plan  # pyright: ignore[reportPrivateUsage]
    assert all(type(doc) is dict for doc in await raw.find({}, plan=plan))
    sort = [("name", 1)]
    fast, slow = await trusted.find(sort=sort), await checked.find(sort=sort)
    assert [d.name for d in fast] == ["float-age", "missing", "nested"]
    for f, s in zip(fast, slow, strict=True):
        same(f, s)
    assert type(fast[0].age) is int and type(fast[0].score) is float
    assert fast[1].tags == [] and fast[1].model_fields_set == {"id", "name"}
    assert type(fast[2].lines[0].qty) is int


async def test_invalid_documents_still_raise(trusted: VellumRepository[Trusted]) -> None:
    doc_id = uuid4()
    await trusted.collection.insert_one({"_id": doc_id, "name": "bad", "age": "old"})
    with pytest.raises(DocumentValidationError, match="age"):
        await trusted.get(doc_id)
    with pytest.raises(DocumentValidationError, match="age"):
        await trusted.find()


def test_models_the_core_cannot_build_are_refused(client: VellumClient) -> None:
    class Counts(VellumBaseModel):
        by_kind: dict[str, int]

        class Settings:
            validate_on_fetch = False

    with pytest.raises(TypeError, match=r"Counts\.by_kind is a dict schema"):
        VellumRepository(Counts, client, "x")

    class Shouty(VellumBaseModel):
        name: str

        @field_validator("name")
        @classmethod
        def upper(cls, value: str) -> str:
            return value.upper()

        class Settings:
            validate_on_fetch = False

    with pytest.raises(
        TypeError,
        match=r"Shouty\.name is checked by the validator 'upper'.*Keep validation on fetch",
    ):
        VellumRepository(Shouty, client, "x")

    class Mixed(VellumBaseModel):
        value: int | str

        class Settings:
            validate_on_fetch = False

    with pytest.raises(TypeError, match=r"only `X \| None`"):
        VellumRepository(Mixed, client, "x")


def test_setting_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="validate_on_fetch must be True or False"):

        class Wrong(VellumBaseModel):
            class Settings:
                validate_on_fetch: Any = "no"


# -- writes: models encoded from their fields store what model_dump would -------------------


async def stored_both_ways(repo: VellumRepository[Any], model: BaseModel) -> tuple[Any, Any]:
    """The stored document of `model` inserted by the repository, and of its model_dump
    inserted as a plain dict, both as (key, value) lists without `_id`."""
    await repo.create(model)
    dumped = model.model_dump(by_alias=True)
    dumped["_id"] = uuid4()
    await repo.collection.insert_one(dumped)
    first, second = await repo.collection.find({}, sort={"_id": 1})
    ours = first if first["_id"] == dumped["_id"] else second
    theirs = second if ours is first else first
    return (
        [(k, v) for k, v in theirs.items() if k != "_id"],
        [(k, v) for k, v in ours.items() if k != "_id"],
    )


async def test_inserts_store_what_model_dump_gives(checked: VellumRepository[Checked]) -> None:
    assert checked._documents.write_plan is not None  # pyright: ignore[reportPrivateUsage]
    by_repository, by_dump = await stored_both_ways(checked, full("Ada"))
    assert by_repository == by_dump
    many = [full(f"n{i}") for i in range(3)] + [Checked(name="sparse")]
    await checked.create_many(many)
    for model in many:
        raw = await checked.collection.find_one({"_id": model.id})
        assert raw is not None
        assert list(raw.items()) == list(model.model_dump(by_alias=True).items())


class Shaped(VellumBaseModel):
    name: str
    secret: str = Field(default="s", exclude=True)
    label: str = Field(default="l", serialization_alias="lbl")
    address: Address | None = None

    @field_serializer("name")
    def shout(self, value: str) -> str:
        return value.upper()

    @computed_field
    @property
    def initial(self) -> str:
        return self.name[:1]

    class Settings:
        collection_name = "shaped"


class Town(Address):
    population: int = 0


async def test_customised_dumps_are_stored_as_model_dump_gives_them(
    client: VellumClient, db_name: str, checked: VellumRepository[Checked]
) -> None:
    shaped = VellumRepository(Shaped, client, db_name)
    assert shaped._documents.write_plan is None  # pyright: ignore[reportPrivateUsage]
    by_repository, by_dump = await stored_both_ways(shaped, Shaped(name="ada"))
    assert by_repository == by_dump
    assert ("name", "ADA") in by_repository and ("initial", "a") in by_repository
    assert ("lbl", "l") in by_repository and all(k != "secret" for k, _ in by_repository)
    # A subclass instance in a nested field: encoded as model_dump dumps it.
    sub = full("Bo").model_copy(update={"address": Town(city="Oslo", zip="1", population=5)})
    by_repository, by_dump = await stored_both_ways(checked, sub)
    assert by_repository == by_dump


# -- the core's check is the whole of validation for models without constraints ------------


class Plain(VellumBaseModel):
    name: str
    count: int = 0
    ratio: float = 0.0
    flag: bool = False
    amount: Decimal = Decimal("0")
    at: datetime | None = None
    ref: UUID | None = None
    owner: ObjectId | None = None
    blob: bytes = b""
    tags: list[str] = []
    lines: list[Line] = []

    class Settings:
        collection_name = "plain"


# Per field: values of the declared type first (RIGHT of them), then values of other types.
SAMPLES: dict[str, list[Any]] = {
    "name": ["ada", "", 3, None],
    "count": [7, -(2**40), 2.0, 2.5, "4", True, None],
    "ratio": [1.5, float("nan"), float("-inf"), 3, "x", None],
    "flag": [True, False, 1, "yes", None],
    "amount": [Decimal("1.10"), Decimal("-1E+10"), Decimal("Infinity"), Decimal("NaN"), 2, "3"],
    "at": [datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=timezone.utc), None, "2024-01-01", 5],
    "ref": [uuid4(), None, str(uuid4()), b"0123456789abcdef"],
    "owner": [ObjectId(), None, "0123456789abcdef01234567", 5],
    "blob": [b"\x00", b"", "text", None],
    "tags": [["a", "b"], [], ["a", 1], "a", None],
    "lines": [
        [{"sku": "x", "qty": 1, "price": Decimal("2")}],
        [],
        [{"sku": "x", "qty": 1.0, "price": Decimal("2")}],
        [{"sku": "x", "qty": 1, "price": Decimal("2"), "more": 1}],
        [{"sku": "x", "price": Decimal("2")}],
        None,
    ],
}
RIGHT = 2
MANAGED = {
    "_id": UUID(int=1),
    "created_at": datetime(2024, 1, 1, tzinfo=timezone.utc),
    "updated_at": None,
}


@st.composite
def stored_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Every field present and of its declared type, except at most one of any type."""
    document = MANAGED | {k: draw(st.sampled_from(v[:RIGHT])) for k, v in SAMPLES.items()}
    odd = draw(st.one_of(st.none(), st.sampled_from(sorted(SAMPLES))))
    if odd is not None:
        document[odd] = draw(st.sampled_from(SAMPLES[odd]))
    if draw(st.booleans()):
        document["extra"] = "ignored"
    return document


def outcome(call: Any) -> Any:
    try:
        return call()
    except ValidationError as err:
        return ("invalid", [e["loc"] for e in err.errors()])


@settings(max_examples=300)
@given(stored_documents())
def test_for_models_without_constraints_the_core_is_validation(document: dict[str, Any]) -> None:
    plan = validation_plan(Plain)
    assert plan is not None
    raw = encode_bson(document)
    built = decode_bson(raw, plan=plan)
    validated = outcome(lambda: Plain.model_validate(decode_bson(raw)))
    if isinstance(built, dict):
        return  # the core handed it to Pydantic: that is `validated`
    assert isinstance(validated, Plain), f"the core built a model Pydantic rejects: {validated}"
    assert built.__dict__ == validated.__dict__ or _nan_equal(built, validated)
    assert [type(v) for v in vars(built).values()] == [type(v) for v in vars(validated).values()]
    assert built.model_fields_set == validated.model_fields_set


def _nan_equal(a: BaseModel, b: BaseModel) -> bool:
    return a.model_dump_json() == b.model_dump_json()


def test_well_typed_documents_are_built_by_the_core() -> None:
    plan = validation_plan(Plain)
    document = MANAGED | {key: values[0] for key, values in SAMPLES.items()}
    assert type(decode_bson(encode_bson(document), plan=plan)) is Plain
    # Field(ge=0) is checked by the core; a value below it goes to Pydantic, which reports it.
    checked = validation_plan(Checked)
    assert checked is not None
    raw = full("Ada").model_dump(by_alias=True)
    assert type(decode_bson(encode_bson(raw), plan=checked)) is Checked
    assert type(decode_bson(encode_bson(raw | {"age": -1}), plan=checked)) is dict

    class Digits(BaseModel):
        amount: Decimal = Field(max_digits=5)  # not a constraint the core checks

    assert validation_plan(Digits) is None


def test_each_built_model_owns_its_fields_set() -> None:
    plan = validation_plan(Plain)
    raw = encode_bson(MANAGED | {key: values[0] for key, values in SAMPLES.items()})
    first, second = decode_bson(raw, plan=plan), decode_bson(raw, plan=plan)
    assert type(first) is Plain and type(second) is Plain
    first.__pydantic_fields_set__.clear()
    assert second.model_fields_set == set(Plain.model_fields)
    assert type(third := decode_bson(raw, plan=plan)) is Plain
    assert third.model_fields_set == set(Plain.model_fields)


def test_only_containers_that_cannot_form_cycles_are_hidden_from_the_gc() -> None:
    plan = validation_plan(Plain)
    raw = encode_bson(MANAGED | {key: values[0] for key, values in SAMPLES.items()})
    built = decode_bson(raw, plan=plan)
    assert type(built) is Plain and type(built.id) is UUID
    # Sets of field names and immutable UUIDs are left to reference counting...
    assert not gc.is_tracked(built.__pydantic_fields_set__)
    assert not gc.is_tracked(built.id)
    assert not gc.is_tracked(built.lines[0].__pydantic_fields_set__)
    # ...what the user can change into a cycle stays tracked, and such a cycle is collected.
    assert gc.is_tracked(built) and gc.is_tracked(built.tags) and gc.is_tracked(built.lines[0])
    built.tags.append(built)  # pyright: ignore[reportArgumentType]
    alive = weakref.ref(built)
    del built
    gc.collect()
    assert alive() is None


class Constructed(BaseModel):
    name: str

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return super().__new__(cls)


def test_classes_with_their_own_constructor_are_left_to_pydantic() -> None:
    assert validation_plan(Constructed) is None
    with pytest.raises(TypeError, match="defines __new__"):
        fetch_plan(Constructed)


class Summary(BaseModel):
    label: str
    amount: Decimal
    lines: list[Line]


async def test_aggregation_outputs_without_constraints_are_built_by_the_core(
    checked: VellumRepository[Checked],
) -> None:
    await checked.create(full("Ada"))
    bo = {"_id": uuid4(), "name": "Bo", "balance": Decimal("Inf"), "lines": []}
    await checked.collection.insert_one(bo)
    pipeline = (
        checked.aggregate_pipeline()
        .sort(("name", 1))
        .project(
            {"label": "$name", "amount": "$balance", "lines": 1, "_id": 0}, output_model=Summary
        )
    )
    plan = validation_plan(Summary)
    assert plan is not None
    raws = await checked.collection.aggregate(pipeline._core)  # pyright: ignore[reportPrivateUsage]
    built = await checked.collection.aggregate(pipeline._core, plan=plan)  # pyright: ignore[reportPrivateUsage]
    assert [type(r) for r in built] == [Summary, dict]  # Infinity: Pydantic's to judge
    with pytest.raises(DocumentValidationError, match="amount"):
        await pipeline.execute()
    ada = (
        await checked.aggregate_pipeline()
        .project(
            {"label": "$name", "amount": "$balance", "lines": 1, "_id": 0}, output_model=Summary
        )
        .first()
    )
    assert ada == Summary.model_validate(raws[0])


def test_a_malformed_plan_is_refused() -> None:
    with pytest.raises(ValueError, match='unknown field kind "date"'):
        _core.ModelPlan(Plain, [("at", "at", ("date", False, None, None))])
    with pytest.raises(TypeError):
        _core.ModelPlan(Plain, [("at", "at", ("model", False, "not a plan", None))])
    with pytest.raises(ValueError, match='does not check "pattern" on int fields'):
        _core.ModelPlan(Plain, [("at", "at", ("int", False, None, {"pattern": "x"}))])
    with pytest.raises(ValueError, match='does not check "multiple_of" on float fields'):
        _core.ModelPlan(Plain, [("at", "at", ("float", False, None, {"multiple_of": 0.5}))])
    with pytest.raises(TypeError, match="pattern"):  # a pattern the regex crate refuses
        _core.ModelPlan(Plain, [("at", "at", ("str", False, None, {"pattern": "(?<=a)b"}))])
    with pytest.raises(TypeError, match="does not look up choices of type float"):
        _core.ModelPlan(Plain, [("at", "at", ("choice", False, (None, [(1.5, 1.5)]), None))])
    with pytest.raises(TypeError):
        _core.ModelPlan("Plain", [])  # pyright: ignore[reportArgumentType]


def _decoded(raw: bytes, plan: Any = None) -> Any:
    try:
        return decode_bson(raw, plan=plan)
    except ValueError:
        return ValueError  # the message may differ by path; the outcome may not


@settings(max_examples=400)
@given(stored_documents(), st.data())
def test_corrupted_documents_get_the_same_outcome_with_or_without_a_plan(
    document: dict[str, Any], data: st.DataObject
) -> None:
    raw = bytearray(encode_bson(document))
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(4, len(raw) - 1))] = data.draw(st.integers(0, 255))
    # Without building: only the keys validation reads are decoded, as with the building plan.
    keys = read_keys(Plain)
    assert keys is not None
    plain = _decoded(bytes(raw), _core.ModelPlan(Plain, [], keys=keys, builds=False))
    built = _decoded(bytes(raw), validation_plan(Plain))
    if isinstance(built, Plain):
        # The core built it: the document decodes, and validation gives the same model.
        assert isinstance(plain, dict)
        validated = Plain.model_validate(plain)
        assert repr(built) == repr(validated)  # repr: NaN is not equal to itself
    else:
        assert repr(built) == repr(plain)  # repr: NaN is not equal to itself
