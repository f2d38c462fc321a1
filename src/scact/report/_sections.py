"""Training, alignment, translation and perturbation sections (paper Figs. 2-5) from the files found."""
from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.report._document import Note, Section, Writer
from scact.report._inputs import Results, open_backed, read_table
from scact.report._plots import MODALITY_COLOURS, category_colours, legend_outside, plt, point_style

log = logging.getLogger(__name__)

#: Cells read per matrix for the per-type summaries (bounded cost on 100k-peak data).
MAX_CELLS = 3000


# ------------------------------------------------------------------------------------------- training
def _loss_figure(writer: Writer, history: pd.DataFrame):
    terms = sorted({c.split("_", 1)[1] for c in history.columns if c.startswith(("train_", "val_"))})
    terms = [t for t in terms if history.filter(like=t).notna().any().any()]
    if not terms or "epoch" not in history:
        return None
    cols = min(4, len(terms))
    rows = -(-len(terms) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    boundaries = []
    if "phase" in history:
        change = history["phase"].ne(history["phase"].shift()) & history.index.to_series().gt(0)
        boundaries = history.loc[change.to_numpy(), "epoch"].tolist()
    for ax, term in zip(axes.ravel(), terms):
        for split, style in (("train", "-"), ("val", "--")):
            column = f"{split}_{term}"
            if column in history and history[column].notna().any():
                rows_ok = history[column].notna()
                ax.plot(history.loc[rows_ok, "epoch"], history.loc[rows_ok, column], style, lw=1.5,
                        label="validation" if split == "val" else "training", marker="." if rows_ok.sum() < 30 else None)
        for b in boundaries:
            ax.axvline(b - 0.5, color="0.6", lw=0.8, ls=":")
        ax.set_title(term.replace("_", " "))
        ax.set_xlabel("epoch")
    for ax in axes.ravel()[len(terms):]:
        fig.delaxes(ax)
    fig.tight_layout()
    handles = {label: h for ax in axes.ravel() for h, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    caption = "Solid: training, dashed: validation."
    if boundaries:
        caption += " Dotted line: autoencoder phase ends, mapping + discriminator phase begins."
    return writer.figure(fig, "training_loss_curves", "Loss curves of every term", history, caption)


def training_section(results: Results, writer: Writer) -> Section:
    section = Section("training", "Training", "Autoencoders first, then mapping networks and per-type discriminators.")
    path = results.first("training_history.csv")
    history = read_table(path) if path else None
    if history is not None:
        figure = _loss_figure(writer, history)
        if figure:
            section.blocks.append(figure)
    else:
        section.missing("not run: no training_history.csv found")
    model_dir = results.model_dir()
    if model_dir is not None:
        try:
            summary = json.loads((model_dir / "model.json").read_text())
        except (OSError, json.JSONDecodeError) as err:
            section.blocks.append(Note(f"model.json unreadable: {err}", "warning"))
            return section
        rows = [(k, v) for k, v in (summary.get("hyperparameters") or {}).items()]
        rows += [(f"{k} key", v) for k, v in (summary.get("keys") or {}).items()]
        for key in ("n_genes", "n_peaks", "label_names", "shared_label_names", "batches", "label_free"):
            if key in summary:
                rows.append((key, summary[key]))
        frame = pd.DataFrame({"setting": [r[0] for r in rows],
                              "value": [", ".join(map(str, v)) if isinstance(v, list) else str(v) for _, v in rows]})
        section.blocks.append(writer.table(frame, "training_hyperparameters", "Model hyperparameters",
                                           f"From {model_dir.name}/model.json."))
    elif history is not None:
        section.blocks.append(Note("no model/model.json found: hyperparameters unknown", "missing"))
    return section


# ------------------------------------------------------------------------------------------ helpers
def _metrics(results: Results) -> pd.DataFrame | None:
    path = results.first("metrics.tsv")
    table = read_table(path) if path else None
    if table is None or not {"method", "metric", "value"} <= set(table):
        return None
    return table


def _pairing(metrics: pd.DataFrame | None) -> tuple[str, int, int, int, int] | None:
    """(case, RNA cells, ATAC cells, cells named alike in both, scored pairs) from evaluate's ``pairing/*``
    rows of metrics.tsv."""
    from scact.evaluation.evaluate import pairing_case

    if metrics is None:
        return None
    rows = metrics[metrics["metric"].astype(str).str.startswith("pairing/")]
    counts = {str(m).split("/", 1)[1]: int(v) for m, v in zip(rows["metric"], rows["value"]) if pd.notna(v)}
    if not {"rna_cells", "atac_cells", "paired_cells"} <= set(counts):
        return None
    n_rna, n_atac, n_paired = counts["rna_cells"], counts["atac_cells"], counts["paired_cells"]
    n_scored = counts.get("scored_pairs", n_paired)
    return pairing_case(n_paired, n_rna, n_atac), n_rna, n_atac, n_paired, n_scored


def _pairing_note(metrics: pd.DataFrame | None) -> Note | None:
    """Which case the data are: unpaired, partly paired or paired, and what is scored on which cells."""
    pairing = _pairing(metrics)
    if pairing is None:
        return None
    case, n_rna, n_atac, n_paired, n_scored = pairing
    if case == "unpaired":
        return Note(f"Unpaired data: {n_rna:,} RNA cells and {n_atac:,} ATAC cells, no cell named alike in both "
                    "modalities. Alignment is scored by pairing-free metrics on all cells; translation scores "
                    "against the truth are not available (no paired cells).")
    if n_scored < n_paired:
        return Note(f"{case.capitalize()} data: {n_paired:,} cells are named alike in both modalities (of "
                    f"{n_rna:,} RNA and {n_atac:,} ATAC cells). {n_scored:,} of them were held out from training "
                    "(neither modality trained) and are the only cells scored; every reference the baselines "
                    "average or search holds training cells only. The pairing is never used in training.")
    return Note(f"{case.capitalize()} data: {n_paired:,} cells are named alike in both modalities (of {n_rna:,} "
                f"RNA and {n_atac:,} ATAC cells). Translations are scored on these {n_paired:,} paired cells "
                "in-sample (no held-out split); alignment metrics other than FOSCTTM use all cells. The pairing "
                "is never used in training.")


def _metric_table(writer, metrics, prefixes, name, title) -> object | None:
    if metrics is None:
        return None
    rows = metrics[metrics["metric"].astype(str).str.startswith(prefixes)].copy()
    if rows.empty:
        return None
    index = ["method"] + (["scope"] if "scope" in rows and rows["scope"].notna().any() else [])
    wide = rows.pivot_table(index="metric", columns=index, values="value", aggfunc="first", sort=False)
    wide.columns = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in wide.columns]
    wide = wide.reset_index()
    return writer.table(wide, name, title, "One column per method (scACT and the baselines); "
                                           "higher is better except FOSCTTM and distances.")


def _rows_dense(matrix, rows: np.ndarray) -> np.ndarray:
    block = matrix[np.sort(rows)]
    if sp.issparse(block):
        block = block.toarray()
    return np.asarray(block, dtype=np.float32)


def _subsample(n: int, limit: int = MAX_CELLS, seed: int = 0) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def _open_translation(path):
    """rna_to_atac.h5ad through the one reader of translations (whatever form it stored), or None."""
    from scact.errors import ScactInputError
    from scact.io.translated import TranslatedAccessibility

    try:
        return TranslatedAccessibility(path)
    except ScactInputError as err:
        log.warning("%s", err)
        return None


def _labels(adata, key="cell_type"):
    return adata.obs[key].astype(str).to_numpy() if key in adata.obs else None


def _marker_genes(rna, labels, per_type: int = 2, limit: int = 12) -> list[str]:
    """Marker genes of the observed RNA (:func:`scact.preprocessing.labels.marker_genes`) on at most
    ``MAX_CELLS`` cells."""
    from scact.preprocessing.labels import marker_genes

    rows = _subsample(rna.n_obs)
    return marker_genes(_rows_dense(rna.X, rows), rna.var_names, labels[rows], per_type, limit)


# ------------------------------------------------------------------------------------------ alignment
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
        labels = _labels(rna) if rna is not None else None
        if rna is not None and labels is not None:
            genes = _marker_genes(rna, labels, per_type=1, limit=4)
            figure = _marker_umap_figure(writer, joint, keys[0], rna, atac_to_rna, genes)
            if figure:
                section.blocks.append(figure)
    metrics = _metrics(results)
    note = _pairing_note(metrics)
    if note:
        section.blocks.append(note)
    table = _metric_table(writer, metrics, ("alignment",), "alignment_metrics", "Alignment metrics with baselines")
    section.blocks.append(table or Note("no alignment metrics: evaluate not run (no metrics.tsv with alignment "
                                        "metrics)", "missing"))
    return section


# ---------------------------------------------------------------------------------------- translation
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
            auc = float(np.trapezoid(curve["tpr"], curve["fpr"]))
            ax.plot(curve["fpr"], curve["tpr"], color=colours[method], lw=1.6, label=f"{method} (AUROC {auc:.3f})")
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


def _per_type_roc(rna_to_atac_path, atac) -> pd.DataFrame | None:
    """ROC curves per cell type on the paired cells (same name in both modalities; the held-out ones when
    the inputs carry a held-out split, as the evaluation scores them), subsampled."""
    from sklearn.metrics import roc_curve

    from scact.preprocessing.split import HELDOUT, stored_roles

    translated = _open_translation(rna_to_atac_path)
    labels = _labels(atac)
    if translated is None or labels is None:
        return None
    common = pd.Index(translated.obs_names).intersection(atac.obs_names)
    roles = stored_roles(atac)
    if roles is not None:
        common = common.intersection(pd.Index(atac.obs_names)[roles == HELDOUT])
    if len(common) < 10 or translated.n_vars != atac.n_vars:
        return None
    common = common[_subsample(len(common), 1000)]
    t_rows = pd.Index(translated.obs_names).get_indexer(common)
    a_rows = pd.Index(atac.obs_names).get_indexer(common)
    probability = translated.read_rows(t_rows)  # 1,000 cells at most
    observed = _rows_dense(atac.X, a_rows)[np.argsort(np.argsort(a_rows))] > 0
    cell_labels = labels[a_rows]
    frames = []
    rng = np.random.default_rng(0)
    for cell_type in sorted(set(cell_labels)):
        inside = cell_labels == cell_type
        y, p = observed[inside].ravel(), probability[inside].ravel()
        if len(y) > 2_000_000:
            keep = rng.choice(len(y), 2_000_000, replace=False)
            y, p = y[keep], p[keep]
        if y.all() or not y.any():
            continue
        fpr, tpr, _ = roc_curve(y, p, drop_intermediate=True)
        step = max(1, len(fpr) // 400)
        frames.append(pd.DataFrame({"method": "scACT", "cell_type": cell_type, "fpr": fpr[::step], "tpr": tpr[::step]}))
    return pd.concat(frames, ignore_index=True) if frames else None


def _group_means(matrix_rows, labels, types):
    """Mean row per type; NaN for a type with no cell among the rows (an empty group of a subsample)."""
    return np.vstack([matrix_rows[labels == t].mean(0) if (labels == t).any()
                      else np.full(matrix_rows.shape[1], np.nan) for t in types])


def _streamed_group_means(translated, rows, labels, types) -> np.ndarray:
    """Mean translated probability per type over ``rows``, read block by block."""
    sums = np.zeros((len(types), translated.n_vars))
    codes = pd.Categorical(labels, categories=types).codes
    for start, stop, block in translated.blocks(rows)():
        inside = codes[start:stop] >= 0
        np.add.at(sums, codes[start:stop][inside], block[inside])
    return sums / np.maximum(np.bincount(codes[codes >= 0], minlength=len(types)), 1)[:, None]


def _accessibility_figure(writer, rna_to_atac_path, atac):
    """Mean observed vs mean translated accessibility per peak, per cell type (Fig. 4B); no pairing needed."""
    translated = _open_translation(rna_to_atac_path)
    if translated is None or "cell_type" not in translated.obs or "cell_type" not in atac.obs:
        return None
    if translated.n_vars != atac.n_vars:
        return None
    t_rows, a_rows = _subsample(translated.n_obs), _subsample(atac.n_obs)
    t_labels, a_labels = _labels(translated)[t_rows], _labels(atac)[a_rows]
    types = [t for t in pd.Series(a_labels).value_counts().index if (t_labels == t).sum() >= 3 and (a_labels == t).sum() >= 3]
    if not types:
        return None
    predicted = _streamed_group_means(translated, t_rows, t_labels, types)
    observed = _group_means(_rows_dense(atac.X, a_rows) > 0, a_labels, types)
    types = types[:12]
    cols = min(4, len(types))
    rows = -(-len(types) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.5 * rows), squeeze=False)
    frames = []
    for i, (ax, cell_type) in enumerate(zip(axes.ravel(), types)):
        x, y = observed[i], predicted[i]
        r = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else float("nan")
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
    r_labels, a_labels = _labels(rna), _labels(atac_to_rna)
    if r_labels is None or a_labels is None:
        return None
    genes = [g for g in _marker_genes(rna, r_labels, per_type=2, limit=16) if g in atac_to_rna.var_names]
    types = [t for t in pd.Series(r_labels).value_counts().index if (a_labels == t).any()]
    if not genes or not types:
        return None
    r_rows, a_rows = _subsample(rna.n_obs), _subsample(atac_to_rna.n_obs)
    observed = _group_means(_rows_dense(rna[:, genes].X, r_rows), r_labels[r_rows], types)
    translated = _group_means(_rows_dense(atac_to_rna[:, genes].X, a_rows), a_labels[a_rows], types)
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
    metrics = _metrics(results)
    pairing = _pairing(metrics)
    unpaired = pairing is not None and pairing[0] == "unpaired"
    note = _pairing_note(metrics)
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
    if r2a_path and atac is not None and not unpaired and (roc is None or "cell_type" not in roc):
        per_type = _per_type_roc(r2a_path, atac)
        if per_type is not None:
            section.blocks.append(_roc_figure(writer, per_type))
        elif roc is None:
            section.blocks.append(Note("no ground truth: no cell is named alike in both modalities, so ROC "
                                       "curves need a paired dataset", "missing"))
    if r2a_path and atac is not None:
        figure = _accessibility_figure(writer, r2a_path, atac)
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
    table = _metric_table(writer, metrics, ("rna_to_atac", "atac_to_rna"), "translation_metrics",
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


# --------------------------------------------------------------------------------------- perturbation
def _score_column(table: pd.DataFrame) -> str | None:
    for name in ("attribution", "score", "mean_attribution", "ig", "integrated_gradients"):
        if name in table:
            return name
    numeric = [c for c in table.select_dtypes("number").columns if c not in ("rank", "start", "end")]
    return numeric[0] if numeric else None


def _ig_figure(writer, gene: str, peaks: pd.DataFrame, summary_row: pd.Series | None):
    score = _score_column(peaks)
    if score is None:
        return None
    top = peaks.head(15).iloc[::-1]
    if {"chrom", "start", "end"} <= set(top):
        names = [f"{c}:{int(s):,}-{int(e):,}" for c, s, e in zip(top["chrom"], top["start"], top["end"])]
    else:
        names = top["peak"].astype(str).tolist() if "peak" in top else [str(i) for i in top.index]
    if "distance_to_tss" in top:
        names = [f"{n}  ({d / 1000:+.1f} kb)" if pd.notna(d) else n for n, d in zip(names, top["distance_to_tss"])]
    test = summary_row is not None and pd.notna(summary_row.get("mean_top_accessibility_in_type", np.nan))
    fig, axes = plt.subplots(1, 2 if test else 1, figsize=(12 if test else 8, 0.32 * len(top) + 1.6),
                             squeeze=False, gridspec_kw={"width_ratios": [3, 1]} if test else None)
    ax = axes[0, 0]
    values = top[score].to_numpy(float)
    ax.barh(names, values, color=np.where(values >= 0, "#B2182B", "#2166AC"))
    cell_type = summary_row.get("cell_type") if summary_row is not None else None
    ax.set_title(f"{gene}: top peaks by integrated gradients" + (f" in {cell_type}" if cell_type else ""))
    ax.set_xlabel(score.replace("_", " ") + " (label: distance to TSS)")
    if test:
        ax = axes[0, 1]
        inside = float(summary_row["mean_top_accessibility_in_type"])
        other = float(summary_row["mean_top_accessibility_other_types"])
        ax.bar([str(cell_type or "type"), "other types"], [inside, other], color=["#E08214", "0.6"])
        p = summary_row.get("p_value")
        ax.set_title(f"accessibility of top peaks\nWelch t-test p = {float(p):.2g}" if pd.notna(p) else
                     "accessibility of top peaks")
        ax.set_ylabel("mean accessibility")
        ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    return writer.figure(fig, f"perturbation_{gene}_ig_peaks", f"{gene}: top peaks by integrated gradients",
                         peaks, "Attribution of each peak to the gene's translated expression (baseline: all closed), "
                                "and the observed accessibility of these peaks in the gene's type vs the others "
                                "(paper Fig. 5B).")


def _link_figure(writer, links: pd.DataFrame, gene: str, top_ig: pd.DataFrame | None):
    """Arcs from the gene's TSS to each tested peak, one panel per source (paper Fig. 5C)."""
    from matplotlib.patches import Arc

    gene_links = links[links["gene"] == gene]
    if gene_links.empty:
        return None
    sources = list(dict.fromkeys(gene_links["source"].astype(str))) if "source" in gene_links else ["links"]
    fig, axes = plt.subplots(len(sources), 1, figsize=(10, 1.9 * len(sources) + 0.9), sharex=True, squeeze=False)
    tss = float(gene_links["tss"].iloc[0])
    centres_all = (gene_links["start"] + gene_links["end"]) / 2
    span = max(1.0, float(np.abs(centres_all - tss).max()))
    for ax, source in zip(axes[:, 0], sources):
        rows = gene_links[gene_links["source"].astype(str) == source] if "source" in gene_links else gene_links
        for row in rows.itertuples():
            centre = (row.start + row.end) / 2
            r = float(row.r) if pd.notna(row.r) else 0.0
            significant = bool(getattr(row, "significant", False))
            if r == 0:  # zero or undefined correlation: no arc (matplotlib divides by its height)
                continue
            ax.add_patch(Arc(((centre + tss) / 2, 0), abs(centre - tss) or 1, 2 * abs(r), theta1=0, theta2=180,
                             color="#B2182B" if r > 0 else "#2166AC", lw=1.8 if significant else 0.7,
                             alpha=1.0 if significant else 0.45))
        ax.plot((rows["start"] + rows["end"]) / 2, np.zeros(len(rows)), "|", color="0.3", ms=8)
        ax.axvline(tss, color="k", lw=1)
        if top_ig is not None and {"chrom", "start", "end"} <= set(top_ig):
            marked = top_ig[top_ig["chrom"].astype(str) == str(rows["chrom"].iloc[0])]
            centres = (marked["start"] + marked["end"]) / 2
            centres = centres[np.abs(centres - tss) <= span * 1.05]
            ax.plot(centres, np.full(len(centres), -0.1), "^", color="#E08214", ms=7)
        ax.set_ylim(-0.2, 1.05)
        ax.set_ylabel(f"{source.replace('_', ' ')}\n|r|")
        n_sig = int(rows["significant"].sum()) if "significant" in rows else 0
        ax.text(0.005, 0.92, f"{len(rows)} pairs, {n_sig} significant", transform=ax.transAxes, fontsize=8, va="top")
    axes[0, 0].set_xlim(tss - span * 1.08, tss + span * 1.08)
    axes[0, 0].set_title(f"{gene}: peak-to-gene links ({gene_links['chrom'].iloc[0]}, TSS at {int(tss):,})")
    axes[-1, 0].set_xlabel("position (bp). Thick: significant link; red: r > 0, blue: r < 0; "
                           "orange triangles: top IG peaks; black line: TSS")
    fig.tight_layout()
    return writer.figure(fig, f"perturbation_{gene}_links", f"{gene}: peak-to-gene links", gene_links,
                         "Correlation of peak accessibility and gene expression across metacells, per source "
                         "(observed pairs, RNA with translated ATAC, ATAC with translated RNA).")


def perturbation_section(results: Results, writer: Writer) -> Section:
    from scact.report._document import safe_name

    section = Section("perturbation", "Perturbation", "In-silico perturbation by integrated gradients and "
                                                      "peak-to-gene links (paper Fig. 5).")
    summary_path = results.first("ig_summary.tsv")
    summary = read_table(summary_path) if summary_path else None
    ig_files = {p.name[: -len("_ig_peaks.tsv")]: p for p in results.glob("*_ig_peaks.tsv")}
    genes = list(summary["gene"].astype(str)) if summary is not None and "gene" in summary else list(ig_files)
    if summary is not None:
        shown = [c for c in ("gene", "status", "cell_type", "n_cells", "top_peak", "top_peak_distance_to_tss",
                             "mean_top_accessibility_in_type", "mean_top_accessibility_other_types", "p_value",
                             "completeness_mean_relative_gap") if c in summary]
        section.blocks.append(writer.table(summary[shown], "perturbation_summary", "Integrated gradients per gene"))
    links_path = results.first("links.tsv")
    links = read_table(links_path) if links_path else None
    if links is not None and not {"gene", "tss", "start", "end", "r"} <= set(links):
        links = None
    if not genes and links is None:
        return section.missing("not run: no genes requested (perturb and link steps produced no output)")
    if not genes:
        section.blocks.append(Note("integrated gradients not run: no genes requested", "missing"))
    rows = summary.set_index(summary["gene"].astype(str)) if summary is not None and "gene" in summary else None
    tops = {}
    for gene in genes[:8]:
        path = ig_files.get(safe_name(gene)) or ig_files.get(gene)
        peaks = read_table(path) if path else None
        if peaks is None:
            continue
        tops[gene] = peaks
        row = rows.loc[gene] if rows is not None and gene in rows.index else None
        if isinstance(row, pd.DataFrame):
            row = row.iloc[0]
        figure = _ig_figure(writer, gene, peaks, row)
        if figure:
            section.blocks.append(figure)
    if links is None:
        section.blocks.append(Note("peak-to-gene links not run (no links.tsv)", "missing"))
        return section
    plot_genes = [g for g in genes if g in set(links["gene"].astype(str))][:6]
    if not plot_genes and "significant" in links:
        plot_genes = links[links["significant"]].groupby("gene").size().sort_values(ascending=False).index[:4].tolist()
    for gene in plot_genes:
        figure = _link_figure(writer, links, gene, tops.get(gene))
        if figure:
            section.blocks.append(figure)
    agreement_path = results.first("link_agreement.tsv")
    agreement = read_table(agreement_path) if agreement_path else None
    if agreement is not None and len(agreement):
        section.blocks.append(writer.table(agreement, "perturbation_link_agreement",
                                           "Observed vs translated links"))
    elif agreement_path:  # written with no rows: no observed links to compare with
        section.blocks.append(Note("Observed vs translated links: not available (no paired cells give observed "
                                   "links); the links of each translation are in links.tsv."))
    return section
