"""The published CDNOW 1/10 cohort from the command line (issue 14 item 9).

Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science 24(2):
BG/NBD on the 2,357 customers of the 1/10 sample, weeks, calibration 1997-01-01 .. 1997-09-30:
r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 (log-likelihood -9582.4). The cohort counts the
sample's 8 rows worth $0.00 as purchases (80 in the master file): they are the only purchases of
8 customers. The default zero-value policy ("auto": amount-only data keeps them) reproduces it;
``--zero-value drop`` is the earlier behaviour (2,349 customers).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from customersense.cli.main import cli

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
ARGS = ("--dataset", "cdnow_sample", "--clv-model", "bgnbd", "--time-unit", "weeks", "--calibration-end",
        "1997-09-30", "--penalizer", "0", "--quiet", "--no-plots", "--no-dashboards", "--no-validate", "--no-segments")


def _run(out, *extra):
    result = CliRunner().invoke(cli, ["run", *ARGS, *extra, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return (json.loads((out / "clv_models.json").read_text()), json.loads((out / "cleaning_report.json").read_text()))


def test_cli_reproduces_the_published_bgnbd_cohort(tmp_path):
    clv, cleaning = _run(tmp_path / "out")
    assert cleaning["customers"] == 2357 and cleaning["rows_kept"] == 6919
    assert cleaning["plausible"]["zero_value"]["kept_as_purchases"] == 8
    assert clv["holdout"]["calibration_end"] == "1997-09-30" and clv["holdout"]["days"] == 273
    fit = next(row["fit"] for row in clv["candidates"] if row["name"] == "BG/NBD")
    assert fit["model"] == "BG/NBD" and fit["customers"] == 2357 and fit["penalizer"] == 0
    for name, published in PUBLISHED.items():
        assert fit["params"][name] == pytest.approx(published, rel=0.005), name
    assert fit["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)


def test_dropping_zero_values_loses_the_eight_free_only_customers(tmp_path):
    _, cleaning = _run(tmp_path / "out", "--zero-value", "drop")
    assert cleaning["dropped"]["zero_value"] == 8 and cleaning["customers"] == 2349
