"""The PNG figures, drawn in a second process while this one writes the other outputs.

Each figure is a pure function of small inputs prepared by the run (:class:`PlotJob`), so the
figures can be drawn anywhere: here, one after the other, or (``output.plots_worker``, the
default) by a worker process started before the tables are written, which takes the figures'
seconds (about 5 s, whatever the data's size) off the run's critical path on a machine with a
second core. The files are the same bytes either way (tested).

The worker is a plain ``python -m customersense.reporting.plot_worker JOBS RESULT`` process, not a
fork (the engine's threads are running) nor a ``multiprocessing`` spawn (which re-imports the
caller's main module): it reads the pickled jobs from a scratch file, writes the figures, and
leaves its seconds and peak memory, or the exception that stopped it, in a second file. The run
waits for it before its outputs are switched in, and stops it (by its process id) when anything
else fails first; should the worker stop without a word (killed, or no Python to start), the run
draws the figures itself and says so.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..progress import peak_rss_mb
from .figures import save_figure


@dataclass(frozen=True)
class PlotJob:
    """One figure: ``figure(*args, **kwargs)`` saved as ``name`` (``figure`` is a module-level
    function, pickled by reference)."""

    name: str
    figure: Callable[..., Any]
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def draw(jobs: Sequence[PlotJob], paths: dict[str, Path]) -> None:
    """Draw and save every job, here, in order."""
    for job in jobs:
        save_figure(job.figure(*job.args, **job.kwargs), paths[job.name])


class Plots:
    """Figures being drawn: by a worker process (``in_worker``) from entering the context, else
    here at :meth:`finish`. Leaving the context early stops the worker. ``inputs_seconds``: what
    preparing the jobs took (recorded with the rest)."""

    def __init__(self, jobs: Sequence[PlotJob], paths: dict[str, Path], in_worker: bool,
                 inputs_seconds: float = 0.0) -> None:
        self.jobs, self.paths, self.in_worker = list(jobs), paths, in_worker and bool(jobs)
        self.inputs_seconds = inputs_seconds
        self._proc: subprocess.Popen | None = None
        self._scratch: Path | None = None
        self._not_started: str | None = None

    def __enter__(self) -> Plots:
        if self.in_worker:
            self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self) -> None:
        self._scratch = Path(tempfile.mkdtemp(prefix="customersense-plots-"))
        with open(self._scratch / "jobs.pkl", "wb") as fh:
            pickle.dump((self.jobs, {k: str(v) for k, v in self.paths.items()}), fh, protocol=5)
        package_root = str(Path(__file__).resolve().parents[2])  # the customersense this run imported
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
        with open(self._scratch / "stderr.txt", "wb") as err:
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", __name__, str(self._scratch / "jobs.pkl"), str(self._scratch / "result.pkl")],
                    stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env)
            except OSError as exc:  # no Python to start (an embedded interpreter): drawn here at finish
                self._not_started = f"not started: {exc.strerror or exc}"

    def finish(self) -> dict[str, Any]:
        """Wait for the figures (or draw them here); their seconds and peak memory (MiB) and where
        they were drawn. An exception raised by a figure in the worker is raised here, as it was
        raised there; a worker that stopped without a word (killed, or no Python to start) leaves
        the figures to this process, and the record says so (``worker_stopped``)."""
        record: dict[str, Any] = {"figures": len(self.jobs), "inputs_seconds": round(self.inputs_seconds, 4)}
        if self.in_worker and self._proc is None:
            record["worker_stopped"] = self._not_started
        elif self.in_worker:
            assert self._scratch is not None
            code = self._proc.wait()
            result = self._scratch / "result.pkl"
            if result.exists():
                with open(result, "rb") as fh:
                    outcome = pickle.load(fh)
                if outcome[0] == "error":
                    exc, trace = outcome[1], outcome[2]
                    exc.add_note(f"in the process drawing the figures:\n{trace}")
                    raise exc
                _, seconds, peak = outcome
                return {**record, "drawn_in": "a worker process", "seconds": round(seconds, 4),
                        "peak_rss_mb": round(peak, 1)}
            err = (self._scratch / "stderr.txt").read_text(errors="replace").strip().splitlines()
            record["worker_stopped"] = f"exit code {code}" + (f": {err[-1]}" if err else "")
        t0 = time.perf_counter()
        draw(self.jobs, self.paths)
        return {**record, "drawn_in": "this process", "seconds": round(time.perf_counter() - t0, 4)}

    def stop(self) -> None:
        """Stop the worker if it still runs (by its process id) and remove the scratch files."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def _main(jobs_file: str, result_file: str) -> int:
    t0 = time.perf_counter()
    try:
        with open(jobs_file, "rb") as fh:
            jobs, paths = pickle.load(fh)
        draw(jobs, {k: Path(v) for k, v in paths.items()})
        outcome: tuple = ("ok", time.perf_counter() - t0, peak_rss_mb())
    except BaseException as exc:  # noqa: BLE001 - handed to the run, which raises it
        trace = traceback.format_exc()
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        outcome = ("error", exc, trace)
    partial = Path(result_file + ".part")
    with open(partial, "wb") as fh:
        pickle.dump(outcome, fh)
    partial.replace(result_file)  # whole or absent
    return 0 if outcome[0] == "ok" else 1


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], sys.argv[2]))
