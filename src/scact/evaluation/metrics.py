"""Metrics of alignment and of translation both ways, computed without a dense cells x peaks matrix.

Alignment metrics take two embeddings in one common space (row i of both = the same cell where the data
are paired). RNA->ATAC metrics take the observed binary ATAC matrix (sparse) and a *prediction source*: a
callable that yields ``(start, stop, dense float32 block)`` of peak probabilities over cells, so that a
model, a baseline or an on-disk translation all stream the same way. Every AUROC here is exact (ties count
one half, as in scikit-learn): the scores at the observed accessible entries are collected in a first pass,
and a second pass counts, block by block, how many predictions lie below each of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import hypergeom

from scact.preprocessing.atac import as_binary
from scact.stats import column_pearson, one_vs_rest_t

#: ``prediction_blocks()`` -> iterator of (start, stop, block) with block float32 of shape (stop-start, n_peaks)
PredictionSource = Callable[[], Iterator[tuple[int, int, np.ndarray]]]

MIN_ACCESSIBLE_CELLS = 10


# --------------------------------------------------------------------------------------------- alignment
def foscttm(x: np.ndarray, y: np.ndarray, block_size: int = 1024) -> float:
    """Fraction Of Samples Closer Than the True Match (0 = perfect, ~0.5 = random), both directions averaged.

    ``x[i]`` and ``y[i]`` are the two modalities of cell i in one space (Euclidean distances). Distances are
    computed one block of rows at a time, so memory is ``block_size x n`` rather than ``n x n``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired embeddings differ in shape: {x.shape} vs {y.shape}")
    n = x.shape[0]
    if n < 2:
        raise ValueError("FOSCTTM needs at least 2 paired cells")

    def one_direction(a, b):
        b_sq = (b ** 2).sum(1)
        closer = 0
        for start in range(0, n, block_size):
            stop = min(start + block_size, n)
            a_block = a[start:stop]
            dist = (a_block ** 2).sum(1)[:, None] + b_sq[None, :] - 2.0 * a_block @ b.T
            true = dist[np.arange(stop - start), np.arange(start, stop)]
            closer += int((dist < true[:, None]).sum())
        return closer / (n * (n - 1))

    return 0.5 * (one_direction(x, y) + one_direction(y, x))


