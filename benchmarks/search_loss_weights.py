#!/usr/bin/env python3
"""Choose gamma (adversarial) and lambda (cycle) of Eq. 10 on a criterion that needs no paired cells.

The autoencoders are trained once (gamma and lambda only act in the mapping phase); then each pair in
{0.1, 0.5, 1, 2}^2 trains the mapping networks and discriminators from the same start. Criterion:
label transfer accuracy through the mapping in both directions (15-NN classifier fitted on one
modality's latent codes and labels, applied to the other modality's mapped codes), on generated
data with planted types (two seeds). Labels are what training uses anyway; pairing is never used.

    PYTHONPATH=src python benchmarks/search_loss_weights.py
"""
from __future__ import annotations

import copy
import itertools

import numpy as np
import torch
from sklearn.neighbors import KNeighborsClassifier

from scact.model import SCACT
from scact.simulate import planted_modalities

GRID = (0.1, 0.5, 1.0, 2.0)


def label_transfer(model, rna, atac) -> float:
    z_rna, z_atac = model.get_latent_representation(rna, "rna"), model.get_latent_representation(atac, "atac")
    rna_types, atac_types = rna.obs["cell_type"].to_numpy(), atac.obs["cell_type"].to_numpy()
    to_atac = KNeighborsClassifier(15).fit(z_atac, atac_types).predict(model.map_latent(z_rna, "rna_to_atac"))
    to_rna = KNeighborsClassifier(15).fit(z_rna, rna_types).predict(model.map_latent(z_atac, "atac_to_rna"))
    return float(((to_atac == rna_types).mean() + (to_rna == atac_types).mean()) / 2)


def search(rna, atac, seed: int, mapping_epochs: int = 60, autoencoder_epochs: int = 20, batch_size: int = 64):
    base = SCACT(rna, atac, seed=seed)
    base.train(max_epochs_autoencoder=autoencoder_epochs, max_epochs_mapping=0, batch_size=batch_size,
               device="cpu", progress=False)
    scores = {}
    for gamma, lam in itertools.product(GRID, GRID):
        model = copy.deepcopy(base)
        model._metadata["hyperparameters"].update(gamma=gamma, lam=lam)
        model.train(max_epochs_autoencoder=0, max_epochs_mapping=mapping_epochs, batch_size=batch_size,
                    device="cpu", progress=False)
        scores[gamma, lam] = label_transfer(model, rna, atac)
        print(f"seed {seed} gamma {gamma} lambda {lam}: {scores[gamma, lam]:.3f}", flush=True)
    return scores


def main():
    torch.set_num_threads(1)
    table = {}
    for seed in (0, 1):
        rna, atac = planted_modalities(seed=seed, n_rna=400, n_atac=400)
        for key, value in search(rna, atac, seed).items():
            table.setdefault(key, []).append(value)
    print("gamma lambda  label-transfer accuracy (mean over 2 generated data sets)")
    for (gamma, lam), values in sorted(table.items(), key=lambda kv: -np.mean(kv[1])):
        print(f"{gamma:5} {lam:6}  {np.mean(values):.3f}  ({', '.join(f'{v:.3f}' for v in values)})")


if __name__ == "__main__":
    main()
