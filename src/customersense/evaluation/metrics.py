"""Cluster quality metrics: pure functions of ``(X, labels)``, with documented ranges.

- :func:`silhouette` in [-1, 1], higher is better; exact up to ``sample_size`` points, above that
  the mean of several independent random samples, with their spread, so the estimate says how it
  was computed and how precise it is (the exact silhouette is O(n^2)).
- :func:`davies_bouldin` in [0, inf), lower is better.
- :func:`calinski_harabasz` in [0, inf), higher is better.
- :func:`knee_point`: the knee of a decreasing convex curve (the "elbow" of inertia against k).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn import metrics as skm


@dataclass(frozen=True)
class SilhouetteEstimate:
    value: float          # exact value, or the mean over samples
    std: float            # standard deviation across samples (0 when exact)
    ci_low: float         # 95% interval of the mean (equal to value when exact)
    ci_high: float
    method: str           # "exact" or "sampled"
    sample_size: int      # points per sample (n when exact)
    n_samples: int        # number of samples (1 when exact)

    def to_dict(self) -> dict:
        return asdict(self)


def silhouette(
    X: np.ndarray, labels: np.ndarray, sample_size: int = 5000, n_samples: int = 3, random_state: int = 0
) -> SilhouetteEstimate:
    """Mean silhouette coefficient; exact when ``len(X) <= sample_size``, else sampled."""
    X = np.asarray(X)
    labels = np.asarray(labels)
    n = len(X)
    if len(np.unique(labels)) < 2:
        raise ValueError("silhouette needs at least 2 clusters; got 1")
    if n <= sample_size:
        value = float(skm.silhouette_score(X, labels))
        return SilhouetteEstimate(value, 0.0, value, value, "exact", n, 1)
    rng = np.random.default_rng(random_state)
    values = []
    for _ in range(n_samples):
        idx = np.sort(rng.choice(n, size=sample_size, replace=False))
        if len(np.unique(labels[idx])) < 2:
            continue
        values.append(float(skm.silhouette_score(X[idx], labels[idx])))
    arr = np.asarray(values)
    mean = float(arr.mean())
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    half = 1.96 * std / np.sqrt(len(arr)) if len(arr) > 1 else 0.0
    return SilhouetteEstimate(mean, std, mean - half, mean + half, "sampled", sample_size, len(arr))


def davies_bouldin(X: np.ndarray, labels: np.ndarray) -> float:
    """Davies-Bouldin index, >= 0, lower is better."""
    return float(skm.davies_bouldin_score(X, labels))


def calinski_harabasz(X: np.ndarray, labels: np.ndarray) -> float:
    """Calinski-Harabasz index (variance ratio), >= 0, higher is better."""
    return float(skm.calinski_harabasz_score(X, labels))


def knee_point(x: np.ndarray, y: np.ndarray) -> int:
    """Index of the knee of a decreasing convex curve (Kneedle, Satopaa et al. 2011).

    Both axes are scaled to [0, 1]; the knee is the point farthest below the straight line from
    the first to the last point. Returns 0 for fewer than 3 points or a flat curve.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) < 3 or np.ptp(y) == 0:
        return 0
    xn = (x - x.min()) / np.ptp(x)
    yn = (y - y.min()) / np.ptp(y)
    return int(np.argmax((1.0 - xn) - yn))
