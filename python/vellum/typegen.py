"""``vellum typegen``: writes a module of typed query fields for the models of a module.

Pyright has no plugins, and Python's types cannot list a class's fields, so ``Model.Q`` (one
class for every model) cannot tell pyright which fields a model has or what type each holds.
This generator can: for ``app/models.py`` it writes ``app/models_q.py`` with, for each
``VellumBaseModel`` there, a class declaring the model's fields with the classes of
:mod:`vellum.typed`, and ``BookQ``, the model's own ``Book.Q`` given that type:

    from app.models_q import BookQ
    await books.find((BookQ.year > 2000) & BookQ.tags.contains("sf"))

and a ``TypedDict`` of the fields an ``update(id, {...})`` may set (``BookChanges``). Nothing
changes at run time (``BookQ is Book.Q``), and models are declared as before. ``--check`` fails
when the file is not what the models give now, for CI.
"""

from __future__ import annotations

import datetime as dt
import enum
import importlib
import json
import sys
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ._bridge import ObjectId
from ._fields import link_of, list_element, strip_optional
from .model import VellumBaseModel
from .query import QField

__all__ = ["TypegenError", "check", "generate", "output_path", "write"]

MAX_DEPTH = 10
"""How deep embedded models are followed (a deeper one is typed as Any)."""

_MANAGED = frozenset({"id", "created_at", "updated_at", "version", "deleted_at", "schema_version"})
"""Fields the repository manages, which ``update()`` refuses."""

# Names QField itself has: a model field of that name is reached as Q["name"], not Q.name.
_TAKEN = frozenset(name for name in dir(QField) if not name.startswith("_"))

_NUMBERS = (int, float, Decimal)
_ORDERED = (dt.datetime, dt.date, UUID, ObjectId, bytes)


_M_DOC = "The root model of an embedded model's fields."


class TypegenError(Exception):
    """The module cannot be typed: it cannot be imported, or holds no documents."""


