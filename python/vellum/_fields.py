"""What a model's field annotations say, for queries: the members of an optional or a union,
the element type of a list, the model nested under a field, stored names and BSON type
aliases."""

from __future__ import annotations

import types
import typing
from datetime import datetime
from decimal import Decimal
from typing import Any, Union
from uuid import UUID

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ._bridge import ObjectId

TYPE_ALIASES: dict[type, list[str]] = {
    bool: ["bool"],
    int: ["int", "long"],
    float: ["double"],
    str: ["string"],
    dict: ["object"],
    list: ["array"],
    bytes: ["binData"],
    datetime: ["date"],
    Decimal: ["decimal"],
    UUID: ["binData"],
    ObjectId: ["objectId"],
    type(None): ["null"],
}


def strip_optional(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Annotated:
        return strip_optional(typing.get_args(annotation)[0])
    return [annotation]


def list_element(annotation: Any) -> Any | None:
    """The element type if ``annotation`` is a list/tuple/set type (possibly optional)."""
    for option in strip_optional(annotation):
        origin = typing.get_origin(option)
        if origin in (list, tuple, set, frozenset) or option in (list, tuple, set, frozenset):
            args = typing.get_args(option)
            return args[0] if args else Any
    return None


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model whose fields lie under this field: a sub-model, a list of them, an Optional."""
    element = list_element(annotation)
    candidates = strip_optional(element if element is not None else annotation)
    for option in candidates:
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
    return None


def resolve(model: type[BaseModel], name: str, owner: str) -> tuple[str, Any, FieldInfo]:
    """(stored name, annotation, FieldInfo) of ``model``'s field ``name``."""
    fields = model.model_fields
    info = fields.get(name)
    if info is None:
        by_alias = {f.alias: n for n, f in fields.items() if f.alias}
        if name in by_alias:
            info = fields[by_alias[name]]
        else:
            what = owner if owner == model.__name__ else f"{owner} ({model.__name__})"
            raise AttributeError(f"{what} has no field {name!r}; its fields are {sorted(fields)}")
    return (info.alias or name), info.annotation, info


def stored_names(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]
