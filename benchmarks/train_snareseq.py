#!/usr/bin/env python3
"""Train scACT with default settings on SNARE-seq mouse cortex, the modalities treated as unpaired.

Prints wall time and peak memory of the training, then sanity scores that use the pairing (only here,
never in training): FOSCTTM of the aligned latent spaces and the median per-peak AUROC of RNA -> ATAC,
next to the cell-type-mean baseline. A pairing-free criterion (label transfer through the mapping) is
printed as well; it is what the gamma/lambda search used.

    PYTHONPATH=src python benchmarks/train_snareseq.py [--data ../shared/data] [--gamma 1 --lam 1]
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

import anndata as ad
import numpy as np
import scipy.sparse as sp
import torch
from scipy.stats import rankdata
from sklearn.neighbors import KNeighborsClassifier

from scact.model import SCACT

LABELS = "cluster (remapped)"


def load(data_dir: Path, seed: int):
    """RNA log1p CP10k on all 1,677 genes; ATAC binary on peaks open in >= 5 cells; ATAC cells shuffled."""
    rna = ad.read_h5ad(data_dir / "snareseq_mouse_cortex" / "rna.h5ad")
    atac = ad.read_h5ad(data_dir / "snareseq_mouse_cortex" / "atac.h5ad")
    counts = sp.csr_matrix(rna.X, dtype=np.float32)
    lib = np.asarray(counts.sum(1)).ravel()
    norm = sp.diags(1e4 / np.maximum(lib, 1)) @ counts
    norm.data = np.log1p(norm.data)
    rna = ad.AnnData(sp.csr_matrix(norm, dtype=np.float32), obs=rna.obs[[LABELS]].copy(), var=rna.var[[]].copy())
    rna.obs["cell_type"] = rna.obs[LABELS].astype(str)
    rna.obs["log_depth"] = np.log1p(lib)
    x = sp.csr_matrix(atac.X, dtype=np.float32)
    x.data[:] = 1.0
    keep = np.asarray(x.sum(0)).ravel() >= 5
    order = np.random.default_rng(seed).permutation(atac.n_obs)  # hide the pairing from training
    atac = ad.AnnData(x[order][:, keep], obs=atac.obs.iloc[order][[LABELS]].copy(), var=atac.var.loc[keep].copy())
    atac.obs["cell_type"] = atac.obs[LABELS].astype(str)
    atac.obs["log_depth"] = np.log1p(np.diff(atac.X.indptr))
    return rna, atac


def foscttm(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of samples closer than the true match, averaged over both directions (a[i] pairs b[i])."""
    total = []
    for x, y in ((a, b), (b, a)):
        fractions = []
        for i in range(0, len(x), 1000):
            d = (x[i:i + 1000] ** 2).sum(1)[:, None] - 2 * x[i:i + 1000] @ y.T + (y ** 2).sum(1)[None]
            true = d[np.arange(d.shape[0]), np.arange(i, i + d.shape[0])]
            fractions.append((d < true[:, None]).mean(1))
        total.append(np.concatenate(fractions).mean())
    return float(np.mean(total))


