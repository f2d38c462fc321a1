"""RNA QC on generated counts with planted low-quality barcodes and doublets, and its bad-input errors."""
from __future__ import annotations

import anndata as ad
import pandas as pd
import pytest

from scact.simulate import planted_rna_counts
from scact.cli import run_command
from scact.errors import ScactInputError
from scact.preprocessing.rna import RnaQcParams, qc_sample


@pytest.fixture(scope="module")
def planted():
    return planted_rna_counts(n_good=400, n_low_quality=30, n_doublets=40, seed=0)


@pytest.fixture(scope="module")
def qc_result(planted):
    return qc_sample(planted, RnaQcParams(doublet_n_iters=5, seed=0), source="s1_rna.h5ad")


@pytest.mark.slow
def test_qc_removes_planted_low_quality_and_doublets(planted, qc_result):
    _, _, metrics = qc_result
    removed = metrics["qc_fail"] != ""
    status = planted.obs["planted"]
    low_quality = removed[status == "low_quality"].mean()
    doublets = removed[status == "doublet"].mean()
    good = removed[status == "good"].mean()
    print(f"removed: low-quality {low_quality:.3f}, doublets {doublets:.3f}, good {good:.3f}")
    assert low_quality >= 0.9
    assert doublets >= 0.7
    assert good <= 0.05


@pytest.mark.slow
def test_qc_table_counts_each_cell_once(planted, qc_result):
    kept, table, _ = qc_result
    counts = table.set_index("reason")["n_cells"]
    assert counts[["low_umis", "low_genes", "high_mito", "doublet", "kept"]].sum() == counts["total"] == planted.n_obs
    assert counts["kept"] == kept.n_obs
    assert {"n_counts", "n_genes", "percent_mito", "doublet_score"} <= set(kept.obs.columns)


@pytest.mark.slow
def test_qc_is_deterministic(planted, qc_result):
    again, _, _ = qc_sample(planted, RnaQcParams(doublet_n_iters=5, seed=0))
    assert list(again.obs_names) == list(qc_result[0].obs_names)


def test_mito_filter_counts_high_mito_cells(planted):
    adata = planted.copy()
    mito = adata.var_names.get_loc("MT-CO1")
    x = adata.X.tolil()
    x[:5, mito] = 10_000  # five cells become mostly mitochondrial
    adata.X = x.tocsr()
    _, table, metrics = qc_sample(adata, RnaQcParams(remove_doublets=False))
    assert table.set_index("reason").at["high_mito", "n_cells"] == 5
    assert (metrics["qc_fail"].iloc[:5] == "high_mito").all()


def test_threshold_removing_every_cell_names_the_file(planted):
    with pytest.raises(ScactInputError, match=r"s1_rna\.h5ad.*every one of its 470 cells fails QC"):
        qc_sample(planted, RnaQcParams(min_umis=10**9, remove_doublets=False), source="s1_rna.h5ad")


def test_rna_qc_command_writes_outputs(tmp_path, planted, capsys):
    path = tmp_path / "s1_rna.h5ad"
    planted.write_h5ad(path)
    out = tmp_path / "out"
    assert run_command("rna_qc", ["--input", str(path), "--outdir", str(out), "--no-doublets",
                                  "--no-versions"]) == 0
    kept = ad.read_h5ad(out / "s1_rna_qc.h5ad")
    table = pd.read_csv(out / "s1_rna_qc.tsv", sep="\t")
    assert kept.n_obs == table.set_index("reason").at["kept", "n_cells"] == 440
    assert kept.uns["scact"]["rna_qc"]["params"]["min_umis"] == 200
    for plot in ("umi_hist", "genes_vs_umis", "doublet_scores"):
        assert (out / f"s1_rna_qc_{plot}.png").stat().st_size > 1000
    assert run_command("rna_qc", ["--input", str(path), "--outdir", str(out), "--min-umis", "1000000000",
                                  "--no-doublets", "--no-versions"]) == 2
    assert "fails QC" in capsys.readouterr().err


def test_doublet_detection_bounds_its_dense_matrix_at_atlas_size():
    """RNA settings densify (cells + synthetic doublets) x features: up to 15,000 cells DoubletDetection
    keeps its 10,000 features; beyond, fewer, so one dense copy stays within 0.75 GB (5 GB at 100,000
    cells before); binarized peaks stay sparse and keep 10,000."""
    from scact.preprocessing.doublets import BINARY_PEAKS, RAW_COUNTS, variable_features

    assert variable_features(10_000, 20_000, RAW_COUNTS) == 10_000
    assert variable_features(30_000, 20_000, RAW_COUNTS) == 5_000
    assert variable_features(100_000, 20_000, RAW_COUNTS) == 1_500
    assert variable_features(1_000_000, 20_000, RAW_COUNTS) == 1_000
    assert variable_features(100_000, 600, RAW_COUNTS) == 600
    assert variable_features(1_000_000, 100_000, BINARY_PEAKS) == 10_000
    for cells in (20_000, 100_000, 150_000):
        assert 4 * cells * 1.25 * variable_features(cells, 20_000, RAW_COUNTS) <= 7.5e8
