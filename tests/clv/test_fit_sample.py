"""clv.fit_sample: above it the churn/CLV candidates are fitted and ranked on a seeded hash sample
of customers, and every customer is predicted (customersense.clv.fit_sample).

- planted truth: 150,000 BG/NBD customers with known parameters, fitted on all of them and on
  samples of about 15,000 drawn by the engine's hash rule: every sample estimate is within 3 of
  its stated sampling errors of the full fit, the errors are of the right size across six seeds
  (root mean square of the standardised differences near 1) and, relative to the parameter,
  equal the full fit's relative standard errors times sqrt(N/n - 1) within 10%;
- the sample is deterministic (seed), uniform (its size within binomial error, its customers'
  means within their standard errors of everyone's) and each customer's membership depends on
  its id and the seed only;
- below the limit the stage is exactly the unsampled one; above it every customer is predicted
  by the sample's model (its recorded parameters, recomputed independently).
"""

from __future__ import annotations

import datetime as dt
import math

import ibis
import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from customersense.clv import BetaGeoFitter
from customersense.clv.candidates import describe_fit
from customersense.clv.choice import rebuild_btyd
from customersense.clv.fit_sample import FitSample, sampling_errors
from customersense.clv.stage import run_clv
from customersense.config import CLVConfig
from customersense.engine.base import SAMPLE_BUCKETS, sample_bucket
from customersense.pipeline.run import _sample_note

from ._simulate import simulate_beta_geo
from .simulate import clean_table, last_day, simulate_bgnbd

PLANTED = {"r": 0.25, "alpha": 4.4, "a": 0.8, "b": 2.4}  # alpha per week
N, SAMPLE = 150_000, 15_000


def _ids(n: int) -> np.ndarray:
    return np.array([f"c{i:06d}" for i in range(n)], dtype=object)


def buckets(ids: np.ndarray, seed: int) -> np.ndarray:
    """Each id's bucket, computed by the engine (DuckDB), in the order of ``ids``."""
    t = ibis.memtable(pd.DataFrame({"customer_id": ids, "i": np.arange(len(ids))}))
    out = t.select("i", b=sample_bucket(t.customer_id, seed).cast("int64")).order_by("i").to_pyarrow()
    return out.column("b").to_numpy()


@pytest.fixture(scope="module")
def planted():
    """N BG/NBD customers on a day grid (weeks), and the fit on all of them."""
    rng = np.random.default_rng(2024)
    T = rng.integers(70, 547, N) / 7.0
    x, tx, _ = simulate_beta_geo(rng, PLANTED, T, 13.0, modified=False)
    tx = np.minimum(np.round(tx * 7.0) / 7.0, T)
    with threadpool_limits(1):
        full = BetaGeoFitter().fit(x, tx, T)
    return _ids(N), x, tx, T, full


def _fit(x, tx, T):
    with threadpool_limits(1):
        return BetaGeoFitter().fit(x, tx, T)


def test_sample_fits_are_within_their_stated_sampling_error_of_the_full_fit(planted):
    ids, x, tx, T, full = planted
    for k, v in PLANTED.items():  # the full fit finds the planted truth
        assert abs(full.params_[k] - v) < 3 * full.standard_errors_[k], (k, full.params_[k], v)
    z = []
    for seed in range(6):
        rule = FitSample.of(N, SAMPLE, seed)
        keep = rule.mask(buckets(ids, seed))
        n = int(keep.sum())
        model = _fit(x[keep], tx[keep], T[keep])
        fit = rule.with_sampling_errors(describe_fit("BG/NBD", model), N)
        assert fit["customers"] == n and fit["customers_of"] == N
        for k in PLANTED:
            err = fit["sampling_errors"][k]
            # hand-computed: the sample's standard error times sqrt(1 - n/N)
            assert err == pytest.approx(model.standard_errors_[k] * math.sqrt(1 - n / N), rel=1e-12)
            # the stated error is of the right size: the full fit's information scaled to n customers (as
            # relative errors se / param, the log-scale ones, since the sample estimate is not the full one)
            assert err / model.params_[k] == pytest.approx(
                full.standard_errors_[k] / full.params_[k] * math.sqrt(N / n - 1), rel=0.10), (seed, k)
            d = (model.params_[k] - full.params_[k]) / err
            assert abs(d) < 3, (seed, k, model.params_[k], full.params_[k], err)
            z.append(d)
    rms = float(np.sqrt(np.mean(np.square(z))))
    assert 0.6 < rms < 1.5, (rms, z)  # 24 standardised differences (four per seed, correlated)


def test_sampling_errors_hand_case():
    assert sampling_errors({"r": 0.2, "a": 1.0}, 25, 100) == pytest.approx({"r": 0.2 * 0.75 ** 0.5, "a": 0.75 ** 0.5})
    assert sampling_errors({"r": 0.2}, 100, 100) == {"r": 0.0}


