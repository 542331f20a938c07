"""The report of ``customersense evolve``: one offline page (plotly.js inlined once, the run report's
style) with the migration flows (Sankey) of both segmentations, segment sizes over time and the
lifecycle of each period. It draws the migration tables as they are; nothing is recomputed."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from ..evolution_plot import PALETTE, sankey_figure
from .report import html_page, panel_section
from .style import FONT, GRID

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

    from ...result import EvolveResult

EVOLUTION_REPORT = "report.html"
TITLES = {"learned": "Learned segments", "rfm": "Classic RFM segments"}
LIFECYCLE = (("new", "#56B4E9"), ("retained", "#009E73"), ("reactivated", "#E69F00"), ("lost", "#D55E00"))


def evolution_caption(result: EvolveResult) -> str:
    """Dataset, snapshots, model and currency: what every title of the page carries."""
    from ...datasets import dataset_currency, dataset_title

    dates = result.migration.dates
    currency = result.config.input.currency or dataset_currency(result.source.path) or "currency not set"
    return (f"{dataset_title(result.source.path)} · {len(dates)} snapshots, every {result.every}, "
            f"{dates[0].isoformat()} to {dates[-1].isoformat()} · model {result.model_version} · {currency}")


def evolution_figures(result: EvolveResult) -> dict[str, go.Figure]:
    """The page's panels by id: ``flow_learned``, ``flow_rfm`` (Sankey), ``sizes_learned``,
    ``sizes_rfm`` (customers per segment and snapshot) and ``lifecycle``."""
    m, caption = result.migration, evolution_caption(result)
    kinds = [k for k in ("learned", "rfm") if (m.transitions["segmentation"] == k).any()]
    figures = {}
    for kind in kinds:
        fig = sankey_figure(m.transitions, kind, "")
        _style(fig, f"{TITLES[kind]}: customers from snapshot to snapshot", caption, height=620)
        figures[f"flow_{kind}"] = fig
    for kind in kinds:
        figures[f"sizes_{kind}"] = _sizes(m.sizes[m.sizes["segmentation"] == kind], kind, caption, m.dates)
    figures["lifecycle"] = _lifecycle(m.lifecycle, caption)
    return figures


def _style(fig: go.Figure, text: str, caption: str, height: int = 440) -> go.Figure:
    fig.update_layout(
        title={"text": f"<b>{html.escape(text)}</b><br><span style='font-size:12px;color:#555'>"
                       f"{html.escape(caption)}</span>", "x": 0.01, "xanchor": "left"},
        font={"family": FONT, "size": 12}, height=height, margin={"l": 60, "r": 20, "t": 90, "b": 50},
        paper_bgcolor="white", plot_bgcolor="white")
    fig.update_xaxes(gridcolor=GRID)
    fig.update_yaxes(gridcolor=GRID)
    return fig


def _sizes(sizes: pd.DataFrame, kind: str, caption: str, dates: list) -> go.Figure:
    """Customers per segment and snapshot; a segment with no customer in a snapshot (no row in
    segment_sizes.csv) is drawn at 0 there."""
    import plotly.graph_objects as go

    days = [str(d) for d in dates]
    fig = go.Figure()
    for i, (segment, rows) in enumerate(sizes.groupby("segment", sort=False)):
        rows = rows.assign(as_of=rows["as_of"].astype(str)).set_index("as_of").reindex(days)
        fig.add_trace(go.Scatter(
            x=days, y=rows["customers"].fillna(0).astype(int).tolist(), name=str(segment),
            mode="lines+markers", line={"color": PALETTE[i % len(PALETTE)]},
            customdata=rows["share"].fillna(0.0).tolist(),
            hovertemplate="%{x}: %{y:,} customers (%{customdata:.1%})<extra>" + html.escape(str(segment)) + "</extra>"))
    _style(fig, f"{TITLES[kind]}: customers per snapshot", caption)
    fig.update_layout(xaxis_title="snapshot (as of)", yaxis_title="customers", xaxis_type="category")
    return fig


def _lifecycle(lifecycle: pd.DataFrame, caption: str) -> go.Figure:
    import plotly.graph_objects as go

    rows = lifecycle[lifecycle["period_start"].notna()]
    periods = [f"{s} to {e}" for s, e in zip(rows["period_start"], rows["period_end"])]
    fig = go.Figure()
    for name, colour in LIFECYCLE:
        values = rows[name].astype(int)
        fig.add_trace(go.Bar(x=periods, y=(-values if name == "lost" else values).tolist(), name=name,
                             marker_color=colour, customdata=values.tolist(),
                             hovertemplate="%{x}: %{customdata:,} " + name + "<extra></extra>"))
    _style(fig, "Customers per period: new, retained, reactivated (up) and lost (down)", caption)
    fig.update_layout(barmode="relative", xaxis_title="period", yaxis_title="customers")
    return fig


def write_evolution_report(result: EvolveResult, path: Path) -> dict:
    """The page, written to ``path``; returns its panels and size for evolve.json."""
    figures = evolution_figures(result)
    caption = evolution_caption(result)
    panels = "".join(panel_section(pid, fig, wide=True) for pid, fig in figures.items())
    page = html_page("Segment migration", f"CustomerSense segment migration · {caption}", caption,
                     [f'<main class="cs-grid">{panels}</main>',
                      "<footer>CustomerSense evolve · one frozen model scores every snapshot · works offline</footer>"])
    data = page.encode("utf-8")
    Path(path).write_bytes(data)
    return {"panels": list(figures), "bytes": len(data)}
