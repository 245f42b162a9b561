"""Models of the typed-query tests: `vellum typegen library` writes library_q.py from them."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Literal

from pydantic import BaseModel, Field

from vellum import Link, ObjectId, VellumBaseModel
from vellum.geo import Point


class Genre(str, Enum):
    SF = "sf"
    CRIME = "crime"


class Address(BaseModel):
    city: str
    zip: str


class Order(BaseModel):
    sku: str
    qty: int
    price: Decimal


class Author(VellumBaseModel):
    name: str
    born: int | None = None

    class Settings:
        collection_name = "library_authors"


class Book(VellumBaseModel[ObjectId]):
    title: str
    year: int = Field(ge=0)
    price: Decimal = Decimal("0")
    tags: list[str] = []
    genre: Genre = Genre.SF
    kind: Literal["paper", "ebook"] = "paper"
    shop: Address | None = None
    orders: list[Order] = []
    isbn: str = Field(default="", alias="ISBN")
    author: Link[Author] | None = None
    pages: int = 0
    shop_at: Point | None = None

    class Settings:
        collection_name = "library_books"
