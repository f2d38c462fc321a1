"""Turn one samplesheet row into per-modality AnnData objects with the project's conventions.

Every supported input (CellRanger-arc or CellRanger-ATAC folder, 10x h5/mtx, counts h5ad, h5mu, fragments) ends up as raw
counts in CSR with cells named ``<sample>:<barcode>`` and ``obs`` ``sample``, ``batch``, ``barcode`` and,
when the samplesheet names labels, ``label``.
"""
from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.errors import input_error
from scact.io.anndata import as_count_matrix, peak_coordinates, read_h5ad, read_h5mu_modality
from scact.io.fragments import count_fragments_per_barcode
from scact.io.tenx import read_10x_h5, read_10x_mtx

ARC_MATRIX = "filtered_feature_bc_matrix.h5"
ARC_FRAGMENTS = "atac_fragments.tsv.gz"
ATAC_MATRIX = "filtered_peak_bc_matrix.h5"
ATAC_FRAGMENTS = "fragments.tsv.gz"
#: The fragments file that CellRanger-arc and CellRanger-ATAC write beside their matrices.
FRAGMENT_NAMES = (ARC_FRAGMENTS, ATAC_FRAGMENTS)


def fragments_of(input_path: Path, input_format: str) -> Path | None:
    """The fragments file that comes with an ATAC input, if any: the input itself, or the one CellRanger-arc
    or CellRanger-ATAC writes beside the matrix (in the output folder, beside the ``.h5`` file, or beside
    the mtx folder)."""
    if input_format == "fragments":
        return input_path
    if input_format in ("cellranger_arc", "cellranger_atac"):
        folders = [input_path]
    elif input_format == "10x_h5":
        folders = [input_path.parent]
    elif input_format == "10x_mtx":
        folders = [input_path, input_path.parent]
    else:
        return None
    for folder in folders:
        for name in FRAGMENT_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


#: What to do with non-integer RNA values (said by parse for ATAC, by RNA QC for RNA).
FIX_NOT_COUNTS = "give raw counts (e.g. adata.X = adata.layers['counts'])"
FIX_NORMALISED_RNA = (FIX_NOT_COUNTS + ", or, if these are log-normalised values, opt in with "
                      "--rna_normalised true (count-based QC and normalisation are then skipped)")


def is_count_matrix(matrix: sp.csr_matrix) -> bool:
    return not matrix.nnz or bool(np.allclose(matrix.data, np.round(matrix.data)))


def _counts_from_h5ad(adata: ad.AnnData, path: Path, modality: str) -> ad.AnnData:
    """Raw counts: ``layers['counts']`` when present (X may be normalised), else ``X``.

    Non-integer RNA values pass (flagged ``uns['non_integer_values']``): RNA QC refuses them unless the run
    opts in to log-normalised input (``--rna_normalised``), and checks them when it does.
    """
    matrix = adata.layers["counts"] if "counts" in adata.layers else adata.X
    if matrix is None:
        raise input_error(path, "has no count matrix (X is empty)")
    counts = as_count_matrix(matrix, path)
    out = ad.AnnData(X=counts, obs=adata.obs.copy(), var=adata.var.copy())
    if not is_count_matrix(counts):
        if modality != "rna":
            raise input_error(path, "X holds non-integer values and there is no layers['counts']", FIX_NOT_COUNTS)
        out.uns["non_integer_values"] = True
    return out


def _fragments_only(path: Path) -> ad.AnnData:
    counts = count_fragments_per_barcode(path)
    if not counts:
        raise input_error(path, "fragments file holds no fragments")
    barcodes = sorted(counts)
    obs = pd.DataFrame({"n_fragments": np.array([counts[b] for b in barcodes], dtype=np.int64)}, index=barcodes)
    return ad.AnnData(X=sp.csr_matrix((len(barcodes), 0), dtype=np.float32), obs=obs)


