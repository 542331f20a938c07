"""The report's segment panels as plotly figures. They draw tables from ``customersense.profiles``
(profiles, views, report_views) and the seeded figure sample; they compute nothing themselves.
Every trace that belongs to one segment is tagged (``meta``) for the page's segment filter."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...profiles.report_views import axis_window, count_not_positive
from ...profiles.views import box_stats, normalised_profiles, rfm_grid
from .style import CLASSIC, KIND_LABEL, LEARNED, Context, money, style, tag

BAR_HOVER = ("<b>%{customdata[0]}</b><br>customers: %{customdata[1]:,} (%{customdata[2]:.1%})<br>"
             "net revenue: %{customdata[3]:,.2f} {cur} (%{customdata[4]:.1%})<extra></extra>")
FEATURE_LABELS = {"recency_days": "Recency (d)", "frequency": "Frequency", "monetary": "Net revenue",
                  "avg_order_value": "Avg order", "tenure_days": "Tenure (d)", "engagement_score": "Engagement"}


def _bar_traces(ctx: Context, kind: str, value: str, horizontal: bool = False, show_legend: bool = False,
                **extra) -> list[go.Bar]:
    """One bar per segment of ``kind`` (its own trace, so the filter can hide it)."""
    traces = []
    for row in ctx.profiles(kind).itertuples(index=False):
        data = [row.segment, int(row.customers), float(row.share), float(row.revenue), float(row.revenue_share)]
        xy = {"x": [getattr(row, value)], "y": [row.segment]} if horizontal else \
             {"x": [row.segment], "y": [getattr(row, value)]}
        traces.append(go.Bar(**xy, name=row.segment, orientation="h" if horizontal else "v",
                             marker_color=ctx.color(row.segment, kind), customdata=[data], meta=tag(kind, row.segment),
                             hovertemplate=BAR_HOVER.replace("{cur}", ctx.money), showlegend=show_legend,
                             legendgroup=f"{kind}:{row.segment}", **extra))
    return traces


def segments_figure(ctx: Context) -> go.Figure:
    fig = go.Figure(_bar_traces(ctx, LEARNED, "customers"))
    fig.update_xaxes(categoryorder="array", categoryarray=ctx.learned_order, title="Learned segment")
    fig.update_yaxes(title="Customers", tickformat=",")
    return style(fig, ctx, "Customers per learned segment", f"all {len(ctx.customers):,} customers")


def revenue_figure(ctx: Context) -> go.Figure:
    fig = go.Figure(_bar_traces(ctx, LEARNED, "revenue"))
    fig.update_xaxes(categoryorder="array", categoryarray=ctx.learned_order, title="Learned segment")
    fig.update_yaxes(title=money(ctx), tickformat=",.0f")
    return style(fig, ctx, "Net revenue per learned segment")


def both_figure(ctx: Context) -> go.Figure:
    kinds = [CLASSIC] + ([LEARNED] if ctx.learned_order else [])
    fig = make_subplots(rows=len(kinds), cols=2, horizontal_spacing=0.22, vertical_spacing=0.1,
                        subplot_titles=[t for k in kinds for t in (f"Customers ({KIND_LABEL[k]}s)",
                                                                   f"{money(ctx)}")],
                        row_heights=[0.68, 0.32][: len(kinds)] if len(kinds) == 2 else None)
    for r, kind in enumerate(kinds, start=1):
        for col, value in ((1, "customers"), (2, "revenue")):
            for trace in _bar_traces(ctx, kind, value, horizontal=True):
                fig.add_trace(trace, row=r, col=col)
            order = ctx.classic_order if kind == CLASSIC else ctx.learned_order
            fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], row=r, col=col,
                             tickfont={"size": 10})
            fig.update_xaxes(tickformat="," if value == "customers" else ",.0f", row=r, col=col)
    fig.update_annotations(font_size=11)
    style(fig, ctx, "Segment sizes and revenue, both segmentations", top=100)
    return fig.update_layout(height=540 if len(kinds) == 2 else 420, margin={"l": 130})


def _sample_groups(ctx: Context):
    """The sample's customers of each segment (in drawing order, empty ones left out)."""
    s = ctx.sample
    seg = s[ctx.column].astype(str)
    for name in ctx.order:
        g = s[seg == name]
        if len(g):
            yield name, g, g[["customer_id"]].astype(str).to_numpy()


