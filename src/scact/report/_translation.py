"""Translation section: ROC curves (all cells, per type; paper Fig. 4A), observed vs translated accessibility
per type (Fig. 4B), marker genes observed vs translated (Fig. 3), translation metrics with baselines."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from scact.evaluation.per_type import (
    accessibility_per_type, cell_types, expression_per_type, mean_difference_markers, roc_area, roc_curves_per_type)
from scact.report._document import Note, Section, Writer
from scact.report._inputs import Results, open_backed, read_table
from scact.report._metrics import metric_table, pairing_note, pairing_of, read_metrics
from scact.report._plots import category_colours, plt, point_style

log = logging.getLogger(__name__)


def _open_translation(path):
    """rna_to_atac.h5ad through the one reader of translations (whatever form it stored), or None."""
    from scact.errors import ScactInputError
    from scact.io.translated import TranslatedAccessibility

    try:
        return TranslatedAccessibility(path)
    except ScactInputError as err:
        log.warning("%s", err)
        return None


def _roc_figure(writer, roc: pd.DataFrame):
    by_type = "cell_type" in roc
    groups = list(dict.fromkeys(roc["cell_type"].astype(str))) if by_type else ["all cells"]
    cols = min(4, len(groups))
    rows = -(-len(groups) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.8 * cols + 1.5, 3.6 * rows), squeeze=False)
    methods = list(dict.fromkeys(roc["method"].astype(str))) if "method" in roc else ["scACT"]
    colours = category_colours(methods)
    for ax, group in zip(axes.ravel(), groups):
        part = roc[roc["cell_type"].astype(str) == group] if by_type else roc
        for method in methods:
            curve = part[part["method"].astype(str) == method] if "method" in part else part
            if curve.empty:
                continue
            curve = curve.sort_values(["fpr", "tpr"])
            ax.plot(curve["fpr"], curve["tpr"], color=colours[method], lw=1.6,
                    label=f"{method} (AUROC {roc_area(curve):.3f})")
        ax.plot([0, 1], [0, 1], color="0.7", ls=":", lw=1)
        ax.set_title(group)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_aspect("equal")
        ax.legend(loc="lower right", frameon=False, fontsize=8)
    for ax in axes.ravel()[len(groups):]:
        fig.delaxes(ax)
    fig.tight_layout()
    name = "translation_roc_per_type" if by_type else "translation_roc"
    title = "RNA->ATAC ROC per cell type" if by_type else "RNA->ATAC ROC, all peaks and cells"
    return writer.figure(fig, name, title, roc, "Translated peak probabilities scored against the observed "
                                                 "accessibility of the paired cell (paper Fig. 4A); held-out "
                                                 "cells only when the run held cells out of training.")


def _accessibility_figure(writer, translated, atac):
    """Mean observed vs mean translated accessibility per peak, per cell type (Fig. 4B); no pairing needed."""
    summary = accessibility_per_type(translated, atac)
    if summary is None:
        return None
    types, observed, predicted, correlations = summary
    types = types[:12]
    cols = min(4, len(types))
    rows = -(-len(types) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.5 * rows), squeeze=False)
    frames = []
    for i, (ax, cell_type) in enumerate(zip(axes.ravel(), types)):
        x, y, r = observed[i], predicted[i], correlations[i]
        ax.scatter(x, y, color="#23395d", **point_style(len(x)))
        ax.plot([0, 1], [0, 1], color="0.6", ls=":", lw=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_title(f"{cell_type} (r = {r:.2f})")
        ax.set_xlabel("observed: fraction of cells open")
        ax.set_ylabel("translated: mean probability")
        frames.append(pd.DataFrame({"cell_type": cell_type, "peak": atac.var_names, "observed": x, "translated": y}))
    for ax in axes.ravel()[len(types):]:
        fig.delaxes(ax)
    fig.tight_layout()
    return writer.figure(fig, "translation_accessibility_per_type", "Observed vs translated accessibility per peak",
                         pd.concat(frames), "One point per peak: share of the type's ATAC cells where it is open vs "
                                            "mean translated probability over the type's RNA cells (paper Fig. 4B).")


def _marker_heatmap(writer, rna, atac_to_rna):
    """Marker genes' mean expression per cell type, observed RNA vs translated from ATAC (Fig. 3)."""
    r_labels, a_labels = cell_types(rna), cell_types(atac_to_rna)
    if r_labels is None or a_labels is None:
        return None
    genes = [g for g in mean_difference_markers(rna, r_labels, per_type=2, limit=16) if g in atac_to_rna.var_names]
    types = [t for t in pd.Series(r_labels).value_counts().index if (a_labels == t).any()]
    if not genes or not types:
        return None
    observed, translated = expression_per_type(rna, atac_to_rna, genes, types)
    scale = np.maximum(np.maximum(observed.max(0), translated.max(0)), 1e-9)
    fig, axes = plt.subplots(1, 2, figsize=(2 + 0.42 * len(genes) * 2 + 1.5, 1.2 + 0.42 * len(types)), sharey=True)
    for ax, values, title in ((axes[0], observed, "observed (RNA cells)"), (axes[1], translated, "translated (ATAC cells)")):
        image = ax.imshow(values / scale, cmap="Reds", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(genes)), genes, rotation=90)
        ax.set_yticks(range(len(types)), types)
        ax.set_title(title)
    fig.colorbar(image, ax=axes.tolist(), shrink=0.9, label="mean expression / gene max")
    table = pd.concat([pd.DataFrame({"cell_type": np.repeat(types, len(genes)), "gene": np.tile(genes, len(types)),
                                     "source": source, "mean_expression": values.ravel()})
                       for source, values in (("observed", observed), ("translated", translated))])
    return writer.figure(fig, "translation_marker_genes", "Marker genes by cell type: observed vs translated",
                         table, "Mean log expression per cell type, scaled to each gene's maximum over both panels "
                                "(paper Fig. 3).")


