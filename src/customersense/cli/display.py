"""Rich progress and the end-of-run summary (reads results, computes nothing)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text


class CountColumn(ProgressColumn):
    """``1,200,000/5,000,000 customers scored, 410,000/s`` on stages that count their work."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        rate = f", {task.speed:,.0f}/s" if task.speed else ""
        return Text(f"{task.completed:,.0f}/{task.total:,.0f} {task.fields.get('what', '')}{rate}")


class RichReporter:
    """A spinner for the running stage and one log line per finished stage, on stderr."""

    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), CountColumn(), TimeElapsedColumn(),
            console=self.console, transient=True,
        )
        self.progress.start()
        self.tasks: dict[str, tuple[int, str]] = {}

    def start(self, stage: str, description: str) -> None:
        self.tasks[stage] = (self.progress.add_task(description, total=None), description)

    def update(self, stage: str, completed: int, total: int, what: str) -> None:
        self.progress.update(self.tasks[stage][0], completed=completed, total=total, what=what)

    def finish(self, stage: str, seconds: float) -> None:
        task, description = self.tasks.pop(stage)
        self.progress.remove_task(task)
        self.progress.console.print(f"[green]done[/] {description} ({seconds:.2f} s)")

    def close(self) -> None:
        self.progress.stop()


def reading_lines(info) -> list[str]:
    """How the input was read: the container and text settings, then each column found with its
    evidence and the candidates it was preferred to (run.json's ``input`` holds the same)."""
    d = info.details
    how = [info.format]
    if "csv" in d:
        c = d["csv"]
        how += [c["encoding"], f"delimiter {c['delimiter']!r}", *([c["compression"]] if "compression" in c else [])]
    lines = [f"read {info.path}: {', '.join(how)}" + (f" ({d['content']})" if "content" in d else "")]
    for std, item in d.get("detection", {}).items():
        col = item.get("column")
        why = item.get("evidence", "").split("; ")[0]  # the sample counts stay in run.json
        text = f"  {std} <- {col!r} ({why})" if col else f"  {std}: {item.get('evidence', 'not found')}"
        others = item.get("preferred_to") or item.get("candidates_refused") or []
        if others:
            text += "; not " + "; not ".join(f"{o['column']!r} ({o['why_not']})" for o in others[:3])
        lines.append(text)
    for std, n in d.get("parsing", {}).get("numbers", {}).items():
        lines.append(f"  {std}: decimal {n['decimal']!r} ({n['evidence']})")
    return lines


def print_summary(result, out_dir: Path, files: list[Path]) -> None:
    console = Console()
    for line in reading_lines(result.source):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    rep = result.cleaning
    console.print(
        f"[bold]{rep.rows_in:,}[/] rows in, [bold]{rep.rows_kept:,}[/] kept "
        f"({rep.purchase_lines:,} purchase lines, {rep.return_lines:,} return lines); "
        f"[bold]{rep.customers:,}[/] customers as of {rep.as_of.isoformat()}"
    )
    print_reading(console, result.source.details.get("parsing", {}), rep)
    dropped = ", ".join(f"{k} {v:,}" for k, v in rep.dropped.items() if v)
    if dropped:
        console.print(f"dropped: {dropped}")
    for rule, rows in rep.examples.items():
        console.print(f"{rule}, e.g.: {'; '.join(rows)}", markup=False, highlight=False)
    for kind, title in (("rfm", "Classic RFM segments"), ("learned", "Learned segments")):
        rows = result.profiles[result.profiles["segmentation"] == kind]
        if rows.empty:
            continue
        table = Table(title=title)
        for col in ("segment", "customers", "share", "revenue share", "anomalies"):
            table.add_column(col, justify="left" if col == "segment" else "right")
        for row in rows.itertuples(index=False):
            anomalies = f"{int(row.anomalies):,}" if "anomalies" in rows.columns else "-"
            table.add_row(row.segment, f"{row.customers:,}", f"{row.share:.1%}", f"{row.revenue_share:.1%}", anomalies)
        console.print(table)
    if result.learned is not None:
        model = result.learned.model
        console.print(f"learned segments: {model.k_reason_}")
        console.print(f"anomalies: {int(model.is_anomaly_.sum()):,} customers flagged (Isolation Forest)")
    if result.validation is not None:
        v = result.validation
        colour = "green" if v.significant else "yellow"
        sample = f", on a sample of {v.n_used:,} customers" if v.sampled else ""
        console.print(f"[{colour}]validation[/]: {v.verdict()}{sample}")
    for b in result.rfm.bins:
        if b.empty_scores:
            console.print(f"[yellow]note[/]: {b.score}: {b.note()}")
    if result.clv is not None:
        print_clv(console, result)
    if result.representations is not None:
        print_representations(console, result.representations)
    for note in result.notes:
        console.print(f"[yellow]note[/]: {note}")
    console.print(f"outputs: {out_dir} ({', '.join(p.name for p in files)})")
    opened = [f"{path} ({app})" for name, path, app in DASHBOARD_FILES if any(p.name == name for p in files)]
    if opened:
        console.print(f"open: {'; '.join(opened)}; how: docs/dashboard_guide.md")


