"""Peak-to-gene linkage: Pearson correlation of a peak's accessibility with a gene's expression across
metacells, for the peaks within a window of the gene's TSS.

Single cells are too sparse for this (a peak is open in <1% of cells), so cells are first pooled into
metacells: each metacell is the mean of a seed cell's k nearest neighbours in an embedding of the cells.
p-values come from the t distribution of r with n_metacells - 2 degrees of freedom, FDR by
Benjamini-Hochberg over all pairs of one source. Sources: observed paired cells, RNA with its translated
ATAC, ATAC with its translated RNA; their agreement says whether the translation keeps the regulation.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from scact.perturbation.tss import tss_by_gene
from scact.stats import benjamini_hochberg, column_pearson

log = logging.getLogger(__name__)

LINK_COLUMNS = ["source", "gene", "peak", "chrom", "start", "end", "tss", "distance", "r", "p_value", "fdr",
                "significant"]


def empty_links() -> pd.DataFrame:
    """A links table without rows, typed as a filled one (its writers round r and compare fdr)."""
    types = {"start": "int64", "end": "int64", "tss": "int64", "distance": "int64", "r": "float64",
             "p_value": "float64", "fdr": "float64", "significant": "bool"}
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, "object")) for c in LINK_COLUMNS})


def cell_embedding(adata, obsm_key: str | None = None, n_components: int = 20, seed: int = 0) -> np.ndarray:
    """An embedding to find neighbours in: ``obsm[obsm_key]``, else X_lsi/X_pca, else a truncated SVD of X."""
    for key in ([obsm_key] if obsm_key else []) + ["X_lsi", "X_pca"]:
        if key in adata.obsm:
            return np.asarray(adata.obsm[key], dtype=np.float64)
    if obsm_key:
        log.warning("obsm has no %r; using a truncated SVD of X", obsm_key)
    from sklearn.decomposition import TruncatedSVD

    matrix = sp.csr_matrix(adata.X, dtype=np.float64)
    n_components = max(1, min(n_components, min(matrix.shape) - 1))
    embedding = TruncatedSVD(n_components, random_state=seed).fit_transform(matrix)
    return embedding / np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)


def metacell_aggregation(embedding: np.ndarray, n_metacells: int = 300, k: int = 30, seed: int = 0) -> sp.csr_matrix:
    """A metacells x cells matrix whose rows average the ``k`` nearest neighbours of random seed cells."""
    from sklearn.neighbors import NearestNeighbors

    n_cells = embedding.shape[0]
    k = min(k, n_cells)
    seeds = np.random.default_rng(seed).choice(n_cells, min(n_metacells, n_cells), replace=False)
    neighbours = NearestNeighbors(n_neighbors=k).fit(embedding).kneighbors(embedding[seeds], return_distance=False)
    rows = np.repeat(np.arange(len(seeds)), k)
    return sp.csr_matrix((np.full(rows.size, 1.0 / k), (rows, neighbours.ravel())), shape=(len(seeds), n_cells))


def window_pairs(genes: list[str], tss: pd.DataFrame, peaks: pd.DataFrame, window: int) -> tuple[pd.DataFrame, dict]:
    """Gene-peak pairs whose peak midpoint lies within ``window`` bp of one of the gene's TSS.

    Returns the pairs (gene, peak index, tss, signed distance) and a status message per gene that has none.
    """
    lookup = tss_by_gene(tss)
    middle = ((peaks["start"].to_numpy() + peaks["end"].to_numpy()) // 2).astype(np.int64)
    chrom = peaks["chrom"].astype(str).to_numpy()
    by_chrom = {}  # chromosome -> (sorted midpoints, peak indices): each window is a binary search
    for name in np.unique(chrom):
        index = np.flatnonzero(chrom == name)
        order = np.argsort(middle[index], kind="stable")
        by_chrom[name] = (middle[index][order], index[order])
    rows, problems = [], {}
    for gene in genes:
        if gene not in lookup:
            problems[gene] = "no TSS in the annotation"
            continue
        best: dict[int, tuple[int, int]] = {}
        for chrom_name, position in lookup[gene][["chrom", "tss"]].itertuples(index=False):
            if chrom_name not in by_chrom:
                continue
            positions, index = by_chrom[chrom_name]
            low = np.searchsorted(positions, position - window, side="left")
            high = np.searchsorted(positions, position + window, side="right")
            for peak in index[low:high]:
                distance = int(middle[peak] - position)
                if peak not in best or abs(distance) < abs(best[peak][1]):
                    best[peak] = (int(position), distance)
        if not best:
            problems[gene] = f"no peak within {window} bp of its TSS"
            continue
        rows += [(gene, peak, position, distance) for peak, (position, distance) in best.items()]
    return pd.DataFrame(rows, columns=["gene", "peak_index", "tss", "distance"]), problems


def pearson_p_value(r: np.ndarray, n: int) -> np.ndarray:
    """Two-sided p-value of Pearson's r over ``n`` observations (t test with n - 2 degrees of freedom)."""
    r = np.clip(r, -1 + 1e-12, 1 - 1e-12)
    t = r * np.sqrt((n - 2) / (1 - r ** 2))
    p = 2 * stats.t.sf(np.abs(t), df=n - 2)
    return np.where(np.isnan(r), 1.0, p)


