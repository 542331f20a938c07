"""Segment migration: planted customer histories against transition matrices, sizes and lifecycle
counts computed by hand from the plan (features, frozen-edge scores, segment map, cells), and the
learned segments against an independent path (`score --as-of` for each snapshot)."""

import datetime as dt
import json
import os
import re
from collections import Counter

import pandas as pd
import pytest
from click.testing import CliRunner

from customersense.cli.main import cli
from customersense.config import load_config
from customersense.evolution.migration import NEW, snapshot_dates
from customersense.pipeline import score
from customersense.scoring import load_bundle

D = dt.date
# customer group -> (count, purchase days, value per purchase)
PLAN = {
    "steady": (40, [D(2021, m, 5) for m in range(1, 7)], 20.0),
    "lapse": (20, [D(2021, 1, 10), D(2021, 2, 10)], 50.0),
    "late": (20, [D(2021, 4, 15), D(2021, 5, 15)], 100.0),
    "back": (10, [D(2021, 1, 3), D(2021, 4, 20)], 35.0),
    "once": (15, [D(2021, 2, 25)], 10.0),
}


def _histories() -> dict[str, list[tuple[dt.date, float]]]:
    out = {}
    for group, (n, days, value) in PLAN.items():
        for i in range(n):
            out[f"{group}{i:02d}"] = [(day, value + i) for day in days]
    return out


@pytest.fixture(scope="module")
def evolved(tmp_path_factory):
    root = tmp_path_factory.mktemp("evolve")
    rows = [(cid, f"{cid}-{k}", f"{day} 12:00", value) for cid, hist in _histories().items()
            for k, (day, value) in enumerate(hist)]
    pd.DataFrame(rows, columns=["customer_id", "order_id", "timestamp", "amount"]).to_csv(root / "tx.csv", index=False)
    (root / "cs.toml").write_text("[validation]\nenabled = false\n[clv]\nenabled = false\n")
    res = CliRunner().invoke(cli, ["evolve", str(root / "tx.csv"), "--every", "month", "--config", str(root / "cs.toml"),
                                   "--out", str(root / "out"), "--quiet"])
    assert res.exit_code == 0, res.output
    return root


def _by_hand(spec, day: dt.date) -> dict[str, str]:
    """RFM segment of every customer as of ``day``: features from the plan, scores from the frozen
    edges (1 + edges strictly below; recency on its negative), the cell of the frozen map."""
    bins = {b["score"]: b for b in spec["rfm"]["bins"]}
    out = {}
    for cid, hist in _histories().items():
        before = [(d, v) for d, v in hist if d < day]
        if not before:
            continue
        values = {"recency_days": (day - max(d for d, _ in before)).days, "frequency": len(before),
                  "monetary": sum(v for _, v in before)}
        scores = []
        for name in ("r_score", "f_score", "m_score"):
            b = bins[name]
            x = values[b["column"]]
            scores.append(1 + sum((x > e) if b["higher_is_better"] else (-x > -e) for e in b["edges"]))
        r, f, m = scores
        out[cid] = spec["rfm"]["cells"][(r - 1) * 25 + (f - 1) * 5 + (m - 1)]
    return out


def test_snapshot_dates_are_period_starts_within_the_data():
    assert snapshot_dates(D(2021, 1, 3), D(2021, 6, 6), "month") == [D(2021, m, 1) for m in range(2, 7)]
    assert snapshot_dates(D(2021, 1, 3), D(2021, 12, 31), "quarter") == [D(2021, 4, 1), D(2021, 7, 1), D(2021, 10, 1)]
    assert snapshot_dates(D(2021, 1, 3), D(2021, 6, 6), "month", D(2021, 3, 1), D(2021, 5, 1)) == [
        D(2021, 3, 1), D(2021, 4, 1), D(2021, 5, 1)]


