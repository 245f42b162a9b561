from __future__ import annotations

import copy
import pickle
from datetime import datetime, timezone

import pytest
from pydantic import BaseModel, ValidationError

from vellum import ObjectId


class Holder(BaseModel):
    oid: ObjectId
    maybe: ObjectId | None = None


def test_generate_parse_and_compare() -> None:
    a, b = ObjectId(), ObjectId()
    assert a != b and a < b  # the counter increases within a process
    assert ObjectId(str(a)) == a and ObjectId(a.binary) == a and ObjectId(a) == a
    assert hash(ObjectId(str(a))) == hash(a)
    assert len({a, ObjectId(str(a)), b}) == 2
    assert repr(a) == f"ObjectId('{a}')" and len(str(a)) == 24
    assert sorted([b, a]) == [a, b]


def test_generation_time_is_aware_utc() -> None:
    oid = ObjectId()
    now = datetime.now(timezone.utc)
    assert oid.generation_time.tzinfo is not None
    assert abs((now - oid.generation_time).total_seconds()) < 5


def test_pickle_and_copy() -> None:
    oid = ObjectId()
    assert pickle.loads(pickle.dumps(oid)) == oid
    assert copy.deepcopy(oid) == oid


def test_pydantic_field() -> None:
    oid = ObjectId()
    assert Holder(oid=oid).oid == oid
    assert Holder.model_validate({"oid": str(oid)}).oid == oid
    assert Holder.model_validate({"oid": oid.binary}).oid == oid
    assert Holder(oid=oid).model_dump(mode="json") == {"oid": str(oid), "maybe": None}
    assert Holder(oid=oid).model_dump()["oid"] is oid
    assert Holder.model_validate_json(f'{{"oid": "{oid}"}}').oid == oid
    with pytest.raises(ValidationError, match="24 hexadecimal"):
        Holder.model_validate({"oid": "bad"})
    with pytest.raises(ValidationError):
        Holder.model_validate({"oid": 12})
    schema = Holder.model_json_schema()
    assert schema["properties"]["oid"]["type"] == "string"
