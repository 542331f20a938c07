"""A fitted Isolation Forest as plain arrays, and its scores computed from them with numpy.

The arrays are the padded layout of :mod:`customersense.models._iforest_kernel` (every tree a
perfect binary tree; thresholds stored as float32 so that float32 features take the same
branch as in scikit-learn). The walk here is the same arithmetic in numpy, all trees at once,
level by level, and the per-tree values are added in tree order, as scikit-learn adds them: the
scores are bit for bit those of :meth:`AnomalyDetector.score_samples` (tested), without
scikit-learn's tree objects or pickle. Tables of ``COMPILED_FROM`` rows and more are walked by
the detector's compiled kernel instead, on the same arrays.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..models.anomaly import CHUNK_ROWS

ROWS_PER_CHUNK = 2048  # rows walked at once: trees x rows positions stay a few MB
# From this many rows the compiled kernel is faster (numpy: about 35 us a row, the kernel about 4
# once loaded; loading its cached machine code takes a fraction of a second, once per process).
COMPILED_FROM = 256


def warm(arrays: dict[str, np.ndarray]) -> None:
    """Load the compiled kernel now (a service calls this at start), not in the first large request."""
    if "iforest_feature" in arrays:
        score_samples(np.zeros((COMPILED_FROM, arrays["scaler_center"].shape[0])), arrays)


def forest_arrays(detector) -> dict[str, np.ndarray]:
    """The arrays of a fitted :class:`customersense.models.anomaly.AnomalyDetector`."""
    from sklearn.ensemble._iforest import _average_path_length

    from ..models._iforest_kernel import perfect_trees

    forest = detector.forest_
    if forest._max_features != detector.n_features_in_:
        raise ValueError("the anomaly detector's trees see a subset of the features; cannot freeze it")
    values = [d + a - 1.0 for d, a in zip(forest._decision_path_lengths, forest._average_path_length_per_tree)]
    feature, threshold, value, depth = perfect_trees([e.tree_ for e in forest.estimators_], values)
    denominator = len(forest.estimators_) * _average_path_length([forest._max_samples])
    return {
        "iforest_feature": feature,
        "iforest_threshold": threshold,
        "iforest_value": value,
        "iforest_denominator": np.asarray(denominator, dtype=np.float64).reshape(1),
        "iforest_offset": np.asarray([detector.offset_], dtype=np.float64),
    }


def score_samples(Z: np.ndarray, arrays: dict[str, np.ndarray], compiled_from: int = COMPILED_FROM) -> np.ndarray:
    """scikit-learn's ``score_samples`` of the scaled features ``Z`` (rows x features). From
    ``compiled_from`` rows the trees are walked by the compiled kernel, in threads (the same
    sums: both walks are tested equal to scikit-learn's)."""
    feature, threshold, value = arrays["iforest_feature"], arrays["iforest_threshold"], arrays["iforest_value"]
    denominator = arrays["iforest_denominator"]
    walk = _compiled if len(Z) >= compiled_from else _path_lengths
    chunk = CHUNK_ROWS if walk is _compiled else ROWS_PER_CHUNK
    chunks = [Z[i:i + chunk] for i in range(0, len(Z), chunk)]
    if len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            parts = list(pool.map(lambda part: walk(part, feature, threshold, value), chunks))
    else:
        parts = [walk(c, feature, threshold, value) for c in chunks]
    depths = np.concatenate(parts or [np.zeros(0)])
    # the last lines of scikit-learn's IsolationForest._compute_score_samples
    return -(2 ** (-np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0)))


def _compiled(Z: np.ndarray, feature: np.ndarray, threshold: np.ndarray, value: np.ndarray) -> np.ndarray:
    from ..models._iforest_kernel import path_lengths

    Xt = np.ascontiguousarray(Z.T, dtype=np.float32)
    return path_lengths(Xt, feature, threshold, value, int(np.log2(feature.shape[1] + 1)), np.empty(len(Z)))


def _path_lengths(Z: np.ndarray, feature: np.ndarray, threshold: np.ndarray, value: np.ndarray) -> np.ndarray:
    trees, internal = feature.shape
    depth = int(np.log2(internal + 1))
    Xt = np.ascontiguousarray(Z.T, dtype=np.float32)  # features x rows, as the trees compare them
    rows = np.arange(Z.shape[0])[None, :]
    pos = np.zeros((trees, Z.shape[0]), dtype=np.int64)
    for _ in range(depth):
        f = np.take_along_axis(feature, pos, axis=1)
        t = np.take_along_axis(threshold, pos, axis=1)
        pos = 2 * pos + 1 + (Xt[f, rows] > t)
    leaf = np.take_along_axis(value, pos - internal, axis=1)
    out = np.zeros(Z.shape[0])
    for t in range(trees):  # tree order: the sums are the same doubles as scikit-learn's
        out += leaf[t]
    return out
