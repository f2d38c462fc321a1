"""In-silico perturbation of a trained model: for each named gene, the peaks whose accessibility drives its
ATAC->RNA translation (integrated gradients), ranked, placed relative to the gene's TSS and checked
against the data (the paper's Fig. 5B test). One gene failing (not in the model, ...) never stops the others.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.errors import input_error
from scact.io.atomic import atomic_path
from scact.perturbation.integrated_gradients import (
    gene_attribution, ranked_peaks, resolve_device, top_peak_accessibility_test)
from scact.perturbation.tss import distance_to_tss, tss_by_gene
from scact.preprocessing.atac import binarize
from scact.progress import tracked

log = logging.getLogger(__name__)


def safe_name(gene: str) -> str:
    """A file-name-safe form of a gene symbol."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", gene)


def write_tsv(table: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


def align_to_model_peaks(atac, model_peaks: pd.DataFrame, path) -> sp.csr_matrix:
    """The binary ATAC matrix with its columns in the model's peak order (the model's input layout)."""
    missing = model_peaks.index.difference(atac.var_names)
    if len(missing):
        raise input_error(path, f"{len(missing)} of the model's {len(model_peaks)} peaks are absent "
                                f"(e.g. {missing[0]!r})", "give the atac.h5ad the model was trained on")
    return binarize(atac[:, model_peaks.index].X)


def sample_cells(labels: np.ndarray, max_per_type: int, seed: int) -> np.ndarray:
    """Indices of at most ``max_per_type`` cells of each type (all when 0), in the original order."""
    if max_per_type <= 0:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    keep = []
    for name in np.unique(labels):
        members = np.flatnonzero(labels == name)
        keep.append(members if len(members) <= max_per_type else rng.choice(members, max_per_type, replace=False))
    return np.sort(np.concatenate(keep))


def plot_top_peak_accessibility(matrix, top_peaks, labels, cell_type, gene, path: Path) -> None:
    """Box plot of the mean accessibility of the top IG peaks per cell, by cell type (Fig. 5B)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_cell = np.asarray(matrix[:, top_peaks].mean(axis=1)).ravel()
    types = sorted(set(labels), key=lambda name: (name != cell_type, name))
    fig, ax = plt.subplots(figsize=(max(4, 0.5 * len(types) + 2), 3.5))
    ax.boxplot([per_cell[labels == name] for name in types], showfliers=False)
    ax.set_xticks(range(1, len(types) + 1), types, rotation=60, ha="right")
    ax.set_ylabel(f"mean accessibility of top {len(top_peaks)} IG peaks")
    ax.set_title(f"{gene}: top IG peaks, {cell_type} first")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def observed_cell_types(rna, genes: list[str], labels_key: str = "cell_type") -> dict[str, str]:
    """For each gene of ``rna``, the cell type with the highest mean observed expression."""
    found = [g for g in genes if g in set(rna.var_names)]
    if not found or labels_key not in rna.obs:
        return {}
    expression = pd.DataFrame(sp.csr_matrix(rna[:, found].X).toarray(), columns=found)
    means = expression.groupby(rna.obs[labels_key].astype(str).to_numpy()).mean()
    return {gene: str(means[gene].idxmax()) for gene in found}


def perturb_genes(model, atac, genes: list[str], tss: pd.DataFrame | None, outdir: Path, *,
                  labels_key: str = "cell_type", steps: int = 50, method: str = "gausslegendre",
                  top_k: int = 20, batch_size: int = 64, device: str = "cpu", max_cells_per_type: int = 500,
                  seed: int = 0, atac_path="atac.h5ad", gene_cell_types: dict[str, str] | None = None) -> pd.DataFrame:
    """Run IG for each gene; write ``<gene>_ig_peaks.tsv``, ``<gene>_ig_by_cell_type.tsv``, a PNG per gene
    and return the summary (one row per gene, failures included with their reason).

    The gene's own cell type (where its peaks are ranked and tested) is ``gene_cell_types[gene]`` when
    given (e.g. the type with the highest observed expression), else the type with the highest translated
    expression."""
    outdir = Path(outdir)
    if labels_key not in atac.obs:
        raise input_error(atac_path, f"obs has no column {labels_key!r}", "give --labels-key")
    peaks = model.peaks
    matrix = align_to_model_peaks(atac, peaks, atac_path)
    labels_all = atac.obs[labels_key].astype(str).to_numpy()
    cells = sample_cells(labels_all, max_cells_per_type, seed)
    matrix, labels = matrix[cells], labels_all[cells]
    gene_index = {name: i for i, name in enumerate(model.genes.index)}
    tss_lookup = tss_by_gene(tss) if tss is not None else {}
    torch_device = resolve_device(device)
    rows = []
    for gene in tracked(genes, "integrated gradients"):
        row = {"gene": gene, "status": "ok"}
        if gene not in gene_index:
            row["status"] = "error: gene not in the model (not among its training genes)"
            log.error("%s: not among the model's %d genes; skipped", gene, len(gene_index))
            rows.append(row)
            continue
        result = gene_attribution(model.atac_to_rna_torch, matrix, labels, gene, gene_index[gene], steps=steps,
                                  method=method, batch_size=batch_size, device=torch_device)
        distances = None
        if gene in tss_lookup:
            distances = distance_to_tss(peaks["chrom"].to_numpy(), peaks["start"].to_numpy(),
                                        peaks["end"].to_numpy(), tss_lookup[gene])
        elif tss is not None:
            row["status"] = "ok; no TSS in the annotation, distances left empty"
            log.warning("%s: no TSS in the annotation; distances to the TSS left empty", gene)
        cell_type = (gene_cell_types or {}).get(gene)
        if cell_type not in result.cell_types:
            cell_type = result.top_cell_type
        table = ranked_peaks(result, peaks, distances, top_k, cell_type)
        write_tsv(table, outdir / f"{safe_name(gene)}_ig_peaks.tsv")
        by_type = []
        for i, name in enumerate(result.cell_types):
            order = np.argsort(-result.mean_attribution[i], kind="stable")[:top_k]
            by_type.append(pd.DataFrame({"cell_type": name, "rank": np.arange(1, len(order) + 1),
                                         "peak": peaks.index.to_numpy()[order],
                                         "score": result.mean_attribution[i][order],
                                         "mean_translated_expression": result.mean_output_by_type[i]}))
        write_tsv(pd.concat(by_type), outdir / f"{safe_name(gene)}_ig_by_cell_type.tsv")
        top = np.flatnonzero(peaks.index.isin(table["peak"]))
        in_type = labels == cell_type
        test = top_peak_accessibility_test(matrix, top, in_type)
        plot_top_peak_accessibility(matrix, top, labels, cell_type, gene,
                                    outdir / f"{safe_name(gene)}_ig_top_peaks_accessibility.png")
        row.update({
            "cell_type": cell_type, "translated_top_cell_type": result.top_cell_type, "n_cells": matrix.shape[0], "steps": steps, "method": method,
            "device": str(torch_device), "seconds": round(result.seconds, 3),
            "completeness_mean_relative_gap": float(np.mean(result.relative_gap)),
            "completeness_max_relative_gap": float(np.max(result.relative_gap)),
            "completeness_mean_absolute_gap": float(np.mean(result.absolute_gap)),
            "mean_abs_output_change": float(np.mean(np.abs(result.cell_output - result.baseline_output))),
            "top_k": len(top), "mean_top_accessibility_in_type": test["mean_in_type"],
            "mean_top_accessibility_other_types": test["mean_other_types"],
            "t_statistic": test["t_statistic"], "p_value": test["p_value"],
            "top_peak": table["peak"].iloc[0], "top_peak_distance_to_tss": table["distance_to_tss"].iloc[0],
        })
        print(f"{gene}: integrated gradients over {matrix.shape[0]} cells x {steps} steps x {matrix.shape[1]} peaks "
              f"on {torch_device}: {result.seconds:.2f} s; completeness gap {np.mean(result.relative_gap):.2e} "
              f"(mean relative)", flush=True)
        rows.append(row)
    summary = pd.DataFrame(rows)
    write_tsv(summary, outdir / "ig_summary.tsv")
    return summary
