"""Learned-segment names (issue 18 item 1): positions on every feature used, tenure included;
a vocabulary apart from the classic RFM names; the evidence line."""

import numpy as np
import pandas as pd
import pytest

from customersense.models.naming import (
    cluster_medians, cluster_positions, load_name_rules, midrank_percentile, name_clusters, name_evidence,
)
from customersense.rfm import load_segment_map

FEATURES = ["recency_days", "frequency", "monetary", "avg_order_value", "tenure_days"]


def test_midrank_percentile_by_hand():
    assert midrank_percentile(np.array([1, 1, 1, 2]), 1) == pytest.approx(0.375)  # (0 + 3/2) / 4
    assert midrank_percentile(np.array([1, 2, 3, 4]), 4) == pytest.approx(0.875)  # (3 + 1/2) / 4


def test_no_learned_name_is_a_classic_rfm_name():
    rules = load_name_rules()
    classic = set(load_segment_map().segments)
    assert classic and not classic & {p.name for p in rules.prototypes}
    assert all(set(p.position) == set(FEATURES) for p in rules.prototypes)  # every prototype on every feature


def _customers():
    # 6 long-standing frequent big spenders, 6 one-order customers who joined in the last weeks,
    # 6 one-order customers from long ago.
    rows = ([(5 + i, 30 + i, 3000 + 10 * i, 100 + i, 700 + i) for i in range(6)]
            + [(10 + i, 1, 40 + i, 40 + i, 12 + i) for i in range(6)]
            + [(400 + i, 1, 20 + i, 20 + i, 400 + i) for i in range(6)])
    return pd.DataFrame(rows, columns=FEATURES), np.repeat([0, 1, 2], 6)


def test_positions_by_hand_and_the_evidence_line():
    customers, labels = _customers()
    rules = load_name_rules()
    members = np.ones(len(labels), dtype=bool)
    medians = cluster_medians(customers, labels, members, FEATURES)
    assert medians.loc[1].tolist() == [12.5, 1.0, 42.5, 42.5, 14.5]
    pos = cluster_positions(customers, medians, rules)
    # recency is reversed (more recent = higher): customers more recent than 12.5 days are group
    # 0's six (5..10 days) and group 1's 10, 11, 12: 9 of 18 below the median member
    assert pos.loc[1, "recency_days"] == pytest.approx(9 / 18)
    assert pos.loc[1, "tenure_days"] == pytest.approx(3 / 18)  # 12, 13, 14 days of tenure are below 14.5
    assert pos.loc[0, "frequency"] == pytest.approx((12 + 3) / 18)  # 12 one-order rows and 3 of its own
    names = {0: "High-Value Regulars", 1: "Newcomers", 2: "Dormant One-Timers"}
    why = name_evidence(pos, medians, names, rules)
    assert why[1].startswith("median member: days since last purchase 12.5 (position 0.50), orders 1 (position 0.33)")
    assert "days as a customer 14.5 (position 0.17)" in why[1]
    assert why[1].endswith("nearest free name prototype at distance 0.20")  # rms of the 5 gaps to Newcomers


def _one(**position):
    return name_clusters(pd.DataFrame([position]), load_name_rules())[0]


def test_tenure_tells_new_from_old_one_time_buyers():
    # the case: recent enough, one order, small spend. Joined weeks ago: new; a customer
    # for years with the same last order: not new
    recent_one_order = dict(recency_days=0.65, frequency=0.15, monetary=0.3, avg_order_value=0.45)
    assert _one(**recent_one_order, tenure_days=0.15) == "Newcomers"
    assert _one(**recent_one_order, tenure_days=0.7) == "Occasional Low-Spend"
    assert _one(recency_days=0.1, frequency=0.1, monetary=0.15, avg_order_value=0.35, tenure_days=0.7) \
        == "Dormant One-Timers"
    assert _one(recency_days=0.9, frequency=0.95, monetary=0.95, avg_order_value=0.7, tenure_days=0.85) \
        == "High-Value Regulars"


def test_more_clusters_than_names_and_no_shared_feature():
    rules = load_name_rules()
    many = pd.DataFrame(np.full((14, 5), 0.5), columns=FEATURES)  # 12 names
    named = name_clusters(many, rules)
    assert len(set(named.values())) == 14 and {"Segment 1", "Segment 2"} <= set(named.values())
    other = pd.DataFrame({"engagement_score": [0.2, 0.8]})
    assert name_clusters(other, rules) == {0: "Segment 1", 1: "Segment 2"}