def translation_section(results: Results, writer: Writer) -> Section:
    section = Section("translation", "Translation", "RNA->ATAC and ATAC->RNA translations (paper Figs. 3, 4).")
    metrics = read_metrics(results)
    pairing = pairing_of(metrics)
    unpaired = pairing is not None and pairing[0] == "unpaired"
    note = pairing_note(metrics)
    if note:
        section.blocks.append(note)
    roc_path = results.first("roc_curves.tsv")
    roc = read_table(roc_path) if roc_path else None
    if roc is not None and ({"fpr", "tpr"} - set(roc) or roc.empty):
        roc = None
    if roc is not None:
        section.blocks.append(_roc_figure(writer, roc))
    r2a_path, atac_path = results.first("rna_to_atac.h5ad"), results.first("atac.h5ad")
    atac = open_backed(atac_path) if atac_path else None
    translated = _open_translation(r2a_path) if r2a_path and atac is not None else None
    if r2a_path and atac is not None and not unpaired and (roc is None or "cell_type" not in roc):
        roc_per_type = roc_curves_per_type(translated, atac) if translated is not None else None
        if roc_per_type is not None:
            section.blocks.append(_roc_figure(writer, roc_per_type))
        elif roc is None:
            section.blocks.append(Note("no ground truth: no cell is named alike in both modalities, so ROC "
                                       "curves need a paired dataset", "missing"))
    if translated is not None:
        figure = _accessibility_figure(writer, translated, atac)
        translated.close()
        if figure:
            section.blocks.append(figure)
    rna_path, a2r_path = results.first("rna.h5ad"), results.first("atac_to_rna.h5ad")
    if rna_path and a2r_path:
        rna, a2r = open_backed(rna_path), open_backed(a2r_path)
        figure = _marker_heatmap(writer, rna, a2r) if rna is not None and a2r is not None else None
        if figure:
            section.blocks.append(figure)
    if not r2a_path and not a2r_path:
        section.missing("not run: no rna_to_atac.h5ad / atac_to_rna.h5ad found (translate step not run)")
    table = metric_table(writer, metrics, ("rna_to_atac", "atac_to_rna"), "translation_metrics",
                         "Translation metrics with baselines")
    if table is None and unpaired:
        table = Note("Translation scores against the truth: not available (no paired cells). The translations "
                     "above are still written (translation/); score them on data with some shared cells.",
                     "missing")
    section.blocks.append(table or Note("no ground truth: pairing unknown or evaluate not run (no metrics.tsv "
                                        "with translation metrics)", "missing"))
    per_type_path = results.first("metrics_per_type.tsv")
    per_type = read_table(per_type_path) if per_type_path else None
    if per_type is not None and {"cell_type", "metric", "value"} <= set(per_type):
        index = [c for c in ("task", "cell_type") if c in per_type]
        columns = [c for c in ("method", "metric") if c in per_type]
        wide = per_type.pivot_table(index=index, columns=columns, values="value", aggfunc="first")
        wide.columns = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in wide.columns]
        section.blocks.append(writer.table(wide.reset_index(), "translation_metrics_per_type",
                                           "Translation metrics per cell type"))
    return section
