"""Dashboard figures: panel structure, what is drawn, colours, legends and deterministic saving."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from customersense.reporting import (
    DASHBOARD_TITLES,
    K_SELECTION_TITLES,
    SAMPLE_CAP,
    k_selection_figure,
    save_figure,
    segment_colors,
    segmentation_dashboard,
)
from customersense.reporting.dashboards import FLOOR_LABEL

pytest.importorskip("matplotlib")

CAPTION = "Test data · as of 2024-01-31 · EUR"
ORDER = ["Champions", "At Risk", "Hibernating Customers", "Outliers"]
COUNTS = {"Champions": 20, "At Risk": 25, "Hibernating Customers": 12, "Outliers": 3}
FEATURES = ["recency_days", "frequency", "monetary", "avg_order_value", "tenure_days", "engagement_score"]


def make_customers(counts: dict[str, int] = COUNTS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    segment = np.repeat(list(counts), list(counts.values()))
    n = len(segment)
    frame = pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "segment": segment,
        "recency_days": rng.integers(0, 700, n),
        "frequency": rng.integers(1, 40, n),
        "monetary": rng.lognormal(6, 1, n) * np.where(rng.random(n) < 0.05, -1, 1),
        "engagement_score": rng.uniform(0, 100, n),
        "is_anomaly": segment == "Outliers",
    })
    frame["avg_order_value"] = frame["monetary"] / frame["frequency"]
    frame["tenure_days"] = frame["recency_days"] + rng.integers(0, 400, n)
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True)  # segments interleaved


def make_profiles(customers: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    groups = customers.groupby("segment")
    frame = pd.DataFrame({"customers": groups.size(), "revenue": groups["monetary"].sum()})
    frame["share"] = frame["customers"] / len(customers)
    frame["revenue_share"] = frame["revenue"] / customers["monetary"].sum()
    for col in FEATURES:
        frame[f"mean_{col}"] = groups[col].mean()
        frame[f"median_{col}"] = groups[col].median()
    return frame.loc[[s for s in order if s in frame.index]].rename_axis("segment").reset_index()


def make_selection(ks=range(2, 7)) -> pd.DataFrame:
    k = np.array(list(ks))
    return pd.DataFrame({
        "k": k,
        "inertia": 1000.0 / k,
        "silhouette": 0.5 - 0.01 * (k - 4) ** 2,
        "silhouette_std": np.where(k > 4, 0.02, 0.0),
        "davies_bouldin": 0.8 + 0.05 * (k - 4) ** 2,
        "calinski_harabasz": 500.0 / k,
        "is_elbow": k == 3,
    })


def panels(fig) -> dict:
    """Title -> axes, colourbar axes left out."""
    return {ax.get_title(): ax for ax in fig.axes if not hasattr(ax, "_colorbar")}


def scatter_points(ax) -> int:
    return sum(len(c.get_offsets()) for c in ax.collections)


def rgb(color) -> tuple:
    return tuple(round(float(v), 6) for v in np.asarray(color, dtype=float).ravel()[:3])


@pytest.fixture(scope="module")
def dashboard():
    customers = make_customers()
    profiles = make_profiles(customers, ORDER)
    return customers, profiles, segmentation_dashboard(customers, profiles, ORDER, caption=CAPTION, currency="EUR")


def test_dashboard_panels_and_titles(dashboard):
    _, _, fig = dashboard
    colorbars = [ax for ax in fig.axes if hasattr(ax, "_colorbar")]
    assert len(colorbars) == 1
    assert len(fig.axes) == len(DASHBOARD_TITLES) + 1
    assert set(panels(fig)) == set(DASHBOARD_TITLES)
    assert fig.get_suptitle() == f"Customer segmentation dashboard\n{CAPTION}"
    assert panels(fig)["Recency, frequency and monetary (3D)"].name == "3d"
    assert all(ax.name == "rectilinear" for t, ax in panels(fig).items() if "(3D)" not in t)


def test_dashboard_bars_follow_profiles(dashboard):
    _, profiles, fig = dashboard
    ax = panels(fig)["Customers per segment"]
    assert [p.get_height() for p in ax.patches] == list(profiles["customers"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ORDER
    annotations = [t.get_text() for t in ax.texts]
    assert annotations == [f"{n:,}" for n in profiles["customers"]]
    rev = panels(fig)["Revenue per segment"]
    assert [p.get_height() for p in rev.patches] == pytest.approx(list(profiles["revenue"]))
    assert [t.get_text() for t in rev.texts] == [f"{v:.1%}" for v in profiles["revenue_share"]]


def test_dashboard_heatmap_normalised(dashboard):
    _, profiles, fig = dashboard
    ax = panels(fig)["Segment profiles (normalised)"]
    data = np.asarray(ax.images[0].get_array(), dtype=float)
    assert data.shape == (len(ORDER), len(FEATURES))
    assert np.nanmin(data) >= 0.0 and np.nanmax(data) <= 1.0
    assert np.allclose(np.nanmin(data, axis=0), 0.0) and np.allclose(np.nanmax(data, axis=0), 1.0)
    assert [t.get_text() for t in ax.get_yticklabels()] == ORDER
    assert len(ax.texts) == len(ORDER) * len(FEATURES)  # raw means annotated


def test_dashboard_scatter_draws_every_customer_when_small(dashboard):
    customers, _, fig = dashboard
    floor = FLOOR_LABEL.format(n=int((customers["monetary"] <= 0).sum()))
    for title, extra in (("Recency, frequency and monetary (3D)", []), ("Frequency vs monetary", [floor])):
        ax = panels(fig)[title]
        assert scatter_points(ax) == len(customers)
        assert sorted(c.get_label() for c in ax.collections) == sorted(ORDER + extra)
    fm = panels(fig)["Frequency vs monetary"]
    assert fm.get_xscale() == "log" and fm.get_yscale() == "log"


def test_frequency_monetary_spends_no_room_on_negative_revenue(dashboard):
    """Net revenue <= 0 is not on the log axis: those customers sit on the bottom edge, one
    triangle each at their frequency, coloured by segment and counted in the legend."""
    customers, _, fig = dashboard
    fm = panels(fig)["Frequency vs monetary"]
    money = customers["monetary"].to_numpy(dtype=float)
    positive = money[money > 0]
    low, high = fm.get_ylim()
    assert 0 < low <= positive.min() and high >= positive.max()  # nothing below zero, every positive seen
    nonpositive = customers[customers["monetary"] <= 0]
    assert len(nonpositive) == 2  # make_customers(seed=0): 2 net returners
    label = FLOOR_LABEL.format(n=2)
    (edge,) = [c for c in fm.collections if c.get_label() == label]
    xy = edge.get_offsets()
    assert sorted(xy[:, 0]) == sorted(nonpositive["frequency"].astype(float))
    assert set(xy[:, 1]) == {0.0}  # axes fraction 0: the bottom edge
    expected = {name: rgb(c) for name, c in segment_colors(ORDER).items()}
    by_x = sorted(zip(xy[:, 0], map(rgb, edge.get_facecolor())))
    assert by_x == sorted(zip(nonpositive["frequency"].astype(float), [expected[s] for s in nonpositive["segment"]]))
    assert [t.get_text() for t in fm.get_legend().get_texts()] == [label]
    on_log = sum(len(c.get_offsets()) for c in fm.collections if c.get_label() in ORDER)
    assert on_log == len(positive)


def test_dashboard_boxes_are_tukey_boxes_of_every_customer(dashboard):
    """Medians, quartiles and whiskers recomputed here with numpy (linear quantiles; whiskers at
    the most extreme values within 1.5 IQR), compared to the drawn lines to 1e-9."""
    customers, _, fig = dashboard
    for title, column in (("Engagement score by segment", "engagement_score"), ("Recency by segment", "recency_days")):
        ax = panels(fig)[title]
        medians = [ln for ln in ax.get_lines() if ln.get_gid() == "median"]
        caps = sorted(round(float(ln.get_ydata()[0]), 9) for ln in ax.get_lines() if ln.get_gid() == "whisker-cap")
        assert len(medians) == len(ORDER) and len(caps) == 2 * len(ORDER)
        want_caps = set()
        for i, name in enumerate(ORDER):
            v = customers.loc[customers["segment"] == name, column].to_numpy(dtype=float)
            q1, med, q3 = np.percentile(v, [25, 50, 75])
            iqr = q3 - q1
            assert float(medians[i].get_ydata()[0]) == pytest.approx(med, abs=1e-9)
            assert np.mean(medians[i].get_xdata()) == pytest.approx(i)
            want_caps |= {round(v[v >= q1 - 1.5 * iqr].min(), 9), round(v[v <= q3 + 1.5 * iqr].max(), 9)}
        assert sorted(want_caps) == sorted(set(caps))


def test_dashboard_caption_and_currency(dashboard):
    _, _, fig = dashboard
    assert CAPTION in fig.get_suptitle()
    assert "(EUR" in panels(fig)["Revenue per segment"].get_ylabel()
    assert panels(fig)["Frequency vs monetary"].get_ylabel() == "net revenue (EUR, log scale)"
    customers = make_customers()
    fig = segmentation_dashboard(customers, make_profiles(customers, ORDER), ORDER, caption=CAPTION)
    assert panels(fig)["Frequency vs monetary"].get_ylabel() == "net revenue (currency not set, log scale)"


def test_dashboard_scatter_subsamples_large_input():
    customers = make_customers({"Champions": 4000, "At Risk": 6000, "Outliers": 500})
    profiles = make_profiles(customers, ["Champions", "At Risk", "Outliers"])
    fig = segmentation_dashboard(customers, profiles, ["Champions", "At Risk", "Outliers"], caption=CAPTION)
    for title in ("Recency, frequency and monetary (3D)", "Frequency vs monetary"):
        ax = panels(fig)[title]
        assert scatter_points(ax) == min(len(customers), SAMPLE_CAP)
        notes = " ".join(t.get_text() for t in ax.texts)
        assert f"sample of {SAMPLE_CAP:,}" in notes


def test_dashboard_legend_and_colours_consistent(dashboard):
    _, _, fig = dashboard
    assert len(fig.legends) == 1
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ORDER
    expected = {name: rgb(c) for name, c in segment_colors(ORDER).items()}
    assert {t.get_text(): rgb(h.get_facecolor()) for t, h in zip(legend.get_texts(), legend.legend_handles)} == expected
    p = panels(fig)
    for title in ("Customers per segment", "Revenue per segment"):
        assert [rgb(b.get_facecolor()) for b in p[title].patches] == [expected[s] for s in ORDER]
    for title in ("Engagement score by segment", "Recency by segment"):
        boxes = [a for a in p[title].patches]
        assert [rgb(b.get_facecolor()) for b in boxes] == [expected[s] for s in ORDER]
    for title in ("Recency, frequency and monetary (3D)", "Frequency vs monetary"):
        for coll in p[title].collections:
            if coll.get_label() in expected:  # the bottom edge's triangles: one colour per point (tested above)
                assert rgb(coll.get_facecolor()[0]) == expected[coll.get_label()]


def test_dashboard_segments_outside_order_still_drawn():
    customers = make_customers()
    profiles = make_profiles(customers, ORDER)
    fig = segmentation_dashboard(customers, profiles, ["At Risk", "Champions"], caption=CAPTION)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["At Risk", "Champions"]
    assert sorted(labels[2:]) == ["Hibernating Customers", "Outliers"]
    assert [p.get_height() for p in panels(fig)["Customers per segment"].patches] == [
        COUNTS[s] for s in labels
    ]


def test_segment_colors_stable_and_outliers_grey():
    colors = segment_colors(ORDER)
    assert list(colors) == ORDER
    assert colors["Outliers"][0] == colors["Outliers"][1] == colors["Outliers"][2]
    assert len({rgb(c) for c in colors.values()}) == len(ORDER)
    assert segment_colors(ORDER) == colors
    # Outliers' position does not shift the others' colours.
    moved = segment_colors(["Outliers", "Champions", "At Risk", "Hibernating Customers"])
    assert moved == colors
    many = [f"Segment {i}" for i in range(15)] + ["Outliers"]
    assert len({rgb(c) for c in segment_colors(many).values()}) == len(many)


def test_k_selection_figure():
    selection = make_selection()
    fig = k_selection_figure(selection, chosen_k=4, caption=CAPTION)
    assert fig.get_suptitle() == f"Choosing the number of segments\n{CAPTION}"
    assert [ax.get_title() for ax in fig.axes] == list(K_SELECTION_TITLES)
    for ax in fig.axes:
        chosen = [ln for ln in ax.get_lines() if ln.get_label() == "chosen k = 4"]
        assert len(chosen) == 1
        assert chosen[0].get_linestyle() == "--"
        assert list(chosen[0].get_xdata()) == [4, 4]
        assert "chosen k = 4" in [t.get_text() for t in ax.get_legend().get_texts()]
    elbow = [ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("elbow")]
    assert len(elbow) == 1 and list(elbow[0].get_xdata()) == [3]
    assert elbow[0].get_marker() == "*"
    (errorbar,) = fig.axes[1].containers
    assert errorbar.has_yerr
    line, _, (bars,) = errorbar
    assert list(line.get_xdata()) == [2, 3, 4, 5, 6]
    heights = [seg[1, 1] - seg[0, 1] for seg in bars.get_segments()]
    assert heights == pytest.approx(2 * selection["silhouette_std"].to_numpy())
    for ax, col in zip(fig.axes[2:], ("davies_bouldin", "calinski_harabasz")):
        assert list(ax.get_lines()[0].get_ydata()) == pytest.approx(list(selection[col]))


def test_save_figure_png_deterministic(tmp_path, dashboard):
    customers, profiles, fig = dashboard
    first, second = tmp_path / "a" / "dash.png", tmp_path / "b.png"
    save_figure(fig, first)
    save_figure(fig, second)
    assert first.read_bytes().startswith(b"\x89PNG")
    assert first.read_bytes() == second.read_bytes()
    third = tmp_path / "c.png"
    save_figure(segmentation_dashboard(customers, profiles, ORDER, caption=CAPTION, currency="EUR"), third)
    assert third.read_bytes() == first.read_bytes()


def test_save_k_selection_png_deterministic(tmp_path):
    paths = [tmp_path / f"k{i}.png" for i in range(2)]
    for path in paths:
        save_figure(k_selection_figure(make_selection(), 3, caption=CAPTION), path)
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    assert paths[0].read_bytes() == paths[1].read_bytes()


def _save_as_before(fig, path) -> None:
    """The former freeze and save: two full dry draws, then savefig's own dry draw and tight box."""
    from customersense.reporting.dashboards import SAVE_DPI

    for _ in range(2):
        fig.draw_without_rendering()
    fig.set_layout_engine("none")
    fig.savefig(path, dpi=SAVE_DPI, bbox_inches="tight", format="png", metadata={"Software": None})


