"""Per-cell-type views of the translations, computed on bounded subsamples for the report's figures.

:mod:`scact.evaluation.evaluate` scores every scored pair exactly and writes the tables; the figures need
other cuts of the same data (ROC curves per type, pseudobulk profiles per type, marker genes), drawn
from at most :data:`MAX_CELLS` cells per matrix so that the report's cost stays bounded on 100k-peak data.
Translated accessibility is read through :class:`scact.io.translated.TranslatedAccessibility`, whatever
form it was stored in.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.preprocessing.labels import marker_genes

#: Cells read per matrix for the per-type summaries (bounded cost on 100k-peak data).
MAX_CELLS = 3000
#: Paired cells the per-type ROC curves are drawn from, entries per type they rank, points kept per curve.
ROC_CELLS = 1000
ROC_ENTRIES = 2_000_000
ROC_POINTS = 400
#: Fewest paired cells worth drawing per-type ROC curves for.
MIN_ROC_CELLS = 10


def subsample(n: int, limit: int = MAX_CELLS, seed: int = 0) -> np.ndarray:
    """Sorted positions of at most ``limit`` of ``n`` rows, drawn with a seeded generator (all if fewer)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def dense_rows(matrix, rows: np.ndarray) -> np.ndarray:
    """``rows`` of ``matrix`` (dense, sparse or backed), in ascending order, as dense float32."""
    block = matrix[np.sort(rows)]
    if sp.issparse(block):
        block = block.toarray()
    return np.asarray(block, dtype=np.float32)


def cell_types(adata, key: str = "cell_type") -> np.ndarray | None:
    """The cells' types as strings, or None when ``obs`` has no ``key``."""
    return adata.obs[key].astype(str).to_numpy() if key in adata.obs else None


def group_means(matrix_rows: np.ndarray, labels: np.ndarray, types) -> np.ndarray:
    """Mean row per type; NaN for a type with no cell among the rows (an empty group of a subsample)."""
    return np.vstack([matrix_rows[labels == t].mean(0) if (labels == t).any()
                      else np.full(matrix_rows.shape[1], np.nan) for t in types])


def streamed_group_means(translated, rows: np.ndarray, labels: np.ndarray, types) -> np.ndarray:
    """Mean translated probability per type over ``rows``, read block by block."""
    sums = np.zeros((len(types), translated.n_vars))
    codes = pd.Categorical(labels, categories=types).codes
    for start, stop, block in translated.blocks(rows)():
        inside = codes[start:stop] >= 0
        np.add.at(sums, codes[start:stop][inside], block[inside])
    return sums / np.maximum(np.bincount(codes[codes >= 0], minlength=len(types)), 1)[:, None]


def mean_difference_markers(rna, labels: np.ndarray, per_type: int = 2, limit: int = 12) -> list[str]:
    """Marker genes of the observed RNA (:func:`scact.preprocessing.labels.marker_genes`, mean difference) on
    at most ``MAX_CELLS`` cells, distinct, at most ``limit``."""
    rows = subsample(rna.n_obs)
    return marker_genes(dense_rows(rna.X, rows), rna.var_names, labels[rows], per_type, limit)


def roc_area(curve: pd.DataFrame) -> float:
    """Area under an ROC curve given as ``fpr``/``tpr`` points (trapezoids over the points in fpr order): the
    AUROC a drawn curve shows, which for a subsampled or gridded curve differs slightly from the exact one."""
    curve = curve.sort_values(["fpr", "tpr"])
    return float(np.trapezoid(curve["tpr"], curve["fpr"]))


