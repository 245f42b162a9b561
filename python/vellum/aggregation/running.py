"""Running a built aggregation pipeline: results validated by the output model, one batch at a
time when iterated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Generic, Protocol, TypeVar, cast

from pydantic import BaseModel, ValidationError

from .._bridge import ModelPlan, Pipeline
from .._links import FetchLinks
from .._plans import read_plan
from .._policies.polymorphism import class_for
from ..errors import DocumentValidationError, QueryError
from ..session import Session
from .expressions import positive

__all__ = ["PipelineRun", "PipelineSource"]

T = TypeVar("T")
Row = dict[str, Any]
Plan = ModelPlan | None


class PipelineSource(Protocol):
    """What a pipeline runs against: one collection's aggregation (a repository's store)."""

    async def aggregate(
        self, pipeline: Pipeline, *, session: Session | None = ..., plan: Plan = ...
    ) -> list[Any]: ...

    async def aggregate_iterate(
        self, pipeline: Pipeline, *, session: Session | None = ..., plan: Plan = ...
    ) -> AsyncIterator[list[Any]]: ...

    async def explain(self, pipeline: Pipeline, verbosity: str) -> dict[str, Any]: ...

    async def load_links(
        self,
        documents: list[Any],
        model: type[BaseModel],
        fetch_links: Any,
        session: Session | None,
    ) -> None: ...


class PipelineRun(Generic[T]):
    """A built pipeline over one collection, and how it runs: ``T`` is what ``execute()``
    returns items of (validated by the output model, when there is one). The stage methods are
    :class:`AggregationPipeline`'s."""

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
        return f"{type(self).__name__}[{model}]({self.stages!r})"

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
            return class_for(model, raw).model_validate(raw)  # type: ignore[return-value]
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "(document)"
            raise DocumentValidationError(
                f"{self._stage} output does not fit {model.__name__}: {field}: {first['msg']}; "
                f"document: {raw!r}",
                model=model.__name__,
                document_id=raw.get("_id"),
                errors=err.errors(),
                stored=True,
            ) from None

    async def _run(
        self, native: Pipeline, session: Session | None, fetch_links: FetchLinks
    ) -> list[T]:
        session = session or self._session
        raws = await self._source.aggregate(native, session=session, plan=self._plan())
        results = [self._convert(raw) for raw in raws]
        if fetch_links:
            if self._output is None:
                raise QueryError(
                    f"fetch_links needs an output model with links; after {self._stage} the "
                    "pipeline returns dicts"
                )
            await self._source.load_links(results, self._output, fetch_links, session)
        return results

    async def execute(
        self, *, session: Session | None = None, fetch_links: FetchLinks = None
    ) -> list[T]:
        """Runs the pipeline and returns every result, validated by the output model.
        ``fetch_links`` loads the results' links as a repository's ``find`` does (one query per
        link path for all the results)."""
        return await self._run(self._core, session, fetch_links)

    async def first(
        self, *, session: Session | None = None, fetch_links: FetchLinks = None
    ) -> T | None:
        results = await self._run(self._core.with_stage("$limit", 1), session, fetch_links)
        return results[0] if results else None

    async def to_list(
        self,
        length: int | None = None,
        *,
        session: Session | None = None,
        fetch_links: FetchLinks = None,
    ) -> list[T]:
        """At most ``length`` results (all of them when None)."""
        if length is None:
            return await self.execute(session=session, fetch_links=fetch_links)
        limited = self._core.with_stage("$limit", positive("length", length))
        return await self._run(limited, session, fetch_links)

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
