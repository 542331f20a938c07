"""CLV models: summary from raw transactions, BG/NBD, Pareto/NBD, Gamma-Gamma, evaluation, figure.

The acceptance numbers are the published CDNOW results (Fader, Hardie & Lee 2005; Fader &
Hardie's notes), reproduced from the raw 1/10 sample: weeks, calibration 1997-01-01 ..
1997-09-30, holdout to 1998-06-30.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import gammaln

from customersense.errors import DataError
from customersense.clv import (
    BetaGeoFitter, ConvergenceError, GammaGammaFitter, ParetoNBDFitter, calibration_by_frequency,
    churn_auc, customer_lifetime_value, holdout_accuracy, predict_holdout, rfm_summary,
    tracking_data, tracking_inputs,
)
from customersense.clv import _pareto

CAL_END = dt.date(1997, 9, 30)
HOLD_END = dt.date(1998, 6, 30)


def close(value, published, rel=0.005):
    return abs(value - published) <= rel * abs(published)


@pytest.fixture(scope="module")
def bgnbd(summary):
    return BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])


@pytest.fixture(scope="module")
def pareto(summary):
    return ParetoNBDFitter().fit(summary["frequency"], summary["recency"], summary["T"])


@pytest.fixture(scope="module")
def gamma_gamma(summary):
    return GammaGammaFitter().fit(summary["frequency"], summary["monetary_value"])


# --- summary -------------------------------------------------------------------------------

def test_cdnow_summary_counts(summary):
    assert list(summary.columns) == [
        "customer_id", "frequency", "recency", "T", "monetary_value", "holdout_frequency", "holdout_duration",
    ]
    assert len(summary) == 2357
    assert summary["frequency"].sum() == 2457
    assert summary["holdout_frequency"].sum() == 1882
    assert (summary["frequency"] > 0).sum() == 946
    assert summary["customer_id"].is_monotonic_increasing
    assert summary["T"].max() == pytest.approx(272 / 7) == pytest.approx(38.857, abs=1e-3)
    assert np.allclose(summary["holdout_duration"], 39.0)
    assert "distinct purchase days" in summary.attrs["purchases_counted"]
    assert (summary["recency"] <= summary["T"]).all()


def test_cdnow_customer_with_first_purchase_on_jan_1(summary):
    # Customer 00004: purchases 1997-01-01, 1997-01-18, 1997-08-02 (calibration), 1997-12-12.
    row = summary.set_index("customer_id").loc["00004"]
    assert row["frequency"] == 2
    assert row["T"] == pytest.approx(38.857, abs=1e-3)
    assert row["recency"] == pytest.approx((dt.date(1997, 8, 2) - dt.date(1997, 1, 1)).days / 7)
    assert row["monetary_value"] == pytest.approx((29.73 + 14.96) / 2)
    assert row["holdout_frequency"] == 1


def tiny_table():
    rows = [
        # customer A: two purchases on day 1 (one transaction), day 3, day 3 again, a return on day 5,
        # day 8 and a holdout purchase on day 12.
        ("A", dt.date(2020, 1, 1), 10.0, False), ("A", dt.date(2020, 1, 1), 5.0, False),
        ("A", dt.date(2020, 1, 3), 4.0, False), ("A", dt.date(2020, 1, 3), 2.0, False),
        ("A", dt.date(2020, 1, 5), -3.0, True), ("A", dt.date(2020, 1, 8), 8.0, False),
        ("A", dt.date(2020, 1, 12), 7.0, False),
        # customer B: one purchase only, plus a return in calibration.
        ("B", dt.date(2020, 1, 4), 20.0, False), ("B", dt.date(2020, 1, 6), -20.0, True),
        # customer C: first purchase after the calibration end: not summarised.
        ("C", dt.date(2020, 1, 11), 9.0, False),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "purchase_date", "line_amount", "is_return"])
    return ibis.memtable(df)


def test_summary_hand_computed_days():
    s = rfm_summary(tiny_table(), dt.date(2020, 1, 10), time_unit="days", holdout_end=dt.date(2020, 1, 20))
    assert s["customer_id"].tolist() == ["A", "B"]
    a, b = s.iloc[0], s.iloc[1]
    assert (a["frequency"], a["recency"], a["T"]) == (2, 7.0, 9.0)
    assert a["monetary_value"] == pytest.approx((6.0 + 8.0) / 2)  # day 1 (15.0) excluded; return ignored
    assert (a["holdout_frequency"], a["holdout_duration"]) == (1, 10.0)
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"], b["holdout_frequency"]) == (0, 0.0, 6.0, 0.0, 0)


def test_summary_weeks_and_errors():
    s = rfm_summary(tiny_table(), dt.date(2020, 1, 10))
    assert s.iloc[0]["T"] == pytest.approx(9 / 7)
    assert "holdout_frequency" not in s.columns
    with pytest.raises(DataError, match="time_unit"):
        rfm_summary(tiny_table(), dt.date(2020, 1, 10), time_unit="months")
    with pytest.raises(DataError, match="holdout_end"):
        rfm_summary(tiny_table(), dt.date(2020, 1, 10), holdout_end=dt.date(2020, 1, 9))
    with pytest.raises(DataError, match="no customer"):
        rfm_summary(tiny_table(), dt.date(2019, 1, 1))


def test_tracking_inputs_hand_computed():
    cohorts, repeats = tracking_inputs(tiny_table(), dt.date(2020, 1, 10), dt.date(2020, 1, 20))
    assert cohorts.to_dict("list") == {
        "first_purchase_date": [dt.date(2020, 1, 1), dt.date(2020, 1, 4)], "customers": [1, 1],
    }
    assert repeats["purchase_date"].tolist() == [dt.date(2020, 1, 3), dt.date(2020, 1, 8), dt.date(2020, 1, 12)]
    assert repeats["repeat_purchases"].tolist() == [1, 1, 1]


# --- published CDNOW parameters --------------------------------------------------------------

def test_bgnbd_reproduces_published(bgnbd):
    p = bgnbd.params_
    for name, published in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert close(p[name], published), (name, p[name])
    assert bgnbd.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)
    assert bgnbd.converged_ and bgnbd.n_customers_ == 2357
    assert set(bgnbd.identifiability_.values()) == {"identified"}
    assert all(np.isfinite(v) and v > 0 for v in bgnbd.standard_errors_.values())
    expected = bgnbd.expected_purchases(39, [2], [30.43], [38.86])[0]
    assert close(expected, 1.226)


def test_pareto_nbd_reproduces_published(pareto):
    p = pareto.params_
    for name, published in {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}.items():
        assert close(p[name], published), (name, p[name])
    assert pareto.log_likelihood_ == pytest.approx(-9595.0, abs=0.1)
    assert all(np.isfinite(v) and v > 0 for v in pareto.standard_errors_.values())


def test_gamma_gamma_reproduces_published(gamma_gamma):
    p = gamma_gamma.params_
    for name, published in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert close(p[name], published), (name, p[name])
    assert gamma_gamma.n_customers_ == 946


# --- model properties --------------------------------------------------------------------------

def test_predictions_finite_and_consistent(summary, bgnbd, pareto, gamma_gamma):
    cols = (summary["frequency"], summary["recency"], summary["T"])
    for model in (bgnbd, pareto):
        pa = model.probability_alive(*cols)
        ep = model.expected_purchases(39.0, *cols)
        assert np.all(np.isfinite(pa)) and np.all((pa >= 0) & (pa <= 1))
        assert np.all(np.isfinite(ep)) and np.all(ep >= 0)
        assert np.all(model.expected_purchases(78.0, *cols) >= ep)
        pop = model.expected_purchases_population(np.array([0.0, 10.0, 39.0, 78.0]))
        assert pop[0] == pytest.approx(0.0, abs=1e-12) and np.all(np.diff(pop) > 0)
        # Longer silence since the last purchase -> lower P(alive).
        assert model.probability_alive([3], [10.0], [40.0])[0] > model.probability_alive([3], [10.0], [60.0])[0]
    assert np.all(bgnbd.probability_alive(np.zeros(3), np.zeros(3), [1.0, 20.0, 50.0]) == 1.0)
    spend = gamma_gamma.expected_average_spend(summary["frequency"], summary["monetary_value"])
    assert np.all(np.isfinite(spend)) and np.all(spend > 0)
    p, q, g = (gamma_gamma.params_[k] for k in ("p", "q", "gamma"))
    assert spend[summary["frequency"].to_numpy() == 0] == pytest.approx(p * g / (q - 1))


def test_pareto_likelihood_matches_quadrature():
    """The series evaluation equals direct numerical integration, for alpha < beta, alpha > beta and
    parameters far apart (where the scipy hyp2f1 fallback is used)."""
    rng = np.random.default_rng(1)
    cases = ((0.55, 10.6, 0.6, 11.7), (0.55, 20.0, 0.6, 3.0), (0.5, 1.0, 3.0, 200.0), (0.3, 100.0, 2.0, 1.5))
    for r, alpha, s, beta in cases:
        x = rng.integers(0, 30, 12).astype(float)
        T = rng.uniform(1, 80, 12)
        tx = np.where(x > 0, rng.uniform(0, 1, 12) * T, 0.0)
        ll, _ = _pareto.log_terms(np.array([r, alpha, s, beta]), _pareto.ParetoData(x, tx, T))
        for i in range(x.size):
            f = lambda u: (alpha + u) ** -(r + x[i]) * (beta + u) ** -(s + 1)  # noqa: E731
            integral = integrate.quad(f, tx[i], T[i], epsrel=1e-12, epsabs=0)[0]
            ref = gammaln(r + x[i]) - gammaln(r) + r * np.log(alpha) + np.log(
                (beta / (beta + T[i])) ** s * (alpha + T[i]) ** -(r + x[i]) + s * beta**s * integral
            )
            assert ll[i] == pytest.approx(ref, abs=1e-9)


def test_grouping_weights_identical_rows(summary, bgnbd):
    doubled = pd.concat([summary, summary])
    m = BetaGeoFitter().fit(doubled["frequency"], doubled["recency"], doubled["T"])
    assert m.n_customers_ == 2 * 2357
    assert m.log_likelihood_ == pytest.approx(2 * bgnbd.log_likelihood_, rel=1e-9)
    for k, v in bgnbd.params_.items():
        assert m.params_[k] == pytest.approx(v, rel=1e-4)


def test_sklearn_conventions():
    from sklearn.base import clone

    m = ParetoNBDFitter(max_iter=50)
    assert m.get_params() == {"max_iter": 50, "penalizer_coef": 0.0}
    assert not hasattr(m, "params_")
    assert clone(m).max_iter == 50
    with pytest.raises(DataError, match="not fitted"):
        m.probability_alive([1], [1.0], [2.0])


def test_use_before_fit_raises_scikit_learns_not_fitted_error():
    from sklearn.exceptions import NotFittedError

    calls = [
        (BetaGeoFitter(), "probability_alive", ([1], [1.0], [2.0])),
        (BetaGeoFitter(), "expected_purchases", (4, [1], [1.0], [2.0])),
        (ParetoNBDFitter(), "expected_purchases_population", (4,)),
        (GammaGammaFitter(), "expected_average_spend", ([2], [10.0])),
    ]
    for model, method, args in calls:
        with pytest.raises(NotFittedError, match=f"{type(model).__name__} is not fitted yet") as info:
            getattr(model, method)(*args)
        assert isinstance(info.value, DataError)  # the CLI prints it as one line


def test_converged_reports_what_the_optimiser_said(summary, bgnbd):
    assert bgnbd.converged_ and bgnbd.convergence_message_.startswith("CONVERGENCE")
    # CDNOW needs 17 L-BFGS-B iterations from the first start; stopped at 15 every start is
    # near enough to the optimum to be accepted (gradient < 1e-4), but the optimiser did not converge
    early = BetaGeoFitter(max_iter=15).fit(summary["frequency"], summary["recency"], summary["T"])
    assert early.converged_ is False
    assert "ITERATIONS REACHED LIMIT" in early.convergence_message_ and early.n_iterations_ == 15
    for name, value in bgnbd.params_.items():
        assert early.params_[name] == pytest.approx(value, rel=1e-3)


def test_degenerate_inputs_raise_clear_errors():
    zeros, T = np.zeros(50), np.linspace(1, 40, 50)
    for cls in (BetaGeoFitter, ParetoNBDFitter):
        with pytest.raises(ConvergenceError, match="no customer has a repeat purchase"):
            cls().fit(zeros, zeros, T)
    assert issubclass(ConvergenceError, DataError)
    with pytest.raises(ConvergenceError, match="same monetary_value"):
        GammaGammaFitter().fit([1, 2, 3], [5.0, 5.0, 5.0])
    with pytest.raises(DataError, match="monetary_value > 0"):
        GammaGammaFitter().fit([1, 2, 3], [5.0, 0.0, 6.0])
    with pytest.raises(DataError, match="recency"):
        BetaGeoFitter().fit([1, 2], [5.0, 50.0], [10.0, 20.0])
    with pytest.raises(DataError, match="missing"):
        BetaGeoFitter().fit([1, np.nan], [1.0, 1.0], [2.0, 2.0])


def test_optimiser_failure_raises(summary):
    with pytest.raises(ConvergenceError, match="did not converge"):
        BetaGeoFitter(max_iter=2).fit(summary["frequency"], summary["recency"], summary["T"])


def test_unidentified_fit_is_kept_and_reported_not_identified():
    # Every customer buys exactly once more, right at the start: no heterogeneity to identify.
    n = 200
    x, tx, T = np.ones(n), np.full(n, 1.0), np.full(n, 30.0)
    # (This used to raise ConvergenceError "not identified". Issue 15: a flat optimum is kept and
    # reported: every parameter "not identified", finite estimates, never NaN parameters.)
    for cls in (BetaGeoFitter, ParetoNBDFitter):
        m = cls().fit(x, tx, T)
        assert set(m.identifiability_.values()) == {"not identified"}, (cls, m.identifiability_)
        assert all(np.isfinite(v) and v > 0 for v in m.params_.values())
        assert np.isfinite(m.log_likelihood_)


# --- CLV ----------------------------------------------------------------------------------------

class _LinearModel:
    """Stub transaction model: one purchase per week, forever."""

    def expected_purchases(self, t, frequency, recency, T):
        return np.full(len(np.asarray(frequency)), float(t))

    def expected_purchases_population(self, t):
        return np.asarray(t, dtype=float) * 0.5


class _ConstantSpend:
    def expected_average_spend(self, frequency, monetary_value):
        return np.full(len(np.asarray(frequency)), 10.0)


def test_clv_discounting_hand_case():
    s = pd.DataFrame({"customer_id": ["a"], "frequency": [1], "recency": [1.0], "T": [2.0], "monetary_value": [10.0]})
    clv = customer_lifetime_value(_LinearModel(), _ConstantSpend(), s, horizon=3, discount_rate=0.1, margin=0.5,
                                  time_unit="days", period_days=30)
    # 30 purchases per period * 10 spend * 0.5 margin, discounted 1.1^-1, 1.1^-2, 1.1^-3.
    assert clv["a"] == pytest.approx(150 * (1 / 1.1 + 1 / 1.1**2 + 1 / 1.1**3))
    assert clv.name == "clv" and clv.index.name == "customer_id"


def test_clv_on_cdnow(summary, bgnbd, pareto, gamma_gamma):
    for model in (bgnbd, pareto):
        clv = customer_lifetime_value(model, gamma_gamma, summary, horizon=12, discount_rate=0.01)
        assert len(clv) == 2357 and np.all(np.isfinite(clv)) and np.all(clv >= 0)
        undiscounted = customer_lifetime_value(model, gamma_gamma, summary, horizon=12, discount_rate=0.0)
        assert np.all(undiscounted >= clv)


# --- evaluation and figure ------------------------------------------------------------------------

def test_holdout_accuracy_hand_case():
    out = holdout_accuracy([0, 2, 4], [1.0, 2.0, 2.0])
    assert out["actual_total"] == 6 and out["predicted_total"] == 5
    assert out["mae"] == pytest.approx(1.0) and out["total_error_pct"] == pytest.approx(-100 / 6)


def test_calibration_by_frequency_hand_case():
    table = calibration_by_frequency([0, 0, 1, 9, 12], [0, 2, 1, 5, 7], [0.5, 0.5, 1, 4, 6], max_frequency=7)
    assert table.index.tolist() == ["0", "1", "7+"]
    assert table.loc["0", "actual"] == 1.0 and table.loc["7+", "predicted"] == 5.0
    assert table["customers"].tolist() == [2, 1, 2]


def test_churn_auc_hand_case():
    assert churn_auc([0.9, 0.8, 0.2, 0.1], [3, 1, 0, 0]) == 1.0
    assert churn_auc([0.1, 0.2, 0.8, 0.9], [3, 1, 0, 0]) == 0.0
    with pytest.raises(DataError):
        churn_auc([0.5, 0.6], [0, 0])


def test_tracking_data_hand_case():
    cohorts = pd.DataFrame({"first_purchase_date": [dt.date(2020, 1, 1), dt.date(2020, 1, 8)], "customers": [2, 1]})
    repeats = pd.DataFrame({"purchase_date": [dt.date(2020, 1, 3), dt.date(2020, 1, 9), dt.date(2020, 1, 15)],
                            "repeat_purchases": [1, 2, 4]})
    tr = tracking_data(_LinearModel(), cohorts, repeats, dt.date(2020, 1, 15), time_unit="days")
    assert tr["period_end"].tolist() == [dt.date(2020, 1, 7), dt.date(2020, 1, 14), dt.date(2020, 1, 15)]
    assert tr["actual_cumulative"].tolist() == [1, 3, 7]
    # E[X(t)] = t/2 days: cohort 1 (2 customers) ages 6, 13, 14; cohort 2 (1 customer) ages -, 6, 7.
    assert tr["expected_cumulative"].tolist() == pytest.approx([6.0, 16.0, 17.5])


def test_evaluation_and_figure_on_cdnow(cdnow_table, summary, bgnbd, pareto, gamma_gamma):
    pred = predict_holdout(pareto, summary)
    acc = holdout_accuracy(summary["holdout_frequency"], pred)
    assert acc["actual_total"] == 1882 and 0.8 < acc["predicted_total"] / 1882 < 1.1
    assert churn_auc(pareto.probability_alive(summary["frequency"], summary["recency"], summary["T"]),
                     summary["holdout_frequency"]) > 0.6
    cohorts, repeats = tracking_inputs(cdnow_table, CAL_END, HOLD_END)
    assert cohorts["customers"].sum() == 2357
    tr = tracking_data(bgnbd, cohorts, repeats, HOLD_END, calibration_end=CAL_END)
    assert len(tr) == 78
    at_cal = tr.loc[tr["period_end"] == CAL_END].iloc[0]
    assert at_cal["actual_cumulative"] == 2457  # = sum of calibration frequency
    assert abs(at_cal["expected_cumulative"] / 2457 - 1) < 0.05
