"""The codec against MongoDB's published BSON corpus (tests_py/bson_corpus/, see its README).

- every valid case decodes, and re-encodes byte for byte, except where Python's value cannot
  carry the BSON type (listed in NOT_BYTE_FOR_BYTE with the reason);
- every decodeErrors case is refused with an exception, never a crash;
- every Decimal128 parseErrors string that Python's Decimal accepts is refused by the encoder or
  stored exactly (Python's parser is more lenient: " 1" is Decimal("1")), never rounded."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest

from vellum import ValueOutOfRangeError, decode_bson, encode_bson

CORPUS = Path(__file__).with_name("bson_corpus")
FILES = sorted(CORPUS.glob("*.json"))


_INT32 = "an int64 that fits in int32 is a Python int, written back as int32"
_SYMBOL = "a symbol is read as str and written back as a string (symbols are deprecated)"
_UNDEFINED = "undefined is read as None and written back as null (undefined is deprecated)"
# (file, case) -> why its re-encoding is not the stored bytes: each is a place where Python has
# one type for several BSON types. The decoded value is exact all the same.
NOT_BYTE_FOR_BYTE: dict[tuple[str, str], str] = {
    ("int64", "-1"): _INT32,
    ("int64", "0"): _INT32,
    ("int64", "1"): _INT32,
    ("multi-type", "All BSON types"): _INT32,
    ("multi-type-deprecated", "All BSON types"): f"{_INT32}; {_SYMBOL}; {_UNDEFINED}",
    **{
        ("symbol", case): _SYMBOL
        for case in (
            "Empty string",
            "Single character",
            "Multi-character",
            "two-byte UTF-8 (\u00e9)",
            "three-byte UTF-8 (\u2606)",
            "Embedded nulls",
        )
    },
    ("undefined", "Undefined"): _UNDEFINED,
}


def _cases(kind: str) -> list[Any]:
    found: list[Any] = []
    for path in FILES:
        spec = json.loads(path.read_text())
        for case in spec.get(kind, ()):
            case["file"] = path.stem
            found.append(pytest.param(spec, case, id=f"{path.stem}: {case['description']}"))
    return found


@pytest.mark.parametrize(("spec", "case"), _cases("valid"))
def test_valid_cases_decode_and_re_encode(spec: dict[str, Any], case: dict[str, Any]) -> None:
    canonical = bytes.fromhex(case["canonical_bson"])
    decoded = decode_bson(canonical)
    encoded = encode_bson(decoded)
    if case.get("lossy"):
        return  # the corpus says the value need not round-trip (NaN payloads, invalid Decimal128)
    reason = NOT_BYTE_FOR_BYTE.get((case["file"], case["description"]))
    if reason is None:
        assert encoded.hex().upper() == case["canonical_bson"].upper()
    else:
        # Not the same bytes, but the same values: decoding the re-encoding gives them again.
        assert repr(decode_bson(encoded)) == repr(decoded), reason
    if "degenerate_bson" in case:
        assert repr(decode_bson(bytes.fromhex(case["degenerate_bson"]))) == repr(decoded)


@pytest.mark.parametrize(("spec", "case"), _cases("decodeErrors"))
def test_decode_errors_are_refused(spec: dict[str, Any], case: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own fault
        decode_bson(bytes.fromhex(case["bson"]))


def _decimal_parse_errors() -> list[Any]:
    return [p for p in _cases("parseErrors") if p.values[0]["bson_type"] == "0x13"]


@pytest.mark.parametrize(("spec", "case"), _decimal_parse_errors())
def test_decimal128_parse_errors_are_never_rounded(
    spec: dict[str, Any], case: dict[str, Any]
) -> None:
    try:
        value = Decimal(case["string"])
    except InvalidOperation:
        return  # Python refuses it too: nothing could reach the encoder
    try:
        stored = decode_bson(encode_bson({"d": value}))["d"]
    except ValueOutOfRangeError:
        return
    if value.is_nan():  # every NaN is stored as NaN (Decimal128 keeps no payload)
        assert stored.is_nan() and stored.is_signed() == value.is_signed()
    else:
        assert stored.as_tuple() == value.as_tuple()


def test_the_corpus_is_there() -> None:
    assert len(FILES) >= 30
    assert len(_cases("valid")) > 300 and len(_decimal_parse_errors()) > 50
