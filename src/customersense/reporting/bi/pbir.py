"""The Power BI report in PBIR (the report's definition as JSON parts, one file per page and visual).

Page 1, Segments: a slicer on the segment, customers per segment (bar), net revenue per segment
(bar), the classic RFM segments (table), frequency against monetary, one point per customer
(scatter). Page 2, Segment profiles (when the model has the ``segments`` table): the profiles
table. Every visual's title carries the run's caption (dataset, as-of date, currency).

Each part names the published JSON schema of its version in ``$schema``; page and visual names
are uuid5 of their titles, so two writes give byte-identical files.
"""

from __future__ import annotations

from typing import Any

from .tmdl import MEASURE_TABLE, Table, guid, segment_column

SCHEMAS = "https://developer.microsoft.com/json-schemas/fabric/item/report"
VISUAL_SCHEMA = f"{SCHEMAS}/definition/visualContainer/2.4.0/schema.json"
PAGE_SCHEMA = f"{SCHEMAS}/definition/page/2.0.0/schema.json"
PAGES_SCHEMA = f"{SCHEMAS}/definition/pagesMetadata/1.0.0/schema.json"
REPORT_SCHEMA = f"{SCHEMAS}/definition/report/3.0.0/schema.json"
VERSION_SCHEMA = f"{SCHEMAS}/definition/versionMetadata/1.0.0/schema.json"
PBIR_SCHEMA = f"{SCHEMAS}/definitionProperties/2.0.0/schema.json"
WIDTH, HEIGHT = 1280, 720
# The profile columns the second page shows, those the segments table has, in this order.
PROFILE_COLUMNS = ("segmentation", "segment", "customers", "share", "revenue", "revenue_share", "clv_total",
                   "description", "strategy")


def report_parts(tables: dict[str, Table], caption: str, model_path: str) -> dict[str, dict[str, Any]]:
    """The report's JSON parts by path relative to the ``.Report`` folder."""
    customers = tables[MEASURE_TABLE]
    pages = [("Segments", _segment_visuals(customers, caption))]
    if "segments" in tables:
        pages.append(("Segment profiles", _profile_visuals(tables["segments"], caption)))
    parts: dict[str, dict[str, Any]] = {
        "definition.pbir": {"$schema": PBIR_SCHEMA, "version": "4.0",
                            "datasetReference": {"byPath": {"path": model_path}}},
        "definition/version.json": {"$schema": VERSION_SCHEMA, "version": "2.0.0"},
        "definition/report.json": {
            "$schema": REPORT_SCHEMA,
            "themeCollection": {},
            "settings": {"useStylableVisualContainerHeader": True, "defaultDrillFilterOtherVisuals": True,
                         "allowChangeFilterTypes": True},
        },
    }
    names = [_id("page", title) for title, _ in pages]
    parts["definition/pages/pages.json"] = {"$schema": PAGES_SCHEMA, "pageOrder": names, "activePageName": names[0]}
    for page_name, (title, visuals) in zip(names, pages):
        folder = f"definition/pages/{page_name}"
        parts[f"{folder}/page.json"] = {"$schema": PAGE_SCHEMA, "name": page_name, "displayName": title,
                                        "displayOption": "FitToPage", "height": HEIGHT, "width": WIDTH}
        for i, visual in enumerate(visuals):
            visual["position"]["z"] = visual["position"]["tabOrder"] = i * 1000
            parts[f"{folder}/visuals/{visual['name']}/visual.json"] = visual
    return parts


def _id(*parts: str) -> str:
    return guid("report", *parts).replace("-", "")[:20]


