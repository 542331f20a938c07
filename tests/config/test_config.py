"""The settings definition: keys = flags under one naming rule, strict file values, paths, precedence, help."""

import dataclasses
import datetime as dt
import json
import re

import click
import pytest
from click.testing import CliRunner

import customersense.config as config_module
from customersense.cli import main as cli_main
from customersense.cli.main import cli
from customersense.config import (CleaningPolicy, CLVConfig, Config, EngineConfig, InputConfig, OutputConfig,
                                  SegmentationConfig, ValidationConfig, keys, load_config)
from customersense.datasets import dataset_path
from customersense.errors import EXIT_CONFIG, EXIT_USAGE, ConfigError

# The exceptions to "the flag is the key with dashes", all of them. A new one must be added here.
EXCEPTIONS = {
    "input.source": "SOURCE",  # the positional argument
    "input.mapping": "--map",
    "segmentation.enabled": "--segments",
    "validation.enabled": "--validate",
    "clv.enabled": "--clv",
    "clv.model": "--clv-model",
    "output.dir": "--out",
    "engine.name": "--engine",
}
# Keys kept in the config file only: lists, tables, tuning knobs and a rule that cannot be turned off.
FILE_ONLY = {
    "cleaning.drop_missing_customer", "cleaning.non_product_codes", "cleaning.non_product_patterns",
    "segmentation.features", "segmentation.silhouette_sample_size", "segmentation.silhouette_samples",
    "segmentation.max_fit_samples", "validation.n_bootstrap", "validation.n_null", "validation.gap_references",
    "validation.max_customers", "engine.spark_conf",
}
RUN_ONLY = {"config_file", "quiet", "debug", "help"}  # the run group: not settings


def _run_command() -> click.Command:
    return cli.commands["run"]


def _setting_params() -> dict[str, click.Parameter]:
    """The run command's setting parameters by key (section.key), aliases left out."""
    return {p.name.replace("__", "."): p for p in _run_command().params
            if p.name not in RUN_ONLY and not p.name.startswith("alias__")}


def test_every_flag_is_a_key_and_named_by_the_rule():
    params = _setting_params()
    flags = {}
    for key in keys():
        if key.dotted in FILE_ONLY:
            assert key.flag is None and key.dotted not in params, key.dotted
            continue
        expected = EXCEPTIONS.get(key.dotted, "--" + key.name.replace("_", "-"))
        assert key.flag == expected, key.dotted
        param = params.pop(key.dotted)  # the command has it ...
        names = param.opts if isinstance(param, click.Option) else [param.human_readable_name]
        assert names[0] == (expected if expected != "SOURCE" else "[SOURCE]"), key.dotted
        flags[expected] = key.dotted
    assert params == {}  # ... and nothing else: every flag is a key
    assert len(flags) == 71 - len(FILE_ONLY)  # unique flags; 71 keys in all
    assert sum(1 for _ in keys()) == 71
    assert [p.opts for p in _run_command().params if p.name.startswith("alias__")] == [
        ["--rfm-map"], ["--seed"], ["--horizon"]]
    assert all(p.hidden for p in _run_command().params if p.name.startswith("alias__"))


def test_true_false_keys_have_a_no_flag_and_choices_come_from_the_type():
    params = _setting_params()
    assert params["output.plots"].secondary_opts == ["--no-plots"]
    assert params["segmentation.enabled"].secondary_opts == ["--no-segments"]
    assert params["cleaning.drop_non_positive_price"].secondary_opts == ["--no-drop-non-positive-price"]
    assert list(params["clv.model"].type.choices) == ["auto", "pareto", "bgnbd", "mbgnbd", "supervised"]
    assert list(params["engine.name"].type.choices) == ["duckdb", "spark"]
    assert params["segmentation.k"].type is click.INT and params["clv.margin"].type is click.FLOAT


def test_the_module_docstring_lists_every_key():
    layout = config_module.__doc__.split("TOML layout", 1)[1]
    listed, section = set(), None
    for line in layout.splitlines():
        line = line.strip()
        if m := re.match(r"\[([\w.]+)\]", line):
            section = {"mapping": "input.mapping", "engine.spark_conf": "engine.spark_conf"}.get(m[1], m[1])
            if section in ("input.mapping", "engine.spark_conf"):
                listed.add(section)
        elif (m := re.match(r"(\w+) = ", line)) and section and "." not in section:
            listed.add(f"{section}.{m[1]}")
    assert listed == {k.dotted for k in keys()}