def print_clv(console, result) -> None:
    """The churn and CLV candidates on the holdout, one row each, and the choice."""
    rec, holdout = result.clv.record, result.clv.holdout
    h, sample = rec["holdout"], rec.get("fit_sample", {})
    who = (f"{h['customers']:,} sampled customers of {sample['holdout_customers_known']:,}" if sample.get("sampled")
           else f"{h['customers']:,} customers")
    table = Table(title=f"Churn and spend in the holdout ({h['calibration_end']} to {h['holdout_end']}, "
                        f"{h['days']} days, {who}, {h['churn_rate']:.0%} churned)")
    for col in ("candidate", "churn AUC", "Brier", "spend predicted", "spend actual", "error/customer"):
        table.add_column(col, justify="left" if col == "candidate" else "right")

    def cell(value, fmt: str) -> str:
        return "-" if value is None or value != value else format(value, fmt)

    for row in holdout.itertuples(index=False):
        name = f"{row.candidate} (chosen)" if row.chosen else row.candidate
        table.add_row(name, cell(row.churn_auc, ".3f"), cell(row.brier, ".4f"), cell(row.spend_predicted, ",.0f"),
                      cell(row.spend_actual, ",.0f"), cell(row.spend_mae, ",.2f"))
    console.print(table)
    colour = "green" if rec["status"]["label"] == "supported" else "yellow"
    console.print(f"[{colour}]churn and CLV[/]: {rec['selection']['chosen']} ({rec['selection']['rule']}); "
                  f"{rec['horizon_months']}-month CLV total {result.customers['clv'].sum():,.0f}; "
                  f"status: {rec['status']['label']}")


def print_reading(console, parsing: dict, rep) -> None:
    """How each key column was read (format, evidence, first and last date), and which return
    markers the data supports: one line each."""
    from ..cleaning.returns import summary
    from ..io.dates import describe

    if "timestamp" in parsing:
        console.print(f"timestamp: {describe(parsing['timestamp'])}", markup=False, highlight=False)
    if rep.returns:
        console.print(f"return markers (rows matched): {summary(rep.returns)}", markup=False, highlight=False)
    zero = rep.plausible.get("zero_value", {})
    if zero.get("kept_as_purchases"):
        console.print(f"zero-value rows: {zero['kept_as_purchases']:,} kept as purchases ({zero['why']}; "
                      "--zero-value drop to drop them)", markup=False, highlight=False)


# What the summary tells the analyst to open, and with what.
DASHBOARD_FILES = (
    ("report.html", "report.html", "a browser, offline"),
    ("customersense.xlsx", "customersense.xlsx", "Excel"),
    ("tableau", "tableau/customersense.twbx", "Tableau"),
    ("powerbi", "powerbi/CustomerSense.pbip", "Power BI Desktop"),
)


