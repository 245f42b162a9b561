"""Every BSON value a document can hold survives a read and a write, or fails with an error that
names the document and the field (never a bare ValueError that aborts a whole find)."""

from __future__ import annotations

import pickle
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel, Field, ValidationError

from vellum import (
    Code,
    DatetimeMS,
    DBPointer,
    DocumentValidationError,
    ObjectId,
    Regex,
    ValueOutOfRangeError,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    decode_bson,
    encode_bson,
)
from vellum._plans import read_plan, validation_plan


class Rule(VellumBaseModel):
    name: str
    match: Regex


def test_regex_is_a_value_type() -> None:
    r = Regex("^a", "xi")
    assert (r.pattern, r.flags) == ("^a", "ix")  # options in BSON's order
    assert r == Regex("^a", "ix") and hash(r) == hash(Regex("^a", "ix"))
    assert r != Regex("^a", "i")
    assert pickle.loads(pickle.dumps(r)) == r
    assert r.compile().flags & re.IGNORECASE and r.compile().flags & re.VERBOSE
    with pytest.raises(ValueError, match="unknown regular expression option 'q'"):
        Regex("a", "q")
    with pytest.raises(ValueError, match="NUL"):
        Regex("a\x00b")
    with pytest.raises(re.error):
        Regex("(?<name>x)\\p{L}").compile()  # PCRE only: Python cannot compile it
    with pytest.raises(ValueError, match="no Python equivalent"):
        Regex("a", "l").compile()


def test_a_stored_regex_comes_back_as_it_was_stored() -> None:
    for pattern, flags in [("abc", ""), ("abc", "u"), ("(?<name>x)\\p{L}", "imsux"), ("a", "l")]:
        raw = encode_bson({"r": Regex(pattern, flags)})
        back = decode_bson(raw)["r"]
        assert back == Regex(pattern, flags)
        assert encode_bson({"r": back}) == raw


def test_a_python_pattern_is_stored_without_its_implicit_unicode_flag() -> None:
    assert decode_bson(encode_bson({"r": re.compile("abc")}))["r"] == Regex("abc", "")
    both = re.compile("abc", re.I | re.S)
    assert decode_bson(encode_bson({"r": both}))["r"] == Regex("abc", "is")
    with pytest.raises(ValueError, match="bytes regex pattern"):
        encode_bson({"r": re.compile(b"abc")})


def test_regex_fields_validate_from_regex_pattern_or_str() -> None:
    class M(BaseModel):
        r: Regex

    assert M(r=Regex("a", "i")).r == Regex("a", "i")
    assert M(r=re.compile("a", re.M)).r == Regex("a", "m")  # type: ignore[arg-type]
    assert M(r="a").r == Regex("a")  # type: ignore[arg-type]
    assert M(r=Regex("a", "i")).model_dump(mode="json") == {"r": {"pattern": "a", "flags": "i"}}
    with pytest.raises(ValidationError):
        M(r=3)  # type: ignore[arg-type]


async def test_pcre_patterns_round_trip_through_a_repository(
    client: VellumClient, db_name: str
) -> None:
    rules = VellumRepository(Rule, client, db_name)
    pcre = Regex("(?<word>\\p{L}+)", "i")  # the emulator drops a stored "u"
    stored = await rules.create(Rule(name="words", match=pcre))
    await rules.collection.insert_one({"_id": uuid4(), "name": "plain", "match": Regex("abc")})
    found = await rules.find({}, sort=[("name", 1)])
    assert [r.match for r in found] == [Regex("abc"), pcre]
    assert await rules.get(stored.id) == stored
    raw: dict[str, Any] | None = await rules.collection.find_one({"name": "plain"})
    assert raw is not None and raw["match"] == Regex("abc")
    again = await rules.update(found[0].id, {"name": "plain2"})
    assert again is not None and again.match == Regex("abc")


# -- dates outside Python's years 1..9999 -------------------------------------------------------

FAR = [-(2**63), -62_135_596_800_001, 253_402_300_800_000, 2**63 - 1]  # around years 1 and 9999


class Event(VellumBaseModel):
    at: datetime


class AnyDate(VellumBaseModel):
    at: datetime | DatetimeMS


def _stored(at: Any) -> bytes:
    return encode_bson({"_id": UUID(int=7), "at": at})


