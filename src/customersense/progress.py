"""Stage timing and progress reporting, with no dependency on a terminal.

The pipeline calls a :class:`Reporter`; the CLI passes one that draws rich progress, the
library default does nothing. :class:`StageClock` records seconds and peak memory per stage.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class Reporter(Protocol):
    def start(self, stage: str, description: str) -> None: ...

    def finish(self, stage: str, seconds: float) -> None: ...


class NullReporter:
    def start(self, stage: str, description: str) -> None:
        pass

    def finish(self, stage: str, seconds: float) -> None:
        pass


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class StageClock:
    """Times named stages and reports them as they start and end."""

    def __init__(self, reporter: Reporter | None = None) -> None:
        self.reporter = reporter or NullReporter()
        self.stages: dict[str, dict[str, float]] = {}

    @contextmanager
    def stage(self, name: str, description: str) -> Iterator[None]:
        self.reporter.start(name, description)
        t0 = time.perf_counter()
        yield
        seconds = time.perf_counter() - t0
        self.stages[name] = {"seconds": round(seconds, 4), "peak_rss_mb": round(peak_rss_mb(), 1)}
        self.reporter.finish(name, seconds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stages": self.stages,
            "total_seconds": round(sum(s["seconds"] for s in self.stages.values()), 4),
        }