def link_source(source: str, expression, gene_names, accessibility, peaks: pd.DataFrame, pairs: pd.DataFrame,
                aggregation: sp.csr_matrix, fdr: float = 0.05) -> pd.DataFrame:
    """Correlate the pairs on one source. ``expression`` (cells x genes) and ``accessibility`` (cells x
    peaks, aligned with ``peaks``) share rows; only the columns in ``pairs`` are aggregated."""
    if pairs.empty:
        return empty_links()
    gene_position = {name: i for i, name in enumerate(gene_names)}
    pairs = pairs[pairs["gene"].isin(gene_position)]
    gene_columns = np.unique([gene_position[g] for g in pairs["gene"]])
    peak_columns = np.unique(pairs["peak_index"].to_numpy())
    gene_mc = _dense(aggregation @ _columns(expression, gene_columns))
    peak_mc = _dense(aggregation @ _columns(accessibility, peak_columns))
    gene_slot = {c: i for i, c in enumerate(gene_columns)}
    peak_slot = {c: i for i, c in enumerate(peak_columns)}
    a = gene_mc[:, [gene_slot[gene_position[g]] for g in pairs["gene"]]]
    b = peak_mc[:, [peak_slot[p] for p in pairs["peak_index"]]]
    r = column_pearson(a, b)
    p = pearson_p_value(r, aggregation.shape[0])
    q = benjamini_hochberg(p)
    index = pairs["peak_index"].to_numpy()
    return pd.DataFrame({
        "source": source, "gene": pairs["gene"].to_numpy(), "peak": peaks.index.to_numpy()[index],
        "chrom": peaks["chrom"].to_numpy()[index], "start": peaks["start"].to_numpy()[index],
        "end": peaks["end"].to_numpy()[index], "tss": pairs["tss"].to_numpy(), "distance": pairs["distance"].to_numpy(),
        "r": r, "p_value": p, "fdr": q, "significant": (q < fdr) & (r > 0),
    })


def _dense(matrix) -> np.ndarray:
    return matrix.toarray().astype(np.float64) if sp.issparse(matrix) else np.asarray(matrix, dtype=np.float64)


def _columns(matrix, columns: np.ndarray):
    """Selected columns as a sparse or dense block (never densifying a whole sparse matrix)."""
    if sp.issparse(matrix):
        return sp.csc_matrix(matrix)[:, columns] if not sp.isspmatrix_csc(matrix) else matrix[:, columns]
    return np.asarray(matrix[:, columns])


AGREEMENT_COLUMNS = ["reference", "source", "pairs_tested", "r_correlation", "significant_reference",
                     "significant_source", "significant_both", "jaccard", "precision_vs_reference",
                     "recall_of_reference"]


