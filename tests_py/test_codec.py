"""BSON conversion: every type a model can hold, round-tripped in memory and through the server."""

from __future__ import annotations

import enum
import re
import uuid
from collections import OrderedDict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vellum import (
    Binary,
    MaxKey,
    MinKey,
    ObjectId,
    Regex,
    Timestamp,
    UnsupportedTypeError,
    ValueOutOfRangeError,
    VellumClient,
    decode_bson,
    encode_bson,
)


def round_trip(doc: dict[str, Any]) -> dict[str, Any]:
    return decode_bson(encode_bson(doc))


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Mood(str, enum.Enum):
    OK = "ok"


def test_scalars_keep_their_types() -> None:
    doc = {"s": "é", "i": 1, "i64": 2**40, "neg": -(2**63), "f": 0.5, "t": True, "n": None}
    out = round_trip(doc)
    assert out == doc
    assert type(out["t"]) is bool and type(out["i"]) is int


def test_int_width_follows_size() -> None:
    # int32 when it fits, int64 otherwise: check the BSON type byte.
    assert encode_bson({"a": 1})[4] == 0x10
    assert encode_bson({"a": 2**31})[4] == 0x12
    assert encode_bson({"a": -(2**31)})[4] == 0x10


def test_int_beyond_int64_is_a_clear_error() -> None:
    with pytest.raises(ValueOutOfRangeError, match=r"64-bit.*at field 'a.b'"):
        encode_bson({"a": {"b": 2**63}})


def test_datetimes_are_utc_and_millisecond_precise() -> None:
    naive = datetime(2024, 5, 1, 12, 30, 0, 123456)
    aware = datetime(2024, 5, 1, 14, 30, 0, 123999, tzinfo=timezone(timedelta(hours=2)))
    out = round_trip({"naive": naive, "aware": aware})
    expected = datetime(2024, 5, 1, 12, 30, 0, 123000, tzinfo=timezone.utc)
    assert out["naive"] == expected and out["aware"] == expected
    assert out["naive"].tzinfo is timezone.utc


def test_uuid_bytes_decimal_objectid_regex() -> None:
    doc = {
        "u": uuid.uuid4(),
        "b": b"\x00\x01",
        "d": Decimal("-0.000123"),
        "big": Decimal("1234567890123456789012345678901234E-5"),
        "nan": Decimal("NaN"),
        "inf": Decimal("-Infinity"),
        "o": ObjectId(),
        "r": re.compile(r"^a.b$", re.IGNORECASE | re.MULTILINE | re.DOTALL),
    }
    out = round_trip(doc)
    assert out["u"] == doc["u"] and out["b"] == b"\x00\x01"
    assert out["d"] == doc["d"] and str(out["big"]) == str(doc["big"])
    assert out["nan"].is_nan() and out["inf"] == Decimal("-Infinity")
    assert out["o"] == doc["o"]
    assert out["r"] == Regex(r"^a.b$", "ims")  # a re.Pattern is stored with its flags
    assert out["r"].compile().flags == doc["r"].flags


def test_uuid_is_binary_subtype_4_and_bytes_subtype_0() -> None:
    raw = encode_bson({"u": uuid.UUID(int=1)})
    assert raw[4] == 0x05 and raw[4 + 3 + 4] == 0x04
    raw = encode_bson({"b": b"x"})
    assert raw[4 + 3 + 4] == 0x00


def test_decimal_that_does_not_fit_is_refused_not_rounded() -> None:
    with pytest.raises(ValueOutOfRangeError, match=r"exactly.*at field 'price'"):
        encode_bson({"price": Decimal("1." + "1" * 40)})
    with pytest.raises(ValueOutOfRangeError):
        encode_bson({"price": Decimal("1E+7000")})
    # Trailing zeros beyond 34 digits are exact and are accepted.
    assert round_trip({"p": Decimal("1" + "0" * 40)})["p"] == Decimal("1" + "0" * 40)


