"""The command line: outputs, one-line errors with named exit codes, atomic outputs, determinism."""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from customersense.cli.main import cli
from customersense.errors import EXIT_CONFIG, EXIT_DATA, EXIT_INPUT, EXIT_RESOURCE, EXIT_USAGE

CSV = """customer_id,order_id,timestamp,amount
a,1,2021-01-01 10:00,10
a,2,2021-01-05 10:00,20
a,R2,2021-01-06 10:00,-5
b,3,2021-01-02 10:00,7
c,4,2021-01-03 10:00,100
c,5,2021-01-08 10:00,50
d,6,2021-01-08 12:00,1
""" + "".join(f"e{i},{10 + i},2021-01-0{1 + i % 8} 09:00,{3 * i + 1}\n" for i in range(12))
OUTPUTS = ("customer_segments.csv", "customer_segments.parquet", "segment_profiles.csv", "segment_profiles.parquet",
           "transactions_with_segments.parquet", "transactions_with_segments.csv",
           "cleaning_report.json", "model_selection.csv", "segment_crosstab.csv",
           "customer_segmentation_dashboard.png", "rfm_segments.png", "optimal_clusters_analysis.png",
           "validation.json", "validation_analysis.png", "model", "report.html", "customersense.xlsx", "tableau", "powerbi",
           "run.json")
# 16 customers are too few for the CLV models: the run says so and goes on (tests/clv/test_clv.py
# and tests/pipeline/test_real_data.py cover the CLV outputs on real data).


def _invoke(*args):
    return CliRunner().invoke(cli, ["run", "--quiet", *map(str, args)])


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text(CSV)
    return path


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """One successful run, copied by the tests that need previous outputs."""
    root = tmp_path_factory.mktemp("baseline")
    path = root / "tx.csv"
    path.write_text(CSV)
    assert _invoke(path, "--out", root / "out").exit_code == 0
    return root / "out"


def _digest(folder, names):
    """SHA-256 of each named file; a folder (the model bundle): of each file in it."""
    files = [p for n in names for p in ([folder / n] if (folder / n).is_file() else sorted((folder / n).rglob("*")))
             if p.is_file()]
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_run_writes_every_output(small, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(small), "--out", str(out)])  # not --quiet: the summary too
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    # the summary names what to open, and with what
    said = " ".join(result.output.split())
    assert ("open: report.html (a browser, offline); customersense.xlsx (Excel); tableau/customersense.twbx "
            "(Tableau); powerbi/CustomerSense.pbip (Power BI Desktop); how: docs/dashboard_guide.md") in said
    seg = pd.read_csv(out / "customer_segments.csv", dtype={"customer_id": str})
    assert seg["customer_id"].tolist()[:4] == ["a", "b", "c", "d"]
    assert seg.loc[0, "monetary"] == 25.0 and seg.loc[0, "frequency"] == 2
    assert {"r_score", "f_score", "m_score", "rfm_segment"} <= set(seg.columns)
    run = json.loads((out / "run.json").read_text())
    assert run["rows"]["in"] == 19 and run["customers"] == 16
    assert run["as_of"] == "2021-01-09"
    assert set(run["timings"]["stages"]) == {
        "read", "clean", "features", "clv", "rfm", "segments", "validate", "profiles", "write", "model", "plots", "dashboards"}
    bundle = json.loads((out / "model" / "manifest.json").read_text())
    assert run["model_bundle"] == {"version": bundle["model_version"], "folder": "model"}
    assert run["segmentation"]["k"] >= 2
    assert run["validation"]["verdict"] == json.loads((out / "validation.json").read_text())["verdict"]
    assert run["clv"] == {"enabled": True, "fitted": False}
    assert any(note.startswith("CLV skipped: ") for note in run["notes"])
    assert run["input"]["fingerprint"]["sha256"] == hashlib.sha256(small.read_bytes()).hexdigest()
    # the installed versions, read from the modules themselves (a bare truth test passed on the
    # "not installed" fallback string too)
    import duckdb, numpy, pandas, sklearn  # noqa: E401
    assert {k: run["versions"][k] for k in ("duckdb", "numpy", "pandas", "scikit-learn")} == {
        "duckdb": duckdb.__version__, "numpy": numpy.__version__, "pandas": pandas.__version__,
        "scikit-learn": sklearn.__version__}
    tx = pd.read_parquet(out / "transactions_with_segments.parquet")
    assert len(tx) == 19 and tx["rfm_segment"].notna().all() and tx["segment"].notna().all()
    report = json.loads((out / "cleaning_report.json").read_text())
    assert report["rows_in"] == report["rows_kept"] + report["rows_dropped"]


