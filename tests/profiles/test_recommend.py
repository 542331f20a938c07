"""Recommendation figures from a segment's own numbers (issue 18 item 2), computed by hand."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from customersense.campaigns.history import latest_per_segment, update_history
from customersense.profiles.playbooks import load_playbooks
from customersense.profiles.recommend import figure_phrases, load_recommendation_rules, segment_figures

RULES = load_recommendation_rules()


def _customers():
    # segment S: 12 repeat buyers with known gaps and 3 one-order customers; segment T: 2 customers
    rows = []
    for i in range(12):  # orders 3, first-to-last 20 + 2i days -> gap 10 + i days
        rows.append(("S", 5 + 2 * i, 3, 300.0, 100.0 + 10 * i, 5 + 2 * i + 20 + 2 * i, 0.1, 50.0))
    for i in range(3):
        rows.append(("S", 40, 1, 80.0, 80.0, 40, 0.5, 10.0))
    rows += [("T", 100, 2, 50.0, 25.0, 200, 0.8, 5.0), ("T", 300, 1, 30.0, 30.0, 300, 0.9, 1.0)]
    return pd.DataFrame(rows, columns=["seg", "recency_days", "frequency", "monetary", "avg_order_value",
                                       "tenure_days", "churn_probability", "clv"])


def test_figures_by_hand():
    c = _customers()
    figs = segment_figures(c, "seg", pd.Series({"S": 2.0, "T": 3.0}), 2.5, RULES)
    s, t = figs.loc["S"], figs.loc["T"]
    aov = c.loc[c["seg"] == "S", "avg_order_value"].to_numpy()
    assert s["free_shipping_threshold"] == pytest.approx(np.percentile(aov, 75))
    # 15 values: 80 x3, 100..210; the 75th percentile at position 10.5 -> between 170 and 180
    assert s["free_shipping_threshold"] == pytest.approx(175.0)
    assert s["price_index"] == pytest.approx(0.8) and s["discount_depth"] == 0.15   # below 0.85
    assert t["price_index"] == pytest.approx(1.2) and t["discount_depth"] == 0.0    # above 1.15
    # gaps 10..21 over 12 repeat buyers: median 15.5; recency 5..27 above 15.5: 17..27 (6) + 3 at 40
    assert s["repeat_customers"] == 12 and s["contact_after_days"] == 15.5
    assert s["customers_past_contact_day"] == 6 + 3
    assert np.isnan(t["contact_after_days"])  # 1 repeat buyer < 10
    assert s["revenue_at_stake"] == pytest.approx(12 * 0.1 * 50 + 3 * 0.5 * 10)
    assert t["revenue_at_stake"] == pytest.approx(0.8 * 5 + 0.9 * 1)
    # the prior: 5% of net spend per customer-day x 30; T: (50 + 30) / (200 + 300) per day
    assert t["uplift_per_customer"] == pytest.approx(0.05 * 80 / 500 * 30)
    assert t["expected_incremental_revenue"] == pytest.approx(2 * 0.05 * 80 / 500 * 30, abs=0.01)
    assert t["uplift_basis"].startswith("prior: +5% of the segment's revenue per customer in 30 days (4.80")
    assert "not a measurement" in t["uplift_basis"]
    # tenure floored at the window: S's one-order customers count 40 days, repeat buyers theirs
    days = c.loc[c["seg"] == "S", "tenure_days"].clip(lower=30).sum()
    assert s["uplift_per_customer"] == pytest.approx(0.05 * c.loc[c["seg"] == "S", "monetary"].sum() / days * 30, abs=1e-4)


def test_without_quantities_or_clv_the_figures_say_so():
    c = _customers().drop(columns=["churn_probability", "clv"])
    figs = segment_figures(c, "seg", pd.Series(dtype=float), float("nan"), RULES)
    assert figs["discount_depth"].isna().all() and figs["revenue_at_stake"].isna().all()
    said = figure_phrases(figs.loc["T"], RULES, 2)
    assert said["discount"].startswith("no discount depth: the data has no quantities")
    assert said["at_stake"] == "revenue at stake: no CLV model in this run"
    assert said["contact"] == "no contact interval: only 1 repeat buyers (at least 10 needed)"


def test_a_measured_campaign_replaces_the_prior(tmp_path):
    results = pd.DataFrame({"segment": ["S", "all"], "n_treatment": [7, 7], "n_control": [8, 8],
                            "uplift": [4.0, 4.0], "uplift_ci_low": [1.0, 1.0], "uplift_ci_high": [7.0, 7.0],
                            "roi": [0.6, 0.6]})
    history = tmp_path / "h.csv"
    update_history(history, results, "aaa", dt.date(2024, 1, 1), dt.date(2024, 2, 1), 1.0, 0.4, "a.csv")
    later = results.assign(uplift=[2.0, 2.0])
    update_history(history, later, "bbb", dt.date(2024, 3, 1), dt.date(2024, 4, 1), 1.0, 0.4, "b.csv")
    latest = latest_per_segment(pd.read_csv(history, dtype={"segment": "string", "campaign": "string"}))
    assert latest[["segment", "campaign", "uplift"]].values.tolist() == [["S", "bbb", 2.0]]  # the later one
    figs = segment_figures(_customers(), "seg", pd.Series({"S": 2.0, "T": 3.0}), 2.5, RULES, latest)
    s = figs.loc["S"]
    assert s["uplift_per_customer"] == 2.0 and s["expected_incremental_revenue"] == 2.0 * 15
    assert s["uplift_basis"] == ("measured: campaign bbb (2024-03-01 to 2024-04-01), +2.00 per customer "
                                 "(95% CI 1.00 to 7.00), ROI 60%")
    assert figs.loc["T", "uplift_basis"].startswith("prior: ")
    zero = latest.assign(uplift_ci_low=-1.0)
    said = segment_figures(_customers(), "seg", pd.Series({"S": 2.0}), 2.5, RULES, zero).loc["S", "uplift_basis"]
    assert said.endswith("(95% CI -1.00 to 7.00), ROI 60%; not distinguishable from zero")


def test_every_playbook_placeholder_is_a_figure_and_a_typo_is_refused(tmp_path):
    books = load_playbooks()
    assert "{free_shipping}" in books["Steady Mid-Value"]["pricing"]
    bad = tmp_path / "p.toml"
    bad.write_text('[default]\nstrategy = "x"\nretention = ["{contact}"]\npricing = ["{free_shiping}"]\n'
                   'campaigns = ["y"]\n')
    from customersense.errors import ConfigError
    with pytest.raises(ConfigError, match="unknown placeholder 'free_shiping'"):
        load_playbooks(bad)