def test_any_stored_date_is_read_and_written_back_exactly() -> None:
    for millis in FAR:
        raw = _stored(DatetimeMS(millis))
        doc = decode_bson(raw)
        assert doc["at"] == DatetimeMS(millis)
        assert encode_bson(doc) == raw
    inside = decode_bson(_stored(DatetimeMS(0)))["at"]
    assert inside == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert DatetimeMS(0).to_datetime() == inside
    with pytest.raises(ValueError, match="outside the years 1 to 9999"):
        DatetimeMS(FAR[0]).to_datetime()


def test_a_date_a_datetime_field_cannot_hold_fails_validation_naming_the_field() -> None:
    for millis in FAR:
        raw = _stored(DatetimeMS(millis))
        plan = validation_plan(Event)
        assert plan is not None
        doc = decode_bson(raw, plan=plan)  # the core does not build it: validation decides
        assert isinstance(doc, dict)
        with pytest.raises(ValidationError) as err:
            Event.model_validate(doc)
        assert err.value.errors()[0]["loc"] == ("at",)
        # A field declared for it reads it.
        assert AnyDate.model_validate(decode_bson(raw)).at == DatetimeMS(millis)


def test_datetime_ms_fields_validate_from_ints_and_datetimes() -> None:
    class M(BaseModel):
        at: DatetimeMS

    assert M(at=1500).at == DatetimeMS(1500)  # type: ignore[arg-type]
    assert M(at=datetime(1970, 1, 1, 0, 0, 1, tzinfo=timezone.utc)).at == DatetimeMS(1000)  # type: ignore[arg-type]
    assert M(at=DatetimeMS(5)).model_dump(mode="json") == {"at": 5}
    assert DatetimeMS(1) < DatetimeMS(2) and int(DatetimeMS(3)) == 3
    with pytest.raises(ValidationError):
        M(at="soon")  # type: ignore[arg-type]


def test_the_encoder_refuses_a_datetime_it_could_not_read_back() -> None:
    late = datetime.max.replace(tzinfo=timezone(timedelta(hours=-14)))
    early = datetime.min.replace(tzinfo=timezone(timedelta(hours=14)))
    for value in (late, early):
        with pytest.raises(ValueOutOfRangeError, match="outside the years 1 to 9999 in UTC"):
            encode_bson({"at": value})
    assert decode_bson(encode_bson({"at": datetime.max}))["at"].year == 9999


@pytest.mark.real_mongodb("the emulator cannot store dates outside years 1-9999")
async def test_a_far_date_fails_only_its_document_naming_id_and_field(
    client: VellumClient, db_name: str
) -> None:
    events = VellumRepository(Event, client, db_name)
    good = await events.create(Event(at=datetime(2020, 1, 1, tzinfo=timezone.utc)))
    await events.collection.insert_one({"_id": UUID(int=9), "at": DatetimeMS(FAR[-1])})
    assert await events.get(good.id) == good
    with pytest.raises(DocumentValidationError, match=r"_id=UUID\('00000000-.*9'\).*at") as err:
        await events.get(UUID(int=9))
    assert err.value.document_id == UUID(int=9)
    anything = VellumRepository(AnyDate, client, db_name)
    anything_far = await anything.get(UUID(int=9))
    assert anything_far is not None and anything_far.at == DatetimeMS(FAR[-1])


# -- deprecated BSON types, values the model does not declare, values that cannot be read ------


def test_deprecated_types_are_read_and_written_back_unchanged() -> None:
    oid = ObjectId(b"\x01" * 12)
    doc = {
        "code": Code("function () { return 1; }"),
        "scoped": Code("function () { return x; }", {"x": 1, "nested": {"y": [1, "two"]}}),
        "pointer": DBPointer("db.coll", oid),
        "none": None,
    }
    raw = encode_bson(doc)
    back = decode_bson(raw)
    assert back == doc
    assert back["scoped"].scope == {"x": 1, "nested": {"y": [1, "two"]}}
    assert back["pointer"].id == oid and back["pointer"].namespace == "db.coll"
    assert encode_bson(back) == raw
    assert Code("a") != Code("a", {}) and hash(Code("a")) == hash(Code("a"))
    for value in doc.values():
        if value is not None:
            assert pickle.loads(pickle.dumps(value)) == value


