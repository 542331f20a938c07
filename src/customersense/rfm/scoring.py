"""RFM scores 1-5 per dimension by quantiles, with a tie policy that never splits equal values.

Tie policy. For each dimension the four edges are the 20/40/60/80% quantiles of the customers'
values (linear interpolation). A customer's score is 1 + the number of edges strictly below
its value, i.e. bins are right-closed: (-inf, e1] -> 1, (e1, e2] -> 2, ..., (e4, inf) -> 5.
Recency is scored on its negative, so the most recent customers get 5. The score depends on
the value alone, so identical customers always get identical scores.

Skewed data: when edges coincide (for example most customers bought once, so the 20% and 40%
quantiles of frequency are both 1), the bins between them stay empty and the customers at that
value share the lowest score of the run. Nothing is hidden: the report lists the edges (for
recency, from score 1 to 5, i.e. descending days), the customers per score and the scores
left empty ("merged_bins").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

QUANTILES = (0.2, 0.4, 0.6, 0.8)
DIMENSIONS = (
    ("r_score", "recency_days", False),
    ("f_score", "frequency", True),
    ("m_score", "monetary", True),
)


@dataclass(frozen=True)
class DimensionBins:
    score: str
    column: str
    higher_is_better: bool
    edges: tuple[float, ...]
    customers_per_score: dict[int, int]
    empty_scores: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "higher_is_better": self.higher_is_better,
            "quantiles": list(QUANTILES),
            "edges": list(self.edges),
            "customers_per_score": {str(k): v for k, v in self.customers_per_score.items()},
            "merged_bins": list(self.empty_scores),
            "note": self.note(),
        }

    def note(self) -> str:
        if not self.empty_scores:
            return "5 bins"
        return (
            f"scores {', '.join(map(str, self.empty_scores))} have no customers: many customers share "
            f"the same {self.column} (edges {', '.join(f'{e:g}' for e in self.edges)}) and equal values "
            "are never split"
        )


@dataclass(frozen=True)
class RFMScores:
    scores: pd.DataFrame  # r_score, f_score, m_score (int8), same index as the input
    bins: tuple[DimensionBins, ...]

    def to_dict(self) -> dict[str, Any]:
        return {b.score: b.to_dict() for b in self.bins}


def quantile_scores(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores 1..5 for ``values`` (higher value -> higher score) and the four edges used."""
    values = np.asarray(values, dtype="float64")
    if values.size == 0:
        return np.zeros(0, dtype="int8"), np.full(4, np.nan)
    edges = np.quantile(values, QUANTILES)
    # 1 + number of edges strictly below the value: right-closed bins.
    scores = 1 + np.searchsorted(edges, values, side="left")
    return scores.astype("int8"), edges


def score_rfm(features: pd.DataFrame) -> RFMScores:
    """Score recency, frequency and monetary of a customer feature table."""
    out = {}
    bins = []
    for score_name, column, higher in DIMENSIONS:
        values = features[column].to_numpy(dtype="float64")
        signed = values if higher else -values
        scores, edges = quantile_scores(signed)
        out[score_name] = scores
        counts = {s: int((scores == s).sum()) for s in range(1, 6)}
        shown = edges if higher else -edges
        bins.append(
            DimensionBins(
                score=score_name,
                column=column,
                higher_is_better=higher,
                edges=tuple(float(e) for e in shown),
                customers_per_score=counts,
                empty_scores=tuple(s for s, n in counts.items() if n == 0),
            )
        )
    return RFMScores(scores=pd.DataFrame(out, index=features.index), bins=tuple(bins))


def score_with_bins(features: pd.DataFrame, bins: tuple[DimensionBins, ...]) -> pd.DataFrame:
    """Scores of new customers against edges fitted elsewhere (e.g. on a sample), by the same rule."""
    out = {b.score: bin_scores(features[b.column].to_numpy(dtype="float64"), b) for b in bins}
    return pd.DataFrame(out, index=features.index)


def bin_scores(values: np.ndarray, b: DimensionBins) -> np.ndarray:
    """Scores 1..5 (int8) of ``values`` against the edges of ``b``: 1 + edges strictly below."""
    edges = np.asarray(b.edges, dtype="float64")
    signed, signed_edges = (values, edges) if b.higher_is_better else (-values, -edges)
    return (1 + np.searchsorted(signed_edges, signed, side="left")).astype("int8")
