"""Stage timing and progress reporting, with no dependency on a terminal.

The pipeline calls a :class:`Reporter`; the CLI passes one that draws rich progress, the
library default does nothing. :class:`StageClock` records seconds and peak memory per stage.

Estimators take no progress argument: a stage wraps the call in :func:`reporting` and the
estimator's counters (:meth:`RowCounter.current`) hear whichever ``progress`` is current.
"""

from __future__ import annotations

import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, Protocol

#: ``progress(completed, total, what)``: e.g. (1_200_000, 5_000_000, "customers scored")
ProgressFn = Callable[[int, int, str], None]


class Reporter(Protocol):
    def start(self, stage: str, description: str) -> None: ...

    def update(self, stage: str, completed: int, total: int, what: str) -> None: ...

    def finish(self, stage: str, seconds: float) -> None: ...


class NullReporter:
    def start(self, stage: str, description: str) -> None:
        pass

    def update(self, stage: str, completed: int, total: int, what: str) -> None:
        pass

    def finish(self, stage: str, seconds: float) -> None:
        pass


_CURRENT: ContextVar[ProgressFn | None] = ContextVar("customersense_progress", default=None)


@contextmanager
def reporting(progress: ProgressFn | None) -> Iterator[None]:
    """Within the block, estimators report rows done to ``progress`` (``None``: to nobody).

    A context variable, so concurrent stages in other threads or tasks keep their own."""
    token = _CURRENT.set(progress)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current_progress() -> ProgressFn | None:
    """The ``progress`` set by the innermost :func:`reporting` block, if any."""
    return _CURRENT.get()


class RowCounter:
    """Adds up rows done by any thread and passes the running total to ``progress``."""

    def __init__(self, progress: ProgressFn | None, total: int, what: str) -> None:
        self.progress, self.total, self.what = progress, total, what
        self.done = 0
        self._lock = threading.Lock()

    @classmethod
    def current(cls, total: int, what: str) -> RowCounter:
        """A counter for the current :func:`reporting` block's ``progress`` (read now, in this
        thread: worker threads may call the counter)."""
        return cls(current_progress(), total, what)

    def __call__(self, rows: int) -> None:
        if self.progress is None:
            return
        with self._lock:
            self.done += rows
            self.progress(self.done, self.total, self.what)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB. On Linux from ``VmHWM``: the
    ``ru_maxrss`` of a process started by another carries its starter's peak across ``exec``."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _ignore(completed: int, total: int, what: str) -> None:
    pass


def listening(progress: ProgressFn | None) -> bool:
    """Whether anybody hears ``progress`` (work done only for a display can be skipped)."""
    return progress is not None and progress is not _ignore


class StageClock:
    """Times named stages and reports them as they start and end."""

    def __init__(self, reporter: Reporter | None = None,
                 watch: Callable[[ProgressFn], AbstractContextManager] | None = None) -> None:
        """``watch(progress)``: a context that reports work done elsewhere (the engine's
        running query) to the stage's ``progress`` while each stage runs."""
        self.reporter = reporter or NullReporter()
        self.watch = watch
        self.stages: dict[str, dict[str, float]] = {}

    @contextmanager
    def stage(self, name: str, description: str) -> Iterator[ProgressFn]:
        """Time a stage; ``as progress`` gives the stage's ``progress(completed, total, what)``."""
        self.reporter.start(name, description)
        t0 = time.perf_counter()
        update = getattr(self.reporter, "update", None)  # reporters written before counts existed
        if isinstance(self.reporter, NullReporter):
            update = None
        progress = (lambda completed, total, what: update(name, completed, total, what)) if update else _ignore
        with self.watch(progress) if self.watch is not None and update else nullcontext():
            yield progress
        seconds = time.perf_counter() - t0
        self.stages[name] = {"seconds": round(seconds, 4), "peak_rss_mb": round(peak_rss_mb(), 1)}
        self.reporter.finish(name, seconds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stages": self.stages,
            "total_seconds": round(sum(s["seconds"] for s in self.stages.values()), 4),
        }
