"""The pipeline under the real Nextflow engine (the pinned jars of requirements/nextflow/, `make nextflow`):
local executor, no container, the scripts' Python from this environment. Each run happens in its own
temporary launch folder, so `.nextflow/`, `work/` and `.nextflow.log` never land in the repository.

- `-profile test` on the generated fixture runs every process, and publishes the same files as the local
  runner (`pipeline_run`), with the same values;
- `-resume` then re-runs nothing;
- the unpaired samplesheet of the fixture (`scact simulate --variants`: an RNA-only and an ATAC-only sample)
  runs every process and gives the local runner's results;
- `-stub-run` completes (the real samplesheet check, every other step stubbed) on the partly paired sheet;
- refused parameters or samplesheets stop the run with the local runner's message;
- `--help` lists the parameters of nextflow_schema.json.
"""
from __future__ import annotations

import csv
import filecmp
import os
import re
import subprocess
import sys
from pathlib import Path

import anndata as ad
import pandas as pd
import pytest
import yaml

from scact.errors import ScactInputError
from scact.pipeline import STEP_ORDER, run_pipeline

import conftest
from conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # runs of the real Nextflow engine

ENGINE_POM = REPO_ROOT / "requirements" / "nextflow" / "pom.xml"
INSTALL_SCRIPT = REPO_ROOT / "requirements" / "nextflow" / "install.sh"
RUN_TIMEOUT_S = 1200


def pinned_version() -> str:
    """The Nextflow version pinned in requirements/nextflow/pom.xml."""
    return re.search(r"<nextflow\.version>([^<]+)</nextflow\.version>", ENGINE_POM.read_text()).group(1)


def engine_launcher() -> Path:
    """The launcher `make nextflow` writes: $SCACT_NEXTFLOW, or .cache/nextflow/<version>/nextflow."""
    default = REPO_ROOT / ".cache" / "nextflow" / pinned_version() / "nextflow"
    return Path(os.environ.get("SCACT_NEXTFLOW", default))


@pytest.fixture(scope="session")
def nextflow() -> Path:
    """The engine's launcher, installed by requirements/nextflow/install.sh when missing."""
    launcher = engine_launcher()
    if not launcher.exists():
        result = subprocess.run([str(INSTALL_SCRIPT)], capture_output=True, text=True)
        if result.returncode != 0:
            message = f"the Nextflow engine could not be installed ({INSTALL_SCRIPT}):\n{result.stderr[-3000:]}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
    return launcher


