"""Typed query fields of library: written by `vellum typegen library`; do not edit.

`vellum typegen library --check` fails when the models have changed since.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, cast
from uuid import UUID

from typing_extensions import NotRequired, TypedDict, TypeVar
from vellum import ObjectId
from vellum.geo import Point
from vellum.typed import Field, Fields, GeoField, ListField, NumberField, OrderedField, StrField

from library import Address, Author, Book, Genre, Order

M = TypeVar("M")
"""The root model of an embedded model's fields."""


class AuthorFields(Fields[Author]):
    """The fields of Author, as AuthorQ types them."""

    id: OrderedField[Author, UUID]
    created_at: OrderedField[Author, datetime | None]
    updated_at: OrderedField[Author, datetime | None]
    name: StrField[Author, str]
    born: NumberField[Author, int | None]


class AuthorChanges(TypedDict, total=False):
    """What update(id, {...}) may set on Author documents."""

    name: str
    born: int | None


class AuthorData(TypedDict):
    """A new Author as create({...}) takes it (by field name)."""

    id: NotRequired[UUID]
    name: str
    born: NotRequired[int | None]


AuthorQ = cast("AuthorFields", Author.Q)


class AddressFields(Fields[M]):
    """The fields of an embedded Address."""

    city: StrField[M, str]
    zip: StrField[M, str]


class OrderFields(Fields[M]):
    """The fields of an embedded Order."""

    sku: StrField[M, str]
    qty: NumberField[M, int]
    price: NumberField[M, Decimal]


class OrderListFields(ListField[M, Order], OrderFields[M]):
    """A list of Order: list operators, and its fields."""


class BookFields(Fields[Book]):
    """The fields of Book, as BookQ types them."""

    id: OrderedField[Book, ObjectId]
    created_at: OrderedField[Book, datetime | None]
    updated_at: OrderedField[Book, datetime | None]
    title: StrField[Book, str]
    year: NumberField[Book, int]
    price: NumberField[Book, Decimal]
    tags: ListField[Book, str]
    genre: Field[Book, Genre]
    kind: Field[Book, Literal["paper", "ebook"]]
    shop: AddressFields[Book]
    orders: OrderListFields[Book]
    isbn: StrField[Book, str]
    author: Field[Book, Any]
    pages: NumberField[Book, int]
    shop_at: GeoField[Book, Point | None]


class BookChanges(TypedDict, total=False):
    """What update(id, {...}) may set on Book documents."""

    title: str
    year: int
    price: Decimal
    tags: list[str]
    genre: Genre
    kind: Literal["paper", "ebook"]
    shop: Address | None
    orders: list[Order]
    isbn: str
    author: Any
    pages: int
    shop_at: Point | None


class BookData(TypedDict):
    """A new Book as create({...}) takes it (by field name)."""

    id: NotRequired[ObjectId]
    title: str
    year: int
    price: NotRequired[Decimal]
    tags: NotRequired[list[str]]
    genre: NotRequired[Genre]
    kind: NotRequired[Literal["paper", "ebook"]]
    shop: NotRequired[Address | None]
    orders: NotRequired[list[Order]]
    isbn: NotRequired[str]
    author: NotRequired[Any]
    pages: NotRequired[int]
    shop_at: NotRequired[Point | None]


BookQ = cast("BookFields", Book.Q)
