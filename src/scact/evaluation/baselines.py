"""Baselines that scACT must beat, given the same inputs and the same labels.

- global mean profile: every cell gets the mean profile of the other modality;
- cell-type mean profile: every cell gets the mean profile of its type in the other modality;
- Harmony kNN: RNA and ATAC gene activity share genes; a joint PCA corrected by Harmony (modality as the
  batch) gives a joint embedding (scored by the alignment metrics), and each cell is translated as the mean
  profile of its k nearest cells of the other modality in that embedding.
- LIGER (pyliger, optional: requirements/benchmarks_liger.txt): integrative NMF of RNA counts and ATAC
  gene activity on their shared genes, quantile-normalised factors as the joint embedding (alignment only).
- oracle, type-only alignment: every cell placed at its own type, at random inside it; the FOSCTTM that
  perfect labels alone reach, which a model must beat to show correspondence inside types.
RNA->ATAC predictions are :data:`scact.evaluation.metrics.PredictionSource` streams, never a dense
cells x peaks matrix.
"""
from __future__ import annotations

import contextlib
import tempfile

import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.evaluation.metrics import PredictionSource, rows_per_block
from scact.io.annotation import tss_regions
from scact.preprocessing.atac import as_binary, gene_activity_matrix
from scact.stats import type_moments


def _repeat_rows(profiles: np.ndarray, row_of_cell: np.ndarray, block_size: int) -> PredictionSource:
    """Stream ``profiles[row_of_cell[i]]`` for every cell i, one block of cells at a time."""
    profiles = np.asarray(profiles, dtype=np.float32)
    block_size = rows_per_block(profiles.shape[1], block_size)

    def blocks():
        for start in range(0, len(row_of_cell), block_size):
            stop = min(start + block_size, len(row_of_cell))
            yield start, stop, profiles[row_of_cell[start:stop]]
    return blocks


def global_mean(reference, n_query: int, block_size: int = 1024, reference_rows=None) -> PredictionSource:
    """Every query cell predicted as the mean profile of the reference cells (binarised if ATAC); with
    ``reference_rows`` (boolean mask), of those rows of ``reference``."""
    _, sizes, sums, _ = type_moments(reference, np.zeros(reference.shape[0]), reference_rows)
    return _repeat_rows(sums / max(sizes.sum(), 1), np.zeros(n_query, dtype=int), block_size)


def type_means(reference, reference_labels, query_labels, reference_rows=None) -> tuple[np.ndarray, np.ndarray]:
    """Mean profile of each type of the reference (of its ``reference_rows``, a boolean mask, when given),
    and, per query cell, the row of its type.

    A query type absent from the reference falls back to the global mean (last row).
    """
    names, sizes, sums, _ = type_moments(reference, reference_labels, reference_rows)
    profiles = np.vstack([sums / sizes[:, None], sums.sum(0) / max(sizes.sum(), 1)])
    lookup = {name: i for i, name in enumerate(names)}
    row_of_cell = np.array([lookup.get(label, len(names)) for label in np.asarray(query_labels)])
    return profiles, row_of_cell


def type_mean(reference, reference_labels, query_labels, block_size: int = 1024,
              reference_rows=None) -> PredictionSource:
    """Every query cell predicted as the mean profile of its type among the reference cells (its
    ``reference_rows``, when given)."""
    profiles, row_of_cell = type_means(reference, reference_labels, query_labels, reference_rows)
    return _repeat_rows(profiles, row_of_cell, block_size)


def dense_prediction(source: PredictionSource) -> np.ndarray:
    """Collect a prediction stream into one array (only for small feature counts, e.g. genes)."""
    return np.vstack([block for _, _, block in source()])


