"""How a migration run reports what it does: a progress bar per step on a terminal (documents
done / total, rate, time left), plain lines in a pipe or CI, nothing when used as a library."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["PlainReporter", "Reporter", "TerminalReporter", "reporter_for"]


class Reporter:
    """Receives a run's events; this base class ignores them (the library default)."""

    def revision(self, revision: str, name: str, direction: str) -> None:
        return None

    def start(self, label: str, total: int | None) -> None:
        """A step starts; ``total`` documents are to change (None when unknown)."""

    def advance(self, done: int) -> None:
        """``done`` more documents of the current step are done."""

    def finish(self, label: str, changed: int) -> None:
        """The step finished, having changed ``changed`` documents."""

    def skip(self, label: str) -> None:
        """The step had finished in an earlier run."""

    def would(self, label: str, count: int, samples: Sequence[tuple[Any, Any]] = ()) -> None:
        """Dry run: the step would change ``count`` documents (samples: before, after)."""

    def note(self, message: str) -> None:
        return None


class PlainReporter(Reporter):
    """One line per event, for pipes and CI logs."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._started = 0.0
        self._total: int | None = None
        self._done = 0
        self._last_line = 0.0

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def revision(self, revision: str, name: str, direction: str) -> None:
        self._print(f"{direction} {revision}: {name}")

    def start(self, label: str, total: int | None) -> None:
        self._started = time.monotonic()
        self._last_line = self._started
        self._total, self._done = total, 0
        self._print(f"  {label}: {'?' if total is None else total} document(s) to change")

    def advance(self, done: int) -> None:
        self._done += done
        now = time.monotonic()
        if now - self._last_line >= 5:  # a line every few seconds, not one per batch
            self._last_line = now
            self._print(
                f"    {self._done}/{self._total or '?'} ({_rate(self._done, now - self._started)})"
            )

    def finish(self, label: str, changed: int) -> None:
        took = time.monotonic() - self._started
        self._print(f"  {label}: done, {changed} changed in {took:.1f} s")

    def skip(self, label: str) -> None:
        self._print(f"  {label}: finished in an earlier run, skipped")

    def would(self, label: str, count: int, samples: Sequence[tuple[Any, Any]] = ()) -> None:
        self._print(f"  {label}: would change {count} document(s)")
        for before, after in samples:
            self._print(f"    before: {before!r}")
            self._print(f"    after:  {after!r}")

    def note(self, message: str) -> None:
        self._print(f"  {message}")


class TerminalReporter(PlainReporter):
    """A progress bar redrawn in place: ``[#####.....] 5 000/10 000  2 400/s  2 s left``."""

    WIDTH = 30

    def start(self, label: str, total: int | None) -> None:
        self._started = time.monotonic()
        self._total, self._done = total, 0
        self._label = label
        self._draw()

    def advance(self, done: int) -> None:
        self._done += done
        self._draw()

    def _draw(self) -> None:
        total, done = self._total, self._done
        elapsed = time.monotonic() - self._started
        if total:
            filled = min(self.WIDTH, self.WIDTH * done // total)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            left = (total - done) / (done / elapsed) if done and elapsed > 0 else None
            eta = "" if left is None else f"  {left:.0f} s left"
            line = f"  {self._label} [{bar}] {done}/{total}  {_rate(done, elapsed)}{eta}"
        else:
            line = f"  {self._label} {done} done  {_rate(done, elapsed)}"
        self.out.write("\r\x1b[2K" + line)
        self.out.flush()

    def finish(self, label: str, changed: int) -> None:
        self.out.write("\r\x1b[2K")
        super().finish(label, changed)


def _rate(done: int, seconds: float) -> str:
    return f"{done / seconds:,.0f}/s" if seconds > 0 and done else "-/s"


def reporter_for(out: TextIO | None = None) -> Reporter:
    """A progress bar on a terminal, plain lines otherwise."""
    stream = out or sys.stdout
    return TerminalReporter(stream) if stream.isatty() else PlainReporter(stream)
