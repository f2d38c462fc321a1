"""Cell-type labels: from the user (an obs column or a barcode,label file) or from marker genes per cluster.

Built-in marker sets are pegasus 1.10.2's curated lists (``human_immune`` (alias ``human_pbmc``),
``mouse_immune``, ``human_brain``, ``mouse_brain`` (aliases ``human_cortex``/``mouse_cortex``),
``human_lung``, ``mouse_lung``, ``mouse_liver``), read at their top level (major types such as "T cell",
"B cell", "CD14+ Monocyte"): coarse types are the ones both modalities can resolve, which the weakly
supervised model needs. pegasus' own ``infer_cell_types`` is not used because it scores clusters from a
per-cluster differential-expression test over all genes, which needs pegasus' DE pipeline and a full
transcriptome; gene-activity matrices and small panels (the 45-gene test data) do not fit it. The scoring
here works on any cells x genes matrix, RNA expression or ATAC gene activity alike:

  score(cluster, type) = sqrt(coverage) * mean over the type's positive markers of z(cluster mean)
                         - mean over its negative markers of z(cluster mean),

with z(.) the gene's cluster mean minus its mean over all cells, divided by its standard deviation over
all cells (log1p CP10k values), and coverage the share of the type's positive markers found in the data
(so that a type seen through one of its ten markers does not beat one seen through three of five). Each cluster takes its best type if that score reaches ``min_score``
and otherwise ``UNASSIGNED``.
"""
from __future__ import annotations

import json
import logging
import os
from importlib import resources
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.errors import input_error
from scact.stats import one_vs_rest_t, type_moments

log = logging.getLogger(__name__)

UNASSIGNED = "unassigned"
#: one-vs-rest scores that rank the marker genes of a cell type (:func:`marker_genes`)
MARKER_STATISTICS = ("mean_difference", "welch_t")

_PEGASUS_SETS = {
    "human_immune": "human_immune", "human_pbmc": "human_immune", "mouse_immune": "mouse_immune",
    "human_brain": "human_brain", "human_cortex": "human_brain", "mouse_brain": "mouse_brain",
    "mouse_cortex": "mouse_brain", "human_lung": "human_lung", "mouse_lung": "mouse_lung",
    "mouse_liver": "mouse_liver",
}
BUILTIN_MARKER_SETS = tuple(_PEGASUS_SETS)


def load_markers(spec: str | os.PathLike) -> dict[str, dict[str, list[str]]]:
    """Markers by cell type: ``{type: {"+": genes, "-": genes}}`` from a built-in set name or a file.

    A file is CSV/TSV with columns ``cell_type,gene`` (a header line is optional); a gene may end in
    ``-`` to mark it as a negative marker (``+`` or nothing: positive).
    """
    spec = str(spec)
    if spec in _PEGASUS_SETS:
        return _pegasus_markers(_PEGASUS_SETS[spec])
    path = Path(spec)
    if not path.is_file():
        raise input_error(path, "marker file not found and not a built-in marker set",
                          f"give a cell_type,gene file or one of {', '.join(BUILTIN_MARKER_SETS)}")
    table = _read_two_columns(path, ("cell_type", "gene"))
    markers: dict[str, dict[str, list[str]]] = {}
    for cell_type, gene in table.itertuples(index=False):
        sign = "-" if gene.endswith("-") and len(gene) > 1 else "+"
        gene = gene[:-1] if gene[-1] in "+-" and len(gene) > 1 else gene
        markers.setdefault(cell_type, {"+": [], "-": []})[sign].append(gene)
    if not markers:
        raise input_error(path, "contains no cell_type,gene rows")
    return markers


def _pegasus_markers(name: str) -> dict[str, dict[str, list[str]]]:
    source = resources.files("pegasus.annotate_cluster") / f"{name}_cell_markers.json"
    content = json.loads(source.read_text())
    markers = {}
    for cell_type in content["cell_types"]:
        genes = [g for marker_set in cell_type["markers"] for g in marker_set["genes"]]
        markers[cell_type["name"]] = {"+": [g[:-1] for g in genes if g.endswith("+")],
                                      "-": [g[:-1] for g in genes if g.endswith("-")]}
    return markers


def _read_two_columns(path: Path, names: tuple[str, str]) -> pd.DataFrame:
    """A two-column CSV/TSV (tab, comma or whitespace separated) with or without a header line."""
    try:
        table = pd.read_csv(path, sep=None, engine="python", header=None, dtype=str, comment="#",
                            skip_blank_lines=True)
    except Exception as err:
        raise input_error(path, f"cannot be read as CSV/TSV ({err})") from err
    if table.shape[1] < 2:
        raise input_error(path, f"needs two columns {names[0]},{names[1]}", "separate them by a comma or tab")
    table = table.iloc[:, :2].dropna()
    table.columns = list(names)
    first = [str(v).strip().lower() for v in table.iloc[0]] if len(table) else []
    if first and (first[0] in (names[0], "barcode", "cell", "cell_type", "label") or first[1] in (names[1], "label", "gene")):
        table = table.iloc[1:]
    return table.apply(lambda column: column.str.strip())


