"""The supervised churn and spend candidate: gradient-boosted trees trained by time split.

Features are customer summaries as of a date (:func:`customersense.clv.windows.window_features`);
the targets are what each customer did in the next H days: churned (no purchase day),
purchase days, spend. Trained on features as of ``t - H`` with the labels of ``(t - H, t]``, the
model predicts the next H days from features as of ``t``.

- churn: scikit-learn's ``HistGradientBoostingClassifier`` (log loss), so ``predict_churn`` is
  a probability P(no purchase day in the next H days);
- purchase days and spend: ``HistGradientBoostingRegressor`` with the Poisson loss (a log link:
  non-negative predictions whose mean matches the training mean).

Deterministic: no early stopping (no random validation split), and at most ``max_train``
customers are used for training, a uniform sample without replacement drawn with
``random_state``; the same inputs and seed give identical predictions. Missing features (NaN,
e.g. the mean gap of a one-time buyer) are routed by the trees themselves. From
``COMPILED_FROM`` rows the trees are walked by a compiled kernel (:mod:`._boosting_kernel`),
bit for bit scikit-learn's predictions at a third of the CPU time.

Limits (measured, default settings, H = 90 days, last 90 days as holdout): a time split learns
the behaviour of one window and applies it to the next; where the population changes between
them, the totals drift. CDNOW (one ageing cohort): holdout purchase days predicted 1.17x the
actual (1.30x three months earlier). Online Retail II 2009-2010: 0.76x with the autumn peak in
the holdout, 1.44x three months earlier. The ranking held: churn AUC 0.838 / 0.805 on CDNOW
(frequency alone 0.826 / 0.794), 0.724 / 0.752 on Online Retail II (frequency alone 0.715 /
0.734), Brier scores below the base rate's in all four. The holdout has to judge the totals.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d, validate_data

from ._base import NotFittedError

MAX_TRAIN = 50_000
COMPILED_FROM = 100_000  # rows; below, scikit-learn's own predict (no numba import or compile)


class _Constant:
    """The prediction of a target without variation (every customer churned, or nobody bought)."""

    def __init__(self, value: float) -> None:
        self.value = float(value)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.full(len(X), self.value)


class SupervisedCLV(ClassifierMixin, BaseEstimator):
    """Churn probability, purchase days and spend over a fixed horizon, from customer features.

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Of the three gradient-boosting models (scikit-learn's meaning). The defaults (40 small
        trees of 7 leaves, at least 80 customers a leaf) were chosen on held-out data: on the
        few thousand customers of Online Retail II and on CDNOW, larger or more trees overfit
        (lower holdout AUC, higher Brier score); on a planted seasonal population of 1M
        customers 100 trees of 15 leaves gain 0.003 AUC at 3x the prediction time.
    max_train : int
        Train on at most this many customers (a seeded uniform sample): the fit costs time in
        proportion to the rows and prediction does not depend on it. With these small trees,
        50,000 customers give the same holdout AUC as 200,000 (0.9776 and 0.9777 on the planted
        seasonal population of 1M customers).
    random_state : int, RandomState or None
        Seed of the training sample and of the models.
    n_threads : int or None
        OpenMP threads of scikit-learn's boosting in ``fit`` and the predictions (None: all
        cores). Default 1: on a 2-core machine shared with other work, OpenMP's waiting threads
        made the fit 5-10x and the predictions 2x slower than one thread (measured at 100k and
        1M customers); on an idle machine ``None`` predicts about twice as fast. The results
        do not depend on it.

    ``fit(X, y, purchases=None, spend=None)``: ``y`` is churned (bool or 0/1: no purchase day in
    the horizon), ``purchases`` the purchase days and ``spend`` the spend in the horizon
    (non-negative; each optional, their predictor is then unavailable). Fitted attributes:
    ``churn_model_``, ``purchases_model_``, ``spend_model_`` (None when not given),
    ``n_train_`` (customers trained on), ``train_rows_`` (their row positions), ``n_features_in_``
    (and ``feature_names_in_`` for a DataFrame: the predictions then read a frame's columns by
    name, e.g. the whole :func:`~customersense.clv.windows.window_features` frame).
    """

    # Declared for scikit-learn's estimator checks (tests/clv/test_supervised.py).
    expected_failed_checks: ClassVar[dict[str, str]] = {}

    def __init__(self, max_iter: int = 40, learning_rate: float = 0.1, max_leaf_nodes: int = 7,
                 min_samples_leaf: int = 80, l2_regularization: float = 0.0, max_train: int = MAX_TRAIN,
                 random_state=0, n_threads: int | None = 1) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_train = max_train
        self.random_state = random_state
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    def _validate_params(self) -> None:
        for name, low in (("max_iter", 1), ("max_leaf_nodes", 2), ("min_samples_leaf", 1), ("max_train", 2)):
            value = getattr(self, name)
            if not (isinstance(value, Integral) and value >= low):
                raise ValueError(f"{name}={value!r}: must be an integer >= {low}")
        for name in ("learning_rate", "l2_regularization"):
            value = getattr(self, name)
            if not (isinstance(value, Real) and np.isfinite(value) and value >= 0):
                raise ValueError(f"{name}={value!r}: must be a finite number >= 0")
        if self.n_threads is not None and not (isinstance(self.n_threads, Integral) and self.n_threads >= 1):
            raise ValueError(f"n_threads={self.n_threads!r}: must be an integer >= 1 or None")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate={self.learning_rate!r}: must be > 0")

    def _boosting(self, kind, seed: int, **loss):
        return kind(max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
                    min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization,
                    early_stopping=False, random_state=seed, **loss)

    def _threads(self):
        return nullcontext() if self.n_threads is None else threadpool_limits(self.n_threads, user_api="openmp")

    def fit(self, X, y, purchases=None, spend=None) -> SupervisedCLV:
        """Fit the churn model on (X, y) and, when given, the purchase-day and spend models."""
        self._validate_params()
        with self._threads():
            return self._fit(X, y, purchases, spend)

    def _fit(self, X, y, purchases, spend) -> SupervisedCLV:
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        n = len(X)
        classes, churned = _binary(y, n)
        targets = {name: _count(name, v, n) for name, v in (("purchases", purchases), ("spend", spend))}
        rng = check_random_state(self.random_state)
        rows = np.arange(n)
        if n > self.max_train:
            rows = np.sort(rng.choice(n, size=self.max_train, replace=False))
        seed = int(rng.randint(np.iinfo(np.int32).max))
        Xt, yt = X[rows], churned[rows]
        if yt.min() == yt.max():
            self.churn_model_ = _Constant(yt[0])
        else:
            self.churn_model_ = self._boosting(HistGradientBoostingClassifier, seed).fit(Xt, yt)
        for name, values in targets.items():
            model = None
            if values is not None:
                vt = values[rows]
                if vt.max() <= 0 or vt.min() == vt.max():
                    model = _Constant(vt.mean())
                else:
                    model = self._boosting(HistGradientBoostingRegressor, seed, loss="poisson").fit(Xt, vt)
            setattr(self, f"{name}_model_", model)
        self._flat: dict[str, tuple | None] = {}  # the compiled kernel's copy of the trees, built on first use
        self.classes_ = classes
        self.n_iter_ = 0 if isinstance(self.churn_model_, _Constant) else int(self.churn_model_.n_iter_)
        self.train_rows_ = rows
        self.n_train_ = int(rows.size)
        return self

    def _checked(self, X) -> np.ndarray:
        if not hasattr(self, "churn_model_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit(...) first")
        names = getattr(self, "feature_names_in_", None)
        if names is not None and hasattr(X, "columns") and set(names) <= set(X.columns):
            X = X[list(names)]  # a frame is read by name: other columns and their order do not matter
        return validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)

    def predict_churn(self, X) -> np.ndarray:
        """P(no purchase day in the horizon) per row of ``X``."""
        return self._churn(self._checked(X))

    def predict_all(self, X) -> dict[str, np.ndarray]:
        """``churn``, ``purchases`` and ``spend`` per row of ``X`` (each as its ``predict_*``),
        ``X`` checked and laid out once for the three models."""
        X = np.ascontiguousarray(self._checked(X))
        return {"churn": self._churn(X), "purchases": self._predicted("purchases", X),
                "spend": self._predicted("spend", X)}

    def _churn(self, X: np.ndarray) -> np.ndarray:
        model = self.churn_model_
        if isinstance(model, _Constant):
            return model.predict(X)
        return self._boosted("churn", model, X)

    def predict_proba(self, X) -> np.ndarray:
        """Columns P(not churned), P(churned) (one column when ``y`` had one class)."""
        p = self.predict_churn(X)
        return p[:, None] if self.classes_.size == 1 else np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        """The churned label (``classes_[-1]``) where P(churned) > 0.5, else the other."""
        churned = self.predict_churn(X) > 0.5
        return self.classes_[churned.astype(np.int64)] if self.classes_.size == 2 else np.repeat(self.classes_, len(churned))

    def _predict(self, name: str, X) -> np.ndarray:
        return self._predicted(name, self._checked(X))

    def _predicted(self, name: str, X: np.ndarray) -> np.ndarray:
        model = getattr(self, f"{name}_model_")
        if model is None:
            raise NotFittedError(f"{type(self).__name__} was fitted without {name}: pass {name}= to fit")
        return model.predict(X) if isinstance(model, _Constant) else self._boosted(name, model, X)

    def _boosted(self, name: str, model, X: np.ndarray) -> np.ndarray:
        """``model``'s prediction (P(churned) for the classifier), by the compiled kernel from
        ``COMPILED_FROM`` rows: bit for bit scikit-learn's, several times faster."""
        trees = None
        if len(X) >= COMPILED_FROM:
            flat = self.__dict__.setdefault("_flat", {})
            if name not in flat:
                from ._boosting_kernel import flat_trees

                flat[name] = flat_trees(model)
            trees = flat[name]
        if trees is None:
            with self._threads():
                return model.predict_proba(X)[:, 1] if name == "churn" else model.predict(X)
        from ._boosting_kernel import raw_predict

        workers = (os.cpu_count() or 1) if self.n_threads is None else self.n_threads
        raw = raw_predict(trees, X, workers)
        # the last lines of scikit-learn's predict_proba / predict: the model's own inverse link
        return model._loss.predict_proba(raw)[:, 1] if name == "churn" else model._loss.link.inverse(raw.ravel())

    def predict_purchases(self, X) -> np.ndarray:
        """Expected purchase days in the horizon per row of ``X``."""
        return self._predict("purchases", X)

    def predict_spend(self, X) -> np.ndarray:
        """Expected spend in the horizon per row of ``X``."""
        return self._predict("spend", X)


def _binary(y, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(classes, 0/1 codes): the larger of two labels is "churned" (True of bool, 1 of 0/1)."""
    y = column_or_1d(y, warn=True)
    if len(y) != n:
        raise ValueError(f"y has {len(y)} rows, X has {n}")
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size > 2:
        raise ValueError(f"Only binary classification is supported (churned or not); y has {classes.size} classes")
    if classes.size == 1 and classes[0] not in (0, 1):  # bool and 0/1 say which outcome it is
        raise ValueError(f"y has the one label {classes[0]!r}: pass churned as bool or 0/1")
    if classes.size == 1:
        codes = np.full(n, int(classes[0]))
    return classes, codes.astype(np.int64)


def _count(name: str, values, n: int) -> np.ndarray | None:
    if values is None:
        return None
    values = np.asarray(column_or_1d(values), dtype=np.float64)
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} rows, X has {n}")
    if not np.all(np.isfinite(values)) or values.min() < 0:
        raise ValueError(f"{name} must be finite and >= 0")
    return values
