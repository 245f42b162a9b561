"""Lifecycle hooks: methods of a model that run around the repository's writes and reads.

>>> class Account(VellumBaseModel):                       # doctest: +SKIP
...     balance: Decimal
...
...     @before_insert
...     @before_update
...     async def check(self) -> None:
...         if self.balance < 0:
...             raise ValueError("balance cannot be negative")   # the write does not happen

Hooks may be sync or async. A hook that takes a ``session`` parameter receives the session of
the operation (None outside one), so its own writes join the same transaction. Several hooks
per event run in definition order, base-class hooks before subclass hooks; a subclass method
with the same name replaces the base one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

if TYPE_CHECKING:
    from .session import Session

__all__ = [
    "HookEvent",
    "after_delete",
    "after_insert",
    "after_update",
    "before_delete",
    "before_insert",
    "before_update",
    "on_fetch",
]

HookEvent = Literal[
    "before_insert",
    "after_insert",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
    "on_fetch",
]
EVENTS: tuple[HookEvent, ...] = get_args(HookEvent)
_MARK = "__vellum_hook_events__"

F = TypeVar("F", bound=Callable[..., Any])


def _marker(event: HookEvent) -> Callable[[F], F]:
    def mark(function: F) -> F:
        events: set[str] = set(getattr(function, _MARK, ()))
        events.add(event)
        setattr(function, _MARK, frozenset(events))
        return function

    mark.__name__ = event
    mark.__doc__ = f"Runs the decorated model method at {event.replace('_', ' ')}."
    return mark


before_insert = _marker("before_insert")
after_insert = _marker("after_insert")
before_update = _marker("before_update")
after_update = _marker("after_update")
before_delete = _marker("before_delete")
after_delete = _marker("after_delete")
on_fetch = _marker("on_fetch")


class Hook:
    """One registered hook method."""

    __slots__ = ("function", "is_async", "name", "takes_session")

    def __init__(self, name: str, function: Callable[..., Any]) -> None:
        self.name = name
        self.function = function
        self.is_async = inspect.iscoroutinefunction(function)
        self.takes_session = "session" in inspect.signature(function).parameters


HookTable = dict[str, tuple[Hook, ...]]


def collect_hooks(cls: type) -> HookTable:
    """The hooks of ``cls`` by event, base classes first, in definition order."""
    ordered: dict[str, tuple[Callable[..., Any], frozenset[str]]] = {}
    for klass in reversed(cls.__mro__):
        # A copy: reading an attribute of a model not fully defined yet (a forward reference)
        # makes Pydantic try to finish it, which sets class attributes.
        for name, value in list(vars(klass).items()):
            function: Any = value
            events: frozenset[str] | None = getattr(function, _MARK, None)
            if events is None:
                if name in ordered and callable(function):
                    del ordered[name]  # overridden by a plain method: no longer a hook
                continue
            ordered.pop(name, None)
            ordered[name] = (function, events)
    return {
        event: tuple(Hook(n, f) for n, (f, events) in ordered.items() if event in events)
        for event in EVENTS
    }


async def run_hooks(document: Any, hooks: tuple[Hook, ...], session: Session | None) -> None:
    """Runs ``hooks`` on ``document``; an exception propagates unchanged."""
    for hook in hooks:
        result = (
            hook.function(document, session=session)
            if hook.takes_session
            else hook.function(document)
        )
        if hook.is_async or inspect.isawaitable(result):
            await result
