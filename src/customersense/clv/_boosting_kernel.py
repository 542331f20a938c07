"""Compiled prediction of scikit-learn's histogram gradient boosting (numba), for large tables.

scikit-learn walks its trees one at a time over all rows, copying a 13-field node record at
every step: about 50 ns per row and tree here, 5-7 s for the three 40-tree models at 1M
customers. This kernel walks every tree for one row before the next row, from flat node arrays.

Exactness: the same decisions as scikit-learn's ``_predict_one_from_raw_data`` for numeric
features (NaN goes where ``missing_go_to_left`` says, else ``x <= num_threshold`` goes left, in
float64), and the raw score of a row is ``baseline`` plus the tree values added in tree order,
the order scikit-learn adds them; the inverse link is the model's own. The predictions are bit
for bit scikit-learn's (tested). Categorical splits are not handled: :func:`flat_trees` returns
None and the caller keeps scikit-learn's predict.
"""

from __future__ import annotations

import numpy as np

from .._numba_cache import njit  # numba.njit, its cache in a per-user folder (not the package)


@njit(nogil=True, cache=True)
def raw_scores(X, baseline, start, feature, threshold, missing_left, left, right, is_leaf, value, out):  # pragma: no cover
    """out[i] = baseline + sum over trees (in order) of the value of the leaf row i reaches.
    X: float64 (rows, features), C order; start[t]: the root of tree t in the flat arrays."""
    for i in range(X.shape[0]):
        acc = baseline
        for t in range(start.shape[0]):
            node = start[t]
            while not is_leaf[node]:
                x = X[i, feature[node]]
                if np.isnan(x):
                    node = left[node] if missing_left[node] else right[node]
                elif x <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            acc += value[node]
        out[i] = acc


def flat_trees(model) -> tuple | None:
    """The trees of a fitted single-output ``HistGradientBoosting*`` as flat arrays (children
    as global node numbers), or None when the kernel cannot reproduce it (categorical splits,
    several trees per iteration, an unknown layout)."""
    predictors = getattr(model, "_predictors", None)
    baseline = getattr(model, "_baseline_prediction", None)
    if predictors is None or baseline is None or np.size(baseline) != 1:
        return None
    if any(len(it) != 1 for it in predictors):
        return None
    nodes = [it[0].nodes for it in predictors]
    if any(n["is_categorical"].any() for n in nodes):
        return None
    sizes = np.array([len(n) for n in nodes], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    allnodes = np.concatenate(nodes)
    offset = np.repeat(start, sizes)
    return (
        float(np.ravel(baseline)[0]), start,
        allnodes["feature_idx"].astype(np.int64), allnodes["num_threshold"].astype(np.float64),
        allnodes["missing_go_to_left"].astype(np.bool_),
        allnodes["left"].astype(np.int64) + offset, allnodes["right"].astype(np.int64) + offset,
        allnodes["is_leaf"].astype(np.bool_), allnodes["value"].astype(np.float64),
    )


def raw_predict(trees: tuple, X: np.ndarray, workers: int = 1) -> np.ndarray:
    """scikit-learn's ``_raw_predict`` (shape (n, 1)) by the kernel, rows split over ``workers``
    threads (the kernel releases the GIL; each row's sum does not depend on the split)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    out = np.empty(len(X), dtype=np.float64)
    if workers <= 1 or len(X) < 2 * workers:
        raw_scores(X, *trees, out)
        return out[:, None]
    from concurrent.futures import ThreadPoolExecutor

    bounds = np.linspace(0, len(X), workers + 1).astype(np.int64)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda k: raw_scores(X[bounds[k]:bounds[k + 1]], *trees, out[bounds[k]:bounds[k + 1]]),
                      range(workers)))
    return out[:, None]
