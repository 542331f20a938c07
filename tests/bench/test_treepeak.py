"""bench/treepeak.py: the peak memory of a process tree, not of its largest process: a parent that
holds little and a child that holds 200 MiB give a peak of at least 200 MiB, while the parent's
own ru_maxrss stays small."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import treepeak  # noqa: E402

CHILD = "b = b'x' * (200 * 2**20); import time; time.sleep(1.5)"  # every byte written: resident, whatever the allocator
PARENT = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {CHILD!r}], check=True)"


def test_a_childs_memory_is_in_the_peak():
    proc = subprocess.run([sys.executable, str(BENCH / "treepeak.py"), sys.executable, "-c", PARENT],
                          capture_output=True, text=True, check=True)
    lines = dict(line.strip().split(": ", 1) for line in proc.stderr.splitlines() if ": " in line)
    kib = int(lines["Maximum resident set size of the process tree (kbytes, sampled every 20 ms)"].split()[0])
    assert 200 * 1024 <= kib < 600 * 1024
    assert lines["Exit status"] == "0"


def test_the_exit_status_is_the_commands():
    proc = subprocess.run([sys.executable, str(BENCH / "treepeak.py"), sys.executable, "-c", "raise SystemExit(3)"],
                          capture_output=True, text=True)
    assert proc.returncode == 3 and "Exit status: 3" in proc.stderr


def test_an_ended_process_holds_nothing():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert treepeak.tree_rss_kib(proc.pid) == 0
    assert treepeak.tree_rss_kib() > 0  # this process
