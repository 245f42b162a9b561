"""The specs of aggregation stages whose arguments need checking or translating, built from the
builder's arguments (the typed stage methods are in :mod:`vellum.aggregation.pipeline`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .._bridge import Pipeline
from ..query import QueryExpr, SortKey
from .expressions import Accumulator, accumulators, collection_of, expr, field_path, positive

if TYPE_CHECKING:
    from ..query import FieldRef

Spec = dict[str, Any]


def sort(keys: Sequence[SortKey | tuple[str, int]]) -> dict[str, int]:
    spec: dict[str, int] = {}
    for key in keys:
        path, direction = (key.path, key.direction) if isinstance(key, SortKey) else key
        if direction not in (1, -1):
            raise ValueError(f"sort direction for {path!r} must be 1 or -1")
        spec[path] = direction
    if not spec:
        raise ValueError("sort() needs at least one key")
    return spec


def unwind(path: FieldRef | str, preserve_null_and_empty_arrays: bool, index: str | None) -> Spec:
    spec: Spec = {"path": "$" + field_path(path)}
    if preserve_null_and_empty_arrays:
        spec["preserveNullAndEmptyArrays"] = True
    if index:
        spec["includeArrayIndex"] = index
    return spec


def lookup(
    from_: type[BaseModel] | str,
    as_: str,
    local_field: FieldRef | str | None,
    foreign_field: FieldRef | str | None,
    pipeline: Pipeline | Sequence[Mapping[str, Any]] | None,
    let: Mapping[str, Any] | None,
) -> Spec:
    spec: Spec = {"from": collection_of(from_), "as": as_}
    if (local_field is None) != (foreign_field is None):
        raise ValueError("lookup needs both local_field and foreign_field, or neither")
    if local_field is not None and foreign_field is not None:
        spec["localField"] = field_path(local_field)
        spec["foreignField"] = field_path(foreign_field)
    elif pipeline is None:
        raise ValueError("lookup needs local_field/foreign_field or a pipeline")
    if pipeline is not None:
        spec["pipeline"] = (
            pipeline if isinstance(pipeline, Pipeline) else [expr(s) for s in pipeline]
        )
    if let is not None:
        spec["let"] = expr(let)
    return spec


def graph_lookup(
    from_: type[BaseModel] | str,
    start_with: Any,
    connect_from_field: FieldRef | str,
    connect_to_field: FieldRef | str,
    as_: str,
    max_depth: int | None,
    depth_field: str | None,
    restrict_search_with_match: QueryExpr | Mapping[str, Any] | None,
) -> Spec:
    spec: Spec = {
        "from": collection_of(from_),
        "startWith": expr(start_with),
        "connectFromField": field_path(connect_from_field),
        "connectToField": field_path(connect_to_field),
        "as": as_,
    }
    if max_depth is not None:
        spec["maxDepth"] = positive("max_depth", max_depth, allow_zero=True)
    if depth_field is not None:
        spec["depthField"] = depth_field
    if restrict_search_with_match is not None:
        spec["restrictSearchWithMatch"] = restrict_search_with_match
    return spec


def bucket(
    group_by: Any, boundaries: Sequence[Any], default: Any, output: Mapping[str, Accumulator]
) -> Spec:
    spec: Spec = {"groupBy": expr(group_by), "boundaries": list(boundaries)}
    if default is not None:
        spec["default"] = default
    if output:
        spec["output"] = accumulators(output)
    return spec


def bucket_auto(
    group_by: Any, buckets: int, granularity: str | None, output: Mapping[str, Accumulator]
) -> Spec:
    spec: Spec = {"groupBy": expr(group_by), "buckets": positive("buckets", buckets)}
    if granularity is not None:
        spec["granularity"] = granularity
    if output:
        spec["output"] = accumulators(output)
    return spec


def merge(
    into: type[BaseModel] | str,
    on: str | Sequence[str] | None,
    when_matched: str | None,
    when_not_matched: str | None,
) -> Spec:
    spec: Spec = {"into": collection_of(into)}
    if on is not None:
        spec["on"] = on if isinstance(on, str) else list(on)
    if when_matched is not None:
        spec["whenMatched"] = when_matched
    if when_not_matched is not None:
        spec["whenNotMatched"] = when_not_matched
    return spec