def rfm_3d_figure(ctx: Context) -> go.Figure:
    hidden = count_not_positive(ctx.sample, ["frequency", "monetary"])
    traces = [go.Scatter3d(
        x=g["recency_days"], y=g["frequency"], z=g["monetary"], mode="markers", name=seg,
        marker={"size": 2.5, "color": ctx.color(seg), "opacity": 0.75}, meta=tag(ctx.kind, seg), customdata=ids,
        hovertemplate=(f"<b>{seg}</b><br>customer %{{customdata[0]}}<br>recency: %{{x:,}} days<br>"
                       f"frequency: %{{y:,}}<br>net revenue: %{{z:,.2f}} {ctx.money}<extra></extra>"))
        for seg, g, ids in _sample_groups(ctx)]
    fig = go.Figure(traces)
    fig.update_layout(scene={"xaxis": {"title": "Recency (days)"},
                             "yaxis": {"title": "Frequency (log)", "type": "log"},
                             "zaxis": {"title": f"{money(ctx)} (log)", "type": "log"},
                             "camera": {"eye": {"x": 1.6, "y": 1.6, "z": 0.9}}},
                      margin={"l": 0, "r": 0, "b": 0})
    note = ctx.sample_note + (f"; {hidden:,} with revenue <= 0 not on the log axis" if hidden else "")
    style(fig, ctx, "Recency, frequency and revenue (3D, log axes)", note, legend=True)
    return fig.update_layout(margin={"l": 0, "r": 0, "b": 0, "t": 90})


