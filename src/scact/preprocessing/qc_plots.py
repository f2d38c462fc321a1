"""QC plots as PNG: UMI histogram with threshold, genes vs UMIs, doublet scores, UMAP by cluster and label."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from scact.io.atomic import atomic_path  # noqa: E402


def _save(fig, path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)


def rna_qc_plots(metrics: pd.DataFrame, sample: str, min_umis: float, prefix: str) -> list[str]:
    """Three PNGs of one sample's RNA QC from ``metrics`` (n_counts, n_genes, doublet_score, qc_fail)."""
    written = []
    umis = np.maximum(metrics["n_counts"].to_numpy(), 1)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(np.log10(umis), bins=60, color="0.4")
    ax.axvline(np.log10(max(min_umis, 1)), color="red", linestyle="--", label=f"min UMIs {min_umis:g}")
    ax.set(xlabel="log10 UMIs per cell", ylabel="cells", title=f"{sample}: UMIs per barcode")
    ax.legend()
    written.append(f"{prefix}_umi_hist.png")
    _save(fig, written[-1])

    fig, ax = plt.subplots(figsize=(5, 4))
    for reason, group in metrics.groupby(metrics["qc_fail"].replace("", "kept")):
        ax.scatter(np.maximum(group["n_counts"], 1), np.maximum(group["n_genes"], 1), s=4, label=f"{reason} ({len(group)})")
    ax.set(xscale="log", yscale="log", xlabel="UMIs", ylabel="genes detected", title=f"{sample}: genes vs UMIs")
    ax.legend(markerscale=3, fontsize=8)
    written.append(f"{prefix}_genes_vs_umis.png")
    _save(fig, written[-1])

    fig, ax = plt.subplots(figsize=(5, 3.5))
    tested = metrics[metrics["qc_fail"].isin(["", "doublet"])]
    for reason, group in tested.groupby(tested["qc_fail"].replace("", "kept")):
        ax.hist(group["doublet_score"], bins=40, alpha=0.6, label=f"{reason} ({len(group)})")
    ax.set(xlabel="DoubletDetection score (mean -ln p)", ylabel="cells", title=f"{sample}: doublet scores")
    ax.legend()
    written.append(f"{prefix}_doublet_scores.png")
    _save(fig, written[-1])
    return written


def umap_plot(adata, keys: tuple[str, ...], path: str, title: str = "") -> str:
    """UMAP (obsm['X_umap']) coloured by each obs column of ``keys``, side by side."""
    coords = adata.obsm["X_umap"]
    fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 4.5), squeeze=False)
    for ax, key in zip(axes[0], keys):
        values = adata.obs[key].astype(str)
        for name in sorted(values.unique()):
            mask = (values == name).to_numpy()
            ax.scatter(coords[mask, 0], coords[mask, 1], s=3, label=f"{name} ({mask.sum()})")
        ax.set(title=f"{title} {key}".strip(), xticks=[], yticks=[])
        ax.legend(markerscale=4, fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    _save(fig, path)
    return path
