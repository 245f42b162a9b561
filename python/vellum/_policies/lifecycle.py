"""Lifecycle hooks: the model's ``@before_insert``... methods, run at the repository's events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from ..hooks import HookTable, collect_hooks, run_hooks
from .base import Policy

if TYPE_CHECKING:
    from ..session import Session

__all__ = ["Lifecycle"]


class Lifecycle(Policy):
    """Runs the model's hooks of an event, base-class hooks first."""

    __slots__ = ("events", "table")

    def __init__(self, table: HookTable) -> None:
        self.table = table
        self.events = frozenset(event for event, hooks in table.items() if hooks)

    @classmethod
    def of(cls, model: type[BaseModel], own: object) -> Lifecycle:
        # Always composed (the hook table is part of the model's settings), but it takes part
        # only in the events that have hooks.
        return cls(collect_hooks(model))

    async def on(self, event: str, document: BaseModel, session: Session | None) -> None:
        await run_hooks(document, self.table[event], session)

    def __repr__(self) -> str:
        return f"Lifecycle({sorted(self.events)})"
