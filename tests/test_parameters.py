"""One set of parameters: nextflow.config's defaults, nextflow_schema.json and docs/parameters.md agree."""
import json
import re

from scact.pipeline import schema_properties


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


def test_every_parameter_is_documented(repo_root):
    text = (repo_root / "docs" / "parameters.md").read_text()
    for name in schema_properties():
        assert f"`--{name}`" in text, name


def test_every_parameter_the_configs_use_is_declared(repo_root):
    props = schema_properties()
    for path in [repo_root / "nextflow.config", *(repo_root / "conf").glob("*.config"),
                 *(repo_root / "workflows").glob("*.nf"), repo_root / "main.nf"]:
        for name in re.findall(r"(?<![\w'\"])params\.(\w+)", path.read_text()):
            assert name in props, f"{path.name}: params.{name} is not in nextflow_schema.json"
