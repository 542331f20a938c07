"""Issue 15's planted-truth acceptance: the model chosen on the holdout ranks churners about as
well as the true model does, and the supervised model wins where buy-till-you-die is wrong.

Customers are simulated from known BG/NBD and Pareto/NBD parameters (tests/clv/simulate.py);
the *oracle* is the true model with the true population parameters, scoring each customer of
the holdout population by its P(no purchase in the holdout) given its calibration history.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from customersense.clv import BetaGeoFitter, ParetoNBDFitter, rfm_summary
from customersense.clv.holdout import auc
from customersense.clv.stage import run_clv
from customersense.config import CLVConfig

from .simulate import clean_table, last_day, simulate_bgnbd, simulate_pareto_nbd, simulate_seasonal

WEEK = 7.0


def _oracle_auc(model, clean, result) -> float:
    rec = result.record["holdout"]
    cal_end, end = dt.date.fromisoformat(rec["calibration_end"]), dt.date.fromisoformat(rec["holdout_end"])
    s = rfm_summary(clean, cal_end, time_unit="weeks", holdout_end=end)
    assert len(s) == rec["customers"]
    churn = model.probability_no_purchase(rec["days"] / WEEK, s["frequency"], s["recency"], s["T"])
    return auc(churn, s["holdout_frequency"].to_numpy() == 0)


def _chosen(result):
    table = result.holdout.set_index("candidate")
    return table.index[table["chosen"]].item(), table


@pytest.mark.parametrize("truth", ["bgnbd", "pareto"])
def test_the_chosen_model_ranks_churners_within_0_02_of_the_true_model(truth):
    if truth == "bgnbd":  # CDNOW's BG/NBD parameters, alpha per day
        tx, _ = simulate_bgnbd(4000, r=0.243, alpha=4.414 * WEEK, a=0.793, b=2.426, seed=11)
        oracle = BetaGeoFitter()
        oracle.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    else:  # CDNOW's Pareto/NBD parameters, alpha and beta per day
        tx, _ = simulate_pareto_nbd(4000, r=0.553, alpha=10.578 * WEEK, s=0.606, beta=11.669 * WEEK, seed=12)
        oracle = ParetoNBDFitter()
        oracle.params_ = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    clean = clean_table(tx)
    result = run_clv(clean, last_day() + dt.timedelta(days=1), CLVConfig())
    chosen, table = _chosen(result)
    oracle_auc = _oracle_auc(oracle, clean, result)
    assert table.loc[chosen, "churn_auc"] >= oracle_auc - 0.02, (chosen, table.loc[chosen, "churn_auc"], oracle_auc)
    # every candidate's calibration by decile is in the record; the chosen one's is the figure's table
    for row in result.record["candidates"]:
        if row["kind"] != "baseline":
            assert [d["decile"] for d in row["deciles"]] == list(range(1, 11))
            assert sum(d["customers"] for d in row["deciles"]) == result.record["holdout"]["customers"]
    mine = next(row for row in result.record["candidates"] if row["chosen"])["deciles"]
    np.testing.assert_allclose([d["actual_churn"] for d in mine], result.deciles["actual_churn"], atol=1e-6)
    # and the chosen probabilities are calibrated: the predicted churn share is near the actual one
    deciles = result.deciles
    weights = deciles["customers"] / deciles["customers"].sum()
    assert abs(((deciles["predicted_churn"] - deciles["actual_churn"]) * weights).sum()) < 0.03


def test_the_supervised_model_is_chosen_where_purchases_are_regular_and_seasonal():
    tx, _ = simulate_seasonal(4000, seed=5)
    result = run_clv(clean_table(tx), last_day(1095) + dt.timedelta(days=1), CLVConfig())
    chosen, table = _chosen(result)
    assert chosen == "Gradient boosting (time split)"
    btyd = table[table["kind"] == "btyd"]
    assert table.loc[chosen, "brier"] < btyd["brier"].min() - 0.01
    assert table.loc[chosen, "churn_auc"] > btyd["churn_auc"].max() + 0.02
    assert result.record["status"]["churn_beats_baselines"]
    cols = result.columns
    assert cols["p_alive"].isna().all() and (cols["clv_model"] == chosen).all()
    assert np.isfinite(cols[["churn_probability", "expected_spend_90d", "clv"]].to_numpy(float)).all()