def test_same_input_gives_identical_outputs(small, tmp_path):
    names = [n for n in OUTPUTS if n != "run.json"]
    assert _invoke(small, "--out", tmp_path / "one").exit_code == 0
    assert _invoke(small, "--out", tmp_path / "two").exit_code == 0
    # the Power BI model names its output folder (OutputFolder): the same once that is taken out
    for name in ("one", "two"):
        path = tmp_path / name / "powerbi" / "CustomerSense.SemanticModel" / "definition" / "expressions.tmdl"
        text = path.read_text(encoding="utf-8")
        assert text.count(str((tmp_path / name).resolve())) == 1
        path.write_text(text.replace(str((tmp_path / name).resolve()), "OUT"), encoding="utf-8")
    # Hyper stamps each new extract file with its own id (about 34 bytes of header and checksums):
    # the extract, and the package that holds it, are compared by content in tests/reporting/test_tableau.py
    one, two = (_digest(tmp_path / n, names) for n in ("one", "two"))
    stamped = {"tableau/customersense.hyper", "tableau/customersense.twbx"}
    assert stamped <= one.keys()
    assert {k: v for k, v in one.items() if k not in stamped} == {k: v for k, v in two.items() if k not in stamped}


def test_csv_limit_skips_the_transactions_csv_and_removes_a_stale_one(small, tmp_path):
    out = tmp_path / "out"
    fast = ("--no-plots", "--no-validate")
    assert _invoke(small, "--out", out, *fast).exit_code == 0
    assert _invoke(small, "--out", out, "--csv-max-rows", 3, *fast).exit_code == 0
    assert not (out / "transactions_with_segments.csv").exists()
    assert (out / "transactions_with_segments.parquet").exists()
    # more than 3 customers too: Parquet only, the CSV of the first run removed
    assert len(pd.read_parquet(out / "customer_segments.parquet")) > 3
    assert not (out / "customer_segments.csv").exists()
    # and said so, in the summary and in run.json
    notes = json.loads((out / "run.json").read_text())["notes"]
    assert ("customer_segments.csv not written: 16 rows is more than output.csv_max_rows (3); "
            "customer_segments.parquet has every row (raise --csv-max-rows to get the CSV)") in notes
    assert any(n.startswith("transactions_with_segments.csv not written: 19 rows is more than") for n in notes)


def test_csv_bom_starts_every_csv_with_the_utf8_mark(small, tmp_path):
    out = tmp_path / "out"
    assert _invoke(small, "--out", out, "--csv-bom", "--no-plots", "--no-validate").exit_code == 0
    csvs = sorted(out.glob("*.csv"))
    assert len(csvs) >= 4
    for path in csvs:
        data = path.read_bytes()
        assert data[:3] == b"\xef\xbb\xbf" and data[3:4] == b'"', path.name  # then the quoted header
    # Python's utf-8-sig (as Excel) strips it: the same first column name as without
    assert pd.read_csv(out / "customer_segments.csv", encoding="utf-8-sig").columns[0] == "customer_id"


