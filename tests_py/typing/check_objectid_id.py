"""Documents with ObjectId ids: typed as such, with no override for pyright to refuse."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from vellum import ObjectId, VellumBaseModel, VellumRepository


class Author(VellumBaseModel[ObjectId]):
    name: str


class Explicit(VellumBaseModel[ObjectId]):
    # Spelling the field out is the same type, so no incompatible override either.
    id: ObjectId = Field(default_factory=ObjectId, alias="_id")


class Note(VellumBaseModel):
    text: str


class Keyed(VellumBaseModel[str]):
    name: str


def key(keyed: Keyed) -> str:
    return keyed.id


def ids(author: Author, explicit: Explicit, note: Note) -> tuple[ObjectId, ObjectId, UUID]:
    return author.id, explicit.id, note.id


def any_model(model: type[VellumBaseModel[Any]]) -> str:
    return model.__vellum_settings__.collection_name


async def fetch(authors: VellumRepository[Author], oid: ObjectId) -> Author | None:
    any_model(Author)
    any_model(Note)
    return await authors.get(oid)
