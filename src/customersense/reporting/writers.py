"""Atomic outputs: every file is written into a staging folder beside the outputs and moved into
place only when the whole run succeeded. A failed run leaves the previous outputs untouched,
and no reader ever sees a half-written file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import OutputError
from .csv_text import write_csv


class AtomicOutputs:
    """Collect output files in a staging folder; :meth:`commit` moves them all into ``out_dir``.

    Use as a context manager: on an exception nothing is moved and the staging folder is removed.
    ``replaces`` names files of earlier runs that this run owns: those it did not write
    (e.g. a CSV skipped as too large) are removed at commit so no stale file is left beside
    fresh ones.
    """

    def __init__(self, out_dir: str | Path, replaces: tuple[str, ...] = ()) -> None:
        self.out_dir = Path(out_dir)
        self.replaces = replaces
        self.written: list[str] = []
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.staging = Path(tempfile.mkdtemp(prefix=".customersense-staging-", dir=self.out_dir))
        except OSError as exc:
            raise OutputError(f"cannot create the output folder {self.out_dir}: {exc.strerror or exc}") from None

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def path(self, name: str) -> Path:
        """Where to write ``name`` now; the file is recorded as an output of this run."""
        if name not in self.written:
            self.written.append(name)
        return self.staging / name

    def write_json(self, name: str, data: Any) -> None:
        with self.path(name).open("w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=False, default=_json_default)
            fh.write("\n")

    def write_csv(self, name: str, frame: pd.DataFrame) -> None:
        write_csv(frame, self.path(name))  # the bytes of frame.to_csv(path, index=False)

    def write_parquet(self, name: str, frame: pd.DataFrame) -> None:
        frame.to_parquet(self.path(name), index=False)

    def commit(self) -> list[Path]:
        try:
            for name in self.written:
                _replace(self.staging / name, self.out_dir / name, self.staging)
            for name in self.replaces:
                if name not in self.written:
                    _remove(self.out_dir / name)
        except OSError as exc:
            raise OutputError(f"cannot move outputs into {self.out_dir}: {exc.strerror or exc}") from None
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)
        return [self.out_dir / n for n in self.written]

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def _replace(new: Path, target: Path, staging: Path) -> None:
    """Move ``new`` onto ``target``; a folder (Spark's Parquet parts) replaces file or folder."""
    if target.is_dir() and not target.is_symlink():
        old = staging / f".old-{target.name}"
        os.replace(target, old)  # then the new one takes its place; the old goes with staging
    elif new.is_dir() and target.exists():
        target.unlink()
    os.replace(new, target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