def log_normalised(adata: ad.AnnData, layer: str | None = None, columns: np.ndarray | None = None) -> sp.csr_matrix:
    """log1p(CP10k) of ``adata.layers[layer]`` (or ``X``) as float32 CSR, for scoring raw counts or gene
    activity; ``columns`` keeps only those genes (depths still over all), so that only they are copied."""
    return log_cp10k(adata.layers[layer] if layer else adata.X, columns)


def log_cp10k(counts, columns: np.ndarray | None = None) -> sp.csr_matrix:
    """log1p(counts per 10,000) as a new float32 CSR, built in place in one copy (atlas-size matrices);
    ``columns`` keeps only those columns, normalised by the totals over all of them."""
    counts = sp.csr_matrix(counts)
    totals = np.asarray(counts.sum(axis=1, dtype=np.float64)).ravel()
    matrix = sp.csr_matrix(counts if columns is None else counts[:, columns], dtype=np.float32, copy=True)
    scale = np.divide(1e4, totals, out=np.zeros_like(totals), where=totals > 0)
    matrix.data *= np.repeat(scale.astype(np.float32), np.diff(matrix.indptr))
    np.log1p(matrix.data, out=matrix.data)
    return matrix


def marker_columns(genes: pd.Index, markers: dict[str, dict[str, list[str]]]) -> np.ndarray:
    """Positions of the marker genes (either sign, any case) among ``genes``."""
    wanted = {g.upper() for sets in markers.values() for g in sets["+"] + sets["-"]}
    return np.flatnonzero(pd.Index(genes).str.upper().isin(wanted))


def score_clusters(expression: sp.spmatrix | np.ndarray, genes: pd.Index, clusters: pd.Series,
                   markers: dict[str, dict[str, list[str]]]) -> pd.DataFrame:
    """Marker score of every (cluster, cell type); NaN where the type has no positive marker among ``genes``."""
    expression = sp.csr_matrix(expression)
    clusters = pd.Categorical(clusters)
    upper = pd.Index(genes).str.upper()
    columns = marker_columns(genes, markers)
    sub = expression[:, columns]
    mean = np.asarray(sub.mean(axis=0)).ravel()
    sq = np.asarray(sub.multiply(sub).mean(axis=0)).ravel()
    sd = np.sqrt(np.maximum(sq - mean**2, 0.0))
    indicator = sp.csr_matrix((np.ones(len(clusters)), (clusters.codes, np.arange(len(clusters)))),
                              shape=(len(clusters.categories), len(clusters)))
    sizes = np.asarray(indicator.sum(axis=1)).ravel()
    cluster_mean = np.asarray((indicator @ sub).todense()) / sizes[:, None]
    z = np.divide(cluster_mean - mean, sd, out=np.zeros_like(cluster_mean), where=sd > 0)
    position = {gene: i for i, gene in enumerate(upper[columns])}
    scores = {}
    for cell_type, sets in markers.items():
        plus = [position[g.upper()] for g in sets["+"] if g.upper() in position]
        minus = [position[g.upper()] for g in sets["-"] if g.upper() in position]
        if not plus:
            continue
        coverage = len(plus) / len({g.upper() for g in sets["+"]})
        score = z[:, plus].mean(axis=1) * np.sqrt(coverage)
        if minus:
            score = score - z[:, minus].mean(axis=1)
        scores[cell_type] = score
    return pd.DataFrame(scores, index=pd.Index(clusters.categories.astype(str), name="cluster"))


def marker_genes(expression, gene_names, labels, per_type: int = 2, limit: int | None = None,
                 statistic: str = "mean_difference") -> list[str]:
    """Genes most specific to each cell type, one vs the rest, to show or colour by (distinct, at most
    ``limit``): for each type, largest first, its ``per_type`` best-scoring genes with a positive score that
    no earlier type took. ``statistic``: ``mean_difference`` (mean in the type minus mean elsewhere) or
    ``welch_t`` (the same difference over its standard error, which favours genes steady within the type).
    """
    if statistic not in MARKER_STATISTICS:
        raise ValueError(f"statistic must be one of {MARKER_STATISTICS} (got {statistic!r})")
    labels = np.asarray(labels)
    if statistic == "welch_t":
        scores = one_vs_rest_t(expression, labels)
    else:  # from per-type sums: the matrix (sparse or dense, atlas-size) is never copied
        names, sizes, sums, _ = type_moments(expression, labels)
        total, n = sums.sum(0), sizes.sum()
        scores = {t: sums[i] / sizes[i] - (total - sums[i]) / (n - sizes[i]) for i, t in enumerate(names)
                  if sizes[i] < n}
    chosen: list[str] = []
    for cell_type in pd.Series(labels).value_counts().index:
        if cell_type not in scores:
            continue
        score = scores[cell_type]
        picks = [str(gene_names[i]) for i in np.argsort(-score) if score[i] > 0]
        chosen += [g for g in picks if g not in chosen][:per_type]
    return chosen[:limit]


