"""A run reads the campaign history: a measured segment's recommendation shows the measured
uplift instead of the prior, and the run says so (issue 18 item 5)."""

import datetime as dt
import json

import pandas as pd
from click.testing import CliRunner

from customersense.campaigns.history import update_history
from customersense.cli.main import cli

CSV = "customer_id,order_id,timestamp,amount\n" + "".join(
    f"c{i},{100 + i},2021-01-{1 + i % 20:02d} 09:00,{3 * i + 1}\n" for i in range(40)
) + "".join(f"c{i},{300 + i},2021-01-{2 + i % 19:02d} 12:00,{i + 5}\n" for i in range(0, 40, 3))
FAST = ["--quiet", "--no-plots", "--no-dashboards", "--no-validate", "--no-clv"]


def _run(tmp_path, out, *extra):
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "tx.csv"), "--out", str(tmp_path / out), *FAST, *extra])
    assert result.exit_code == 0, result.output
    return pd.read_csv(tmp_path / out / "segment_profiles.csv"), json.loads((tmp_path / out / "run.json").read_text())


def test_a_measured_segment_shows_its_measured_uplift(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default history (campaign_history.csv) is looked for here
    (tmp_path / "tx.csv").write_text(CSV)
    before, run = _run(tmp_path, "before")
    assert before["uplift_basis"].str.startswith("prior: ").all()
    assert not any("campaign history" in n for n in run["notes"])
    target = before.loc[before["segmentation"] == "rfm"].iloc[0]
    results = pd.DataFrame({"segment": [target["segment"], "all"], "n_treatment": [50, 50], "n_control": [50, 50],
                            "uplift": [3.25, 3.25], "uplift_ci_low": [0.5, 0.5], "uplift_ci_high": [6.0, 6.0],
                            "roi": [0.25, 0.25]})
    update_history(tmp_path / "campaign_history.csv", results, "c0ffee", dt.date(2021, 2, 1), dt.date(2021, 3, 1),
                   2.0, 0.5, "assignments.csv")
    after, run = _run(tmp_path, "after")
    row = after.set_index(["segmentation", "segment"]).loc[("rfm", target["segment"])]
    assert row["uplift_per_customer"] == 3.25
    assert row["expected_incremental_revenue"] == round(3.25 * target["customers"], 2)
    assert row["uplift_basis"] == ("measured: campaign c0ffee (2021-02-01 to 2021-03-01), +3.25 per customer "
                                   "(95% CI 0.50 to 6.00), ROI 25%")
    assert f"measured uplift for 1 segment(s) ({target['segment']})" in " ".join(run["notes"])
    others = after[after["segment"] != target["segment"]]
    assert others["uplift_basis"].str.startswith("prior: ").all()
    # --campaign-history '' reads none: the prior again, numbers as before
    again, _ = _run(tmp_path, "again", "--campaign-history", "")
    pd.testing.assert_frame_equal(again, before)