def print_scores(result) -> None:
    """What ``customersense score`` did, in a few lines."""
    console = Console()
    spec, scored = result.model.spec, result.customers
    trained = spec["trained_on"]
    console.print(f"model [bold]{spec['model_version']}[/] (trained on {trained['customers']:,} customers "
                  f"as of {trained['as_of']}); input: {result.input.kind}")
    if result.input.cleaning is not None:
        rep = result.input.cleaning
        console.print(f"[bold]{rep.rows_in:,}[/] rows in, [bold]{rep.rows_kept:,}[/] kept; "
                      f"[bold]{len(scored):,}[/] customers as of {rep.as_of.isoformat()}")
    else:
        console.print(f"[bold]{len(scored):,}[/] customers")
    for column, title in (("rfm_segment", "Classic RFM segments (frozen edges)"),
                          ("segment", "Learned segments (frozen centres)")):
        if column not in scored.columns:
            continue
        table = Table(title=title)
        table.add_column("segment")
        table.add_column("customers", justify="right")
        table.add_column("share", justify="right")
        counts = scored[column].value_counts()
        for name, n in counts.items():
            table.add_row(str(name), f"{n:,}", f"{n / len(scored):.1%}")
        console.print(table)
    if spec["clv"] and scored["clv"].isna().all():
        console.print(f"[yellow]note[/]: no CLV: {result.model.clv_missing}")
    console.print(f"outputs: {result.config.output.dir} ({', '.join(p.name for p in result.outputs)})")


def print_evolution(result) -> None:
    """What ``customersense evolve`` did: the model, the snapshots and the lifecycle per period."""
    console = Console()
    m, spec = result.migration, result.model.spec
    how = "fitted as of the last snapshot" if result.model_fitted else "given"
    console.print(f"model {result.model_version} ({how}); {len(m.dates)} snapshots every "
                  f"{result.every}, {m.dates[0]} to {m.dates[-1]}")
    table = Table(title="Customers per period")
    for col in ("period", "customers", "active", "new", "retained", "reactivated", "lost"):
        table.add_column(col, justify="left" if col == "period" else "right")
    for row in m.lifecycle.itertuples(index=False):
        period = f"{row.period_start} to {row.period_end}" if row.period_start else f"before {row.period_end}"
        cells = [row.customers, row.active, row.new, row.retained, row.reactivated, row.lost]
        table.add_row(period, *("-" if v is None or v != v else f"{int(v):,}" for v in cells))
    console.print(table)
    console.print(f"outputs: {result.config.output.dir} ({', '.join(p.name for p in result.outputs)})")


def print_representations(console, reps) -> None:
    """Trajectory and embedding segments, and the holdout table, when the run made them."""
    if reps.trajectories is not None:
        t = reps.trajectories
        sizes = t.columns["trajectory"].value_counts()
        console.print(f"trajectories ({t.start} to {t.end}): k = {t.k}; " +
                      ", ".join(f"{name} {n:,}" for name, n in sizes.items()))
    if reps.embeddings is not None:
        e = reps.embeddings
        sizes = e.columns["embedding_segment"].value_counts()
        console.print(f"basket embeddings: k = {e.k}; " + ", ".join(f"{name} {n:,}" for name, n in sizes.items()))
    if reps.holdout is not None:
        table = Table(title=f"Representations on the holdout (test as of {reps.holdout['test_as_of'].iloc[0]})")
        for col in ("representation", "churn AUC", "spend MAE", "stability (ARI)", "helps"):
            table.add_column(col, justify="left" if col == "representation" else "right")
        for r in reps.holdout.itertuples(index=False):
            def num(v, fmt):
                return "-" if v is None or v != v else format(v, fmt)
            helps = "-" if r.helps is None or r.helps != r.helps else ("yes" if r.helps else "no")
            table.add_row(r.representation, num(r.churn_auc, ".3f"), num(r.spend_mae, ",.2f"),
                          num(r.stability_ari, ".2f"), helps)
        console.print(table)