def _with_bad_utf8(field: str) -> bytes:
    """A document whose `field` holds a string that is not valid UTF-8 (older drivers and the
    shell could store one)."""
    raw = encode_bson({"_id": UUID(int=3), "name": "ada", "legacy": "zzz", "other": "yyy"})
    marker = b"zzz" if field == "legacy" else b"ada"
    return raw.replace(marker, b"\xff\xfe\xfd")


class Person(VellumBaseModel):
    name: str


class Bounded(VellumBaseModel):
    name: str = Field(max_length=10)


def test_values_of_fields_the_model_does_not_declare_are_never_decoded() -> None:
    raw = _with_bad_utf8("legacy")
    with pytest.raises(ValueError, match=r"malformed|utf"):
        decode_bson(raw)  # a plain read decodes everything
    for model in (Person, Bounded):  # built by the core, and validated by Pydantic
        plan = read_plan(model)
        assert plan is not None
        got = decode_bson(raw, plan=plan)
        loaded = got if isinstance(got, model) else model.model_validate(got)
        assert loaded.name == "ada" and loaded.id == UUID(int=3)


def test_a_declared_field_that_cannot_be_decoded_names_the_document_and_field() -> None:
    raw = _with_bad_utf8("name")
    for model in (Person, Bounded):
        plan = read_plan(model)
        assert plan is not None
        with pytest.raises(DocumentValidationError, match=r"_id=UUID\(.*3'\).*name") as err:
            decode_bson(raw, plan=plan)
        assert err.value.document_id == UUID(int=3)
        assert err.value.errors[0]["loc"] == ("name",)


async def test_deprecated_types_round_trip_through_the_server(
    client: VellumClient, db_name: str
) -> None:
    class Legacy(VellumBaseModel):
        script: Code
        pointer: DBPointer | None = None

        model_config = {"arbitrary_types_allowed": True}

    legacy = VellumRepository(Legacy, client, db_name)
    stored = await legacy.create(Legacy(script=Code("return x", {"x": 2})))
    assert await legacy.get(stored.id) == stored


# -- nesting: refused past the limit, never a crash ---------------------------------------------


class Deep(VellumBaseModel):
    a: Any


def _nested(levels: int, kind: bytes = b"\x03") -> bytes:
    """A document whose field `a` holds a document (or array) `levels` deep: each level is its
    length, the type byte, the key `a`, the level inside, and a NUL (8 bytes more than it)."""
    heads = [(5 + 8 * k).to_bytes(4, "little") + kind + b"a\x00" for k in range(levels, 0, -1)]
    return b"".join(heads) + b"\x05\x00\x00\x00\x00" + b"\x00" * levels


@pytest.mark.parametrize("kind", [b"\x03", b"\x04"], ids=["documents", "arrays"])
def test_decoding_refuses_nesting_deeper_than_mongodb_sends(kind: bytes) -> None:
    assert decode_bson(_nested(200, kind))  # at the limit: decoded
    for levels in (201, 100_000):
        with pytest.raises(ValueError, match="nest deeper than 200 levels"):
            decode_bson(_nested(levels, kind))
        with pytest.raises(DocumentValidationError, match=r"\ba: .*nest deeper than 200"):
            decode_bson(_nested(levels, kind), plan=read_plan(Deep))
        # Where the model does not declare the field, it is not even read.
        assert "a" not in decode_bson(_nested(levels, kind), plan=read_plan(Person))


def test_regex_and_datetime_ms_fields_in_json_and_json_schema() -> None:
    # Every field type a document may declare has a JSON form and a JSON schema (OpenAPI).
    class Held(BaseModel):
        r: Regex
        d: DatetimeMS

    held = Held(r=Regex("^a", "i"), d=DatetimeMS(5))
    dumped = held.model_dump_json()
    assert dumped == '{"r":{"pattern":"^a","flags":"i"},"d":5}'
    assert Held.model_validate_json(dumped) == held
    from_text = Held.model_validate_json('{"r": "^b", "d": "1970-01-01T00:00:01Z"}')
    assert from_text.r == Regex("^b") and from_text.d == DatetimeMS(1000)
    serialised = Held.model_json_schema(mode="serialization")["properties"]
    assert serialised["d"]["type"] == "integer" and serialised["r"]["required"] == ["pattern"]
    assert "anyOf" in Held.model_json_schema(mode="validation")["properties"]["r"]
