"""QC section: cells kept and removed per reason and sample, UMI/fragment histograms, TSS vs fragments,
doublet scores, peaks per chromosome, cell-type reconciliation."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from scact.report._document import Note, Section, Writer
from scact.report._inputs import Results, open_backed, provenance_params, read_table
from scact.report._plots import chromosome_key, log_bins, plt


def _sample_of(path, suffix: str) -> str:
    return path.name[: -len(suffix)] if path.name.endswith(suffix) else path.stem


def qc_counts(results: Results) -> pd.DataFrame:
    """Long table modality, sample, reason, n_cells, rule from every *_rna_qc.tsv and *_atac_qc.tsv."""
    frames = []
    for modality in ("rna", "atac"):
        for path in results.glob(f"*_{modality}_qc.tsv"):
            table = read_table(path)
            if table is None or "reason" not in table:
                continue
            count = "n_cells" if "n_cells" in table else "n_barcodes" if "n_barcodes" in table else None
            if count is None:
                continue
            sample = table["sample"].astype(str) if "sample" in table else _sample_of(path, f"_{modality}_qc.tsv")
            frames.append(pd.DataFrame({"modality": modality, "sample": sample, "reason": table["reason"].astype(str),
                                        "n_cells": pd.to_numeric(table[count], errors="coerce").fillna(0).astype(int),
                                        "rule": table["rule"].fillna("") if "rule" in table else ""}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _removed_figure(writer: Writer, counts: pd.DataFrame):
    removed = counts[~counts["reason"].isin(["total", "input_barcodes"])]
    wide = removed.pivot_table(index=["modality", "sample"], columns="reason", values="n_cells", aggfunc="sum",
                               fill_value=0)
    reasons = [r for r in wide.columns if r != "kept"]
    order = (["kept"] if "kept" in wide else []) + reasons
    wide = wide[order]
    labels = [f"{s} ({m.upper()})" for m, s in wide.index]
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(wide) + 1.4))
    left = np.zeros(len(wide))
    colours = {"kept": "#4c9a2a"}
    palette = plt.get_cmap("Set2")
    for i, reason in enumerate(order):
        values = wide[reason].to_numpy()
        ax.barh(labels, values, left=left, label=reason.replace("_", " "),
                color=colours.get(reason, palette(i % 8)), edgecolor="white")
        left += values
    ax.invert_yaxis()
    ax.set_xlabel("cells (barcodes)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, title="outcome")
    table = wide.reset_index()
    table.columns.name = None
    return writer.figure(fig, "qc_cells_by_reason", "Cells kept and removed, by reason and sample", table,
                         "Each removed cell is counted once, under the first QC test it fails.")


def _qc_h5ads(results: Results, modality: str):
    """(sample, backed AnnData) of every QC'd h5ad of the modality; falls back to the training input."""
    found = [(_sample_of(p, f"_{modality}_qc.h5ad"), p) for p in results.glob(f"*_{modality}_qc.h5ad")]
    if not found and results.first(f"{modality}.h5ad"):
        found = [("all samples", results.first(f"{modality}.h5ad"))]
    out = []
    for sample, path in found:
        adata = open_backed(path)
        if adata is not None:
            out.append((sample, adata))
    return out


def _histograms(writer, samples, column, name, title, xlabel, threshold=None, log=True, caption=""):
    data = [(s, a.obs[column].to_numpy(dtype=float)) for s, a in samples if column in a.obs and a.n_obs]
    if not data:
        return None
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for sample, values in data:
        ax.hist(values, bins=log_bins(values) if log else 50, histtype="step", lw=1.6, label=f"{sample} (n={len(values):,})")
    if log:
        ax.set_xscale("log")
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cells")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    table = pd.concat([pd.DataFrame({"sample": s, column: v}) for s, v in data], ignore_index=True)
    return writer.figure(fig, name, title, table, caption)


def _tss_scatter(writer, samples, min_fragments, min_tss):
    data = [(s, a.obs) for s, a in samples if {"n_fragments", "tss_enrichment"} <= set(a.obs) and a.n_obs]
    if not data:
        return None
    cols = min(len(data), 3)
    rows = -(-len(data) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.8 * rows), squeeze=False)
    for ax, (sample, obs) in zip(axes.ravel(), data):
        x, y = obs["n_fragments"].to_numpy(float), obs["tss_enrichment"].to_numpy(float)
        n = len(x)
        ax.scatter(x, y, s=float(np.clip(2000 / n, 1, 16)), alpha=float(np.clip(40 / np.sqrt(n), 0.2, 0.8)),
                   color="#23395d", linewidths=0, rasterized=n > 5000)
        ax.set_xscale("log")
        if min_fragments is not None:
            ax.axvline(min_fragments, color="#d62728", ls="--", lw=1)
        if min_tss is not None:
            ax.axhline(min_tss, color="#d62728", ls="--", lw=1)
        ax.set_title(f"{sample} (n={n:,})")
        ax.set_xlabel("unique fragments")
        ax.set_ylabel("TSS enrichment")
    for ax in axes.ravel()[len(data):]:
        fig.delaxes(ax)
    fig.tight_layout()
    table = pd.concat([pd.DataFrame({"sample": s, "n_fragments": o["n_fragments"].to_numpy(),
                                     "tss_enrichment": o["tss_enrichment"].to_numpy()}) for s, o in data])
    caption = "Dashed lines: QC thresholds"
    caption += (f" (fragments >= {min_fragments:g}, TSS enrichment >= {min_tss:g})" if min_fragments is not None
                and min_tss is not None else "")
    return writer.figure(fig, "qc_tss_vs_fragments", "ATAC: TSS enrichment vs unique fragments", table,
                         caption + ". Points are the cells kept by QC.")