def run_nextflow(nextflow: Path, launch_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``nextflow run <repository> args`` in ``launch_dir``, this environment's bin/ first on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "NXF_ANSI_LOG": "false"}
    result = subprocess.run([str(nextflow), "run", str(REPO_ROOT), *args], cwd=launch_dir, env=env,
                            capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    if check and result.returncode != 0:
        log = launch_dir / ".nextflow.log"
        raise AssertionError(f"nextflow run {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-6000:]}"
                             f"\n{result.stderr[-3000:]}\n.nextflow.log tail:\n"
                             + ("\n".join(log.read_text().splitlines()[-60:]) if log.exists() else ""))
    return result


def trace_rows(results: Path) -> list[dict]:
    """The rows of the newest execution trace of a run."""
    newest = max((results / "pipeline_info").glob("execution_trace_*.txt"), key=lambda p: p.stat().st_mtime)
    with newest.open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def launch_dir_with_fixture(tmp_path: Path, fixture: Path) -> Path:
    """A launch folder whose test_data/ is the generated fixture (what conf/test.config reads)."""
    launch = tmp_path / "launch"
    launch.mkdir()
    (launch / "test_data").symlink_to(fixture)
    return launch


#: Not compared: the run's own records, the local runner's task folders, and the report's run-time table
#: (from the local runner's trace; Nextflow writes its trace, report and timeline when the run ends).
NOT_COMPARED = ("pipeline_info/", "work/", "report/report_tables/run_time.tsv")


def published_files(results: Path) -> set[str]:
    return {p.relative_to(results).as_posix() for p in results.rglob("*")
            if p.is_file() and not p.relative_to(results).as_posix().startswith(NOT_COMPARED)}


#: Tables that record their run time beside deterministic values: compared without that column.
TIMED_TABLES = {"model/training_history.csv": ",", "regulation/ig_summary.tsv": "\t"}


def assert_same_results(results: Path, local_results: Path) -> None:
    """Every step is deterministic given the seed: every published table and both preprocessed matrices
    hold the same values, whichever engine ran the steps (run-time columns left out)."""
    tables = sorted(name for name in published_files(local_results) if name.endswith((".tsv", ".bed", ".csv"))
                    and not name.startswith("report/"))
    assert "evaluation/metrics.tsv" in tables and "regulation/links.tsv" in tables
    for table in tables:
        if table in TIMED_TABLES:
            ours, local = (pd.read_csv(r / table, sep=TIMED_TABLES[table]).drop(columns="seconds")
                           for r in (results, local_results))
            pd.testing.assert_frame_equal(ours, local, check_exact=True)
        else:
            assert filecmp.cmp(results / table, local_results / table, shallow=False), table
    for name in ("rna.h5ad", "atac.h5ad"):
        ours, local = (ad.read_h5ad(r / "preprocessing" / name) for r in (results, local_results))
        assert list(ours.obs_names) == list(local.obs_names) and list(ours.var_names) == list(local.var_names)
        assert (ours.X != local.X).nnz == 0, name
        assert list(ours.obs["cell_type"]) == list(local.obs["cell_type"]), name


@pytest.fixture(scope="module")
def nextflow_test_run(nextflow, pipeline_run, tmp_path_factory):
    """`nextflow run . -profile test` on the fixture of the local run: (launch folder, results, result)."""
    _, _, fixture = pipeline_run
    launch = launch_dir_with_fixture(tmp_path_factory.mktemp("nextflow_test"), fixture)
    result = run_nextflow(nextflow, launch, "-profile", "test", "--outdir", "results")
    return launch, launch / "results", result


def test_engine_version_is_the_pinned_one_and_the_manifest_accepts_it(nextflow, repo_root):
    out = subprocess.run([str(nextflow), "-version"], capture_output=True, text=True, timeout=300).stdout
    version = pinned_version()
    assert f"version {version}" in out
    required = re.search(r"nextflowVersion\s*=\s*'!?>=\s*([\d.]+)'", (repo_root / "nextflow.config").read_text())
    assert required, "manifest.nextflowVersion must be '!>=<release>'"
    minimum = tuple(int(x) for x in required.group(1).split("."))
    tested = tuple(int(x) for x in re.match(r"[\d.]+", version).group(0).rstrip(".").split("."))
    # The manifest accepts the tested engine, and asks for no older release line than the tested one.
    assert minimum <= tested and minimum[:2] == tested[:2], (required.group(1), version)


def test_nextflow_config_lists_no_plugin(repo_root):
    """A plugin would have to be downloaded when the run starts: air-gapped clusters could not run it."""
    assert not re.search(r"^\s*plugins\s*\{", (repo_root / "nextflow.config").read_text(), re.M)


def test_test_profile_runs_every_process_and_publishes_what_the_local_runner_does(nextflow_test_run, pipeline_run):
    _, results, _ = nextflow_test_run
    local_results, runner, _ = pipeline_run
    executed = {row["name"].split(" ")[0].split(":")[-1] for row in trace_rows(results)}
    assert executed == set(STEP_ORDER) | {"SCACT_VALIDATE"}
    assert {row["status"] for row in trace_rows(results)} == {"COMPLETED"}

    assert published_files(results) == published_files(local_results)
    versions = yaml.safe_load((results / "pipeline_info" / "software_versions.yml").read_text())
    assert set(versions) == set(STEP_ORDER) | {"SCACT_VALIDATE"}

    assert_same_results(results, local_results)


def test_resume_reruns_nothing(nextflow, nextflow_test_run):
    launch, results, _ = nextflow_test_run
    run_nextflow(nextflow, launch, "-profile", "test", "--outdir", "results", "-resume")
    statuses = {row["name"]: row["status"] for row in trace_rows(results)}
    assert len(statuses) == len(STEP_ORDER) + 1
    assert set(statuses.values()) == {"CACHED"}, statuses


def test_unpaired_samplesheet_runs_as_in_the_local_runner(nextflow, variant_sheets, variant_run, tmp_path):
    """Separate RNA and ATAC samples, no cell in both (the method's main use case): every process runs, and
    the results are the local runner's, value for value."""
    folder, sheets = variant_sheets
    local_results, _ = variant_run("unpaired")
    launch = launch_dir_with_fixture(tmp_path, folder)
    run_nextflow(nextflow, launch, "-profile", "test", "--input", str(sheets["unpaired"]), "--outdir", "results")
    results = launch / "results"
    rows = trace_rows(results)
    assert {row["status"] for row in rows} == {"COMPLETED"}
    assert {row["name"].split(" ")[0].split(":")[-1] for row in rows} == set(STEP_ORDER) | {"SCACT_VALIDATE"}
    assert published_files(results) == published_files(local_results)
    assert_same_results(results, local_results)


def test_stub_run_of_a_partly_paired_samplesheet_completes(nextflow, variant_sheets, tmp_path):
    """A multiome sample beside an ATAC-only one: every process runs per sample or over all samples as it
    should (the real samplesheet check, every other step stubbed; `scact run` runs this sheet for real in
    tests/test_unpaired.py)."""
    folder, sheets = variant_sheets
    launch = launch_dir_with_fixture(tmp_path, folder)
    run_nextflow(nextflow, launch, "-profile", "test", "-stub-run", "--input", str(sheets["partly_paired"]),
                 "--outdir", "results", "--save_intermediates", "true")
    results = launch / "results"
    rows = trace_rows(results)
    assert {row["status"] for row in rows} == {"COMPLETED"}
    assert {row["name"].split(" ")[0].split(":")[-1] for row in rows} == set(STEP_ORDER) | {"SCACT_VALIDATE"}
    names = {row["name"].split(":")[-1] for row in rows}
    assert {"SCACT_RNA_QC (sim_multiome)", "SCACT_ATAC_QC (sim_multiome)", "SCACT_ATAC_QC (sim_atac)",
            "SCACT_ATAC_MATRIX (sim_multiome)", "SCACT_ATAC_MATRIX (sim_atac)"} <= names
    assert "SCACT_RNA_QC (sim_atac)" not in names  # an ATAC-only sample has no RNA to check
    assert (results / "report" / "scact_report.html").is_file()
    assert {p.name for p in (results / "preprocessing" / "atac_matrix").iterdir()} == \
        {"sim_multiome_atac_peaks.h5ad", "sim_atac_atac_peaks.h5ad"}
    versions = yaml.safe_load((results / "pipeline_info" / "software_versions.yml").read_text())
    assert set(versions) == {"SCACT_VALIDATE"}  # the stubs write empty versions.yml files


REFUSED = {
    "samplesheet": ("sample,modality,input\nsim,protein,{fixture}\n", {}),
    "parameter": ("sample,modality,input\nsim,multiome,{fixture}\n", {"seed": "x"}),
    "one modality": ("sample,modality,input\nsim,rna,{fixture}\n", {}),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_input_stops_with_the_local_runners_message(nextflow, pipeline_run, tmp_path, case):
    _, _, fixture = pipeline_run
    text, overrides = REFUSED[case]
    launch = launch_dir_with_fixture(tmp_path, fixture)
    sheet = launch / "samplesheet.csv"
    sheet.write_text(text.format(fixture=fixture))
    params = {**conftest.test_profile_params(fixture), **overrides}
    with pytest.raises(ScactInputError) as refused:
        run_pipeline(sheet, tmp_path / "local", params)
    message = str(refused.value).replace(f"{sheet}:", "")  # the task reads its staged copy
    options = [x for name, value in overrides.items() for x in (f"--{name}", value)]
    result = run_nextflow(nextflow, launch, "-profile", "test", "--input", str(sheet), "--outdir", "results",
                          *options, check=False)
    assert result.returncode != 0
    assert message.strip() in result.stdout + result.stderr, result.stdout[-3000:]
    assert "SCACT_VALIDATE" in result.stdout and "SCACT_PARSE" not in result.stdout


def test_help_lists_the_schema_parameters(nextflow, tmp_path, repo_root):
    result = run_nextflow(nextflow, tmp_path, "--help")
    for name in ("--input", "--outdir", "--max_epochs_mapping", "--genes", "--link_window"):
        assert name in result.stdout
    assert "--trace_report_suffix" not in result.stdout  # hidden in the schema
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())
