"""ATAC QC figures (PNG): fragment histograms, TSS enrichment vs fragments, peaks per chromosome, UMAP."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scact.io.atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")


def qc_plots(obs: pd.DataFrame, lengths: np.ndarray, min_fragments: int, min_tss: float, prefix: Path) -> None:
    """``<prefix>_fragments.png`` (fragments per barcode, fragment lengths) and ``<prefix>_tss_vs_fragments.png``."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    n_frag = obs["n_fragments"].to_numpy(np.float64)
    left.hist(np.log10(np.maximum(n_frag, 1)), bins=60, color="grey")
    left.axvline(np.log10(min_fragments), color="red", linestyle="--", label=f"{min_fragments} fragments")
    left.set(xlabel="log10 unique fragments per barcode", ylabel="barcodes")
    left.legend()
    right.plot(np.arange(len(lengths)), lengths, color="black", linewidth=0.8)
    right.set(xlabel="fragment length (bp)", ylabel="fragments", title="fragment length distribution")
    _save(fig, Path(f"{prefix}_fragments.png"))
    plt.close(fig)
    fig, axis = plt.subplots(figsize=(5, 4))
    tss = obs["tss_enrichment"].to_numpy(np.float64)
    axis.scatter(np.log10(np.maximum(n_frag, 1)), tss, s=3, alpha=0.4, color="navy")
    axis.axvline(np.log10(min_fragments), color="red", linestyle="--")
    axis.axhline(min_tss, color="red", linestyle="--")
    axis.set(xlabel="log10 unique fragments", ylabel="TSS enrichment", title="cells kept: upper right")
    _save(fig, Path(f"{prefix}_tss_vs_fragments.png"))
    plt.close(fig)


def peaks_per_chromosome(peaks: pd.DataFrame, path: Path) -> None:
    plt = _pyplot()
    counts = peaks["chrom"].value_counts(sort=False)
    counts = counts.reindex(pd.unique(peaks["chrom"]))
    fig, axis = plt.subplots(figsize=(max(5, 0.3 * len(counts)), 3.5))
    axis.bar(range(len(counts)), counts.to_numpy(), color="teal")
    axis.set_xticks(range(len(counts)), counts.index, rotation=90)
    axis.set(ylabel="peaks", title=f"{len(peaks)} peaks")
    _save(fig, path)
    plt.close(fig)


def umap_plot(adata, path: Path) -> None:
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(5, 4.5))
    coords = adata.obsm["X_umap"]
    clusters = adata.obs["leiden"].astype("category")
    for code, name in enumerate(clusters.cat.categories):
        mask = (clusters == name).to_numpy()
        axis.scatter(coords[mask, 0], coords[mask, 1], s=4, label=str(name), color=plt.cm.tab20(code % 20))
    axis.legend(markerscale=3, fontsize=6, ncol=2, frameon=False)
    axis.set(xlabel="UMAP1", ylabel="UMAP2", title="ATAC Leiden clusters (LSI)")
    _save(fig, path)
    plt.close(fig)
