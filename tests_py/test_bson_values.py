"""Every BSON value a document can hold survives a read and a write, or fails with an error that
names the document and the field (never a bare ValueError that aborts a whole find)."""

from __future__ import annotations

import pickle
import re
from typing import Any
from uuid import uuid4

import pytest
from pydantic import BaseModel, ValidationError

from vellum import Regex, VellumBaseModel, VellumClient, VellumRepository, decode_bson, encode_bson


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