def link_agreement(links: pd.DataFrame, reference: str = "observed") -> pd.DataFrame:
    """Overlap of significant links and correlation of r between ``reference`` and each other source
    (no rows without the reference, e.g. observed links of unpaired data)."""
    rows = []
    if reference not in set(links["source"]):
        return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    base = links[links["source"] == reference].set_index(["gene", "peak"])
    for source in sorted(set(links["source"]) - {reference}):
        other = links[links["source"] == source].set_index(["gene", "peak"])
        common = base.index.intersection(other.index)
        r_ref, r_other = base.loc[common, "r"].to_numpy(), other.loc[common, "r"].to_numpy()
        finite = np.isfinite(r_ref) & np.isfinite(r_other)
        sig_ref = set(base.index[base["significant"]]) & set(common)
        sig_other = set(other.index[other["significant"]]) & set(common)
        both = len(sig_ref & sig_other)
        union = len(sig_ref | sig_other)
        rows.append({
            "reference": reference, "source": source, "pairs_tested": len(common),
            "r_correlation": float(stats.pearsonr(r_ref[finite], r_other[finite])[0]) if finite.sum() > 2 else np.nan,
            "significant_reference": len(sig_ref), "significant_source": len(sig_other), "significant_both": both,
            "jaccard": both / union if union else np.nan,
            "precision_vs_reference": both / len(sig_other) if sig_other else np.nan,
            "recall_of_reference": both / len(sig_ref) if sig_ref else np.nan,
        })
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def to_bedpe(links: pd.DataFrame) -> pd.DataFrame:
    """BEDPE (IGV): peak as the first end, the TSS base as the second, r as score."""
    return pd.DataFrame({
        "chrom1": links["chrom"], "start1": links["start"], "end1": links["end"],
        "chrom2": links["chrom"], "start2": links["tss"], "end2": links["tss"] + 1,
        "name": links["gene"] + "|" + links["peak"].astype(str), "score": links["r"].round(4),
        "strand1": ".", "strand2": ".", "fdr": links["fdr"].map(lambda v: f"{v:.3g}"),
    })


def to_interact(links: pd.DataFrame) -> pd.DataFrame:
    """UCSC ``interact`` (bed5+13) rows: source = peak, target = the gene's TSS; score scales r to 0-1000."""
    low = np.minimum(links["start"], links["tss"])
    high = np.maximum(links["end"], links["tss"] + 1)
    return pd.DataFrame({
        "chrom": links["chrom"], "chromStart": low, "chromEnd": high,
        "name": links["gene"] + "|" + links["peak"].astype(str),
        "score": (np.clip(links["r"].fillna(0), 0, 1) * 1000).round().astype(int), "value": links["r"].round(4),
        "exp": links["source"], "color": np.where(links["r"] > 0, "#B2182B", "#2166AC"),
        "sourceChrom": links["chrom"], "sourceStart": links["start"], "sourceEnd": links["end"],
        "sourceName": links["peak"].astype(str), "sourceStrand": ".",
        "targetChrom": links["chrom"], "targetStart": links["tss"], "targetEnd": links["tss"] + 1,
        "targetName": links["gene"], "targetStrand": ".",
    })


