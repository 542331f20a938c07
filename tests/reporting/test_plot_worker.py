"""The PNG figures drawn by a worker process (output.plots_worker, the default) are the very bytes
drawn in the run's own process; a figure's failure in the worker is raised in the run as it was
raised there; a worker that stops without a word leaves the figures to the run's process, which
says so; leaving early stops the worker by its process id."""

from __future__ import annotations

import json
import time

import pyarrow.parquet as pq
import pytest

from customersense.config import load_config
from customersense.datasets.synthetic import planted_transactions
from customersense.pipeline import run
from customersense.reporting.dashboards import k_selection_figure
from customersense.reporting.outputs import plot_jobs
from customersense.reporting.plot_worker import PlotJob, Plots

pytest.importorskip("matplotlib")

FIGURES = ("rfm_segments.png", "clv_analysis.png", "customer_segmentation_dashboard.png",
           "optimal_clusters_analysis.png", "validation_analysis.png")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plot_worker")
    table, _ = planted_transactions(n_customers=400, seed=11)
    pq.write_table(table, tmp / "tx.parquet")
    result = run(load_config(None, {"input": {"source": str(tmp / "tx.parquet"), "currency": "EUR"},
                                    "output": {"dir": str(tmp / "out"), "dashboards": False},
                                    "segmentation": {"k_min": 2, "k_max": 4}}))
    return result, tmp


def test_worker_draws_the_same_bytes_as_this_process(finished):
    result, tmp = finished
    record = json.loads((tmp / "out" / "run.json").read_text())
    assert record["figures"]["drawn_in"] == "a worker process" and record["figures"]["figures"] == len(FIGURES)
    assert record["figures"]["peak_rss_mb"] > 50  # the worker's own peak, matplotlib imported
    here = tmp / "here"
    here.mkdir()
    jobs = plot_jobs(result)
    assert [j.name for j in jobs] == list(FIGURES)
    with Plots(jobs, {j.name: here / j.name for j in jobs}, in_worker=False) as plots:
        info = plots.finish()
    assert info["drawn_in"] == "this process"
    for name in FIGURES:
        assert (here / name).read_bytes() == (tmp / "out" / name).read_bytes(), name


def test_worker_failure_is_raised_in_the_run(tmp_path):
    job = PlotJob("k.png", k_selection_figure, (None, 3), {"caption": "c"})  # no selection table
    with pytest.raises(Exception) as here:
        k_selection_figure(None, 3, caption="c")
    with Plots([job], {"k.png": tmp_path / "k.png"}, in_worker=True) as plots, pytest.raises(type(here.value)) as there:
        plots.finish()
    assert str(there.value) == str(here.value)
    assert any("in the process drawing the figures" in note for note in there.value.__notes__)
    assert not (tmp_path / "k.png").exists()


def test_a_worker_that_stops_without_a_word_leaves_the_figures_to_this_process(finished, tmp_path, monkeypatch):
    import customersense.reporting.plot_worker as plot_worker

    result, tmp = finished
    job = next(j for j in plot_jobs(result) if j.name == "optimal_clusters_analysis.png")
    for executable, why in (("/bin/false", "exit code 1"),  # starts, exits 1 without a word
                            (str(tmp_path / "no-python"), "not started: No such file or directory")):
        monkeypatch.setattr(plot_worker.sys, "executable", executable)
        (tmp_path / job.name).unlink(missing_ok=True)
        with Plots([job], {job.name: tmp_path / job.name}, in_worker=True) as plots:
            info = plots.finish()
        assert info["drawn_in"] == "this process" and info["worker_stopped"] == why
        assert (tmp_path / job.name).read_bytes() == (tmp / "out" / job.name).read_bytes()


def test_leaving_early_stops_the_worker(tmp_path):
    job = PlotJob("slow.png", time.sleep, (60,))
    with Plots([job], {"slow.png": tmp_path / "slow.png"}, in_worker=True) as plots:
        proc, scratch = plots._proc, plots._scratch
        assert proc.poll() is None and scratch.is_dir()
    assert proc.poll() is not None and not scratch.exists()
