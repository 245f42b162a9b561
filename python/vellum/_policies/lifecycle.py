"""Lifecycle hooks: the model's ``@before_insert``... methods, run at the repository's events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from ..hooks import HookTable, collect_hooks, run_hooks
from .base import Policy
from .polymorphism import polymorphic

if TYPE_CHECKING:
    from ..session import Session

__all__ = ["Lifecycle"]


class Lifecycle(Policy):
    """Runs the model's hooks of an event, base-class hooks first. In a polymorphic family,
    each document runs its own class's hooks (a repository of the root reads its subclasses),
    so the family takes part in every event."""

    __slots__ = ("events", "model", "table")

    def __init__(self, table: HookTable, model: type[BaseModel], family: bool = False) -> None:
        self.table = table
        self.model = model
        self.events = frozenset(event for event, hooks in table.items() if hooks or family)

    @classmethod
    def of(cls, model: type[BaseModel], own: object) -> Lifecycle:
        # Always composed (the hook table is part of the model's settings), but it takes part
        # only in the events that have hooks.
        return cls(collect_hooks(model), model, family=polymorphic(model))

    async def on(self, event: str, document: BaseModel, session: Session | None) -> None:
        table = self.table
        if type(document) is not self.model:
            settings = getattr(type(document), "__vellum_settings__", None)
            own = settings.policies.get(Lifecycle) if settings is not None else None
            if own is not None:
                table = own.table
        await run_hooks(document, table[event], session)

    def __repr__(self) -> str:
        return f"Lifecycle({sorted(self.events)})"
