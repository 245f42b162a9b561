"""Between a model and its stored documents (private module): ids, loading documents as models
(with the core's plans where they apply), validating partial updates, and the fields of a
duplicate-key error."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, RootModel, TypeAdapter, ValidationError

from ._bridge import ModelPlan
from ._plans import fetch_plan, read_plan, write_plan
from ._policies.polymorphism import Polymorphism, class_for
from ._policies.schema_version import SchemaVersion
from .errors import DocumentValidationError, DuplicateKeyError, ValueOutOfRangeError
from .model import VellumBaseModel

M = TypeVar("M", bound="VellumBaseModel[Any]")
P = TypeVar("P", bound=BaseModel)

ID = "id"
"""Every model's id field, stored as ``_id``; managed by the repository like the policies'."""


def _class_name_of(model: type[BaseModel]) -> str:
    """The stored class name of a member of a polymorphic family."""
    policy = cast("VellumBaseModel[Any]", model).__vellum_settings__.policies.get(Polymorphism)
    assert policy is not None
    return policy.name


def first_error(err: ValidationError) -> str:
    parts: list[str] = []
    for e in err.errors()[:3]:
        loc = ".".join(str(p) for p in e["loc"]) or "(document)"
        parts.append(f"{loc}: {e['msg']}")
    more = err.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


class ModelDocuments(Generic[M]):
    """How one repository's model becomes documents and back."""

    __slots__ = (
        "_aliases",
        "_blank",
        "_id_adapter",
        "classes",
        "collection_name",
        "model",
        "read_plan",
        "upgrades",
        "write_plan",
    )

    def __init__(self, model: type[M], collection_name: str) -> None:
        self.model = model
        self.collection_name = collection_name
        self._id_adapter: TypeAdapter[Any] = TypeAdapter(model.model_fields[ID].annotation)
        self._aliases = {(field.alias or name): name for name, field in model.model_fields.items()}
        settings = model.__vellum_settings__
        # The core builds documents that match the model's types as instances: always where
        # that is all validation checks, and on request (trusted fetch) despite constraints.
        self.read_plan: ModelPlan | None = (
            read_plan(model) if settings.validate_on_fetch else fetch_plan(model)
        )
        # Inserts encode models from their fields where that is what model_dump would store.
        self.write_plan = write_plan(model)
        # Documents of older schema versions are upgraded before validation: the core
        # decodes every field of them (an upgrade reads fields the model no longer has).
        schema = settings.policies.get(SchemaVersion)
        self.upgrades = schema if schema is not None and schema.upgrades else None
        if self.upgrades is not None:
            self.read_plan = None
        # A polymorphic family's documents are built as the class each one names, and stored
        # with that name (its plans refuse it: vellum._plans).
        self.classes: Polymorphism | None = settings.policies.get(Polymorphism)
        self._blank: M | None = None  # see `changes`

    def upgrade_all(self, raws: list[Any]) -> dict[Any, dict[str, Any]]:
        """Upgrades, in place, the stored documents of older schema versions; returns them by
        id, each with the ``updated_at`` it was read with."""
        upgrades = self.upgrades
        if upgrades is None:
            return {}
        documents = [cast("dict[str, Any]", raw) for raw in raws if isinstance(raw, dict)]
        return {raw.get("_id"): raw for raw in documents if upgrades.upgrade(raw)}

    def id(self, doc_id: Any) -> Any:
        try:
            return self._id_adapter.validate_python(doc_id)
        except ValidationError as err:
            raise DocumentValidationError(
                f"{doc_id!r} is not a valid id for {self.model.__name__}: {first_error(err)}",
                model=self.model.__name__,
                document_id=doc_id,
                errors=err.errors(),
            ) from None

    def load(self, raw: dict[str, Any] | M) -> M:
        """One stored document (as a write returned it, say) as a model, upgraded first if it
        is of an older schema version."""
        if isinstance(raw, self.model):
            return raw
        if self.upgrades is not None:
            self.upgrades.upgrade(raw)  # type: ignore[arg-type]
        return self.load_all([raw])[0]

    def load_all(self, raws: list[dict[str, Any] | M]) -> list[M]:
        """A batch as models: the ones the core built from documents that match the plan are
        kept, dicts are validated (one comprehension, not a method call per document)."""
        model = self.model
        if self.classes is not None:
            return [
                self.load_as(class_for(model, raw), raw) if isinstance(raw, dict) else raw
                for raw in raws
            ]
        return [self.load_as(model, raw) if isinstance(raw, dict) else raw for raw in raws]

    def load_as(self, model: type[P], raw: dict[str, Any]) -> P:
        try:
            return model.model_validate(raw)
        except ValidationError as err:
            raise DocumentValidationError(
                f"stored document _id={raw.get('_id')!r} in {self.collection_name!r} does not "
                f"fit {model.__name__}: {first_error(err)}. Migrate the document or relax "
                "the model; nothing was skipped.",
                model=model.__name__,
                document_id=raw.get("_id"),
                errors=err.errors(),
                stored=True,
            ) from None

    def coerce(self, document: M | Mapping[str, Any]) -> M:
        if isinstance(document, self.model):
            return document
        if isinstance(document, Mapping):
            model = self.model
            if self.classes is not None:  # a dict may name its class, as a stored one does
                named = self.classes.family.class_of(document, model)
                if not issubclass(named, model):
                    raise TypeError(
                        f"the document names class {named.__name__}, which is not a "
                        f"{model.__name__}: create it through its own repository"
                    )
                model = named
            try:
                return model.model_validate(document)
            except ValidationError as err:
                raise DocumentValidationError(
                    f"document does not fit {self.model.__name__}: {first_error(err)}",
                    model=self.model.__name__,
                    document_id=document.get("_id", document.get(ID)),
                    errors=err.errors(),
                ) from None
        raise TypeError(
            f"expected a {self.model.__name__} or a dict, got {type(document).__name__}"
        )

    def for_insert(self, docs: list[M]) -> list[M] | list[dict[str, Any]]:
        """What the core encodes: the models themselves when they have a write plan (encoded
        from their fields, and only if every value has the type validation gives it), else
        their checked stored form."""
        return docs if self.write_plan else self.checked(docs)

    def checked(self, docs: Sequence[M]) -> list[dict[str, Any]]:
        """The stored form of each document, validated by its model first: an instance built by
        ``model_construct`` or changed by ``model_copy(update=...)`` can hold values of other
        types, which would be written and then fail every read. The instance's field values
        are validated again (nested models included, datetimes as BSON stores them: UTC,
        milliseconds), and what that changes (an int in a float field...) is copied back into
        it, so it equals what a read returns; what validation refuses raises before anything
        is written."""
        stored: list[dict[str, Any]] = []
        for index, doc in enumerate(docs):
            cls = type(doc)
            try:
                valid = cls.model_validate(_field_values(doc, 0), by_name=True, by_alias=False)
            except ValidationError as err:
                doc_id = vars(doc).get(ID)
                where = "" if len(docs) == 1 else f" (document {index} of the batch)"
                raise DocumentValidationError(
                    f"{cls.__name__} instance{where} with _id={doc_id!r} does not fit its "
                    f"model: {first_error(err)}. It was built or changed without validation "
                    "(model_construct, model_copy(update=...)); nothing was written.",
                    model=cls.__name__,
                    document_id=doc_id,
                    errors=err.errors(),
                ) from None
            fields: dict[str, Any] = vars(doc)
            fields.update(vars(valid))
            dumped = valid.model_dump(by_alias=True)
            if self.classes is not None:
                dumped[self.classes.family.field] = _class_name_of(cls)
            stored.append(dumped)
        return stored

    def changes(
        self, changes: BaseModel | Mapping[str, Any], managed: frozenset[str]
    ) -> dict[str, Any]:
        """Validates a partial update field by field and returns its ``$set`` document, or
        raises before anything is written. ``managed`` fields cannot be set."""
        model = self.model
        if isinstance(changes, model):
            data = {
                name: getattr(changes, name)
                for name in model.model_fields
                if name not in managed and name != ID
            }
        elif isinstance(changes, BaseModel):
            data = {name: getattr(changes, name) for name in changes.model_fields_set}
        elif isinstance(changes, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
            data = dict(changes)
        else:
            raise TypeError(f"update takes a dict or a BaseModel, got {type(changes).__name__}")
        if not data:
            raise ValueError("update has nothing to change")
        blank = self._blank_instance()
        validator = model.__pydantic_validator__
        names: list[str] = []
        for key, value in data.items():
            name = self._aliases.get(key, key)
            if name not in model.model_fields:
                raise DocumentValidationError(
                    f"{model.__name__} has no field {key!r}; its fields are "
                    f"{sorted(model.model_fields)}. Nothing was written.",
                    model=model.__name__,
                )
            if name in managed or name == ID:
                raise DocumentValidationError(
                    f"{name!r} is managed by the repository and cannot be updated. Nothing was "
                    "written.",
                    model=model.__name__,
                )
            try:
                validator.validate_assignment(blank, name, value)
            except ValidationError as err:
                raise DocumentValidationError(
                    f"update of {model.__name__} rejected: {first_error(err)}. Nothing was "
                    "written.",
                    model=model.__name__,
                    errors=err.errors(),
                ) from None
            names.append(name)
        return blank.model_dump(include=set(names), by_alias=True)

    def _blank_instance(self) -> M:
        """An instance holding the model's defaults, for ``changes`` to validate assignments
        against: a copy of one made once. (``model_construct`` per update calls every default
        factory, and Pydantic inspects each factory's signature on every call: for a native
        factory such as ``ObjectId`` that parsed its text signature, 0.3 ms per update.)"""
        if self._blank is None:
            self._blank = self.model.model_construct()
        blank = self.model.__new__(self.model)
        for attribute in ("__dict__", "__pydantic_extra__", "__pydantic_private__"):
            value = getattr(self._blank, attribute)
            object.__setattr__(blank, attribute, None if value is None else dict(value))
        object.__setattr__(blank, "__pydantic_fields_set__", set())
        return blank

    def copy_fields(self, source: BaseModel, target: BaseModel, stored: Iterable[str]) -> None:
        """Sets the ``stored`` fields of ``target`` to those of ``source`` (another instance of
        the model), without re-running assignment validation: the values are valid already."""
        for key in stored:
            name = self._aliases.get(key)
            if name is not None:
                object.__setattr__(target, name, getattr(source, name))
                target.__pydantic_fields_set__.add(name)

    def enrich_duplicate(
        self, err: DuplicateKeyError, documents: Iterable[Mapping[str, Any]]
    ) -> None:
        """Fills in the declared index's keys and the offending values of a duplicate-key
        error, from the documents of the write."""
        index = next(
            (i for i in self.model.__vellum_settings__.indexes if i.name == err.index_name), None
        )
        if index is None:
            return
        err.key_pattern = dict(index.keys)
        fields = [field for field, _ in index.keys]
        for document in documents:
            value = {f: document.get(f) for f in fields}
            if err.key_value is None or str(next(iter(value.values()), "")) in str(err.key_value):
                err.key_value = value
                break


MAX_DEPTH = 100
"""How deeply :func:`_field_values` follows nested models and containers: MongoDB stores no
deeper document (the encoder's limit)."""


def _field_values(value: Any, depth: int) -> Any:
    """A model's field values by name, nested models and containers included, as validation
    input that re-checks every level (an instance given to its own model is not re-checked);
    datetimes as BSON stores them."""
    if depth > MAX_DEPTH:
        raise ValueOutOfRangeError(
            f"documents nest deeper than {MAX_DEPTH} levels (does a model contain itself?)"
        )
    if isinstance(value, RootModel):
        return _field_values(value.root, depth + 1)  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
    if isinstance(value, BaseModel):
        fields: dict[str, Any] = vars(value)
        out = {
            name: _field_values(fields[name], depth + 1)
            for name in type(value).model_fields
            if name in fields
        }
        extra = value.__pydantic_extra__
        if extra:
            out.update((key, _field_values(item, depth + 1)) for key, item in extra.items())
        return out
    if isinstance(value, datetime):
        return as_stored(value)
    if isinstance(value, (list, tuple)):
        return [_field_values(item, depth + 1) for item in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        return {key: _field_values(item, depth + 1) for key, item in value.items()}  # pyright: ignore[reportUnknownVariableType]
    return value


def as_stored(value: datetime) -> datetime:
    """A datetime as BSON stores it and a read returns it: UTC (a naive one is taken as UTC),
    truncated to the millisecond."""
    aware = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
    utc = aware.astimezone(timezone.utc)
    return utc.replace(microsecond=utc.microsecond - utc.microsecond % 1000)