# ------------------------------------------------------------------------------ gene activity + Harmony
def gene_activity(atac, genes: pd.DataFrame, window: int = 10_000) -> tuple[sp.csr_matrix, list[str]]:
    """Cells x genes: accessible peaks within ``window`` bp of each gene's TSS (sparse counts), for genes
    with any accessible peak there.

    ``atac.var`` needs chrom/start/end; ``genes`` is an annotation as :func:`scact.io.annotation.read_annotation`
    reads it (a gene with several TSSs takes the span of their windows).
    """
    counts, regions = gene_activity_matrix(as_binary(atac.X), atac.var[["chrom", "start", "end"]],
                                           tss_regions(genes, window))
    used = counts.getnnz(axis=0) > 0
    return counts[:, used].tocsr(), regions["gene"][used].tolist()


def harmony_embedding(rna_expression, rna_genes, activity, activity_genes, n_pcs: int = 30,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Joint Harmony embedding of RNA (log-normalised) and ATAC gene activity on their shared genes.

    Both modalities are z-scored in one preallocated float32 matrix that PCA centres in place: at 100,000
    cells the float64 copies (densified, z-scored, stacked, centred) held ~10 GB."""
    import harmonypy
    from sklearn.decomposition import PCA

    shared = sorted(set(rna_genes) & set(activity_genes))
    if len(shared) < 10:
        raise ValueError(f"only {len(shared)} genes shared by RNA and gene activity")
    n_rna, n_act = rna_expression.shape[0], activity.shape[0]
    scaled = np.empty((n_rna + n_act, len(shared)), dtype=np.float32)
    rna = rna_expression[:, pd.Index(rna_genes).get_indexer(shared)]
    scaled[:n_rna] = rna.toarray() if sp.issparse(rna) else rna
    act = sp.csr_matrix(activity[:, pd.Index(activity_genes).get_indexer(shared)], dtype=np.float32)
    depth = np.asarray(act.sum(1), dtype=np.float64).ravel()
    act = sp.csr_matrix(sp.diags((1e4 / np.maximum(depth, 1)).astype(np.float32)) @ act)
    np.log1p(act.data, out=act.data)
    scaled[n_rna:] = act.toarray()
    del rna, act
    _zscore_in_place(scaled[:n_rna])
    _zscore_in_place(scaled[n_rna:])
    n_comp = min(n_pcs, scaled.shape[1] - 1, scaled.shape[0] - 1)
    pcs = PCA(n_components=n_comp, random_state=seed, copy=False).fit_transform(scaled)
    del scaled
    meta = pd.DataFrame({"modality": ["rna"] * n_rna + ["atac"] * n_act})
    corrected = np.asarray(harmonypy.run_harmony(np.asarray(pcs, dtype=np.float64), meta, "modality",
                                                 random_state=seed, verbose=False).Z_corr)
    if corrected.shape[0] != pcs.shape[0]:  # older harmonypy returns dims x cells
        corrected = corrected.T
    return corrected[:n_rna], corrected[n_rna:]


def liger_embedding(rna_counts, rna_genes, activity, activity_genes, k: int = 20, seed: int = 0,
                    max_iters: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Joint LIGER embedding (iNMF + quantile normalisation, pyliger defaults) of RNA counts and ATAC gene
    activity on their shared genes; raises ImportError when pyliger is not installed."""
    import anndata as ad
    import pyliger

    shared = sorted(set(rna_genes) & set(activity_genes))
    if len(shared) < k:
        raise ValueError(f"only {len(shared)} genes shared by RNA and gene activity (LIGER k={k})")
    datasets = []
    for name, matrix, genes in (("rna", rna_counts, rna_genes), ("atac", activity, activity_genes)):
        counts = sp.csr_matrix(matrix, dtype=np.float64)[:, pd.Index(genes).get_indexer(shared)]
        empty = int((np.diff(counts.indptr) == 0).sum())
        if empty:  # pyliger drops them, and the embedding would no longer cover every cell
            raise ValueError(f"{empty} of {counts.shape[0]} {name} cells have no counts on the {len(shared)} "
                             "shared genes")
        data = ad.AnnData(counts, obs=pd.DataFrame(index=pd.Index([f"{name}:{i}" for i in range(counts.shape[0])],
                                                                 name="cell")),
                          var=pd.DataFrame(index=pd.Index(shared, name="gene")))
        data.uns["sample_name"] = name
        datasets.append(data)
    with tempfile.TemporaryDirectory(prefix="scact-liger-") as workdir, contextlib.chdir(workdir):
        # pyliger writes ./results/<sample>.h5ad while it runs: keep that out of the caller's folder
        liger = pyliger.create_liger(datasets, remove_missing=False)
        pyliger.normalize(liger)
        pyliger.select_genes(liger, var_thresh=0.1)
        if len(liger.var_genes) <= k:
            raise ValueError(f"LIGER selected {len(liger.var_genes)} variable genes, too few for k={k}")
        pyliger.scale_not_center(liger)
        pyliger.optimize_ALS(liger, k=k, rand_seed=seed + 1, max_iters=max_iters)  # its seed must be >= 1
        pyliger.quantile_norm(liger)
        z_rna, z_atac = (np.asarray(d.obsm["H_norm"], dtype=np.float64) for d in liger.adata_list)
    return z_rna, z_atac


def type_only_embedding(rna_labels, atac_labels, seed: int = 0, spread: float = 1e3,
                        dims: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """A joint space that knows only the type: type vertices far apart plus independent random offsets.

    Any cell is closer to every cell of its own type than to any other; inside a type the order is random,
    so its FOSCTTM is about sum over types of (share of the type)^2 / 2."""
    rng = np.random.default_rng(seed)
    names = np.unique(np.r_[np.asarray(rna_labels, str), np.asarray(atac_labels, str)])
    vertices = spread * np.eye(len(names))

    def place(labels):
        codes = np.searchsorted(names, np.asarray(labels, str))
        return np.hstack([vertices[codes], rng.normal(size=(len(codes), dims))])
    return place(rna_labels), place(atac_labels)


def knn_weights(query: np.ndarray, reference: np.ndarray, k: int = 15, reference_rows=None) -> sp.csr_matrix:
    """Row-normalised weights (query x reference) on each query cell's k nearest reference cells; with
    ``reference_rows`` (boolean mask) the neighbours are sought among those rows only, and the columns
    still index every row of ``reference`` (so the weights apply to a whole matrix, not a copy of rows)."""
    from sklearn.neighbors import NearestNeighbors

    candidates = np.arange(len(reference)) if reference_rows is None else np.flatnonzero(reference_rows)
    k = min(k, len(candidates))
    _, idx = NearestNeighbors(n_neighbors=k, metric="cosine").fit(reference[candidates]).kneighbors(query)
    rows = np.repeat(np.arange(len(query)), k)
    return sp.csr_matrix((np.full(rows.size, 1.0 / k, np.float32), (rows, candidates[idx.ravel()])),
                         shape=(len(query), len(reference)))


def knn_translation(weights: sp.csr_matrix, reference_profiles, block_size: int = 1024) -> PredictionSource:
    """Each query cell predicted as the weighted mean of its neighbours' observed profiles."""
    reference_profiles = sp.csr_matrix(reference_profiles, dtype=np.float32)
    block_size = rows_per_block(reference_profiles.shape[1], block_size)

    def blocks():
        for start in range(0, weights.shape[0], block_size):
            stop = min(start + block_size, weights.shape[0])
            yield start, stop, (weights[start:stop] @ reference_profiles).toarray().astype(np.float32)
    return blocks


def _zscore_in_place(x: np.ndarray, block_columns: int = 256) -> None:
    """Centre and scale each column of ``x`` to unit variance, clipped to [-10, 10], a block of columns at a
    time (float64 statistics; no copy of ``x``)."""
    for start in range(0, x.shape[1], block_columns):
        block = x[:, start:start + block_columns].astype(np.float64)
        block -= block.mean(0)
        sd = block.std(0)
        block /= np.where(sd > 0, sd, 1.0)
        x[:, start:start + block_columns] = np.clip(block, -10, 10)
