"""Progress of DuckDB's running query, for stages whose work happens inside the engine.

Cleaning, features and writing are a few large queries; DuckDB measures how far the running
query is, and a thread reads that a few times a second and passes it on as
``progress(percent, 100, "% of query N")``. Spark shows its own progress in the Spark UI.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..progress import ProgressFn

POLL_SECONDS = 0.2


@contextmanager
def query_progress(raw: Any, progress: ProgressFn) -> Iterator[None]:
    """While the block runs, report the running query of the DuckDB connection ``raw``."""
    raw.execute("SET enable_progress_bar = true")  # measure progress ...
    raw.execute("SET enable_progress_bar_print = false")  # ... without printing it
    stop = threading.Event()
    thread = threading.Thread(target=_poll, args=(raw, progress, stop), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _poll(raw: Any, progress: ProgressFn, stop: threading.Event) -> None:
    query, last = 0, -1.0
    while not stop.wait(POLL_SECONDS):
        try:
            pct = float(raw.query_progress())
        except Exception:  # noqa: BLE001 - a progress display must never break a run
            return
        if pct < 0:
            last = -1.0
            continue
        if last < 0 or pct < last:  # a new query started
            query += 1
        last = pct
        progress(int(pct), 100, f"% of query {query}")
