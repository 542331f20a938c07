"""Preprocessing for clustering: signed log1p, then scaling, as one scikit-learn pipeline.

Why: K-Means measures Euclidean distance. Counts and money are heavily right-skewed (one
wholesale buyer spends 1000x the median), so on raw values a handful of customers decide the
clusters; log1p turns ratios into distances ("twice as much" is the same step everywhere).
Scaling then puts days, counts and money on one footing. The log is signed,
sign(x) * log1p(|x|), because net revenue can be negative after returns.
Standard scaling is the default; robust scaling (median / IQR) is an option for data whose
log features still have heavy tails.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, RobustScaler, StandardScaler

from ..choices import SCALERS, check_choice
from ..schema import DEFAULT_SEGMENT_FEATURES as DEFAULT_FEATURES  # noqa: F401 (re-exported)


def signed_log1p(x: np.ndarray) -> np.ndarray:
    return np.copysign(np.log1p(np.abs(x)), x)


def signed_expm1(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.expm1(np.abs(x))


def make_preprocessor(scaler: str = "standard") -> Pipeline:
    check_choice("scaler", scaler, SCALERS)
    return Pipeline(
        [
            ("log", FunctionTransformer(signed_log1p, inverse_func=signed_expm1, check_inverse=False)),
            ("scale", StandardScaler() if scaler == "standard" else RobustScaler()),
        ]
    )


def feature_matrix(frame, features: Sequence[str]) -> np.ndarray:
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise ValueError(f"features {missing} not in the customer table; columns: {list(frame.columns)}")
    X = frame[list(features)].to_numpy(dtype="float64")
    if not np.isfinite(X).all():
        bad = [f for i, f in enumerate(features) if not np.isfinite(X[:, i]).all()]
        raise ValueError(f"features {bad} have missing or infinite values; choose features without gaps")
    return X