def test_help_shows_groups_defaults_and_exit_codes():
    result = CliRunner().invoke(cli, ["run", "--help"], terminal_width=100)
    assert result.exit_code == 0
    text = result.output
    titles = [line[:-1] for line in text.splitlines() if re.fullmatch(r"[A-Z][\w ]*:", line)]
    assert titles == ["Positional arguments", "Input", "Cleaning", "Segments", "Validation", "CLV",
                      "Representations", "Outputs", "Engine", "Run", "Other options", "Examples", "Exit codes"]
    assert re.search(r"--horizon-months INTEGER +CLV and expected-purchases horizon in months\. +\[default: 12\]",
                     text)
    assert re.search(r"--plots / --no-plots +Draw the PNG dashboards\. +\[default: on\]", text)
    assert "--seed" not in text and "--horizon " not in text and "--rfm-map" not in text  # hidden aliases
    assert "--n-null" not in text  # file only
    for code, meaning in [(0, "ok"), (2, "usage"), (3, "input cannot be read"), (5, "bad configuration"),
                          (7, "out of memory")]:
        assert f"\n  {code}  {meaning}\n" in text + "\n"
    assert "customersense run --config customersense.toml --k 5 --no-validate" in text


def test_defaults_live_in_the_definition_not_in_the_help_text():
    for key in keys():
        assert "default" not in (key.info.description or "").lower(), key.dotted
        assert key.info.description, key.dotted


