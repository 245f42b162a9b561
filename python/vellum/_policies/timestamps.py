"""Managed timestamps: ``created_at`` set on insert, ``updated_at`` on every write."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel

from .._bridge import UpdateSpec
from .base import Policy

__all__ = ["Timestamped", "Timestamps", "as_utc", "utc_now"]


def as_utc(value: datetime | None) -> datetime | None:
    """A timestamp as an aware UTC datetime (a naive one is taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


Stamp = Annotated[datetime | None, AfterValidator(as_utc)]


class Timestamped(BaseModel):
    """The repository's timestamps, part of every :class:`~vellum.VellumBaseModel`: timezone-aware
    UTC datetimes truncated to the millisecond (what BSON stores)."""

    created_at: Stamp = None
    updated_at: Stamp = None


CREATED_AT, UPDATED_AT = Timestamped.model_fields


def utc_now() -> datetime:
    """Now in UTC, truncated to the millisecond BSON stores, so a returned model equals the
    stored one."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


class Timestamps(Policy):
    """Stamps ``created_at`` and ``updated_at`` on insert and ``updated_at`` on every write."""

    __slots__ = ()
    fields = (CREATED_AT, UPDATED_AT)

    @classmethod
    def of(cls, model: type[BaseModel], own: object) -> Timestamps | None:
        return cls() if issubclass(model, Timestamped) else None

    def prepare(self, documents: Sequence[BaseModel], now: datetime) -> None:
        # Straight into the instances' fields, without re-running assignment validation: the
        # values are the repository's own. One loop for a whole batch.
        names = self.fields
        for document in documents:
            values: dict[str, Any] = vars(document)
            values[CREATED_AT] = values[UPDATED_AT] = now
            document.__pydantic_fields_set__.update(names)

    def stamp(self, values: dict[str, Any], now: datetime, whole: bool) -> None:
        values[UPDATED_AT] = now

    def operators(self, now: datetime) -> Sequence[UpdateSpec]:
        return (UpdateSpec("$set", UPDATED_AT, now),)
