"""Paired RNA/ATAC with planted regulatory links, and a small trained ATAC->RNA translator standing in for
the scACT model (same attributes: genes, peaks, label_names, atac_to_rna_torch)."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

N_TYPES, PLANTED_PER_GENE, MARKERS_PER_TYPE = 4, 5, 15


def simulate_planted(n_cells=800, n_peaks=240, seed=0):
    """Cells of 4 types; gene g (TSS on chr1 at 1 Mb * (g+1)) is driven by 5 planted peaks within 50 kb
    plus a cell-type offset, so that type-marker peaks correlate with it without driving it."""
    rng = np.random.default_rng(seed)
    types = rng.integers(0, N_TYPES, n_cells)
    chrom = np.array(["chr1"] * n_peaks)
    start = np.sort(rng.choice(np.arange(500_000, 6_000_000, 1000), n_peaks, replace=False))
    prob = np.full((n_cells, n_peaks), 0.05)
    genes, tss, planted_rows = [], [], []
    peak_ids = np.arange(n_peaks)
    used = set()
    for g in range(N_TYPES):
        position = 1_000_000 * (g + 1)
        near = [p for p in peak_ids[np.abs(start - position) < 50_000] if p not in used][:PLANTED_PER_GENE]
        while len(near) < PLANTED_PER_GENE:  # move free peaks into the window
            free = next(p for p in rng.permutation(n_peaks) if p not in used and abs(start[p] - position) >= 200_000)
            start[free] = next(s for s in position + rng.permutation(np.arange(-45, 45)) * 1000 if s not in start)
            near.append(free)
        used.update(near)
        genes.append(f"Gene{g}")
        tss.append(position)
        planted_rows += [(f"Gene{g}", p) for p in near]
    order = np.argsort(start, kind="stable")
    rank_of = np.empty(n_peaks, dtype=int)
    rank_of[order] = np.arange(n_peaks)
    start = start[order]
    planted_rows = [(gene, rank_of[p]) for gene, p in planted_rows]
    planted = {gene: [p for name, p in planted_rows if name == gene] for gene in genes}
    free = [p for p in range(n_peaks) if all(p not in v for v in planted.values())]
    markers = rng.permutation(free)[: N_TYPES * MARKERS_PER_TYPE].reshape(N_TYPES, MARKERS_PER_TYPE)
    for t in range(N_TYPES):
        prob[np.ix_(types == t, markers[t])] = 0.5
        prob[np.ix_(types == t, planted[genes[t]])] = 0.45
        for other in range(N_TYPES):
            if other != t:
                prob[np.ix_(types == t, planted[genes[other]])] = 0.12
    atac = (rng.random((n_cells, n_peaks)) < prob).astype(np.float32)
    expression = np.zeros((n_cells, len(genes)), dtype=np.float32)
    for g, gene in enumerate(genes):
        expression[:, g] = (atac[:, planted[gene]].sum(1) + 3.0 * (types == g)
                            + rng.normal(0, 0.5, n_cells))
    expression = np.clip(expression, 0, None)
    names = [f"s1:cell{i}" for i in range(n_cells)]
    obs = pd.DataFrame({"cell_type": [f"type{t}" for t in types]}, index=names)
    peak_names = [f"chr1:{s}-{s + 500}" for s in start]
    var = pd.DataFrame({"chrom": chrom, "start": start, "end": start + 500}, index=peak_names)
    atac_ad = ad.AnnData(sp.csr_matrix(atac), obs=obs.copy(), var=var)
    rna_ad = ad.AnnData(sp.csr_matrix(expression), obs=obs.copy(), var=pd.DataFrame(index=genes))
    tss_table = pd.DataFrame({"gene": genes, "chrom": "chr1", "tss": tss, "strand": "+"})
    truth = pd.DataFrame([(gene, peak_names[p]) for gene, peaks in planted.items() for p in peaks],
                         columns=["gene", "peak"])
    return rna_ad, atac_ad, tss_table, truth


class TinyTranslator:
    """An MLP fitted ATAC -> RNA on the paired cells; exposes the attributes perturb reads from SCACT."""

    def __init__(self, rna, atac, seed=0, epochs=400):
        torch.manual_seed(seed)
        x = torch.as_tensor(atac.X.toarray())
        y = torch.as_tensor(rna.X.toarray())
        self.net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 32), torch.nn.Softplus(),
                                       torch.nn.Linear(32, y.shape[1]))
        optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-2, weight_decay=1e-4)
        for _ in range(epochs):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            loss.backward()
            optimizer.step()
        self.net.eval()
        self.genes = rna.var.copy()
        self.peaks = atac.var.copy()
        self.label_names = sorted(set(atac.obs["cell_type"]))

    def atac_to_rna_torch(self, x):
        return self.net(x)
