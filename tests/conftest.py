"""Shared fixtures: where the real public data live, where the repository is, the generated ATAC data."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from atac_simulation import PlantedATAC, simulate_atac

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """Real public data: ``$SCACT_DATA``, or ``../shared/data`` beside the checkout."""
    return Path(os.environ.get("SCACT_DATA", REPO_ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; in CI its absence is a failure, elsewhere a skip."""
    path = shared_data_dir()
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real data folder {path} is missing (set SCACT_DATA)")
        pytest.skip(f"real data folder {path} not found (set SCACT_DATA)")
    return path


def test_profile_params(fixture_dir: Path) -> dict[str, str]:
    """The ``params`` of ``conf/test.config``, with its generated-data folder pointed at ``fixture_dir``."""
    text = (REPO_ROOT / "conf" / "test.config").read_text()
    block = re.search(r"^params\s*\{(.*?)^\}", text, flags=re.S | re.M).group(1)
    params = {}
    for name, value in re.findall(r"^\s*(\w+)\s*=\s*(.+?)\s*$", block, flags=re.M):
        value = value.strip("'\"").replace("${launchDir}/test_data", str(fixture_dir))
        if not name.startswith("config_profile") and name != "input":
            params[name] = value
    return params


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory):
    """The whole pipeline, run once by ``scact run`` on the generated fixture with the test profile's
    parameters: (results folder, runner, fixture folder)."""
    from scact.pipeline import run_pipeline
    from scact.simulate import config_from_preset, simulate_dataset

    base = tmp_path_factory.mktemp("pipeline")
    fixture = base / "test_data"
    simulate_dataset(config_from_preset("fixture", seed=0), fixture)
    results = base / "results"
    runner = run_pipeline(fixture / "samplesheet.csv", results, test_profile_params(fixture))
    return results, runner, fixture


@pytest.fixture(scope="session")
def variant_sheets(tmp_path_factory):
    """The generated fixture (seed 0) with its unpaired, partly paired and paired samplesheets:
    (fixture folder, {variant: samplesheet})."""
    from scact.simulate import config_from_preset, simulate_dataset, write_samplesheet_variants

    folder = tmp_path_factory.mktemp("variants") / "test_data"
    simulate_dataset(config_from_preset("fixture", seed=0), folder)
    return folder, write_samplesheet_variants(folder)


@pytest.fixture(scope="session")
def variant_run(variant_sheets, tmp_path_factory):
    """``variant_run(variant)``: ``scact run`` on that samplesheet variant with the test profile's parameters,
    run once per session however many test modules compare with it: (results folder, runner)."""
    from scact.pipeline import run_pipeline

    folder, sheets = variant_sheets
    runs = {}

    def run(variant: str):
        if variant not in runs:
            results = tmp_path_factory.mktemp(variant) / "results"
            runs[variant] = results, run_pipeline(sheets[variant], results, test_profile_params(folder))
        return runs[variant]
    return run


@pytest.fixture(scope="session")
def planted_atac(tmp_path_factory) -> PlantedATAC:
    """Generated fragments, peaks and TSS with known cell kinds; each test module writes its own file names
    into its folder."""
    return simulate_atac(tmp_path_factory.mktemp("planted_atac"))
