"""A Power BI Project (.pbip) over a run's output files: a TMDL semantic model and a PBIR report.

``write_powerbi(result, folder, tables)`` writes into ``folder`` (e.g. ``<output>/powerbi``)::

    CustomerSense.pbip                       the project file Power BI Desktop opens
    CustomerSense.SemanticModel/             definition.pbism, .platform, definition/*.tmdl
    CustomerSense.Report/                    definition.pbir, .platform, definition/ (PBIR JSON)

The model reads the files named in ``tables`` from ``folder``'s parent, the run's output folder,
through the text parameter ``OutputFolder`` (its absolute path when written: the one thing to
change after moving the folder). Nothing is computed here: the model's measures do the sums when
Power BI refreshes. The JSON parts validate against Microsoft's published schemas (tests); no
test here proves that Power BI Desktop opens the project.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ...result import RunResult
from .pbir import report_parts
from .tmdl import MEASURE_TABLE, guid, model_files, read_table

NAME = "CustomerSense"
FABRIC = "https://developer.microsoft.com/json-schemas/fabric"
PBIP_SCHEMA = f"{FABRIC}/pbip/pbipProperties/1.0.0/schema.json"
PBISM_SCHEMA = f"{FABRIC}/item/semanticModel/definitionProperties/1.0.0/schema.json"
PLATFORM_SCHEMA = f"{FABRIC}/gitIntegration/platformProperties/2.0.0/schema.json"


def write_powerbi(result: RunResult, folder: Path, tables: dict[str, str],
                  output_folder: str | Path | None = None) -> dict[str, Any]:
    """Write the Power BI project into ``folder``. ``tables`` maps a model table to a file the run
    wrote into ``folder.parent`` (Parquet, or CSV by its suffix); ``customers`` is required, and
    ``transactions`` (related to it by customer_id) and ``segments`` (the profiles) add to the report.
    ``output_folder``: where those files will be when Power BI reads them (the run's output folder,
    while ``folder`` is still in its staging folder); default ``folder.parent``.

    Returns ``{"project": <.pbip path>, "output_folder": <OutputFolder>, "tables": {table: file},
    "files": [every written file, relative to folder]}``.
    """
    folder = Path(folder)
    if MEASURE_TABLE not in tables:
        raise ValueError(f"the Power BI model needs a {MEASURE_TABLE!r} table (customer_segments.parquet)")
    data_folder = folder.resolve().parent
    output_folder = Path(output_folder).resolve() if output_folder is not None else data_folder
    model = {n: read_table(n, data_folder / file, result.currency) for n, file in tables.items()}
    for required in ("customer_id", "rfm_segment", "frequency", "monetary"):
        if not model[MEASURE_TABLE].has(required):
            raise ValueError(f"{tables[MEASURE_TABLE]} has no {required!r} column: the report needs it")

    texts: dict[str, str] = {
        f"{NAME}.pbip": _json({"$schema": PBIP_SCHEMA, "version": "1.0",
                               "artifacts": [{"report": {"path": f"{NAME}.Report"}}],
                               "settings": {"enableAutoRecovery": True}}),
        f"{NAME}.SemanticModel/definition.pbism": _json({"$schema": PBISM_SCHEMA, "version": "4.2", "settings": {}}),
        f"{NAME}.SemanticModel/.platform": _platform("SemanticModel"),
        f"{NAME}.Report/.platform": _platform("Report"),
    }
    for path, text in model_files(model, str(output_folder), result.currency).items():
        texts[f"{NAME}.SemanticModel/definition/{path}"] = text
    for path, part in report_parts(model, result.caption, f"../{NAME}.SemanticModel").items():
        texts[f"{NAME}.Report/{path}"] = _json(part)

    # A definition left by an earlier write (a page or table since dropped) would still be read:
    # replace both definition folders. Desktop's own .pbi folders (local settings, cache) stay.
    for item in ("SemanticModel", "Report"):
        shutil.rmtree(folder / f"{NAME}.{item}" / "definition", ignore_errors=True)
    for path, text in texts.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
    return {"project": folder / f"{NAME}.pbip", "output_folder": str(output_folder), "tables": dict(tables),
            "files": sorted(texts)}


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _platform(kind: str) -> str:
    return _json({"$schema": PLATFORM_SCHEMA, "metadata": {"type": kind, "displayName": NAME},
                  "config": {"version": "2.0", "logicalId": guid("item", kind, NAME)}})
