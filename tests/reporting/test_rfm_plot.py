"""rfm_segments.png on a real run (planted transactions, learned segmentation off: the figures a
--no-segments run must still draw), checked against independent pandas recomputations from the
written customer_segments.parquet. The CLV figure's panels: tests/reporting/test_clv_plot.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

from customersense.config import load_config
from customersense.datasets.synthetic import planted_transactions
from customersense.pipeline import run
from customersense.profiles.views import rfm_grid
from customersense.reporting.figures import SAVE_DPI
from customersense.reporting.rfm_plot import COUNT_GID, RFM_TITLES, rfm_figure, segment_palette

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rfm_plot")
    table, _ = planted_transactions(n_customers=400, seed=7)
    pq.write_table(table, tmp / "tx.parquet")
    result = run(load_config(None, {"input": {"source": str(tmp / "tx.parquet"), "currency": "EUR"},
                                    "output": {"dir": str(tmp / "out"), "dashboards": False}, "validation": {"enabled": False},
                                    "segmentation": {"enabled": False}}))
    written = pd.read_parquet(tmp / "out" / "customer_segments.parquet")
    return result, written, tmp / "out"


@pytest.fixture(scope="module")
def rfm(finished):
    result, _, _ = finished
    rows = result.profiles[result.profiles["segmentation"] == "rfm"]
    return rows, rfm_figure(rows, rfm_grid(result.customers), caption=result.caption, currency=result.currency)


def _axes(fig) -> dict:
    return {ax.get_title().split("\n")[0]: ax for ax in fig.axes}


def test_pngs_written_without_learned_segments_at_150_dpi(finished):
    result, _, out = finished
    assert result.learned is None and result.clv is not None
    for name in ("rfm_segments.png", "clv_analysis.png"):
        with Image.open(out / name) as image:
            dpi = image.info["dpi"]  # from the PNG's pHYs chunk, in whole pixels per metre:
            # 150 dpi = 5905.5 px/m, stored 5906 = 150.0124 dpi
            assert dpi[0] == dpi[1] == pytest.approx(SAVE_DPI, abs=0.05) and SAVE_DPI >= 150
            assert image.size[0] >= 1800  # 150 dpi of a 12+ inch wide figure
    assert "customer_segmentation_dashboard.png" not in [p.name for p in out.iterdir()]
    assert result.caption.endswith("EUR")


def test_grid_counts_equal_an_independent_crosstab(rfm, finished):
    _, written, _ = finished
    _, fig = rfm
    ax = _axes(fig)[RFM_TITLES[0]]
    drawn = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text().replace(",", ""))
             for t in ax.texts if t.get_gid() == COUNT_GID}
    table = pd.crosstab(written["r_score"], written["f_score"])
    expected = {(int(r), int(f)): int(n) for (r, f), n in table.stack().items() if n > 0}
    assert drawn == expected
    assert sum(drawn.values()) == len(written) == 400


def test_grid_cells_coloured_by_their_main_segment(rfm, finished):
    rows, fig = rfm
    _, written, _ = finished
    ax = _axes(fig)[RFM_TITLES[0]]
    image = ax.images[0]
    codes = np.ma.filled(image.get_array().astype(float), np.nan)
    names = list(rows["segment"].astype(str))
    names += sorted(set(written["rfm_segment"].astype(str)) - set(names))
    palette = segment_palette(names)
    counts = written.groupby(["r_score", "f_score"])["rfm_segment"].agg(
        lambda s: sorted(s.astype(str).value_counts().items(), key=lambda kv: (-kv[1], kv[0]))[0][0])
    for (r, f), main in counts.items():
        code = codes[int(r) - 1, int(f) - 1]
        assert names[int(code)] == main
        assert tuple(image.cmap(image.norm(code))) == pytest.approx(palette[main])
    empty = pd.crosstab(written["r_score"], written["f_score"]).reindex(index=range(1, 6), columns=range(1, 6),
                                                                        fill_value=0) == 0
    assert np.isnan(codes[empty.to_numpy()]).all()


def test_segment_bars_equal_the_customers(rfm, finished):
    rows, fig = rfm
    _, written, _ = finished
    axes = _axes(fig)
    order = [t.get_text() for t in axes[RFM_TITLES[1]].get_yticklabels()]
    assert order == list(rows["segment"].astype(str))
    counts = written["rfm_segment"].astype(str).value_counts()
    assert [p.get_width() for p in axes[RFM_TITLES[1]].patches] == [counts[s] for s in order]
    revenue = written.groupby(written["rfm_segment"].astype(str))["monetary"].sum()
    share = revenue / written["monetary"].sum() * 100
    # profiles round nothing; 1e-6 percentage points for the float sums' order
    assert [p.get_width() for p in axes[RFM_TITLES[2]].patches] == pytest.approx([share[s] for s in order], abs=1e-6)
    assert "EUR" in axes[RFM_TITLES[2]].get_xlabel()


def test_the_figure_carries_the_caption(rfm, finished):
    result, _, _ = finished
    _, fig = rfm
    assert result.caption in fig.get_suptitle()
    assert result.caption == "tx.parquet · as of " + result.as_of.isoformat() + " · EUR"
