"""Label reconciliation between modalities and the training inputs rna.h5ad / atac.h5ad, end to end."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from scact.simulate import planted_processed_atac, planted_rna_counts
from scact.cli import run_command
from scact.errors import ScactInputError
from scact.preprocessing.reconcile import reconcile_labels

TYPES = ["T cell", "B cell", "Natural killer cell", "CD14+ Monocyte"]


def test_names_match_case_and_space_insensitively_with_a_mapping():
    rna = pd.Series(["T cell", "B cell", "NK cell", "Platelet", "unassigned"])
    atac = pd.Series(["t_cell", "B  Cell", "natural killer", "DC"])
    mapping = {"natural killer": "NK cell"}
    rna_out, atac_out, report = reconcile_labels(rna, atac, mapping)
    assert atac_out.tolist() == ["T cell", "B cell", "NK cell", "DC"]
    status = report.set_index("cell_type")["status"].to_dict()
    assert status == {"B cell": "shared", "DC": "atac_only", "NK cell": "shared", "Platelet": "rna_only",
                      "T cell": "shared", "unassigned": "unassigned"}
    assert report.set_index("cell_type").at["B cell", "atac_labels"] == "B  Cell"


def test_no_shared_type_is_refused():
    with pytest.raises(ScactInputError, match="rna_processed.h5ad and atac_processed.h5ad: no cell type is shared"):
        reconcile_labels(pd.Series(["T cell"]), pd.Series(["Neuron"]),
                         sources=("rna_processed.h5ad", "atac_processed.h5ad"))


@pytest.fixture(scope="module")
def rna_processed(tmp_path_factory):
    """rna_qc (no doublets, fast) then rna_process through the commands on planted RNA."""
    folder = tmp_path_factory.mktemp("rna")
    planted_rna_counts(n_good=300, n_low_quality=20, n_doublets=0, seed=5).write_h5ad(folder / "s1_rna.h5ad")
    assert run_command("rna_qc", ["--input", str(folder / "s1_rna.h5ad"), "--outdir", str(folder),
                                  "--no-doublets", "--no-plots", "--no-versions"]) == 0
    assert run_command("rna_process", ["--input", str(folder / "s1_rna_qc.h5ad"), "--outdir", str(folder),
                                       "--n-top-genes", "200", "--resolution", "0.5", "--no-versions"]) == 0
    assert (folder / "rna_umap.png").stat().st_size > 1000
    return folder / "rna_processed.h5ad"


def write_atac(folder, types, **kwargs):
    atac, activity = planted_processed_atac(types=types, **kwargs)
    atac.write_h5ad(folder / "atac_processed.h5ad")
    activity.write_h5ad(folder / "gene_activity.h5ad")
    return atac


@pytest.mark.slow
def test_reconcile_writes_the_training_contract(rna_processed, tmp_path):
    # ATAC misses monocytes: B/T/NK are shared, monocytes are RNA-only and flagged
    atac_in = write_atac(tmp_path, TYPES[:3])
    out = tmp_path / "out"
    assert run_command("reconcile", ["--rna", str(rna_processed), "--atac", str(tmp_path / "atac_processed.h5ad"),
                                     "--gene-activity", str(tmp_path / "gene_activity.h5ad"),
                                     "--outdir", str(out), "--no-versions"]) == 0
    rna, atac = ad.read_h5ad(out / "rna.h5ad"), ad.read_h5ad(out / "atac.h5ad")
    report = pd.read_csv(out / "label_reconciliation.tsv", sep="\t").set_index("cell_type")
    assert report.at["CD14+ Monocyte", "status"] == "rna_only"
    assert set(report.index[report["status"] == "shared"]) == set(TYPES[:3])

    assert rna.n_vars == 200 and sp.issparse(rna.X) and rna.X.dtype == np.float32
    assert sp.issparse(rna.layers["counts"])
    # log1p CP10k over all genes, then restricted to the HVGs
    cp10k = rna.layers["counts"].toarray() * 1e4 / rna.obs["n_counts"].to_numpy()[:, None]
    assert np.allclose(np.expm1(rna.X.toarray()), cp10k, rtol=1e-3, atol=1e-3)
    assert {"sample", "batch", "n_counts", "log_depth", "leiden", "cell_type", "shared_type"} <= set(rna.obs)
    monocytes = rna.obs["cell_type"] == "CD14+ Monocyte"
    assert monocytes.sum() > 30 and not rna.obs.loc[monocytes, "shared_type"].any()
    assert rna.obs.loc[~monocytes, "shared_type"].all()

    assert sp.issparse(atac.X) and atac.X.dtype == np.float32 and set(np.unique(atac.X.data)) == {1.0}
    assert {"sample", "batch", "n_fragments", "tss_enrichment", "log_depth", "leiden", "cell_type",
            "shared_type"} <= set(atac.obs)
    assert list(atac.var.columns[:3]) == ["chrom", "start", "end"] and "X_lsi" in atac.obsm
    # ATAC marker labels from gene activity recover the planted types
    assert (atac.obs["cell_type"].astype(str) == atac_in.obs["true_type"]).mean() >= 0.95
    assert "reconcile" in atac.uns["scact"] and "rna_process" in rna.uns["scact"]

    dropped = tmp_path / "dropped"
    assert run_command("reconcile", ["--rna", str(rna_processed), "--atac", str(tmp_path / "atac_processed.h5ad"),
                                     "--gene-activity", str(tmp_path / "gene_activity.h5ad"), "--drop-unshared",
                                     "--outdir", str(dropped), "--no-versions"]) == 0
    assert ad.read_h5ad(dropped / "rna.h5ad").n_obs == (~monocytes).sum()


@pytest.mark.slow
def test_gene_activity_with_counts_in_another_order_labels_alike(rna_processed, tmp_path):
    """Reconcile reads gene activity backed and uses its counts layer when it has one (as atac_process
    writes it); counts in a layer and cells in another order give the labels of counts in X."""
    atac_in = write_atac(tmp_path, TYPES[:3])
    activity = ad.read_h5ad(tmp_path / "gene_activity.h5ad")
    assert not activity.layers
    layered = ad.AnnData(X=sp.csr_matrix(activity.X.shape, dtype=np.float32), obs=activity.obs, var=activity.var,
                         layers={"counts": sp.csr_matrix(activity.X)})
    layered[::-1].copy().write_h5ad(tmp_path / "gene_activity_layer.h5ad")
    for name in ("gene_activity", "gene_activity_layer"):
        assert run_command("reconcile", ["--rna", str(rna_processed), "--atac", str(tmp_path / "atac_processed.h5ad"),
                                         "--gene-activity", str(tmp_path / f"{name}.h5ad"),
                                         "--outdir", str(tmp_path / name), "--no-versions"]) == 0
    first, second = (ad.read_h5ad(tmp_path / name / "atac.h5ad") for name in ("gene_activity", "gene_activity_layer"))
    assert (first.obs["cell_type"].astype(str) == second.obs["cell_type"].astype(str)).all()
    assert (second.obs["cell_type"].astype(str) == atac_in.obs["true_type"]).mean() >= 0.95


@pytest.mark.slow
def test_reconcile_without_shared_type_fails_cleanly(rna_processed, tmp_path, capsys):
    atac = write_atac(tmp_path, TYPES[:2])
    labels = tmp_path / "atac_labels.csv"
    labels.write_text("".join(f"{name},Neuron\n" for name in atac.obs_names))
    out = tmp_path / "out"
    status = run_command("reconcile", ["--rna", str(rna_processed), "--atac", str(tmp_path / "atac_processed.h5ad"),
                                       "--atac-labels", str(labels), "--outdir", str(out), "--no-versions"])
    assert status == 2
    assert "no cell type is shared" in capsys.readouterr().err
    assert not (out / "rna.h5ad").exists() and not (out / "atac.h5ad").exists()


@pytest.mark.slow
def test_gene_activity_of_another_species_names_the_annotation(rna_processed, tmp_path, capsys):
    write_atac(tmp_path, TYPES[:3])
    activity = ad.read_h5ad(tmp_path / "gene_activity.h5ad")
    activity.var_names = [name.capitalize() for name in activity.var_names]  # mouse-style symbols
    activity.uns["scact"] = {"gene_activity": {"params": {"annotation": "mm10_tss.bed"}}}
    activity.write_h5ad(tmp_path / "gene_activity.h5ad")
    out = tmp_path / "out"
    assert run_command("reconcile", ["--rna", str(rna_processed), "--atac", str(tmp_path / "atac_processed.h5ad"),
                                     "--gene-activity", str(tmp_path / "gene_activity.h5ad"),
                                     "--outdir", str(out), "--no-versions"]) == 2
    err = capsys.readouterr().err
    assert "error: mm10_tss.bed: names only" in err and "another species" in err
    assert not out.exists() or not any(out.iterdir())
