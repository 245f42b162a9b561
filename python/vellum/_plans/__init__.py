"""Model plans: how the core reads and writes a model's documents without going through dicts.

Plans are derived from the model's ``__pydantic_core_schema__`` by allow-list: every schema node
is either one this module knows exactly (a plain ``str``, ``int``, ``float``, ``bool``,
``Decimal``, ``datetime``, ``UUID``, ``bytes``, ``vellum.ObjectId``, a list of one of those, a
nested model, ``X | None``, a ``Literal`` of str/int/bool values, an ``Enum`` of str/int values,
a default, and the constraints listed in ``allowlist.CHECKED``) or the model goes through
Pydantic. Anything else (validators, serializers, unions, dicts, ``RootModel``, recursive models,
unknown options on a known node, ...) means "Pydantic decides", never "assume".

Reads: a plan tells the core which BSON type each stored field must have, and which
constraints its value must meet, for a document to become a model instance without going
through Pydantic (see ``ModelPlan`` and ``checks.rs`` in the core); other documents are
validated as usual, so errors stay Pydantic's. ``validation_plan``: for every model whose
constraints the core checks with Pydantic's semantics, where that check is the whole of
validation. ``fetch_plan``: on request (``Settings.validate_on_fetch = False``, trusted fetch)
also for models with other constraints, which are then not re-checked; models the core cannot
build exactly are refused at repository creation, with the reason.

Writes: ``write_plan`` lets the core encode a model from its fields under their stored names,
which is what ``model_dump(by_alias=True)`` gives as long as nothing customises the dump
(serializers, computed fields, excluded fields, serialization aliases, extra fields,
``RootModel``). Models that do are dumped as before: this is an optimisation only, never
visible in what is stored.

Plans are kept in the model class's own ``__dict__`` (as Pydantic keeps its validator there), so
a class and its plans are collected together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, cast

from pydantic import BaseModel

from .._bridge import ModelPlan
from .._policies.polymorphism import polymorphic
from .._policies.timestamps import as_utc
from .._pydantic import OBJECTID_MARKER
from .allowlist import (
    CHECKED,
    CONFIG,
    CONFIG_CONSTRAINTS,
    HARMLESS,
    INT64,
    LIST_CONSTRAINTS,
    MAX_DEPTH,
    NEUTRAL,
    SCALARS,
    STR_CONFIG,
)

Mode = Literal["exact", "trusted", "write"]
_Spec = tuple[str, bool, Any, "dict[str, Any] | None"]
_Node = Mapping[str, Any]


class Refused(TypeError):
    """The core cannot build (or encode) this model exactly; the message says where and why."""


def fetch_plan(model: type[BaseModel]) -> ModelPlan:
    """The plan for ``model``'s trusted fetch, or TypeError saying why its documents must be
    validated."""
    try:
        return _cached(model, "trusted")
    except Refused as err:
        raise TypeError(
            f"{model.__name__}.Settings.validate_on_fetch = False cannot be used: {err}. "
            "Keep validation on fetch for this model (the default), or change that field."
        ) from None


def validation_plan(model: type[BaseModel]) -> ModelPlan | None:
    """The plan when checking the stored types and the constraints the core knows is the whole
    of ``model``'s validation. Then a document the core builds is exactly what ``model_validate``
    returns, so every repository uses it; None when the model must be validated."""
    try:
        return _cached(model, "exact")
    except Refused:
        return None


def read_plan(model: type[BaseModel]) -> ModelPlan | None:
    """How a repository reads ``model`` with validation on: the core builds the instances where
    that is exactly validation (``validation_plan``); else it decodes only the top-level keys
    validation reads, and Pydantic validates. None where validation may read any key."""
    cache = _cache_of(model)
    if "read" not in cache:
        found = validation_plan(model)
        if found is None and not polymorphic(model):  # any class's keys may be read
            keys = read_keys(model)
            found = None if keys is None else ModelPlan(model, [], keys=keys, builds=False)
        cache["read"] = found
    found = cache["read"]
    return None if isinstance(found, Refused) else found


def read_keys(model: type[BaseModel]) -> frozenset[str] | None:
    """The top-level keys ``model_validate`` reads from a document, or None when it may read any
    (extra fields kept, aliases given as paths or choices, model validators that see the raw
    document). Other stored fields need not even be decoded."""
    config = model.model_config
    if (
        config.get("extra") not in (None, "ignore")
        or model.__pydantic_decorators__.model_validators
    ):
        return None
    by_alias = config.get("validate_by_alias", True) is not False
    by_name = bool(config.get("validate_by_name") or config.get("populate_by_name"))
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        alias = field.validation_alias if field.validation_alias is not None else field.alias
        if alias is None:
            keys.add(name)
            continue
        if not isinstance(alias, str):
            return None
        if by_alias:
            keys.add(alias)
        if by_name or not by_alias:
            keys.add(name)
    return frozenset(keys)


def write_plan(model: type[BaseModel]) -> ModelPlan | None:
    """The plan to encode ``model``'s instances directly, or None where only ``model_dump``
    gives the stored document."""
    try:
        return _cached(model, "write")
    except Refused:
        return None


def _cache_of(model: type[BaseModel]) -> dict[str, ModelPlan | Refused | None]:
    """The plans kept in ``model``'s own ``__dict__`` (a subclass has its own)."""
    cache: dict[str, ModelPlan | Refused | None] | None = model.__dict__.get("__vellum_plans__")
    if cache is None:
        cache = {}
        type.__setattr__(model, "__vellum_plans__", cache)
    return cache


