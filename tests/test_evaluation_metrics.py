"""Metrics on small cases whose answers are known by hand or by scikit-learn on dense arrays."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import average_precision_score, roc_auc_score

from scact.evaluation import metrics


def test_foscttm_perfect_and_random():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    assert metrics.foscttm(x, x, block_size=64) == 0.0
    random = metrics.foscttm(x, rng.normal(size=(300, 5)), block_size=64)
    assert 0.4 < random < 0.6


def test_foscttm_hand_case():
    # cell 0 of y is closer to x[1] than y[1] is: one of n(n-1)=6 pairs in that direction
    x = np.array([[0.0], [1.0], [10.0]])
    y = np.array([[0.9], [0.0], [10.0]])
    # x->y: x0: true y0 at 0.9, y1 at 0 closer -> 1; x1: true y1 at 1, y0 at .1 closer -> 1; x2: 0
    # y->x: y0: true x0 at .9, x1 at .1 closer -> 1; y1: true x1 at 1, x0 at 0 closer -> 1; y2: 0
    assert metrics.foscttm(x, y) == pytest.approx(0.5 * (2 / 6 + 2 / 6))


def _blocks(matrix, size):
    return metrics.dense_blocks(matrix, block_size=size)


def test_rna_to_atac_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(1)
    n_cells, n_peaks = 60, 40
    labels = rng.choice(["a", "b", "c"], n_cells)
    truth = (rng.random((n_cells, n_peaks)) < 0.25).astype(np.float32)
    # rounded scores create many ties, the hard case for rank bookkeeping
    scores = np.round(np.clip(0.5 * truth + rng.random((n_cells, n_peaks)) * 0.8, 0, 1), 1).astype(np.float32)
    result = metrics.rna_to_atac_metrics(sp.csr_matrix(truth), _blocks(scores, 7), labels=labels)
    s = result.scalars
    assert s["auroc_flattened"] == pytest.approx(roc_auc_score(truth.ravel(), scores.ravel()))
    assert s["auprc_flattened"] == pytest.approx(average_precision_score(truth.ravel(), scores.ravel()))
    per_peak = [roc_auc_score(truth[:, j], scores[:, j]) for j in range(n_peaks)]
    np.testing.assert_allclose(result.per_peak["auroc"], per_peak)
    per_cell = [roc_auc_score(truth[i], scores[i]) for i in range(n_cells)]
    np.testing.assert_allclose(result.per_cell["auroc"], per_cell)
    for row in result.per_type.itertuples():
        inside = labels == row.cell_type
        assert row.auroc == pytest.approx(roc_auc_score(truth[inside].ravel(), scores[inside].ravel()))
    r = [np.corrcoef(truth[:, j], scores[:, j])[0, 1] ** 2 for j in range(n_peaks)]
    np.testing.assert_allclose(result.per_peak["r2"], r, rtol=1e-6)
    assert result.roc_curve["tpr"].iloc[0] == 1.0 and result.roc_curve["fpr"].iloc[0] == 1.0


def test_rna_to_atac_scores_do_not_depend_on_the_row_blocks(monkeypatch):
    """The metrics cut large prediction blocks into small row blocks (memory); one row at a time gives the
    same scores as the source's blocks."""
    rng = np.random.default_rng(3)
    truth = (rng.random((50, 30)) < 0.3).astype(np.float32)
    scores = np.round(rng.random((50, 30)), 2).astype(np.float32)
    labels = rng.choice(["a", "b"], 50)
    whole = metrics.rna_to_atac_metrics(sp.csr_matrix(truth), _blocks(scores, 50), labels=labels)
    monkeypatch.setattr(metrics._bounded_blocks, "__defaults__", (1,))  # one row per block
    rows = metrics.rna_to_atac_metrics(sp.csr_matrix(truth), _blocks(scores, 50), labels=labels)
    assert whole.scalars == pytest.approx(rows.scalars, nan_ok=True)
    np.testing.assert_allclose(whole.per_peak["auroc"], rows.per_peak["auroc"])
    np.testing.assert_allclose(whole.per_cell["auroc"], rows.per_cell["auroc"])
    np.testing.assert_allclose(whole.roc_curve["tpr"], rows.roc_curve["tpr"])


def test_constant_prediction_scores_half_per_peak():
    rng = np.random.default_rng(2)
    truth = sp.csr_matrix((rng.random((200, 30)) < 0.2).astype(np.float32))
    mean = np.asarray(truth.mean(0)).ravel()
    profile = np.tile(mean, (200, 1)).astype(np.float32)
    s = metrics.rna_to_atac_metrics(truth, _blocks(profile, 50)).scalars
    assert s["auroc_per_peak_median"] == 0.5
    assert s["r2_per_peak_median"] == 0.0
    assert s["auroc_flattened"] > 0.5  # peaks differ in frequency


def test_alignment_metrics_separate_good_from_random():
    rng = np.random.default_rng(3)
    centers = rng.normal(scale=5, size=(4, 8))
    labels = np.repeat(np.arange(4), 50).astype(str)
    z = centers[labels.astype(int)] + rng.normal(size=(200, 8))
    good = metrics.alignment_metrics(z, z + 0.05 * rng.normal(size=z.shape), labels, labels, paired=True)
    shuffled = rng.permutation(200)
    bad = metrics.alignment_metrics(z, z[shuffled] + 20, labels, labels[shuffled], paired=True)
    assert good["foscttm"] < 0.05 < 0.3 < bad["foscttm"]
    assert good["modality_mixing"] > 0.8 > 0.2 > bad["modality_mixing"]
    assert good["label_transfer_rna_to_atac"] == 1.0
    assert good["leiden_ari"] > 0.8 and good["silhouette_cell_type"] > 0.5


def test_atac_to_rna_metrics():
    rng = np.random.default_rng(4)
    labels = np.repeat(["a", "b", "c"], 40)
    means = rng.gamma(1.0, 1.0, size=(3, 60))
    observed = means[np.repeat([0, 1, 2], 40)] + rng.normal(scale=0.3, size=(120, 60))
    scalars, per_gene = metrics.atac_to_rna_metrics(observed, observed, labels)
    assert scalars["pearson_per_gene_median"] == pytest.approx(1.0)
    assert scalars["marker_r2_mean"] == pytest.approx(1.0)
    assert scalars["marker_enrichment_share_significant"] == 1.0
    noise, _ = metrics.atac_to_rna_metrics(observed, rng.normal(size=observed.shape), labels)
    assert abs(noise["pearson_per_gene_median"]) < 0.3
    assert noise["marker_enrichment_share_significant"] < 1.0
