"""Business names for learned clusters, from a data file of prototypes (``data/segment_names.toml``).

A cluster's position on each feature the model used is the mid-rank percentile, among all
customers, of the cluster's median member: (number below + half the number equal) / n, with the
features marked ``reversed`` turned round (recency: 1 means most recent). Each cluster gets the
name whose prototype is nearest (root mean square over the features that both the prototype and
the model have), every name at most once, by optimal assignment (Hungarian method), so names are
unique and deterministic. With more clusters than names the rest are "Segment N". Every cluster
also gets its evidence: the median member's value and position on every feature used, and how
far the chosen prototype is.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from ..errors import ConfigError

OUTLIERS = "Outliers"


@dataclass(frozen=True)
class NamePrototype:
    name: str
    position: dict[str, float]  # feature -> position in [0, 1]
    description: str


@dataclass(frozen=True)
class NameRules:
    prototypes: list[NamePrototype]
    labels: dict[str, str]   # feature -> words for it ("days since last purchase")
    reversed: frozenset[str]  # features whose position counts from the lowest value

    @property
    def descriptions(self) -> dict[str, str]:
        return {p.name: p.description for p in self.prototypes}


def load_name_rules(path: str | Path | None = None) -> NameRules:
    path = Path(path) if path else Path(str(files(__package__).joinpath("data", "segment_names.toml")))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read segment names: {exc}") from None
    features = data.get("features", {})
    rules = []
    for i, entry in enumerate(data.get("segment", []), start=1):
        name = str(entry.get("name", "")).strip()
        try:
            pos = {f: float(entry[f]) for f in features if f in entry}
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: segment {i} ({name!r}): {exc}") from None
        if not name or not pos or not all(0.0 <= p <= 1.0 for p in pos.values()):
            raise ConfigError(f"{path}: segment {i} ({name!r}): needs a name and positions in [0, 1] on the "
                              f"features listed under [features] ({', '.join(features)})")
        rules.append(NamePrototype(name, pos, str(entry.get("description", ""))))
    if not rules or len({r.name for r in rules}) != len(rules):
        raise ConfigError(f"{path}: needs at least one [[segment]] and unique names")
    return NameRules(rules, {f: str(v.get("label", f)) for f, v in features.items()},
                     frozenset(f for f, v in features.items() if v.get("reversed")))


def midrank_percentile(population: np.ndarray, value: float) -> float:
    population = np.asarray(population, dtype=float)
    below = np.count_nonzero(population < value)
    equal = np.count_nonzero(population == value)
    return float((below + 0.5 * equal) / len(population))


def cluster_medians(customers: pd.DataFrame, labels: np.ndarray, members: np.ndarray,
                    features: Sequence[str]) -> pd.DataFrame:
    """Per cluster (index) and feature (columns): the median of the cluster's members."""
    rows = {c: [float(np.median(customers[f].to_numpy(dtype=float)[members & (labels == c)])) for f in features]
            for c in sorted(set(labels[members].tolist()))}
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(features))


def cluster_positions(customers: pd.DataFrame, medians: pd.DataFrame, rules: NameRules) -> pd.DataFrame:
    """Per cluster: the mid-rank percentile position of its median member on each feature."""
    out = pd.DataFrame(index=medians.index, columns=medians.columns, dtype=float)
    for f in medians.columns:
        sign = -1.0 if f in rules.reversed else 1.0
        values = sign * customers[f].to_numpy(dtype=float)
        out[f] = [midrank_percentile(values, sign * m) for m in medians[f]]
    return out


def _distances(positions: pd.DataFrame, rules: NameRules) -> np.ndarray:
    """Clusters x prototypes: RMS distance over the shared features (inf when none is shared)."""
    cost = np.full((len(positions), len(rules.prototypes)), np.inf)
    for j, proto in enumerate(rules.prototypes):
        shared = [f for f in positions.columns if f in proto.position]
        if shared:
            diff = positions[shared].to_numpy() - np.array([proto.position[f] for f in shared])
            cost[:, j] = np.sqrt((diff ** 2).mean(axis=1))
    return cost


def name_clusters(positions: pd.DataFrame, rules: NameRules) -> dict[int, str]:
    """Unique names by optimal assignment of clusters to the nearest prototypes."""
    clusters = list(positions.index)
    cost = _distances(positions, rules)
    names: dict[int, str] = {}
    if np.isfinite(cost).any():
        rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e9))
        names = {clusters[r]: rules.prototypes[c].name for r, c in zip(rows, cols) if np.isfinite(cost[r, c])}
    extra = 1
    for c in clusters:
        if c not in names:
            names[c] = f"Segment {extra}"
            extra += 1
    return names


def name_evidence(positions: pd.DataFrame, medians: pd.DataFrame, names: dict[int, str],
                  rules: NameRules) -> dict[int, str]:
    """Per cluster, one line: the median member on every feature used (value and position) and
    the distance to the prototype whose name it got."""
    cost = _distances(positions, rules)
    index = {p.name: j for j, p in enumerate(rules.prototypes)}
    out = {}
    for i, c in enumerate(positions.index):
        parts = [f"{rules.labels.get(f, f)} {medians.loc[c, f]:,.4g} (position {positions.loc[c, f]:.2f})"
                 for f in positions.columns]
        j = index.get(names[c])
        tail = (f"nearest free name prototype at distance {cost[i, j]:.2f}" if j is not None
                else "no name prototype shares a feature with the model, or all were taken")
        out[c] = f"median member: {', '.join(parts)}; {tail}"
    return out
