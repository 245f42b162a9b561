"""The aggregation builder: each stage method returns a new pipeline; running validates the
results by the output model of the last stage that named one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pydantic import BaseModel, create_model

from ..query import QueryExpr, SortKey

if TYPE_CHECKING:
    from ..query import FieldRef
from . import specs
from .expressions import Accumulator, collection_of, expr, field_path, positive
from .expressions import accumulators as accumulator_specs
from .running import PipelineRun

__all__ = ["AggregationPipeline"]

T = TypeVar("T")
X = TypeVar("X", bound=BaseModel)
Row = dict[str, Any]


class AggregationPipeline(PipelineRun[T]):
    """An aggregation pipeline over one repository's collection; every stage method returns a
    new pipeline. ``T`` is what ``execute()`` returns items of: the repository's model, the
    ``output_model`` of the last stage that named one, or ``dict`` after a stage that changed
    the shape without naming a model."""

    __slots__ = ()

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
        return self._same("$sort", specs.sort(keys))

    def limit(self, n: int) -> AggregationPipeline[T]:
        return self._same("$limit", positive("limit", n))

    def skip(self, n: int) -> AggregationPipeline[T]:
        return self._same("$skip", positive("skip", n, allow_zero=True))

    def sample(self, size: int) -> AggregationPipeline[T]:
        return self._same("$sample", {"size": positive("sample size", size)})

    def union_with(
        self, source: type[BaseModel] | str, pipeline: AggregationPipeline[Any] | None = None
    ) -> AggregationPipeline[T]:
        """Appends another collection's documents (``$unionWith``)."""
        spec: dict[str, Any] = {"coll": collection_of(source)}
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
            "$group", {"_id": expr(key), **accumulator_specs(accumulators)}, output_model
        )

    @overload
    def unwind(
        self,
        path: FieldRef | str,
        *,
        preserve_null_and_empty_arrays: bool = False,
        include_array_index: str | None = None,
        output_model: type[X],
    ) -> AggregationPipeline[X]: ...
    @overload
    def unwind(
        self,
        path: FieldRef | str,
        *,
        preserve_null_and_empty_arrays: bool = False,
        include_array_index: str | None = None,
        output_model: None = None,
    ) -> AggregationPipeline[Row]: ...
    def unwind(
        self,
        path: FieldRef | str,
        *,
        preserve_null_and_empty_arrays: bool = False,
        include_array_index: str | None = None,
        output_model: type[BaseModel] | None = None,
    ) -> Any:
        """One document per element of the array at ``path`` (``$unwind``)."""
        spec = specs.unwind(path, preserve_null_and_empty_arrays, include_array_index)
        return self._reshape("$unwind", spec, output_model)

    @overload
    def lookup(
        self,
        *,
        from_: type[BaseModel] | str,
        as_: str,
        local_field: FieldRef | str | None = None,
        foreign_field: FieldRef | str | None = None,
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
        local_field: FieldRef | str | None = None,
        foreign_field: FieldRef | str | None = None,
        pipeline: AggregationPipeline[Any] | Sequence[Mapping[str, Any]] | None = None,
        let: Mapping[str, Any] | None = None,
        output_model: None = None,
    ) -> AggregationPipeline[Row]: ...
    def lookup(
        self,
        *,
        from_: type[BaseModel] | str,
        as_: str,
        local_field: FieldRef | str | None = None,
        foreign_field: FieldRef | str | None = None,
        pipeline: AggregationPipeline[Any] | Sequence[Mapping[str, Any]] | None = None,
        let: Mapping[str, Any] | None = None,
        output_model: type[BaseModel] | None = None,
    ) -> Any:
        """Joins documents of another collection into the array ``as_`` (``$lookup``): by
        ``local_field``/``foreign_field``, or by a ``pipeline`` with ``let`` variables."""
        inner = pipeline._core if isinstance(pipeline, AggregationPipeline) else pipeline
        spec = specs.lookup(from_, as_, local_field, foreign_field, inner, let)
        return self._reshape("$lookup", spec, output_model)

    @overload
    def graph_lookup(
        self,
        *,
        from_: type[BaseModel] | str,
        start_with: Any,
        connect_from_field: FieldRef | str,
        connect_to_field: FieldRef | str,
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
        connect_from_field: FieldRef | str,
        connect_to_field: FieldRef | str,
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
        connect_from_field: FieldRef | str,
        connect_to_field: FieldRef | str,
        as_: str,
        max_depth: int | None = None,
        depth_field: str | None = None,
        restrict_search_with_match: QueryExpr | Mapping[str, Any] | None = None,
        output_model: type[BaseModel] | None = None,
    ) -> Any:
        """Recursive search through another collection (``$graphLookup``)."""
        spec = specs.graph_lookup(
            from_,
            start_with,
            connect_from_field,
            connect_to_field,
            as_,
            max_depth,
            depth_field,
            restrict_search_with_match,
        )
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
    def unset(self, *fields: FieldRef | str, output_model: type[X]) -> AggregationPipeline[X]: ...
    @overload
    def unset(
        self, *fields: FieldRef | str, output_model: None = None
    ) -> AggregationPipeline[Row]: ...
    def unset(self, *fields: FieldRef | str, output_model: type[BaseModel] | None = None) -> Any:
        """Removes fields (``$unset``)."""
        if not fields:
            raise ValueError("unset() needs at least one field")
        return self._reshape("$unset", [field_path(f) for f in fields], output_model)

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
        spec = specs.bucket(group_by, boundaries, default, output)
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
        spec = specs.bucket_auto(group_by, buckets, granularity, output)
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
        return self._reshape("$merge", specs.merge(into, on, when_matched, when_not_matched), None)

    def out(self, collection: type[BaseModel] | str) -> AggregationPipeline[Row]:
        """Replaces a collection with the results (``$out``); must be the last stage."""
        return self._reshape("$out", collection_of(collection), None)