@dataclass
class _Writer:
    module: str
    imports: dict[str, set[str]] = field(default_factory=dict[str, set[str]])
    # The generated class of each embedded model, as itself or as a list of it.
    classes: dict[tuple[type[BaseModel], bool], str] = field(
        default_factory=dict[tuple[type[BaseModel], bool], str]
    )
    blocks: list[str] = field(default_factory=list[str])

    def use(self, module: str, name: str) -> str:
        self.imports.setdefault(module, set()).add(name)
        return name

    # -- value types as source ------------------------------------------------------------

    def value_type(self, annotation: Any) -> str:
        """``annotation`` as a type expression, or Any where it cannot be written exactly."""
        options = strip_optional(annotation)
        optional = _optional(annotation)
        if len(options) != 1:
            return self.use("typing", "Any")
        written = self._single(options[0])
        return f"{written} | None" if optional and written != "Any" else written

    def _single(self, annotation: Any) -> str:
        if typing.get_origin(annotation) is typing.Annotated:
            return self.value_type(typing.get_args(annotation)[0])
        if annotation in (str, int, float, bool, bytes):
            return annotation.__name__
        if annotation is Decimal:
            return self.use("decimal", "Decimal")
        if annotation in (dt.datetime, dt.date):
            return self.use("datetime", annotation.__name__)
        if annotation is UUID:
            return self.use("uuid", "UUID")
        if annotation is ObjectId:
            return self.use("vellum", "ObjectId")
        if typing.get_origin(annotation) is Literal:
            values = typing.get_args(annotation)
            if all(isinstance(v, (str, int, bool)) for v in values):
                self.use("typing", "Literal")
                return f"Literal[{', '.join(_literal(v) for v in values)}]"
        if isinstance(annotation, type) and issubclass(annotation, (enum.Enum, BaseModel)):
            module = "vellum.geo" if _is_geometry(annotation) else annotation.__module__
            return self.use(module, annotation.__qualname__)
        element = list_element(annotation)
        if element is not None and typing.get_origin(annotation) is list:
            return f"list[{self.value_type(element)}]"
        return self.use("typing", "Any")

    # -- fields ---------------------------------------------------------------------------

    def field_type(self, annotation: Any, owner: str, depth: int) -> str:
        """The typed-field class of a field of this annotation, for a root model ``owner``
        (``M`` inside generic classes of embedded models)."""
        if link_of(annotation) is not None:
            return f"{self.use('vellum.typed', 'Field')}[{owner}, {self.use('typing', 'Any')}]"
        options = strip_optional(annotation)
        element = list_element(annotation)
        if element is not None:
            nested = _model_of(element)
            if nested is not None and depth < MAX_DEPTH:
                return f"{self.model_fields(nested, depth + 1, listed=True)}[{owner}]"
            list_field = self.use("vellum.typed", "ListField")
            return f"{list_field}[{owner}, {self.value_type(element)}]"
        if len(options) == 1 and _is_geometry(options[0]):
            geo = self.use("vellum.typed", "GeoField")
            return f"{geo}[{owner}, {self.value_type(annotation)}]"
        if len(options) == 1:
            nested = _model_of(options[0])
            if nested is not None and depth < MAX_DEPTH:
                return f"{self.model_fields(nested, depth + 1, listed=False)}[{owner}]"
        value = self.value_type(annotation)
        kind = _kind(options[0]) if len(options) == 1 else "Field"
        return f"{self.use('vellum.typed', kind)}[{owner}, {value}]"

    def model_fields(self, model: type[BaseModel], depth: int, *, listed: bool) -> str:
        """The generic class of an embedded model's fields (``M`` is the root model)."""
        name = f"{model.__name__}{'List' if listed else ''}Fields"
        key = (model, listed)
        if key in self.classes:
            return self.classes[key]
        self.classes[key] = name
        if listed:
            inner = self.model_fields(model, depth, listed=False)
            value = self._single(model)
            list_field = self.use("vellum.typed", "ListField")
            self.blocks.append(
                f"class {name}({list_field}[M, {value}], {inner}[M]):\n"
                f'    """A list of {model.__name__}: list operators, and its fields."""\n'
            )
            return name
        lines = self.attributes(model, "M", depth)
        fields_base = self.use("vellum.typed", "Fields")
        self.blocks.append(
            f"class {name}({fields_base}[M]):\n"
            f'    """The fields of an embedded {model.__name__}."""\n\n' + "\n".join(lines) + "\n"
        )
        return name

    def attributes(self, model: type[BaseModel], owner: str, depth: int) -> list[str]:
        lines: list[str] = []
        for name, info in model.model_fields.items():
            if name in _TAKEN:
                lines.append(f"    # {name}: a method of Q has this name; reach it as Q[{name!r}]")
                continue
            lines.append(f"    {name}: {self.field_type(_declared(info), owner, depth)}")
        return lines or ["    pass"]

    def root(self, model: type[VellumBaseModel[Any]]) -> None:
        name = model.__name__
        self.use(model.__module__, name)
        lines = self.attributes(model, name, 0)
        fields_base = self.use("vellum.typed", "Fields")
        self.blocks.append(
            f"class {name}Fields({fields_base}[{name}]):\n"
            f'    """The fields of {name}, as {name}Q types them."""\n\n' + "\n".join(lines) + "\n"
        )
        changes = [
            f"    {key}: {self.value_type(_declared(info))}"
            for key, info in model.model_fields.items()
            if key not in _MANAGED and not info.exclude
        ]
        typed_dict = self.use("typing_extensions", "TypedDict")
        self.blocks.append(
            f"class {name}Changes({typed_dict}, total=False):\n"
            f'    """What update(id, {{...}}) may set on {name} documents."""\n\n'
            + "\n".join(changes or ["    pass"])
            + "\n"
        )
        data: list[str] = []
        for key, info in model.model_fields.items():
            if info.exclude or (key in _MANAGED and key != "id"):
                continue
            value = self.value_type(_declared(info))
            if not info.is_required():
                value = f"{self.use('typing_extensions', 'NotRequired')}[{value}]"
            data.append(f"    {key}: {value}")
        self.blocks.append(
            f"class {name}Data({typed_dict}):\n"
            f'    """A new {name} as create({{...}}) takes it (by field name)."""\n\n'
            + "\n".join(data or ["    pass"])
            + "\n"
        )
        cast = self.use("typing", "cast")
        self.blocks.append(f'{name}Q = {cast}("{name}Fields", {name}.Q)\n')

    def source(self, command: str) -> str:
        uses_m = any("[M]" in block or "[M," in block for block in self.blocks)
        if uses_m:
            self.use("typing_extensions", "TypeVar")
        header = (
            f'"""Typed query fields of {self.module}: written by `{command}`; do not edit.\n\n'
            f"`{command} --check` fails when the models have changed since.\n"
            '"""\n\n'
            "from __future__ import annotations\n\n"
        )
        lines: list[str] = []
        groups = sorted(self.imports.items(), key=lambda item: (_section(item[0]), item[0]))
        last: int | None = None
        for module, names in groups:
            section = _section(module)
            if last is not None and section != last:
                lines.append("")
            last = section
            lines.append(f"from {module} import {', '.join(sorted(names, key=_isort))}")
        if uses_m:
            lines += ["", 'M = TypeVar("M")', f'"""{_M_DOC}"""']
        body = "\n\n".join(self.blocks)
        return header + "\n".join(lines) + "\n\n\n" + body