def silhouette_by_label(embedding: np.ndarray, labels, sample_size: int | None = 5000, seed: int = 0) -> float:
    """Mean cosine silhouette of cell types in the joint embedding (-1..1; higher = types better apart)."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return float("nan")
    size = None if sample_size is None or sample_size >= len(labels) else sample_size
    return float(silhouette_score(embedding, labels, metric="cosine", sample_size=size, random_state=seed))


def leiden_agreement(embedding: np.ndarray, labels, resolution: float = 1.0, n_neighbors: int = 15,
                     seed: int = 0) -> dict[str, float]:
    """ARI and AMI between Leiden clusters of the joint embedding and the cell-type labels."""
    import igraph as ig
    import leidenalg
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score
    from sklearn.neighbors import NearestNeighbors

    # kNN graph built here: scanpy 1.11's neighbors fails on scipy 1.16 csr_array beyond ~4k cells
    k = min(n_neighbors, len(embedding) - 1)
    _, idx = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(embedding).kneighbors(embedding)
    edges = {(min(i, j), max(i, j)) for i, row in enumerate(idx[:, 1:].tolist()) for j in row if i != j}
    graph = ig.Graph(n=len(embedding), edges=sorted(edges))
    partition = leidenalg.find_partition(graph, leidenalg.RBConfigurationVertexPartition,
                                         resolution_parameter=resolution, seed=seed)
    clusters = np.asarray(partition.membership)
    labels = np.asarray(labels)
    return {"ari": float(adjusted_rand_score(labels, clusters)),
            "ami": float(adjusted_mutual_info_score(labels, clusters))}


def within_type_cosine_distances(z_rna: np.ndarray, z_atac: np.ndarray, labels_rna, labels_atac,
                                 max_cells: int = 500, seed: int = 0) -> pd.DataFrame:
    """Per cell type, the distribution of cosine distances between its RNA cells and its ATAC cells.

    Small distances mean the two modalities of one type land together. Up to ``max_cells`` cells per type
    and modality are drawn (seeded) to bound the cost. Returns one row per type: n pairs, quartiles, mean.
    """
    rng = np.random.default_rng(seed)
    labels_rna, labels_atac = np.asarray(labels_rna), np.asarray(labels_atac)
    rows = []
    for label in sorted(set(labels_rna) & set(labels_atac)):
        a = _draw(np.flatnonzero(labels_rna == label), max_cells, rng)
        b = _draw(np.flatnonzero(labels_atac == label), max_cells, rng)
        dist = 1.0 - _unit(z_rna[a]) @ _unit(z_atac[b]).T
        q1, median, q3 = np.quantile(dist, [0.25, 0.5, 0.75])
        rows.append({"cell_type": label, "n_pairs": dist.size, "q1": q1, "median": median, "q3": q3,
                     "mean": float(dist.mean())})
    return pd.DataFrame(rows, columns=["cell_type", "n_pairs", "q1", "median", "q3", "mean"])


def modality_mixing(z_rna: np.ndarray, z_atac: np.ndarray, k: int = 30, seed: int = 0) -> float:
    """Mixing of the two modalities in the joint space: mean normalised entropy of kNN modality shares.

    The paper's Eq. 13 could not be retrieved, so this is the standard kNN mixing entropy: both modalities
    are subsampled to the same size (seeded), each cell's ``k`` nearest neighbours (cosine) are taken, and
    the entropy of their modality proportions is divided by log(2): 1 = perfectly mixed, 0 = separated.
    """
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    n = min(len(z_rna), len(z_atac))
    a = z_rna[_draw(np.arange(len(z_rna)), n, rng)]
    b = z_atac[_draw(np.arange(len(z_atac)), n, rng)]
    joint = _unit(np.vstack([a, b]))
    modality = np.r_[np.zeros(n), np.ones(n)]
    k = min(k, 2 * n - 1)
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(joint).kneighbors(joint)
    share = modality[idx[:, 1:]].mean(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -(np.nan_to_num(share * np.log(share)) + np.nan_to_num((1 - share) * np.log(1 - share)))
    return float(entropy.mean() / np.log(2))


def label_transfer_accuracy(z_source: np.ndarray, labels_source, z_target: np.ndarray, labels_target,
                            k: int = 15) -> float:
    """Accuracy of labels predicted for target cells by a cosine kNN vote among source cells."""
    from sklearn.neighbors import KNeighborsClassifier

    classifier = KNeighborsClassifier(n_neighbors=min(k, len(z_source)), metric="cosine")
    classifier.fit(z_source, np.asarray(labels_source))
    return float((classifier.predict(z_target) == np.asarray(labels_target)).mean())


def alignment_metrics(z_rna: np.ndarray, z_atac: np.ndarray, labels_rna, labels_atac, paired: bool,
                      seed: int = 0) -> dict[str, float]:
    """Every scalar alignment metric of one joint space; FOSCTTM only where rows are paired."""
    joint = np.vstack([z_rna, z_atac])
    labels = np.r_[np.asarray(labels_rna), np.asarray(labels_atac)]
    out = {}
    if paired:
        out["foscttm"] = foscttm(z_rna, z_atac)
    out["silhouette_cell_type"] = silhouette_by_label(joint, labels, seed=seed)
    out.update({f"leiden_{k}": v for k, v in leiden_agreement(joint, labels, seed=seed).items()})
    out["modality_mixing"] = modality_mixing(z_rna, z_atac, seed=seed)
    out["label_transfer_rna_to_atac"] = label_transfer_accuracy(z_rna, labels_rna, z_atac, labels_atac)
    out["label_transfer_atac_to_rna"] = label_transfer_accuracy(z_atac, labels_atac, z_rna, labels_rna)
    distances = within_type_cosine_distances(z_rna, z_atac, labels_rna, labels_atac, seed=seed)
    # no type in both modalities: no within-type distance (NaN, not an error)
    out["within_type_cosine_distance_median"] = (float(distances["median"].median()) if len(distances)
                                                 else float("nan"))
    return out


# ------------------------------------------------------------------------------------------ RNA -> ATAC
@dataclass
class AccessibilityScores:
    """Scalar and per-feature results of :func:`rna_to_atac_metrics`."""

    scalars: dict[str, float]
    per_peak: pd.DataFrame
    per_cell: pd.DataFrame
    per_type: pd.DataFrame
    roc_curve: pd.DataFrame


def rna_to_atac_metrics(observed, prediction_blocks: PredictionSource, labels=None,
                        roc_points: int = 201) -> AccessibilityScores:
    """AUROC (flattened, per peak, per cell, per type), AUPRC and R2 of predicted accessibility.

    ``observed``: cells x peaks, binarised here (> 0). ``prediction_blocks``: see :data:`PredictionSource`;
    it is called twice (two passes) and must yield the same values both times. Scores are clipped to [0, 1].
    Per-peak figures are medians over peaks with >= 10 accessible cells. R2 is the squared Pearson
    correlation (per peak across cells; per cell type between pseudobulk profiles across peaks); a constant
    prediction has no correlation and scores 0.
    """
    observed = as_binary(observed)  # no copy of a 0/1 float32 CSR
    observed.sort_indices()
    n_cells, n_peaks = observed.shape
    labels = np.zeros(n_cells, dtype=int) if labels is None else np.asarray(labels)
    type_names, type_codes = np.unique(labels, return_inverse=True)
    type_codes = type_codes.astype(np.int32)
    n_types = len(type_names)

    # ~190 bytes per accessible entry (positive) at the peak (measured), int32 where an index fits
    pos_rows = np.repeat(np.arange(n_cells, dtype=np.int32), np.diff(observed.indptr))
    pos_cols = observed.indices.astype(np.int32, copy=False)
    n_pos = len(pos_cols)
    if n_pos == 0:
        raise ValueError("the observed ATAC matrix has no accessible entries")

    # pass 1: scores at the positives, and the sums for R2
    pos_scores = np.empty(n_pos, dtype=np.float32)
    pred_sum = np.zeros(n_peaks)
    pred_sq_sum = np.zeros(n_peaks)
    type_pred_sum = np.zeros((n_types, n_peaks))
    seen = 0
    for start, stop, block in _bounded_blocks(prediction_blocks(), n_peaks):
        lo, hi = observed.indptr[start], observed.indptr[stop]
        pos_scores[lo:hi] = block[pos_rows[lo:hi] - start, pos_cols[lo:hi]]
        pred_sum += block.sum(0, dtype=np.float64)
        pred_sq_sum += np.square(block, dtype=np.float64).sum(0)
        np.add.at(type_pred_sum, type_codes[start:stop], block)
        seen += stop - start
    if seen != n_cells:
        raise ValueError(f"the predictions cover {seen} cells, the observed matrix {n_cells}")

    # pass 2: for each positive, how many predictions lie below it (and tie with it): among all entries,
    # among the entries of cells of its type, in its peak (keys offset by 2 per peak, so one counter serves
    # every peak) and in its cell. The first three stream each block's values into counters over the sorted
    # positives, so a block costs the same whatever the number of cells (linear in cells overall).
    flat = _RankCounter(pos_scores)
    pos_type = type_codes[pos_rows]
    by_type = {code: (mine.astype(np.int32), _RankCounter(pos_scores[mine]))
               for code in range(n_types) if len(mine := np.flatnonzero(pos_type == code))}
    by_peak = _RankCounter(pos_scores + 2.0 * pos_cols)
    peak_offsets = 2.0 * np.arange(n_peaks)
    below_cell = np.zeros(n_pos)
    thresholds = np.linspace(0.0, 1.0, roc_points)
    threshold_bins = np.zeros(roc_points + 1)  # values by how many thresholds they reach, for the ROC table
    for start, stop, block in _bounded_blocks(prediction_blocks(), n_peaks):
        rows = stop - start
        flat.add(block)
        threshold_bins += np.bincount(np.searchsorted(thresholds, block.ravel(), side="right"),
                                      minlength=roc_points + 1)
        block_codes = type_codes[start:stop]
        for code in np.unique(block_codes):
            if code in by_type:
                by_type[code][1].add(block[block_codes == code])
        by_peak.add(block + peak_offsets)
        # per cell: only this block's positives, against their own rows
        lo, hi = observed.indptr[start], observed.indptr[stop]
        local = pos_rows[lo:hi] - start
        by_row = np.sort(block, axis=1).astype(np.float64) + 2.0 * np.arange(rows)[:, None]
        below_cell[lo:hi] = (_below_counts(by_row.ravel(), pos_scores[lo:hi] + 2.0 * local)
                             - n_peaks * local)
        del by_row
    # each counter's sorted positives are freed once read (they are most of this function's memory)
    strictly_below_flat = flat.strictly_below()
    below_flat = flat.midrank_below()
    del flat
    below_type = np.zeros(n_pos)
    for mine, counter in by_type.values():
        below_type[mine] = counter.midrank_below()
    del by_type
    below_peak = by_peak.midrank_below() - float(n_cells) * pos_cols  # less the entries of the earlier peaks
    del by_peak
    at_or_above = n_cells * n_peaks - np.cumsum(threshold_bins)[:roc_points]

    # Mann-Whitney: positives counted against themselves contribute n_pos^2 / 2 to a group's sum
    def auroc(below, group, n_groups, group_sizes):
        sums = np.bincount(group, weights=below, minlength=n_groups)
        n1 = np.bincount(group, minlength=n_groups).astype(float)
        n0 = group_sizes - n1
        with np.errstate(divide="ignore", invalid="ignore"):
            return (sums - n1 ** 2 / 2.0) / (n1 * n0)

    zero = np.zeros(n_pos, dtype=int)
    flat = float(auroc(below_flat, zero, 1, np.array([n_cells * n_peaks], float))[0])
    peak_auc = auroc(below_peak, pos_cols, n_peaks, np.full(n_peaks, n_cells, float))
    cell_auc = auroc(below_cell, pos_rows, n_cells, np.full(n_cells, n_peaks, float))
    type_sizes = np.bincount(type_codes, minlength=n_types) * float(n_peaks)
    type_auc = auroc(below_type, pos_type, n_types, type_sizes)

    # average precision, exactly as scikit-learn's (each positive: precision at its own score)
    ascending = np.sort(pos_scores)
    pos_at_or_above = n_pos - np.searchsorted(ascending, pos_scores, side="left")
    all_at_or_above = n_cells * n_peaks - strictly_below_flat
    auprc = float(np.mean(pos_at_or_above / all_at_or_above))

    # R2 per peak (squared Pearson across cells) and per cell type (pseudobulk across peaks)
    n_acc = np.asarray(observed.sum(0)).ravel()
    cross = np.bincount(pos_cols, weights=pos_scores, minlength=n_peaks)
    cov = cross / n_cells - (n_acc / n_cells) * (pred_sum / n_cells)
    var_obs = n_acc / n_cells - (n_acc / n_cells) ** 2
    var_pred = np.maximum(pred_sq_sum / n_cells - (pred_sum / n_cells) ** 2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        peak_r2 = np.where(var_pred > 1e-12, cov ** 2 / (var_obs * var_pred), 0.0)
    type_obs = np.vstack([np.asarray(observed[type_codes == c].mean(0)).ravel() for c in range(n_types)])
    type_pred = type_pred_sum / np.bincount(type_codes, minlength=n_types)[:, None]
    type_r2 = np.array([_squared_pearson(type_obs[c], type_pred[c]) for c in range(n_types)])

    eligible = n_acc >= MIN_ACCESSIBLE_CELLS
    scalars = {
        "auroc_flattened": flat,
        "auroc_per_peak_median": float(np.nanmedian(peak_auc[eligible])) if eligible.any() else float("nan"),
        "auroc_per_cell_mean": float(np.nanmean(cell_auc)),
        "auprc_flattened": auprc,
        "auroc_per_type_mean": float(np.nanmean(type_auc)),
        "r2_per_peak_median": float(np.median(peak_r2[eligible])) if eligible.any() else float("nan"),
        "r2_per_type_mean": float(np.nanmean(type_r2)),
        "n_peaks_scored": int(eligible.sum()),
    }
    per_peak = pd.DataFrame({"n_accessible": n_acc.astype(int), "auroc": peak_auc, "r2": peak_r2})
    per_cell = pd.DataFrame({"n_accessible": np.diff(observed.indptr), "auroc": cell_auc,
                             "cell_type": labels})
    per_type = pd.DataFrame({"cell_type": type_names, "auroc": type_auc, "r2_pseudobulk": type_r2})
    # ROC curve on a threshold grid: TPR/FPR of "predicted >= t"
    pos_at_thr = n_pos - np.searchsorted(np.sort(pos_scores), thresholds, side="left")
    neg_total = n_cells * n_peaks - n_pos
    roc = pd.DataFrame({"threshold": thresholds, "tpr": pos_at_thr / n_pos,
                        "fpr": (at_or_above - pos_at_thr) / neg_total})
    return AccessibilityScores(scalars, per_peak, per_cell, per_type, roc)


# ------------------------------------------------------------------------------------------ ATAC -> RNA
def atac_to_rna_metrics(observed, predicted: np.ndarray, labels=None, gene_names=None,
                        n_markers: int = 5) -> tuple[dict[str, float], pd.DataFrame]:
    """Pearson per gene (median) and per cell (mean), marker-gene R2, and the marker enrichment test.

    ``observed``: cells x genes log-normalised expression (sparse or dense; genes are few, so dense is
    fine). Markers are the top ``n_markers`` genes per type of the *observed* data (t-test one vs rest).
    Enrichment test: per type, the overlap of the top-``n_top`` genes of the translated data with those of
    the observed data, against a hypergeometric null; reported as the share of types with p < 0.05.
    """
    observed = observed.toarray() if sp.issparse(observed) else np.asarray(observed)
    observed = observed.astype(np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    gene_r = column_pearson(observed, predicted, constant_b=0.0)
    cell_r = column_pearson(observed.T, predicted.T, constant_b=0.0)
    scalars = {"pearson_per_gene_median": float(np.nanmedian(gene_r)),
               "pearson_per_cell_mean": float(np.nanmean(cell_r))}
    per_gene = pd.DataFrame({"pearson": gene_r}, index=gene_names)
    if labels is not None and len(np.unique(labels)) > 1:
        labels = np.asarray(labels)
        observed_rank = one_vs_rest_t(observed, labels)
        predicted_rank = one_vs_rest_t(predicted, labels)
        markers = np.unique(np.concatenate([np.argsort(-t)[:n_markers] for t in observed_rank.values()]))
        scalars["marker_r2_mean"] = float(np.nanmean(np.square(gene_r[markers])))
        n_genes = observed.shape[1]
        n_top = max(n_markers, min(50, n_genes // 10))
        p_values = []
        for label, t_obs in observed_rank.items():
            top_obs = set(np.argsort(-t_obs)[:n_top])
            top_pred = set(np.argsort(-predicted_rank[label])[:n_top])
            overlap = len(top_obs & top_pred)
            p_values.append(hypergeom.sf(overlap - 1, n_genes, n_top, n_top))
        p_values = np.array(p_values)
        scalars["marker_enrichment_share_significant"] = float((p_values < 0.05).mean())
        scalars["marker_enrichment_median_neg_log10_p"] = float(np.median(-np.log10(np.maximum(p_values,
                                                                                                1e-300))))
        per_gene["marker"] = False
        per_gene.iloc[markers, per_gene.columns.get_loc("marker")] = True
    return scalars, per_gene


# ------------------------------------------------------------------------------------------------ helpers
def _clip(block, rows, n_peaks):
    block = np.asarray(block, dtype=np.float32)
    if block.shape != (rows, n_peaks):
        raise ValueError(f"prediction block of shape {block.shape}, expected {(rows, n_peaks)}")
    return np.clip(block, 0.0, 1.0)


#: Most values of a dense prediction block that a metric or a baseline handles at once (16 MB in float32).
MAX_BLOCK_VALUES = 1 << 22


def rows_per_block(n_features: int, block_size: int | None = None, max_values: int = MAX_BLOCK_VALUES) -> int:
    """Rows of a dense block of ``n_features`` columns within ``max_values`` (at least one; at most
    ``block_size`` when given)."""
    rows = max(1, max_values // max(n_features, 1))
    return rows if block_size is None else max(1, min(block_size, rows))


def _bounded_blocks(blocks, n_peaks: int, max_values: int = MAX_BLOCK_VALUES):
    """The prediction blocks, clipped and cut into row blocks of at most ``max_values`` entries (at least one
    row), so that the float64 temporaries of the metrics stay small whatever block size a source yields."""
    for start, stop, block in blocks:
        block = _clip(block, stop - start, n_peaks)
        step = rows_per_block(n_peaks, max_values=max_values)
        for lo in range(0, stop - start, step):
            yield start + lo, min(start + lo + step, stop), block[lo:lo + step]


class _RankCounter:
    """For fixed queries, how many streamed values lie strictly below and tie with each one, accumulated
    block by block: each value is placed among the sorted distinct queries (O(block x log queries)), instead
    of each query searched in each block, which grows with cells x cells. Placements are buffered and
    counted once at least as many as there are queries have come, so counting stays linear too."""

    def __init__(self, queries: np.ndarray):
        self.distinct, inverse = np.unique(np.asarray(queries, dtype=np.float64), return_inverse=True)
        self.inverse = inverse.astype(np.int32) if len(self.distinct) < 2**31 - 1 else inverse
        self.placed = np.zeros(len(self.distinct) + 1)  # values by the number of distinct queries <= them
        self.ties = np.zeros(len(self.distinct))
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.n_pending = 0

    def add(self, values: np.ndarray) -> None:
        values = np.sort(np.asarray(values, dtype=np.float64), axis=None)  # sorted keys search faster
        at_or_below = np.searchsorted(self.distinct, values, side="right")
        tie = at_or_below - 1
        equal = (tie >= 0) & (self.distinct[np.maximum(tie, 0)] == values)
        self.pending.append((at_or_below.astype(np.int32 if len(self.distinct) < 2**31 - 1 else np.int64), tie[equal]))
        self.n_pending += len(values)
        if self.n_pending >= max(len(self.distinct), 1 << 22):
            self._count()

    def _count(self) -> None:
        if self.pending:
            places, ties = (np.concatenate(part) for part in zip(*self.pending))
            self.placed += np.bincount(places, minlength=len(self.placed))
            self.ties += np.bincount(ties, minlength=len(self.ties))
            self.pending, self.n_pending = [], 0

    def strictly_below(self) -> np.ndarray:
        """Per query: the values below it (a value lies below distinct query j when fewer than j + 1
        distinct queries are <= it)."""
        self._count()
        return np.cumsum(self.placed)[:-1][self.inverse]

    def midrank_below(self) -> np.ndarray:
        """Per query: values strictly below + half the values equal (midrank convention)."""
        return self.strictly_below() + 0.5 * self.ties[self.inverse]


def _below_counts(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """For each query: #values strictly below + half the #values equal (midrank convention)."""
    left = np.searchsorted(sorted_values, queries, side="left")
    right = np.searchsorted(sorted_values, queries, side="right")
    return left + 0.5 * (right - left)


def _squared_pearson(a, b) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt((a ** 2).sum() * (b ** 2).sum())
    return float((a @ b / denom) ** 2) if denom > 0 else 0.0


def _unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def _draw(indices: np.ndarray, size: int, rng) -> np.ndarray:
    return indices if len(indices) <= size else np.sort(rng.choice(indices, size, replace=False))


def dense_blocks(matrix, block_size: int = 1024) -> PredictionSource:
    """A :data:`PredictionSource` over an in-memory matrix (dense or sparse), mainly for tests and baselines."""
    def blocks():
        for start in range(0, matrix.shape[0], block_size):
            stop = min(start + block_size, matrix.shape[0])
            part = matrix[start:stop]
            yield start, stop, (part.toarray() if sp.issparse(part) else np.asarray(part)).astype(np.float32)
    return blocks
