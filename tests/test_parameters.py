"""One set of parameters: nextflow.config's defaults, nextflow_schema.json, docs/parameters.md and the
steps' command-line defaults agree."""
import argparse
import importlib
import importlib.util
import json
import re
from pathlib import Path

from scact.pipeline import schema_properties
from scact.steps import STEPS

#: Command-line options whose default defers to the trained model (``None``) rather than to the schema.
DEFAULTS_FROM_THE_MODEL = {("translate", "--translation-neighbours")}


def config_defaults(text: str) -> dict:
    """``name = literal`` lines of the top-level ``params { }`` block (expressions are left out)."""
    block = re.search(r"^params\s*\{(.*?)^\}", text, flags=re.S | re.M).group(1)
    values = {}
    for name, raw in re.findall(r"^\s*(\w+)\s*=\s*(.+?)\s*$", block, flags=re.M):
        if raw == "null":
            values[name] = None
        elif raw in ("true", "false"):
            values[name] = raw == "true"
        elif re.fullmatch(r"'[^']*'", raw):
            values[name] = raw[1:-1]
        elif re.fullmatch(r"-?\d+", raw):
            values[name] = int(raw)
        elif re.fullmatch(r"-?\d+\.\d*(e-?\d+)?", raw):
            values[name] = float(raw)
        else:
            values[name] = ...  # an expression: only its presence is checked
    return values


def test_config_and_schema_have_the_same_parameters_and_defaults(repo_root):
    defaults = config_defaults((repo_root / "nextflow.config").read_text())
    props = schema_properties(json.loads((repo_root / "nextflow_schema.json").read_text()))
    assert set(defaults) == set(props)
    for name, value in defaults.items():
        if value is not ...:
            assert props[name].get("default") == value, name


def test_parameters_page_is_generated_from_the_schema(repo_root):
    spec = importlib.util.spec_from_file_location("generate_parameters", repo_root / "docs" / "generate_parameters.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    expected = generator.parameters_markdown(json.loads((repo_root / "nextflow_schema.json").read_text()))
    assert (repo_root / "docs" / "parameters.md").read_text() == expected, \
        "docs/parameters.md is stale: run `python docs/generate_parameters.py`"
    for name in schema_properties():
        assert f"`--{name}`" in expected, name


def test_step_command_lines_default_to_the_schema():
    """``scact <command>`` run by hand behaves as the pipeline with its defaults: each option a step takes
    from a parameter has the parameter's default."""
    props = schema_properties()
    for step in STEPS.values():
        if not step.options:
            continue
        parser = argparse.ArgumentParser()
        importlib.import_module(f"scact.cli.{step.command}").add_arguments(parser)
        defaults = {action.option_strings[0]: action.default for action in parser._actions if action.option_strings}
        for option in step.options:
            if (step.command, option.flag) in DEFAULTS_FROM_THE_MODEL:
                assert defaults[option.flag] is None
                continue
            default = defaults[option.flag]
            default = str(default) if isinstance(default, Path) else default
            assert default == props[option.param].get("default"), (step.command, option.flag)


def test_every_parameter_the_configs_use_is_declared(repo_root):
    props = schema_properties()
    for path in [repo_root / "nextflow.config", *(repo_root / "conf").glob("*.config"),
                 *(repo_root / "workflows").glob("*.nf"), repo_root / "main.nf"]:
        for name in re.findall(r"(?<![\w'\"])params\.(\w+)", path.read_text()):
            assert name in props, f"{path.name}: params.{name} is not in nextflow_schema.json"


def test_python_api_training_defaults_match_the_training_config():
    """``SCACT.train`` and the ``TrainingConfig`` it fills have the same defaults (both are public)."""
    import dataclasses
    import inspect

    from scact.model import SCACT
    from scact.model._training import TrainingConfig

    signature = inspect.signature(SCACT.train).parameters
    shared = [field for field in dataclasses.fields(TrainingConfig) if field.name in signature]
    assert {"max_epochs_autoencoder", "max_epochs_mapping", "max_epochs_joint"} <= {f.name for f in shared}
    for field in shared:
        assert signature[field.name].default == field.default, field.name
