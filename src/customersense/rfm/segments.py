"""The RFM segment map: a data file assigning each of the 125 (R, F, M) cells one segment.

File format (CSV with a header): ``r_score,f_score,m_score,segment``, one row per cell, every
score 1..5, every cell exactly once, no empty segment name. The default map
(``rfm/data/classic_segments.csv``) holds the classic 11 segments; a user map passed with
``--segment-map`` is validated the same way.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError

COLUMNS = ("r_score", "f_score", "m_score", "segment")


def default_map_path() -> Path:
    return Path(str(files(__package__).joinpath("data", "classic_segments.csv")))


@dataclass(frozen=True)
class SegmentMap:
    path: str
    cells: tuple[str, ...]  # 125 names, index (r-1)*25 + (f-1)*5 + (m-1)

    @property
    def segments(self) -> tuple[str, ...]:
        """Segment names in order of first appearance in the file."""
        return tuple(dict.fromkeys(self.cells))

    def lookup(self, r: int, f: int, m: int) -> str:
        return self.cells[(r - 1) * 25 + (f - 1) * 5 + (m - 1)]

    def assign(self, scores: pd.DataFrame) -> pd.Series:
        """Segment name per row of a frame with r_score, f_score, m_score."""
        names = self.names(*(scores[c].to_numpy() for c in ("r_score", "f_score", "m_score")))
        return pd.Series(names, index=scores.index, name="rfm_segment", dtype="string")

    def names(self, r: np.ndarray, f: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Segment name (object array) of each (r, f, m) score triple."""
        idx = (r.astype("int64") - 1) * 25 + (f.astype("int64") - 1) * 5 + (m.astype("int64") - 1)
        return np.asarray(self.cells, dtype=object)[idx]


def load_segment_map(path: str | Path | None = None) -> SegmentMap:
    """Read and validate a segment map; raises :class:`ConfigError` naming the file and row."""
    path = Path(path) if path is not None else default_map_path()
    if not path.is_file():
        raise ConfigError(f"segment map not found: {path}")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if tuple(header[:4]) != COLUMNS:
            raise ConfigError(f"{path}: header must be {','.join(COLUMNS)}; found {','.join(header) or '(empty)'}")
        cells: dict[tuple[int, int, int], str] = {}
        for line, row in enumerate(reader, start=2):
            key = tuple(_score(row.get(c), path, line, c) for c in COLUMNS[:3])
            name = (row.get("segment") or "").strip()
            if not name:
                raise ConfigError(f"{path}: line {line}: empty segment name")
            if key in cells:
                raise ConfigError(f"{path}: line {line}: cell {key} appears twice ({cells[key]!r} and {name!r})")
            cells[key] = name
    missing = [k for k in _all_cells() if k not in cells]
    if missing:
        shown = ", ".join(str(k) for k in missing[:5])
        raise ConfigError(f"{path}: {len(missing)} of the 125 (R, F, M) cells have no segment, e.g. {shown}")
    return SegmentMap(path=str(path), cells=tuple(cells[k] for k in _all_cells()))


def _all_cells() -> list[tuple[int, int, int]]:
    return [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]


def _score(value: str | None, path: Path, line: int, column: str) -> int:
    try:
        score = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{path}: line {line}: {column}={value!r} is not an integer 1..5") from None
    if not 1 <= score <= 5:
        raise ConfigError(f"{path}: line {line}: {column}={score} is outside 1..5")
    return score
