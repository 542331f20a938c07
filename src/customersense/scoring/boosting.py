"""A fitted HistGradientBoosting model as plain arrays, and its predictions computed from them with numpy.

:func:`boosting_arrays` freezes a fitted scikit-learn ``HistGradientBoostingClassifier`` (binary,
log loss) or ``HistGradientBoostingRegressor`` (squared_error, poisson, gamma, absolute_error or
quantile loss) with numeric features only. :func:`boosting_predict` gives, from the arrays alone,
what the estimator's ``predict_proba(X)[:, 1]`` (classifier) or ``predict(X)`` (regressor) gives.

The arrays (every name starts with ``<prefix>_``)::

    feature      int32    per node: the column it splits on (0 for a leaf)
    threshold    float64  per node: go left when x <= threshold (scikit-learn's num_threshold;
                          +inf for a "split on missing values": every number left, NaN right)
    missing_left uint8    per node: 1 when NaN goes left
    left, right  int32    per node: the children, indexes within the node's own tree
    is_leaf      uint8    per node
    value        float64  per node: the leaf value (the raw score the tree adds)
    tree_offsets int64    trees + 1: tree i's nodes are [tree_offsets[i], tree_offsets[i + 1])
    baseline     float64  (1,): the raw prediction every row starts from
    link         int8     (1,): index into LINKS: identity, log (exp) or logit (expit)
    n_features   int64    (1,): the number of columns X must have

The semantics are those of scikit-learn's compiled predictor (``_predictor.pyx``,
``_predict_one_from_raw_data``, scikit-learn 1.6 to 1.9): X as float64; at a split, NaN goes
where ``missing_left`` says, any other value goes left when ``x <= threshold``; the raw
prediction is ``baseline`` plus the trees' leaf values added one tree after the other, in tree
order (as ``BaseHistGradientBoosting._raw_predict`` does); then the loss's inverse link (numpy's
exp, scipy's expit, as scikit-learn calls them). Same arithmetic in the same order: the
predictions are scikit-learn's to the bit (tested to 1e-12 relative).

The walk itself is the run's own compiled kernel (:mod:`customersense.clv._boosting_kernel`,
the one :class:`~customersense.clv.supervised.SupervisedCLV` predicts with): one tree walk for the
run and for the saved model. This module only freezes, checks and hands the arrays to it.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ..clv._boosting_kernel import raw_predict

LINKS = ("identity", "log", "logit")
# The link of each supported regression loss (the classifier's is logit).
REGRESSION_LINKS = {"squared_error": "identity", "absolute_error": "identity", "quantile": "identity",
                    "poisson": "log", "gamma": "log"}
# scikit-learn's link class for each of ours: checked when freezing, so that a scikit-learn that
# changed the mapping is refused instead of frozen wrong.
_SKLEARN_LINKS = {"identity": "IdentityLink", "log": "LogLink", "logit": "LogitLink"}
NODE_ARRAYS = ("feature", "threshold", "missing_left", "left", "right", "is_leaf", "value")


def boosting_arrays(estimator, prefix: str) -> dict[str, np.ndarray]:
    """The arrays of a fitted HistGradientBoostingClassifier (binary) or HistGradientBoostingRegressor."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.utils.validation import check_is_fitted

    _check_prefix(prefix)
    if isinstance(estimator, HistGradientBoostingClassifier):
        check_is_fitted(estimator)
        if estimator.n_trees_per_iteration_ != 1:
            raise ValueError(f"only a binary classifier can be frozen; this one has {len(estimator.classes_)} "
                             "classes")
        link = "logit"
    elif isinstance(estimator, HistGradientBoostingRegressor):
        check_is_fitted(estimator)
        if estimator.loss not in REGRESSION_LINKS:
            raise ValueError(f"loss {estimator.loss!r} cannot be frozen (supported: {', '.join(REGRESSION_LINKS)})")
        link = REGRESSION_LINKS[estimator.loss]
    else:
        raise TypeError(f"not a HistGradientBoostingClassifier or HistGradientBoostingRegressor: "
                        f"{type(estimator).__name__}")
    if type(estimator._loss.link).__name__ != _SKLEARN_LINKS[link]:
        raise ValueError(f"unexpected link {type(estimator._loss.link).__name__} for {link}; cannot freeze")
    if estimator.is_categorical_ is not None and np.any(estimator.is_categorical_):
        raise ValueError("a model with categorical features cannot be frozen (numeric features only)")
    trees = [iteration[0].nodes for iteration in estimator._predictors]
    if any(len(iteration) != 1 for iteration in estimator._predictors):
        raise ValueError("expected one tree per iteration")
    if not trees:
        raise ValueError("the model has no trees")
    nodes = np.concatenate(trees)
    if nodes["is_categorical"].any():
        raise ValueError("a model with categorical splits cannot be frozen (numeric features only)")
    baseline = np.asarray(estimator._baseline_prediction, dtype=np.float64)
    if baseline.size != 1:
        raise ValueError("expected a single baseline prediction")
    leaf = nodes["is_leaf"].astype(bool)
    p = f"{prefix}_"
    return {
        p + "feature": np.where(leaf, 0, nodes["feature_idx"]).astype(np.int32),
        p + "threshold": np.where(leaf, 0.0, nodes["num_threshold"]).astype(np.float64),
        p + "missing_left": np.where(leaf, 0, nodes["missing_go_to_left"]).astype(np.uint8),
        p + "left": np.where(leaf, 0, nodes["left"]).astype(np.int32),
        p + "right": np.where(leaf, 0, nodes["right"]).astype(np.int32),
        p + "is_leaf": leaf.astype(np.uint8),
        p + "value": np.where(leaf, nodes["value"], 0.0).astype(np.float64),
        p + "tree_offsets": np.concatenate([[0], np.cumsum([len(t) for t in trees])]).astype(np.int64),
        p + "baseline": baseline.reshape(1).copy(),
        p + "link": np.array([LINKS.index(link)], dtype=np.int8),
        p + "n_features": np.array([estimator.n_features_in_], dtype=np.int64),
    }


