"""Aggregation pipelines whose stages can name the Pydantic model of their output.

>>> stats = await (                                                   # doctest: +SKIP
...     users.aggregate_pipeline()
...     .match(User.Q.age >= 18)
...     .group(User.Q.address.city, output_model=CityStats,
...            users=acc.count(), avg_age=acc.avg(User.Q.age))
...     .sort(("users", -1))
...     .execute()
... )

The stage list lives in the Rust core (``pipeline.stages`` shows it); results are validated by
the model of the last stage that named one, and a document that does not fit raises
:class:`DocumentValidationError` naming the stage, the model, the field and the document.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar, cast, overload

from pydantic import BaseModel, ValidationError, create_model

from ._bridge import ModelPlan, Pipeline
from ._plans import read_plan
from .errors import DocumentValidationError
from .query import QField, QueryExpr, SortKey
from .session import Session

__all__ = ["Accumulator", "AggregationPipeline", "acc"]

T = TypeVar("T")
X = TypeVar("X", bound=BaseModel)
Row = dict[str, Any]
Plan = ModelPlan | None


def expr(value: Any) -> Any:
    """A pipeline expression: ``Model.Q`` fields become ``"$path"``; lists and dicts are walked."""
    if isinstance(value, QField):
        return "$" + value.path
    if isinstance(value, Accumulator):
        return value.spec()
    if isinstance(value, Mapping):
        return {str(k): expr(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    if isinstance(value, (list, tuple)):
        return [expr(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _field_path(value: QField | str) -> str:
    """A field path without ``$``: ``Q.orders.sku`` or ``"orders.sku"`` or ``"$orders.sku"``."""
    if isinstance(value, QField):
        return value.path
    return value[1:] if value.startswith("$") else value


class Accumulator:
    """A ``$group`` (or ``$bucket``) accumulator; build it with :data:`acc`."""

    __slots__ = ("argument", "operator")

    def __init__(self, operator: str, argument: Any) -> None:
        self.operator = operator
        self.argument = argument

    def spec(self) -> dict[str, Any]:
        return {self.operator: expr(self.argument)}

    def __repr__(self) -> str:
        return f"Accumulator({self.spec()!r})"


class _Accumulators:
    """Accumulators for ``group``: ``acc.sum(User.Q.balance)``, ``acc.count()``..."""

    @staticmethod
    def count() -> Accumulator:
        return Accumulator("$sum", 1)

    @staticmethod
    def sum(value: Any) -> Accumulator:
        return Accumulator("$sum", value)

    @staticmethod
    def avg(value: Any) -> Accumulator:
        return Accumulator("$avg", value)

    @staticmethod
    def min(value: Any) -> Accumulator:
        return Accumulator("$min", value)

    @staticmethod
    def max(value: Any) -> Accumulator:
        return Accumulator("$max", value)

    @staticmethod
    def first(value: Any) -> Accumulator:
        return Accumulator("$first", value)

    @staticmethod
    def last(value: Any) -> Accumulator:
        return Accumulator("$last", value)

    @staticmethod
    def push(value: Any) -> Accumulator:
        return Accumulator("$push", value)

    @staticmethod
    def add_to_set(value: Any) -> Accumulator:
        return Accumulator("$addToSet", value)

    @staticmethod
    def std_dev_pop(value: Any) -> Accumulator:
        return Accumulator("$stdDevPop", value)


acc = _Accumulators()


def _accumulators(fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if not isinstance(value, Accumulator):
            raise TypeError(f"{name}= takes an accumulator such as acc.sum(...), got {value!r}")
        out[name] = value.spec()
    return out


def _collection_of(source: type[BaseModel] | str) -> str:
    if isinstance(source, str):
        return source
    settings = getattr(source, "__vellum_settings__", None)
    if settings is None:
        raise TypeError(f"{source!r} is not a VellumBaseModel: pass a collection name")
    return settings.collection_name


class PipelineSource(Protocol):
    """What a pipeline runs against: one collection's aggregation (a repository's store)."""

    async def aggregate(
        self, pipeline: Pipeline, *, session: Session | None = ..., plan: Plan = ...
    ) -> list[Any]: ...

    async def aggregate_iterate(
        self, pipeline: Pipeline, *, session: Session | None = ..., plan: Plan = ...
    ) -> AsyncIterator[list[Any]]: ...

    async def explain(self, pipeline: Pipeline, verbosity: str) -> dict[str, Any]: ...


class AggregationPipeline(Generic[T]):
    """An aggregation pipeline over one repository's collection; every stage method returns a
    new pipeline. ``T`` is what ``execute()`` returns items of: the repository's model, the
    ``output_model`` of the last stage that named one, or ``dict`` after a stage that changed
    the shape without naming a model."""

    __slots__ = ("_core", "_output", "_session", "_source", "_stage")

    def __init__(
        self,
        source: PipelineSource,
        native: Pipeline,
        output: type[BaseModel] | None,
        stage: str,
        session: Session | None = None,
    ) -> None:
        self._source = source
        self._core = native
        self._output = output
        self._stage = stage
        self._session = session

    @property
    def stages(self) -> list[dict[str, Any]]:
        """The BSON pipeline, for debugging."""
        return self._core.stages

    def __repr__(self) -> str:
        model = self._output.__name__ if self._output else "dict"
        return f"AggregationPipeline[{model}]({self.stages!r})"

    # -- building ---------------------------------------------------------------------------

    def _same(self, name: str, spec: Any) -> AggregationPipeline[T]:
        return AggregationPipeline(
            self._source,
            self._core.with_stage(name, spec),
            self._output,
            self._stage,
            self._session,
        )

    def _reshape(self, name: str, spec: Any, output_model: type[BaseModel] | None) -> Any:
        index = len(self._core) + 1
        return AggregationPipeline[Any](
            self._source,
            self._core.with_stage(name, spec),
            output_model,
            f"stage {index} ({name})",
            self._session,
        )

    def match(self, filter: QueryExpr | Mapping[str, Any]) -> AggregationPipeline[T]:
        """Keeps the documents that match (``$match``): a ``Model.Q`` expression or a dict."""
        return self._same("$match", filter)

    def sort(self, *keys: SortKey | tuple[str, int]) -> AggregationPipeline[T]:
        """``$sort`` by ``Q.field.desc()`` keys or ``("field", -1)`` pairs."""
        spec: dict[str, int] = {}
        for key in keys:
            path, direction = (key.path, key.direction) if isinstance(key, SortKey) else key
            if direction not in (1, -1):
                raise ValueError(f"sort direction for {path!r} must be 1 or -1")
            spec[path] = direction
        if not spec:
            raise ValueError("sort() needs at least one key")
        return self._same("$sort", spec)

    def limit(self, n: int) -> AggregationPipeline[T]:
        return self._same("$limit", _positive("limit", n))

    def skip(self, n: int) -> AggregationPipeline[T]:
        return self._same("$skip", _positive("skip", n, allow_zero=True))

    def sample(self, size: int) -> AggregationPipeline[T]:
        return self._same("$sample", {"size": _positive("sample size", size)})

    def union_with(
        self, source: type[BaseModel] | str, pipeline: AggregationPipeline[Any] | None = None
    ) -> AggregationPipeline[T]:
        """Appends another collection's documents (``$unionWith``)."""
        spec: dict[str, Any] = {"coll": _collection_of(source)}
        if pipeline is not None:
            spec["pipeline"] = pipeline._core
        return self._same("$unionWith", spec)

    def raw_stage(self, stage: Mapping[str, Any]) -> AggregationPipeline[Row]:
        """An explicit escape hatch: one stage document, sent as written."""
        index = len(self._core) + 1
        return AggregationPipeline(
            self._source,
            self._core.with_raw_stage(stage),
            None,
            f"stage {index}",
            self._session,
        )

    @overload
    def project(
        self, spec: Mapping[str, Any], *, output_model: type[X]
    ) -> AggregationPipeline[X]: ...
    @overload
    def project(
        self, spec: Mapping[str, Any], *, output_model: None = None
    ) -> AggregationPipeline[Row]: ...
    def project(
        self, spec: Mapping[str, Any], *, output_model: type[BaseModel] | None = None
    ) -> Any:
        """Reshapes each document (``$project``)."""
        return self._reshape("$project", expr(spec), output_model)

    @overload
    def group(
        self, key: Any, *, output_model: type[X], **accumulators: Accumulator
    ) -> AggregationPipeline[X]: ...
    @overload
    def group(
        self, key: Any, *, output_model: None = None, **accumulators: Accumulator
    ) -> AggregationPipeline[Row]: ...
    def group(
        self, key: Any, *, output_model: type[BaseModel] | None = None, **accumulators: Accumulator
    ) -> Any:
        """Groups by ``key`` (a ``Q`` field, a dict of them, or None for one group) and computes
        the accumulators (``$group``)."""
        return self._reshape(
            "$group", {"_id": expr(key), **_accumulators(accumulators)}, output_model
        )

    @overload
    def unwind(
        self,
        path: QField | str,
        *,
        preserve_null_and_empty_arrays: bool = False,
        include_array_index: str | None = None,
        output_model: type[X],
    ) -> AggregationPipeline[X]: ...
    @overload
    def unwind(
        self,
        path: QField | str,
        *,
        preserve_null_and_empty_arrays: bool = False,
        include_array_index: str | None = None,
        output_model: None = None,
    ) -> AggregationPipeline[Row]: ...
    def unwind(
        self,
        path: QField | str,
        *,
        preserve_null_and_empty_arrays: bool = False,
        include_array_index: str | None = None,
        output_model: type[BaseModel] | None = None,
    ) -> Any:
        """One document per element of the array at ``path`` (``$unwind``)."""
        spec: dict[str, Any] = {"path": "$" + _field_path(path)}
        if preserve_null_and_empty_arrays:
            spec["preserveNullAndEmptyArrays"] = True
        if include_array_index:
            spec["includeArrayIndex"] = include_array_index
        return self._reshape("$unwind", spec, output_model)

    @overload
    def lookup(
        self,
        *,
        from_: type[BaseModel] | str,
        as_: str,
        local_field: QField | str | None = None,
        foreign_field: QField | str | None = None,
        pipeline: AggregationPipeline[Any] | Sequence[Mapping[str, Any]] | None = None,
        let: Mapping[str, Any] | None = None,
        output_model: type[X],
    ) -> AggregationPipeline[X]: ...
    @overload
    def lookup(
        self,
        *,
        from_: type[BaseModel] | str,
        as_: str,
        local_field: QField | str | None = None,
        foreign_field: QField | str | None = None,
        pipeline: AggregationPipeline[Any] | Sequence[Mapping[str, Any]] | None = None,
        let: Mapping[str, Any] | None = None,
        output_model: None = None,
    ) -> AggregationPipeline[Row]: ...
    def lookup(
        self,
        *,
        from_: type[BaseModel] | str,
        as_: str,
        local_field: QField | str | None = None,
        foreign_field: QField | str | None = None,
        pipeline: AggregationPipeline[Any] | Sequence[Mapping[str, Any]] | None = None,
        let: Mapping[str, Any] | None = None,
        output_model: type[BaseModel] | None = None,
    ) -> Any:
        """Joins documents of another collection into the array ``as_`` (``$lookup``): by
        ``local_field``/``foreign_field``, or by a ``pipeline`` with ``let`` variables."""
        spec: dict[str, Any] = {"from": _collection_of(from_), "as": as_}
        if (local_field is None) != (foreign_field is None):
            raise ValueError("lookup needs both local_field and foreign_field, or neither")
        if local_field is not None and foreign_field is not None:
            spec["localField"] = _field_path(local_field)
            spec["foreignField"] = _field_path(foreign_field)
        elif pipeline is None:
            raise ValueError("lookup needs local_field/foreign_field or a pipeline")
        if pipeline is not None:
            spec["pipeline"] = (
                pipeline._core
                if isinstance(pipeline, AggregationPipeline)
                else [expr(s) for s in pipeline]
            )
        if let is not None:
            spec["let"] = expr(let)
        return self._reshape("$lookup", spec, output_model)

    @overload
    def graph_lookup(
        self,
        *,
        from_: type[BaseModel] | str,
        start_with: Any,
        connect_from_field: QField | str,
        connect_to_field: QField | str,
        as_: str,
        max_depth: int | None = None,
        depth_field: str | None = None,
        restrict_search_with_match: QueryExpr | Mapping[str, Any] | None = None,
        output_model: type[X],
    ) -> AggregationPipeline[X]: ...
    @overload
    def graph_lookup(
        self,
        *,
        from_: type[BaseModel] | str,
        start_with: Any,
        connect_from_field: QField | str,
        connect_to_field: QField | str,
        as_: str,
        max_depth: int | None = None,
        depth_field: str | None = None,
        restrict_search_with_match: QueryExpr | Mapping[str, Any] | None = None,
        output_model: None = None,
    ) -> AggregationPipeline[Row]: ...
    def graph_lookup(
        self,
        *,
        from_: type[BaseModel] | str,
        start_with: Any,
        connect_from_field: QField | str,
        connect_to_field: QField | str,
        as_: str,
        max_depth: int | None = None,
        depth_field: str | None = None,
        restrict_search_with_match: QueryExpr | Mapping[str, Any] | None = None,
        output_model: type[BaseModel] | None = None,
    ) -> Any:
        """Recursive search through another collection (``$graphLookup``)."""
        spec: dict[str, Any] = {
            "from": _collection_of(from_),
            "startWith": expr(start_with),
            "connectFromField": _field_path(connect_from_field),
            "connectToField": _field_path(connect_to_field),
            "as": as_,
        }
        if max_depth is not None:
            spec["maxDepth"] = _positive("max_depth", max_depth, allow_zero=True)
        if depth_field is not None:
            spec["depthField"] = depth_field
        if restrict_search_with_match is not None:
            spec["restrictSearchWithMatch"] = restrict_search_with_match
        return self._reshape("$graphLookup", spec, output_model)

    def facet(
        self, *, output_model: type[X] | None = None, **pipelines: AggregationPipeline[Any]
    ) -> AggregationPipeline[Any]:
        """Runs several sub-pipelines on the same documents (``$facet``). Without
        ``output_model`` the result is validated by a model made of each sub-pipeline's own
        model: ``{name: list[SubModel]}``."""
        if not pipelines:
            raise ValueError("facet() needs at least one sub-pipeline")
        spec: dict[str, Any] = {}
        fields: dict[str, Any] = {}
        for name, sub in pipelines.items():
            if not isinstance(sub, AggregationPipeline):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise TypeError(f"facet {name}= takes a pipeline, got {sub!r}")
            spec[name] = sub._core
            fields[name] = (list[sub._output] if sub._output else list[Row], ...)  # type: ignore[name-defined]
        model = output_model or create_model("Facet", **fields)
        return self._reshape("$facet", spec, model)

    @overload
    def add_fields(self, *, output_model: type[X], **fields: Any) -> AggregationPipeline[X]: ...
    @overload
    def add_fields(
        self, *, output_model: None = None, **fields: Any
    ) -> AggregationPipeline[Row]: ...
    def add_fields(self, *, output_model: type[BaseModel] | None = None, **fields: Any) -> Any:
        """Adds computed fields (``$addFields``)."""
        return self._reshape("$addFields", expr(fields), output_model)

    @overload
    def set(self, *, output_model: type[X], **fields: Any) -> AggregationPipeline[X]: ...
    @overload
    def set(self, *, output_model: None = None, **fields: Any) -> AggregationPipeline[Row]: ...
    def set(self, *, output_model: type[BaseModel] | None = None, **fields: Any) -> Any:
        """Sets computed fields (``$set``, an alias of ``$addFields``)."""
        return self._reshape("$set", expr(fields), output_model)

    @overload
    def unset(self, *fields: QField | str, output_model: type[X]) -> AggregationPipeline[X]: ...
    @overload
    def unset(
        self, *fields: QField | str, output_model: None = None
    ) -> AggregationPipeline[Row]: ...
    def unset(self, *fields: QField | str, output_model: type[BaseModel] | None = None) -> Any:
        """Removes fields (``$unset``)."""
        if not fields:
            raise ValueError("unset() needs at least one field")
        return self._reshape("$unset", [_field_path(f) for f in fields], output_model)

    @overload
    def replace_root(self, new_root: Any, *, output_model: type[X]) -> AggregationPipeline[X]: ...
    @overload
    def replace_root(
        self, new_root: Any, *, output_model: None = None
    ) -> AggregationPipeline[Row]: ...
    def replace_root(self, new_root: Any, *, output_model: type[BaseModel] | None = None) -> Any:
        """Replaces each document with ``new_root`` (``$replaceRoot``)."""
        return self._reshape("$replaceRoot", {"newRoot": expr(new_root)}, output_model)

    @overload
    def replace_with(self, new_root: Any, *, output_model: type[X]) -> AggregationPipeline[X]: ...
    @overload
    def replace_with(
        self, new_root: Any, *, output_model: None = None
    ) -> AggregationPipeline[Row]: ...
    def replace_with(self, new_root: Any, *, output_model: type[BaseModel] | None = None) -> Any:
        """Replaces each document with ``new_root`` (``$replaceWith``)."""
        return self._reshape("$replaceWith", expr(new_root), output_model)

    def count_stage(self, field: str = "count") -> AggregationPipeline[Row]:
        """One document ``{field: number of documents}`` (``$count``)."""
        return self._reshape("$count", field, None)

    @overload
    def bucket(
        self,
        group_by: Any,
        boundaries: Sequence[Any],
        *,
        default: Any = None,
        output_model: type[X],
        **output: Accumulator,
    ) -> AggregationPipeline[X]: ...
    @overload
    def bucket(
        self,
        group_by: Any,
        boundaries: Sequence[Any],
        *,
        default: Any = None,
        output_model: None = None,
        **output: Accumulator,
    ) -> AggregationPipeline[Row]: ...
    def bucket(
        self,
        group_by: Any,
        boundaries: Sequence[Any],
        *,
        default: Any = None,
        output_model: type[BaseModel] | None = None,
        **output: Accumulator,
    ) -> Any:
        """Groups into ranges between ``boundaries`` (``$bucket``)."""
        spec: dict[str, Any] = {"groupBy": expr(group_by), "boundaries": list(boundaries)}
        if default is not None:
            spec["default"] = default
        if output:
            spec["output"] = _accumulators(output)
        return self._reshape("$bucket", spec, output_model)

    @overload
    def bucket_auto(
        self,
        group_by: Any,
        buckets: int,
        *,
        granularity: str | None = None,
        output_model: type[X],
        **output: Accumulator,
    ) -> AggregationPipeline[X]: ...
    @overload
    def bucket_auto(
        self,
        group_by: Any,
        buckets: int,
        *,
        granularity: str | None = None,
        output_model: None = None,
        **output: Accumulator,
    ) -> AggregationPipeline[Row]: ...
    def bucket_auto(
        self,
        group_by: Any,
        buckets: int,
        *,
        granularity: str | None = None,
        output_model: type[BaseModel] | None = None,
        **output: Accumulator,
    ) -> Any:
        """Groups into ``buckets`` evenly filled ranges (``$bucketAuto``)."""
        spec: dict[str, Any] = {"groupBy": expr(group_by), "buckets": _positive("buckets", buckets)}
        if granularity is not None:
            spec["granularity"] = granularity
        if output:
            spec["output"] = _accumulators(output)
        return self._reshape("$bucketAuto", spec, output_model)

    @overload
    def sort_by_count(self, value: Any, *, output_model: type[X]) -> AggregationPipeline[X]: ...
    @overload
    def sort_by_count(
        self, value: Any, *, output_model: None = None
    ) -> AggregationPipeline[Row]: ...
    def sort_by_count(self, value: Any, *, output_model: type[BaseModel] | None = None) -> Any:
        """Groups by ``value`` and sorts by the count, largest first (``$sortByCount``)."""
        return self._reshape("$sortByCount", expr(value), output_model)

    def merge(
        self,
        into: type[BaseModel] | str,
        *,
        on: str | Sequence[str] | None = None,
        when_matched: str | None = None,
        when_not_matched: str | None = None,
    ) -> AggregationPipeline[Row]:
        """Writes the results into a collection (``$merge``); must be the last stage."""
        spec: dict[str, Any] = {"into": _collection_of(into)}
        if on is not None:
            spec["on"] = on if isinstance(on, str) else list(on)
        if when_matched is not None:
            spec["whenMatched"] = when_matched
        if when_not_matched is not None:
            spec["whenNotMatched"] = when_not_matched
        return self._reshape("$merge", spec, None)

    def out(self, collection: type[BaseModel] | str) -> AggregationPipeline[Row]:
        """Replaces a collection with the results (``$out``); must be the last stage."""
        return self._reshape("$out", _collection_of(collection), None)

    # -- running ----------------------------------------------------------------------------

    def _plan(self) -> Plan:
        # Output models without constraints are built by the core (exactly as validation would).
        return None if self._output is None else read_plan(self._output)

    def _convert(self, result: Row | T) -> T:
        model = self._output
        if model is None or not isinstance(result, dict):
            return result  # type: ignore[return-value]
        raw = cast("Row", result)
        try:
            return model.model_validate(raw)  # type: ignore[return-value]
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "(document)"
            raise DocumentValidationError(
                f"{self._stage} output does not fit {model.__name__}: {field}: {first['msg']}; "
                f"document: {raw!r}",
                model=model.__name__,
                document_id=raw.get("_id"),
                errors=err.errors(),
            ) from None

    async def execute(self, *, session: Session | None = None) -> list[T]:
        """Runs the pipeline and returns every result, validated by the output model."""
        raws = await self._source.aggregate(
            self._core, session=session or self._session, plan=self._plan()
        )
        return [self._convert(raw) for raw in raws]

    async def first(self, *, session: Session | None = None) -> T | None:
        results = await self._same("$limit", 1).execute(session=session)
        return results[0] if results else None

    async def to_list(
        self, length: int | None = None, *, session: Session | None = None
    ) -> list[T]:
        """At most ``length`` results (all of them when None)."""
        if length is None:
            return await self.execute(session=session)
        return await self._same("$limit", _positive("length", length)).execute(session=session)

    async def count(self, *, session: Session | None = None) -> int:
        """How many documents the pipeline yields."""
        rows = await self._source.aggregate(
            self._core.with_stage("$count", "n"), session=session or self._session
        )
        return int(rows[0]["n"]) if rows else 0

    async def explain(self, *, verbosity: str = "queryPlanner") -> dict[str, Any]:
        """The server's plan for this pipeline."""
        return await self._source.explain(self._core, verbosity)

    async def __aiter__(self) -> AsyncIterator[T]:
        batches = await self._source.aggregate_iterate(
            self._core, session=self._session, plan=self._plan()
        )
        async for batch in batches:
            for raw in batch:
                yield self._convert(raw)


def _positive(what: str, n: int, *, allow_zero: bool = False) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0 or (n == 0 and not allow_zero):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError(
            f"{what} must be a {'non-negative' if allow_zero else 'positive'} int, got {n!r}"
        )
    return n
