from __future__ import annotations

import copy
import pickle
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel, ValidationError

from models import Tagged
from vellum import (
    ObjectId,
    VellumBaseModel,
    VellumClient,
    VellumRepository,
    decode_bson,
    encode_bson,
)


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


def test_json_schema_in_both_modes() -> None:
    # FastAPI asks for both: request bodies validate, responses serialise.
    for mode in ("validation", "serialization"):
        schema = Holder.model_json_schema(mode=mode)
        assert schema["properties"]["oid"] == {
            "title": "Oid",
            "type": "string",
            "pattern": "^[0-9a-fA-F]{24}$",
        }


def test_document_base_of_objectid_ids() -> None:
    class Author(VellumBaseModel[ObjectId]):
        name: str

    made = Author(name="x")
    assert isinstance(made.id, ObjectId) and made.id != Author(name="y").id
    assert Author.model_validate({"_id": str(made.id), "name": "x"}).id == made.id
    assert VellumBaseModel[UUID] is VellumBaseModel
    assert VellumBaseModel[Any] is VellumBaseModel  # a run-time annotation of any document
    with pytest.raises(TypeError, match="is not a document base"):
        Author[ObjectId]

    class Keyed(VellumBaseModel[str]):  # nothing generates a str id: it is required
        name: str

    assert Keyed(id="k1", name="x").id == "k1" and VellumBaseModel[str] is Keyed.__mro__[1]
    with pytest.raises(ValidationError, match="_id"):
        Keyed(name="x")


class TestPymongoObjectId:
    """``bson.ObjectId`` (pymongo's; Beanie's ``PydanticObjectId`` subclasses it) is the same id."""

    bson = pytest.importorskip("bson")

    def test_equal_hash_and_order(self) -> None:
        theirs = self.bson.ObjectId()
        ours = ObjectId(theirs)
        assert ours == theirs and theirs == ours and (ours != theirs) is False  # __ne__ too
        assert hash(ours) == hash(theirs) and len({ours, theirs}) == 1
        assert {theirs: 1}[ours] == 1
        later = self.bson.ObjectId()
        assert ours < later and ObjectId(later) > theirs
        assert ours != self.bson.ObjectId() and ours != str(ours)

    def test_subclasses_are_recognised(self) -> None:
        class PydanticObjectId(self.bson.ObjectId):  # the shape of Beanie's
            pass

        theirs = PydanticObjectId()
        assert ObjectId(theirs) == theirs and ObjectId.is_valid(theirs)
        assert Holder(oid=theirs).oid == ObjectId(str(theirs))
        assert type(Holder(oid=theirs).oid) is ObjectId

    def test_lookalikes_are_not(self) -> None:
        class ObjectIdLike:  # same name, another module: not recognised
            binary = b"x" * 12

        ObjectIdLike.__name__ = ObjectIdLike.__qualname__ = "ObjectId"
        with pytest.raises(TypeError, match="cannot make an ObjectId"):
            ObjectId(ObjectIdLike())
        with pytest.raises(ValidationError, match="ObjectId expected"):
            Holder(oid=ObjectIdLike())

    def test_encodes_as_an_objectid(self) -> None:
        theirs = self.bson.ObjectId()
        assert decode_bson(encode_bson({"a": theirs, "b": [theirs]})) == {
            "a": ObjectId(theirs),
            "b": [ObjectId(theirs)],
        }


async def test_pymongo_objectids_in_ids_queries_and_raw_filters(
    client: VellumClient, db_name: str
) -> None:
    bson = pytest.importorskip("bson")
    tags = VellumRepository(Tagged, client, db_name)
    made = await tags.create(Tagged(label="x"))
    theirs = bson.ObjectId(made.id.binary)
    assert await tags.get(theirs) == made
    assert await tags.find_one(Tagged.Q.id == theirs) == made
    assert await tags.find_one({"_id": theirs}) == made
    assert await tags.find_one({"_id": {"$in": [theirs]}}) == made
    assert await tags.count(Tagged.Q.id.in_([theirs])) == 1
    assert (await tags.create(Tagged(id=bson.ObjectId(), label="y"))).label == "y"