def boosting_predict(arrays: dict[str, np.ndarray], prefix: str, X, workers: int = 1) -> np.ndarray:
    """``predict_proba(X)[:, 1]`` (classifier) or ``predict(X)`` (regressor) of the frozen model;
    X is rows x features, in the columns' order at fit time. Raises ValueError when the arrays are
    inconsistent (a changed bundle) or X has the wrong number of columns."""
    trees = _Trees(arrays, prefix)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != trees.n_features:
        raise ValueError(f"X has shape {X.shape}; the model needs {trees.n_features} feature columns")
    out = raw_predict(trees.flat, X, workers)[:, 0]
    if trees.link == "log":
        return np.exp(out)  # scikit-learn's LogLink.inverse
    if trees.link == "logit":
        return expit(out)  # LogitLink.inverse: scipy's expit, as scikit-learn calls it
    return out


def check_boosting_arrays(arrays: dict[str, np.ndarray], prefix: str) -> None:
    """Raise ValueError unless the ``prefix`` arrays form a model :func:`boosting_predict` can use
    (for a bundle reader to refuse a changed bundle when it loads it, not when it scores)."""
    _Trees(arrays, prefix)


class _Trees:
    """The arrays checked (a tree each, scikit-learn's depth-first node order) and flattened for
    the kernel (``flat``: children as global node numbers)."""

    def __init__(self, arrays: dict[str, np.ndarray], prefix: str):
        _check_prefix(prefix)
        a = {name: _get(arrays, prefix, name) for name in (*NODE_ARRAYS, "tree_offsets", "baseline", "link",
                                                           "n_features")}
        n = a["feature"].shape[0]
        if any(a[name].ndim != 1 or a[name].shape[0] != n for name in NODE_ARRAYS):
            raise _bad(prefix, "node arrays of different lengths")
        if a["baseline"].shape != (1,) or a["link"].shape != (1,) or a["n_features"].shape != (1,):
            raise _bad(prefix, "baseline, link or n_features not one number")
        if not 0 <= int(a["link"][0]) < len(LINKS) or a["n_features"][0] < 1:
            raise _bad(prefix, "link or n_features out of range")
        self.link, self.n_features = LINKS[int(a["link"][0])], int(a["n_features"][0])
        self.baseline = float(a["baseline"][0])
        if not np.isfinite(self.baseline):
            raise _bad(prefix, "baseline not finite")
        offsets = a["tree_offsets"].astype(np.int64)
        if offsets.ndim != 1 or offsets.size < 2 or offsets[0] != 0 or offsets[-1] != n or np.any(np.diff(offsets) < 1):
            raise _bad(prefix, "tree offsets")
        leaf = a["is_leaf"] != 0
        split = ~leaf
        tree = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
        local = np.arange(n) - offsets[tree]
        size = np.diff(offsets)[tree]
        left, right, feature = a["left"].astype(np.int64), a["right"].astype(np.int64), a["feature"].astype(np.int64)
        threshold = a["threshold"].astype(np.float64)
        # scikit-learn's depth-first order: the left child next, the right child after it, inside the tree
        if np.any(split & ((left != local + 1) | (right <= left) | (right >= size))) \
                or np.any(split & ((feature < 0) | (feature >= self.n_features))) \
                or np.any(np.isnan(threshold[split])) or not np.all(np.isfinite(a["value"][leaf])):
            raise _bad(prefix, "node indexes, features, thresholds or leaf values")
        nodes = np.arange(n)
        left = np.where(leaf, nodes, left + offsets[tree])
        right = np.where(leaf, nodes, right + offsets[tree])
        parents = np.bincount(np.concatenate([left[split], right[split]]), minlength=n)
        if np.any(parents != (local != 0)):  # every node but a root has one parent: trees
            raise _bad(prefix, "node indexes")
        levels = _levels(offsets[:-1], left, right, leaf)
        end = nodes + 1  # one past the last node of each node's subtree
        for level in reversed(levels):
            inner = level[split[level]]
            if np.any(right[inner] != end[left[inner]]):
                raise _bad(prefix, "node order")  # the right child must follow the left subtree
            end[inner] = end[right[inner]]
        self.flat = (self.baseline, offsets[:-1].copy(), np.where(leaf, 0, feature), threshold,
                     a["missing_left"] != 0, left, right, leaf, a["value"].astype(np.float64))


def _levels(roots: np.ndarray, left: np.ndarray, right: np.ndarray, leaf: np.ndarray) -> list[np.ndarray]:
    """The nodes at each depth, all trees at once (ends: every node has one parent before it)."""
    levels = [roots]
    while True:
        inner = levels[-1][~leaf[levels[-1]]]
        if not inner.size:
            return levels
        levels.append(np.concatenate([left[inner], right[inner]]))


def _get(arrays: dict[str, np.ndarray], prefix: str, name: str) -> np.ndarray:
    key = f"{prefix}_{name}"
    if key not in arrays:
        raise _bad(prefix, f"{key} missing")
    array = np.asarray(arrays[key])
    if array.dtype.kind not in "biuf":
        raise _bad(prefix, f"{key} not numeric")
    return array


def _check_prefix(prefix: str) -> None:
    if not isinstance(prefix, str) or not prefix.isidentifier():
        raise ValueError(f"prefix {prefix!r}: use letters, digits and underscores")


def _bad(prefix: str, why: str) -> ValueError:
    return ValueError(f"the boosting arrays {prefix}_* are inconsistent ({why})")
