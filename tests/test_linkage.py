"""Peak-to-gene linkage on data with planted links; output formats; agreement; bad input."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scact.simulate import planted_links
from scact.perturbation.linkage import (
    cell_embedding, link_agreement, link_genes, pearson_p_value, plot_gene_links, to_interact, window_pairs)
from scact.stats import benjamini_hochberg, column_pearson


def test_pearson_and_p_values_match_scipy():
    from scipy import stats
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    b[:, 0] += a[:, 0]
    r = column_pearson(a, b)
    for j in range(3):
        expected = stats.pearsonr(a[:, j], b[:, j])
        assert r[j] == pytest.approx(expected[0])
        assert pearson_p_value(r[j:j + 1], 40)[0] == pytest.approx(expected[1], rel=1e-6)
    assert np.isnan(column_pearson(np.ones((5, 1)), a[:5, :1])[0])
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2]))
    assert q == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2])  # monotone step-up


def test_window_pairs_report_missing_tss_and_empty_windows():
    peaks = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"], "start": [1000, 500_000, 1000],
                          "end": [1500, 500_500, 1500]}, index=["p1", "p2", "p3"])
    tss = pd.DataFrame({"gene": ["A", "B", "B"], "chrom": ["chr1", "chr3", "chr3"], "tss": [2000, 10, 20],
                        "strand": "+"})
    pairs, problems = window_pairs(["A", "B", "C"], tss, peaks, window=10_000)
    assert list(pairs["peak_index"]) == [0] and pairs["distance"].iloc[0] == -750
    assert problems == {"B": "no peak within 10000 bp of its TSS", "C": "no TSS in the annotation"}


def test_linkage_recovers_planted_links(tmp_path):
    rna, atac, tss, truth = planted_links()
    atac.obsm["X_lsi"] = cell_embedding(atac, n_components=15)
    embedding = (atac.obs_names, atac.obsm["X_lsi"])
    sources = [{"name": "observed", "expression": rna, "accessibility": atac, "peaks": atac.var,
                "embedding": embedding}]
    # a 'translation' that is the observed ATAC with 10% of entries flipped: agreement must be high, not 1
    rng = np.random.default_rng(1)
    noisy = atac.X.toarray()
    flip = rng.random(noisy.shape) < 0.1
    noisy[flip] = 1 - noisy[flip]
    translated = ad.AnnData(noisy, obs=atac.obs.copy(), var=atac.var.copy())
    sources.append({"name": "rna_translated_atac", "expression": rna, "accessibility": translated,
                    "peaks": translated.var, "embedding": embedding})
    genes = list(rna.var_names) + ["Missing"]
    links, status = link_genes(genes, tss, sources, window=100_000, n_metacells=150, k=20)
    observed = links[links["source"] == "observed"]
    found = set(map(tuple, observed.loc[observed["significant"], ["gene", "peak"]].to_numpy()))
    planted = set(map(tuple, truth.to_numpy()))
    recall = len(found & planted) / len(planted)
    precision = len(found & planted) / max(len(found), 1)
    print(f"planted links: recall {recall:.2f}, precision {precision:.2f} at FDR 0.05 "
          f"({len(observed)} pairs tested)")
    assert recall >= 0.8 and precision >= 0.5
    assert status.set_index("gene").loc["Missing", "observed"] == "gene not in the expression matrix"
    agreement = link_agreement(links)
    assert agreement.loc[0, "r_correlation"] > 0.5 and agreement.loc[0, "pairs_tested"] == len(observed)
    interact = to_interact(links)
    assert (interact["chromStart"] <= interact["sourceStart"]).all()
    assert (interact["chromEnd"] >= interact["targetEnd"]).all()
    top_ig = atac.var.loc[truth.loc[truth["gene"] == "Gene0", "peak"]]
    plot_gene_links(links, "Gene0", tmp_path / "Gene0_links.png", top_ig, window=100_000)
    assert (tmp_path / "Gene0_links.png").stat().st_size > 5000