def test_the_sample_is_deterministic_uniform_and_per_customer(planted):
    ids, x, _, T, _ = planted
    rule = FitSample.of(N, SAMPLE, 7)
    assert rule.sampled and rule.cut == round(SAMPLE / N * SAMPLE_BUCKETS)
    b = buckets(ids, 7)
    keep = rule.mask(b)
    assert np.array_equal(keep, rule.mask(buckets(ids, 7)))                       # same seed, same customers
    f = SAMPLE / N
    assert abs(int(keep.sum()) - SAMPLE) < 4 * math.sqrt(N * f * (1 - f))      # binomial size
    for values in (x, T):                                                         # uniform: no tilt
        assert abs(values[keep].mean() - values.mean()) < 4 * values.std() / math.sqrt(keep.sum())
    assert b.min() >= 0 and b.max() < SAMPLE_BUCKETS
    # buckets spread evenly: each tenth of the range holds a tenth of the customers
    tenths = np.bincount(b * 10 // SAMPLE_BUCKETS, minlength=10)
    assert np.all(np.abs(tenths - N / 10) < 4 * math.sqrt(N * 0.1 * 0.9))
    other = FitSample.of(N, SAMPLE, 8).mask(buckets(ids, 8))                      # another seed: independent
    both = int((keep & other).sum())
    assert abs(both - N * f * f) < 4 * math.sqrt(N * f * f)
    order = np.random.default_rng(0).permutation(N)[: N // 3]                      # membership: id and seed only
    assert np.array_equal(rule.mask(buckets(ids[order], 7)), keep[order])


def test_no_sample_at_or_below_the_limit_or_with_zero():
    for customers, limit in ((1000, 1000), (999, 1000), (10**7, 0)):
        rule = FitSample.of(customers, limit, 3)
        assert not rule.sampled and rule.mask(np.arange(5)) is None
        assert rule.with_sampling_errors({"standard_errors": {"r": 1.0}, "customers": 5}, customers) == {
            "standard_errors": {"r": 1.0}, "customers": 5}


@pytest.fixture(scope="module")
def transactions():
    tx, _ = simulate_bgnbd(6000, r=0.243, alpha=4.414 * 7, a=0.793, b=2.426, seed=31)
    return tx


def _run(tx, **settings):
    with threadpool_limits(1):
        return run_clv(clean_table(tx), last_day() + dt.timedelta(days=1), CLVConfig(**settings))


def test_below_the_limit_the_stage_is_the_unsampled_one(transactions):
    default, unlimited = _run(transactions), _run(transactions, fit_sample=0)
    pd.testing.assert_frame_equal(default.columns, unlimited.columns, check_exact=True)
    pd.testing.assert_frame_equal(default.holdout, unlimited.holdout, check_exact=True)
    pd.testing.assert_frame_equal(default.deciles, unlimited.deciles, check_exact=True)
    a, b = dict(default.record), dict(unlimited.record)
    sa, sb = a.pop("fit_sample"), b.pop("fit_sample")
    assert a == b
    assert not sa["sampled"] and not sb["sampled"] and sa["customers_fitted"] == sa["customers"] == 6000
    assert "sampling_errors" not in a["prediction_model"]["transactions"]


def test_the_limit_is_zero_or_at_least_ten_thousand():
    assert CLVConfig().fit_sample == 200_000 and CLVConfig(fit_sample=0).fit_sample == 0
    assert CLVConfig(fit_sample=10_000).fit_sample == 10_000
    with pytest.raises(Exception, match="at least 10,000"):
        CLVConfig(fit_sample=9_999)


def test_above_the_limit_every_customer_is_predicted_by_the_sample_model():
    tx, _ = simulate_bgnbd(24_000, r=0.243, alpha=4.414 * 7, a=0.793, b=2.426, seed=32)
    result = _run(tx, fit_sample=10_000, model="bgnbd")
    rec = result.record
    ids = result.columns.index.to_numpy(dtype=object)
    keep = FitSample.of(len(ids), 10_000, 0).mask(buckets(ids, 0))
    info = rec["fit_sample"]
    assert info["sampled"] and info["customers"] == 24_000 and info["customers_fitted"] == int(keep.sum())
    assert rec["holdout"]["customers"] == info["holdout_customers_scored"] <= info["customers_fitted"]
    assert info["holdout_customers_known"] == 24_000  # every simulated customer bought before the calibration end
    fit = rec["prediction_model"]["transactions"]
    assert fit["customers"] == int(keep.sum()) and fit["customers_of"] == 24_000
    assert set(fit["sampling_errors"]) == set(fit["params"]) == set(PLANTED)
    for row in rec["candidates"]:
        if row["kind"] == "btyd":
            assert row["fit"]["customers"] == rec["holdout"]["customers"] and "sampling_errors" in row["fit"]
    # the refit is the BG/NBD fit on the sampled customers' whole history, as fitted directly
    cols = result.columns
    x, tx, T = (cols[c].to_numpy(float) for c in ("clv_frequency", "clv_recency", "clv_T"))
    direct = _fit(x[keep], tx[keep], T[keep])
    assert direct.params_ == pytest.approx(fit["params"], rel=1e-9)
    # and it predicts every customer, sampled or not
    model, _ = rebuild_btyd(rec["prediction_model"])
    churn = model.probability_no_purchase(90 / 7, x, tx, T)
    assert len(cols) == 24_000 and np.all(np.isfinite(cols["clv"].to_numpy(float)))
    np.testing.assert_allclose(cols["churn_probability"].to_numpy(float), churn, atol=1e-6)
    np.testing.assert_allclose(cols["p_alive"].to_numpy(float), model.probability_alive(x, tx, T), atol=1e-6)
    # the run's note says it plainly, with the largest relative sampling error of the parameters
    note = _sample_note(info, fit)
    assert f"sample of {int(keep.sum()):,} of the 24,000 customers" in note
    worst = max(fit["sampling_errors"][k] / v for k, v in fit["params"].items())
    assert f"at most {100 * worst:.1f}% of their value" in note
