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
    """Apply the documented rule (or the fixed k) and mark the chosen row; returns (k, why).

    ``why`` is one sentence: the k, the rule that chose it, and what each other criterion says.
    A criterion whose best value is at the first or last k tried has no optimum inside the range
    and is reported as such, not as a pick (Calinski-Harabasz often falls from k = 2 on)."""
    lo, hi = int(selection["k"].min()), int(selection["k"].max())
    span = f"{lo}..{hi}"
    best = _best(selection)
    if fixed is not None:
        k, why = fixed, f"k={fixed} fixed by the user (the highest silhouette in k = {span} would be k={best})"
        selection["chosen"] = selection["k"] == k
        return k, why
    k = best
    row = selection.set_index("k").loc[k]
    edge = ", at the edge of the range (a larger k may score higher: raise --k-max)" if k == hi > lo else ""
    agree, differ = [], []
    for label, k_other in (("Davies-Bouldin", _arg(selection, "davies_bouldin", min)),
                           ("Calinski-Harabasz", _arg(selection, "calinski_harabasz", max)),
                           ("the inertia elbow", int(selection.loc[selection["is_elbow"], "k"].iloc[0]))):
        if k_other == k:
            agree.append(label)
        elif label != "the inertia elbow" and k_other in (lo, hi) and lo < hi:
            differ.append(f"{label} has no optimum within {span} (best at the edge, k={k_other})")
        else:
            differ.append(f"{label} points to k={k_other}")
    parts = [f"k={k}: the highest silhouette ({row['silhouette']:.3f}, {row['silhouette_method']}) of k = {span}{edge}"]
    if agree:
        said = agree[0] if len(agree) == 1 else f"{', '.join(agree[:-1])} and {agree[-1]}"
        parts.append(f"{said} agree{'s' if len(agree) == 1 else ''}")
    parts.extend(differ)
    selection["chosen"] = selection["k"] == k
    return k, "; ".join(parts)


def _best(selection: pd.DataFrame) -> int:
    best = selection["silhouette"].max()
    return int(selection.loc[np.isclose(selection["silhouette"], best, rtol=0, atol=1e-12), "k"].min())


def _arg(selection: pd.DataFrame, column: str, pick) -> int:
    value = pick(selection[column])
    return int(selection.loc[selection[column] == value, "k"].min())