def test_enums_are_stored_by_value() -> None:
    out = round_trip({"c": Color.RED, "l": Level.HIGH, "m": Mood.OK})
    assert out == {"c": "red", "l": 3, "m": "ok"}


def test_containers_and_subclasses() -> None:
    out = round_trip({"t": (1, 2), "od": OrderedDict(a=1), "l": [[1], {"x": []}]})
    assert out == {"t": [1, 2], "od": {"a": 1}, "l": [[1], {"x": []}]}


def test_bson_special_types() -> None:
    doc = {"min": MinKey(), "max": MaxKey(), "ts": Timestamp(5, 7), "bin": Binary(b"\x01", 0x80)}
    out = round_trip(doc)
    assert out["min"] == MinKey() and out["max"] == MaxKey()
    assert out["ts"] == Timestamp(5, 7)
    assert out["bin"] == Binary(b"\x01", 0x80) and out["bin"].subtype == 0x80
    assert MinKey() < 1 < MaxKey()


def test_non_str_keys_name_the_path() -> None:
    with pytest.raises(UnsupportedTypeError, match=r"keys must be str.*at field 'a.1'"):
        encode_bson({"a": [0, {5: "x"}]})


def test_unsupported_types_name_the_path_and_type() -> None:
    with pytest.raises(UnsupportedTypeError, match=r"'set'.*list.*at field 'tags'"):
        encode_bson({"tags": {"a"}})
    with pytest.raises(UnsupportedTypeError, match=r"date-only"):
        encode_bson({"d": date(2024, 1, 1)})
    with pytest.raises(UnsupportedTypeError, match="'object'"):
        encode_bson({"o": object()})
    with pytest.raises(UnsupportedTypeError, match="must be a dict"):
        encode_bson([1, 2])  # type: ignore[arg-type]


def test_self_containing_document_is_refused() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(ValueOutOfRangeError, match="nest deeper"):
        encode_bson(loop)


def test_nul_in_key_is_refused() -> None:
    with pytest.raises(ValueOutOfRangeError, match="NUL"):
        encode_bson({"a\x00b": 1})


def test_malformed_bson_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a valid BSON document"):
        decode_bson(b"\x05\x00\x00")


# -- generated documents ------------------------------------------------------------------

keys = st.text(st.characters(blacklist_characters="\x00$.", codec="utf-8"), min_size=1, max_size=8)
datetimes = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(timezone.utc)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


def _fits_decimal128(d: Decimal) -> bool:
    sign_digits_exp = d.as_tuple()
    if not d.is_finite():
        return True
    return len(sign_digits_exp.digits) <= 34 and -6176 <= int(sign_digits_exp.exponent) <= 6111 - 33


decimals = st.decimals(allow_nan=False, allow_infinity=True, places=None).filter(_fits_decimal128)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(st.characters(codec="utf-8")),
    st.binary(max_size=32),
    st.uuids(),
    datetimes,
    decimals,
    st.binary(min_size=12, max_size=12).map(ObjectId),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=12,
)
documents = st.dictionaries(keys, values, max_size=6)


@given(documents)
def test_generated_documents_round_trip(doc: dict[str, Any]) -> None:
    assert round_trip(doc) == doc


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
async def test_generated_documents_round_trip_through_the_server(
    client: VellumClient, doc: dict[str, Any]
) -> None:
    coll = client._core.collection(client.database_name(None), "codec_round_trip")  # pyright: ignore[reportPrivateUsage]
    stored = {**doc, "_id": uuid.uuid4()}
    await coll.insert_one(stored)
    try:
        assert await coll.find_one({"_id": stored["_id"]}) == stored
    finally:
        await coll.delete_one({"_id": stored["_id"]})


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    st.one_of(
        st.none(),
        st.integers(min_value=-14 * 60, max_value=14 * 60).map(
            lambda minutes: timezone(timedelta(minutes=minutes))
        ),
    ),
)
def test_any_datetime_is_stored_at_its_utc_instant_floored_to_the_millisecond(
    naive: datetime, tz: timezone | None
) -> None:
    value = naive.replace(tzinfo=tz)
    epoch = datetime(1970, 1, 1, tzinfo=None if tz is None else timezone.utc)
    millis = (value - epoch) // timedelta(milliseconds=1)
    expected = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=millis)
    assert round_trip({"at": value})["at"] == expected


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


