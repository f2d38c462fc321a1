"""Alignment section: joint UMAPs of both modalities, marker genes on them (paper Fig. 2), alignment
metrics with baselines."""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.evaluation.per_type import cell_types, mean_difference_markers
from scact.report._document import Note, Section, Writer
from scact.report._inputs import Results, open_backed
from scact.report._metrics import metric_table, pairing_note, read_metrics
from scact.report._plots import MODALITY_COLOURS, category_colours, legend_outside, plt, point_style


def _umap_figure(writer, joint, key):
    umap = np.asarray(joint.obsm[key])[:, :2]
    n = len(umap)
    style = point_style(n)
    order = np.random.default_rng(0).permutation(n)  # no modality drawn entirely on top of the other
    has_type = "cell_type" in joint.obs
    fig, axes = plt.subplots(1, 2 if has_type else 1, figsize=(13 if has_type else 6.5, 5.2), squeeze=False)
    modality = joint.obs["modality"].astype(str).to_numpy() if "modality" in joint.obs else np.full(n, "cells")
    colours = {m: MODALITY_COLOURS.get(m.lower(), "0.4") for m in np.unique(modality)}
    ax = axes[0, 0]
    ax.scatter(umap[order, 0], umap[order, 1], c=[colours[m] for m in modality[order]], **style)
    for m, c in colours.items():
        ax.scatter([], [], color=c, label=f"{m.upper()} ({(modality == m).sum():,})")
    ax.set_title("by modality")
    legend_outside(ax)
    if has_type:
        types = joint.obs["cell_type"].astype(str).to_numpy()
        names = pd.Series(types).value_counts().index.tolist()
        tc = category_colours(names)
        ax = axes[0, 1]
        ax.scatter(umap[order, 0], umap[order, 1], c=[tc[t] for t in types[order]], **style)
        for t in names:
            ax.scatter([], [], color=tc[t], label=f"{t} ({(types == t).sum():,})")
        ax.set_title("by cell type")
        legend_outside(ax)
    for ax in axes[0]:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("UMAP 1")
        ax.set_ylabel("UMAP 2")
    fig.tight_layout()
    space = key.removeprefix("X_umap").strip("_").replace("_", " ") or "joint"
    table = pd.DataFrame({"cell": joint.obs_names, "modality": modality, "umap1": umap[:, 0], "umap2": umap[:, 1]})
    if has_type:
        table["cell_type"] = joint.obs["cell_type"].astype(str).to_numpy()
    return writer.figure(fig, f"alignment_umap_{space.replace(' ', '_')}", f"Joint UMAP ({space} space)", table,
                         f"RNA cells and ATAC cells embedded together in the {space} space; "
                         "well aligned modalities mix within each cell type.")


def _marker_umap_figure(writer, joint, key, rna, atac_to_rna, genes):
    """Marker genes on the joint UMAP: observed expression of RNA cells, translated of ATAC cells (Fig. 2)."""
    umap = np.asarray(joint.obsm[key])[:, :2]
    modality = joint.obs["modality"].astype(str).str.lower().to_numpy()
    names = joint.obs["cell"].astype(str).to_numpy() if "cell" in joint.obs else joint.obs_names.to_numpy()
    panels = [("rna", rna, "RNA cells: observed"), ("atac", atac_to_rna, "ATAC cells: translated")]
    panels = [(m, a, t) for m, a, t in panels if a is not None and (modality == m).any()]
    genes = [g for g in genes if all(g in a.var_names for _, a, _ in panels)][:6]
    if not panels or not genes:
        return None
    fig, axes = plt.subplots(len(genes), len(panels), figsize=(4.4 * len(panels) + 1, 3.4 * len(genes)), squeeze=False)
    records = []
    for row, gene in enumerate(genes):
        values = []
        for m, adata, _ in panels:
            position = pd.Index(adata.obs_names).get_indexer(names[modality == m])
            ok = position >= 0
            column = adata[:, gene].X
            column = np.asarray(column.toarray() if sp.issparse(column) else column).ravel()
            v = np.full(len(position), np.nan)
            v[ok] = column[position[ok]]
            values.append(v)
        finite = np.concatenate([v[np.isfinite(v)] for v in values])
        vmax = float(np.percentile(finite, 99)) if len(finite) else 1.0
        for col, ((m, _, title), v) in enumerate(zip(panels, values)):
            ax = axes[row, col]
            xy = umap[modality == m]
            ax.scatter(umap[:, 0], umap[:, 1], color="0.88", **point_style(len(umap)))
            order = np.argsort(np.nan_to_num(v, nan=-1))
            sc = ax.scatter(xy[order, 0], xy[order, 1], c=v[order], cmap="viridis", vmin=0, vmax=vmax or 1,
                            **point_style(len(xy)))
            ax.set_title(f"{gene}: {title}")
            ax.set_xticks([])
            ax.set_yticks([])
            records.append(pd.DataFrame({"gene": gene, "modality": m, "cell": names[modality == m], "value": v}))
        fig.colorbar(sc, ax=axes[row, :].tolist(), shrink=0.8, label="log expression")
    return writer.figure(fig, "alignment_marker_genes", "Marker genes on the joint UMAP", pd.concat(records),
                         "Left: observed expression of RNA cells; right: expression translated from ATAC cells "
                         "(grey: the other modality). Markers: genes most above their mean elsewhere per cell type.")


def alignment_section(results: Results, writer: Writer) -> Section:
    section = Section("alignment", "Alignment", "RNA and ATAC cells in one latent space (paper Fig. 2).")
    path = results.first("joint_embedding.h5ad")
    joint = open_backed(path) if path else None
    keys = [k for k in (joint.obsm.keys() if joint is not None else []) if k.startswith("X_umap")]
    if joint is None or not keys:
        section.missing("not run: no joint_embedding.h5ad with a UMAP found (translate step not run)")
    else:
        for key in keys:
            section.blocks.append(_umap_figure(writer, joint, key))
        rna_path, a2r_path = results.first("rna.h5ad"), results.first("atac_to_rna.h5ad")
        rna = open_backed(rna_path) if rna_path else None
        atac_to_rna = open_backed(a2r_path) if a2r_path else None
        labels = cell_types(rna) if rna is not None else None
        if rna is not None and labels is not None:
            genes = mean_difference_markers(rna, labels, per_type=1, limit=4)
            figure = _marker_umap_figure(writer, joint, keys[0], rna, atac_to_rna, genes)
            if figure:
                section.blocks.append(figure)
    metrics = read_metrics(results)
    note = pairing_note(metrics)
    if note:
        section.blocks.append(note)
    table = metric_table(writer, metrics, ("alignment",), "alignment_metrics", "Alignment metrics with baselines")
    section.blocks.append(table or Note("no alignment metrics: evaluate not run (no metrics.tsv with alignment "
                                        "metrics)", "missing"))
    return section