@pytest.mark.parametrize(
    "content, args, code, message",
    [
        (None, ["missing.csv"], EXIT_INPUT, "error: file not found: missing.csv"),
        ("{}", ["data.json"], EXIT_INPUT, "unsupported format '.json'"),
        ("who,when,much\na,2021-01-01,1\n", ["x.csv"], EXIT_DATA, "columns found: 'who', 'when', 'much'"),
        ("customer_id,timestamp,amount\na,2021-01-01,1\nb,soon,2\n", ["x.csv"], EXIT_DATA, "data row 2: 'soon'"),
        (CSV, ["x.csv", "--as-of", "2020-01-01", "--no-plots"], EXIT_DATA, "no rows left after cleaning (19 rows in; dropped: after_as_of 19)"),
        ("customer_id,timestamp,amount\na,2021-01-01,1\na,2021-01-02,2\n", ["x.csv"], EXIT_DATA, "only 1 customer left"),
        # a flag's value is parsed by the flag's type: a usage error, still one line
        (CSV, ["x.csv", "--as-of", "June"], EXIT_USAGE, "error: Invalid value for '--as-of': 'June': not a date"),
        (CSV, ["x.csv", "--k", "four"], EXIT_USAGE, "error: Invalid value for '--k': 'four' is not a valid integer"),
        (CSV, ["x.csv", "--k", "1"], EXIT_CONFIG, "error: segmentation.k=1: must be >= 2"),
        (CSV, ["x.csv", "--map", "client=customer_id"], EXIT_CONFIG, "unknown standard column 'client'"),
        (CSV, ["x.csv", "--memory-limit", "lots"], EXIT_CONFIG, "engine.memory_limit='lots': use a size such as"),
        # DuckDB cannot even read the file within 1 MB: not the file's fault, and said so
        (CSV, ["x.csv", "--memory-limit", "1MB"], EXIT_RESOURCE,
         "error: the engine ran out of memory within --memory-limit 1MB; raise --memory-limit"),
    ],
)
def test_bad_input_is_one_line_with_an_exit_code_and_keeps_previous_outputs(
    baseline, tmp_path, monkeypatch, content, args, code, message
):
    out = tmp_path / "out"
    shutil.copytree(baseline, out)
    before = _digest(out, OUTPUTS)
    monkeypatch.chdir(tmp_path)
    if content is not None:
        (tmp_path / args[0]).write_text(content)
    result = _invoke(*args, "--out", out)
    assert result.exit_code == code
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert "Traceback" not in result.output
    assert _digest(out, OUTPUTS) == before
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)  # no staging folder left


