"""The report's action panels: each segment's computed recommendation figures (with whether the
expected return is measured or a prior), and the measured campaign uplift when the campaign
history has any. They draw what the profiles and the history hold; they compute nothing."""

from __future__ import annotations

import plotly.graph_objects as go

from .style import KIND_LABEL, Context, style


def _cell(value, fmt: str) -> str:
    return "" if value != value else format(value, fmt)  # NaN -> empty


def recommendations_figure(ctx: Context) -> go.Figure:
    p = ctx.profiles()
    basis = ["measured" if str(b).startswith("measured") else "prior" for b in p["uplift_basis"]]
    columns = [
        ("Segment", list(p["segment"])),
        ("Customers", [f"{int(v):,}" for v in p["customers"]]),
        (f"Free shipping above ({ctx.money})", [_cell(v, ",.2f") for v in p["free_shipping_threshold"]]),
        ("Discount", [_cell(v, ".0%") for v in p["discount_depth"]]),
        ("Price index", [_cell(v, ".2f") for v in p["price_index"]]),
        ("Contact after (days)", [_cell(v, ",.0f") for v in p["contact_after_days"]]),
        ("Past it now", [_cell(v, ",.0f") for v in p["customers_past_contact_day"]]),
        (f"Revenue at stake ({ctx.money})", [_cell(v, ",.0f") for v in p["revenue_at_stake"]]),
        (f"Expected incremental ({ctx.money})", [_cell(v, ",.0f") for v in p["expected_incremental_revenue"]]),
        ("Return basis", basis),
    ]
    fig = go.Figure(go.Table(
        columnwidth=[2.2, 1, 1.3, 0.9, 0.9, 1, 0.9, 1.3, 1.4, 1],
        header={"values": [f"<b>{c}</b>" for c, _ in columns], "align": "left", "fill_color": "#eef2f7"},
        cells={"values": [v for _, v in columns], "align": ["left"] + ["right"] * 8 + ["left"], "height": 21}))
    note = ("free shipping: 75th percentile of average order values; discount from the price index; contact: "
            "median interval between orders of repeat buyers; 'prior' returns are an assumption until measured")
    fig = style(fig, ctx, f"Recommendation figures by {KIND_LABEL[ctx.kind]}", note)
    return fig.update_layout(margin={"l": 10, "r": 10, "b": 10})


def campaigns_figure(ctx: Context) -> go.Figure:
    m = ctx.result.campaigns
    labels = [f"{s} · {c}" for s, c in zip(m["segment"], m["campaign"])]
    fig = go.Figure(go.Scatter(
        x=m["uplift"], y=labels, mode="markers", marker={"color": "#1f4e79", "size": 10},
        error_x={"type": "data", "symmetric": False, "array": m["uplift_ci_high"] - m["uplift"],
                 "arrayminus": m["uplift"] - m["uplift_ci_low"]},
        customdata=m[["start", "end", "roi"]].astype(str).to_numpy(),
        hovertemplate=("<b>%{y}</b><br>uplift per customer %{x:,.2f}<br>window %{customdata[0]} to "
                       "%{customdata[1]}<br>ROI %{customdata[2]}<extra></extra>")))
    fig.add_vline(x=0, line_color="#333", line_width=1)
    fig.update_xaxes(title=f"Revenue per customer, treatment minus control ({ctx.money}), 95% interval")
    return style(fig, ctx, "Measured campaigns: the latest uplift per segment",
                 f"{len(m)} segment(s) from {ctx.result.config.input.campaign_history}")