def roc_curves_per_type(translated, atac, labels_key: str = "cell_type") -> pd.DataFrame | None:
    """RNA->ATAC ROC curves per cell type on the paired cells (same name in both modalities; the held-out
    ones when ``atac`` carries a held-out split, as the evaluation scores them), subsampled: at most
    :data:`ROC_CELLS` cells, :data:`ROC_ENTRIES` entries per type, :data:`ROC_POINTS` points per curve.

    None when there is nothing to draw (no labels, fewer than :data:`MIN_ROC_CELLS` pairs, other peaks).
    """
    from sklearn.metrics import roc_curve

    from scact.preprocessing.split import HELDOUT, stored_roles

    labels = cell_types(atac, labels_key)
    if labels is None:
        return None
    common = pd.Index(translated.obs_names).intersection(atac.obs_names)
    roles = stored_roles(atac)
    if roles is not None:
        common = common.intersection(pd.Index(atac.obs_names)[roles == HELDOUT])
    if len(common) < MIN_ROC_CELLS or translated.n_vars != atac.n_vars:
        return None
    common = common[subsample(len(common), ROC_CELLS)]
    t_rows = pd.Index(translated.obs_names).get_indexer(common)
    a_rows = pd.Index(atac.obs_names).get_indexer(common)
    probability = translated.read_rows(t_rows)
    observed = dense_rows(atac.X, a_rows)[np.argsort(np.argsort(a_rows))] > 0
    cell_labels = labels[a_rows]
    frames = []
    rng = np.random.default_rng(0)
    for cell_type in sorted(set(cell_labels)):
        inside = cell_labels == cell_type
        y, p = observed[inside].ravel(), probability[inside].ravel()
        if len(y) > ROC_ENTRIES:
            keep = rng.choice(len(y), ROC_ENTRIES, replace=False)
            y, p = y[keep], p[keep]
        if y.all() or not y.any():
            continue
        fpr, tpr, _ = roc_curve(y, p, drop_intermediate=True)
        step = max(1, len(fpr) // ROC_POINTS)
        frames.append(pd.DataFrame({"method": "scACT", "cell_type": cell_type, "fpr": fpr[::step], "tpr": tpr[::step]}))
    return pd.concat(frames, ignore_index=True) if frames else None


def accessibility_per_type(translated, atac, labels_key: str = "cell_type", min_cells: int = 3):
    """Per cell type, the share of its ATAC cells where each peak is open and the mean translated
    probability over its RNA cells (no pairing needed), and their Pearson r across peaks.

    Returns ``(types, observed, translated, r)`` (types by ATAC frequency, with >= ``min_cells`` cells in
    both subsamples; arrays types x peaks; r NaN where either profile is flat), or None when the two files
    lack labels, share no such type or differ in peaks.
    """
    t_labels_all, a_labels_all = cell_types(translated, labels_key), cell_types(atac, labels_key)
    if t_labels_all is None or a_labels_all is None or translated.n_vars != atac.n_vars:
        return None
    t_rows, a_rows = subsample(translated.n_obs), subsample(atac.n_obs)
    t_labels, a_labels = t_labels_all[t_rows], a_labels_all[a_rows]
    types = [t for t in pd.Series(a_labels).value_counts().index
             if (t_labels == t).sum() >= min_cells and (a_labels == t).sum() >= min_cells]
    if not types:
        return None
    predicted = streamed_group_means(translated, t_rows, t_labels, types)
    observed = group_means(dense_rows(atac.X, a_rows) > 0, a_labels, types)
    r = np.array([float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else float("nan")
                  for x, y in zip(observed, predicted)])
    return types, observed, predicted, r


def expression_per_type(rna, atac_to_rna, genes, types, labels_key: str = "cell_type"):
    """Mean expression of ``genes`` per type: observed over (a subsample of) the RNA cells and translated
    over the ATAC cells; ``(observed, translated)``, arrays types x genes (NaN for a type absent)."""
    r_rows, a_rows = subsample(rna.n_obs), subsample(atac_to_rna.n_obs)
    observed = group_means(dense_rows(rna[:, genes].X, r_rows), cell_types(rna, labels_key)[r_rows], types)
    translated = group_means(dense_rows(atac_to_rna[:, genes].X, a_rows),
                             cell_types(atac_to_rna, labels_key)[a_rows], types)
    return observed, translated
