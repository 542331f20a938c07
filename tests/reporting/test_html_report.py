"""The HTML report's panels against independent pandas recomputations from the customer table,
and the written page: offline, plotly.js once, deterministic, small at a million customers."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pandas as pd
import pytest

from customersense.reporting.html import PANEL_ORDER, render_report, report_figures, report_panels, write_report
from customersense.reporting.html.figures_models import churn_clv_figure
from customersense.reporting.html.style import Context

from ._html_run import N_CUSTOMERS, planted_run

REL = 1e-6
CLV_COLUMNS = ["churn_probability", "expected_purchases_90d", "expected_spend_90d", "clv", "p_alive", "clv_model",
               "clv_status", "clv_frequency", "clv_recency", "clv_T", "clv_monetary_value", "spend_last_90d"]


@pytest.fixture(scope="module")
def result():
    return planted_run()


@pytest.fixture(scope="module")
def figs(result):
    return report_figures(result)


@pytest.fixture(scope="module")
def page(result, tmp_path_factory):
    path = tmp_path_factory.mktemp("html") / "report.html"
    info = write_report(result, path)
    return path, info


def _by_segment(fig, kind="learned"):
    """Tagged traces of one segmentation: segment -> list of traces."""
    out: dict[str, list] = {}
    for t in fig.data:
        if t.meta and t.meta["segmentation"] == kind:
            out.setdefault(t.meta["segment"], []).append(t)
    return out


DRAWN = [p for p in PANEL_ORDER if p != "campaigns"]  # no campaign history in these runs


def test_every_panel_drawn_with_caption_and_currency(result, figs):
    assert list(figs) == DRAWN
    assert result.caption == f"tx.parquet · as of {result.as_of.isoformat()} · EUR"
    for panel, fig in figs.items():
        assert result.caption in fig.layout.title.text, panel
        assert len(fig.data) > 0, panel
    money_axes = [figs["revenue"].layout.yaxis.title.text, figs["frequency_monetary"].layout.yaxis.title.text,
                  figs["rfm_3d"].layout.scene.zaxis.title.text, figs["churn_clv"].layout.yaxis2.title.text]
    assert all("EUR" in t for t in money_axes), money_axes


def test_segment_counts_and_revenue_equal_groupby(result, figs):
    c = result.customers
    size = c.groupby(c["segment"].astype(str)).size()
    revenue = c.groupby(c["segment"].astype(str))["monetary"].sum()
    bars = _by_segment(figs["segments"])
    assert sorted(bars) == sorted(size.index) and len(size) == result.learned.model.n_clusters_
    assert {s: t[0].y[0] for s, t in bars.items()} == size.to_dict()
    assert sum(t[0].y[0] for t in bars.values()) == N_CUSTOMERS
    for s, (t,) in _by_segment(figs["revenue"]).items():
        assert t.y[0] == pytest.approx(revenue[s], rel=REL)
        assert t.customdata[0][1] == size[s]  # the hover's customer count


def test_both_segmentations(result, figs):
    c = result.customers
    fig = figs["both_segmentations"]
    for kind, column in (("rfm", "rfm_segment"), ("learned", "segment")):
        groups = c.groupby(c[column].astype(str))
        traces = _by_segment(fig, kind)
        assert sorted(traces) == sorted(groups.groups)
        for seg, (count_bar, revenue_bar) in traces.items():
            assert count_bar.x[0] == len(groups.get_group(seg))
            assert revenue_bar.x[0] == pytest.approx(groups.get_group(seg)["monetary"].sum(), rel=REL)


def test_rfm_grid_counts_revenue_and_main_segment(result, figs):
    c = result.customers
    heat = figs["rfm_grid"].data[0]
    cells = [(r, f, cell) for r, row in enumerate(heat.customdata, 1) for f, cell in enumerate(row, 1) if cell[1]]
    assert sum(cell[1] for _, _, cell in cells) == N_CUSTOMERS
    for r, f, (segment, n, revenue, k) in cells:
        in_cell = c[(c["r_score"] == r) & (c["f_score"] == f)]
        assert n == len(in_cell) and revenue == pytest.approx(in_cell["monetary"].sum(), rel=REL, abs=1e-9)
        counts = in_cell["rfm_segment"].astype(str).value_counts()
        assert segment == min(counts[counts == counts.max()].index) and k == len(counts)
        assert heat.text[r - 1][f - 1] == f"{n:,}"


def test_profile_heatmap_hover_shows_raw_means(result, figs):
    c = result.customers
    heat = figs["profiles"].data[0]
    means = c.groupby(c["segment"].astype(str))[["recency_days", "frequency", "monetary"]].mean()
    assert list(heat.y) == [s for s in result.learned.order if s in means.index]
    raw = np.asarray(heat.customdata, dtype=float)
    for i, seg in enumerate(heat.y):
        np.testing.assert_allclose(raw[i, :3], means.loc[seg].to_numpy(), rtol=REL)
    z = np.asarray(heat.z, dtype=float)
    assert np.nanmin(z) == 0.0 and np.nanmax(z) == 1.0


@pytest.mark.parametrize("panel,column", [("engagement", "engagement_score"), ("recency", "recency_days")])
def test_box_plots_from_all_customers(result, figs, panel, column):
    c = result.customers
    boxes = _by_segment(figs[panel])
    for seg, (box,) in boxes.items():
        v = c.loc[c["segment"].astype(str) == seg, column].to_numpy(dtype=float)
        q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75])
        assert (box.q1[0], box.median[0], box.q3[0]) == pytest.approx((q1, med, q3), rel=REL)
        assert box.upperfence[0] == v[v <= q3 + 1.5 * (q3 - q1)].max()
        assert box.lowerfence[0] == v[v >= q1 - 1.5 * (q3 - q1)].min()
        assert box.name == f"{seg} (n={len(v):,})" and box.boxpoints is False
    assert sum(len(t.x) for t in figs[panel].data) == len(boxes)  # one box each, no raw points


def test_point_clouds_hold_the_customers(result, figs):
    c = result.customers
    for panel in ("rfm_3d", "frequency_monetary"):
        ids = np.concatenate([np.asarray(t.customdata)[:, 0] for t in figs[panel].data])
        assert sorted(ids) == sorted(c["customer_id"].astype(str))
        assert "all 400 customers" in figs[panel].layout.title.text
    lo, hi = np.percentile(c["monetary"], [1, 99.9])
    y0, y1 = figs["frequency_monetary"].layout.yaxis.range
    assert y0 <= lo and y1 >= hi and y0 > c["monetary"].min() - (hi - lo)
    outside = int(((c["monetary"] < lo) | (c["monetary"] > hi)).sum())
    assert f"({outside:,} points outside)" in figs["frequency_monetary"].layout.title.text


def test_k_selection_marks_the_chosen_k(result, figs):
    sel = result.learned.model.selection_
    k = result.learned.model.n_clusters_
    fig = figs["k_selection"]
    assert len(fig.data) == 8
    lines, stars = fig.data[0::2], fig.data[1::2]
    for trace, col in zip(lines, ["inertia", "silhouette", "davies_bouldin", "calinski_harabasz"]):
        np.testing.assert_allclose(trace.y, sel[col].to_numpy(dtype=float))
    assert all(list(s.x) == [k] for s in stars)
    assert stars[1].y[0] == pytest.approx(sel.loc[sel["k"] == k, "silhouette"].item())


def test_validation_panel(result, figs):
    v = result.validation
    bar = figs["validation"].data[0]
    assert list(bar.x) == v.segment_names and list(bar.y) == pytest.approx(v.jaccard)
    assert list(bar.customdata) == v.stability


def planted_churn(result, seed: int = 11):
    """``result`` with a planted churn_probability (uniform, 5% missing: a customer no model
    scored), whatever the run computed: the panel must draw exactly these values."""
    rng = np.random.default_rng(seed)
    churn = rng.uniform(0, 1, len(result.customers))
    churn[rng.random(len(churn)) < 0.05] = np.nan
    return dataclasses.replace(result, customers=result.customers.assign(churn_probability=churn))


def test_churn_and_clv(result):
    planted = planted_churn(result)
    c = planted.customers
    fig = churn_clv_figure(Context.of(planted))
    hist = [t for t in fig.data if t.xaxis == "x"]
    clv = [t for t in fig.data if t.xaxis == "x2"]
    assert sum(sum(t.y) for t in hist) == c["churn_probability"].notna().sum() < N_CUSTOMERS
    for t in hist:
        counts, _ = np.histogram(c.loc[c["segment"].astype(str) == t.meta["segment"], "churn_probability"]
                                 .dropna(), 20, (0, 1))
        assert list(t.y) == counts.tolist()
    totals = c.groupby(c["segment"].astype(str))["clv"].sum()
    assert {t.x[0]: pytest.approx(t.y[0], rel=REL) for t in clv} == totals.to_dict()


def test_churn_axis_names_the_horizon_when_the_run_knows_it(result):
    planted = planted_churn(result)
    days = getattr(planted.config.clv, "holdout_days", None)
    plain = churn_clv_figure(Context.of(planted))
    expected = f"P(no purchase in the next {days} days)" if days else "Churn probability"
    assert plain.layout.xaxis.title.text == expected
    assert plain.layout.annotations[0].text == f"{expected}: customers per bin"
    sixty = dataclasses.replace(planted, config=planted.config.model_copy(
        update={"clv": planted.config.clv.model_copy(update={"holdout_days": 60})}))
    fig = churn_clv_figure(Context.of(sixty))
    assert fig.layout.xaxis.title.text == "P(no purchase in the next 60 days)"
    assert "P(no purchase in the next 60 days) %{customdata[0]:.2f}" in fig.data[0].hovertemplate


def test_cleaning_table(result, figs):
    cells = figs["cleaning"].data[0].cells.values
    table = dict(zip(cells[0], cells[1]))
    rep = result.cleaning
    assert table["rows in"] == f"{rep.rows_in:,}" and table["rows kept"] == f"{rep.rows_kept:,}"
    for rule, n in rep.dropped.items():
        assert table[f"dropped: {rule.replace('_', ' ')}"] == f"{n:,}"
    assert rep.rows_in == rep.rows_kept + sum(rep.dropped.values())


def test_page_offline_once_and_deterministic(result, page, tmp_path):
    path, info = page
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc=", text)  # nothing loaded: every script is inline
    assert text.count("* plotly.js v") == 1 and text.count("Copyright 2012-") == 1  # the library, once
    assert text.count("Plotly.newPlot(") == len(DRAWN)
    for panel in DRAWN:
        assert f'id="cs-{panel}"' in text
    again = tmp_path / "again.html"
    write_report(result, again)
    assert again.read_bytes() == path.read_bytes()
    assert info["bytes"] == path.stat().st_size and info["panels"] == DRAWN
    assert info["sample_size"] == N_CUSTOMERS and list(info["skipped"]) == ["campaigns"]
    assert "no measured campaign: `customersense campaign analyze`" in info["skipped"]["campaigns"]


def test_filter_counts_in_the_page(result, page):
    c = result.customers
    text = page[0].read_text(encoding="utf-8")
    counts = json.loads(re.search(r'<script type="application/json" id="cs-counts">(.*?)</script>', text).group(1))
    rows = pd.DataFrame(counts["rows"])
    assert rows["customers"].sum() == N_CUSTOMERS and counts["kinds"] == ["learned", "rfm"]
    pairs = c.groupby([c["segment"].astype(str), c["rfm_segment"].astype(str)]).size()
    assert rows.set_index(["learned", "rfm"])["customers"].to_dict() == pairs.to_dict()
    n_learned, n_rfm = c["segment"].nunique(), c["rfm_segment"].nunique()
    assert (f"Showing 400 of 400 customers in {n_learned} learned segments and {n_rfm} classic RFM segments"
            in text)
    assert text.count('class="cs-seg" data-segmentation="learned"') == n_learned
    assert text.count('class="cs-seg" data-segmentation="rfm"') == n_rfm


def test_segmentation_and_clv_off():
    result = planted_run(off=("segmentation", "clv"))
    figs, skipped = report_panels(result)
    assert list(figs) == ["both_segmentations", "rfm_grid", "rfm_3d", "frequency_monetary", "cleaning",
                          "recommendations"]
    assert set(skipped) == {"segments", "revenue", "profiles", "engagement", "recency", "k_selection",
                            "validation", "churn_clv", "campaigns"}
    assert "clv.enabled = false" in skipped["churn_clv"]
    c = result.customers
    assert sum(t.x[0] for t in figs["both_segmentations"].data if t.xaxis == "x") == len(c)
    page, info = render_report(result)
    assert f"in {c['rfm_segment'].nunique()} classic RFM segments" in page and "learned segments" not in page
    assert f'data-panel="churn_clv"><b>Not shown: churn clv</b>' in page


def test_clv_off_with_learned_segments(result):
    clv_off = dataclasses.replace(
        result, customers=result.customers.drop(columns=CLV_COLUMNS),
        profiles=result.profiles.drop(columns=[c for c in result.profiles.columns if "clv" in c or "p_alive" in c
                                               or "expected_spend" in c or "expected_purchases" in c]))
    figs, skipped = report_panels(clv_off)
    assert list(skipped) == ["churn_clv", "campaigns"] and "k_selection" in figs and "segments" in figs


def test_recommendation_and_campaign_panels_show_the_profiles_and_the_history(result):
    p = result.profiles[result.profiles["segmentation"] == "learned"].reset_index(drop=True)
    table = report_figures(result)["recommendations"].data[0]
    cells = dict(zip([h.strip("<b>/") for h in table.header.values], table.cells.values))
    assert list(cells["Segment"]) == list(p["segment"])
    assert list(cells["Free shipping above (EUR)"]) == [f"{v:,.2f}" for v in p["free_shipping_threshold"]]
    assert set(cells["Return basis"]) == {"prior"}
    measured = pd.DataFrame({"segment": [p.loc[0, "segment"]], "campaign": ["abc123"], "start": ["2024-01-01"],
                             "end": ["2024-02-01"], "uplift": [3.0], "uplift_ci_low": [1.0], "uplift_ci_high": [4.5],
                             "roi": [0.2]})
    figs, skipped = report_panels(dataclasses.replace(result, campaigns=measured))
    assert "campaigns" not in skipped
    dots = figs["campaigns"].data[0]
    assert list(dots.x) == [3.0] and list(dots.y) == [f"{p.loc[0, 'segment']} · abc123"]
    assert list(dots.error_x.array) == [1.5] and list(dots.error_x.arrayminus) == [2.0]


def test_size_at_scale(result, tmp_path):
    """250,000 customers (the 400 repeated, ids made unique): the sample and aggregates only, so
    the page does not grow with the data (measured at 1,000,000 customers: 5,275,741 bytes, 9-18 s)."""
    c = result.customers
    reps = 625
    big = c.loc[np.tile(c.index.to_numpy(), reps)].reset_index(drop=True)
    big["customer_id"] = big["customer_id"].astype(str) + "-" + np.repeat(np.arange(reps), len(c)).astype(str)
    info = write_report(dataclasses.replace(result, customers=big), tmp_path / "report.html")
    assert info["customers"] == 250_000 and info["sample_size"] == 5_000
    assert info["sample"] == "sample of 5,000 of 250,000 customers"
    assert info["bytes"] < 10_000_000, info["bytes"]


def test_script_data_cannot_end_the_script():
    from customersense.reporting.html.report import _json_script

    value = {"rows": [{"segment": "</script><!--<script>alert(1)</script> & é"}]}
    text = _json_script(value)
    assert not set("<>&") & set(text)
    assert json.loads(text) == value


def test_clv_axis_names_the_horizon(result):
    fig = report_figures(dataclasses.replace(result, config=result.config.model_copy(
        update={"clv": result.config.clv.model_copy(update={"horizon_months": 6})})))["churn_clv"]
    assert "CLV, 6 months" in fig.layout.yaxis2.title.text
