"""The CLV summaries and tracking inputs derived from one shared purchase-days table equal the
reference computation (each input rebuilt from the transactions, as before the shared table);
predictions given an already computed P(alive) equal those that compute it; the Gamma-Gamma
likelihood evaluated once per distinct frequency equals the per-customer one."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy.special import digamma, gammaln

from customersense.clv import (
    BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter, customer_lifetime_value, predict_holdout,
)
from customersense.clv.summary import (
    customer_periods, purchase_days, repeat_counts, rfm_summary, summary_frame, tracking_frames, tracking_inputs,
)
from customersense.config import EngineConfig
from customersense.engine import connect
from customersense.errors import DataError


# --- reference: every input computed from the transactions on its own ------------------------

def _ref_first(days, cut):
    first = days.group_by("customer_id").aggregate(first_day=days.purchase_date.min())
    return first.filter(first.first_day <= ibis.literal(cut))


def ref_summary(clean, cut, per, holdout_end=None):
    purchases = clean.filter(~clean.is_return)
    days = purchases.group_by(["customer_id", "purchase_date"]).aggregate(
        day_value=purchases.line_amount.cast("decimal(38, 6)").sum())
    cal = days.filter(days.purchase_date <= ibis.literal(cut)).join(_ref_first(days, cut), "customer_id")
    stats = cal.group_by("customer_id").aggregate(
        n_days=cal.count(), first_day=cal.first_day.min(), last_day=cal.purchase_date.max(),
        repeat_value=cal.day_value.sum(where=cal.purchase_date > cal.first_day).cast("float64").fill_null(0.0),
    )
    f = stats.n_days - 1
    out = stats.select(
        "customer_id", frequency=f,
        recency=stats.last_day.delta(stats.first_day, unit="day").cast("float64") / per,
        T=ibis.literal(cut).delta(stats.first_day, unit="day").cast("float64") / per,
        monetary_value=(f > 0).ifelse(stats.repeat_value / f.cast("float64"), 0.0),
    )
    if holdout_end is not None:
        hold = days.filter((days.purchase_date > ibis.literal(cut)) & (days.purchase_date <= ibis.literal(holdout_end)))
        hold_n = hold.group_by("customer_id").aggregate(holdout_frequency=hold.count())
        out = out.left_join(hold_n, "customer_id").select(
            out.columns, holdout_frequency=hold_n.holdout_frequency.fill_null(0)
        )
    df = out.order_by("customer_id").to_pandas()
    df["frequency"] = df["frequency"].astype("int64")
    if holdout_end is not None:
        df["holdout_frequency"] = df["holdout_frequency"].astype("int64")
        df["holdout_duration"] = (holdout_end - cut).days / per
    return df.reset_index(drop=True)


def ref_tracking(clean, cut, end):
    purchases = clean.filter(~clean.is_return)
    days = purchases.group_by(["customer_id", "purchase_date"]).aggregate(day_value=purchases.line_amount.sum())
    first = _ref_first(days, cut)
    cohorts = first.group_by(first_purchase_date=first.first_day).aggregate(customers=first.count())
    j = days.join(first, "customer_id")
    rep = j.filter((j.purchase_date > j.first_day) & (j.purchase_date <= ibis.literal(end)))
    repeats = rep.group_by("purchase_date").aggregate(repeat_purchases=rep.count())
    c = cohorts.order_by("first_purchase_date").to_pandas()
    r = repeats.order_by("purchase_date").to_pandas()
    c["first_purchase_date"] = pd.to_datetime(c["first_purchase_date"]).dt.date
    r["purchase_date"] = pd.to_datetime(r["purchase_date"]).dt.date
    return c, r


def random_transactions(n=3000, customers=200, seed=1):
    rng = np.random.default_rng(seed)
    start = dt.date(2021, 1, 1)
    df = pd.DataFrame({
        "customer_id": [f"c{i:04d}" for i in rng.integers(0, customers, n)],
        "purchase_date": [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 400, n)],
        "line_amount": np.round(rng.gamma(2.0, 20.0, n), 2),
        "is_return": rng.random(n) < 0.05,
    })
    df.loc[df.is_return, "line_amount"] *= -1
    late = df.customer_id < "c0020"  # first purchase after the calibration end
    df.loc[late, "purchase_date"] = [start + dt.timedelta(days=int(d)) for d in rng.integers(280, 400, late.sum())]
    return df


CUT, LAST = dt.date(2021, 9, 30), dt.date(2022, 2, 4)


@pytest.fixture(scope="module")
def shared():
    # One thread: DuckDB then adds each customer's day values in one order in both computations,
    # so the sums agree to the last bit (with more threads even the reference varies by an ulp).
    engine = connect(EngineConfig(threads=1))
    clean = engine.backend.create_table("tx", random_transactions(), temp=True)
    days = engine.materialize(purchase_days(clean), "clv_days")
    periods = customer_periods(days, [LAST, CUT], holdout=(CUT, LAST))
    return clean, days, periods, repeat_counts(days, [CUT, LAST], LAST)


def _same(new: pd.DataFrame, ref: pd.DataFrame):
    # Exact on any machine: money is summed as decimal(38, 6) on both sides (exact, so the order
    # rows are added in does not matter), then cast to float64 and divided by the same count;
    # recency and T are whole days divided by the same constant; the rest are counts.
    pd.testing.assert_frame_equal(new.reset_index(drop=True), ref.reset_index(drop=True), check_exact=True)


@pytest.mark.parametrize("time_unit,per", [("weeks", 7.0), ("days", 1.0)])
def test_shared_table_summaries_equal_reference(shared, time_unit, per):
    clean, _, periods, _ = shared
    full = summary_frame(periods, 0, LAST, time_unit=time_unit)
    cal = summary_frame(periods, 1, CUT, time_unit=time_unit, holdout_end=LAST)
    _same(full, ref_summary(clean, LAST, per))
    _same(cal, ref_summary(clean, CUT, per, LAST))
    assert len(cal) < len(full)  # some customers start after the calibration end
    _same(rfm_summary(clean, CUT, time_unit=time_unit, holdout_end=LAST), ref_summary(clean, CUT, per, LAST))


def test_shared_table_tracking_equals_reference(shared):
    clean, _, periods, repeats = shared
    for k, cut in enumerate([CUT, LAST]):
        cohorts, reps = tracking_frames(periods, repeats, k, cut)
        ref_c, ref_r = ref_tracking(clean, cut, LAST)
        _same(cohorts, ref_c)
        _same(reps, ref_r)
        new_c, new_r = tracking_inputs(clean, cut, LAST)
        _same(new_c, ref_c)
        _same(new_r, ref_r)


def test_periods_order_of_cuts_does_not_matter(shared):
    _, days, periods, _ = shared
    other = customer_periods(days, [CUT, LAST], holdout=(CUT, LAST))
    _same(summary_frame(other, 0, CUT, holdout_end=LAST), summary_frame(periods, 1, CUT, holdout_end=LAST))


@pytest.mark.parametrize("cls,params", [
    (BetaGeoFitter, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
    (ParetoNBDFitter, {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}),
])
def test_given_p_alive_gives_identical_predictions(shared, cls, params):
    s = summary_frame(shared[2], 1, CUT, holdout_end=LAST)
    model = cls()
    model.params_ = params
    spend = GammaGammaFitter()
    spend.params_ = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    cols = (s["frequency"], s["recency"], s["T"])
    p_alive = model.probability_alive(*cols)
    # Exact: without p_alive the models call the same probability_alive on the same columns.
    assert np.array_equal(model.expected_purchases(10.0, *cols), model.expected_purchases(10.0, *cols, p_alive=p_alive))
    assert np.array_equal(predict_holdout(model, s), predict_holdout(model, s, p_alive))
    pd.testing.assert_series_equal(
        customer_lifetime_value(model, spend, s), customer_lifetime_value(model, spend, s, p_alive=p_alive),
        check_exact=True,
    )
    with pytest.raises(DataError, match="p_alive has shape"):
        model.expected_purchases(10.0, *cols, p_alive=p_alive[:-1])


class _ReferenceGammaGamma(GammaGammaFitter):
    """The Gamma-Gamma likelihood with every gamma function evaluated per customer."""

    def _loglik_grad(self, params, data, weights):
        p, q, g = params
        x, m, lx, lm = data[:4]
        px = p * x
        lgm = np.log(g + m * x)
        ll = gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + px * lx + (px - 1) * lm - (px + q) * lgm
        psi = digamma(px + q)
        d_p = x * (psi - digamma(px) + lx + lm - lgm)
        d_q = psi - digamma(q) + np.log(g) - lgm
        d_g = q / g - (px + q) / (g + m * x)
        return float(np.einsum("i,i->", weights, ll)), np.array([np.einsum("i,i->", weights, d) for d in (d_p, d_q, d_g)])


def test_gamma_gamma_per_distinct_frequency_is_bit_identical():
    rng = np.random.default_rng(3)
    x = rng.geometric(0.3, 5000).astype(float)
    m = rng.gamma(6.0, 1.0 / rng.gamma(3.7, 1 / 15.4, 5000)) * 1.0
    # Bit for bit by construction, on any machine: p * u for a distinct u is the same product as
    # p * x for each x = u, so gammaln/digamma get the same arguments and give the same values;
    # the per-customer terms are then added in the same order and summed by the same einsum on
    # arrays of the same length, so every likelihood and gradient, and so the optimiser's path,
    # is the same.
    new, ref = GammaGammaFitter().fit(x, m), _ReferenceGammaGamma().fit(x, m)
    assert new.params_ == ref.params_
    assert new.standard_errors_ == ref.standard_errors_
    assert new.log_likelihood_ == ref.log_likelihood_


def test_stage_on_materialised_days_equals_stage_on_expressions():
    import tempfile
    from pathlib import Path

    from customersense.cleaning import clean
    from customersense.clv.stage import run_clv
    from customersense.config import CleaningPolicy, CLVConfig, load_config
    from customersense.datasets import dataset_path
    from customersense.io.readers import read_transactions

    cfg = load_config(None, {"input": {"source": str(dataset_path("cdnow_sample"))}})
    engine = connect(EngineConfig(threads=1))
    tx = read_transactions(engine, cfg.input, Path(tempfile.mkdtemp()))
    cleaned = clean(engine, tx.table, CleaningPolicy(drop_duplicates=False, drop_non_positive_price=False))
    as_of = cleaned.report.as_of
    heard = []
    shared_run = run_clv(cleaned.purchases_and_returns, as_of, CLVConfig(), engine,
                         progress=lambda *args: heard.append(args))
    plain_run = run_clv(cleaned.purchases_and_returns, as_of, CLVConfig())
    assert heard == [(i, 6, "CLV steps") for i in range(1, 7)]  # each step counted once, in order
    pd.testing.assert_frame_equal(shared_run.columns, plain_run.columns, check_exact=True)
    pd.testing.assert_frame_equal(shared_run.tracking, plain_run.tracking, check_exact=True)
    assert shared_run.record == plain_run.record
    assert shared_run.record["failed"] == {}  # every candidate fitted on the CDNOW sample
    assert len(shared_run.holdout) == 7 and shared_run.holdout["chosen"].sum() == 1


def test_money_sums_do_not_depend_on_the_order_rows_are_added():
    # As floats, (0.1 + 0.2) + 0.3 = 0.6000000000000001 but (0.3 + 0.2) + 0.1 = 0.6, and the engine's
    # threads add rows in any order: exactly 0.6 in both orders shows the sum is not a float sum.
    # (An assert of that float fact stood here: constants against constants, it could not fail.)
    rows = pd.DataFrame({
        "customer_id": ["a"] * 4, "purchase_date": [dt.date(2021, 1, 1)] + [dt.date(2021, 2, 1)] * 3,
        "line_amount": [5.0, 0.1, 0.2, 0.3], "is_return": [False] * 4,
    })
    engine = connect(EngineConfig(threads=1))
    out = [rfm_summary(engine.backend.create_table(f"t{i}", frame, temp=True), dt.date(2021, 3, 1), time_unit="days")
           for i, frame in enumerate([rows, rows.iloc[[0, 3, 2, 1]]])]
    _same(out[0], out[1])
    assert out[0]["monetary_value"].tolist() == [0.6]
