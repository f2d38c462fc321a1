"""Baselines and the evaluation table on generated paired data with known structure."""
import numpy as np
import pytest
import scipy.sparse as sp

from scact.evaluation import baselines, evaluate
from scact.simulate import planted_paired


def test_gene_activity_links_nearby_peaks():
    rna, atac, tss = planted_paired()
    activity, genes = baselines.gene_activity(atac, tss, window=1500)
    assert activity.shape == (atac.n_obs, len(genes)) and len(genes) == 60
    # gene 0's TSS at 10,000 +- 1,500 overlaps peaks starting at 10,000 and 11,000 only
    expected = np.asarray(atac.X[:, :2].sum(1)).ravel()
    np.testing.assert_array_equal(activity[:, genes.index("g0")].toarray().ravel(), expected)


@pytest.mark.slow
def test_type_mean_beats_global_mean_and_harmony_aligns():
    rna, atac, tss = planted_paired()
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


@pytest.mark.slow
def test_liger_joint_embedding_aligns_types():
    """LIGER (optional: requirements/benchmarks_liger.txt) on RNA counts and gene activity."""
    pytest.importorskip("pyliger")
    rna, atac, tss = planted_paired()
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


def test_harmony_inputs_are_z_scored_in_place_as_the_formula():
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 1.0, size=(300, 600)).astype(np.float32)
    x[:, 5] = 3.0  # a constant column stays 0
    x[0, 7] = 1e4  # an outlier is clipped at 10 sd
    expected = (x.astype(np.float64) - x.mean(0, dtype=np.float64)) / np.where(x.std(0, dtype=np.float64) > 0,
                                                                              x.std(0, dtype=np.float64), 1.0)
    expected = np.clip(expected, -10, 10)
    baselines._zscore_in_place(x, block_columns=256)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, expected, rtol=1e-5, atol=1e-5)
    assert x[0, 7] == pytest.approx(np.clip(expected[0, 7], -10, 10)) and np.all(x[:, 5] == 0)


def test_references_given_as_rows_match_copies_of_those_rows():
    """Baselines read their reference cells as rows of the whole matrix (no atlas-size copy)."""
    rng = np.random.default_rng(1)
    matrix = sp.random(60, 40, density=0.3, format="csr", dtype=np.float32, random_state=1)
    matrix.data[:] = 1
    rows = rng.random(60) < 0.5
    labels = rng.choice(["a", "b", "c"], 60)
    query_labels = np.array(["a", "c", "d"])
    whole = baselines.dense_prediction(baselines.type_mean(matrix, labels, query_labels, reference_rows=rows))
    copied = baselines.dense_prediction(baselines.type_mean(matrix[rows], labels[rows], query_labels))
    np.testing.assert_allclose(whole, copied, rtol=1e-6)
    np.testing.assert_allclose(baselines.dense_prediction(baselines.global_mean(matrix, 2, reference_rows=rows)),
                               baselines.dense_prediction(baselines.global_mean(matrix[rows], 2)), rtol=1e-6)
    z = rng.normal(size=(60, 5))
    query = rng.normal(size=(7, 5))
    by_rows = baselines.knn_weights(query, z, k=4, reference_rows=rows)
    by_copy = baselines.knn_weights(query, z[rows], k=4)
    assert by_rows.shape == (7, 60) and set(by_rows.indices) <= set(np.flatnonzero(rows))
    np.testing.assert_allclose((by_rows @ matrix).toarray(), (by_copy @ matrix[rows]).toarray(), rtol=1e-6)
    # dense blocks stay under MAX_BLOCK_VALUES whatever block size is asked for
    wide = sp.csr_matrix(np.ones((3, 2_000_000), np.float32))
    sizes = [block.shape[0] for _, _, block in baselines.global_mean(wide, 5, block_size=1024)()]
    assert sizes == [2, 2, 1]
