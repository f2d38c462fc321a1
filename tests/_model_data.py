"""Generated unpaired RNA/ATAC AnnData with cell types planted in both modalities (for model tests)."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp


def planted_modalities(n_rna=300, n_atac=300, n_genes=60, chrom_peaks=(50, 30, 20), n_types=4, seed=0,
                       depth_effect=1.0, paired=False, shared_depth=False):
    """RNA (log1p CP10k) and ATAC (binary) cells drawn from shared types plus one continuous state.

    Each type has its own gene and peak programmes; a per-cell state in [0, 1] shifts a second programme
    in both modalities, so a good translation recovers more than the type mean. With ``paired`` the ATAC
    cells share the RNA cells' type and state (for scoring only), and with ``shared_depth`` also their
    relative sequencing depth (a deep RNA cell is a deep ATAC cell, as in co-assays).
    """
    rng = np.random.default_rng(seed)
    n_peaks = sum(chrom_peaks)
    type_genes = rng.gamma(0.6, 1.0, size=(n_types, n_genes)) + 0.05
    type_peaks = rng.beta(0.4, 2.0, size=(n_types, n_peaks))
    state_genes = rng.normal(0, 1.0, size=n_genes)
    state_peaks = rng.normal(0, 1.5, size=n_peaks)

    def cells(n):
        return rng.integers(0, n_types, n), rng.uniform(0, 1, n)

    rna_types, rna_state = cells(n_rna)
    atac_types, atac_state = (rna_types, rna_state) if paired else cells(n_atac)
    n_atac = len(atac_types)
    rna_depth = rng.lognormal(np.log(1500), 0.5 * depth_effect, n_rna)
    rates = type_genes[rna_types] * np.exp(np.outer(rna_state - 0.5, state_genes))
    rates = rates / rates.sum(1, keepdims=True)
    counts = rng.poisson(rates * rna_depth[:, None]).astype(np.float32)
    lib = counts.sum(1, keepdims=True).clip(1)
    rna = ad.AnnData(sp.csr_matrix(np.log1p(counts / lib * 1e4).astype(np.float32)),
                     obs=pd.DataFrame({"cell_type": [f"type{t}" for t in rna_types], "batch": "b1",
                                       "log_depth": np.log1p(lib.ravel())},
                                      index=[f"r{i}" for i in range(n_rna)]),
                     var=pd.DataFrame(index=[f"gene{i}" for i in range(n_genes)]))
    rna.layers["counts"] = sp.csr_matrix(counts)
    atac_scale = rng.lognormal(0, 0.4 * depth_effect, n_atac)
    if paired and shared_depth:
        atac_scale = np.exp(0.8 * (np.log(rna_depth) - np.log(1500)))
    logit = np.log(type_peaks[atac_types] / (1 - type_peaks[atac_types])) + np.outer(atac_state - 0.5, state_peaks)
    prob = np.clip(1 / (1 + np.exp(-logit)) * atac_scale[:, None], 0, 1)
    acc = (rng.uniform(size=prob.shape) < prob).astype(np.float32)
    chrom = np.repeat([f"chr{i + 1}" for i in range(len(chrom_peaks))], chrom_peaks)
    start = np.concatenate([np.arange(n) * 1000 + 100 for n in chrom_peaks])
    var = pd.DataFrame({"chrom": chrom, "start": start, "end": start + 500})
    var.index = [f"{c}:{s}-{e}" for c, s, e in zip(var.chrom, var.start, var.end)]
    atac = ad.AnnData(sp.csr_matrix(acc),
                      obs=pd.DataFrame({"cell_type": [f"type{t}" for t in atac_types], "batch": "b1",
                                        "log_depth": np.log1p(acc.sum(1))},
                                       index=[f"a{i}" for i in range(n_atac)]),
                      var=var)
    return rna, atac
