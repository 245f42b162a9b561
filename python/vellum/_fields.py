"""What a model's field annotations say, for queries: the members of an optional or a union,
the element type of a list, the model nested under a field, stored names and BSON type
aliases."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Union
from uuid import UUID

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ._bridge import ObjectId
from .links import AsDBRef, Link

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


Lookup = tuple[str, str, str, dict[str, Any] | None]
"""A ``$lookup`` a filter across a link needs: (collection, local path, as name, the target's
scope filter or None); compiled by the core (``QueryExpr.lookup_pipeline``)."""


class LinkField:
    """What a ``Link[T]`` field (or a list of them) refers to."""

    __slots__ = ("dbref", "target")

    def __init__(self, target: type[Any], dbref: bool) -> None:
        self.target = target
        self.dbref = dbref

    def id_path(self, path: str) -> str:
        """Where the target's id is stored under the field's ``path``."""
        return f"{path}.$id" if self.dbref else path

    def lookup(self, path: str) -> Lookup:
        """The ``$lookup`` that brings the linked documents next to the field at ``path``."""
        settings = self.target.__vellum_settings__
        scope = settings.policies.scope({}, False)
        # One name per path and no two paths alike: "_" doubled, then "." as "_".
        as_name = "_vellum_" + path.replace("_", "__").replace(".", "_")
        return (settings.collection_name, self.id_path(path), as_name, dict(scope) or None)


def link_of(annotation: Any, metadata: Sequence[Any] = ()) -> LinkField | None:
    """The link a field's annotation declares (``Link[T]``, optional, in a list), or None.
    ``metadata`` is the field's own (Pydantic keeps a top-level ``Annotated[Link[T],
    AsDBRef()]`` as ``Link[T]`` with ``AsDBRef()`` in ``FieldInfo.metadata``)."""
    annotation, outer = _annotated(annotation)
    outer = (*metadata, *outer)
    element = list_element(annotation)
    if element is not None:
        annotation, outer = _annotated(element)
    for option in strip_optional(annotation):
        option, metadata = _annotated(option)
        if typing.get_origin(option) is Link:
            dbref = any(isinstance(m, AsDBRef) for m in (*outer, *metadata))
            return LinkField(typing.get_args(option)[0], dbref)
    return None


def _annotated(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """``Annotated[X, ...]`` as X and its metadata (nested ones merged)."""
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *metadata = typing.get_args(annotation)
        found, more = _annotated(inner)
        return found, (*metadata, *more)
    return annotation, ()


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
