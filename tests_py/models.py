"""Models shared by the tests (the README's quickstart model among them)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from vellum import Index, ObjectId, VellumBaseModel


class Address(BaseModel):
    city: str
    zip: str


class User(VellumBaseModel):
    name: str
    email: str
    age: int = Field(default=0, ge=0)
    balance: Decimal = Decimal("0")
    address: Address | None = None
    tags: list[str] = []
    manager: ObjectId | None = None

    class Settings:
        collection_name = "users"
        indexes = [Index("email", unique=True), Index([("age", -1), ("name", 1)])]


class Tagged(VellumBaseModel):
    """Stored with an ObjectId _id instead of a UUID."""

    id: ObjectId = Field(default_factory=ObjectId, alias="_id")
    label: str
