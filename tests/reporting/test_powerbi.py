"""The Power BI Project over a real (planted) run: every JSON part validated against Microsoft's
published schema of its version (tests/data/schemas/powerbi), the TMDL model linted against the
files it reads (powerbi_lint.py: types, relationships, measures, the report's fields and pages),
and two writes compared byte for byte. Nothing here proves that Power BI Desktop opens it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from customersense.config import load_config
from customersense.datasets.synthetic import planted_transactions
from customersense.pipeline import run
from customersense.reporting.bi import write_powerbi
from customersense.reporting.bi.tmdl import money_format
from customersense.schema import MONEY_COLUMNS

from .powerbi_lint import lint, load_model

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas" / "powerbi" / "fabric"
FABRIC = "https://developer.microsoft.com/json-schemas/fabric/"
TABLES = {"customers": "customer_segments.parquet", "segments": "segment_profiles.parquet",
          "transactions": "transactions_with_segments.parquet"}
EURO = "\\€#,0.00;-\\€#,0.00;\\€#,0.00"


def _local(uri: str) -> Path:
    assert uri.startswith(FABRIC), uri
    path = SCHEMAS / uri.removeprefix(FABRIC)
    if not path.exists():  # visualConfiguration's $id says schema.embedded.json; the file is schema-embedded.json
        path = path.with_name(path.name.replace("schema.embedded", "schema-embedded"))
    return path


REGISTRY = Registry(retrieve=lambda uri: Resource.from_contents(
    json.loads(_local(uri).read_text(encoding="utf-8")), default_specification=DRAFT7))


def schema_errors(doc: dict) -> list[str]:
    schema = json.loads(_local(doc["$schema"]).read_text(encoding="utf-8"))
    return [f"{list(e.absolute_path)}: {e.message}" for e in Draft7Validator(schema, registry=REGISTRY).iter_errors(doc)]


def json_parts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and (p.suffix in (".json", ".pbip", ".pbism", ".pbir") or p.name == ".platform"))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("powerbi")
    table, _ = planted_transactions(n_customers=400, seed=7)
    pq.write_table(table, tmp / "tx.parquet")
    result = run(load_config(None, {"input": {"source": str(tmp / "tx.parquet"), "currency": "EUR"},
                                    "output": {"dir": str(tmp / "out"), "plots": False, "dashboards": False},
                                    "validation": {"enabled": False}, "clv": {"enabled": False}}))
    out = tmp / "out"
    # The profiles as Parquet: what the integrator adds to the run's outputs (today it writes the CSV).
    result.profiles.to_parquet(out / "segment_profiles.parquet", index=False)
    written = write_powerbi(result, out / "powerbi", TABLES)
    return result, out, written


def test_every_json_part_validates_against_the_published_schema_of_its_version(project):
    _, out, written = project
    parts = json_parts(out / "powerbi")
    # .pbip, .pbism, 2 x .platform, .pbir, version.json, report.json, pages.json, 2 pages, 5 + 1 visuals
    assert len(parts) == 16
    assert {p.relative_to(out / "powerbi").as_posix() for p in parts} <= set(written["files"])
    for part in parts:
        doc = json.loads(part.read_text(encoding="utf-8"))
        assert _local(doc["$schema"]).is_file(), f"{part.name}: {doc['$schema']} is not a vendored schema"
        assert schema_errors(doc) == [], part
    # the validation is live: a visual with a misspelt role property and no position fails
    visual = json.loads(next((out / "powerbi").rglob("visual.json")).read_text(encoding="utf-8"))
    del visual["position"]
    visual["visual"]["query"]["queryState"]["Y"] = {"projection": []}
    assert len(schema_errors(visual)) >= 2


def test_the_model_matches_the_files_it_reads(project):
    result, out, _ = project
    assert lint(out / "powerbi") == []
    model = load_model(out / "powerbi" / "CustomerSense.SemanticModel")
    assert model["folder"] == str(out.resolve())
    assert sorted(model["tables"]) == ["customers", "segments", "transactions"]
    columns = [c.name for c in model["tables"]["customers"].children if c.kind == "column"]
    assert columns == list(result.customers.columns) == pq.read_schema(out / TABLES["customers"]).names
    types = {c.name: c.props["dataType"] for c in model["tables"]["customers"].children if c.kind == "column"}
    assert (types["customer_id"], types["frequency"], types["monetary"], types["is_anomaly"]) == (
        "string", "int64", "double", "boolean")
    tx = {c.name: c.props["dataType"] for c in model["tables"]["transactions"].children if c.kind == "column"}
    assert (tx["purchase_date"], tx["timestamp"]) == ("dateTime", "dateTime")
    for name, table in model["tables"].items():
        (partition,) = [c for c in table.children if c.kind == "partition"]
        assert f'Parquet.Document(File.Contents(OutputFolder & "\\{TABLES[name]}"))' in partition.props["source"]


def test_the_relationship_joins_every_transaction_to_one_customer(project):
    result, out, _ = project
    model = load_model(out / "powerbi" / "CustomerSense.SemanticModel")
    assert [(r.props["fromColumn"], r.props["toColumn"]) for r in model["relationships"]] == [
        ("transactions.customer_id", "customers.customer_id")]
    # what the linter checked, on the numbers: one customer row per id, every buyer among them
    ids = pq.read_table(out / TABLES["customers"], columns=["customer_id"]).column(0).to_pylist()
    buyers = set(pq.read_table(out / TABLES["transactions"], columns=["customer_id"]).column(0).to_pylist())
    assert len(ids) == len(set(ids)) == len(result.customers) and buyers == set(ids)


def test_money_columns_carry_the_run_currency(project):
    _, out, _ = project
    model = load_model(out / "powerbi" / "CustomerSense.SemanticModel")
    for name, table in model["tables"].items():
        for c in (c for c in table.children if c.kind == "column"):
            money = c.name in MONEY_COLUMNS and c.props["dataType"] == "double"
            assert (c.props.get("formatString") == EURO) == money, f"{name}.{c.name}"
    fmt = {c.name: c.props.get("formatString") for c in model["tables"]["transactions"].children}
    assert fmt["amount"] == fmt["line_amount"] == fmt["unit_price"] == EURO and fmt["quantity"] is None
    measures = {c.name: c for c in model["tables"]["customers"].children if c.kind == "measure"}
    assert {n: m.value for n, m in measures.items()} == {
        "Customers": "COUNTROWS('customers')",
        "Net revenue": "SUM('customers'[monetary])",
        "Revenue share": "DIVIDE([Net revenue], CALCULATE([Net revenue], ALL('customers')))",
        "Customer share": "DIVIDE([Customers], CALCULATE([Customers], ALL('customers')))",
    }
    assert measures["Net revenue"].props["formatString"] == EURO
    assert measures["Revenue share"].props["formatString"] == "0.0%"


@pytest.mark.parametrize("currency, expected", [
    ("GBP", "\\£#,0.00;-\\£#,0.00;\\£#,0.00"),
    ("chf", "#,0.00\\ \\C\\H\\F;-#,0.00\\ \\C\\H\\F;#,0.00\\ \\C\\H\\F"),
    (None, "#,0.00"),
])
def test_money_format_strings(currency, expected):
    assert money_format(currency) == expected


def _visuals(out: Path) -> dict[str, list[dict]]:
    pages = out / "powerbi" / "CustomerSense.Report" / "definition" / "pages"
    order = json.loads((pages / "pages.json").read_text(encoding="utf-8"))["pageOrder"]
    return {json.loads((pages / p / "page.json").read_text(encoding="utf-8"))["displayName"]:
            [json.loads(v.read_text(encoding="utf-8")) for v in sorted((pages / p / "visuals").glob("*/visual.json"))]
            for p in order}


def _roles(visual: dict) -> dict[str, list[str]]:
    return {role: [p["queryRef"] for p in state["projections"]]
            for role, state in visual["visual"]["query"]["queryState"].items()}


def test_the_report_shows_segments_with_the_caption_in_every_title(project):
    result, out, _ = project
    pages = _visuals(out)
    assert list(pages) == ["Segments", "Segment profiles"]
    kinds = {v["visual"]["visualType"]: v for v in pages["Segments"]}
    assert sorted(v["visual"]["visualType"] for v in pages["Segments"]) == [
        "clusteredBarChart", "clusteredBarChart", "scatterChart", "slicer", "tableEx"]
    assert _roles(kinds["slicer"]) == {"Values": ["customers.segment"]}
    assert _roles(kinds["scatterChart"]) == {"Category": ["customers.customer_id"], "Series": ["customers.segment"],
                                             "X": ["Sum(customers.frequency)"], "Y": ["Sum(customers.monetary)"]}
    assert _roles(kinds["tableEx"])["Values"][0] == "customers.rfm_segment"
    bars = sorted(_roles(v)["Y"][0] for v in pages["Segments"] if v["visual"]["visualType"] == "clusteredBarChart")
    assert bars == ["customers.Customers", "customers.Net revenue"]
    titles = [v["visual"]["visualContainerObjects"]["title"][0]["properties"]["text"]["expr"]["Literal"]["Value"]
              for visuals in pages.values() for v in visuals]
    assert len(titles) == 6 and all(t.startswith("'") and t.endswith(f" · {result.caption}'") for t in titles)
    report = out / "powerbi" / "CustomerSense.Report"
    pbir = json.loads((report / "definition.pbir").read_text(encoding="utf-8"))
    assert (report / pbir["datasetReference"]["byPath"]["path"] / "definition.pbism").is_file()
    pbip = json.loads((out / "powerbi" / "CustomerSense.pbip").read_text(encoding="utf-8"))
    assert (out / "powerbi" / pbip["artifacts"][0]["report"]["path"] / "definition.pbir").is_file()


def test_two_writes_are_byte_identical_and_a_rewrite_drops_stale_pages(project):
    result, out, written = project
    first = snapshot(out / "powerbi")
    assert sorted(first) == written["files"]
    again = out / "powerbi_again"
    write_powerbi(result, again, TABLES)
    assert snapshot(again) == first
    stale = again / "CustomerSense.Report" / "definition" / "pages" / "stale"
    stale.mkdir()
    (stale / "page.json").write_text("{}", encoding="utf-8")
    write_powerbi(result, again, TABLES)
    assert snapshot(again) == first


def test_the_linter_finds_planted_defects(project, tmp_path):
    _, out, _ = project
    copy = tmp_path / "powerbi"
    shutil.copytree(out / "powerbi", copy)
    model = copy / "CustomerSense.SemanticModel" / "definition"
    customers = model / "tables" / "customers.tmdl"
    text = customers.read_text(encoding="utf-8")
    text = text.replace("column recency_days\n\t\tdataType: int64", "column recency_days\n\t\tdataType: string")
    customers.write_text(text.replace("SUM('customers'[monetary])", "SUM('customers'[monetary_eur])"), encoding="utf-8")
    rels = model / "relationships.tmdl"
    rels.write_text(rels.read_text(encoding="utf-8").replace("customers.customer_id", "customers.rfm_segment"),
                    encoding="utf-8")
    pages = copy / "CustomerSense.Report" / "definition" / "pages"
    order = json.loads((pages / "pages.json").read_text(encoding="utf-8"))["pageOrder"]
    shutil.rmtree(pages / order[1])
    scatter = next(v for v in pages.glob("*/visuals/*/visual.json") if "scatterChart" in v.read_text(encoding="utf-8"))
    scatter.write_text(scatter.read_text(encoding="utf-8").replace('"frequency"', '"orders"'), encoding="utf-8")
    problems = lint(copy)
    expected = [r"customers\.recency_days: dataType string", r"measure Net revenue: customers\[monetary_eur\]",
                r"customers\.rfm_segment \(the one side\) is not unique", rf"lists page {order[1]}",
                r"column customers\.orders is not in the model"]
    for pattern in expected:
        assert any(re.search(pattern, p) for p in problems), (pattern, problems)
    assert len(problems) == len(expected) + 1  # and the transactions' ids are no RFM segments


def test_rfm_only_customers_and_profiles_read_from_the_csv(project, tmp_path):
    result, out, _ = project
    rfm_out = tmp_path / "out"
    rfm_out.mkdir()
    pd.read_parquet(out / TABLES["customers"]).drop(columns=["cluster", "segment"]).to_parquet(
        rfm_out / "customer_segments.parquet", index=False)
    shutil.copy(out / "segment_profiles.csv", rfm_out / "segment_profiles.csv")
    write_powerbi(result, rfm_out / "powerbi", {"customers": "customer_segments.parquet",
                                                "segments": "segment_profiles.csv"})
    assert lint(rfm_out / "powerbi") == []
    for part in json_parts(rfm_out / "powerbi"):
        assert schema_errors(json.loads(part.read_text(encoding="utf-8"))) == [], part
    kinds = {v["visual"]["visualType"]: v for v in _visuals(rfm_out)["Segments"]}
    assert _roles(kinds["slicer"]) == {"Values": ["customers.rfm_segment"]}
    model = load_model(rfm_out / "powerbi" / "CustomerSense.SemanticModel")
    assert model["relationships"] == []
    segments = model["tables"]["segments"]
    (partition,) = [c for c in segments.children if c.kind == "partition"]
    assert 'Csv.Document(File.Contents(OutputFolder & "\\segment_profiles.csv")' in partition.props["source"]
    # a CSV's integers are typed double: the house CSV writes 3.0 as 3, so one file cannot promise integers
    types = {c.name: c.props["dataType"] for c in segments.children if c.kind == "column"}
    assert types["customers"] == types["mean_return_rate"] == "double" and types["segment"] == "string"


def test_bad_arguments_are_one_line_errors(project, tmp_path):
    result, out, _ = project
    with pytest.raises(ValueError, match="needs a 'customers' table"):
        write_powerbi(result, out / "bad", {"segments": "segment_profiles.csv"})
    with pytest.raises(ValueError, match="does not exist"):
        write_powerbi(result, out / "bad", {"customers": "missing.parquet"})
    with pytest.raises(ValueError, match="table name 'my table'"):
        write_powerbi(result, out / "bad", {"customers": TABLES["customers"], "my table": "segment_profiles.csv"})
    (out / "parts.parquet").mkdir()
    with pytest.raises(ValueError, match="folder of Parquet parts"):
        write_powerbi(result, out / "bad", {"customers": "parts.parquet"})
    assert not (out / "bad").exists()


def test_the_stacked_segments_table_is_never_summed_by_default(project):
    # segments holds both segmentations, each customer once in each: a default sum would count
    # every customer twice (400 planted customers -> 800), so no column of it sums by default
    result, out, _ = project
    tables = out / "powerbi" / "CustomerSense.SemanticModel" / "definition" / "tables"
    segments = (tables / "segments.tmdl").read_text(encoding="utf-8")
    assert "summarizeBy: sum" not in segments and "summarizeBy: none" in segments
    assert result.profiles["customers"].sum() == 2 * len(result.customers)
    customers = (tables / "customers.tmdl").read_text(encoding="utf-8")
    monetary = customers[customers.index("column monetary"):].split("\n\tcolumn ")[0]
    assert "summarizeBy: sum" in monetary


def test_without_the_transactions_file_the_project_has_customers_and_segments(project, tmp_path):
    """Above output.transactions_max_rows the run writes no transactions file and passes none: every
    JSON part still validates, the model lints clean with two tables and no relationship, and the
    report's pages and visuals are those of the project with transactions (none reads them)."""
    result, out, written = project
    alone = out / "powerbi_alone"
    info = write_powerbi(result, alone, {k: v for k, v in TABLES.items() if k != "transactions"})
    assert info["tables"] == {"customers": TABLES["customers"], "segments": TABLES["segments"]}
    for part in json_parts(alone):
        assert schema_errors(json.loads(part.read_text(encoding="utf-8"))) == [], part
    assert lint(alone) == []
    model = load_model(alone / "CustomerSense.SemanticModel")
    assert sorted(model["tables"]) == ["customers", "segments"] and model["relationships"] == []
    with_tx, without = snapshot(out / "powerbi"), snapshot(alone)
    report = [p for p in with_tx if p.startswith("CustomerSense.Report/")]
    assert [p for p in without if p.startswith("CustomerSense.Report/")] == report
    assert all(without[p] == with_tx[p] for p in report)
    assert set(with_tx) - set(without) == {"CustomerSense.SemanticModel/definition/tables/transactions.tmdl",
                                           "CustomerSense.SemanticModel/definition/relationships.tmdl"}