@given(
    st.integers(
        min_value=(datetime(1, 1, 1, tzinfo=timezone.utc) - _EPOCH) // _MS,
        max_value=(datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc) - _EPOCH) // _MS,
    )
)
def test_decoded_datetimes_are_the_exact_utc_wall_clock_time(millis: int) -> None:
    # Equality of aware datetimes compares instants only: check every field, the tzinfo and fold.
    expected = _EPOCH + millis * _MS
    got = round_trip({"at": expected})["at"]
    fields = ("year", "month", "day", "hour", "minute", "second", "microsecond", "fold")
    assert [getattr(got, f) for f in fields] == [getattr(expected, f) for f in fields]
    assert got.tzinfo is timezone.utc


def _bid_reference(bits: int) -> Decimal | None:
    """Decimal128 (IEEE 754-2008 BID) read independently: None for infinities, NaNs and
    non-canonical encodings."""
    if (bits >> 125) & 0b11 == 0b11:
        return None
    coefficient = bits & ((1 << 113) - 1)
    if coefficient > 10**34 - 1:
        return None
    exponent = ((bits >> 113) & 0x3FFF) - 6176
    digits = tuple(int(c) for c in str(coefficient))
    return Decimal((bits >> 127, digits, exponent))


def _decimal128_document(bits: int) -> bytes:
    element = b"\x13d\x00" + bits.to_bytes(16, "little")
    return (4 + len(element) + 1).to_bytes(4, "little") + element + b"\x00"


@given(
    st.one_of(
        st.integers(min_value=0, max_value=2**128 - 1),
        st.builds(
            lambda sign, exp, coef: (sign << 127) | (exp << 113) | coef,
            st.integers(0, 1),
            st.integers(0, 0x2FFF),
            st.integers(0, 10**34 - 1),
        ),
    )
)
def test_decimal128_decodes_to_its_exact_coefficient_and_exponent(bits: int) -> None:
    got = decode_bson(_decimal128_document(bits))["d"]
    assert isinstance(got, Decimal)
    expected = _bid_reference(bits)
    if expected is not None:
        # as_tuple: Decimal equality ignores the exponent (1.10 == 1.1); storage must not.
        assert got.as_tuple() == expected.as_tuple()


@given(decimals.filter(lambda d: d.is_finite()))
def test_finite_decimals_round_trip_with_their_exponent(value: Decimal) -> None:
    assert round_trip({"d": value})["d"].as_tuple() == value.as_tuple()


def test_lone_surrogates_are_refused_with_the_field_path() -> None:
    with pytest.raises(ValueOutOfRangeError, match=r"lone surrogate.*at field 'a.b'"):
        encode_bson({"a": {"b": "x\ud800"}})
    with pytest.raises(ValueOutOfRangeError, match="lone surrogate"):
        encode_bson({"\udc80": 1})


@pytest.mark.parametrize("levels", [101, 100_000])
def test_encoding_refuses_nesting_past_100_levels_without_crashing(levels: int) -> None:
    doc: dict[str, Any] = {}
    ok: dict[str, Any] = {}
    for _ in range(levels):
        doc = {"a": doc}
    with pytest.raises(ValueError, match="deeper than 100 levels"):
        encode_bson({"d": doc})
    listed: list[Any] = []
    for _ in range(levels):
        listed = [listed]
    with pytest.raises(ValueError, match="deeper than 100 levels"):
        encode_bson({"l": listed})
    for _ in range(99):
        ok = {"a": ok}
    assert decode_bson(encode_bson({"d": ok}))["d"] == ok