def label_by_markers(adata: ad.AnnData, markers: dict, cluster_key: str = "leiden", layer: str | None = None,
                     normalise: bool = False, min_score: float = 0.2, source="markers") -> tuple[pd.Series, pd.DataFrame]:
    """One cell type per cluster from marker scores: (label per cell, cluster x type score table).

    ``normalise`` applies log1p(CP10k) first (raw counts, gene activity); otherwise ``X``/``layer`` is used
    as it is (already log-normalised RNA).
    """
    if cluster_key not in adata.obs:
        raise input_error(source, f"the data have no obs['{cluster_key}'] clusters to label")
    genes = adata.var_names
    if normalise:  # only the marker genes are scored: only they are normalised (atlas-size gene activity)
        columns = marker_columns(genes, markers)
        expression, genes = log_normalised(adata, layer, columns), genes[columns]
    else:
        expression = adata.layers[layer] if layer else adata.X
    scores = score_clusters(expression, genes, adata.obs[cluster_key].astype(str), markers)
    if scores.shape[1] == 0:
        raise input_error(source, "none of its marker genes is among the data's genes "
                          f"(e.g. {', '.join(list(adata.var_names[:3]))})",
                          "pick the marker set of the right species/tissue or give a cell_type,gene file")
    best = scores.idxmax(axis=1)
    best[scores.max(axis=1) < min_score] = UNASSIGNED
    cluster_names = best.to_dict()
    scores = scores.assign(assigned=best)
    labels = adata.obs[cluster_key].astype(str).map(cluster_names).fillna(UNASSIGNED)
    return labels.rename("cell_type"), scores


def read_label_file(path: str | os.PathLike, adata: ad.AnnData) -> pd.Series:
    """Labels from a ``barcode,label`` file matched on cell names (``<sample>:<barcode>``) or barcodes.

    Cells the file does not name get ``UNASSIGNED``; a file that names none of the cells is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "label file not found")
    table = _read_two_columns(path, ("barcode", "label"))
    by_name = dict(zip(table["barcode"], table["label"]))
    labels = pd.Series(pd.Index(adata.obs_names).map(by_name), index=adata.obs_names, dtype=object)
    if "barcode" in adata.obs:
        from_barcode = adata.obs["barcode"].astype(str).map(by_name)
        labels = labels.fillna(from_barcode)
    matched = int(labels.notna().sum())
    if matched == 0:
        example = table["barcode"].iloc[0] if len(table) else "nothing"
        raise input_error(path, f"none of its {len(table)} barcodes (e.g. {example!r}) matches a cell "
                          f"(e.g. {adata.obs_names[0]!r})", "use the barcodes or <sample>:<barcode> cell names")
    if matched < adata.n_obs:
        log.warning("%s: %d of %d cells have no label; they become %r", path, adata.n_obs - matched,
                    adata.n_obs, UNASSIGNED)
    return labels.fillna(UNASSIGNED).astype(str).rename("cell_type")


def assign_labels(adata: ad.AnnData, labels: str | None = None, markers: str | None = None,
                  cluster_key: str = "leiden", layer: str | None = None, normalise: bool = False,
                  min_score: float = 0.2) -> pd.DataFrame | None:
    """Set ``obs['cell_type']``: user file > user ``obs['label']`` > markers. Returns marker scores if used."""
    if labels:
        adata.obs["cell_type"] = read_label_file(labels, adata).astype("category")
        return None
    if "label" in adata.obs and adata.obs["label"].notna().any():
        user = adata.obs["label"].astype(object).where(adata.obs["label"].notna(), UNASSIGNED)
        adata.obs["cell_type"] = user.astype(str).replace({"": UNASSIGNED, "nan": UNASSIGNED}).astype("category")
        return None
    marker_sets = load_markers(markers or "human_pbmc")
    cell_types, scores = label_by_markers(adata, marker_sets, cluster_key, layer, normalise, min_score,
                                          source=markers or "human_pbmc")
    adata.obs["cell_type"] = cell_types.astype("category")
    return scores
