"""The holdout metrics (clv/holdout.py) against hand-computed cases and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import brier_score_loss, roc_auc_score

from customersense.clv.holdout import Outcome, Prediction, auc, deciles, gains, scores
from customersense.errors import DataError


def test_auc_hand_case_with_a_tie():
    # churners scored 0.9 and 0.5; buyers 0.5 and 0.1: pairs (0.9>0.5, 0.9>0.1, 0.5=0.5 half, 0.5>0.1) = 3.5/4
    assert auc(np.array([0.9, 0.5, 0.5, 0.1]), np.array([1, 1, 0, 0], bool)) == pytest.approx(0.875, abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=2, max_size=60))
def test_auc_equals_scikit_learn(pairs):
    score = np.array([p[0] for p in pairs], float)
    y = np.array([p[1] for p in pairs], bool)
    if y.all() or not y.any():
        with pytest.raises(DataError):
            auc(score, y)
        return
    assert auc(score, y) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_scores_hand_case():
    outcome = Outcome.from_counts([0, 2, 0, 1], [0.0, 30.0, 0.0, 10.0])  # churned: 1, 0, 1, 0
    pred = Prediction(churn=np.array([0.8, 0.1, 0.5, 0.4]), purchases=np.array([0.2, 1.5, 0.5, 1.0]),
                      spend=np.array([2.0, 20.0, 5.0, 13.0]))
    s = scores(pred, outcome)
    # Brier: (0.2^2 + 0.1^2 + 0.5^2 + 0.4^2) / 4 = (0.04 + 0.01 + 0.25 + 0.16) / 4 = 0.115
    assert s["brier"] == pytest.approx(0.115, abs=1e-12)
    assert s["brier"] == pytest.approx(brier_score_loss(outcome.churned, pred.churn), abs=1e-12)
    assert s["churn_auc"] == 1.0 and s["churn_rate"] == 0.5
    # purchases: 3.2 predicted vs 3 actual; errors 0.2, 0.5, 0.5, 0 -> MAE 0.3
    assert s["purchases"]["predicted"] == pytest.approx(3.2) and s["purchases"]["actual"] == 3
    assert s["purchases"]["error_pct"] == pytest.approx(100 * 0.2 / 3)
    assert s["purchases"]["mae"] == pytest.approx(0.3)
    # spend: 40 vs 40; errors 2, 10, 5, 3 -> MAE 5
    assert s["spend"]["error_pct"] == pytest.approx(0.0) and s["spend"]["mae"] == pytest.approx(5.0)


def test_a_baseline_has_only_its_own_metrics():
    outcome = Outcome.from_counts([0, 1, 3], [0.0, 5.0, 9.0])
    rank = scores(Prediction(churn_score=np.array([10.0, 3.0, 1.0])), outcome)
    assert rank["churn_auc"] == 1.0 and rank["brier"] is None and rank["spend"] is None
    spend = scores(Prediction(spend=np.array([1.0, 5.0, 5.0])), outcome)
    assert spend["churn_auc"] is None and spend["spend"]["mae"] == pytest.approx((1 + 0 + 4) / 3)


def test_deciles_group_by_predicted_churn():
    churn = np.arange(20)[::-1] / 20.0          # customer 19 has the lowest predicted churn
    churned = (np.arange(20) < 10).astype(float)
    outcome = Outcome(churned=churned, purchases=1 - churned, spend=np.arange(20, dtype=float))
    table = deciles(Prediction(churn=churn, purchases=np.ones(20), spend=np.zeros(20)), outcome)
    assert table["decile"].tolist() == list(range(1, 11)) and table["customers"].eq(2).all()
    # decile 1 = customers 19 and 18 (churn 0.00, 0.05): spend 18.5, not churned
    first = table.iloc[0]
    assert first["predicted_churn"] == pytest.approx(0.025) and first["actual_churn"] == 0
    assert first["actual_spend"] == pytest.approx(18.5)
    assert table.iloc[-1]["actual_churn"] == 1 and table.iloc[-1]["predicted_churn"] == pytest.approx(0.925)


def test_gains_hand_case():
    share, caught = gains(np.array([0.9, 0.8, 0.1, 0.7]), np.array([1, 0, 0, 1.0]), points=5)
    # order: 0.9 (churner), 0.8, 0.7 (churner), 0.1 -> caught after 0,1,2,3,4 customers: 0, .5, .5, 1, 1
    assert share.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert caught.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
