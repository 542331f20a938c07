"""What every panel of the HTML report shares: the run's context (caption, currency, segment
orders, colours, the seeded sample), titles, axis labels and the trace tag the page's segment
filter reads. Drawing and formatting only; the numbers come from ``customersense.profiles``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from ...profiles.views import figure_sample

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

    from ...result import RunResult

LEARNED, CLASSIC = "learned", "rfm"
KIND_LABEL = {LEARNED: "learned segment", CLASSIC: "classic RFM segment"}
OUTLIERS = "Outliers"
OUTLIER_COLOR = "#9e9e9e"
# Learned segments: Tableau 10 without its grey (grey is for "Outliers"); classic: a 24-colour set.
LEARNED_COLORS = ("#4C78A8", "#F58518", "#E45756", "#72B7B2", "#54A24B", "#EECA3B", "#B279A2", "#FF9DA6",
                  "#9D755D")
CLASSIC_COLORS = ("#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#B68100", "#750D86", "#EB663B",
                  "#511CFB", "#00A08B", "#FB00D1", "#FC0080", "#B2828D", "#6C7C32", "#778AAE", "#862A16")
HEIGHT = 420
GRID = "#e3e8ef"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


@dataclass(frozen=True)
class Context:
    """The run as the panels read it."""

    result: RunResult
    caption: str
    money: str                  # the currency as axis titles name it
    customers: pd.DataFrame
    kind: str                   # the segmentation most panels split by: LEARNED, else CLASSIC
    column: str                 # its customer column
    order: list[str]            # its segments, in drawing order
    learned_order: list[str]    # [] when segmentation is off
    classic_order: list[str]
    colors: dict[tuple[str, str], str]
    sample: pd.DataFrame
    sample_note: str

    @classmethod
    def of(cls, result: RunResult) -> Context:
        c = result.customers
        learned = "segment" in c.columns and result.learned is not None
        learned_order = _present(result.learned.order, c["segment"]) if learned else []
        classic_order = _present(result.segment_map.segments, c["rfm_segment"])
        colors = {(CLASSIC, s): CLASSIC_COLORS[i % len(CLASSIC_COLORS)] for i, s in enumerate(classic_order)}
        plain = [s for s in learned_order if s != OUTLIERS]
        colors |= {(LEARNED, s): LEARNED_COLORS[i % len(LEARNED_COLORS)] for i, s in enumerate(plain)}
        colors[(LEARNED, OUTLIERS)] = OUTLIER_COLOR
        sample, note = figure_sample(c)
        kind = LEARNED if learned else CLASSIC
        return cls(result=result, caption=result.caption, money=result.currency or "currency not set",
                   customers=c, kind=kind, column="segment" if learned else "rfm_segment",
                   order=learned_order if learned else classic_order, learned_order=learned_order,
                   classic_order=classic_order, colors=colors, sample=sample, sample_note=note)

    def color(self, segment: str, kind: str | None = None) -> str:
        return self.colors.get((kind or self.kind, str(segment)), OUTLIER_COLOR)

    def profiles(self, kind: str | None = None) -> pd.DataFrame:
        """The profile rows of one segmentation, segment names as strings."""
        p = self.result.profiles
        p = p[p["segmentation"] == (kind or self.kind)]
        return p.assign(segment=p["segment"].astype(str)).reset_index(drop=True)


def _present(order, values: pd.Series) -> list[str]:
    """``order`` (as strings) kept to the values present, then any other value in sorted order."""
    seen = {str(v) for v in values.dropna().unique()}
    names = [s for s in dict.fromkeys(str(s) for s in order) if s in seen]
    return names + sorted(seen - set(names))


def title(ctx: Context, text: str, note: str | None = None) -> dict:
    """A panel title: the name, then the run's caption (and a note) in small type."""
    lines = [ctx.caption, *([note] if note else [])]
    sub = "<br>".join(f"<span style='font-size:11px;color:#555'>{line}</span>" for line in lines)
    return {"text": f"<b>{text}</b><br>{sub}",
            "x": 0.01, "xanchor": "left", "y": 0.97, "yanchor": "top", "font": {"size": 15}}


def money(ctx: Context, what: str = "Net revenue") -> str:
    return f"{what} ({ctx.money})"


def style(fig: go.Figure, ctx: Context, text: str, note: str | None = None, legend: bool = False,
          top: int = 90) -> go.Figure:
    """Title, size, margins and font shared by every panel (the width follows the page)."""
    fig.update_layout(title=title(ctx, text, note), height=HEIGHT, autosize=True, showlegend=legend,
                      margin={"l": 60, "r": 20, "t": top, "b": 50}, font={"family": FONT, "size": 12},
                      plot_bgcolor="white", hoverlabel={"namelength": -1},
                      legend={"font": {"size": 10}, "itemsizing": "constant"})
    fig.update_xaxes(gridcolor=GRID, zerolinecolor=GRID)
    fig.update_yaxes(gridcolor=GRID, zerolinecolor=GRID)
    return fig


def tag(kind: str, segment: str) -> dict:
    """The trace's ``meta``: the page's filter shows it only while this segment is ticked."""
    return {"segmentation": kind, "segment": str(segment)}
