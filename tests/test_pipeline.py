"""The local runner runs the workflow's processes in the workflow's order, with its parameters."""
import re
from pathlib import Path

import anndata as ad
import pandas as pd
import pytest
import yaml

from scact.errors import ScactInputError
from scact.pipeline import STEP_ORDER, resolve_params, run_pipeline
from scact.steps import generated_files


def workflow_process_order(path: Path) -> list[str]:
    """Processes in the order the workflow in ``path`` calls them (first call of each), the processes of
    the subworkflows it includes in their place."""
    text = path.read_text()
    includes = {name: (path.parent / source).resolve()
                for names, source in re.findall(r"^include\s*\{([^}]*)\}\s*from\s*'([^']+)'", text, flags=re.M)
                for name in re.findall(r"\w+", names)}
    order = []
    for name in re.findall(r"^\s*([A-Z][A-Z0-9_]+)\s*\(", text, flags=re.M):
        source = includes.get(name)
        if name.startswith("SCACT_"):
            called = [name]
        elif source is not None and re.search(rf"^workflow\s+{name}\b", (source.with_suffix(".nf")).read_text(), re.M):
            called = workflow_process_order(source.with_suffix(".nf"))
        else:
            continue
        order += [process for process in called if process not in order]
    return order


def test_step_order_matches_the_nextflow_workflow(repo_root):
    assert workflow_process_order(repo_root / "workflows" / "scact.nf") == list(STEP_ORDER)


def test_params_come_from_the_nextflow_schema():
    params = resolve_params({"seed": "7"})
    assert params["seed"] == 7 and params["outdir"] == "results"
    with pytest.raises(ScactInputError, match="unknown parameter"):
        resolve_params({"sed": "7"})
    with pytest.raises(ScactInputError, match="--seed: 'x' is not a integer"):
        resolve_params({"seed": "x"})


@pytest.mark.slow
def test_real_multiome_and_fragments_parse_then_stop_clearly_at_strict_qc(tmp_path, shared_data):
    """The real PBMC subset (45 genes, median 53 UMIs) is parsed from its .h5mu and its real fragments; the
    paper's 200-UMI threshold then removes every cell, and the run stops with the step and the fix named."""
    sheet = tmp_path / "samplesheet.csv"
    data = shared_data / "pbmc_multiome_1k"
    sheet.write_text("sample,modality,input\n"
                     f"pbmc,multiome,{data / 'rna_atac.h5mu'}\n"
                     f"frag,atac,{data / 'atac_fragments.tsv.gz'}\n")
    out = tmp_path / "results"
    with pytest.raises(ScactInputError, match=r"SCACT_RNA_QC \(pbmc\) failed(.|\n)*every one of its 1000 cells"
                                              r"(.|\n)*lower the thresholds"):
        run_pipeline(sheet, out, {"annotation": str(shared_data / "annotation" / "hg38_tss.bed")})
    parsed = {p.name: p for p in (out / "work").glob("*_SCACT_PARSE_*/*.h5ad")}
    assert ad.read_h5ad(parsed["pbmc_rna.h5ad"]).shape == (1000, 45)
    assert ad.read_h5ad(parsed["pbmc_atac.h5ad"]).shape == (1000, 174)
    assert ad.read_h5ad(parsed["frag_atac.h5ad"]).n_obs == 24508
    trace = (out / "pipeline_info" / "execution_trace.tsv").read_text()
    assert "SCACT_RNA_QC\tpbmc\t2" in trace


def test_generated_files_are_current(repo_root):
    """conf/modules.config and the bin/ scripts are what ``python -m scact.steps`` writes from the step table
    and the commands; a stale one (table edited, generator not run) fails here."""
    generated = generated_files()
    for relative, text in generated.items():
        path = repo_root / relative
        assert path.is_file() and path.read_text() == text, f"{relative} is stale: run python -m scact.steps"
    assert {f"bin/{p.name}" for p in (repo_root / "bin").glob("*.py")} <= set(generated)
    assert all((repo_root / relative).stat().st_mode & 0o111 for relative in generated if relative.startswith("bin/"))


