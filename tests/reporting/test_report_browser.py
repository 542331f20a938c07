"""The acceptance test of the HTML report: Debian chromium (headless, no network) opens the
written page from disk, every panel renders, no error is logged, and the segment filter recounts
the customers as the customer table does."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from customersense.reporting.html import write_report

from ._html_run import planted_run

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


def _count_text(page) -> str:
    return page.locator("#cs-summary").inner_text()


def test_report_in_chromium(tmp_path):
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: run `make test` (it installs Debian chromium)", pytrace=False)
    from playwright.sync_api import sync_playwright

    result = planted_run()
    report = tmp_path / "report.html"
    info = write_report(result, report)
    customers = pd.read_parquet(Path(result.config.output.dir) / "customer_segments.parquet")
    learned = customers["segment"].astype(str)
    classic = customers["rfm_segment"].astype(str)
    drop_learned = learned.value_counts().index[0]    # the biggest learned segment
    drop_classic = classic[learned != drop_learned].value_counts().index[0]

    errors, blocked = [], []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(120_000)  # a busy CI machine parses 5 MB of inline script slowly
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.route("**/*", route)
            page.goto(report.as_uri())
            ids = [f"cs-{panel}" for panel in info["panels"]]
            page.wait_for_function(
                "ids => ids.every(id => { const d = document.getElementById(id);"
                " return d && d.classList.contains('js-plotly-plot') && d.querySelector('.main-svg'); })", arg=ids)
            traces = page.evaluate("ids => ids.map(id => document.getElementById(id).data.length)", ids)
            assert all(n > 0 for n in traces), dict(zip(ids, traces))
            assert page.locator(".cs-panel").count() == len(info["panels"]) == 14  # campaigns: no history
            assert _count_text(page).startswith(f"Showing {len(customers):,} of {len(customers):,} customers")

            page.locator(f'input.cs-seg[data-segmentation="learned"][value="{drop_learned}"]').uncheck()
            expected = int((learned != drop_learned).sum())
            assert _count_text(page).startswith(f"Showing {expected:,} of {len(customers):,} customers in "
                                                f"{learned.nunique() - 1} learned segments")
            hidden = page.evaluate(
                "s => document.getElementById('cs-segments').data.filter(t => t.visible === false)"
                ".map(t => t.meta.segment)", drop_learned)
            assert hidden == [drop_learned]

            page.locator(f'input.cs-seg[data-segmentation="rfm"][value="{drop_classic}"]').uncheck()
            expected = int(((learned != drop_learned) & (classic != drop_classic)).sum())
            assert _count_text(page).startswith(f"Showing {expected:,} of")
            assert page.locator("#cs-summary").get_attribute("data-customers") == str(expected)

            page.locator('button.cs-all[data-segmentation="learned"][data-action="none"]').click()
            assert _count_text(page).startswith("Showing 0 of")
            page.locator('button.cs-all[data-segmentation="learned"][data-action="all"]').click()
            page.locator(f'input.cs-seg[data-segmentation="rfm"][value="{drop_classic}"]').check()
            assert _count_text(page).startswith(f"Showing {len(customers):,} of")

            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == [] and blocked == []
    assert shot.stat().st_size > 50_000
    artifacts = os.environ.get("CUSTOMERSENSE_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy2(shot, Path(artifacts) / "report_browser.png")