def _declared(info: FieldInfo) -> Any:
    annotation = info.annotation
    return typing.Annotated[(annotation, *info.metadata)] if info.metadata else annotation  # pyright: ignore[reportInvalidTypeArguments]


def _isort(name: str) -> tuple[int, str]:
    """isort's order of imported names: constants, classes, then the rest."""
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name.lower()


def _literal(value: str | int | bool) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _optional(annotation: Any) -> bool:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return type(None) in typing.get_args(annotation)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    options = strip_optional(annotation)
    if len(options) == 1 and isinstance(options[0], type) and issubclass(options[0], BaseModel):
        return options[0]
    return None


def _is_geometry(annotation: Any) -> bool:
    return isinstance(annotation, type) and annotation.__module__ == "vellum.geo"


def _kind(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if annotation is bool:
        return "Field"
    if annotation is str:
        return "StrField"
    if annotation in _NUMBERS:
        return "NumberField"
    if annotation in _ORDERED:
        return "OrderedField"
    return "Field"


def _section(module: str) -> int:
    """Import sections as isort orders them: the standard library, libraries, the project."""
    top = module.split(".")[0]
    if top in sys.stdlib_module_names:
        return 0
    return 1 if top in {"typing_extensions", "vellum"} else 2


def _import(module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except Exception as e:
        raise TypegenError(f"cannot import {module_name!r}: {e}") from e


def _documents(module_name: str) -> list[type[VellumBaseModel[Any]]]:
    module = _import(module_name)
    found: list[type[VellumBaseModel[Any]]] = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, VellumBaseModel)
        and value.__module__ == module_name
    ]
    if not found:
        raise TypegenError(f"{module_name!r} defines no VellumBaseModel subclass")
    return found


def generate(module_name: str) -> str:
    """The typed-fields module of ``module_name``'s documents, as source."""
    writer = _Writer(module_name)
    for model in _documents(module_name):
        writer.root(model)
    return writer.source(f"vellum typegen {module_name}")


def output_path(module_name: str) -> Path:
    """Where the module's typed fields go by default: next to it, ``<name>_q.py``."""
    file = getattr(_import(module_name), "__file__", None)
    if file is None:
        raise TypegenError(f"{module_name!r} has no file; pass --out")
    path = Path(file)
    return path.with_name(f"{path.stem}_q.py")


def write(module_name: str, out: Path | None = None) -> Path:
    target = out or output_path(module_name)
    target.write_text(generate(module_name), encoding="utf-8")
    return target


def check(module_name: str, out: Path | None = None) -> bool:
    """Whether the file holds what the models give now."""
    target = out or output_path(module_name)
    return target.exists() and target.read_text(encoding="utf-8") == generate(module_name)
