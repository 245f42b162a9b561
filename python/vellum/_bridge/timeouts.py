"""Operation timeouts (MongoDB's ``timeoutMS``): a bound on each call to the core, from the
client's URI or from a ``with vellum.timeout(seconds):`` block around the calls.

The Rust driver has no client-side operation timeout, and dropping one of its futures half-way
can leave it inconsistent, so the bound is on the wait: when it passes, the caller gets
:class:`~vellum.OperationTimeoutError` at once, and the operation itself finishes (or fails) in
the background, as it would on the server after any driver gave up on it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from ..errors import OperationTimeoutError

__all__ = ["bounded", "deadline", "timeout"]

T = TypeVar("T")

_NO_LIMIT = math.inf
_DEADLINE: ContextVar[float | None] = ContextVar("vellum_deadline", default=None)
"""A ``time.monotonic()`` deadline set by ``timeout()``; inf inside ``timeout(None)``; None
outside any block (the client's default applies)."""


@contextmanager
def timeout(seconds: float | None) -> Generator[None]:
    """Bounds every operation in the block: each one that has not completed when ``seconds``
    have passed since the block began raises :class:`~vellum.OperationTimeoutError`. Blocks
    nest (the tighter deadline wins); ``timeout(None)`` runs the block without any bound, the
    client's ``timeoutMS`` included.

    >>> with vellum.timeout(2.5):                       # doctest: +SKIP
    ...     user = await users.get(user_id)
    """
    if seconds is None:
        limit = _NO_LIMIT
    else:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"timeout() takes seconds as a number or None, got {seconds!r}")
        if not seconds > 0:
            raise ValueError(f"timeout() takes a positive number of seconds, got {seconds!r}")
        limit = time.monotonic() + seconds
        outer = _DEADLINE.get()
        if outer is not None:
            limit = min(limit, outer)
    token = _DEADLINE.set(limit)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def deadline(default_ms: int | None) -> float | None:
    """The monotonic deadline of an operation starting now: the enclosing ``timeout()`` block's,
    else ``default_ms`` from now (the client's ``timeoutMS``), else None."""
    limit = _DEADLINE.get()
    if limit is None:
        return None if default_ms is None else time.monotonic() + default_ms / 1000
    return None if limit == _NO_LIMIT else limit


def bounded(call: Callable[[], Awaitable[T]], default_ms: int | None) -> Awaitable[T]:
    """Starts ``call()`` (one core operation) for awaiting within the current bound. With no
    bound it is the core's own awaitable: an unbounded call costs one context-variable read."""
    limit = deadline(default_ms)
    if limit is None:
        return call()
    return _within(call, limit)


async def _within(call: Callable[[], Awaitable[T]], limit: float) -> T:
    remaining = limit - time.monotonic()
    if remaining <= 0:
        raise OperationTimeoutError("the operation's time was up before it started", sent=False)
    try:
        return await asyncio.wait_for(call(), remaining)
    except asyncio.TimeoutError:
        raise OperationTimeoutError(
            f"the operation did not complete within its time ({remaining * 1000:.0f} ms left "
            "when it started); it may still complete on the server",
            sent=True,
        ) from None
