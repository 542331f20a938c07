"""Business names for learned clusters, from a data file of prototypes (``data/segment_names.toml``).

A cluster's position on recency, frequency and monetary is the mid-rank percentile, among all
customers, of the cluster's median customer: (number below + half the number equal) / n, with
recency reversed so 1 means most recent. Each cluster gets the name whose prototype position is
nearest (Euclidean), every name at most once, by optimal assignment (Hungarian method), so names
are unique and deterministic. With more clusters than names the rest are "Segment N".
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from ..errors import ConfigError

DIMENSIONS = (("recency", "recency_days", -1.0), ("frequency", "frequency", 1.0), ("monetary", "monetary", 1.0))
OUTLIERS = "Outliers"


@dataclass(frozen=True)
class NamePrototype:
    name: str
    position: tuple[float, float, float]
    description: str


def load_name_rules(path: str | Path | None = None) -> list[NamePrototype]:
    path = Path(path) if path else Path(str(files(__package__).joinpath("data", "segment_names.toml")))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read segment names: {exc}") from None
    rules = []
    for i, entry in enumerate(data.get("segment", []), start=1):
        try:
            pos = tuple(float(entry[d]) for d, _, _ in DIMENSIONS)
            name = str(entry["name"]).strip()
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: segment {i}: needs name, recency, frequency, monetary ({exc})") from None
        if not name or not all(0.0 <= p <= 1.0 for p in pos):
            raise ConfigError(f"{path}: segment {i} ({name!r}): positions must be in [0, 1] and the name non-empty")
        rules.append(NamePrototype(name, pos, str(entry.get("description", ""))))
    if not rules or len({r.name for r in rules}) != len(rules):
        raise ConfigError(f"{path}: needs at least one [[segment]] and unique names")
    return rules


def midrank_percentile(population: np.ndarray, value: float) -> float:
    population = np.asarray(population, dtype=float)
    below = np.count_nonzero(population < value)
    equal = np.count_nonzero(population == value)
    return float((below + 0.5 * equal) / len(population))


def cluster_positions(customers: pd.DataFrame, labels: np.ndarray, members: np.ndarray) -> pd.DataFrame:
    """Per cluster: the mid-rank percentile position of its median member on R, F and M."""
    rows = {}
    for c in sorted(set(labels[members].tolist())):
        in_c = members & (labels == c)
        pos = []
        for _, column, sign in DIMENSIONS:
            values = sign * customers[column].to_numpy(dtype=float)
            pos.append(midrank_percentile(values, float(np.median(values[in_c]))))
        rows[c] = pos
    return pd.DataFrame.from_dict(rows, orient="index", columns=[d for d, _, _ in DIMENSIONS])


def name_clusters(positions: pd.DataFrame, rules: list[NamePrototype]) -> dict[int, str]:
    """Unique names by optimal assignment of clusters to the nearest prototypes."""
    clusters = list(positions.index)
    protos = np.array([r.position for r in rules])
    cost = np.sqrt(((positions.to_numpy()[:, None, :] - protos[None, :, :]) ** 2).sum(axis=2))
    rows, cols = linear_sum_assignment(cost)
    names = {clusters[r]: rules[c].name for r, c in zip(rows, cols)}
    extra = 1
    for c in clusters:
        if c not in names:
            names[c] = f"Segment {extra}"
            extra += 1
    return names
