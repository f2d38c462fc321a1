"""RNA preprocessing as in the paper: cell QC with doublet removal, then log-normalisation, HVGs, PCA, Leiden.

QC metrics are computed here directly (three sums over a CSR matrix) so that every removed cell can be
counted under the first reason it fails. Doublets are called per sample with DoubletDetection on the raw
counts of the cells that passed the other filters. Normalisation, HVG selection, PCA, kNN and Leiden use
scanpy: pegasus 1.10.2's ``highly_variable_features`` crashes the interpreter (segmentation fault in its
LOESS fit) with numpy 2.x, so the pegasus recipe (log1p CP10k, top HVGs, PCA 20, kNN, Leiden) is run with
scanpy's equivalent functions instead.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.errors import input_error
from scact.preprocessing import MIN_CELLS_AFTER_QC, doublets

log = logging.getLogger(__name__)

#: Order in which QC reasons are tested; a cell is counted under the first one it fails.
QC_REASONS = ("low_umis", "low_genes", "high_mito", "doublet")


@dataclass(frozen=True)
class RnaQcParams:
    """Thresholds of RNA cell QC (paper: fewer than 200 UMIs removed, doublets removed)."""

    min_umis: int = 200
    min_genes: int = 100
    max_percent_mito: float = 20.0
    remove_doublets: bool = True
    doublet_n_iters: int = 10
    #: DoubletDetection's p-value cut; its 1e-7 default misses most doublets in samples of a few hundred
    #: cells, whose synthetic-doublet clusters are small (measured on generated data, tests/test_rna_qc.py).
    doublet_p_thresh: float = 1e-4
    doublet_voter_thresh: float = 0.5
    seed: int = 0


def qc_metrics(adata: ad.AnnData) -> pd.DataFrame:
    """Per-cell ``n_counts``, ``n_genes`` and ``percent_mito`` (genes named ``MT-``/``mt-``) of raw counts."""
    counts = sp.csr_matrix(adata.X)
    n_counts = np.asarray(counts.sum(axis=1)).ravel()
    n_genes = np.diff(counts.indptr)
    mito = np.asarray(adata.var_names.str.upper().str.startswith("MT-"))
    mito_counts = np.asarray(counts[:, mito].sum(axis=1)).ravel() if mito.any() else np.zeros(adata.n_obs)
    percent_mito = np.divide(100.0 * mito_counts, n_counts, out=np.zeros(adata.n_obs), where=n_counts > 0)
    return pd.DataFrame({"n_counts": n_counts.astype(np.float64), "n_genes": n_genes.astype(np.int64),
                         "percent_mito": percent_mito}, index=adata.obs_names)


def detect_doublets(counts: sp.csr_matrix, params: RnaQcParams) -> tuple[np.ndarray, np.ndarray]:
    """DoubletDetection on raw counts (``scact.preprocessing.doublets``): (score, is_doublet) per cell."""
    return doublets.detect_doublets(counts, doublets.RAW_COUNTS, n_iters=params.doublet_n_iters,
                                    p_thresh=params.doublet_p_thresh, voter_thresh=params.doublet_voter_thresh,
                                    seed=params.seed)


def _refuse_too_few(failed: pd.Series, source) -> None:
    """Refuse a sample that keeps fewer than MIN_CELLS_AFTER_QC cells (``failed``: '' for a kept cell)."""
    n_kept = int((failed == "").sum())
    if n_kept >= MIN_CELLS_AFTER_QC:
        return
    removed = failed[failed != ""].value_counts()
    raise input_error(source, f"only {n_kept} of its {len(failed)} cells pass QC ("
                      + ", ".join(f"{reason}: {n}" for reason, n in removed.items())
                      + f"); at least {MIN_CELLS_AFTER_QC} are needed",
                      "lower --min_umis / --min_genes or raise --max_percent_mito (scact rna-qc: "
                      "--min-umis, --min-genes, --max-percent-mito), or leave this sample out")


def qc_sample(adata: ad.AnnData, params: RnaQcParams, source="input") -> tuple[ad.AnnData, pd.DataFrame, pd.DataFrame]:
    """QC one sample: (kept cells with raw counts and QC obs, table of removals by reason, all cells' metrics).

    ``source`` names the input file in errors (a threshold that removes every cell is refused).
    """
    if adata.n_obs == 0:
        raise input_error(source, "has no cells")
    metrics = qc_metrics(adata)
    failed = pd.Series("", index=adata.obs_names, dtype=object)
    failed[metrics["n_counts"] < params.min_umis] = "low_umis"
    unset = failed == ""
    failed[unset & (metrics["n_genes"] < params.min_genes)] = "low_genes"
    unset = failed == ""
    failed[unset & (metrics["percent_mito"] > params.max_percent_mito)] = "high_mito"
    unset = (failed == "").to_numpy()
    if not unset.any():
        raise input_error(source, f"every one of its {adata.n_obs} cells fails QC "
                          f"(min UMIs {params.min_umis}, min genes {params.min_genes}, "
                          f"max % mito {params.max_percent_mito})", "lower the thresholds")
    _refuse_too_few(failed, source)  # before DoubletDetection, which needs cells
    metrics["doublet_score"] = 0.0
    if params.remove_doublets:
        score, is_doublet = detect_doublets(sp.csr_matrix(adata.X[unset]), params)
        metrics.loc[unset, "doublet_score"] = score
        passed = failed.index[unset]
        failed[passed[is_doublet]] = "doublet"
    metrics["qc_fail"] = failed
    keep = (failed == "").to_numpy()
    if not keep.any():
        raise input_error(source, "every cell was called a doublet", "raise --doublet-voter-thresh")
    _refuse_too_few(failed, source)
    kept = adata[keep].copy()
    kept.X = sp.csr_matrix(kept.X, dtype=np.float32)
    for column in ("n_counts", "n_genes", "percent_mito", "doublet_score"):
        kept.obs[column] = metrics.loc[keep, column].to_numpy()
    table = qc_table(metrics, kept.obs["sample"].iloc[0] if "sample" in kept.obs else "sample", params)
    return kept, table, metrics


#: Largest value a log1p-normalised matrix plausibly holds: log1p(counts per million) stays below 14.
MAX_LOG_VALUE = 20.0
#: Largest plausible spread (99th / 1st percentile) of the per-cell totals of expm1(X): normalised cells
#: share one total (10,000 for CP10k), or a fraction of it when the genes were subset after normalising.
MAX_TOTAL_SPREAD = 20.0
NORMALISED_HINT = "the values must be log1p of depth-normalised counts, as scanpy's normalize_total + log1p write"


def check_log_normalised(matrix, source) -> None:
    """Refuse values that are not plausibly log-normalised expression (``--rna-normalised``), saying what
    they look like instead: raw counts, scaled data, unlogged values or log1p of raw counts."""
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    data = matrix.data
    if matrix.nnz == 0:
        raise input_error(source, "holds no non-zero value")
    if not np.isfinite(data).all():
        raise input_error(source, "holds NaN or infinite values")
    if np.allclose(data, np.round(data)):
        raise input_error(source, "holds integers only: these look like raw counts, not log-normalised values",
                          "drop --rna_normalised: the pipeline normalises counts itself")
    if data.min() < 0:
        raise input_error(source, f"holds negative values (down to {data.min():.3g}): scaled or centred data, "
                                  "not log-normalised values",
                          "give the log-normalised matrix before scaling (e.g. adata.raw.X) or raw counts")
    if data.max() > MAX_LOG_VALUE:
        raise input_error(source, f"holds values up to {data.max():.4g}: not on a log scale", NORMALISED_HINT)
    linear = np.expm1(data)
    if np.allclose(linear, np.round(linear), atol=1e-3):
        raise input_error(source, "expm1 of the values gives integers: log1p of raw counts, not depth-normalised",
                          "give the counts (np.expm1(X)) and drop --rna_normalised")
    totals = np.asarray(sp.csr_matrix((linear, matrix.indices, matrix.indptr), shape=matrix.shape).sum(axis=1)).ravel()
    totals = totals[totals > 0]
    low, high = np.percentile(totals, [1, 99])
    if high > MAX_TOTAL_SPREAD * low:
        raise input_error(source, f"the per-cell totals of expm1(values) range from {low:.4g} to {high:.4g} (1st-99th "
                                  f"percentile, {high / low:.0f}-fold): not normalised to a common total",
                          NORMALISED_HINT)


def estimated_depth(matrix) -> np.ndarray:
    """Counts per cell of log1p-normalised values: the total of expm1(X) divided by its smallest non-zero
    value, which is one count's worth (exact for log1p(counts x target / total) when a cell has a gene
    with one count; a lower bound otherwise). Cells without a non-zero value get 0."""
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    linear = np.expm1(matrix.data)
    depth = np.zeros(matrix.shape[0])
    rows = np.flatnonzero(np.diff(matrix.indptr))
    if len(rows):
        starts = matrix.indptr[rows]
        depth[rows] = np.add.reduceat(linear, starts) / np.minimum.reduceat(linear, starts)
    return depth


def qc_normalised_sample(adata: ad.AnnData, source="input") -> tuple[ad.AnnData, pd.DataFrame, pd.DataFrame]:
    """"QC" of a sample of log-normalised values (``--rna-normalised``): checked, then kept whole. Count
    thresholds and DoubletDetection need raw counts, so they are skipped and the table says so; ``n_counts``
    is the depth estimated from the values (``estimated_depth``)."""
    if adata.n_obs == 0:
        raise input_error(source, "has no cells")
    check_log_normalised(adata.X, source)
    matrix = sp.csr_matrix(adata.X, dtype=np.float32)
    mito = np.asarray(adata.var_names.str.upper().str.startswith("MT-"))
    linear = matrix.expm1()
    totals = np.asarray(linear.sum(axis=1)).ravel()
    mito_total = np.asarray(linear[:, mito].sum(axis=1)).ravel() if mito.any() else np.zeros(adata.n_obs)
    metrics = pd.DataFrame({"n_counts": estimated_depth(matrix), "n_genes": np.diff(matrix.indptr).astype(np.int64),
                            "percent_mito": np.divide(100.0 * mito_total, totals, out=np.zeros(adata.n_obs),
                                                      where=totals > 0),
                            "doublet_score": 0.0, "qc_fail": ""}, index=adata.obs_names)
    kept = adata.copy()
    kept.X = matrix
    for column in ("n_counts", "n_genes", "percent_mito", "doublet_score"):
        kept.obs[column] = metrics[column].to_numpy()
    sample = kept.obs["sample"].iloc[0] if "sample" in kept.obs else "sample"
    rows = [(sample, reason, 0, "skipped: log-normalised input (--rna_normalised)") for reason in QC_REASONS]
    rows += [(sample, "kept", adata.n_obs, ""), (sample, "total", adata.n_obs, "")]
    return kept, pd.DataFrame(rows, columns=["sample", "reason", "n_cells", "rule"]), metrics


def qc_table(metrics: pd.DataFrame, sample: str, params: RnaQcParams) -> pd.DataFrame:
    """Cells removed per reason (each cell counted once, under its first failed test), then kept and total."""
    thresholds = {"low_umis": f"n_counts < {params.min_umis}", "low_genes": f"n_genes < {params.min_genes}",
                  "high_mito": f"percent_mito > {params.max_percent_mito}",
                  "doublet": (f"DoubletDetection p <= {params.doublet_p_thresh:g} in >= "
                              f"{params.doublet_voter_thresh:g} of {params.doublet_n_iters} iterations"
                              if params.remove_doublets else "not run")}
    counts = metrics["qc_fail"].value_counts()
    rows = [(sample, reason, int(counts.get(reason, 0)), thresholds[reason]) for reason in QC_REASONS]
    rows.append((sample, "kept", int((metrics["qc_fail"] == "").sum()), ""))
    rows.append((sample, "total", len(metrics), ""))
    return pd.DataFrame(rows, columns=["sample", "reason", "n_cells", "rule"])


@dataclass(frozen=True)
class RnaProcessParams:
    """Normalisation and clustering (paper: log-normalised, top 3,000 HVGs, PCA 20, Leiden)."""

    n_top_genes: int = 3000
    n_pcs: int = 20
    n_neighbors: int = 15
    resolution: float = 1.0
    seed: int = 0


def concatenate_samples(samples: list[tuple[str, ad.AnnData]]) -> ad.AnnData:
    """Stack the QC'd samples on their shared genes; cell names must be unique across samples. A sample
    that keeps all its genes is not copied (nor is a lone sample stacked): at atlas size each copy of the
    counts is gigabytes (docs/benchmarks_scale.md), so the inputs must not be used afterwards."""
    if not samples:
        raise input_error("rna_process", "no RNA QC files given")
    genes = samples[0][1].var_names
    for path, adata in samples[1:]:
        genes = genes.intersection(adata.var_names, sort=False)
        if len(genes) == 0:
            raise input_error(path, "shares no gene with the other samples", "use one gene annotation")
    parts = []
    for path, adata in samples:
        if len(genes) < adata.n_vars:
            log.warning("%s: %d of %d genes kept (shared by all samples)", path, len(genes), adata.n_vars)
        part = adata[:, genes].copy() if len(genes) < adata.n_vars else adata
        for column, default in (("sample", str(path)), ("batch", None)):
            if column not in part.obs:
                part.obs[column] = default if default is not None else part.obs["sample"]
        parts.append(part)
    combined = parts[0] if len(parts) == 1 else ad.concat(parts, join="inner", merge="first")
    if not combined.obs_names.is_unique:
        duplicated = combined.obs_names[combined.obs_names.duplicated()][0]
        raise input_error(samples[0][0], f"cell name {duplicated!r} appears in more than one sample",
                          "name cells <sample>:<barcode> with distinct sample ids")
    combined.X = sp.csr_matrix(combined.X, dtype=np.float32)
    for column in ("sample", "batch"):
        combined.obs[column] = combined.obs[column].astype(str).astype("category")
    return combined


def log_normalise(adata: ad.AnnData, normalised: bool = False) -> ad.AnnData:
    """Raw counts in ``X`` -> log1p(CP10k) in ``X``, the counts kept in ``layers['counts']``, in place; with
    ``normalised`` (``--rna-normalised``) ``X`` already holds log-normalised values and is kept, with no
    ``layers['counts']``. Sets ``obs['n_counts']`` (for normalised values: as RNA QC estimated it) and
    ``obs['log_depth']``."""
    import scanpy as sc

    if normalised:
        adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
        n_counts = adata.obs["n_counts"].to_numpy(np.float64) if "n_counts" in adata.obs else estimated_depth(adata.X)
    else:
        adata.layers["counts"] = sp.csr_matrix(adata.X, dtype=np.float32)
        n_counts = np.asarray(adata.layers["counts"].sum(axis=1)).ravel()
    adata.obs["n_counts"] = n_counts
    adata.obs["log_depth"] = np.log1p(n_counts)  # natural log, as atac_process records it
    if not normalised:
        sc.pp.normalize_total(adata, target_sum=1e4)
        sc.pp.log1p(adata)
        adata.uns.pop("log1p", None)
        adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    return adata


def process_rna(adata: ad.AnnData, params: RnaProcessParams, normalised: bool = False) -> ad.AnnData:
    """Normalise (``log_normalise``), select HVGs, PCA, kNN, Leiden and UMAP, in place; all genes are kept.

    ``var['highly_variable']`` marks the top ``n_top_genes`` (all genes when fewer), ranked within batches
    when there are several.
    """
    import scanpy as sc

    if adata.n_obs < 3:
        raise input_error("rna_process", f"only {adata.n_obs} cells after QC; at least 3 are needed")
    log_normalise(adata, normalised)
    select_hvgs(adata, params.n_top_genes)
    hvg = adata[:, adata.var["highly_variable"].to_numpy()].copy()
    if sp.issparse(hvg.X):  # densified here in float32: scanpy would centre the sparse matrix into float64
        hvg.X = hvg.X.toarray()
    n_pcs = max(1, min(params.n_pcs, hvg.n_vars - 1, hvg.n_obs - 1))
    sc.pp.scale(hvg, max_value=10)
    sc.tl.pca(hvg, n_comps=n_pcs, random_state=params.seed, svd_solver="arpack" if n_pcs < min(hvg.shape) - 1 else "full")
    adata.obsm["X_pca"] = hvg.obsm["X_pca"].astype(np.float32)
    sc.pp.neighbors(adata, n_neighbors=min(params.n_neighbors, adata.n_obs - 1), use_rep="X_pca",
                    random_state=params.seed)
    sc.tl.leiden(adata, resolution=params.resolution, random_state=params.seed, key_added="leiden",
                 flavor="igraph", n_iterations=-1, directed=False)
    adata.obs["leiden"] = adata.obs["leiden"].astype(str).astype("category")
    sc.tl.umap(adata, random_state=params.seed)
    return adata


def select_hvgs(adata: ad.AnnData, n_top_genes: int) -> None:
    """Mark the top ``n_top_genes`` by normalised dispersion (scanpy 'seurat' flavour on log data)."""
    import scanpy as sc

    values = adata.layers["counts"] if "counts" in adata.layers else adata.X
    expressed = np.asarray((values > 0).sum(axis=0)).ravel() > 0
    n_top = min(n_top_genes, int(expressed.sum()))
    if n_top >= int(expressed.sum()):
        adata.var["highly_variable"] = expressed
        return
    batch_key = "batch" if adata.obs["batch"].nunique() > 1 else None
    sc.pp.highly_variable_genes(adata, n_top_genes=n_top, flavor="seurat", batch_key=batch_key)
    if batch_key is not None:  # per-batch ranking leaves ties; keep exactly n_top genes
        order = adata.var.sort_values(["highly_variable_nbatches", "dispersions_norm"], ascending=False).index
        adata.var["highly_variable"] = adata.var_names.isin(order[:n_top])
    adata.var["highly_variable"] &= expressed


def params_dict(params) -> dict:
    """A dataclass of parameters as a plain dict (for provenance)."""
    return asdict(params)
