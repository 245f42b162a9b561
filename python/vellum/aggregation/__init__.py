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

from .expressions import Accumulator, LiteralValue, acc, literal
from .pipeline import AggregationPipeline
from .running import PipelineSource

__all__ = [
    "Accumulator",
    "AggregationPipeline",
    "LiteralValue",
    "PipelineSource",
    "acc",
    "literal",
]
