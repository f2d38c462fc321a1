"""A small trained ATAC->RNA translator standing in for the scACT model in the perturbation tests (same
attributes: genes, peaks, label_names, atac_to_rna_torch)."""
from __future__ import annotations

import torch


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
