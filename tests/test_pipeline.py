"""The local runner runs the workflow's processes in the workflow's order, with its parameters."""
import re

import anndata as ad
import pytest
import yaml

from scact.errors import ScactInputError
from scact.pipeline import STEP_ORDER, resolve_params, run_pipeline


def workflow_process_order(text: str) -> list[str]:
    """Processes in the order the workflow calls them (first call of each)."""
    order = []
    for name in re.findall(r"^\s*(SCACT_[A-Z0-9_]+)\s*\(", text, flags=re.M):
        if name not in order:
            order.append(name)
    return order


def test_step_order_matches_the_nextflow_workflow(repo_root):
    assert workflow_process_order((repo_root / "workflows" / "scact.nf").read_text()) == list(STEP_ORDER)


def test_params_come_from_the_nextflow_schema():
    params = resolve_params({"seed": "7"})
    assert params["seed"] == 7 and params["outdir"] == "results"
    with pytest.raises(ScactInputError, match="unknown parameter"):
        resolve_params({"sed": "7"})
    with pytest.raises(ScactInputError, match="--seed: 'x' is not a integer"):
        resolve_params({"seed": "x"})


def test_runs_on_real_multiome_and_fragments(tmp_path, shared_data):
    sheet = tmp_path / "samplesheet.csv"
    data = shared_data / "pbmc_multiome_1k"
    sheet.write_text("sample,modality,input\n"
                     f"pbmc,multiome,{data / 'rna_atac.h5mu'}\n"
                     f"frag,atac,{data / 'atac_fragments.tsv.gz'}\n")
    out = tmp_path / "results"
    runner = run_pipeline(sheet, out)
    assert [t.process for t in runner.trace] == ["SCACT_PARSE", "SCACT_PARSE"]
    assert ad.read_h5ad(out / "parse" / "pbmc_rna.h5ad").n_obs == 1000
    assert ad.read_h5ad(out / "parse" / "frag_atac.h5ad").n_obs == 24508
    versions = yaml.safe_load((out / "pipeline_info" / "software_versions.yml").read_text())
    assert "scact" in versions["SCACT_PARSE"]
