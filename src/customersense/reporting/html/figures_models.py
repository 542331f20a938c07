"""The report's model panels (k selection, validation, churn and CLV, cleaning) and the list of
every panel: which are drawn for a run and, for those that are not, why."""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...profiles.report_views import histograms_by
from .figures import LEARNED_ONLY, SEGMENT_PANELS
from .figures_actions import campaigns_figure, recommendations_figure
from .style import KIND_LABEL, Context, money, style, tag

if TYPE_CHECKING:  # pragma: no cover
    from ...result import RunResult

CHURN_BINS = 20
STABILITY_COLORS = {"stable": "#54A24B", "weak": "#EECA3B", "unstable": "#E45756"}
K_METRICS = (("inertia", "Elbow (inertia)"), ("silhouette", "Silhouette (higher is better)"),
             ("davies_bouldin", "Davies-Bouldin (lower is better)"),
             ("calinski_harabasz", "Calinski-Harabasz (higher is better)"))


def k_selection_figure(ctx: Context) -> go.Figure:
    sel = ctx.result.learned.model.selection_
    k_chosen = int(ctx.result.learned.model.n_clusters_)
    fig = make_subplots(rows=2, cols=2, subplot_titles=[t for _, t in K_METRICS], vertical_spacing=0.18,
                        horizontal_spacing=0.12)
    for i, (col, label) in enumerate(K_METRICS):
        r, c = divmod(i, 2)
        fig.add_trace(go.Scatter(x=sel["k"], y=sel[col], mode="lines+markers", name=label,
                                 marker={"color": "#4C78A8"},
                                 hovertemplate=f"k = %{{x}}<br>{col}: %{{y:,.4g}}<extra></extra>"),
                      row=r + 1, col=c + 1)
        chosen = sel[sel["k"] == k_chosen]
        fig.add_trace(go.Scatter(x=chosen["k"], y=chosen[col], mode="markers", name=f"chosen k = {k_chosen}",
                                 marker={"color": "#E45756", "size": 12, "symbol": "star"},
                                 hovertemplate=f"chosen k = %{{x}}<br>{col}: %{{y:,.4g}}<extra></extra>"),
                      row=r + 1, col=c + 1)
        fig.update_xaxes(dtick=1, row=r + 1, col=c + 1)
    fig.update_annotations(font_size=11)
    reason = ctx.result.learned.model.k_reason_
    return style(fig, ctx, f"Choosing k: k = {k_chosen}", reason, top=105)


def validation_figure(ctx: Context) -> go.Figure:
    v = ctx.result.validation
    names = v.segment_names or [f"cluster {i}" for i in range(v.k)]
    fig = go.Figure(go.Bar(
        x=list(names), y=list(v.jaccard), error_y={"type": "data", "array": list(v.jaccard_std)},
        marker_color=[STABILITY_COLORS.get(s, "#9e9e9e") for s in v.stability], text=list(v.stability),
        textposition="inside", customdata=list(v.stability),
        hovertemplate="<b>%{x}</b><br>Jaccard: %{y:.3f}<br>%{customdata}<extra></extra>"))
    for level, label in ((0.6, "unstable below 0.6"), (0.75, "stable above 0.75")):
        fig.add_hline(y=level, line_dash="dot", line_color="#777", annotation_text=label,
                      annotation_position="top left", annotation_font_size=10)
    fig.update_yaxes(range=[0, 1.05], title="Bootstrap Jaccard (mean ± sd)")
    fig.update_xaxes(title="Learned segment")
    note = f"p = {v.p_value:.3f} against the null; {v.gap_phrase}; {v.n_used:,} customers used"
    return style(fig, ctx, "Validation: stability per segment", note)


def churn_label(ctx: Context) -> str:
    """What ``churn_probability`` is: "P(no purchase in the next N days)", N the run's
    ``clv.holdout_days``; "Churn probability" when the run's settings do not name N."""
    days = getattr(ctx.result.config.clv, "holdout_days", None)
    return f"P(no purchase in the next {int(days)} days)" if days else "Churn probability"


