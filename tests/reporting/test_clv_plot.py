"""The churn and CLV figure on synthetic frames of the CLV stage's shape: the panels drawn and the
ones left out (with their reason), what each panel draws against the frames and independent
recomputations, the log CLV axis, the holdout shading, and deterministic PNG bytes."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from customersense.reporting import clv_plot
from customersense.reporting.clv_plot import (
    BASELINES,
    CALIBRATION,
    CLV,
    GAINS,
    HOLDOUT,
    NO_DATA,
    NO_POSITIVE_CLV,
    NOT_DRAWN,
    PANEL_TITLES,
    SEGMENTS,
    SPEND,
    TRACKING,
    clv_figure,
)
from customersense.reporting.figures import save_figure

pytest.importorskip("matplotlib")

CAPTION = "Test data · as of 2020-10-01 · EUR"
CHOSEN = "supervised"
CAL_END = dt.date(2020, 7, 1)
N = 1000


def make_deciles() -> pd.DataFrame:
    d = np.arange(1, 11)
    return pd.DataFrame({
        "decile": d, "customers": 100, "predicted_churn": (d - 0.5) / 10,
        "actual_churn": [0.04, 0.17, 0.22, 0.36, 0.41, 0.58, 0.66, 0.77, 0.83, 0.97],
        "predicted_spend": 200.0 / d, "actual_spend": 190.0 / d,
        "predicted_purchases": 3.0 / d, "actual_purchases": 2.8 / d})


def gains_curve(score: np.ndarray, churned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share targeted and share of churners caught, highest score first (ties by position)."""
    caught = np.cumsum(churned[np.argsort(-score, kind="stable")])
    return np.arange(1, len(score) + 1) / len(score), caught / churned.sum()


def make_gains(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=N)
    churned = (latent + rng.normal(size=N) > 0).astype(float)
    scores = {CHOSEN: latent + 0.5 * rng.normal(size=N), "Pareto/NBD": latent + rng.normal(size=N),
              "recency only": latent + 2 * rng.normal(size=N), "frequency only": rng.normal(size=N)}
    parts = []
    for name, score in scores.items():
        x, y = gains_curve(score, churned)
        parts.append(pd.DataFrame({"candidate": name, "share_targeted": x, "share_of_churners": y}))
    return pd.concat(parts, ignore_index=True)


def make_tracking(calibration_end: dt.date | None = CAL_END) -> pd.DataFrame:
    ends = [dt.date(2020, 1, 7) + dt.timedelta(days=7 * i) for i in range(38)]
    frame = pd.DataFrame({"period_end": ends, "actual_cumulative": np.arange(38) * 10.0,
                          "expected_cumulative": np.arange(38) * 9.5})
    frame.attrs.update(calibration_end=calibration_end.isoformat() if calibration_end else None, model="BG/NBD")
    return frame


def make_clv(seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.lognormal(5, 1.5, 900), np.zeros(80), np.full(20, np.nan)])


def make_segments() -> pd.DataFrame:
    return pd.DataFrame({"segment": ["Champions", "At Risk", "Lost", "New"], "customers": [120, 300, 500, 80],
                         "churn_probability": [0.1, 0.5, 0.9, 0.4], "clv": [900.0, 300.0, 20.0, 150.0]})


def inputs() -> dict:
    return {"deciles": make_deciles(), "gains": make_gains(), "tracking": make_tracking(), "clv": make_clv(),
            "churn_by_segment": make_segments()}


def figure(**changes):
    kwargs = {"caption": CAPTION, "currency": "EUR", "chosen": CHOSEN, "horizon_days": 90}
    given = inputs()
    for key, value in changes.items():
        (given if key in given else kwargs)[key] = value
    return clv_figure(**given, **kwargs)


def panels(fig) -> dict:
    return {ax.get_title(): ax for ax in fig.axes}


def notes(fig) -> list[str]:
    """The reasons written under the title (the subfigure's title), one per line, unwrapped."""
    if not fig.subfigs:
        return []
    text = fig.subfigs[0].get_suptitle()
    return [(f"{NOT_DRAWN}:" + part.replace("\n", " ")).strip() for part in text.split(f"{NOT_DRAWN}:")[1:]]


def _artists(ax) -> int:
    return len(ax.lines) + len(ax.patches) + len(ax.collections)


@pytest.fixture(scope="module")
def full():
    return figure()


def rows(fig) -> list[int]:
    """Panels per row, top to bottom."""
    tops = [round(ax.get_position().y1, 6) for ax in fig.axes]
    return [tops.count(top) for top in sorted(set(tops), reverse=True)]


