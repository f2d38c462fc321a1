"""Baselines and the evaluation table on generated paired data with known structure."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from scact.evaluation import baselines, evaluate


def make_paired(n_cells=240, n_genes=60, peaks_per_gene=4, n_types=3, seed=0):
    """Paired RNA/ATAC: each gene's expression and its nearby peaks' accessibility follow the cell type."""
    rng = np.random.default_rng(seed)
    types = rng.integers(n_types, size=n_cells)
    program = rng.random((n_types, n_genes)) < 0.3
    expr = rng.poisson(1 + 6 * program[types]).astype(np.float32)
    rna = ad.AnnData(sp.csr_matrix(np.log1p(expr)),
                     obs=pd.DataFrame({"cell_type": [f"t{t}" for t in types]},
                                      index=[f"s:{i}" for i in range(n_cells)]),
                     var=pd.DataFrame(index=[f"g{j}" for j in range(n_genes)]))
    p = 0.03 + 0.5 * np.repeat(program[types], peaks_per_gene, axis=1)
    acc = (rng.random(p.shape) < p).astype(np.float32)
    starts = np.arange(n_genes * peaks_per_gene) * 1000 + 10_000
    var = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + 300},
                       index=[f"chr1:{s}-{s + 300}" for s in starts])
    atac = ad.AnnData(sp.csr_matrix(acc), obs=rna.obs.copy(), var=var)
    tss = pd.DataFrame({"chrom": "chr1", "start": 10_000 + np.arange(n_genes) * 1000 * peaks_per_gene,
                        "gene": [f"g{j}" for j in range(n_genes)]})
    tss["end"] = tss["start"] + 1
    tss["tss"], tss["strand"] = tss["start"], "+"  # as scact.io.annotation.read_annotation gives it
    return rna, atac, tss


def test_gene_activity_links_nearby_peaks():
    rna, atac, tss = make_paired()
    activity, genes = baselines.gene_activity(atac, tss, window=1500)
    assert activity.shape == (atac.n_obs, len(genes)) and len(genes) == 60
    # gene 0's TSS at 10,000 +- 1,500 overlaps peaks starting at 10,000 and 11,000 only
    expected = np.asarray(atac.X[:, :2].sum(1)).ravel()
    np.testing.assert_array_equal(activity[:, genes.index("g0")].toarray().ravel(), expected)


def test_type_mean_beats_global_mean_and_harmony_aligns():
    rna, atac, tss = make_paired()
    activity, genes = baselines.gene_activity(atac, tss, window=1500)
    pairing = evaluate.Pairing.by_name(rna.obs_names, atac.obs_names)
    methods = evaluate.baseline_methods(rna, atac, pairing, "cell_type", activity, genes,
                                          block_size=50)
    assert [m.name for m in methods] == ["global mean", "cell-type mean", "Harmony kNN", evaluate.ORACLE_TYPE_ONLY]
    result = evaluate.evaluate(rna, atac, methods, "cell_type")
    table = result.metrics.set_index(["method", "metric"])["value"]
    assert table["global mean", "rna_to_atac/auroc_per_peak_median"] == 0.5
    assert table["cell-type mean", "rna_to_atac/auroc_per_peak_median"] > 0.8
    assert table["cell-type mean", "atac_to_rna/pearson_per_gene_median"] > 0.5
    assert table["Harmony kNN", "rna_to_atac/auroc_per_cell_mean"] > table["global mean",
                                                                          "rna_to_atac/auroc_per_cell_mean"]
    assert table["Harmony kNN", "alignment/label_transfer_atac_to_rna"] > 0.8
    assert table["Harmony kNN", "alignment/foscttm"] < 0.4
    assert set(result.roc_curves["method"]) == {"global mean", "cell-type mean", "Harmony kNN"}
    assert not result.per_type.empty and not result.distances.empty


def test_knn_translation_streams_weighted_means():
    reference = sp.csr_matrix(np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32))
    weights = baselines.knn_weights(np.array([[1.0, 0.0]]), np.array([[1.0, 0.01], [0.0, 1.0], [1.0, 0.1]]),
                                    k=2)
    (_, _, block), = list(baselines.knn_translation(weights, reference)())
    np.testing.assert_allclose(block, [[1.0, 0.5]])


def test_liger_joint_embedding_aligns_types():
    """LIGER (optional: requirements/benchmarks_liger.txt) on RNA counts and gene activity."""
    pytest.importorskip("pyliger")
    rna, atac, tss = make_paired()
    rna.layers["counts"] = sp.csr_matrix(np.expm1(rna.X.toarray()))
    activity, genes = baselines.gene_activity(atac, tss, window=1500)
    pairing = evaluate.Pairing.by_name(rna.obs_names, atac.obs_names)
    methods = evaluate.baseline_methods(rna, atac, pairing, "cell_type", activity, genes, block_size=50,
                                        liger=True)
    liger = next(m for m in methods if m.name == "LIGER")
    z_rna, z_atac = liger.embeddings["liger"]
    assert z_rna.shape == (rna.n_obs, 20) and z_atac.shape == (atac.n_obs, 20)
    table = evaluate.evaluate(rna, atac, [liger], "cell_type").metrics.set_index(["method", "metric"])["value"]
    assert table["LIGER", "alignment/label_transfer_atac_to_rna"] > 0.8  # 3 types: chance ~0.33
    assert table["LIGER", "alignment/foscttm"] < 0.4
