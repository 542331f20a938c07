"""How well a churn and spend prediction did on the holdout: pure functions of arrays.

One *prediction* is, per customer of the holdout population, the probability of no purchase in
the holdout (``churn``), the expected purchase days (``purchases``) and the expected spend
(``spend``); the *outcome* is what the customers did: whether they bought, how many purchase
days, how much. A baseline gives a churn *score* only (a rank, not a probability) or a spend
prediction only; its missing metrics are ``None``.

- :func:`scores`: churn ROC AUC, Brier score, purchases and spend in total (predicted vs actual,
  error in percent) and per customer (mean absolute error).
- :func:`deciles`: the same by decile of predicted churn (the calibration table).
- :func:`gains`: the cumulative share of the holdout's churners caught when targeting customers
  in descending order of churn score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError


@dataclass(frozen=True)
class Outcome:
    """What the holdout population did: ``churned`` (no purchase day), ``purchases``, ``spend``."""

    churned: np.ndarray
    purchases: np.ndarray
    spend: np.ndarray

    @classmethod
    def from_counts(cls, purchases, spend) -> "Outcome":
        n = np.asarray(purchases, dtype=float)
        return cls(churned=(n == 0).astype(float), purchases=n, spend=np.asarray(spend, dtype=float))


@dataclass(frozen=True)
class Prediction:
    """A candidate's holdout prediction (any of the three may be None for a baseline);
    ``churn_score`` ranks churners when ``churn`` (a probability) is not given."""

    churn: np.ndarray | None = None
    purchases: np.ndarray | None = None
    spend: np.ndarray | None = None
    churn_score: np.ndarray | None = None

    @property
    def score(self) -> np.ndarray | None:
        return self.churn if self.churn is not None else self.churn_score


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC of ``score`` for ``positive`` (ties count one half); the Mann-Whitney statistic."""
    score, positive = np.asarray(score, dtype=float), np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise DataError("churn AUC needs customers who bought in the holdout and customers who did not")
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _totals(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    p, a = np.asarray(predicted, dtype=float), np.asarray(actual, dtype=float)
    total = float(a.sum())
    return {
        "predicted": float(p.sum()),
        "actual": total,
        "error_pct": float(100 * (p.sum() - total) / total) if total else None,
        "mae": float(np.abs(p - a).mean()),
    }


def scores(prediction: Prediction, outcome: Outcome) -> dict[str, object]:
    """The metrics of one candidate on the holdout (``None`` where it gives no prediction)."""
    score = prediction.score
    out: dict[str, object] = {
        "customers": int(outcome.churned.size),
        "churn_rate": float(outcome.churned.mean()),
        "churn_auc": None if score is None else round(auc(score, outcome.churned.astype(bool)), 6),
        "brier": None,
        "purchases": None,
        "spend": None,
    }
    if prediction.churn is not None:
        out["brier"] = round(float(np.mean((prediction.churn - outcome.churned) ** 2)), 6)
    if prediction.purchases is not None:
        out["purchases"] = _totals(prediction.purchases, outcome.purchases)
    if prediction.spend is not None:
        out["spend"] = _totals(prediction.spend, outcome.spend)
    return out


def deciles(prediction: Prediction, outcome: Outcome, n: int = 10) -> pd.DataFrame:
    """Mean predicted and actual churn, purchases and spend per decile of predicted churn
    (decile 1: the lowest predicted churn). Customers are ordered by predicted churn, ties by
    their position, and cut into ``n`` groups of (almost) equal size."""
    if prediction.churn is None:
        raise DataError("deciles need a churn probability")
    size = outcome.churned.size
    order = np.argsort(prediction.churn, kind="stable")
    group = np.empty(size, dtype=int)
    group[order] = (np.arange(size) * n) // size + 1
    frame = pd.DataFrame({
        "decile": group,
        "predicted_churn": prediction.churn, "actual_churn": outcome.churned,
        "predicted_purchases": _or_nan(prediction.purchases, size), "actual_purchases": outcome.purchases,
        "predicted_spend": _or_nan(prediction.spend, size), "actual_spend": outcome.spend,
    })
    out = frame.groupby("decile").mean()
    out.insert(0, "customers", frame.groupby("decile").size())
    return out.reset_index()


def gains(score: np.ndarray, churned: np.ndarray, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """(share targeted, share of churners caught) at ``points`` evenly spaced shares, targeting
    customers by descending ``score`` (ties broken by position)."""
    churned = np.asarray(churned, dtype=float)
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    caught = np.concatenate([[0.0], np.cumsum(churned[order])]) / max(churned.sum(), 1.0)
    share = np.linspace(0.0, 1.0, points)
    return share, caught[np.round(share * churned.size).astype(int)]


def _or_nan(values: np.ndarray | None, size: int) -> np.ndarray:
    return np.full(size, np.nan) if values is None else np.asarray(values, dtype=float)