@pytest.mark.parametrize("toml, message", [
    ('[segmentation]\nk = "4"', '[segmentation] k = "4": expected an integer'),
    ("[clv]\nhorizon_months = 1.5", "[clv] horizon_months = 1.5: expected an integer"),
    ("[segmentation]\nrandom_state = true", "[segmentation] random_state = true: expected an integer"),
    ('[output]\nplots = "yes"', '[output] plots = "yes": use true or false'),
    ('[segmentation]\ncontamination = "lots"', "[segmentation] contamination = \"lots\": expected a number or 'auto'"),
    ('[segmentation]\ncontamination = "0.1"', "[segmentation] contamination = \"0.1\": expected a number or 'auto'"),
    ("[segmentation]\ncontamination = 0.9", "[segmentation] contamination = 0.9: use 'auto' or a number in [0, 0.5]"),
    ("[cleaning]\nas_of = 2020", "[cleaning] as_of = 2020: expected a date (YYYY-MM-DD)"),
    ('[cleaning]\nas_of = "June"', '[cleaning] as_of = "June": not a date; use YYYY-MM-DD'),
    ('[cleaning]\ndrop_duplicates = "yes"', "[cleaning] drop_duplicates = \"yes\": use true, false or 'auto'"),
    ('[segmentation]\nfeatures = "monetary"', '[segmentation] features = "monetary": expected a list of strings'),
    ('[segmentation]\nscaler = "minmax"', "[segmentation] scaler = \"minmax\": use 'standard' or 'robust'"),
    ("[mapping]\ncustomer_id = 3",
     '[input] mapping = { customer_id = 3 }: expected standard_name = "your column" pairs'),
    ('[engine]\nspark_conf = "4g"', '[engine] spark_conf = "4g": expected "spark.setting" = "value" pairs'),
    ("[engine]\nthreads = 0", "[engine] threads = 0: must be >= 1"),
    ('[input]\ndataset = "nope"', "[input] dataset = \"nope\": use 'online_retail_ii', 'cdnow_master' or 'cdnow_sample'"),
    ("[segmentation]\nk_min = 5\nk_max = 3", "segmentation.k_min=5, k_max=3: need 2 <= k_min <= k_max"),
    ("[cleaning]\nreturn = 'net'", "[cleaning] return: unknown key; known keys: as_of, cancel_prefix"),
    ("[segment]\nk = 4", "config section [segment] is unknown; use mapping, input, cleaning"),
    ("k = 4", "k = 4: a key outside any section; put it under [section]"),
    ("segmentation = 4", "[segmentation] = 4: expected a table of keys"),
])
def test_a_wrong_value_in_a_file_names_the_file_key_value_and_what_to_use(tmp_path, toml, message):
    path = tmp_path / "config.toml"
    path.write_text(toml + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: {message}")
    result = CliRunner().invoke(cli, ["run", "--config", str(path)])
    assert result.exit_code == EXIT_CONFIG
    assert result.output.strip().splitlines() == [f"error: {info.value}"]


def test_file_values_are_not_coerced_but_toml_types_are_used(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[cleaning]\nas_of = 2010-12-01\n[clv]\nmargin = 1\ncalibration_end = \"2010-08-01\"\n"
                    "[segmentation]\nk = 4\ncontamination = \"auto\"\n"
                    '[engine.spark_conf]\n"spark.ui.enabled" = false\n"spark.sql.shuffle.partitions" = 8\n')
    config = load_config(path)
    assert config.cleaning.as_of == dt.date(2010, 12, 1) and config.clv.calibration_end == dt.date(2010, 8, 1)
    assert config.clv.margin == 1.0 and isinstance(config.clv.margin, float)
    assert config.segmentation.k == 4 and config.segmentation.contamination == "auto"
    assert config.engine.spark_conf == {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "8"}
    with pytest.raises(ConfigError, match=r"^segmentation.k='4': expected an integer$"):
        load_config(None, {"segmentation": {"k": "4"}})


def test_relative_paths_in_a_file_are_relative_to_the_file(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    path = folder / "cs.toml"
    path.write_text('[input]\nsource = "data/tx.csv"\n[rfm]\nsegment_map = "map.csv"\n[output]\ndir = "out"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config("project/cs.toml")
    assert config.input.source == "project/data/tx.csv"
    assert config.rfm.segment_map == "project/map.csv"
    assert config.output.dir == "project/out"
    path.write_text(f'[input]\nsource = "{tmp_path / "abs.csv"}"\n[output]\ndir = "s3://bucket/out"\n')
    config = load_config(path)
    assert config.input.source == str(tmp_path / "abs.csv") and config.output.dir == "s3://bucket/out"


def _captured(monkeypatch, *args):
    """The Config the run command builds, without running the pipeline."""
    seen = []
    monkeypatch.setattr(cli_main, "_run", lambda config, quiet: seen.append(config))
    result = CliRunner().invoke(cli, ["run", *map(str, args)])
    assert result.exit_code == 0, result.output
    return seen[0]


def test_paths_given_as_flags_stay_relative_to_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "project").mkdir()
    cfg = tmp_path / "project" / "cs.toml"
    cfg.write_text('[input]\nsource = "tx.csv"\n[output]\ndir = "out"\n')
    monkeypatch.chdir(tmp_path)
    config = _captured(monkeypatch, "here.csv", "--config", cfg, "--out", "mine", "--segment-map", "m.csv")
    assert (config.input.source, config.output.dir, config.rfm.segment_map) == ("here.csv", "mine", "m.csv")
    config = _captured(monkeypatch, "--config", "project/cs.toml")
    assert (config.input.source, config.output.dir) == ("project/tx.csv", "project/out")


def test_a_config_file_elsewhere_runs_on_its_own_data(tmp_path, monkeypatch):
    from tests.cli.test_cli import CSV

    project = tmp_path / "project"
    project.mkdir()
    (project / "tx.csv").write_text(CSV)
    (project / "cs.toml").write_text('[input]\nsource = "tx.csv"\n[output]\ndir = "out"\nplots = false\n'
                                     "[validation]\nenabled = false\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(cli, ["run", "--quiet", "--config", "../project/cs.toml"])
    assert result.exit_code == 0, result.output
    run = json.loads((project / "out" / "run.json").read_text())
    assert run["customers"] == 16 and run["config"]["input"]["source"] == "../project/tx.csv"
    assert list(elsewhere.iterdir()) == []


def test_flags_win_over_the_file_and_the_file_over_the_defaults(tmp_path, monkeypatch):
    cfg = tmp_path / "cs.toml"
    cfg.write_text("[segmentation]\nk = 5\nrandom_state = 7\nscaler = \"robust\"\n[clv]\nhorizon_months = 6\n"
                   "enabled = false\n[mapping]\ncustomer_id = \"Client\"\namount = \"Total\"\n"
                   '[input]\ndataset = "cdnow_sample"\n')
    config = _captured(monkeypatch, "--config", cfg)
    assert (config.segmentation.k, config.segmentation.random_state, config.segmentation.scaler) == (5, 7, "robust")
    assert (config.clv.horizon_months, config.clv.enabled) == (6, False)
    assert config.segmentation.k_max == 10 and config.clv.model == "auto"  # defaults where neither says
    assert config.input.source == str(dataset_path("cdnow_sample"))
    config = _captured(monkeypatch, tmp_path / "x.csv", "--config", cfg, "--k", 3, "--seed", 9, "--horizon", 2,
                       "--clv", "--map", "amount=Sum", "--as-of", "2020-02-03", "--contamination", "auto")
    assert (config.segmentation.k, config.segmentation.random_state, config.segmentation.scaler) == (3, 9, "robust")
    assert (config.clv.horizon_months, config.clv.enabled) == (2, True)
    assert dict(config.input.mapping) == {"customer_id": "Client", "amount": "Sum"}
    assert config.cleaning.as_of == dt.date(2020, 2, 3) and config.segmentation.contamination == "auto"
    assert config.input.source == str(tmp_path / "x.csv") and config.input.dataset is None  # SOURCE replaces it
    assert _captured(monkeypatch).segmentation.k is None  # no file, no flag: the default


def test_an_old_flag_and_its_new_name_together_are_a_usage_error():
    result = CliRunner().invoke(cli, ["run", "--seed", "1", "--random-state", "2"], prog_name="customersense")
    assert result.exit_code == EXIT_USAGE
    assert result.output.strip() == ("error: --seed is the old name of --random-state; give one of them "
                                     "(see 'customersense run --help')")


def test_source_and_dataset_together_are_refused():
    result = CliRunner().invoke(cli, ["run", "x.csv", "--dataset", "cdnow_sample"])
    assert result.exit_code == EXIT_CONFIG
    assert result.output.strip() == "error: input: give either a source or a dataset, not both"


def test_sections_keep_their_constructors_rules_and_immutability(tmp_path):
    assert CleaningPolicy(as_of=dt.date(2021, 3, 10)).as_of == dt.date(2021, 3, 10)
    assert InputConfig(source="a.csv", mapping={"amount": "Total"}).mapping == {"amount": "Total"}
    assert InputConfig(source=tmp_path / "a.csv").source == str(tmp_path / "a.csv")  # a Path, as bench/ passes
    assert EngineConfig(name="spark").name == "spark" and EngineConfig(threads=1).threads == 1
    config = Config(segmentation=SegmentationConfig(k=3), clv=CLVConfig(horizon_months=3))
    assert (config.segmentation.k, config.clv.horizon_months, config.output.dir) == (3, 3, "outputs")
    with pytest.raises(Exception):
        config.segmentation.k = 5
    assert not dataclasses.is_dataclass(config)  # pydantic now; attribute access unchanged
    for build, message in [
        (lambda: SegmentationConfig(k_min=1), "segmentation.k_min=1, k_max=10: need 2 <= k_min <= k_max"),
        (lambda: ValidationConfig(max_customers=10), "validation.max_customers=10: must be >= 50"),
        (lambda: CLVConfig(discount_rate=1.5), "clv.discount_rate=1.5: a monthly rate in (-1, 1), e.g. 0.01"),
        (lambda: CLVConfig(time_unit="months"), "clv.time_unit='months': use 'weeks' or 'days'"),
        (lambda: OutputConfig(csv_max_rows=-1), "output.csv_max_rows=-1: must be >= 0"),
        (lambda: OutputConfig(transactions_max_rows=-2), "output.transactions_max_rows=-2: must be >= -1"),
        (lambda: CleaningPolicy(returns="keep"), "cleaning.returns='keep': use 'net' or 'ignore'"),
        (lambda: EngineConfig(name="spark", memory_limit="2GB"), "engine.memory_limit applies to DuckDB"),
    ]:
        with pytest.raises(ConfigError) as info:
            build()
        assert str(info.value).startswith(message)


def test_to_dict_is_json_ready_with_iso_dates():
    config = Config(cleaning=CleaningPolicy(as_of=dt.date(2010, 12, 1)))
    data = json.loads(json.dumps(config.to_dict()))
    assert data["cleaning"]["as_of"] == "2010-12-01" and data["clv"]["calibration_end"] is None
    assert data["segmentation"]["features"][0] == "recency_days"
    assert list(data) == ["input", "cleaning", "rfm", "segmentation", "validation", "clv", "representations",
                          "output", "engine"]
    assert {f"{s}.{k}" for s, v in data.items() for k in v} == {k.dotted for k in keys()}