def test_rfm_transitions_equal_the_plan_computed_by_hand(evolved):
    spec = load_bundle(evolved / "out" / "model").spec
    transitions = pd.read_csv(evolved / "out" / "transitions.csv", keep_default_na=False)
    rfm = transitions[transitions["segmentation"] == "rfm"]
    dates = [D(2021, m, 1) for m in range(2, 7)]
    assert sorted(set(rfm["to_as_of"])) == [d.isoformat() for d in dates[1:]]
    for a, b in zip(dates, dates[1:]):
        before, after = _by_hand(spec, a), _by_hand(spec, b)
        expected = Counter((before.get(cid, NEW), seg) for cid, seg in after.items())
        got = rfm[rfm["to_as_of"] == b.isoformat()]
        assert {(r.from_segment, r.to_segment): r.customers for r in got.itertuples()} == dict(expected)
        assert got["customers"].sum() == len(after)  # every customer of b in exactly one cell
    # the planted moves are there: the "late" customers arrive from (new) in April's period
    april = rfm[(rfm["to_as_of"] == "2021-05-01") & (rfm["from_segment"] == NEW)]
    assert april["customers"].sum() == 20


def test_lifecycle_counts_follow_the_plan(evolved):
    life = pd.read_csv(evolved / "out" / "lifecycle.csv")
    hist = _histories()
    dates = [D(2021, m, 1) for m in range(2, 7)]
    for i, row in enumerate(life.itertuples()):
        end, start = dates[i], dates[i - 1] if i else D(1900, 1, 1)
        active = {c for c, h in hist.items() if any(start <= d < end for d, _ in h)}
        assert row.active == len(active)
        assert row.new == sum(1 for h in hist.values() if start <= min(d for d, _ in h) < end)
        if i:
            prev_start = dates[i - 2] if i > 1 else D(1900, 1, 1)
            before = {c for c, h in hist.items() if any(prev_start <= d < start for d, _ in h)}
            assert (row.retained, row.lost) == (len(active & before), len(before - active))
            assert row.active == row.new + row.retained + row.reactivated
    # April's period: the 10 "back" customers return after a gap, the 20 "late" ones are new
    april = life[life["period_end"] == "2021-05-01"].iloc[0]
    assert april["reactivated"] == 10 and april["new"] == 20


def test_learned_transitions_equal_scoring_each_snapshot_independently(evolved, tmp_path):
    transitions = pd.read_csv(evolved / "out" / "transitions.csv", keep_default_na=False)
    learned = transitions[transitions["segmentation"] == "learned"]
    segs = {}
    for day in [D(2021, 4, 1), D(2021, 5, 1)]:
        config = load_config(None, {"input": {"source": str(evolved / "tx.csv")}, "cleaning": {"as_of": day},
                                    "output": {"dir": str(tmp_path / day.isoformat())}})
        scored = score(config, evolved / "out" / "model").customers
        segs[day] = dict(zip(scored["customer_id"], scored["segment"]))
    expected = Counter((segs[D(2021, 4, 1)].get(c, NEW), s) for c, s in segs[D(2021, 5, 1)].items())
    got = learned[learned["to_as_of"] == "2021-05-01"]
    assert {(r.from_segment, r.to_segment): r.customers for r in got.itertuples()} == dict(expected)
    sizes = pd.read_csv(evolved / "out" / "segment_sizes.csv")
    may = sizes[(sizes["as_of"] == "2021-05-01") & (sizes["segmentation"] == "learned")]
    assert dict(zip(may["segment"], may["customers"])) == dict(Counter(segs[D(2021, 5, 1)].values()))


def test_revenue_cells_are_the_period_revenue(evolved):
    transitions = pd.read_csv(evolved / "out" / "transitions.csv", keep_default_na=False)
    hist = _histories()
    for kind in ("rfm", "learned"):
        got = transitions[(transitions["segmentation"] == kind) & (transitions["to_as_of"] == "2021-04-01")]
        expected = sum(v for h in hist.values() for d, v in h if D(2021, 3, 1) <= d < D(2021, 4, 1))
        assert got["revenue"].sum() == pytest.approx(expected, abs=0.01)  # cents: the CSV rounds money


def _plots(page: str) -> tuple[dict[str, list], dict[str, dict]]:
    """Each plot's traces and layout as the page hands them to Plotly.newPlot, by div id."""
    decoder = json.JSONDecoder()
    plots, layouts = {}, {}
    for match in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*', page):
        plots[match.group(1)], end = decoder.raw_decode(page, match.end())
        layouts[match.group(1)], _ = decoder.raw_decode(page, page.index("{", end))
    return plots, layouts