def per_peak_auroc(truth: sp.csr_matrix, predicted: np.ndarray, min_cells: int = 10) -> np.ndarray:
    truth = sp.csc_matrix(truth)
    n_pos = np.diff(truth.indptr)
    cols = np.flatnonzero(n_pos >= min_cells)
    scores = []
    for i in range(0, len(cols), 2000):
        chunk = cols[i:i + 2000]
        ranks = rankdata(predicted[:, chunk].astype(np.float32), axis=0)
        t = truth[:, chunk].toarray() > 0
        pos = n_pos[chunk]
        neg = truth.shape[0] - pos
        scores.append(((ranks * t).sum(0) - pos * (pos + 1) / 2) / (pos * neg))
    return np.concatenate(scores)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SCACT_DATA", "../shared/data")))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gamma", type=float, default=None)
    parser.add_argument("--lam", type=float, default=None)
    parser.add_argument("--classifier-weight", type=float, default=None)
    parser.add_argument("--label-free", action="store_true", help="train without labels")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-scores", action="store_true")
    parser.add_argument("--autoencoder-cache", type=Path, default=None,
                        help="reuse (or write) the phase-1 weights here to try mapping settings quickly")
    parser.add_argument("--max-epochs-mapping", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rna, atac = load(args.data, args.seed)
    print(f"RNA {rna.shape}, ATAC {atac.shape} (ATAC cells shuffled), threads {torch.get_num_threads()}")
    hyper = {k: v for k, v in (("gamma", args.gamma), ("lam", args.lam),
                                               ("classifier_weight", args.classifier_weight)) if v is not None}
    model = SCACT(rna, atac, labels_key=None if args.label_free else "cell_type", seed=args.seed, **hyper)

    def report(row):
        if row["epoch"] % 5 == 0 or row["phase_epoch"] == 1:
            losses = ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k.startswith(("train_", "val_")))
            print(f"[{row['phase']} {row['phase_epoch']}] {row['seconds']:.1f}s {losses}", flush=True)

    mapping = {} if args.max_epochs_mapping is None else {"max_epochs_mapping": args.max_epochs_mapping}
    wall, cpu = time.perf_counter(), time.process_time()
    if args.autoencoder_cache and args.autoencoder_cache.is_file():
        cached = torch.load(args.autoencoder_cache, weights_only=True)
        model.module.load_state_dict(cached["state_dict"])
        wall -= cached["wall"]
        cpu -= cached["cpu"]
        print(f"phase 1 weights from {args.autoencoder_cache} ({cached['wall'] / 60:.1f} min wall)")
        history = model.train(device="cpu", progress=False, max_epochs_autoencoder=0, on_epoch_end=report,
                              **mapping)
    elif args.autoencoder_cache:
        model.train(device="cpu", progress=False, max_epochs_mapping=0, on_epoch_end=report)
        torch.save({"state_dict": model.module.state_dict(), "wall": time.perf_counter() - wall,
                    "cpu": time.process_time() - cpu}, args.autoencoder_cache)
        history = model.train(device="cpu", progress=False, max_epochs_autoencoder=0, on_epoch_end=report,
                              **mapping)
    else:
        history = model.train(device="cpu", progress=False, on_epoch_end=report, **mapping)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(f"training wall time {wall / 60:.1f} min, CPU time {cpu / 60:.1f} min, "
          f"peak memory (max RSS) {peak_gb:.2f} GB, load average {os.getloadavg()}")
    print(history.groupby("phase")["seconds"].agg(["count", "sum"]).to_string())
    if args.no_scores:
        return
    z_rna, z_atac = model.get_latent_representation(rna, "rna"), model.get_latent_representation(atac, "atac")
    mapped = model.map_latent(z_rna, "rna_to_atac")
    knn = KNeighborsClassifier(15).fit(z_atac, atac.obs["cell_type"])
    transfer = (knn.predict(mapped) == rna.obs["cell_type"].to_numpy()).mean()
    print(f"label transfer accuracy through f (pairing-free): {transfer:.3f}")
    back = np.argsort(np.random.default_rng(args.seed).permutation(atac.n_obs))  # undo the shuffle
    print(f"FOSCTTM f(z_RNA) vs z_ATAC: {foscttm(mapped, z_atac[back]):.3f}")
    print(f"FOSCTTM z_RNA vs g(z_ATAC): {foscttm(z_rna, model.map_latent(z_atac, 'atac_to_rna')[back]):.3f}")
    predicted = np.zeros((rna.n_obs, atac.n_vars), dtype=np.float16)
    for s, e, block in model.translated_blocks(rna, "rna_to_atac"):
        predicted[s:e] = block
    truth = atac.X[back]
    auroc = per_peak_auroc(truth, predicted)
    print(f"RNA->ATAC median per-peak AUROC {np.median(auroc):.3f} over {len(auroc)} peaks (>= 10 cells)")
    types = rna.obs["cell_type"].to_numpy()
    baseline = np.zeros_like(predicted)
    dense_mean = {t: np.asarray(truth[types == t].mean(0)).ravel() for t in np.unique(types)}
    for t, m in dense_mean.items():
        baseline[types == t] = m
    print(f"cell-type-mean baseline median per-peak AUROC {np.median(per_peak_auroc(truth, baseline)):.3f}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}, torch {torch.__version__}, load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
