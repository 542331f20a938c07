"""Compiled Isolation Forest scoring (numba), imported only when a large table is scored.

Layout: every tree is padded to a perfect binary tree of depth D (the forest's largest depth).
Node p has children 2p + 1 (x <= threshold) and 2p + 2; below a leaf shallower than D the
padding nodes have threshold +inf, so every row goes left down to position level D, where the
leaf's value sits. A walk is then D steps of arithmetic, with no child look-ups and no test for
"is this a leaf".

Rows are taken in blocks of ``BLOCK`` (their features, feature-major, stay in L1) and every tree
walks the whole block level by level (breadth first), so the steps of different rows are
independent and the CPU overlaps them. The top ``TOP_LEVELS`` levels hold few nodes: there every
node's test is applied to every row with a mask (contiguous loads, no branches, SIMD), which is
cheaper than one gathered test per row. Below, one gathered test per row and level.

Exactness: X is float32 (as scikit-learn's trees see it) and scikit-learn tests
``x <= threshold`` in float64. Each threshold is stored as the largest float32 not above it
(:func:`float32_thresholds`), for which ``x > t32`` equals ``x > t64`` for every float32 x.
Per row, the tree values are added in tree order, the order scikit-learn adds them, so the sums
are bit for bit the same.
"""

from __future__ import annotations

import numpy as np
from .._numba_cache import njit  # numba.njit, its cache in a per-user folder (not the package)

BLOCK = 1024  # rows walked together: 5 features x 1024 float32 + positions fit in L1
TOP_LEVELS = 4  # levels tested node by node on all rows of a block (1 + 2 + 4 + 8 nodes)


@njit(nogil=True, cache=True)
def path_lengths(Xt, feature, threshold, value, depth, out):  # pragma: no cover (compiled)
    """out[i] = sum over trees of the leaf value row i reaches. Xt is float32, feature-major
    (features, rows); feature: int32, threshold: float32 (:func:`perfect_trees`), both
    (trees, 2**depth - 1); value: float64 (trees, 2**depth)."""
    n = Xt.shape[1]
    n_internal = feature.shape[1]
    top = min(depth, TOP_LEVELS)
    X = Xt.ravel()
    offset = np.empty(feature.shape, np.uint64)  # where feature f of row 0 starts in X
    for t in range(feature.shape[0]):
        for p in range(n_internal):
            offset[t, p] = np.uint64(feature[t, p]) * np.uint64(n)
    pos = np.empty(BLOCK, np.uint32)
    one, two = np.uint32(1), np.uint32(2)
    for b0 in range(0, n, BLOCK):
        m = min(BLOCK, n - b0)
        for i in range(m):
            out[b0 + i] = 0.0
        for t in range(feature.shape[0]):
            f, th, v, o = feature[t], threshold[t], value[t], offset[t]
            for i in range(m):
                pos[i] = 0
            for level in range(top):  # every node of the level on every row, masked
                for i in range(m):
                    pos[i] = two * pos[i] + one
                for p in range(2**level - 1, 2 ** (level + 1) - 1):
                    x, th_p, left = Xt[f[p], b0:b0 + m], th[p], np.uint32(2 * p + 1)
                    for i in range(m):
                        pos[i] += np.uint32(pos[i] == left) & np.uint32(x[i] > th_p)
            for _ in range(top, depth):  # one gathered test per row
                for i in range(m):
                    p = pos[i]
                    pos[i] = two * p + one + np.uint32(X[o[p] + np.uint64(b0 + i)] > th[p])
            for i in range(m):
                out[b0 + i] += v[pos[i] - np.uint32(n_internal)]
    return out


def float32_thresholds(threshold: np.ndarray) -> np.ndarray:
    """The largest float32 not above each float64 threshold: for float32 x (and +-inf),
    ``x > result`` exactly when ``x > threshold``. (If t32 <= t and x > t then x > t32; if
    x > t32 then x >= the next float32 above t32, which is above t, t32 being the largest.)"""
    with np.errstate(over="ignore"):  # beyond the float32 range: +-inf, then stepped back below
        t32 = threshold.astype(np.float32)
    return np.where(t32 > threshold, np.nextafter(t32, np.float32(-np.inf)), t32)


def perfect_trees(trees, leaf_values) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """scikit-learn ``Tree`` objects (and a per-node value array each) in the padded layout:
    feature (int32), threshold (float32, :func:`float32_thresholds`), value, depth."""
    depth = max(t.max_depth for t in trees)
    n_internal = 2**depth - 1
    feature = np.zeros((len(trees), n_internal), dtype=np.int32)
    threshold = np.full((len(trees), n_internal), np.inf)
    value = np.zeros((len(trees), n_internal + 1))
    for k, (tree, values) in enumerate(zip(trees, leaf_values)):
        left, right = tree.children_left, tree.children_right
        stack = [(0, 0, 0)]  # (node in the tree, position in the perfect tree, level)
        while stack:
            node, pos, level = stack.pop()
            if left[node] == -1:
                value[k, (pos + 1) * 2 ** (depth - level) - 1 - n_internal] = values[node]
            else:
                feature[k, pos], threshold[k, pos] = tree.feature[node], tree.threshold[node]
                stack += [(left[node], 2 * pos + 1, level + 1), (right[node], 2 * pos + 2, level + 1)]
    return feature, float32_thresholds(threshold), value, depth
