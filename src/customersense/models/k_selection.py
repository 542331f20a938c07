"""Choosing k: a K-Means sweep with inertia, silhouette, Davies-Bouldin and Calinski-Harabasz.

Rule: the chosen k has the highest silhouette (ties: the smaller k). The silhouette measures
what a segment should be, customers closer to their own group than to the next one, and unlike
inertia it does not improve just because k grows. The elbow of the inertia curve (Kneedle) is
reported beside it, as are Davies-Bouldin and Calinski-Harabasz, so a reader can see whether the
criteria agree. ``--k N`` fixes k; the sweep is still reported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from ..evaluation import calinski_harabasz, davies_bouldin, knee_point, silhouettes

SELECTION_COLUMNS = (
    "k", "inertia", "silhouette", "silhouette_std", "silhouette_ci_low", "silhouette_ci_high",
    "silhouette_method", "silhouette_sample_size", "davies_bouldin", "calinski_harabasz",
    "is_elbow", "chosen",
)


def fit_kmeans(X: np.ndarray, k: int, n_init: int, random_state: int | None, init="k-means++") -> KMeans:
    return KMeans(n_clusters=k, n_init=n_init, init=init, random_state=random_state).fit(X)


def sweep_k(
    X: np.ndarray,
    k_values: Sequence[int],
    *,
    n_init: int = 4,
    random_state: int | None = 0,
    silhouette_sample_size: int = 5000,
    silhouette_samples: int = 3,
) -> tuple[pd.DataFrame, dict[int, KMeans]]:
    """One row per k with every criterion (``chosen`` left False for :func:`choose_k`), and the
    fitted model of every k. The silhouettes of all k share their samples' distances."""
    models = {k: fit_kmeans(X, k, n_init, random_state) for k in k_values}
    sils = silhouettes(X, [m.labels_ for m in models.values()], silhouette_sample_size,
                       silhouette_samples, random_state or 0)
    rows = []
    for (k, model), sil in zip(models.items(), sils):
        labels = model.labels_
        rows.append({
            "k": k,
            "inertia": float(model.inertia_),
            "silhouette": sil.value,
            "silhouette_std": sil.std,
            "silhouette_ci_low": sil.ci_low,
            "silhouette_ci_high": sil.ci_high,
            "silhouette_method": sil.method,
            "silhouette_sample_size": sil.sample_size,
            "davies_bouldin": davies_bouldin(X, labels),
            "calinski_harabasz": calinski_harabasz(X, labels),
        })
    table = pd.DataFrame(rows)
    table["is_elbow"] = False
    table.loc[knee_point(table["k"].to_numpy(), table["inertia"].to_numpy()), "is_elbow"] = True
    table["chosen"] = False
    return table, models


def choose_k(selection: pd.DataFrame, fixed: int | None = None) -> tuple[int, str]:
    """Apply the documented rule (or the fixed k) and mark the chosen row; returns (k, why)."""
    elbow = int(selection.loc[selection["is_elbow"], "k"].iloc[0])
    if fixed is not None:
        k, why = fixed, f"k={fixed} fixed by the user (highest silhouette would be k={_best(selection)})"
    else:
        k = _best(selection)
        row = selection.set_index("k").loc[k]
        why = (
            f"k={k}: highest silhouette ({row['silhouette']:.3f}, {row['silhouette_method']}); "
            f"inertia elbow at k={elbow}; Davies-Bouldin lowest at k={_arg(selection, 'davies_bouldin', min)}; "
            f"Calinski-Harabasz highest at k={_arg(selection, 'calinski_harabasz', max)}"
        )
    selection["chosen"] = selection["k"] == k
    return k, why


def _best(selection: pd.DataFrame) -> int:
    best = selection["silhouette"].max()
    return int(selection.loc[np.isclose(selection["silhouette"], best, rtol=0, atol=1e-12), "k"].min())


def _arg(selection: pd.DataFrame, column: str, pick) -> int:
    value = pick(selection[column])
    return int(selection.loc[selection[column] == value, "k"].min())
