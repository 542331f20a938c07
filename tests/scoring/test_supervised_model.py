"""A saved supervised churn model whose targets had no variation (clv.supervised's constant
stand-ins): saved as values in the spec, read back, scored with hand-computed CLV.

The run-level round trip (boosting arrays, scoring the training transactions exactly) is in
test_bundle.py; these build the saved model from a SupervisedCLV fitted here on planted data."""

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from customersense.clv.supervised import SupervisedCLV
from customersense.clv.windows import FEATURES
from customersense.config import CLVConfig
from customersense.errors import ModelError
from customersense.scoring.bundle import load_bundle, write_bundle
from customersense.scoring.model import WINDOW, ScoringModel, _freeze_supervised

H = 90
NAME = "Gradient boosting (time split)"


def _features(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.gamma(2.0, 10.0, size=(n, len(FEATURES))), columns=list(FEATURES))
    X.loc[X.index[:20], ["mean_gap_days", "gap_ratio"]] = np.nan  # one-time buyers
    return X


def _saved(estimator: SupervisedCLV, tmp_path, settings: CLVConfig) -> ScoringModel:
    arrays: dict[str, np.ndarray] = {}
    spec = {"learned": None, "clv": {
        "prediction_model": {"model": NAME}, "settings": settings.model_dump(mode="json"), "horizon_days": H,
        "horizon_months": settings.horizon_months, "scorable": True, "status": "supported", "reason": None,
        "supervised": _freeze_supervised(estimator, arrays)}}
    write_bundle(ScoringModel(spec=spec, arrays=arrays), tmp_path / "model")
    return load_bundle(tmp_path / "model")


def _scored(model: ScoringModel, X: pd.DataFrame) -> dict[str, np.ndarray]:
    return model._clv({WINDOW + c: X[c].to_numpy(np.float64) for c in X.columns}, len(X))


def test_constant_spend_and_purchases_are_values_with_the_clv_computed_by_hand(tmp_path):
    """Every training customer spent 10 in 1 purchase day: those models are constants, churn is
    boosted. CLV over 12 months in 90-day windows: 12 * 30 / 90 = 4 whole windows, window k
    (0..3) worth 10 * (1 - churn)^k discounted (1.01 per 30 days) to its end, k + 1 quarters."""
    X = _features(400, 1)
    churned = (X["days_since_last"] > X["days_since_last"].median()).to_numpy()
    with threadpool_limits(1):
        estimator = SupervisedCLV(max_iter=5, random_state=0).fit(X, churned, np.ones(400), np.full(400, 10.0))
    settings = CLVConfig(margin=0.5)
    model = _saved(estimator, tmp_path, settings)
    assert model.supervised["constants"] == {"purchases": 1.0, "spend": 10.0}
    assert "sv_churn_value" in model.arrays and not any(k.startswith("sv_spend") for k in model.arrays)
    new = _features(50, 2)
    got = _scored(model, new)
    with threadpool_limits(1):
        churn = estimator.predict_churn(new)
    np.testing.assert_array_equal(got["churn_probability"], np.round(churn, 6))
    assert (got[f"expected_purchases_{H}d"] == 1.0).all() and (got[f"expected_spend_{H}d"] == 10.0).all()
    by_hand = 0.5 * sum(10.0 * (1.0 - churn) ** k / 1.01 ** (3 * (k + 1)) for k in range(4))
    np.testing.assert_allclose(got["clv"], by_hand, rtol=0, atol=1e-6)  # the columns are rounded to 1e-6
    assert np.isnan(got["p_alive"]).all() and (got["clv_model"] == NAME).all()
    assert (got["clv_status"] == "supported").all()


def test_everyone_churned_gives_churn_one_and_no_value(tmp_path):
    X = _features(100, 3)
    with threadpool_limits(1):
        estimator = SupervisedCLV(random_state=0).fit(X, np.ones(100, dtype=bool), np.zeros(100), np.zeros(100))
    model = _saved(estimator, tmp_path, CLVConfig())
    assert model.supervised["constants"] == {"churn": 1.0, "purchases": 0.0, "spend": 0.0}
    assert not any(k.startswith("sv_") for k in model.arrays)
    got = _scored(model, _features(5, 4))
    assert (got["churn_probability"] == 1.0).all() and (got["clv"] == 0.0).all()


def test_a_customer_without_window_features_stays_empty(tmp_path):
    """Not known at the cut (no purchase day by then): all features missing, as the run leaves it."""
    X = _features(200, 5)
    churned = (X["purchase_days"] < X["purchase_days"].median()).to_numpy()
    with threadpool_limits(1):
        estimator = SupervisedCLV(max_iter=3, random_state=0).fit(X, churned, X["purchase_days_90d"], X["value_90d"])
    model = _saved(estimator, tmp_path, CLVConfig())
    new = _features(3, 6)
    new.iloc[1] = np.nan
    got = _scored(model, new)
    assert np.isnan(got["churn_probability"][1]) and np.isnan(got["clv"][1]) and got["clv_model"][1] is None
    assert np.isfinite(got["churn_probability"][[0, 2]]).all() and np.isfinite(got["clv"][[0, 2]]).all()
    with threadpool_limits(1):
        expected = np.round(estimator.predict_spend(new.iloc[[0, 2]]), 6)
    np.testing.assert_array_equal(got[f"expected_spend_{H}d"][[0, 2]], expected)


@pytest.mark.parametrize("constants, missing", [({}, "sv_purchases_feature"), ({"churn": 1.0}, "sv_spend_value")])
def test_a_bundle_missing_a_boosting_model_is_refused(tmp_path, constants, missing):
    X = _features(200, 7)
    churned = (X["purchase_days"] < X["purchase_days"].median()).to_numpy()
    with threadpool_limits(1):
        estimator = SupervisedCLV(max_iter=2, random_state=0).fit(X, churned, X["purchase_days_90d"], X["value_90d"])
    model = _saved(estimator, tmp_path / "ok", CLVConfig())
    spec = {**model.spec, "clv": {**model.spec["clv"], "supervised": {**model.supervised, "constants": constants}}}
    spec.pop("model_version")
    arrays = {k: v for k, v in model.arrays.items() if k != missing}
    write_bundle(ScoringModel(spec=spec, arrays=arrays), tmp_path / "bad")
    with pytest.raises(ModelError, match=f"inconsistent.*{missing} missing"):
        load_bundle(tmp_path / "bad")
