"""Perturbation on data with planted links: IG finds the planted peaks, better than correlation alone."""
import numpy as np
import pandas as pd
import pytest

from scact.perturbation.perturb import perturb_genes
from scact.simulate import planted_links
from tiny_translator import TinyTranslator

pytestmark = pytest.mark.slow  # integrated gradients through a trained translator


@pytest.fixture(scope="module")
def planted():
    rna, atac, tss, truth = planted_links()
    return rna, atac, tss, truth, TinyTranslator(rna, atac)


def test_ig_recovers_planted_peaks_better_than_correlation(planted, tmp_path):
    rna, atac, tss, truth, model = planted
    genes = list(rna.var_names)
    summary = perturb_genes(model, atac, genes + ["NotAGene"], tss, tmp_path, steps=16, top_k=10, batch_size=128)
    assert summary.set_index("gene").loc["NotAGene", "status"].startswith("error: gene not in the model")
    ok = summary[summary["status"] == "ok"]
    assert len(ok) == len(genes)
    assert (ok["completeness_mean_relative_gap"] < 1e-3).all()
    x = atac.X.toarray()
    recall_ig, recall_corr = [], []
    for g, gene in enumerate(genes):
        top = pd.read_csv(tmp_path / f"{gene}_ig_peaks.tsv", sep="\t")
        assert list(top["rank"]) == list(range(1, 11))
        assert top["distance_to_tss"].notna().all()
        planted_peaks = set(truth.loc[truth["gene"] == gene, "peak"])
        recall_ig.append(len(planted_peaks & set(top["peak"])) / len(planted_peaks))
        y = rna.X.toarray()[:, g]
        corr = np.nan_to_num([np.corrcoef(x[:, p], y)[0, 1] for p in range(x.shape[1])])
        by_corr = set(atac.var_names[np.argsort(-corr)[:10]])
        recall_corr.append(len(planted_peaks & by_corr) / len(planted_peaks))
    random_expectation = 10 / atac.n_vars
    print(f"recall@10 IG {np.mean(recall_ig):.2f}, correlation {np.mean(recall_corr):.2f}, "
          f"random {random_expectation:.3f}")
    assert np.mean(recall_ig) >= 0.8
    assert np.mean(recall_ig) > np.mean(recall_corr)
    # Fig. 5B: the top peaks are more open in the gene's own type
    assert (ok["p_value"] < 1e-3).all()
    assert set(ok["cell_type"]) == {f"type{g}" for g in range(len(genes))}
    assert (tmp_path / "Gene0_ig_top_peaks_accessibility.png").stat().st_size > 0
    assert (tmp_path / "ig_summary.tsv").exists()


def test_gene_without_tss_still_ranked(planted, tmp_path):
    rna, atac, tss, truth, model = planted
    summary = perturb_genes(model, atac, ["Gene1"], tss[tss["gene"] != "Gene1"], tmp_path, steps=4, top_k=5)
    assert "no TSS" in summary.loc[0, "status"]
    assert pd.read_csv(tmp_path / "Gene1_ig_peaks.tsv", sep="\t")["distance_to_tss"].isna().all()
