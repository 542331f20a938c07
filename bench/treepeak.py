"""Peak memory of a process tree: ``customersense run`` draws its figures in a worker process
beside the run, so one process's ``ru_maxrss`` (what ``/usr/bin/time`` reports: the largest
single process) understates what the machine holds while both run.

    .venv/bin/python bench/treepeak.py CMD [ARGS...]

runs CMD and prints its wall time, the largest sum of the resident memory (VmRSS) of CMD and all
its descendants, sampled every 20 ms, and CMD's exit status, in ``/usr/bin/time -v``'s words.
Standard library only (run_peers.py imports :func:`tree_rss_kib` from here).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

INTERVAL = 0.02


def _children(pid: str) -> list[str]:
    kids: list[str] = []
    for tasks in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids += tasks.read_text().split()
        except OSError:  # ended in between
            pass
    return kids


def tree_rss_kib(pid: int | str = "self") -> int:
    """VmRSS of ``pid`` and of all its descendants, in KiB (0 for a process that has ended)."""
    total, todo, seen = 0, [str(pid)], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        todo += _children(p)
    return total


class TreePeak:
    """Samples ``tree_rss_kib(pid)`` every 20 ms in a thread while in the ``with`` block; ``kib``:
    the largest sum seen."""

    def __init__(self, pid: int | str = "self") -> None:
        self.pid, self.kib, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.kib = max(self.kib, tree_rss_kib(self.pid))
            if self._stop.wait(INTERVAL):
                return

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main(argv: list[str]) -> int:
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv)
    with TreePeak(proc.pid) as peak:
        code = proc.wait()
    seconds = time.perf_counter() - t0
    print(f"\tElapsed (wall clock) time (s): {seconds:.2f}", file=sys.stderr)
    print(f"\tMaximum resident set size of the process tree (kbytes, sampled every 20 ms): {peak.kib} "
          f"({peak.kib / 1024:,.0f} MiB)", file=sys.stderr)
    print(f"\tExit status: {code}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
