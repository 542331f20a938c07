"""HistGradientBoosting frozen as arrays predicts what the fitted scikit-learn estimator predicts.

Truth is scikit-learn's own ``predict_proba`` / ``predict`` on the same rows; the frozen arrays
are used without the estimator. Tolerance: 1e-12 relative (the two paths add the same doubles in
the same order, so they agree exactly in practice; the tolerance only allows for a scikit-learn
that changed how it adds). The rows are chosen to reach every rule of a split: NaN where the
training data had NaN (learned direction) and where it had none (direction by counts), NaN as
the split itself (threshold +inf), values exactly on thresholds, integer features with ties,
+-inf, and trees of more than 32 and more than 64 leaves."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

from customersense.scoring import ScoringModel, load_bundle, write_bundle
from customersense.scoring.boosting import boosting_arrays, boosting_predict, check_boosting_arrays

RTOL = 1e-12
WORKERS = (1, 2)  # the kernel on one thread, and rows split over two


@pytest.fixture(autouse=True, scope="module")
def _one_openmp_thread():
    """Small fits: OpenMP threads only wait for each other (20 times slower on 2 busy cores)."""
    with threadpool_limits(limits=1):
        yield


def _features(rng, n):
    X = np.column_stack([
        rng.normal(size=n),                      # 0: NaN that matters (learned, and split on by itself)
        rng.integers(0, 1000, n).astype(float),  # 1: ties, more values than bins (thresholds at data values)
        rng.integers(0, 6, n).astype(float),     # 2: few values (thresholds between them)
        rng.normal(size=n),                      # 3: no NaN when fitted
        rng.uniform(size=n),                     # 4: NaN that does not matter
        rng.standard_t(2, size=n),               # 5: heavy tails
    ])
    X[rng.random(n) < 0.15, 0] = np.nan
    X[rng.random(n) < 0.05, 4] = np.nan
    return X


def _signal(X):
    return (0.8 * np.nan_to_num(X[:, 0]) + 1.5 * np.isnan(X[:, 0]) - 0.002 * X[:, 1] + 0.3 * X[:, 2]
            + 0.5 * np.sin(X[:, 3]) + 0.2 * np.clip(X[:, 5], -3, 3))


def _fit(kind, seed=0, n=3000, **params):
    rng = np.random.default_rng(seed)
    X = _features(rng, n)
    s = _signal(X)
    settings = {"max_iter": 40, "early_stopping": False, "random_state": seed, "min_samples_leaf": 5, **params}
    if kind == "classifier":
        return HistGradientBoostingClassifier(**settings).fit(X, rng.random(n) < 1 / (1 + np.exp(-s))), X
    if kind == "quantile":
        settings["quantile"] = 0.8
    if kind in ("poisson", "gamma"):
        mean = np.exp(0.5 * s)
        y = rng.poisson(mean) if kind == "poisson" else rng.gamma(2.0, mean / 2.0)
    else:
        y = s + rng.normal(scale=0.5, size=n)
    return HistGradientBoostingRegressor(loss=kind, **settings).fit(X, y), X


def _truth(estimator, X):
    if isinstance(estimator, HistGradientBoostingClassifier):
        return estimator.predict_proba(X)[:, 1]
    return estimator.predict(X)


def _rows(estimator, X, seed):
    """Rows the model never saw: fresh ones, NaN where it had none, +-inf, and rows exactly on
    every finite threshold of every split."""
    rng = np.random.default_rng(seed + 100)
    new = _features(rng, 500)
    new[rng.random(500) < 0.2, 3] = np.nan
    new[:20, 5] = np.inf
    new[20:40, 5] = -np.inf
    new[40:60, 1] = np.inf
    nodes = np.concatenate([p[0].nodes for p in estimator._predictors])
    splits = nodes[(nodes["is_leaf"] == 0) & np.isfinite(nodes["num_threshold"])]
    edges = X[rng.integers(0, len(X), len(splits))].copy()
    edges[np.arange(len(splits)), splits["feature_idx"]] = splits["num_threshold"]
    return np.vstack([X, new, edges])


def _assert_same(arrays, prefix, estimator, rows):
    expected = _truth(estimator, rows)
    for workers in WORKERS:
        got = boosting_predict(arrays, prefix, rows, workers=workers)
        assert got.dtype == np.float64 and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize("kind", ["classifier", "squared_error", "poisson", "gamma", "absolute_error", "quantile"])
def test_frozen_predictions_equal_scikit_learn(kind):
    estimator, X = _fit(kind, seed=1)
    arrays = boosting_arrays(estimator, "m")
    frozen = {k: v.copy() for k, v in arrays.items()}  # predictions from copies: nothing shared with the model
    _assert_same(frozen, "m", estimator, _rows(estimator, X, seed=1))


def test_every_split_rule_is_reached():
    """The fitted trees hold each kind of split the rows above are built to reach."""
    estimator, _ = _fit("classifier", seed=1)
    a = boosting_arrays(estimator, "m")
    split = a["m_is_leaf"] == 0
    nan_split = split & (a["m_threshold"] == np.inf)
    assert nan_split.any() and not a["m_missing_left"][nan_split].any()  # NaN right, every number left
    assert (split & (a["m_missing_left"] == 1)).any() and (split & (a["m_missing_left"] == 0)
                                                          & np.isfinite(a["m_threshold"])).any()
    assert set(a["m_feature"][split]) >= {0, 1, 2, 3}
    on_data = np.isin(a["m_threshold"][split & (a["m_feature"] == 1)], np.arange(1000))
    assert on_data.any()  # thresholds equal to feature values: ties decided by <=


@pytest.mark.parametrize("leaves", [40, 90])
def test_trees_with_many_leaves(leaves):
    estimator, X = _fit("squared_error", seed=2, n=4000, max_leaf_nodes=leaves, max_iter=10)
    arrays = boosting_arrays(estimator, "big")
    per_tree = np.add.reduceat(arrays["big_is_leaf"], arrays["big_tree_offsets"][:-1])
    assert per_tree.max() > (32 if leaves == 40 else 64)
    _assert_same(arrays, "big", estimator, _rows(estimator, X, seed=2))


def test_many_rows_in_threads_and_a_single_row():
    estimator, _ = _fit("classifier", seed=3)
    arrays = boosting_arrays(estimator, "churn")
    rows = _features(np.random.default_rng(7), 40_005)
    np.testing.assert_allclose(boosting_predict(arrays, "churn", rows, workers=2), _truth(estimator, rows),
                               rtol=RTOL, atol=0)
    _assert_same(arrays, "churn", estimator, rows[:1])
    assert boosting_predict(arrays, "churn", rows[:0]).shape == (0,)
    again = boosting_predict(arrays, "churn", rows[:1000])
    assert np.array_equal(boosting_predict(arrays, "churn", rows[:1000]), again)  # deterministic


def test_early_stopping_and_a_data_frame():
    """Early stopping keeps the iterations it made (the frozen trees are the ones predict uses); a
    frame fitted by name is predicted from its columns in the same order."""
    rng = np.random.default_rng(10)
    X = pd.DataFrame(_features(rng, 2000), columns=[f"f{i}" for i in range(6)])
    y = rng.random(2000) < 1 / (1 + np.exp(-_signal(X.to_numpy())))
    estimator = HistGradientBoostingClassifier(max_iter=200, early_stopping=True, n_iter_no_change=3,
                                               random_state=10).fit(X, y)
    arrays = boosting_arrays(estimator, "es")
    assert estimator.n_iter_ < 200 and len(arrays["es_tree_offsets"]) == estimator.n_iter_ + 1
    rows = pd.DataFrame(_rows(estimator, X.to_numpy(), seed=10), columns=X.columns)
    _assert_same(arrays, "es", estimator, rows)


def test_trees_without_splits_predict_the_baseline():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    estimator = HistGradientBoostingRegressor(max_iter=5).fit(X, np.full(200, 3.0))  # nothing to learn
    arrays = boosting_arrays(estimator, "flat")
    assert arrays["flat_is_leaf"].all() and len(arrays["flat_tree_offsets"]) == 6
    assert np.array_equal(boosting_predict(arrays, "flat", X), np.full(200, 3.0))  # the mean, plus zeros
    _assert_same(arrays, "flat", estimator, X)


def test_the_arrays_are_plain_numbers_and_survive_a_bundle(tmp_path):
    estimator, X = _fit("poisson", seed=5)
    arrays = boosting_arrays(estimator, "spend")
    assert all(a.dtype.kind in "iuf" for a in arrays.values())
    write_bundle(ScoringModel(spec={}, arrays=arrays), tmp_path / "model")
    loaded = load_bundle(tmp_path / "model").arrays
    assert set(loaded) == set(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and np.array_equal(loaded[name], array)
    rows = _rows(estimator, X, seed=5)
    assert np.array_equal(boosting_predict(loaded, "spend", rows), boosting_predict(arrays, "spend", rows))
    np.testing.assert_allclose(boosting_predict(loaded, "spend", rows), estimator.predict(rows), rtol=RTOL, atol=0)


def test_what_cannot_be_frozen_is_refused():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 3))
    with pytest.raises(NotFittedError):
        boosting_arrays(HistGradientBoostingClassifier(), "m")
    with pytest.raises(ValueError, match="binary"):
        boosting_arrays(HistGradientBoostingClassifier(max_iter=3).fit(X, rng.integers(0, 3, 300)), "m")
    Xc = np.column_stack([X[:, :2], rng.integers(0, 4, 300)])
    with pytest.raises(ValueError, match="categorical"):
        boosting_arrays(HistGradientBoostingRegressor(max_iter=3, categorical_features=[2]).fit(Xc, X[:, 0]), "m")
    with pytest.raises(TypeError):
        boosting_arrays(object(), "m")
    with pytest.raises(ValueError, match="prefix"):
        boosting_arrays(HistGradientBoostingRegressor(max_iter=3).fit(X, X[:, 0]), "no/slash")


def test_inconsistent_arrays_or_rows_are_refused():
    estimator, _ = _fit("classifier", seed=8, max_iter=5)
    arrays = boosting_arrays(estimator, "m")
    X = _features(np.random.default_rng(9), 10)
    with pytest.raises(ValueError, match="6 feature columns"):
        boosting_predict(arrays, "m", X[:, :5])
    check_boosting_arrays(arrays, "m")
    split = np.flatnonzero(arrays["m_is_leaf"] == 0)[0]
    for name, value in [("m_right", 10**6), ("m_left", 0), ("m_feature", 6), ("m_feature", -1),
                        ("m_threshold", np.nan), ("m_link", 7)]:
        changed = {k: v.copy() for k, v in arrays.items()}
        changed[name][split if changed[name].size > 1 else 0] = value
        with pytest.raises(ValueError, match="inconsistent"):
            boosting_predict(changed, "m", X)
        with pytest.raises(ValueError, match="inconsistent"):
            check_boosting_arrays(changed, "m")
    swapped = {k: v.copy() for k, v in arrays.items()}  # children swapped: not the depth-first order
    swapped["m_left"][split], swapped["m_right"][split] = arrays["m_right"][split], arrays["m_left"][split]
    with pytest.raises(ValueError, match="inconsistent"):
        boosting_predict(swapped, "m", X)
    with pytest.raises(ValueError, match="m_value missing"):
        boosting_predict({k: v for k, v in arrays.items() if k != "m_value"}, "m", X)
