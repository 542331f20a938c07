"""The migration flow figure: a Sankey diagram of customers between consecutive snapshots (plotly;
shown in the evolve report, :mod:`customersense.reporting.html.evolution`)."""

from __future__ import annotations

import pandas as pd

from ..evolution.migration import NEW

# Qualitative colours for segments (Okabe-Ito, readable by colour-blind readers), then grey for (new).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
           "#8C564B", "#7F7F7F", "#BCBD22", "#17BECF")
NEW_COLOUR = "#BBBBBB"


def sankey_figure(transitions: pd.DataFrame, segmentation: str, title: str):
    """Nodes: (snapshot, segment), plus (new) before each snapshot; links: customers per cell of each
    consecutive pair's transition matrix (rows of ``transitions`` for ``segmentation``)."""
    import plotly.graph_objects as go

    rows = transitions[transitions["segmentation"] == segmentation]
    segments = list(dict.fromkeys(s for s in [*rows["from_segment"], *rows["to_segment"]] if s != NEW))
    colour = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(segments)} | {NEW: NEW_COLOUR}
    nodes: dict[tuple, int] = {}
    labels, colours = [], []

    def node(day, segment) -> int:
        key = (day, segment)
        if key not in nodes:
            nodes[key] = len(labels)
            labels.append(f"{segment} ({day})")
            colours.append(colour[segment])
        return nodes[key]

    source, target, value, hover = [], [], [], []
    for r in rows.itertuples(index=False):
        source.append(node(r.from_as_of, r.from_segment))
        target.append(node(r.to_as_of, r.to_segment))
        value.append(int(r.customers))
        hover.append(f"{r.from_segment} -> {r.to_segment}<br>{int(r.customers):,} customers<br>"
                     f"revenue in the period {r.revenue:,.2f}")
    fig = go.Figure(go.Sankey(
        node={"label": labels, "color": colours, "pad": 8, "thickness": 12},
        link={"source": source, "target": target, "value": value, "customdata": hover,
              "hovertemplate": "%{customdata}<extra></extra>"},
    ))
    fig.update_layout(title=title, font_size=11, height=600)
    return fig
