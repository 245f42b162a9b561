"""Documents of several related classes in one collection: the root model's ``Settings``
declares ``polymorphic = True``, and its subclasses share its collection.

Each stored document names its class in a discriminator field (``_class`` unless the root's
``Settings.discriminator`` says otherwise), by default the path of class names from the root
(``"Vehicle.Bike.RoadBike"``; a class's own ``Settings.class_name`` replaces its part). Reading
from a repository builds each document as the class it names; a subclass's repository sees only
its own class and its subclasses' (the scope adds ``{_class: {$in: [...]}}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from ..errors import DocumentValidationError
from ..query import QueryExpr
from .base import Policy

if TYPE_CHECKING:
    from ..query import Filter

__all__ = ["DEFAULT_FIELD", "Family", "Polymorphism", "class_for", "polymorphic"]

DEFAULT_FIELD = "_class"


class Family:
    """The classes that share a polymorphic root's collection, by their stored name."""

    __slots__ = ("by_name", "field", "root")

    def __init__(self, root: type[BaseModel], field: str) -> None:
        self.root = root
        self.field = field
        self.by_name: dict[str, type[BaseModel]] = {}

    def add(self, model: type[BaseModel], name: str) -> None:
        known = self.by_name.get(name)
        if known is not None and known.__qualname__ != model.__qualname__:
            raise TypeError(
                f"{model.__name__} and {known.__name__} would both be stored as {name!r} in "
                f"{self.root.__name__}'s collection: give one a Settings.class_name of its own"
            )
        self.by_name[name] = model

    def names_under(self, model: type[BaseModel]) -> list[str]:
        """The stored names of ``model`` and of its subclasses defined so far."""
        return sorted(n for n, cls in self.by_name.items() if issubclass(cls, model))

    def class_of(self, raw: Mapping[str, Any], default: type[BaseModel]) -> type[BaseModel]:
        """The class a stored document names; ``default`` when it names none (a document
        written before the collection became polymorphic)."""
        name = raw.get(self.field)
        if name is None:
            return default
        found = self.by_name.get(name) if isinstance(name, str) else None
        if found is None:
            raise DocumentValidationError(
                f"stored document _id={raw.get('_id')!r} has {self.field}={name!r}, which names "
                f"no class of {self.root.__name__}'s family (known: "
                f"{sorted(self.by_name)}): define that class (and import its module) before "
                "reading, or migrate the document",
                model=self.root.__name__,
                document_id=raw.get("_id"),
                stored=True,
            )
        return found


class Polymorphism(Policy):
    """A model of a polymorphic family: its documents carry their class's name, and its
    repository (unless it is the root's) sees only its own class and its subclasses."""

    __slots__ = ("family", "model", "name")
    settings = ("polymorphic", "discriminator", "class_name")

    def __init__(self, family: Family, model: type[BaseModel], name: str) -> None:
        self.family = family
        self.model = model
        self.name = name

    @classmethod
    def of(cls, model: type[BaseModel], own: object) -> Polymorphism | None:
        root = _root(model)
        if root is None:
            for setting in ("discriminator", "class_name"):
                if getattr(own, setting, None) is not None:
                    raise TypeError(
                        f"{model.__name__}.Settings.{setting} needs a polymorphic root: set "
                        "`polymorphic = True` in the Settings of the family's root model"
                    )
            return None
        root_settings = root.__dict__["Settings"]
        if model is not root:
            for setting in ("polymorphic", "discriminator"):
                if getattr(own, setting, None) is not None and own is not root_settings:
                    raise TypeError(
                        f"{model.__name__}.Settings.{setting}: only the root of a polymorphic "
                        f"family ({root.__name__}) sets it"
                    )
        family: Family | None = root.__dict__.get("__vellum_family__")
        if family is None:
            field = getattr(root_settings, "discriminator", None) or DEFAULT_FIELD
            if not isinstance(field, str) or field in _stored_names(root):
                raise TypeError(
                    f"{root.__name__}.Settings.discriminator must be a str that names no field "
                    f"of the model, got {field!r}"
                )
            family = Family(root, field)
            type.__setattr__(root, "__vellum_family__", family)
        name = _class_name(model, root)
        family.add(model, name)
        return cls(family, model, name)

    @property
    def is_root(self) -> bool:
        return self.model is self.family.root

    def scope(self, filter: Filter, include_deleted: bool) -> Filter:
        if self.is_root:
            return filter
        mine = QueryExpr.compare(self.family.field, "$in", self.family.names_under(self.model))
        if isinstance(filter, QueryExpr):
            return filter & mine
        if not filter:
            return mine.to_filter()
        return {"$and": [filter, mine.to_filter()]}

    def __repr__(self) -> str:
        return f"Polymorphism({self.family.field}={self.name!r})"


B = TypeVar("B", bound=BaseModel)


def class_for(model: type[B], raw: Mapping[str, Any]) -> type[B]:
    """The class to build a stored document ``raw`` as, read as a ``model``: the class it
    names, if ``model`` is in a polymorphic family (and that class is a ``model``)."""
    root = _root(model)
    if root is None:
        return model
    family: Family = root.__dict__["__vellum_family__"]
    named = family.class_of(raw, model)
    if not issubclass(named, model):
        raise DocumentValidationError(
            f"stored document _id={raw.get('_id')!r} is a {named.__name__}, not a {model.__name__}",
            model=model.__name__,
            document_id=raw.get("_id"),
            stored=True,
        )
    return named


def polymorphic(model: type[BaseModel]) -> bool:
    """Whether ``model`` belongs to a polymorphic family."""
    return _root(model) is not None


def _root(model: type[BaseModel]) -> type[BaseModel] | None:
    """The polymorphic root of ``model``'s family (itself, or the nearest base whose own
    ``Settings`` says ``polymorphic = True``), or None."""
    for cls in model.__mro__:
        own = cls.__dict__.get("Settings")
        if own is not None and getattr(own, "polymorphic", False) is True:
            return cls
    return None


def _class_name(model: type[BaseModel], root: type[BaseModel]) -> str:
    own = model.__dict__.get("Settings")
    explicit = getattr(own, "class_name", None) if own is not None else None
    if explicit is not None:
        if not isinstance(explicit, str) or not explicit:
            raise TypeError(f"{model.__name__}.Settings.class_name must be a non-empty str")
        return explicit
    path = [cls.__name__ for cls in reversed(model.__mro__) if _is_between(cls, root, model)]
    return ".".join(path)


def _is_between(cls: type, root: type[BaseModel], model: type[BaseModel]) -> bool:
    return issubclass(cls, root) and issubclass(model, cls)


def _stored_names(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}