def test_full_figure_has_every_panel_and_no_note(full):
    assert [ax.get_title() for ax in full.axes] == list(PANEL_TITLES)
    assert rows(full) == [3, 3]
    assert all(_artists(ax) > 0 for ax in full.axes)
    assert CAPTION in full.get_suptitle() and full.get_suptitle().startswith("Churn and customer lifetime value")
    assert notes(full) == [] and full.subfigs == []


# input left out -> the panels it removes
REMOVES = {"deciles": [CALIBRATION, SPEND], "gains": [GAINS], "tracking": [TRACKING], "clv": [CLV],
           "churn_by_segment": [SEGMENTS]}


@pytest.mark.parametrize("name, empty", [("deciles", None), ("gains", "empty"), ("tracking", "empty"),
                                         ("clv", "empty"), ("churn_by_segment", None)])
def test_a_missing_input_removes_exactly_its_panels_and_writes_why(name, empty):
    value = None if empty is None else inputs()[name][:0]  # None and empty alike
    gone = REMOVES[name]
    reasons = {gone[0]: "the holdout is too short"}
    fig = figure(**{name: value}, missing=reasons)
    assert [ax.get_title() for ax in fig.axes] == [t for t in PANEL_TITLES if t not in gone]
    assert all(_artists(ax) > 0 for ax in fig.axes)
    expected = [f"{NOT_DRAWN}: {gone[0]}: the holdout is too short"]
    expected += [f"{NOT_DRAWN}: {t}: {NO_DATA}" for t in gone[1:]]
    assert notes(fig) == expected


def test_nothing_given_draws_no_panel_and_names_all_six():
    fig = clv_figure(None, None, None, None, None, caption=CAPTION)
    assert fig.axes == []
    assert notes(fig) == [f"{NOT_DRAWN}: {t}: {NO_DATA}" for t in PANEL_TITLES]


def test_clv_without_a_positive_value_is_left_out_with_its_reason():
    fig = figure(clv=np.array([0.0, 0.0, np.nan]))
    assert CLV not in panels(fig)
    assert notes(fig) == [f"{NOT_DRAWN}: {CLV}: {NO_POSITIVE_CLV}"]


def test_wrong_calls_raise():
    with pytest.raises(ValueError, match="names no panel"):
        figure(missing={"P(alive) distribution": "gone"})
    with pytest.raises(ValueError, match="have data"):
        figure(missing={GAINS: "gone"})
    with pytest.raises(ValueError, match=r"gains lacks the columns \['share_of_churners'\]"):
        figure(gains=make_gains().drop(columns="share_of_churners"))


@pytest.mark.parametrize("left_out, expected", [
    (["deciles"], [2, 2]), (["gains"], [3, 2]), (["deciles", "gains"], [3]),
    (["deciles", "gains", "tracking"], [2]), (["deciles", "gains", "tracking", "clv"], [1])])
def test_layout_adapts_rows_to_the_panels(left_out, expected):
    fig = figure(**dict.fromkeys(left_out))
    assert rows(fig) == expected
    boxes = [ax.get_position() for ax in fig.axes]
    for i, a in enumerate(boxes):  # no two panels overlap
        for b in boxes[i + 1:]:
            assert a.x1 <= b.x0 + 1e-9 or b.x1 <= a.x0 + 1e-9 or a.y1 <= b.y0 + 1e-9 or b.y1 <= a.y0 + 1e-9


def test_calibration_draws_the_deciles_against_the_diagonal(full):
    ax = panels(full)[CALIBRATION]
    lines = {line.get_label(): line for line in ax.lines}
    diagonal = lines["perfectly calibrated"]
    assert list(diagonal.get_xdata()) == [0, 1] and list(diagonal.get_ydata()) == [0, 1]
    deciles = make_deciles()
    points = lines[f"deciles of {CHOSEN}"]
    assert list(points.get_xdata()) == list(deciles["predicted_churn"])
    assert list(points.get_ydata()) == list(deciles["actual_churn"])
    assert ax.get_xlim() == (0, 1) and ax.get_ylim() == (0, 1)
    assert "90 days" in ax.get_xlabel()


def test_spend_bars_are_the_deciles_means(full):
    ax = panels(full)[SPEND]
    deciles = make_deciles()
    heights = [p.get_height() for p in ax.patches]
    assert heights == list(deciles["predicted_spend"]) + list(deciles["actual_spend"])
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(d) for d in range(1, 11)]
    assert "EUR" in ax.get_ylabel()


