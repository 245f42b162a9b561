"""Model plans: how the core reads and writes a model's documents without going through dicts.

Reads: a plan tells the core which BSON type each stored field must have for a document to
become a model instance without going through Pydantic (see ``ModelPlan`` in the core); other
documents are validated as usual. ``validation_plan``: for every model without constraints,
where that check is the whole of validation. ``fetch_plan``: on request
(``Settings.validate_on_fetch = False``, trusted fetch) also for models with constraints, which
are then not re-checked; models the core cannot build exactly are refused at repository
creation, with the reason.

Writes: the core encodes a model from its fields under their stored names, which is what
``model_dump(by_alias=True)`` would give, as long as nothing customises the dump (serializers,
computed fields, excluded fields, serialization aliases, extra fields). Models that do are
dumped as before; this is an optimisation only, never visible in what is stored.
"""

from __future__ import annotations

import functools
import types
import typing
from datetime import datetime
from decimal import Decimal
from typing import Any, Union, get_args, get_origin
from uuid import UUID

import annotated_types
from pydantic import BaseModel

from . import _core  # pyright: ignore[reportPrivateUsage]

_SCALARS: dict[Any, str] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    Decimal: "decimal",
    datetime: "datetime",
    UUID: "uuid",
    _core.ObjectId: "objectid",
    bytes: "bytes",
}

_Spec = tuple[str, bool, Any]


class _Refused(TypeError):
    pass


def fetch_plan(model: type[BaseModel]) -> _core.ModelPlan:
    """The plan for ``model``, or TypeError saying why its documents must be validated."""
    try:
        return _plan(model, model.__name__, writes=False)
    except _Refused as err:
        raise TypeError(
            f"{model.__name__}.Settings.validate_on_fetch = False cannot be used: {err}. "
            "Keep validation on fetch for this model (the default), or change that field."
        ) from None


@functools.lru_cache(maxsize=512)
def validation_plan(model: type[BaseModel]) -> _core.ModelPlan | None:
    """The plan when checking the stored types is the whole of ``model``'s validation: no
    constraints anywhere (besides what ``fetch_plan`` requires). Then a document the core
    builds is exactly what ``model_validate`` returns, so every repository uses it; None when
    the model has constraints."""
    try:
        return _plan(model, model.__name__, writes=False, exact=True)
    except _Refused:
        return None


def write_plan(model: type[BaseModel]) -> _core.ModelPlan | None:
    """The plan to encode ``model``'s instances directly, or None where only ``model_dump``
    gives the stored document."""
    try:
        return _plan(model, model.__name__, writes=True)
    except _Refused:
        return None


def _plan(
    model: type[BaseModel], where: str, *, writes: bool, exact: bool = False
) -> _core.ModelPlan:
    extra = model.model_config.get("extra")
    if extra not in (None, "ignore"):
        raise _Refused(f"{where} has model_config extra={extra!r} (only 'ignore' is supported)")
    if writes:
        _check_dump(model, where)
    else:
        _check_validation(model, where)
    fields: list[tuple[str, str, _Spec]] = []
    for name, field in model.model_fields.items():
        at = f"{where}.{name}"
        excluded = field.exclude or getattr(field, "exclude_if", None) is not None
        if writes and (excluded or field.serialization_alias not in (None, field.alias)):
            raise _Refused(f"{at} is excluded or dumped under another name")
        if not writes and field.validation_alias not in (None, field.alias):
            raise _Refused(f"{at} has a validation_alias")
        for item in field.metadata:
            # Constraints (ge, max_length...) are not re-checked on the trusted path; anything
            # else (validators, serializers, strictness, other types) could change the value.
            if exact or not isinstance(item, annotated_types.BaseMetadata):
                raise _Refused(f"{at} has {item!r}")
        fields.append((field.alias or name, name, _spec(field.annotation, at, writes, exact)))
    try:
        return _core.ModelPlan(model, fields)
    except TypeError as err:  # the core refuses classes it cannot instantiate itself
        raise _Refused(str(err)) from None


def _check_dump(model: type[BaseModel], where: str) -> None:
    decorators = model.__pydantic_decorators__
    if decorators.computed_fields or decorators.field_serializers or decorators.model_serializers:
        raise _Refused(f"{where} customises its dump")


def _check_validation(model: type[BaseModel], where: str) -> None:
    config = model.model_config
    for option in ("str_strip_whitespace", "str_to_lower", "str_to_upper"):
        if config.get(option):
            raise _Refused(f"{where} sets model_config {option}, which changes stored strings")
    for option in ("allow_inf_nan", "str_max_length", "str_min_length"):
        if option in config:
            raise _Refused(f"{where} sets model_config {option}")
    if model.__private_attributes__:
        raise _Refused(f"{where} has private attributes {sorted(model.__private_attributes__)}")
    if model.__pydantic_post_init__ is not None:
        raise _Refused(f"{where} defines model_post_init")
    decorators = model.__pydantic_decorators__
    if decorators.model_validators:
        raise _Refused(f"{where} has model validators {sorted(decorators.model_validators)}")
    own = _vellum_validators()
    for name, decorator in decorators.field_validators.items():
        if own.get(name) is not _unbound(decorator.func):
            raise _Refused(f"{where} has the field validator {name!r}")


def _spec(annotation: Any, at: str, writes: bool, exact: bool = False) -> _Spec:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1 and len(get_args(annotation)) == 2:
            kind, _, inner = _spec(members[0], at, writes, exact)
            return (kind, True, inner)
        raise _Refused(f"{at} is a union {annotation!r} (only `X | None` is supported)")
    if origin is list:
        (item,) = get_args(annotation) or (Any,)
        return ("list", False, _spec(item, f"{at}[]", writes, exact))
    if origin is typing.Annotated:
        raise _Refused(f"{at} has annotated items {annotation!r}")
    kind = _SCALARS.get(annotation)
    if kind is not None:
        return (kind, False, None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("model", False, _plan(annotation, annotation.__name__, writes=writes, exact=exact))
    raise _Refused(f"{at} has type {annotation!r}, which this path does not build")


def _vellum_validators() -> dict[str, Any]:
    from .model import VellumBaseModel

    return {
        name: _unbound(decorator.func)
        for name, decorator in VellumBaseModel.__pydantic_decorators__.field_validators.items()
    }


def _unbound(func: Any) -> Any:
    # Pydantic rebinds a classmethod validator to every subclass: compare the function itself.
    return getattr(func, "__func__", func)