def plot_gene_links(links: pd.DataFrame, gene: str, path, top_ig_peaks: pd.DataFrame | None = None,
                    window: int | None = None) -> None:
    """Arcs from the TSS to each tested peak, one panel per source (height: r; solid: significant), with the
    top IG peaks marked as triangles (the paper's Fig. 5C)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Arc

    from scact.io.atomic import atomic_path

    gene_links = links[links["gene"] == gene]
    sources = list(dict.fromkeys(gene_links["source"]))
    fig, axes = plt.subplots(len(sources), 1, figsize=(9, 1.9 * len(sources) + 0.6), sharex=True, squeeze=False)
    tss = int(gene_links["tss"].iloc[0])
    middle = (gene_links["start"] + gene_links["end"]) / 2
    span = window or max(1, int(np.abs(middle - tss).max()))
    for ax, source in zip(axes[:, 0], sources):
        rows = gene_links[gene_links["source"] == source]
        for row in rows.itertuples():
            centre = (row.start + row.end) / 2
            height = abs(row.r) if np.isfinite(row.r) else 0
            if height == 0:  # r = 0 or undefined (a constant profile): no arc (matplotlib divides by its height)
                continue
            ax.add_patch(Arc(((centre + row.tss) / 2, 0), abs(centre - row.tss) or 1, 2 * height, theta1=0,
                             theta2=180, color="#B2182B" if row.r > 0 else "#2166AC",
                             linestyle="-" if row.significant else ":", lw=1.6 if row.significant else 0.8))
        ax.plot((rows["start"] + rows["end"]) / 2, np.zeros(len(rows)), "|", color="0.3", ms=8)
        ax.axvline(tss, color="0.5", lw=0.8)
        if top_ig_peaks is not None and len(top_ig_peaks):
            marked = top_ig_peaks[top_ig_peaks["chrom"] == rows["chrom"].iloc[0]]
            centres = (marked["start"] + marked["end"]) / 2
            centres = centres[np.abs(centres - tss) <= span]
            ax.plot(centres, np.full(len(centres), -0.08), "^", color="#E08214", ms=7, label="top IG peaks")
        ax.set_ylim(-0.15, 1.05)
        ax.set_ylabel(f"{source}\n|r|", fontsize=8)
    axes[0, 0].set_xlim(tss - span * 1.05, tss + span * 1.05)
    axes[0, 0].set_title(f"{gene}: peak-to-gene links ({gene_links['chrom'].iloc[0]}, TSS at {tss:,})")
    axes[-1, 0].set_xlabel("position (bp); solid: FDR < threshold, red: positive r; triangles: top IG peaks")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def selected_columns(adata, columns: np.ndarray, rows: np.ndarray | None = None):
    """Columns (and rows) of ``adata.X``, or of a translation file read in row blocks
    (:class:`scact.io.translated.TranslatedAccessibility`), never densifying a whole matrix."""
    from scact.io.translated import TranslatedAccessibility

    if isinstance(adata, TranslatedAccessibility):
        return adata.columns(columns, rows)
    matrix = adata.X
    rows = np.arange(adata.n_obs) if rows is None else np.asarray(rows)
    if sp.issparse(matrix):
        return sp.csr_matrix(matrix)[rows][:, columns]
    block = matrix[rows][:, columns] if len(rows) != adata.n_obs else _columns(matrix, columns)
    return block


def link_genes(genes: list[str], tss: pd.DataFrame, sources: list[dict], *, window: int = 100_000,
               n_metacells: int = 300, k: int = 30, fdr: float = 0.05, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Links of ``genes`` on each source and one status row per gene.

    Each source is a dict: ``name``, ``expression`` / ``accessibility`` (AnnData, rows matched by obs name),
    ``peaks`` (coordinates of the accessibility columns), ``embedding`` ((cell names, cells x d array)) in
    which the metacells' neighbours are found.
    """
    tables, status = [], {gene: {"gene": gene} for gene in genes}
    for source in sources:
        name, rna, atac = source["name"], source["expression"], source["accessibility"]
        common = rna.obs_names.intersection(atac.obs_names, sort=False)
        if len(common) < max(10, k):
            log.warning("%s: only %d cells in both matrices%s; skipped", name, len(common),
                        " (unpaired data)" if name == "observed" else "")
            continue
        rna_rows = rna.obs_names.get_indexer(common)
        atac_rows = atac.obs_names.get_indexer(common)
        embedding_names, embedding = source["embedding"]
        embedding_rows = embedding_names.get_indexer(common)
        if (embedding_rows < 0).any():
            raise ValueError(f"{name}: the embedding does not cover every cell of the source")
        embedding = embedding[embedding_rows]
        aggregation = metacell_aggregation(embedding, n_metacells, k, seed)
        peaks = source["peaks"]
        expressed = set(rna.var_names)
        present = [g for g in genes if g in expressed]
        for gene in set(genes) - set(present):
            status[gene][f"{name}"] = "gene not in the expression matrix"
        pairs, problems = window_pairs(present, tss, peaks, window)
        for gene, problem in problems.items():
            status[gene][name] = problem
        if pairs.empty:
            continue
        gene_index = rna.var_names.get_indexer(pairs["gene"].unique())
        peak_index = np.unique(pairs["peak_index"].to_numpy())
        expression = selected_columns(rna, gene_index, rna_rows)
        accessibility = selected_columns(atac, peak_index, atac_rows)
        local_pairs = pairs.assign(peak_index=np.searchsorted(peak_index, pairs["peak_index"]))
        table = link_source(name, expression, list(pairs["gene"].unique()), accessibility, peaks.iloc[peak_index],
                            local_pairs, aggregation, fdr)
        tables.append(table)
        counts = table.groupby("gene")["significant"].agg(["size", "sum"])
        for gene, (tested, significant) in counts.iterrows():
            status[gene][name] = f"{int(tested)} peaks tested, {int(significant)} significant"
        print(f"{name}: {len(table)} gene-peak pairs over {aggregation.shape[0]} metacells of {k} cells, "
              f"{int(table['significant'].sum())} significant at FDR < {fdr}", flush=True)
    links = pd.concat(tables, ignore_index=True) if tables else empty_links()
    return links, pd.DataFrame(list(status.values()))