def churn_clv_figure(ctx: Context) -> go.Figure:
    hist = histograms_by(ctx.customers[["churn_probability", ctx.column]], "churn_probability", ctx.column,
                         ctx.order, CHURN_BINS, 0.0, 1.0)
    churn = churn_label(ctx)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14,
                        subplot_titles=[f"{churn}: customers per bin", f"CLV per segment ({ctx.money})"])
    for seg, h in hist.groupby("segment", sort=False):
        fig.add_trace(go.Bar(
            x=(h["left"] + h["right"]) / 2, y=h["count"], width=1.0 / CHURN_BINS, name=seg,
            marker_color=ctx.color(seg), meta=tag(ctx.kind, seg), legendgroup=seg,
            customdata=h[["left", "right"]].to_numpy(),
            hovertemplate=(f"<b>{seg}</b><br>{churn} %{{customdata[0]:.2f}}-%{{customdata[1]:.2f}}"
                           "<br>customers: %{y:,}<extra></extra>")), row=1, col=1)
    for row in ctx.profiles().itertuples(index=False):
        fig.add_trace(go.Bar(
            x=[row.segment], y=[row.clv_total], name=row.segment, marker_color=ctx.color(row.segment),
            meta=tag(ctx.kind, row.segment), legendgroup=row.segment, showlegend=False,
            customdata=[[int(row.customers), float(row.mean_clv)]],
            hovertemplate=(f"<b>%{{x}}</b><br>CLV total: %{{y:,.0f}} {ctx.money}<br>customers: "
                           f"%{{customdata[0]:,}}<br>mean CLV: %{{customdata[1]:,.2f}} {ctx.money}<extra></extra>")),
            row=1, col=2)
    fig.update_layout(barmode="stack", bargap=0.05)
    fig.update_xaxes(title=churn, range=[0, 1], row=1, col=1)
    fig.update_yaxes(title="Customers", tickformat=",", row=1, col=1)
    fig.update_xaxes(categoryorder="array", categoryarray=ctx.order, row=1, col=2, tickfont={"size": 10})
    fig.update_yaxes(title=money(ctx, f"CLV, {ctx.result.config.clv.horizon_months} months"), tickformat=",.0f", row=1, col=2)
    fig.update_annotations(font_size=11)
    return style(fig, ctx, f"Churn and lifetime value by {KIND_LABEL[ctx.kind]}",
                 f"all {len(ctx.customers):,} customers", legend=False, top=105)


def cleaning_figure(ctx: Context) -> go.Figure:
    rep = ctx.result.cleaning.to_dict()
    n = max(rep["rows_in"], 1)
    rows = [("rows in", rep["rows_in"]), ("rows kept", rep["rows_kept"]),
            *((f"dropped: {rule.replace('_', ' ')}", rep["dropped"].get(rule, 0)) for rule in rep["rules_in_order"]),
            ("customers", rep["customers"])]
    share = [f"{v / n:.2%}" if not label.startswith("customers") else "" for label, v in rows]
    fig = go.Figure(go.Table(
        columnwidth=[3, 1.4, 1],
        header={"values": ["<b>Cleaning</b>", "<b>Rows</b>", "<b>Share of rows in</b>"], "align": "left",
                "fill_color": "#eef2f7"},
        cells={"values": [[label for label, _ in rows], [f"{v:,}" for _, v in rows], share],
               "align": ["left", "right", "right"], "height": 21}))
    fig = style(fig, ctx, "Cleaning: rows in, kept and dropped by rule",
                f"as of {rep['as_of']} ({rep['as_of_source']})")
    return fig.update_layout(margin={"l": 10, "r": 10, "b": 10})


MODEL_PANELS = {
    "k_selection": k_selection_figure,
    "validation": validation_figure,
    "churn_clv": churn_clv_figure,
    "cleaning": cleaning_figure,
    "recommendations": recommendations_figure,
    "campaigns": campaigns_figure,
}
PANEL_ORDER = ("segments", "revenue", "both_segmentations", "rfm_grid", "profiles", "engagement", "recency",
               "rfm_3d", "frequency_monetary", "k_selection", "validation", "cleaning", "churn_clv",
               "recommendations", "campaigns")


def skip_reason(panel: str, ctx: Context) -> str | None:
    """Why ``panel`` is not drawn for this run, or None when it is."""
    result = ctx.result
    if panel in (*LEARNED_ONLY, "k_selection", "validation") and not ctx.learned_order:
        return "learned segmentation is off (segmentation.enabled = false) or was skipped"
    if panel == "k_selection" and result.learned.model.selection_.empty:
        return "k was fixed, no k sweep to show"
    if panel == "validation" and result.validation is None:
        return "validation is off (validation.enabled = false)"
    if panel == "churn_clv" and ("churn_probability" not in ctx.customers.columns
                                 or "clv_total" not in result.profiles.columns):
        return "CLV and churn are off (clv.enabled = false) or were skipped"
    if panel == "recommendations" and "expected_incremental_revenue" not in result.profiles.columns:
        return "the segment profiles hold no recommendation figures"
    if panel == "campaigns" and (result.campaigns is None or result.campaigns.empty):
        return ("no measured campaign: `customersense campaign analyze` records one in the campaign history "
                f"({result.config.input.campaign_history or 'input.campaign_history is empty'})")
    return None


def report_panels(result: RunResult, ctx: Context | None = None) -> tuple[dict[str, go.Figure], dict[str, str]]:
    """Every panel drawn for ``result`` in page order, and the reason for each one left out."""
    ctx = ctx or Context.of(result)
    builders = SEGMENT_PANELS | MODEL_PANELS
    figures, skipped = {}, {}
    for panel in PANEL_ORDER:
        reason = skip_reason(panel, ctx)
        if reason:
            skipped[panel] = reason
        else:
            figures[panel] = builders[panel](ctx)
    return figures, skipped


def report_figures(result: RunResult) -> dict[str, go.Figure]:
    """The report's plotly figures, in page order, keyed by stable panel ids."""
    return report_panels(result)[0]