def _cached(model: type[BaseModel], mode: Mode) -> ModelPlan:
    cache = _cache_of(model)
    found = cache.get(mode)
    if found is None:
        try:
            found = _Planner(mode).plan(model)
        except Refused as err:
            found = err
        cache[mode] = found
    if isinstance(found, Refused):
        raise Refused(str(found))
    return found


class _Planner:
    """One walk over a model's core schema for one mode."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.definitions: dict[str, _Node] = {}
        self.open: set[str] = set()  # refs of the models being planned (recursion)
        self.done: dict[str, ModelPlan] = {}
        self.config: Mapping[str, Any] = {}  # of the model whose fields are being planned

    def plan(self, model: type[BaseModel]) -> ModelPlan:
        if polymorphic(model):
            raise Refused(
                f"{model.__name__} is in a polymorphic family: each document is built as the "
                "class it names, and stored with that name"
            )
        schema: Any = getattr(model, "__pydantic_core_schema__", None)
        if not isinstance(schema, Mapping):
            raise Refused(f"{model.__name__} has no core schema (not fully defined?)")
        return self._model(self._resolve(cast(_Node, schema), model.__name__), model.__name__, 0)

    # -- nodes ------------------------------------------------------------------------------

    def _resolve(self, node: _Node, at: str) -> _Node:
        kind = node.get("type")
        if kind == "definitions":
            for definition in node.get("definitions", ()):
                self.definitions[definition["ref"]] = definition
            return self._resolve(node["schema"], at)
        if kind == "definition-ref":
            found = self.definitions.get(node.get("schema_ref", ""))
            if found is None or set(node) - {"type", "schema_ref", "metadata"}:
                raise Refused(f"{at} refers to a schema this plan cannot resolve")
            return found
        return node

    def _model(self, node: _Node, at: str, depth: int) -> ModelPlan:
        if node.get("type") != "model":
            raise Refused(f"{at} is not a plain model")
        cls = node["cls"]
        ref = node.get("ref") or f"{cls.__module__}.{cls.__qualname__}"
        if ref in self.done:
            return self.done[ref]
        if ref in self.open:
            raise Refused(f"{at} is recursive ({cls.__name__} contains itself)")
        if depth > MAX_DEPTH:
            raise Refused(f"{at} nests models more than {MAX_DEPTH} deep")
        self._keys(
            node,
            {"cls", "schema", "config", "custom_init", "root_model", "post_init", "generic_origin"},
            at,
        )
        if node.get("root_model"):
            raise Refused(f"{at} is a RootModel (stored as its root value)")
        if node.get("custom_init"):
            raise Refused(f"{at} defines __init__")
        if self.mode == "write":
            if "serialization" in node:
                raise Refused(f"{at} has a model serializer")
        else:
            if node.get("post_init"):
                raise Refused(f"{at} defines model_post_init")
            if getattr(cls, "__private_attributes__", None):
                raise Refused(f"{at} has private attributes {sorted(cls.__private_attributes__)}")
        config: Mapping[str, Any] = node.get("config") or {}
        outer = self.config
        self._config(config, at)
        self.open.add(ref)
        self.config = config  # pydantic-core builds a model's fields with its own config
        try:
            fields = self._fields(node["schema"], at, depth)
        finally:
            self.open.discard(ref)
            self.config = outer
        # The document's own keys are selected at the top level only; nested documents are
        # decoded whole, as validation of a nested model sees them.
        keys = read_keys(cls) if depth == 0 and self.mode != "write" else None
        try:
            plan = ModelPlan(cls, fields, keys=keys)
        except (TypeError, ValueError, OverflowError) as err:  # a class or check it refuses
            raise Refused(str(err)) from None
        self.done[ref] = plan
        return plan

    def _config(self, config: Mapping[str, Any], at: str) -> None:
        for key, value in config.items():
            if self.mode == "write":
                if key == "extra_fields_behavior" and value not in (None, "ignore"):
                    raise Refused(f"{at} has extra={value!r} (extra fields are dumped too)")
                continue
            if key in CONFIG_CONSTRAINTS:  # checked with the str nodes in exact plans
                continue
            allowed = CONFIG.get(key)
            if allowed is None or not allowed(value):
                raise Refused(f"{at} sets model_config {key}={value!r}")

    def _fields(self, node: _Node, at: str, depth: int) -> list[tuple[str, str, _Spec]]:
        if node.get("type") != "model-fields":
            raise Refused(f"{at} is not a plain model")
        self._keys(
            node,
            {"fields", "model_name", "computed_fields", "extras_schema", "extra_behavior"},
            at,
        )
        if node.get("extras_schema") is not None:
            raise Refused(f"{at} types its extra fields")
        if node.get("extra_behavior") not in (None, "ignore"):
            raise Refused(f"{at} has extra={node['extra_behavior']!r}")
        if self.mode == "write" and node.get("computed_fields"):
            raise Refused(f"{at} has computed fields")
        fields: list[tuple[str, str, _Spec]] = []
        for name, field in node["fields"].items():
            where = f"{at}.{name}"
            if field.get("type") != "model-field":
                raise Refused(f"{where} is not a plain field")
            self._keys(
                field,
                {
                    "schema",
                    "validation_alias",
                    "serialization_alias",
                    "serialization_exclude",
                    "serialization_exclude_if",
                    "frozen",
                },
                where,
            )
            fields.append((self._stored_name(name, field, where), name, self._spec(
                field["schema"], where, depth
            )))  # fmt: skip
        return fields

    def _stored_name(self, name: str, field: _Node, at: str) -> str:
        if self.mode == "write":
            if field.get("serialization_exclude") or field.get("serialization_exclude_if"):
                raise Refused(f"{at} is excluded from the dump")
            alias = field.get("serialization_alias")
        else:
            alias = field.get("validation_alias")
        if alias is None:
            return name
        if not isinstance(alias, str):
            raise Refused(f"{at} has an alias path or choices ({alias!r})")
        return alias

    def _spec(self, node: _Node, at: str, depth: int) -> _Spec:
        if depth > MAX_DEPTH:
            raise Refused(f"{at} nests lists and models more than {MAX_DEPTH} deep")
        node = self._resolve(node, at)
        kind = node.get("type")
        if kind == "json-or-python" and _inner(node, "metadata").get(OBJECTID_MARKER):
            return ("objectid", False, None, None)  # its serializer applies to JSON only
        if self.mode == "write" and "serialization" in node:
            raise Refused(f"{at} has a serializer")
        if kind == "default":
            self._keys(
                node,
                {
                    "schema",
                    "default",
                    "default_factory",
                    "default_factory_takes_data",
                    "on_error",
                    "validate_default",
                    "copy_default",
                },
                at,
            )
            return self._spec(node["schema"], at, depth)
        if kind == "nullable":
            self._keys(node, {"schema"}, at)
            inner_kind, _, inner, checks = self._spec(node["schema"], at, depth)
            return (inner_kind, True, inner, checks)
        if kind == "list":
            self._keys(node, {"items_schema", "fail_fast", *self._checked(kind)}, at,
                       LIST_CONSTRAINTS)  # fmt: skip
            if "items_schema" not in node:
                raise Refused(f"{at} is a list of Any")
            item = self._spec(node["items_schema"], f"{at}[]", depth + 1)
            return ("list", False, item, self._checks(kind, node, at))
        if kind == "model":
            return ("model", False, self._model(node, at, depth + 1), None)
        if kind in SCALARS:
            stored, constraints = SCALARS[kind]
            self._keys(node, {*HARMLESS, *self._checked(kind)}, at, constraints)
            for key, harmless in HARMLESS.items():
                if key in node and not harmless(node[key]) and self.mode != "write":
                    raise Refused(f"{at} has {key}={node[key]!r}")
            return (stored, False, None, self._checks(kind, node, at))
        if kind == "literal":
            self._keys(node, {"expected"}, at)
            expected = list(node["expected"])
            for value in expected:
                _choice(value, at)
            return ("choice", False, (None, [(value, value) for value in expected]), None)
        if kind == "enum":
            return ("choice", False, self._enum(node, at), None)
        if kind == "function-after" and _is_vellum_utc(node):
            self._keys(node, {"function", "schema"}, at)
            return self._spec(node["schema"], at, depth)
        if kind in ("function-after", "function-before") and self.mode == "write":
            # A validator before or after the inner schema does not change the dump: without a
            # `serialization` of its own (refused above) the node is dumped by its inner schema.
            # (Wrap and plain validators are left to model_dump.)
            self._keys(node, {"function", "schema", "json_schema_input_schema"}, at)
            if self._resolve(node["schema"], at).get("type") == "enum":
                # `use_enum_values`: the field holds the value, which the enum's plan refuses.
                raise Refused(f"{at} holds an enum member's value")
            return self._spec(node["schema"], at, depth)
        raise Refused(f"{at} is {_describe(node)}, which the core does not build")

    def _checked(self, kind: str) -> frozenset[str]:
        """The constraint keys of a ``kind`` node this mode's plan checks (only exact plans
        check; trusted plans do not re-check, write plans need not)."""
        return CHECKED.get(kind, frozenset()) if self.mode == "exact" else frozenset()

    def _checks(self, kind: str, node: _Node, at: str) -> dict[str, Any] | None:
        """The constraints of ``node`` for the core to check, in the form ``checks.rs`` reads
        (None when there are none or this mode does not check them)."""
        if self.mode != "exact":
            return None
        found: dict[str, Any] = {}
        for key in ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length"):
            value = node.get(key)
            if value is None and kind == "str" and key in STR_CONFIG:
                value = self.config.get(STR_CONFIG[key])
            if value is None:
                continue
            if kind == "float" and type(value) in (int, float):
                try:
                    found[key] = float(value)
                except OverflowError:
                    raise Refused(f"{at} has {key}={value!r} beyond a float") from None
            elif type(value) is int and value in INT64 and (key != "multiple_of" or value > 0):
                found[key] = value  # lengths >= 0 are checked by Pydantic when it builds
            else:
                raise Refused(f"{at} has {key}={value!r}, which the core does not check")
        pattern = node.get("pattern")
        if pattern is not None:
            engine = node.get("regex_engine") or self.config.get("regex_engine") or "rust-regex"
            if isinstance(pattern, re.Pattern):
                found["search"] = cast(
                    "re.Pattern[str]", pattern
                ).search  # pydantic-core keeps a compiled pattern's flags
            elif type(pattern) is str and engine == "python-re":
                found["search"] = re.compile(pattern).search
            elif type(pattern) is str and engine == "rust-regex":
                found["pattern"] = pattern
            else:
                raise Refused(f"{at} has pattern={pattern!r} for the {engine!r} engine")
        return found or None

    def _enum(self, node: _Node, at: str) -> tuple[type, list[tuple[Any, Any]]]:
        """An enum's members by value. Strict enums accept only members, never a stored value;
        float enums compare by float, which the core does not do."""
        self._keys(node, {"cls", "members", "sub_type", "missing"}, at)
        if node.get("strict", self.config.get("strict")):
            raise Refused(f"{at} is a strict enum (only members validate, never stored values)")
        if node.get("sub_type") not in (None, "str", "int"):
            raise Refused(f"{at} is a {node['sub_type']} enum")
        pairs: list[tuple[Any, Any]] = []
        for member in node["members"]:
            value = member.value
            if type(value) is bool:
                raise Refused(f"{at} has a member with the bool value {value!r}")
            _choice(value, at)
            pairs.append((value, member))
        return (node["cls"], pairs)

    def _keys(
        self, node: _Node, allowed: set[str], at: str, constraints: frozenset[str] = frozenset()
    ) -> None:
        """Refuses a node with a key outside ``allowed`` (and the neutral ones); constraint keys
        only where the mode does not check them."""
        for key in node:
            if key in NEUTRAL or key in allowed:
                continue
            if key in constraints and self.mode != "exact":
                continue
            if key == "serialization" and self.mode != "write":
                continue
            raise Refused(f"{at} has {key}={node[key]!r}")


def _choice(value: Any, at: str) -> None:
    """Refuses a Literal value or enum value the core cannot look up by its exact type."""
    if type(value) not in (str, int, bool) or (type(value) is int and value not in INT64):
        raise Refused(f"{at} has the choice {value!r}, which the core does not look up")


def _inner(node: _Node, key: str) -> Mapping[str, Any]:
    found: Any = node.get(key)
    return cast("Mapping[str, Any]", found) if isinstance(found, Mapping) else {}


def _describe(node: _Node) -> str:
    kind = str(node.get("type"))
    if kind.startswith("function-"):
        function = _inner(node, "function").get("function")
        return f"checked by the validator {getattr(function, '__name__', function)!r}"
    if kind in ("union", "tagged-union"):
        return "a union (of unions, only `X | None` is planned)"
    return f"a {kind} schema"


def _is_vellum_utc(node: _Node) -> bool:
    """The repository timestamps' validator: a UTC datetime (as the core decodes one) comes out
    equal, and it does not change the dump."""
    return _inner(node, "function").get("function") is as_utc