def _doublets(writer, rna_samples, atac_samples):
    panels = []
    for sample, a in rna_samples:
        if "doublet_score" in a.obs and a.obs["doublet_score"].notna().any():
            panels.append(("RNA", sample, "DoubletDetection score", a.obs["doublet_score"].to_numpy(float)))
    for sample, a in atac_samples:
        if "doublet_qvalue" in a.obs and a.obs["doublet_qvalue"].notna().any():
            q = np.clip(a.obs["doublet_qvalue"].to_numpy(float), 1e-300, 1)
            panels.append(("ATAC", sample, "AMULET -log10 q-value", -np.log10(q)))
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    for ax, (modality, sample, label, values) in zip(axes[0], panels):
        values = values[np.isfinite(values)]
        ax.hist(values, bins=40, color="#7a5195")
        ax.set_title(f"{modality}: {sample}")
        ax.set_xlabel(label)
        ax.set_ylabel("cells")
    fig.tight_layout()
    table = pd.concat([pd.DataFrame({"modality": m, "sample": s, "score": label, "value": v})
                       for m, s, label, v in panels], ignore_index=True)
    return writer.figure(fig, "qc_doublet_scores", "Doublet scores of the kept cells", table,
                         "Cells called doublets were removed before these distributions were drawn.")


def _peaks(writer, results):
    path = results.first("peaks.bed")
    if path is None:
        return None
    try:
        peaks = pd.read_csv(path, sep="\t", header=None, usecols=[0, 1, 2], comment="#")
    except Exception:
        return Note(f"{path.name}: not a readable BED file", "warning")
    if peaks.empty:
        return Note("peaks.bed holds no peaks", "warning")
    counts = peaks[0].astype(str).value_counts()
    counts = counts.loc[sorted(counts.index, key=chromosome_key)]
    fig, ax = plt.subplots(figsize=(max(6, 0.32 * len(counts) + 2), 3.4))
    ax.bar(range(len(counts)), counts.to_numpy(), color="#23395d")
    ax.set_xticks(range(len(counts)), [re.sub("^chr", "", c) for c in counts.index],
                  rotation=90 if len(counts) > 12 else 0)
    ax.set_xlabel("chromosome")
    ax.set_ylabel("peaks")
    ax.set_title(f"{len(peaks):,} peaks")
    table = pd.DataFrame({"chrom": counts.index, "n_peaks": counts.to_numpy()})
    return writer.figure(fig, "qc_peaks_per_chromosome", "Peaks called per chromosome", table)


def _input_notes(rna, atac) -> list[Note]:
    """What QC recorded about the inputs themselves: log-normalised RNA (``--rna_normalised``), fragments on
    chromosomes the annotation lacks."""
    notes = []
    for sample, adata in rna:
        recorded = dict(adata.uns.get("scact", {}))
        if any(str(provenance_params(recorded, step).get("rna_normalised")) == "True" for step in ("rna_qc", "rna_process")):
            notes.append(Note(f"RNA sample {sample}: the input held log-normalised values (--rna_normalised true): "
                              "count thresholds, doublet removal and normalisation were skipped; UMIs per cell are "
                              "estimated from the values.", "warning"))
    for sample, adata in atac:
        params = provenance_params(dict(adata.uns.get("scact", {})), "atac_qc")
        if params.get("chromosomes_outside_annotation"):
            share = float(params.get("fragments_outside_annotation", 0))
            notes.append(Note(f"ATAC sample {sample}: {share:.0%} of the fragments lie on chromosomes the annotation "
                              f"lacks ({params['chromosomes_outside_annotation']}); they give no TSS enrichment, gene "
                              "activity or peaks. Use an annotation of the whole genome.", "warning"))
    return notes


def qc_section(results: Results, writer: Writer) -> Section:
    section = Section("qc", "Quality control",
                      "Cells removed per reason; the distributions below are those of the cells kept.")
    counts = qc_counts(results)
    if len(counts):
        section.blocks.append(_removed_figure(writer, counts))
        section.blocks.append(writer.table(counts, "qc_cells_removed", "QC outcome per sample and reason"))
    else:
        section.missing("no QC tables (*_rna_qc.tsv, *_atac_qc.tsv) found: QC not run")
    rna, atac = _qc_h5ads(results, "rna"), _qc_h5ads(results, "atac")
    section.blocks += _input_notes(rna, atac)
    rna_params = next((provenance_params(dict(a.uns.get("scact", {})), "rna_qc") for _, a in rna), {})
    atac_params = next((provenance_params(dict(a.uns.get("scact", {})), "atac_qc") for _, a in atac), {})
    min_umis, min_fragments = rna_params.get("min_umis"), atac_params.get("min_fragments")
    min_tss = atac_params.get("min_tss_enrichment")
    blocks = [
        _histograms(writer, rna, "n_counts", "qc_rna_umis", "RNA: UMIs per cell", "UMIs per cell (log scale)",
                    min_umis),
        _histograms(writer, atac, "n_fragments", "qc_atac_fragments", "ATAC: unique fragments per cell",
                    "unique fragments per cell (log scale)", min_fragments),
        _tss_scatter(writer, atac, min_fragments, min_tss),
        _doublets(writer, rna, atac),
        _peaks(writer, results),
    ]
    section.blocks += [b for b in blocks if b is not None]
    if not rna and not atac:
        section.missing("no per-cell QC metrics (*_rna_qc.h5ad, *_atac_qc.h5ad, rna.h5ad, atac.h5ad) found")
    reconciliation = results.first("label_reconciliation.tsv")
    table = read_table(reconciliation) if reconciliation else None
    if table is not None:
        section.blocks.append(writer.table(table, "label_reconciliation", "Cell-type labels shared by both modalities"))
    return section
