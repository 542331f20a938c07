"""End to end: campaign plan -> a simulated campaign -> campaign analyze, through the CLI."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from customersense.campaigns import simulate_campaign
from customersense.cli.main import cli

START, END = dt.date(2024, 3, 1), dt.date(2024, 4, 1)
LIFT = {"A": 0.5, "C": 0.3}              # B has none


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("campaign")
    rng = np.random.default_rng(9)
    segments = pd.DataFrame({"customer_id": [f"K{i:05d}" for i in range(5000)],
                             "segment": rng.choice(["A", "B", "C"], size=5000, p=[0.4, 0.3, 0.3]),
                             "monetary": rng.gamma(2.0, 40.0, 5000)})
    segments.to_csv(tmp / "segments.csv", index=False)
    runner = CliRunner()
    planned = runner.invoke(cli, ["campaign", "plan", str(tmp / "segments.csv"), "--seed", "42",
                                  "--mde", "0.1", "--out", str(tmp / "plan")])
    assert planned.exit_code == 0, planned.output
    assignments = pd.read_csv(tmp / "plan" / "assignments.csv", dtype=str)
    table, truth = simulate_campaign(assignments, LIFT, START, END, seed=3)
    pq.write_table(table, tmp / "tx.parquet")
    analysed = runner.invoke(cli, ["campaign", "analyze", "--assignments", str(tmp / "plan" / "assignments.csv"),
                                   "--transactions", str(tmp / "tx.parquet"), "--start", str(START), "--end", str(END),
                                   "--cost-per-contact", "2", "--margin", "0.4", "--out", str(tmp / "results"),
                                   "--history", str(tmp / "history.csv")])
    assert analysed.exit_code == 0, analysed.output
    return tmp, segments, assignments, truth, table


def test_plan_files(campaign):
    tmp, segments, assignments, _, _ = campaign
    assert set(assignments["customer_id"]) == set(segments["customer_id"])
    share = assignments.groupby("segment")["group"].apply(lambda g: (g == "treatment").mean())
    sizes = segments["segment"].value_counts()
    for seg, n in sizes.items():
        assert share[seg] == round(n * 0.5) / n
    power = pd.read_csv(tmp / "plan" / "power.csv")
    assert list(power["segment"]) == ["A", "B", "C"] and (power["n_per_arm_conversion"] == 14745).all()


def test_analyze_recovers_the_planted_uplift(campaign):
    tmp, _, assignments, truth, table = campaign
    results = pd.read_csv(tmp / "results" / "campaign_results.csv").set_index("segment")
    for column in ("n_treatment", "n_control", "revenue_per_customer_treatment", "revenue_per_customer_control",
                   "uplift", "uplift_ci_low", "uplift_ci_high", "p_value", "conversion_uplift", "roi"):
        assert column in results.columns
    planted = truth.set_index("segment")["planted_uplift"]
    assert planted["A"] == pytest.approx(0.8 * 0.5 * np.exp(3 + 0.34 / 2))
    for seg in ("A", "B", "C"):
        assert results.loc[seg, "uplift_ci_low"] <= planted[seg] <= results.loc[seg, "uplift_ci_high"], seg
    assert results.loc["A", "p_value_holm"] < 0.05 and results.loc["B", "p_value_holm"] > 0.05
    # independent re-computation of segment A's raw arms from the simulated rows
    tx = table.to_pandas()
    tx = tx[(tx["timestamp"] >= pd.Timestamp(START)) & (tx["timestamp"] < pd.Timestamp(END))]
    spend = (tx["quantity"] * tx["unit_price"]).groupby(tx["customer_id"]).sum()
    a = assignments[assignments["segment"] == "A"].assign(y=lambda f: f["customer_id"].map(spend).fillna(0.0))
    by_group = a.groupby("group")["y"].mean()
    assert results.loc["A", "revenue_per_customer_treatment"] == pytest.approx(by_group["treatment"], abs=1e-6)
    assert results.loc["A", "uplift_raw"] == pytest.approx(by_group["treatment"] - by_group["control"], abs=1e-6)
    # CUPED: narrower than raw (pre-period spend shares the customer's level)
    width = results["uplift_ci_high"] - results["uplift_ci_low"]
    assert (width < results["uplift_raw_ci_high"] - results["uplift_raw_ci_low"]).all()
    n_t = results.loc["A", "n_treatment"]
    assert results.loc["A", "roi"] == pytest.approx((results.loc["A", "uplift"] * n_t * 0.4 - 2 * n_t) / (2 * n_t))
    assert not results["srm_mismatch"].any()
    record = json.loads((tmp / "results" / "campaign.json").read_text())
    assert record["pre_period"] == {"start": "2024-01-30", "end": "2024-03-01"}
    assert [r["segment"] for r in record["results"]] == ["A", "B", "C", "all"]
    assert (tmp / "results" / "campaign_uplift.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(record["files"]) == ["campaign.json", "campaign_results.csv", "campaign_uplift.png"]
    assert sorted(p.name for p in (tmp / "results").iterdir()) == sorted(record["files"])


def test_one_line_errors(campaign, tmp_path):
    tmp = campaign[0]
    runner = CliRunner()
    pd.DataFrame({"customer_id": ["1"], "group": ["treatment"]}).to_csv(tmp_path / "bad.csv", index=False)
    out = runner.invoke(cli, ["campaign", "analyze", "--assignments", str(tmp_path / "bad.csv"), "--transactions",
                              str(tmp / "tx.parquet"), "--start", "2024-03-01", "--end", "2024-04-01",
                              "--out", str(tmp_path / "o"), "--history", ""])
    assert out.exit_code == 4 and out.output.count("\n") == 1 and "no column segment" in out.output
    pd.DataFrame({"customer_id": ["Z1", "Z2"], "segment": ["A", "A"], "group": ["treatment", "control"]}).to_csv(
        tmp_path / "unknown.csv", index=False)
    out = runner.invoke(cli, ["campaign", "analyze", "--assignments", str(tmp_path / "unknown.csv"), "--transactions",
                              str(tmp / "tx.parquet"), "--start", "2024-03-01", "--end", "2024-04-01",
                              "--out", str(tmp_path / "o"), "--history", ""])
    assert out.exit_code == 4 and "none of the 2 assigned customers" in out.output
    out = runner.invoke(cli, ["campaign", "plan", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "p")])
    assert out.exit_code == 4 and "no column segment" in out.output


def test_plan_is_byte_identical_for_the_same_seed(campaign, tmp_path):
    tmp = campaign[0]
    out = CliRunner().invoke(cli, ["campaign", "plan", str(tmp / "segments.csv"), "--seed", "42", "--mde", "0.1",
                                   "--out", str(tmp_path / "again")])
    assert out.exit_code == 0
    for name in ("assignments.csv", "power.csv", "plan.json"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp / "plan" / name).read_bytes()
    history = (tmp / "history.csv").read_bytes()
    out = CliRunner().invoke(cli, ["campaign", "analyze", "--assignments", str(tmp / "plan" / "assignments.csv"),
                                   "--transactions", str(tmp / "tx.parquet"), "--start", str(START), "--end", str(END),
                                   "--cost-per-contact", "2", "--margin", "0.4", "--out", str(tmp_path / "results"),
                                   "--history", str(tmp / "history.csv")])
    assert out.exit_code == 0
    for name in ("campaign_results.csv", "campaign.json", "campaign_uplift.png"):
        assert (tmp_path / "results" / name).read_bytes() == (tmp / "results" / name).read_bytes()
    # the same campaign analysed again replaces its rows: the history is unchanged
    assert (tmp / "history.csv").read_bytes() == history


def test_the_history_keeps_each_segment_result(campaign):
    tmp = campaign[0]
    results = pd.read_csv(tmp / "results" / "campaign_results.csv").set_index("segment")
    history = pd.read_csv(tmp / "history.csv").set_index("segment")
    record = json.loads((tmp / "results" / "campaign.json").read_text())
    assert list(history.index) == ["A", "B", "C", "all"] and (history["campaign"] == record["campaign"]).all()
    for column in ("uplift", "uplift_ci_low", "uplift_ci_high", "roi", "n_treatment"):
        assert history[column].to_numpy() == pytest.approx(results.loc[history.index, column].to_numpy(), rel=1e-12)
    assert (history["start"] == str(START)).all() and (history["cost_per_contact"] == 2).all()


def test_an_a_a_test_on_the_embedded_data(tmp_path):
    """No campaign at all: the embedded Online Retail II transactions, customers split at random.
    Their ids must meet the transactions' (the reader's text ids) and nothing may come out significant."""
    from customersense.datasets import dataset_path

    ids = pq.read_table(dataset_path(), columns=["Customer ID"]).column(0).drop_null().unique().to_pylist()
    segments = pd.DataFrame({"customer_id": [str(int(i)) for i in ids]})
    segments["segment"] = np.where(np.arange(len(segments)) % 3 == 0, "s1", "s2")
    segments.to_csv(tmp_path / "segments.csv", index=False)
    runner = CliRunner()
    assert runner.invoke(cli, ["campaign", "plan", str(tmp_path / "segments.csv"), "--out", str(tmp_path)]).exit_code == 0
    out = runner.invoke(cli, ["campaign", "analyze", "--assignments", str(tmp_path / "assignments.csv"),
                              "--transactions", str(dataset_path()), "--start", "2010-09-01", "--end", "2010-10-01",
                              "--out", str(tmp_path), "--history", ""])
    assert out.exit_code == 0, out.output
    record = json.loads((tmp_path / "campaign.json").read_text())
    results = pd.read_csv(tmp_path / "campaign_results.csv").set_index("segment")
    assert record["customers_without_transactions"] < 0.8 * len(segments)   # the ids met
    assert (results["p_value_holm"] > 0.05).all() and not results["srm_mismatch"].any()