@pytest.mark.slow
def test_fixture_run_executes_every_step_in_order_and_publishes(pipeline_run):
    results, runner, _ = pipeline_run
    executed = list(dict.fromkeys(t.process for t in runner.trace))
    assert executed == list(STEP_ORDER)
    rna, atac = ad.read_h5ad(results / "preprocessing" / "rna.h5ad"), ad.read_h5ad(results / "preprocessing" / "atac.h5ad")
    assert rna.n_obs > 200 and atac.n_obs > 150 and set(rna.obs["cell_type"]) & set(atac.obs["cell_type"])
    assert (results / "model" / "training_history.csv").is_file()
    # held-out protocol (heldout_fraction 0.2): no paired cell trains with both modalities, and the
    # evaluation scores the held-out pairs only
    paired = rna.obs_names.intersection(atac.obs_names)
    roles = pd.DataFrame({"rna": rna.obs.loc[paired, "split"].astype(str),
                          "atac": atac.obs.loc[paired, "split"].astype(str)})
    assert not ((roles["rna"] == "train") & (roles["atac"] == "train")).any()
    heldout = (roles["rna"] == "heldout") & (roles["atac"] == "heldout")
    assert abs(heldout.sum() - 0.2 * len(paired)) <= 1
    trace = (results / "pipeline_info" / "execution_trace.tsv").read_text()
    evaluate_log = next(t.workdir for t in runner.trace if t.process == "SCACT_EVALUATE") / ".command.log"
    assert f"{heldout.sum()} held-out pairs are scored" in evaluate_log.read_text(), trace
    metrics = pd.read_csv(results / "evaluation" / "metrics.tsv", sep="\t")
    assert "oracle: type-only alignment" in set(metrics["method"])
    for process in STEP_ORDER:
        assert "scact" in yaml.safe_load((results / "pipeline_info" / "software_versions.yml").read_text())[process]


def test_tasks_are_measured_over_their_whole_process_tree(tmp_path):
    """CPU seconds and peak memory as the trace records them: a task whose child holds memory of its own
    (200 MB in the parent and 200 MB in the child, at once) peaks at their sum, not at either alone."""
    import sys

    from scact.pipeline import run_measured

    hold = "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); import time; time.sleep(1.5)"
    script = f"import subprocess, sys; child = subprocess.Popen([sys.executable, '-c', {hold!r}]); {hold}; child.wait()"
    with open(tmp_path / "log", "w") as log_file:
        status, cpu, peak_gb = run_measured([sys.executable, "-c", script], tmp_path, log_file, {}, poll_seconds=0.1)
    assert status == 0 and cpu > 0
    assert 0.39 < peak_gb < 1.0


def test_run_checks_refuse_parameters_that_do_not_go_together(tmp_path):
    """``check_run`` (scact run and Nextflow's SCACT_VALIDATE): the feature-level link needs the annotation,
    NB likelihood needs raw counts."""
    import numpy as np

    from scact.io.samplesheet import read_samplesheet
    from scact.pipeline import check_run

    for name in ("rna", "atac"):
        ad.AnnData(np.ones((3, 2), np.float32)).write_h5ad(tmp_path / f"{name}.h5ad")
    sheet = tmp_path / "samplesheet.csv"
    sheet.write_text(f"sample,modality,input\ns1,rna,{tmp_path / 'rna.h5ad'}\ns2,atac,{tmp_path / 'atac.h5ad'}\n")
    rows = read_samplesheet(sheet)
    check_run(resolve_params({"input": str(sheet), "outdir": str(tmp_path), "link_weight": 0.0}), rows)
    with pytest.raises(ScactInputError, match="--link_weight > 0 .* needs --annotation"):
        check_run(resolve_params({"input": str(sheet), "outdir": str(tmp_path), "link_weight": 1.0}), rows)
    with pytest.raises(ScactInputError, match="--rna_normalised true and --rna_likelihood nb"):
        check_run(resolve_params({"input": str(sheet), "outdir": str(tmp_path), "rna_normalised": True,
                                  "rna_likelihood": "nb"}), rows)
