"""One self-contained, offline report.html: every panel of :mod:`.figures_models`, plotly.js
inlined once (no CDN, no network request), the segment filter and its summary line. The same
result gives the same bytes (every plot div id is fixed, no timestamp)."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import plotly
from plotly.offline import get_plotlyjs

from ...profiles.report_views import segment_counts
from .assets import CSS, JS
from .figures_models import report_panels
from .style import CLASSIC, KIND_LABEL, LEARNED, Context

if TYPE_CHECKING:  # pragma: no cover
    from ...result import RunResult

REPORT_FILE = "report.html"
WIDE_PANELS = ("both_segmentations", "k_selection", "churn_clv", "recommendations")
PLOT_CONFIG = {"responsive": True, "displaylogo": False, "scrollZoom": False,
               "toImageButtonOptions": {"format": "png", "scale": 2}}
PANEL_IDS = "cs-{}"


def panel_section(panel: str, fig, wide: bool = False) -> str:
    """One panel of a page: the figure's div (fixed id ``cs-<panel>``, no plotly.js of its own)."""
    div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=PANEL_IDS.format(panel),
                      config=PLOT_CONFIG, default_width="100%")
    return f'<section class="cs-panel{" wide" if wide else ""}" data-panel="{panel}">{div}</section>'


def html_page(heading: str, title: str, caption: str, body: list[str]) -> str:
    """A self-contained page: the house style, plotly.js inlined once, a header with the caption,
    then ``body`` (already HTML)."""
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>", f"<style>{CSS}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>', "</head>", "<body>",
        f'<header><h1>{html.escape(heading)}</h1><p class="caption" id="cs-caption">{html.escape(caption)}</p>'
        "</header>", *body, "</body>", "</html>", ""])


def _json_script(value) -> str:
    """JSON that is safe inside a <script> element."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    # no "<", ">" or "&" at all: "</script>" or "<!--" in a segment name cannot end or hide the script
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _counts(ctx: Context) -> dict:
    kinds = [LEARNED, CLASSIC] if ctx.learned_order else [CLASSIC]
    columns = {LEARNED: "segment", CLASSIC: "rfm_segment"}
    table = segment_counts(ctx.customers, [columns[k] for k in kinds])
    rows = [{**{k: str(r[columns[k]]) for k in kinds}, "customers": int(r["customers"]),
             "revenue": round(float(r["revenue"]), 2)} for _, r in table.iterrows()]
    return {"kinds": kinds, "labels": {k: KIND_LABEL[k] for k in kinds}, "rows": rows,
            "total": int(len(ctx.customers)), "currency": ctx.money}


def summary_text(counts: dict) -> str:
    """The filter's summary with every segment ticked (the page's script writes the same sentence)."""
    n = sum(r["customers"] for r in counts["rows"])
    revenue = sum(r["revenue"] for r in counts["rows"])
    parts = []
    for k in counts["kinds"]:
        m = len({r[k] for r in counts["rows"]})
        parts.append(f"{m} {counts['labels'][k]}{'' if m == 1 else 's'}")
    # halves upwards, as the script's Math.round does (Python's round would take a half to even)
    whole = int(math.floor(revenue + 0.5))
    return (f"Showing {n:,} of {counts['total']:,} customers in {' and '.join(parts)} · "
            f"net revenue {whole:,} {counts['currency']}")


def _filter(ctx: Context, counts: dict) -> str:
    groups = []
    for kind in counts["kinds"]:
        order = ctx.learned_order if kind == LEARNED else ctx.classic_order
        sizes = ctx.profiles(kind).set_index("segment")["customers"]
        boxes = "".join(
            f'<label><input type="checkbox" class="cs-seg" data-segmentation="{kind}" '
            f'value="{html.escape(s)}" checked><span class="swatch" style="background:{ctx.color(s, kind)}">'
            f"</span>{html.escape(s)} ({int(sizes.get(s, 0)):,})</label>" for s in order)
        buttons = "".join(f'<button type="button" class="cs-all" data-segmentation="{kind}" data-action="{a}">'
                          f"{a}</button>" for a in ("all", "none"))
        groups.append(f'<fieldset id="cs-filter-{kind}" data-segmentation="{kind}"><legend>'
                      f"{KIND_LABEL[kind][0].upper()}{KIND_LABEL[kind][1:]}s {buttons}</legend>{boxes}</fieldset>")
    return (f'<section id="cs-filter">{"".join(groups)}<p id="cs-summary" data-customers="{counts["total"]}">'
            f"{html.escape(summary_text(counts))}</p></section>")


def _notes(result: RunResult, skipped: dict[str, str]) -> str:
    lines = []
    if result.validation is not None:
        lines.append(f'<p id="cs-verdict"><b>Validation:</b> {html.escape(result.validation.verdict())}</p>')
    lines += [f'<p class="cs-skipped" data-panel="{p}"><b>Not shown: {p.replace("_", " ")}</b>: '
              f"{html.escape(why)}</p>" for p, why in skipped.items()]
    lines += [f'<p class="cs-note">{html.escape(n)}</p>' for n in result.notes]
    return f'<section id="cs-notes">{"".join(lines)}</section>'


def render_report(result: RunResult) -> tuple[str, dict]:
    """The page's HTML and what it holds (panels drawn and skipped, sample size)."""
    ctx = Context.of(result)
    figures, skipped = report_panels(result, ctx)
    counts = _counts(ctx)
    panels = []
    for panel, fig in figures.items():
        panels.append(panel_section(panel, fig, wide=panel in WIDE_PANELS))
    page = html_page(
        "Customer segments", f"CustomerSense report · {result.caption}", result.caption,
        [_filter(ctx, counts), _notes(result, skipped), f'<main class="cs-grid">{"".join(panels)}</main>',
         f"<footer>CustomerSense · plotly.js {plotly.__version__} inlined · works offline · "
         f"{html.escape(ctx.sample_note)} in the point clouds</footer>",
         f'<script type="application/json" id="cs-counts">{_json_script(counts)}</script>',
         f"<script>{JS}</script>"])
    info = {"file": REPORT_FILE, "panels": list(figures), "skipped": skipped, "customers": int(len(ctx.customers)),
            "sample_size": int(len(ctx.sample)), "sample": ctx.sample_note}
    result.figures = figures  # shown inline in a notebook (RunResult.figures)
    return page, info


def write_report(result: RunResult, path: Path) -> dict:
    """Write the report to ``path`` (a file, or a directory that gets ``report.html``) and return
    what run.json records of it: panels written and skipped, sample size, bytes."""
    path = Path(path)
    if path.is_dir():
        path = path / REPORT_FILE
    page, info = render_report(result)
    data = page.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return {**info, "file": path.name, "bytes": len(data)}