def read_modality(input_path: Path, input_format: str, modality: str) -> ad.AnnData:
    """Raw counts of ``modality`` ('rna' or 'atac') from an input of the given format."""
    if input_format == "cellranger_arc":
        adata = read_10x_h5(input_path / ARC_MATRIX, modality)
    elif input_format == "cellranger_atac":
        adata = read_10x_h5(input_path / ATAC_MATRIX, modality)
    elif input_format == "10x_h5":
        adata = read_10x_h5(input_path, modality)
    elif input_format == "10x_mtx":
        adata = read_10x_mtx(input_path, modality)
    elif input_format == "h5ad":
        adata = _counts_from_h5ad(read_h5ad(input_path), input_path, modality)
    elif input_format == "h5mu":
        adata = _counts_from_h5ad(read_h5mu_modality(input_path, modality), input_path, modality)
    elif input_format == "fragments":
        return _fragments_only(input_path)
    else:
        raise input_error(input_path, f"unsupported input format {input_format!r}")
    if adata.n_vars == 0:
        raise input_error(input_path, f"has no {modality.upper()} features")
    if modality == "atac":
        coords = peak_coordinates(adata.var, input_path)
        adata.var[["chrom", "start", "end"]] = coords
        adata.var_names = (coords["chrom"] + ":" + coords["start"].astype(str) + "-" + coords["end"].astype(str)).to_numpy()
    adata.var_names_make_unique()
    return adata


def read_labels(spec: str, adata: ad.AnnData, sample: str) -> pd.Series:
    """Labels for ``adata``'s barcodes from ``obs:<column>`` or a CSV/TSV file of ``barcode,label``.

    File barcodes may be given bare or as ``<sample>:<barcode>``; cells without a label get NaN.
    """
    if spec.startswith("obs:"):
        column = spec[4:]
        if column not in adata.obs.columns:
            raise input_error(spec, f"labels column '{column}' is not in the input's obs "
                                    f"(columns: {', '.join(map(str, adata.obs.columns)) or 'none'})")
        return adata.obs[column].astype("string")
    path = Path(spec)
    sep = "\t" if ".tsv" in path.name or ".txt" in path.name else ","
    try:
        table = pd.read_csv(path, sep=sep, dtype=str)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise input_error(path, f"cannot read the labels table ({err})") from err
    if table.shape[1] < 2:
        raise input_error(path, "labels table needs two columns: barcode and label")
    labels = pd.Series(table.iloc[:, 1].to_numpy(), index=table.iloc[:, 0].str.removeprefix(f"{sample}:").to_numpy())
    labels = labels[~labels.index.duplicated()]
    matched = labels.reindex(adata.obs_names)
    if matched.notna().sum() == 0:
        raise input_error(path, f"none of its {len(labels)} barcodes match the {adata.n_obs} cells of sample {sample} "
                                f"(e.g. {labels.index[0]!r} vs {adata.obs_names[0]!r})")
    return matched.astype("string")


def standardize(adata: ad.AnnData, sample: str, batch: str, labels: str | None) -> ad.AnnData:
    """Name cells ``<sample>:<barcode>`` and set the ``obs`` columns every later step relies on."""
    barcodes = adata.obs_names.astype(str).str.removeprefix(f"{sample}:")
    adata.obs_names = barcodes
    if labels:
        adata.obs["label"] = read_labels(labels, adata, sample)
    adata.obs["sample"] = pd.Categorical([sample] * adata.n_obs)
    adata.obs["batch"] = pd.Categorical([batch] * adata.n_obs)
    adata.obs["barcode"] = barcodes.to_numpy()
    adata.obs_names = [f"{sample}:{b}" for b in barcodes]
    if adata.obs_names.has_duplicates:
        raise input_error(sample, "input has duplicate barcodes")
    keep = ["sample", "batch", "barcode", "n_fragments", "label"]
    adata.obs = adata.obs[[c for c in keep if c in adata.obs.columns]]
    return adata