def test_entry_point_runs_the_embedded_default_and_exits_cleanly_on_error(tmp_path):
    exe = [sys.executable, "-m", "customersense"]
    bad = subprocess.run([*exe, "run", str(tmp_path / "none.parquet")], capture_output=True, text=True)
    assert bad.returncode == EXIT_INPUT
    assert bad.stderr.strip().startswith("error: file not found") and "Traceback" not in bad.stderr
    ok = subprocess.run([*exe, "run", "--out", str(tmp_path / "o"), "--no-plots"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "Champions" in ok.stdout and "525,461 rows in" in ok.stdout
    assert "validation: 3 segments" in ok.stdout and "Churn and spend in the holdout" in ok.stdout
    record = json.loads((tmp_path / "o" / "clv_models.json").read_text())
    assert record["selection"]["chosen"] in ok.stdout and len(record["candidates"]) == 7
    # the embedded data's kept rows are below output.transactions_max_rows: written, every kept row
    kept = json.loads((tmp_path / "o" / "run.json").read_text())["rows"]["kept"]
    assert pd.read_parquet(tmp_path / "o" / "transactions_with_segments.parquet", columns=["customer_id"]).shape[0] \
        == kept > 400_000


def test_the_embedded_data_above_the_transactions_limit(tmp_path):
    out = tmp_path / "o"
    ran = CliRunner().invoke(cli, ["run", "--out", str(out), "--transactions-max-rows", "400000", "--no-plots",
                                   "--no-validate", "--no-clv", "--no-segments", "--no-dashboards"])
    assert ran.exit_code == 0, ran.output
    kept = json.loads((out / "cleaning_report.json").read_text())["rows_kept"]
    assert kept > 400_000 and not list(out.glob("transactions_with_segments*"))
    note = (f"transactions_with_segments.parquet (and its CSV) not written: {kept:,} kept rows is more than "
            "output.transactions_max_rows (400,000)")
    assert note in " ".join(ran.output.split())  # the summary says it too
    # without learned segments (and dashboards) the note names the columns there are
    assert note + ("; each customer's segments are in customer_segments.parquet (customer_id, rfm_segment): join "
                   "it to your transactions on customer_id, or ask for the file with --transactions-max-rows -1") \
        in json.loads((out / "run.json").read_text())["notes"]


def test_the_workbook_limit_is_a_note_of_the_run(small, tmp_path):
    out = tmp_path / "out"
    assert _invoke(small, "--out", out, "--workbook-max-rows", 5, "--no-plots", "--no-validate", "--no-clv").exit_code == 0
    record = json.loads((out / "run.json").read_text())
    assert record["dashboards"]["workbook"]["customer_rows"] == 5
    assert record["dashboards"]["workbook"]["customers_left_out"] == 11
    assert ("customersense.xlsx: the Customers sheet holds the first 5 customers; 11 more are in "
            "customer_segments.parquet (--workbook-max-rows -1: as many as Excel holds)") in record["notes"]


def test_config_file_and_flags(small, tmp_path):
    cfg = tmp_path / "cs.toml"
    cfg.write_text(f'[input]\nsource = "{small}"\n[cleaning]\nas_of = "2021-01-07"\n[output]\ndir = "{tmp_path / "o"}"\n')
    result = CliRunner().invoke(cli, ["run", "--quiet", "--no-plots", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["as_of"] == "2021-01-07" and run["rows"]["dropped_by_rule"]["after_as_of"] == 4
    bad = tmp_path / "bad.toml"
    bad.write_text("[cleaning]\nreturn = 'net'\n")
    result = CliRunner().invoke(cli, ["run", "--quiet", "--config", str(bad)])
    assert result.exit_code == EXIT_CONFIG and "[cleaning] return: unknown key" in result.output


def test_memory_limit_reaches_the_engine_and_the_run_record(small, tmp_path):
    from customersense.config import EngineConfig
    from customersense.engine import connect, default_memory_limit

    share = default_memory_limit()  # the default: a quarter of the machine's memory, at most 4 GiB
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    assert int(share.removesuffix("MiB")) == max(min(total // 4, 4096), 256)
    engine = connect(EngineConfig())
    try:
        shown = engine.backend.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]
        value, unit = shown.split()
        assert abs(float(value) * {"MiB": 1, "GiB": 1024}[unit] - int(share.removesuffix("MiB"))) < 0.1 * 1024
    finally:
        engine.close()
    engine = connect(EngineConfig(memory_limit="1GiB"))
    try:
        assert engine.backend.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0] in ("1.0 GiB", "1024.0 MiB")
    finally:
        engine.close()
    result = _invoke(small, "--out", tmp_path / "o", "--memory-limit", "1GB", "--no-plots")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o" / "run.json").read_text())["config"]["engine"]["memory_limit"] == "1GB"


UNSORTED = """customer_id,order_id,timestamp,amount
z,9,2021-01-07 10:00,5
a,1,2021-01-01 10:00,10
m,4,2021-01-03 10:00,8
z,9,2021-01-07 10:00,5
a,2,2021-01-05 10:00,20
z,8,2021-01-02 10:00,6
m,4,2021-01-03 10:00,8
a,3,2021-01-06 10:00,30
"""
# The kept rows in input order, each duplicated row where its first copy came in.
UNSORTED_ORDERS = ["9", "1", "4", "2", "8", "3"]


@pytest.mark.parametrize("fmt", ["csv", "parquet_folder"])
def test_transactions_are_written_in_input_order(tmp_path, fmt):
    lines = UNSORTED.splitlines()
    if fmt == "csv":
        source = tmp_path / "tx.csv"
        source.write_text(UNSORTED)
    else:  # two files: file order first (by name), then the rows of each file
        source = tmp_path / "parts"
        source.mkdir()
        frame = pd.read_csv(io.StringIO(UNSORTED), dtype=str)
        frame.iloc[:4].to_parquet(source / "part-0.parquet")
        frame.iloc[4:].to_parquet(source / "part-1.parquet")
    out = tmp_path / "out"
    assert _invoke(source, "--out", out, "--no-plots", "--no-validate", "--no-segments").exit_code == 0
    tx = pd.read_parquet(out / "transactions_with_segments.parquet")
    assert list(tx["order_id"]) == UNSORTED_ORDERS
    assert len(lines) - 1 - len(tx) == 2  # the two duplicate copies
    if fmt == "csv":
        assert list(pd.read_csv(out / "transactions_with_segments.csv", dtype=str)["order_id"]) == UNSORTED_ORDERS


def test_transactions_limit_skips_the_transactions_and_the_bi_files_follow(small, tmp_path):
    """19 kept rows: --transactions-max-rows 18 leaves transactions_with_segments out (a previous
    run's removed), says so with the rows and the flag, and the BI files hold customers and
    segments only; 19 (the boundary) and -1 (always) write it."""
    from customersense.config import load_config
    from customersense.pipeline import run

    out = tmp_path / "out"
    fast = ("--no-plots", "--no-validate", "--no-clv")
    assert _invoke(small, "--out", out, *fast).exit_code == 0
    assert (out / "transactions_with_segments.parquet").exists()
    assert _invoke(small, "--out", out, "--transactions-max-rows", 18, *fast).exit_code == 0
    assert not (out / "transactions_with_segments.parquet").exists()
    assert not (out / "transactions_with_segments.csv").exists()
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["output"]["transactions_max_rows"] == 18
    assert not any(name.startswith("transactions_with_segments") for name in record["outputs"])
    (note,) = [n for n in record["notes"] if n.startswith("transactions_with_segments")]
    assert note.startswith("transactions_with_segments.parquet (and its CSV) not written: 19 kept rows is more "
                           "than output.transactions_max_rows (18)")
    assert note.endswith("each customer's segments are in customer_segments.parquet (customer_id, rfm_segment, "
                         "segment): join it to your transactions on customer_id, or ask for the file with "
                         "--transactions-max-rows -1; tableau/ and powerbi/ hold customers and segments only")
    # the mapping the note points at gives every kept row its segments (19 rows, 16 customers)
    mapping = pd.read_parquet(out / "customer_segments.parquet")[["customer_id", "rfm_segment", "segment"]]
    joined = pd.read_csv(small, dtype={"customer_id": str}).merge(mapping, on="customer_id", how="left")
    assert len(joined) == 19 and joined["rfm_segment"].notna().all() and joined["segment"].notna().all()
    assert set(record["dashboards"]["tableau"]["rows"]) == {"customers", "segments"}
    assert set(record["dashboards"]["powerbi"]["tables"]) == {"customers", "segments"}
    definition = out / "powerbi" / "CustomerSense.SemanticModel" / "definition"
    assert not (definition / "tables" / "transactions.tmdl").exists()
    assert not (definition / "relationships.tmdl").exists()
    assert "transactions" not in (definition / "model.tmdl").read_text(encoding="utf-8")
    # the library's result: no transactions to read, consistent with the files
    result = run(load_config(None, {"input": {"source": str(small)}, "output": {
        "dir": str(tmp_path / "lib"), "transactions_max_rows": 18, "plots": False, "dashboards": False},
        "validation": {"enabled": False}, "clv": {"enabled": False}}))
    assert result.transactions is None and note.removesuffix("; tableau/ and powerbi/ hold customers and segments "
                                                             "only") in result.notes  # no dashboards there
    for limit in (19, -1):
        assert _invoke(small, "--out", out, "--transactions-max-rows", limit, *fast).exit_code == 0
        assert len(pd.read_parquet(out / "transactions_with_segments.parquet")) == 19
        assert len(pd.read_csv(out / "transactions_with_segments.csv")) == 19
        record = json.loads((out / "run.json").read_text())
        assert record["dashboards"]["tableau"]["rows"]["transactions"] == 19
        assert not any(n.startswith("transactions_with_segments") for n in record["notes"])