def test_gains_lines_end_at_one_one_chosen_bold_baselines_grey(full):
    ax = panels(full)[GAINS]
    lines = {line.get_label(): line for line in ax.lines}
    assert set(lines) == {"random", f"{CHOSEN} (chosen)", "Pareto/NBD", "recency only", "frequency only"}
    gains = make_gains()
    for label, line in lines.items():
        if label == "random":
            assert list(line.get_xdata()) == [0, 1] and list(line.get_ydata()) == [0, 1]
            continue
        assert (line.get_xdata()[-1], line.get_ydata()[-1]) == pytest.approx((1.0, 1.0), abs=1e-12)
        curve = gains[gains["candidate"] == label.removesuffix(" (chosen)")]
        assert list(line.get_ydata()) == list(curve["share_of_churners"])
    widths = {label: line.get_linewidth() for label, line in lines.items()}
    assert widths[f"{CHOSEN} (chosen)"] == max(widths.values())
    for name in set(BASELINES) & set(lines):
        assert lines[name].get_linestyle() == "--" and lines[name].get_color() == "grey"
    # the chosen score holds more signal than the others: it catches more churners in the top 20%
    top = {label: line.get_ydata()[N // 5 - 1] for label, line in lines.items() if label != "random"}
    assert max(top, key=top.get) == f"{CHOSEN} (chosen)"


def test_tracking_shades_the_holdout_from_calibration_end_to_the_last_period(full):
    from matplotlib.dates import date2num

    ax = panels(full)[TRACKING]
    shade = [p for p in ax.patches if p.get_label() == HOLDOUT]
    assert len(shade) == 1
    x0, x1 = shade[0].get_x(), shade[0].get_x() + shade[0].get_width()
    assert x0 == pytest.approx(date2num(np.datetime64(CAL_END)), abs=1e-9)
    assert x1 == pytest.approx(date2num(np.datetime64(make_tracking()["period_end"].iloc[-1])), abs=1e-9)
    assert HOLDOUT in [t.get_text().strip() for t in ax.texts]
    assert "expected (BG/NBD)" in [line.get_label() for line in ax.lines]
    unmarked = panels(figure(tracking=make_tracking(calibration_end=None)))[TRACKING]
    assert not [p for p in unmarked.patches if p.get_label() == HOLDOUT] and not unmarked.texts


def test_clv_histogram_on_a_log_axis_counts_zeros_and_missing(full):
    ax = panels(full)[CLV]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "customer lifetime value (EUR, log scale)"
    values = make_clv()
    positive = values[values > 0]
    edges = np.array([p.get_x() for p in ax.patches] + [ax.patches[-1].get_x() + ax.patches[-1].get_width()])
    steps = np.diff(np.log(edges))
    assert steps == pytest.approx(np.full(40, steps[0]), rel=1e-9)  # log-spaced bins
    assert edges[0] == pytest.approx(positive.min(), rel=1e-12)
    assert edges[-1] == pytest.approx(positive.max(), rel=1e-12)
    counts, _ = np.histogram(positive, bins=np.geomspace(positive.min(), positive.max(), 41))
    assert [p.get_height() for p in ax.patches] == counts.tolist()
    assert sum(counts) == 900
    assert [t.get_text() for t in ax.texts] == ["customers: 900 drawn, 80 at zero, 20 missing"]


def test_churn_by_segment_sorted_with_customers(full):
    ax = panels(full)[SEGMENTS]
    assert [p.get_width() for p in ax.patches] == [0.1, 0.4, 0.5, 0.9]  # bottom to top: highest churn on top
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Champions (120)", "New (80)", "At Risk (300)",
                                                            "Lost (500)"]
    assert ax.get_xlabel() == "mean P(no purchase in the next 90 days)"
    assert [t.get_text() for t in ax.texts][-1] == "0.90 · mean CLV 20 EUR"


def test_png_is_deterministic(tmp_path, full):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    save_figure(full, first)
    save_figure(full, second)
    assert first.read_bytes().startswith(b"\x89PNG")
    assert first.read_bytes() == second.read_bytes()
    rebuilt = [tmp_path / f"p{i}.png" for i in range(2)]
    for path in rebuilt:  # built again from the same frames, with the notes' subfigure
        save_figure(figure(gains=None, missing={GAINS: "no candidate scored the holdout"}), path)
    assert rebuilt[0].read_bytes() == rebuilt[1].read_bytes()


def test_no_pyplot_and_no_eager_matplotlib():
    """The module imports matplotlib inside the function only, and never pyplot (its global state)."""
    tree = ast.parse(Path(clv_plot.__file__).read_text(encoding="utf-8"))
    imported = [(node.module if isinstance(node, ast.ImportFrom) else alias.name, node.col_offset)
                for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names]
    matplotlib = [(name, col) for name, col in imported if name and name.startswith("matplotlib")]
    assert matplotlib and all(col > 0 for _, col in matplotlib)  # inside a function
    assert not [name for name, _ in matplotlib if "pyplot" in name]
