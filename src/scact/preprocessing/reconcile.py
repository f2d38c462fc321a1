"""Between the modalities: ATAC labels, one shared cell-type vocabulary, and the two training inputs.

The weakly supervised model pairs one discriminator with each cell type, so a type must carry the same
name in both modalities. Names are matched case-, space- and underscore-insensitively after an optional
user mapping (``label,cell_type`` rows applied to both modalities); the RNA spelling wins. Types seen in
one modality only are reported; their cells are kept with ``obs['shared_type'] = False`` or dropped.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.errors import input_error
from scact.preprocessing.atac import binarize
from scact.preprocessing.labels import UNASSIGNED, _read_two_columns, assign_labels

log = logging.getLogger(__name__)

RNA_OBS = ("sample", "batch", "n_counts", "log_depth", "leiden", "cell_type", "shared_type")
ATAC_OBS = ("sample", "batch", "n_fragments", "tss_enrichment", "log_depth", "leiden", "cell_type", "shared_type")


def label_key(name: str) -> str:
    """The matching key of a label: lower case, runs of spaces/underscores collapsed to one space."""
    return re.sub(r"[\s_]+", " ", str(name).strip().lower())


def read_label_mapping(path) -> dict[str, str]:
    """A ``label,cell_type`` file renaming labels (matched by ``label_key``) before reconciliation."""
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "label mapping file not found")
    table = _read_two_columns(path, ("label", "cell_type"))
    if table.empty:
        raise input_error(path, "contains no label,cell_type rows")
    return {label_key(a): b for a, b in table.itertuples(index=False)}


def label_atac(atac: ad.AnnData, gene_activity: ad.AnnData | None, labels=None, markers=None,
               min_score: float = 0.2, source="atac_processed.h5ad") -> pd.DataFrame | None:
    """ATAC ``obs['cell_type']``: user file, else user ``obs['label']``, else markers on gene activity.

    Marker scores use the ATAC Leiden clusters and log1p(CP10k) of the gene-activity counts
    (``layers['counts']`` when present, as atac_process writes it, else ``X``); ``gene_activity`` may be
    backed (its ``X`` is then not read when it has counts).
    """
    if labels or ("label" in atac.obs and atac.obs["label"].notna().any()):
        return assign_labels(atac, labels=labels)
    if gene_activity is None:
        raise input_error(source, "has no user labels and no gene activity was given",
                          "pass --gene-activity gene_activity.h5ad or --atac-labels")
    missing = atac.obs_names.difference(gene_activity.obs_names)
    if len(missing):
        raise input_error("gene activity", f"{len(missing)} ATAC cells have no gene-activity row "
                          f"(e.g. {missing[0]!r})", "use the gene_activity.h5ad of the same atac_process run")
    has_counts = "counts" in gene_activity.layers
    if gene_activity.isbacked and not has_counts:
        gene_activity = gene_activity.to_memory()
    matrix = gene_activity.layers["counts"] if has_counts else gene_activity.X
    if not gene_activity.obs_names.equals(atac.obs_names):  # atac_process writes them aligned: no copy then
        matrix = matrix[gene_activity.obs_names.get_indexer(atac.obs_names)]
    activity = ad.AnnData(X=matrix, obs=pd.DataFrame({"leiden": atac.obs["leiden"].astype(str).to_numpy()},
                                                     index=atac.obs_names),
                          var=pd.DataFrame(index=gene_activity.var_names))
    scores = assign_labels(activity, markers=markers, normalise=True, min_score=min_score)
    atac.obs["cell_type"] = activity.obs["cell_type"].to_numpy()
    atac.obs["cell_type"] = atac.obs["cell_type"].astype("category")
    return scores


#: How to follow the advice "train without labels", in the pipeline and in the commands.
LABEL_FREE_FIX = ("train without labels: --label_free true (scact run, nextflow run; scact reconcile/train: "
                  "--label-free true), or give labels or markers that separate at least two types")


def reconcile_labels(rna_labels: pd.Series, atac_labels: pd.Series, mapping: dict[str, str] | None = None,
                     sources=("rna", "atac"), label_free: bool = False) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """Shared vocabulary: (RNA labels, ATAC labels, report table).

    Unless the model trains ``label_free``, labels it cannot use are refused here, before training: no type
    shared by the modalities, or a modality whose cells hold one type only (the per-type discriminators and
    classifiers need two)."""
    mapping = mapping or {}

    def canonical(labels: pd.Series) -> pd.Series:
        renamed = labels.astype(str).map(lambda name: mapping.get(label_key(name), name))
        return renamed

    rna, atac = canonical(rna_labels), canonical(atac_labels)
    spelling = {}
    for name in list(pd.unique(rna)) + list(pd.unique(atac)):  # the RNA spelling wins
        spelling.setdefault(label_key(name), name)
    rna = rna.map(lambda name: spelling[label_key(name)])
    atac = atac.map(lambda name: spelling[label_key(name)])
    rna_counts, atac_counts = rna.value_counts(), atac.value_counts()
    rows = []
    for name in sorted(set(rna_counts.index) | set(atac_counts.index), key=str.lower):
        n_rna, n_atac = int(rna_counts.get(name, 0)), int(atac_counts.get(name, 0))
        if label_key(name) == UNASSIGNED:
            status = "unassigned"
        else:
            status = "shared" if n_rna and n_atac else ("rna_only" if n_rna else "atac_only")
        rows.append({"cell_type": name,
                     "rna_labels": ";".join(sorted(set(rna_labels.astype(str)[rna == name]))),
                     "atac_labels": ";".join(sorted(set(atac_labels.astype(str)[atac == name]))),
                     "n_rna": n_rna, "n_atac": n_atac, "status": status})
    report = pd.DataFrame(rows, columns=["cell_type", "rna_labels", "atac_labels", "n_rna", "n_atac", "status"])
    shared = report.loc[report["status"] == "shared", "cell_type"].tolist()
    if label_free:
        return rna, atac, report
    if not shared:
        raise input_error(f"{sources[0]} and {sources[1]}", "no cell type is shared by the two modalities "
                          f"(RNA: {', '.join(rna_counts.index[:8])}; ATAC: {', '.join(atac_counts.index[:8])})",
                          "give a label mapping file (--label-mapping label,cell_type) or labels that agree, "
                          "or " + LABEL_FREE_FIX.split(", or ")[0])
    for source, counts in zip(sources, (rna_counts, atac_counts)):
        if len(counts) == 1:
            raise input_error(source, f"its cells hold one cell type only ({counts.index[0]!r}, "
                                      f"{int(counts.iloc[0])} cells): labels cannot guide the alignment",
                              LABEL_FREE_FIX)
    only = report[report["status"].isin(["rna_only", "atac_only"])]
    if len(only):
        log.warning("cell types in one modality only: %s",
                    ", ".join(f"{r.cell_type} ({r.status})" for r in only.itertuples()))
    return rna, atac, report


def training_rna(rna: ad.AnnData, source="rna_processed.h5ad") -> ad.AnnData:
    """The contract's ``rna.h5ad``: log-normalised HVGs in X, raw counts in layers['counts'] (none when the
    input was already log-normalised, ``--rna_normalised``), obs columns."""
    normalised = bool(rna.uns.get("scact", {}).get("rna_process", {}).get("params", {}).get("rna_normalised", False))
    if "highly_variable" not in rna.var or ("counts" not in rna.layers and not normalised):
        raise input_error(source, "is not an rna_process output (no var['highly_variable'] or layers['counts'])",
                          "run scact rna-process first")
    out = rna[:, rna.var["highly_variable"].to_numpy(dtype=bool)].copy()
    out.X = sp.csr_matrix(out.X, dtype=np.float32)
    out.layers = {"counts": sp.csr_matrix(out.layers["counts"], dtype=np.float32)} if "counts" in out.layers else {}
    keep_obsm = {k: v for k, v in out.obsm.items() if k in ("X_pca", "X_umap")}
    out.obsm = keep_obsm
    out.obsp = {}
    out.varm = {}
    out.uns = {k: v for k, v in out.uns.items() if k == "scact"}
    out.obs = out.obs[[c for c in RNA_OBS if c in out.obs]].copy()
    return out


def training_atac(atac: ad.AnnData, source="atac_processed.h5ad") -> ad.AnnData:
    """The contract's ``atac.h5ad``: binary CSR float32 peaks in genome order, var chrom/start/end, obs.
    It shares (and binarizes in place) the input's matrix: a copy of an atlas-size peak matrix is GBs."""
    missing = {"chrom", "start", "end"} - set(atac.var.columns)
    if missing:
        raise input_error(source, f"var lacks {', '.join(sorted(missing))}", "run scact atac-process first")
    starts = atac.var["start"].to_numpy()
    chrom = atac.var["chrom"].astype(str).to_numpy()
    same_chrom = chrom[1:] == chrom[:-1]
    if np.any(same_chrom & (starts[1:] < starts[:-1])) or len(set(chrom)) != 1 + int((~same_chrom).sum()):
        raise input_error(source, "peaks are not in genome order (chromosome blocks sorted by start)",
                          "run scact atac-process, which writes peaks in genome order")
    binary = binarize(atac.X, copy=False)
    obs = atac.obs.copy()
    if "log_depth" not in obs:
        depth = obs["n_fragments"] if "n_fragments" in obs else np.asarray(binary.sum(axis=1)).ravel()
        obs["log_depth"] = np.log1p(np.asarray(depth, dtype=np.float64))
    return ad.AnnData(X=binary, obs=obs[[c for c in ATAC_OBS if c in obs]].copy(), var=atac.var.copy(),
                      uns={k: v for k, v in atac.uns.items() if k in ("scact", "fragments")},
                      obsm={k: v for k, v in atac.obsm.items() if k in ("X_lsi", "X_umap")})


def apply_reconciled(adata: ad.AnnData, labels: pd.Series, report: pd.DataFrame, drop_unshared: bool) -> ad.AnnData:
    """Set the reconciled ``cell_type`` and ``shared_type``; drop cells of unshared types if asked."""
    shared = set(report.loc[report["status"] == "shared", "cell_type"])
    adata.obs["cell_type"] = pd.Categorical(labels.to_numpy())
    adata.obs["shared_type"] = adata.obs["cell_type"].isin(shared).to_numpy()
    if "batch" not in adata.obs:  # the model's batch confounder: one batch per sample by default
        adata.obs["batch"] = adata.obs["sample"] if "sample" in adata.obs else "batch0"
    adata.obs["batch"] = adata.obs["batch"].astype(str).astype("category")
    if drop_unshared:
        adata = adata[adata.obs["shared_type"].to_numpy()].copy()
        adata.obs["cell_type"] = adata.obs["cell_type"].cat.remove_unused_categories()
    return adata
