"""The translate step's figures: both UMAPs of the joint embedding, drawn from the stored AnnData."""
from __future__ import annotations

from pathlib import Path

import anndata as ad

from scact.io.atomic import atomic_path


def plot_joint_embedding(adata: ad.AnnData, outdir, markers=()) -> list[Path]:
    """PNGs of both UMAPs coloured by modality, cell type and (if stored) marker genes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import scanpy as sc

    written = []
    outdir = Path(outdir)
    for space in ("rna_latent", "atac_latent"):
        colours = ["modality", "cell_type"] + [g for g in markers if g in adata.var_names]
        for colour in colours:
            fig = sc.pl.embedding(adata, basis=f"X_umap_{space}", color=colour, show=False,
                                  return_fig=True, frameon=False, title=f"{colour} ({space.replace('_', ' ')})")
            name = "markers_" + colour if colour not in ("modality", "cell_type") else colour
            target = outdir / f"umap_{space}_{name}.png"
            with atomic_path(target) as tmp:
                fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
            plt.close(fig)
            written.append(target)
    return written
