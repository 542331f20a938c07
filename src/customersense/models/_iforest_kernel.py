"""Compiled Isolation Forest scoring (numba), imported only when a large table is scored.

Layout: every tree is padded to a perfect binary tree of depth D (the forest's largest depth).
Node p has children 2p + 1 (x <= threshold) and 2p + 2; below a leaf shallower than D the
padding nodes have threshold +inf, so every row goes left down to position level D, where the
leaf's value sits. A walk is then D steps of arithmetic, with no child look-ups and no test for
"is this a leaf". Eight rows are walked side by side so the CPU overlaps their memory loads.
Per row, the tree values are added in tree order, the order scikit-learn adds them, so the sums
are bit for bit the same.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def path_lengths(X, feature, threshold, value, depth, out):  # pragma: no cover (compiled)
    """out[i] = sum over trees of the leaf value row i reaches. X is float32 (as scikit-learn's
    trees see it); feature, threshold: (trees, 2**depth - 1); value: (trees, 2**depth)."""
    n = X.shape[0]
    first_leaf = feature.shape[1]
    for i in range(n):
        out[i] = 0.0
    for t in range(feature.shape[0]):
        f, th, v = feature[t], threshold[t], value[t]
        i = 0
        while i + 8 <= n:
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0
            for _ in range(depth):
                a0 = 2 * a0 + 1 + np.int64(X[i, f[a0]] > th[a0])
                a1 = 2 * a1 + 1 + np.int64(X[i + 1, f[a1]] > th[a1])
                a2 = 2 * a2 + 1 + np.int64(X[i + 2, f[a2]] > th[a2])
                a3 = 2 * a3 + 1 + np.int64(X[i + 3, f[a3]] > th[a3])
                a4 = 2 * a4 + 1 + np.int64(X[i + 4, f[a4]] > th[a4])
                a5 = 2 * a5 + 1 + np.int64(X[i + 5, f[a5]] > th[a5])
                a6 = 2 * a6 + 1 + np.int64(X[i + 6, f[a6]] > th[a6])
                a7 = 2 * a7 + 1 + np.int64(X[i + 7, f[a7]] > th[a7])
            out[i] += v[a0 - first_leaf]
            out[i + 1] += v[a1 - first_leaf]
            out[i + 2] += v[a2 - first_leaf]
            out[i + 3] += v[a3 - first_leaf]
            out[i + 4] += v[a4 - first_leaf]
            out[i + 5] += v[a5 - first_leaf]
            out[i + 6] += v[a6 - first_leaf]
            out[i + 7] += v[a7 - first_leaf]
            i += 8
        while i < n:
            a = 0
            for _ in range(depth):
                a = 2 * a + 1 + np.int64(X[i, f[a]] > th[a])
            out[i] += v[a - first_leaf]
            i += 1
    return out


def perfect_trees(trees, leaf_values) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """scikit-learn ``Tree`` objects (and a per-node value array each) in the padded layout."""
    depth = max(t.max_depth for t in trees)
    n_internal = 2**depth - 1
    feature = np.zeros((len(trees), n_internal), dtype=np.int64)
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
    return feature, threshold, value, depth