def test_the_report_draws_the_tables_and_the_record(evolved):
    out = evolved / "out"
    page = (out / "report.html").read_text()
    assert not re.search(r"<script[^>]*\bsrc=", page)  # offline: plotly.js inlined
    plots, layouts = _plots(page)
    assert list(plots) == ["cs-flow_learned", "cs-flow_rfm", "cs-sizes_learned", "cs-sizes_rfm", "cs-lifecycle"]
    transitions = pd.read_csv(out / "transitions.csv", keep_default_na=False)
    for kind in ("learned", "rfm"):
        (sankey,) = plots[f"cs-flow_{kind}"]
        rows = transitions[transitions["segmentation"] == kind]
        assert sankey["type"] == "sankey" and sankey["link"]["value"] == rows["customers"].tolist()
        # every link ends at a node "<segment> (<date>)" of its transition's row
        labels = sankey["node"]["label"]
        ends = [labels[t] for t in sankey["link"]["target"]]
        assert ends == [f"{r.to_segment} ({r.to_as_of})" for r in rows.itertuples()]
    sizes = pd.read_csv(out / "segment_sizes.csv")
    days = json.loads((out / "evolve.json").read_text())["snapshots"]
    for trace in plots["cs-sizes_rfm"]:
        rows = sizes[(sizes["segmentation"] == "rfm") & (sizes["segment"] == trace["name"])]
        # every snapshot on the axis; a segment without customers in one is drawn at 0 there
        assert trace["x"] == days
        assert trace["y"] == [int(rows.loc[rows["as_of"] == d, "customers"].sum()) for d in days]
    assert sum(sum(t["y"]) for t in plots["cs-sizes_rfm"]) == int(sizes.loc[sizes["segmentation"] == "rfm",
                                                                            "customers"].sum())
    lifecycle = pd.read_csv(out / "lifecycle.csv").dropna(subset=["period_start"])
    bars = {t["name"]: t["y"] for t in plots["cs-lifecycle"]}
    assert bars["new"] == lifecycle["new"].tolist() and bars["lost"] == (-lifecycle["lost"]).tolist()
    # every title: dataset (file name), snapshots, model version
    record = json.loads((out / "evolve.json").read_text())
    caption = (f"tx.csv · 5 snapshots, every month, 2021-02-01 to 2021-06-01 · model {record['model']['version']} "
               "· currency not set")
    assert caption in page and all(caption in layout["title"]["text"] for layout in layouts.values())
    assert record["report"] == {"panels": [p.removeprefix("cs-") for p in plots], "bytes": len(page.encode())}
    assert record["model"]["fitted_here"] is True and record["snapshots"][0] == "2021-02-01"
    # steady 40 + lapse 20 + back 10 by February; once 15 from March; late 20 from May
    assert record["customers_per_snapshot"] == {"2021-02-01": 70, "2021-03-01": 85, "2021-04-01": 85,
                                                "2021-05-01": 105, "2021-06-01": 105}


def test_the_report_renders_in_chromium(evolved):
    from tests.reporting.test_report_browser import ARGS, CHROMIUM

    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: run `make test` (it installs Debian chromium)", pytrace=False)
    from playwright.sync_api import sync_playwright

    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(120_000)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort())
            page.goto((evolved / "out" / "report.html").as_uri())
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 5")
            # the Sankeys drew their links: one SVG path per transition cell
            links = page.evaluate("document.querySelectorAll('#cs-flow_learned .sankey-link').length")
            artifacts = os.environ.get("CUSTOMERSENSE_ARTIFACTS")
            if artifacts:  # `make test` keeps the screenshot in test-artifacts/
                os.makedirs(artifacts, exist_ok=True)
                page.screenshot(path=os.path.join(artifacts, "evolve_report_browser.png"), full_page=True)
        finally:
            browser.close()
    transitions = pd.read_csv(evolved / "out" / "transitions.csv")
    assert links == int((transitions["segmentation"] == "learned").sum())
    assert not errors, errors


def test_evolve_with_a_model_in_its_own_output_folder_keeps_it(evolved, tmp_path):
    """`evolve --model OUT/model --out OUT`: the given bundle is not this command's to remove."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(evolved / "out" / "model", out / "model")
    res = CliRunner().invoke(cli, ["evolve", str(evolved / "tx.csv"), "--model", str(out / "model"), "--out", str(out),
                                   "--quiet", "--no-plots"])
    assert res.exit_code == 0, res.output
    assert (out / "model" / "manifest.json").is_file() and (out / "transitions.csv").is_file()
    record = json.loads((out / "evolve.json").read_text())
    assert record["model"]["fitted_here"] is False
    assert record["model"]["version"] == load_bundle(out / "model").spec["model_version"]