def test_fast_freeze_and_save_give_the_former_bytes(tmp_path, monkeypatch):
    """Layout passes alone and a tight box measured without savefig's dry draw: same PNG bytes."""
    from customersense.reporting import dashboards

    customers = make_customers()
    profiles = make_profiles(customers, ORDER)
    build = {
        "dash": lambda: segmentation_dashboard(customers, profiles, ORDER, caption=CAPTION, currency="EUR"),
        "k": lambda: k_selection_figure(make_selection(), 3, caption=CAPTION),
    }
    for name, make in build.items():
        save_figure(make(), tmp_path / f"{name}_new.png")
        with monkeypatch.context() as m:
            m.setattr(dashboards, "freeze_layout", lambda fig: fig)
            _save_as_before(make(), tmp_path / f"{name}_old.png")
        assert (tmp_path / f"{name}_new.png").read_bytes() == (tmp_path / f"{name}_old.png").read_bytes()


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)


def test_import_does_not_load_matplotlib():
    result = run_python("import customersense.reporting, sys; assert 'matplotlib' not in sys.modules")
    assert result.returncode == 0, result.stderr


def test_drawing_does_not_touch_pyplot(tmp_path):
    result = run_python(f"""
        import sys
        import pandas as pd
        from customersense.reporting import k_selection_figure, save_figure
        sel = pd.DataFrame({{"k": [2, 3], "inertia": [2.0, 1.0], "silhouette": [0.4, 0.3],
                             "silhouette_std": [0.0, 0.0], "davies_bouldin": [1.0, 1.1],
                             "calinski_harabasz": [10.0, 9.0], "is_elbow": [False, True]}})
        save_figure(k_selection_figure(sel, 2, caption="c"), {str(tmp_path / "k.png")!r})
        assert "matplotlib.pyplot" not in sys.modules
    """)
    assert result.returncode == 0, result.stderr
