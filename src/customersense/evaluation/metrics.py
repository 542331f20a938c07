"""Cluster quality metrics: pure functions of ``(X, labels)``, with documented ranges.

- :func:`silhouette` in [-1, 1], higher is better; exact up to ``sample_size`` points, above that
  the mean of several independent random samples, with their spread, so the estimate says how it
  was computed and how precise it is (the exact silhouette is O(n^2)).
- :func:`davies_bouldin` in [0, inf), lower is better.
- :func:`calinski_harabasz` in [0, inf), higher is better.
- :func:`knee_point`: the knee of a decreasing convex curve (the "elbow" of inertia against k).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sklearn import metrics as skm
from sklearn.metrics.pairwise import euclidean_distances


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
    return silhouettes(X, [labels], sample_size, n_samples, random_state)[0]


def silhouettes(
    X: np.ndarray, labelings: Sequence[np.ndarray], sample_size: int = 5000, n_samples: int = 3,
    random_state: int = 0,
) -> list[SilhouetteEstimate]:
    """:func:`silhouette` of several labelings of the same points (one per k of a sweep).

    Every labeling is scored on the same seeded samples, and each sample's pairwise distances
    are computed once, in row blocks, and shared: per block, one matrix product with the
    one-hot cluster memberships of all labelings gives every point's summed distance to every
    cluster. The values equal scikit-learn's ``silhouette_score`` on the same points.
    """
    X = np.asarray(X, dtype=np.float64)
    labelings = [np.asarray(lab) for lab in labelings]
    n = len(X)
    if any(len(np.unique(lab)) < 2 for lab in labelings):
        raise ValueError("silhouette needs at least 2 clusters; got 1")
    if n <= sample_size:
        return [SilhouetteEstimate(v, 0.0, v, v, "exact", n, 1) for v in _mean_silhouettes(X, labelings)]
    rng = np.random.default_rng(random_state)
    values: list[list[float]] = [[] for _ in labelings]
    for _ in range(n_samples):
        idx = np.sort(rng.choice(n, size=sample_size, replace=False))
        ok = [i for i, lab in enumerate(labelings) if len(np.unique(lab[idx])) >= 2]
        for i, v in zip(ok, _mean_silhouettes(X[idx], [labelings[i][idx] for i in ok])):
            values[i].append(v)
    return [_sampled_estimate(np.asarray(v), sample_size) for v in values]


def _sampled_estimate(arr: np.ndarray, sample_size: int) -> SilhouetteEstimate:
    mean = float(arr.mean())
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    half = 1.96 * std / np.sqrt(len(arr)) if len(arr) > 1 else 0.0
    return SilhouetteEstimate(mean, std, mean - half, mean + half, "sampled", sample_size, len(arr))


def _mean_silhouettes(X: np.ndarray, labelings: list[np.ndarray], block_rows: int = 1024) -> list[float]:
    """Exact mean silhouette of each labeling of X (Euclidean), as scikit-learn defines it."""
    if not labelings:
        return []
    codes, onehots = [], []
    for lab in labelings:
        _, inverse = np.unique(lab, return_inverse=True)
        codes.append(inverse.ravel())
        onehots.append(np.eye(inverse.max() + 1)[inverse.ravel()])
    H = np.hstack(onehots)  # n x (sum of k): membership of every point in every cluster
    sums = np.empty((len(X), H.shape[1]))
    sq = (X * X).sum(axis=1)
    for i in range(0, len(X), block_rows):
        D = euclidean_distances(X[i:i + block_rows], X, X_norm_squared=sq[i:i + block_rows, None],
                                Y_norm_squared=sq[None, :])
        D.flat[i::len(X) + 1] = 0.0  # a point's distance to itself, as scikit-learn sets it
        sums[i:i + block_rows] = D @ H
    rows = np.arange(len(X))
    out, col = [], 0
    for code, onehot in zip(codes, onehots):
        k = onehot.shape[1]
        total, size = sums[:, col:col + k], onehot.sum(axis=0)
        col += k
        own = size[code]
        with np.errstate(divide="ignore", invalid="ignore"):
            intra = total[rows, code] / (own - 1)
            mean_to = total / size
        mean_to[rows, code] = np.inf
        inter = mean_to.min(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            sil = np.nan_to_num((inter - intra) / np.maximum(intra, inter))
        sil[own == 1] = 0.0  # singletons score 0, as in scikit-learn
        out.append(float(sil.mean()))
    return out


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