def profiles_figure(ctx: Context) -> go.Figure:
    raw, norm = normalised_profiles(ctx.profiles(), ctx.order)
    labels = [FEATURE_LABELS.get(f, f) for f in norm.columns]
    labels = [f"{lab}<br>({ctx.money})" if f in ("monetary", "avg_order_value") else lab
              for lab, f in zip(labels, norm.columns)]
    fig = go.Figure(go.Heatmap(
        z=norm.to_numpy(), x=labels, y=list(norm.index), customdata=raw.to_numpy(), zmin=0, zmax=1,
        colorscale="Blues", colorbar={"title": "scaled", "thickness": 12},
        text=[[f"{v:,.1f}" for v in row] for row in raw.to_numpy()], texttemplate="%{text}",
        hovertemplate="<b>%{y}</b><br>%{x}<br>mean: %{customdata:,.2f}<br>scaled: %{z:.2f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(side="bottom", tickangle=0, tickfont={"size": 10})
    return style(fig, ctx, "Segment profiles (mean per segment, scaled 0-1 per feature)", "cells show raw means")


def box_figure(ctx: Context, column: str, label: str, text: str) -> go.Figure:
    stats = box_stats(ctx.customers[[column, ctx.column]], column, ctx.column, ctx.order)
    traces = [go.Box(
        x=[r.segment], q1=[r.q1], median=[r.median], q3=[r.q3], lowerfence=[r.lower], upperfence=[r.upper],
        mean=[r.mean], name=f"{r.segment} (n={r.n:,})", marker_color=ctx.color(r.segment), boxpoints=False,
        meta=tag(ctx.kind, r.segment), hoverinfo="y+name") for r in stats.itertuples(index=False)]
    fig = go.Figure(traces)
    fig.update_xaxes(categoryorder="array", categoryarray=ctx.order, title=KIND_LABEL[ctx.kind][0].upper() + KIND_LABEL[ctx.kind][1:])
    fig.update_yaxes(title=label)
    return style(fig, ctx, text, f"box: quartiles, whiskers 1.5 IQR, all {len(ctx.customers):,} customers")


def engagement_figure(ctx: Context) -> go.Figure:
    return box_figure(ctx, "engagement_score", "Engagement score (0-100)", "Engagement by segment")


def recency_figure(ctx: Context) -> go.Figure:
    return box_figure(ctx, "recency_days", "Recency (days since last purchase)", "Recency by segment")


def freq_monetary_figure(ctx: Context) -> go.Figure:
    lo, hi, outside = axis_window(ctx.sample["monetary"], 1.0, 99.9)
    traces = [go.Scatter(
        x=g["frequency"], y=g["monetary"], mode="markers", name=seg, meta=tag(ctx.kind, seg),
        marker={"size": 4, "color": ctx.color(seg), "opacity": 0.6}, customdata=ids,
        hovertemplate=(f"<b>{seg}</b><br>customer %{{customdata[0]}}<br>frequency: %{{x:,}}<br>"
                       f"net revenue: %{{y:,.2f}} {ctx.money}<extra></extra>"))
        for seg, g, ids in _sample_groups(ctx)]
    fig = go.Figure(traces)
    pad = 0.03 * (hi - lo)
    fig.update_xaxes(type="log", title="Frequency (orders, log)")
    fig.update_yaxes(range=[lo - pad, hi + pad], title=money(ctx), tickformat=",.0f")
    note = f"{ctx.sample_note}; y axis: 1st-99.9th percentile ({outside:,} points outside)"
    return style(fig, ctx, "Frequency vs net revenue", note, legend=True)


def rfm_grid_figure(ctx: Context) -> go.Figure:
    grid = rfm_grid(ctx.customers)
    names = ctx.classic_order
    index = {s: i for i, s in enumerate(names)}
    z = [[None] * 5 for _ in range(5)]
    text = [[""] * 5 for _ in range(5)]
    custom = [[["", 0, 0.0, 0] for _ in range(5)] for _ in range(5)]
    for r in grid.itertuples(index=False):
        z[r.r_score - 1][r.f_score - 1] = index[r.segment]
        text[r.r_score - 1][r.f_score - 1] = f"{r.customers:,}"
        custom[r.r_score - 1][r.f_score - 1] = [r.segment, int(r.customers), float(r.revenue), int(r.segments_in_cell)]
    n = max(len(names), 1)
    scale = []
    for i, s in enumerate(names):  # one flat band of colour per classic segment
        scale += [[i / n, ctx.color(s, CLASSIC)], [(i + 1) / n, ctx.color(s, CLASSIC)]]
    fig = go.Figure(go.Heatmap(
        z=z, x=[1, 2, 3, 4, 5], y=[1, 2, 3, 4, 5], zmin=-0.5, zmax=n - 0.5, colorscale=scale or "Greys",
        showscale=False, text=text, texttemplate="%{text}", customdata=custom, xgap=2, ygap=2,
        hovertemplate=("R %{y} · F %{x}<br><b>%{customdata[0]}</b> (of %{customdata[3]} in cell)<br>"
                       f"customers: %{{customdata[1]:,}}<br>net revenue: %{{customdata[2]:,.2f}} {ctx.money}"
                       "<extra></extra>")))
    for s in names:  # a legend of the segment colours
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=s, showlegend=True,
                                 marker={"size": 10, "symbol": "square", "color": ctx.color(s, CLASSIC)}))
    fig.update_xaxes(title="Frequency score", dtick=1)
    fig.update_yaxes(title="Recency score", dtick=1)
    return style(fig, ctx, "Classic RFM grid (recency x frequency score)",
                 "cell text: customers; colour: the cell's main classic segment", legend=True)


SEGMENT_PANELS = {
    "segments": segments_figure,
    "revenue": revenue_figure,
    "both_segmentations": both_figure,
    "rfm_3d": rfm_3d_figure,
    "profiles": profiles_figure,
    "engagement": engagement_figure,
    "recency": recency_figure,
    "frequency_monetary": freq_monetary_figure,
    "rfm_grid": rfm_grid_figure,
}
LEARNED_ONLY = ("segments", "revenue", "profiles", "engagement", "recency")