def _segment_visuals(customers: Table, caption: str) -> list[dict[str, Any]]:
    t, seg = customers.name, segment_column(customers)
    label = "Segment" if seg == "segment" else "RFM segment"
    by_segment = {"Category": [_project(_column(t, seg))]}
    revenue_sort = [(_measure(t, "Net revenue"), "Descending")]
    return [
        _visual("slicer", f"{label}", caption, (0, 0, 240, 720), {"Values": [_project(_column(t, seg))]}),
        _visual("clusteredBarChart", f"Customers per {label.lower()}", caption, (240, 0, 520, 330),
                {**by_segment, "Y": [_project(_measure(t, "Customers"))]},
                sort=[(_measure(t, "Customers"), "Descending")]),
        _visual("clusteredBarChart", f"Net revenue per {label.lower()}", caption, (760, 0, 520, 330),
                {**by_segment, "Y": [_project(_measure(t, "Net revenue"))],
                 "Tooltips": [_project(_measure(t, "Revenue share"))]}, sort=revenue_sort),
        _visual("tableEx", "Classic RFM segments", caption, (240, 330, 520, 390),
                {"Values": [_project(_column(t, "rfm_segment")), _project(_measure(t, "Customers")),
                            _project(_measure(t, "Customer share")), _project(_measure(t, "Net revenue")),
                            _project(_measure(t, "Revenue share"))]}, sort=revenue_sort),
        _visual("scatterChart", "Frequency vs monetary, one point per customer", caption, (760, 330, 520, 390),
                {"Category": [_project(_column(t, "customer_id"))], "Series": [_project(_column(t, seg))],
                 "X": [_project(_sum(t, "frequency"))], "Y": [_project(_sum(t, "monetary"))]}),
    ]


def _profile_visuals(segments: Table, caption: str) -> list[dict[str, Any]]:
    t = segments.name
    shown = [_project(_column(t, c)) for c in PROFILE_COLUMNS if segments.has(c)]
    return [_visual("tableEx", "Segment profiles", caption, (0, 0, WIDTH, HEIGHT), {"Values": shown})]


def _visual(kind: str, title: str, caption: str, box: tuple[int, int, int, int],
            roles: dict[str, list[dict[str, Any]]], sort: list[tuple[dict, str]] | None = None) -> dict[str, Any]:
    x, y, width, height = box
    query: dict[str, Any] = {"queryState": {role: {"projections": p} for role, p in roles.items()}}
    if sort:
        query["sortDefinition"] = {"sort": [{"field": f, "direction": d} for f, d in sort], "isDefaultSort": True}
    text = f"{title} · {caption}"
    return {
        "$schema": VISUAL_SCHEMA,
        "name": _id("visual", title),
        "position": {"x": x, "y": y, "z": 0, "height": height, "width": width, "tabOrder": 0},
        "visual": {
            "visualType": kind,
            "query": query,
            "visualContainerObjects": {"title": [{"properties": {"show": _literal("true"),
                                                                 "text": _literal(_text(text))}}]},
            "drillFilterOtherVisuals": True,
        },
    }


def _literal(value: str) -> dict[str, Any]:
    return {"expr": {"Literal": {"Value": value}}}


def _text(value: str) -> str:
    """A text literal of the query language: in single quotes, a quote doubled."""
    return "'" + value.replace("'", "''") + "'"


def _source(table: str) -> dict[str, Any]:
    return {"SourceRef": {"Entity": table}}


def _column(table: str, column: str) -> dict[str, Any]:
    return {"Column": {"Expression": _source(table), "Property": column}}


def _measure(table: str, measure: str) -> dict[str, Any]:
    return {"Measure": {"Expression": _source(table), "Property": measure}}


def _sum(table: str, column: str) -> dict[str, Any]:
    return {"Aggregation": {"Expression": _column(table, column), "Function": 0}}


def _project(field: dict[str, Any]) -> dict[str, Any]:
    return {"field": field, "queryRef": _query_ref(field)}


def _query_ref(field: dict[str, Any]) -> str:
    if "Aggregation" in field:
        return f"Sum({_query_ref(field['Aggregation']['Expression'])})"
    (kind, ref), = field.items()
    return f"{ref['Expression']['SourceRef']['Entity']}.{ref['Property']}"
