"""Generated RNA counts with planted cell types, low-quality barcodes and heterotypic doublets."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

#: Marker genes of the planted types (named like human PBMC markers so marker labelling can find them).
PLANTED_MARKERS = {
    "T cell": ["CD3D", "CD3E", "CD3G", "TRAC"],
    "B cell": ["MS4A1", "CD79A", "CD79B", "BANK1"],
    "Natural killer cell": ["GNLY", "KLRF1", "KLRD1", "NCR1"],
    "CD14+ Monocyte": ["CD14", "VCAN", "S100A8", "S100A9"],
}


def planted_rna(n_good=400, n_low_quality=30, n_doublets=40, n_genes=600, seed=0, sample="s1"):
    """Raw counts AnnData; obs['planted'] is good/low_quality/doublet and obs['true_type'] the type."""
    rng = np.random.default_rng(seed)
    types = list(PLANTED_MARKERS)
    markers = [g for genes in PLANTED_MARKERS.values() for g in genes]
    genes = markers + ["MT-CO1", "MT-ND1"] + [f"GENE{i}" for i in range(n_genes - len(markers) - 2)]
    base = rng.gamma(0.6, 1.0, size=len(genes))
    base[len(markers):len(markers) + 2] = 3.0  # mitochondrial genes: a few percent of the counts
    profiles = np.tile(base, (len(types), 1))
    for t, name in enumerate(types):
        for gene in PLANTED_MARKERS[name]:
            profiles[t, genes.index(gene)] = 25.0
        # each type also has its own block of 40 background genes up, as real types differ widely
        block = len(markers) + 2 + 40 * t + np.arange(40)
        profiles[t, block] *= 6.0
    profiles /= profiles.sum(axis=1, keepdims=True)

    def draw(type_index, depth):
        return rng.poisson(profiles[type_index] * depth * rng.gamma(5.0, 0.2, size=len(genes)))

    true_type = rng.integers(0, len(types), size=n_good)
    rows = [draw(t, rng.lognormal(np.log(2500), 0.3)) for t in true_type]
    status = ["good"] * n_good
    labels = [types[t] for t in true_type]
    for _ in range(n_low_quality):
        t = rng.integers(len(types))
        rows.append(draw(t, rng.uniform(40, 150)))
        status.append("low_quality")
        labels.append(types[t])
    for _ in range(n_doublets):
        a, b = rng.choice(len(types), size=2, replace=False)
        rows.append(draw(a, rng.lognormal(np.log(2500), 0.3)) + draw(b, rng.lognormal(np.log(2500), 0.3)))
        status.append("doublet")
        labels.append(f"{types[a]}+{types[b]}")
    order = rng.permutation(len(rows))
    counts = sp.csr_matrix(np.vstack(rows)[order].astype(np.float32))
    barcodes = [f"BC{i:05d}-1" for i in range(len(rows))]
    obs = pd.DataFrame({"sample": sample, "batch": sample, "barcode": barcodes,
                        "planted": np.array(status)[order], "true_type": np.array(labels)[order]},
                       index=[f"{sample}:{b}" for b in barcodes])
    var = pd.DataFrame({"gene_ids": [f"ENSG{i:08d}" for i in range(len(genes))]}, index=genes)
    return ad.AnnData(counts, obs=obs, var=var)


def planted_atac(n_cells=300, n_peaks=200, n_genes=120, seed=0, sample="a1", types=None):
    """An ``atac_processed.h5ad``-like AnnData (leiden per planted type) and its gene-activity AnnData.

    Gene activity is higher on the planted types' marker genes, so marker labelling can recover them.
    """
    rng = np.random.default_rng(seed)
    types = list(types or PLANTED_MARKERS)
    true_type = rng.integers(0, len(types), size=n_cells)
    names = [f"{sample}:ATAC{i:05d}-1" for i in range(n_cells)]
    open_rate = rng.uniform(0.02, 0.2, size=(len(types), n_peaks))
    accessible = sp.csr_matrix((rng.random((n_cells, n_peaks)) < open_rate[true_type]).astype(np.float32))
    chrom = np.repeat(["chr1", "chr2"], [n_peaks // 2, n_peaks - n_peaks // 2])
    start = np.concatenate([np.arange(n_peaks // 2), np.arange(n_peaks - n_peaks // 2)]) * 5000 + 1000
    var = pd.DataFrame({"chrom": chrom, "start": start, "end": start + 500},
                       index=[f"{c}:{s}-{s + 500}" for c, s in zip(chrom, start)])
    n_fragments = rng.integers(1000, 20000, size=n_cells)
    obs = pd.DataFrame({"sample": sample, "batch": sample, "n_fragments": n_fragments,
                        "tss_enrichment": rng.uniform(4, 12, size=n_cells),
                        "leiden": pd.Categorical(true_type.astype(str)),
                        "true_type": np.array(types)[true_type]}, index=names)
    atac = ad.AnnData(accessible, obs=obs, var=var)
    atac.obsm["X_lsi"] = rng.normal(size=(n_cells, 20)).astype(np.float32)

    markers = [g for t in types for g in PLANTED_MARKERS.get(t, [])]
    genes = markers + [f"GENE{i}" for i in range(n_genes - len(markers))]
    rates = np.full((len(types), len(genes)), 2.0)
    for t, name in enumerate(types):
        for gene in PLANTED_MARKERS.get(name, []):
            rates[t, genes.index(gene)] = 12.0
    activity = sp.csr_matrix(rng.poisson(rates[true_type]).astype(np.float32))
    gene_activity = ad.AnnData(activity, obs=pd.DataFrame(index=names), var=pd.DataFrame(index=genes))
    return atac, gene_activity
