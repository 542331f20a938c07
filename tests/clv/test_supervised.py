"""The supervised churn and spend model (clv.supervised): planted truth on a population where
purchases are regular (not Poisson), determinism, the training sample, scikit-learn's contract."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from customersense.clv import BetaGeoFitter
from customersense.clv.summary import purchase_days, rfm_summary
from customersense.clv.supervised import MAX_TRAIN, SupervisedCLV
from customersense.clv.windows import FEATURES, window_features

from .simulate import clean_table, simulate_seasonal

H = 90
F = list(FEATURES)


@pytest.fixture(scope="module")
def seasonal():
    """Time split of design15: features at train_end = last - 2H with the labels of
    (train_end, cal_end]; the holdout is features at cal_end with the labels of (cal_end, last]."""
    tx, truth = simulate_seasonal(4_000, seed=0)
    clean = clean_table(tx)
    days = purchase_days(clean)
    last = tx["purchase_date"].max()
    train = window_features(days, last - dt.timedelta(2 * H), H)
    hold = window_features(days, last - dt.timedelta(H), H)
    return clean, last, train, hold


def _fit(train: pd.DataFrame, **kw) -> SupervisedCLV:
    return SupervisedCLV(**kw).fit(train[F], train["label_churn"], train["label_purchases"], train["label_spend"])


def test_supervised_beats_the_baselines_and_bgnbd_where_purchases_are_regular(seasonal):
    clean, last, train, hold = seasonal
    model = _fit(train, random_state=0)
    y = hold["label_churn"].to_numpy()
    assert 0.4 < y.mean() < 0.8  # measured: 0.60 of the customers make no purchase in the holdout
    p = model.predict_churn(hold[F])
    auc, brier = roc_auc_score(y, p), brier_score_loss(y, p)
    frequency_auc = roc_auc_score(y, -hold["purchase_days"])
    recency_auc = roc_auc_score(y, hold["days_since_last"])
    # measured with seed 0: supervised AUC 0.975, Brier 0.053; frequency alone 0.762, recency
    # alone 0.838; the base rate's Brier score is 0.24
    assert auc > 0.95 and auc > max(frequency_auc, recency_auc) + 0.1
    assert brier < 0.08 < 0.2 < y.mean() * (1 - y.mean())
    # BG/NBD on the same holdout (design15: P(no purchase in H) = 1 - pa (1 - ((alpha+T)/(alpha+T+H))^(r+x)));
    # measured: AUC 0.887, Brier 0.135 (Pareto/NBD: 0.883, 0.137)
    summary = rfm_summary(clean, last - dt.timedelta(H), time_unit="days")
    assert list(summary["customer_id"]) == list(hold["customer_id"])
    x, tx, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    bg = BetaGeoFitter().fit(x, tx, T)
    r, alpha = bg.params_["r"], bg.params_["alpha"]
    btyd = 1 - bg.probability_alive(x, tx, T) * (1 - ((alpha + T) / (alpha + T + H)) ** (r + x))
    assert auc > roc_auc_score(y, btyd) + 0.05 and brier < brier_score_loss(y, btyd) - 0.05
    # purchase days and spend in the holdout, in total (measured: 1.015 and 1.015 of actual)
    purchases, spend = model.predict_purchases(hold[F]), model.predict_spend(hold[F])
    assert purchases.sum() == pytest.approx(hold["label_purchases"].sum(), rel=0.1)
    assert spend.sum() == pytest.approx(hold["label_spend"].sum(), rel=0.1)
    assert purchases.min() >= 0 and spend.min() >= 0  # Poisson loss: a log link
    # the churn probability is calibrated by decile to within 0.1
    deciles = pd.qcut(p, 10, labels=False, duplicates="drop")
    table = pd.DataFrame({"p": p, "y": y}).groupby(deciles).mean()
    assert np.abs(table["p"] - table["y"]).max() < 0.1


def test_two_fits_give_identical_predictions_and_the_sample_is_seeded(seasonal):
    _, _, train, hold = seasonal
    a, b = _fit(train, random_state=3, max_train=1_000), _fit(train, random_state=3, max_train=1_000)
    for method in ("predict_churn", "predict_purchases", "predict_spend"):
        np.testing.assert_array_equal(getattr(a, method)(hold[F]), getattr(b, method)(hold[F]))
    np.testing.assert_array_equal(a.train_rows_, b.train_rows_)
    assert a.n_train_ == 1_000 and np.all(np.diff(a.train_rows_) > 0) and a.train_rows_.max() < len(train)
    other = _fit(train, random_state=4, max_train=1_000)
    assert not np.array_equal(other.train_rows_, a.train_rows_)
    # a uniform sample: its churn share within 4 standard errors of the population's
    share = train["label_churn"].mean()
    assert abs(train["label_churn"].to_numpy()[a.train_rows_].mean() - share) < 4 * np.sqrt(share * (1 - share) / 1_000)
    # the OpenMP threads change the time, not the numbers
    one, two = (_fit(train, random_state=3, max_train=1_000, max_iter=10, n_threads=k) for k in (1, 2))
    for method in ("predict_churn", "predict_purchases", "predict_spend"):
        np.testing.assert_array_equal(getattr(one, method)(hold[F]), getattr(two, method)(hold[F]))
    whole = _fit(train, random_state=3)
    assert whole.n_train_ == len(train) < MAX_TRAIN and np.array_equal(whole.train_rows_, np.arange(len(train)))


def test_a_frame_is_read_by_name_and_missing_values_are_accepted(seasonal):
    _, _, train, hold = seasonal
    model = _fit(train.iloc[:1_500])
    assert list(model.feature_names_in_) == F and model.n_features_in_ == len(F)
    assert hold["mean_gap_days"].isna().any()  # one-time buyers: no gap
    shuffled = hold[["label_churn", *F[::-1], "customer_id"]]  # other columns, another order
    np.testing.assert_array_equal(model.predict_churn(shuffled), model.predict_churn(hold[F]))
    with pytest.raises(ValueError, match="missing"):
        model.predict_churn(hold[F[1:]])
    proba = model.predict_proba(hold[F])
    np.testing.assert_array_equal(proba[:, 1], model.predict_churn(hold[F]))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(model.predict(hold[F]), proba[:, 1] > 0.5)


def test_targets_without_variation_give_constant_predictions():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    everyone = SupervisedCLV().fit(X, np.ones(200, dtype=bool), np.zeros(200), np.zeros(200))
    np.testing.assert_array_equal(everyone.predict_churn(X), np.ones(200))
    np.testing.assert_array_equal(everyone.predict_purchases(X), np.zeros(200))
    np.testing.assert_array_equal(everyone.predict_spend(X), np.zeros(200))
    nobody = SupervisedCLV().fit(X, np.zeros(200, dtype=int))
    np.testing.assert_array_equal(nobody.predict_churn(X), np.zeros(200))


def test_bad_input_and_an_unfitted_model_are_refused():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(100, 3)), rng.uniform(size=100) < 0.5
    with pytest.raises(NotFittedError):
        SupervisedCLV().predict_churn(X)
    only_churn = SupervisedCLV().fit(X, y)
    with pytest.raises(NotFittedError, match="fitted without purchases"):
        only_churn.predict_purchases(X)
    with pytest.raises(ValueError, match="Only binary"):
        SupervisedCLV().fit(X, np.arange(100) % 3)
    with pytest.raises(ValueError, match="spend must be finite and >= 0"):
        SupervisedCLV().fit(X, y, spend=-np.ones(100))
    with pytest.raises(ValueError, match="purchases has 99 rows"):
        SupervisedCLV().fit(X, y, purchases=np.ones(99))
    with pytest.raises(ValueError, match="n_threads=0"):
        SupervisedCLV(n_threads=0).fit(X, y)
    with pytest.raises(ValueError, match="max_train=1"):
        SupervisedCLV(max_train=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features"):
        only_churn.predict_churn(X[:, :2])
    assert clone(SupervisedCLV(max_iter=7)).get_params()["max_iter"] == 7


def _declared(estimator) -> dict[str, str]:
    return type(estimator).expected_failed_checks


@parametrize_with_checks([SupervisedCLV(max_iter=10)], expected_failed_checks=_declared)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_the_compiled_predictions_are_scikit_learns_bit_for_bit(seasonal, monkeypatch, n_threads):
    import customersense.clv.supervised as supervised

    _, _, train, hold = seasonal
    model = _fit(train, n_threads=n_threads)
    X = hold[F].to_numpy()
    assert np.isnan(X).any()  # the missing-value routes are walked
    expected = {
        "predict_churn": model.churn_model_.predict_proba(X)[:, 1],
        "predict_purchases": model.purchases_model_.predict(X),
        "predict_spend": model.spend_model_.predict(X),
    }
    together = {"churn": "predict_churn", "purchases": "predict_purchases", "spend": "predict_spend"}
    for key, values in model.predict_all(hold).items():  # scikit-learn's own predict below COMPILED_FROM
        np.testing.assert_array_equal(values, expected[together[key]])
    monkeypatch.setattr(supervised, "COMPILED_FROM", 1)  # the kernel for these 4,000 rows
    for method, want in expected.items():
        np.testing.assert_array_equal(getattr(model, method)(hold), want)
    for key, values in model.predict_all(hold).items():  # X checked once for the three models
        np.testing.assert_array_equal(values, expected[together[key]])
    assert set(model._flat) == {"churn", "purchases", "spend"} and all(model._flat.values())


def test_a_model_with_categorical_splits_keeps_scikit_learns_predict():
    from sklearn.ensemble import HistGradientBoostingRegressor

    from customersense.clv._boosting_kernel import flat_trees

    rng = np.random.default_rng(4)
    X = np.column_stack([rng.integers(0, 4, 500), rng.normal(size=500)])
    y = np.where(X[:, 0] == 2, 5.0, 1.0) + rng.uniform(size=500)
    model = HistGradientBoostingRegressor(max_iter=5, categorical_features=[0]).fit(X, y)
    assert flat_trees(model) is None
