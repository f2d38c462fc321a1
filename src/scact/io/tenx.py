"""10x Genomics matrices: the CellRanger(-arc) HDF5 layout and the mtx folder layout.

The HDF5 layout (``matrix/{barcodes,data,indices,indptr,shape}`` and ``matrix/features/{id,name,
feature_type,genome,interval}``) stores a features x barcodes CSC matrix, i.e. a barcodes x features CSR.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

from scact.errors import input_error
from scact.io.anndata import as_count_matrix
from scact.io.atomic import atomic_path

FEATURE_TYPES = {"rna": "Gene Expression", "atac": "Peaks"}
_REQUIRED = ("barcodes", "data", "indices", "indptr", "shape", "features/id", "features/name",
             "features/feature_type")


def _decode(values) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)


def _kept_rows_by_barcode(group, keep: np.ndarray, n_barcodes: int, chunk: int = 1 << 24) -> sp.csr_matrix:
    """barcodes x kept features (CSR, float32 counts, int32 indices) from a 10x CSC matrix, read in slices
    of about ``chunk`` entries, so that the other modality's entries are never held (atlas-size files)."""
    indptr = group["indptr"][:].astype(np.int64)
    new_index = np.cumsum(keep, dtype=np.int64) - 1  # feature row -> column among the kept features
    data_parts, index_parts, counts = [], [], np.zeros(n_barcodes, dtype=np.int64)
    first = 0
    while first < n_barcodes:
        last = int(np.searchsorted(indptr, indptr[first] + chunk, side="right")) - 1
        last = min(max(last, first + 1), n_barcodes)
        lo, hi = indptr[first], indptr[last]
        rows = group["indices"][lo:hi]
        inside = keep[rows]
        data_parts.append(group["data"][lo:hi][inside].astype(np.float32))
        index_parts.append(new_index[rows[inside]].astype(np.int32))
        barcode = np.repeat(np.arange(last - first), np.diff(indptr[first:last + 1]))
        counts[first:last] = np.bincount(barcode[inside], minlength=last - first)
        first = last
    out_indptr = np.concatenate([[0], np.cumsum(counts)])
    data = np.concatenate(data_parts) if data_parts else np.zeros(0, np.float32)
    indices = np.concatenate(index_parts) if index_parts else np.zeros(0, np.int32)
    return sp.csr_matrix((data, indices, out_indptr), shape=(n_barcodes, int(keep.sum())))


def read_10x_h5(path: str | os.PathLike, modality: str | None = None) -> ad.AnnData:
    """Read a 10x HDF5 matrix; ``modality`` ('rna' or 'atac') keeps only that feature type.

    ``var`` gets ``gene_ids``, ``feature_types``, ``genome`` and, where present, ``interval``.
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "file not found")
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise input_error(path, f"not an HDF5 file ({err})") from err
    with handle:
        if "matrix" not in handle:
            raise input_error(path, "no 'matrix' group: not a 10x Genomics HDF5 matrix (CellRanger >= 3)")
        group = handle["matrix"]
        missing = [key for key in _REQUIRED if key not in group]
        if missing:
            raise input_error(path, f"10x HDF5 matrix lacks {', '.join('matrix/' + m for m in missing)}")
        n_features, n_barcodes = (int(v) for v in group["shape"][:])
        features = group["features"]
        var = pd.DataFrame({"gene_ids": _decode(features["id"][:]),
                            "feature_types": _decode(features["feature_type"][:])},
                           index=_decode(features["name"][:]))
        for key in ("genome", "interval"):
            if key in features:
                var[key] = _decode(features[key][:])
        barcodes = _decode(group["barcodes"][:])
        keep = np.ones(n_features, dtype=bool)
        if modality is not None:
            keep = (var["feature_types"] == FEATURE_TYPES[modality]).to_numpy()
            if not keep.any():
                raise input_error(path, f"has no '{FEATURE_TYPES[modality]}' features "
                                        f"(found: {', '.join(sorted(set(var['feature_types'])))})")
        matrix = _kept_rows_by_barcode(group, keep, n_barcodes)
    adata = ad.AnnData(X=as_count_matrix(matrix, path), obs=pd.DataFrame(index=barcodes), var=var[keep].copy())
    adata.var_names = adata.var_names.astype(str)
    adata.var_names_make_unique()
    return adata


def _open_text(path: Path):
    return gzip.open(path, "rt") if path.suffix == ".gz" else path.open()


def _find(folder: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise input_error(folder, f"10x mtx folder lacks {names[0]}(.gz)")


def read_10x_mtx(folder: str | os.PathLike) -> ad.AnnData:
    """Read a 10x mtx folder (``matrix.mtx``, ``barcodes.tsv``, ``features.tsv``/``genes.tsv``, gzipped or
    not; a ``filtered_feature_bc_matrix`` subfolder is looked into). Keeps Gene Expression features."""
    folder = Path(folder)
    if (folder / "filtered_feature_bc_matrix").is_dir():
        folder = folder / "filtered_feature_bc_matrix"
    matrix_path = _find(folder, ("matrix.mtx",))
    try:
        with _open_text(matrix_path) as handle:
            matrix = sp.csr_matrix(scipy.io.mmread(handle).T)
    except (ValueError, OSError) as err:
        raise input_error(matrix_path, f"not a readable Matrix Market file ({err})") from err
    with _open_text(_find(folder, ("barcodes.tsv",))) as handle:
        barcodes = [line.strip().split("\t")[0] for line in handle if line.strip()]
    features_path = _find(folder, ("features.tsv", "genes.tsv"))
    features = pd.read_csv(features_path, sep="\t", header=None, dtype=str)
    if features.shape[1] < 2:
        raise input_error(features_path, "expected at least two tab-separated columns (id, name)")
    if matrix.shape != (len(barcodes), len(features)):
        raise input_error(matrix_path, f"matrix is {matrix.shape[1]} x {matrix.shape[0]} (features x barcodes) "
                                       f"but there are {len(features)} features and {len(barcodes)} barcodes")
    types = features[2] if features.shape[1] > 2 else pd.Series(FEATURE_TYPES["rna"], index=features.index)
    var = pd.DataFrame({"gene_ids": features[0].to_numpy(), "feature_types": types.to_numpy()},
                       index=features[1].to_numpy())
    adata = ad.AnnData(X=as_count_matrix(matrix, matrix_path), obs=pd.DataFrame(index=barcodes), var=var)
    adata = adata[:, (adata.var["feature_types"] == FEATURE_TYPES["rna"]).to_numpy()].copy()
    adata.var_names_make_unique()
    return adata


def _interval(var: pd.DataFrame) -> np.ndarray:
    if "interval" in var.columns:
        return var["interval"].astype(str).to_numpy()
    if {"chrom", "start", "end"}.issubset(var.columns):
        return (var["chrom"].astype(str) + ":" + var["start"].astype(str) + "-" + var["end"].astype(str)).to_numpy()
    return np.full(len(var), "NA", dtype=object)


def write_10x_h5(rna: ad.AnnData | None, atac: ad.AnnData | None, path: str | os.PathLike,
                 genome: str = "unknown") -> None:
    """Write barcodes x (genes, peaks) counts in CellRanger-arc's ``filtered_feature_bc_matrix.h5`` layout.

    Either modality may be ``None`` (an RNA-only or peaks-only file). Both must have the same barcodes in
    the same order. ``features/id`` is ``var['gene_ids']`` where present, else the name; ``interval``
    comes from ``var['interval']`` or ``var`` chrom/start/end.
    """
    parts = [(a, FEATURE_TYPES[m]) for a, m in ((rna, "rna"), (atac, "atac")) if a is not None]
    if not parts:
        raise ValueError("write_10x_h5 needs at least one modality")
    barcodes = parts[0][0].obs_names
    if any(not a.obs_names.equals(barcodes) for a, _ in parts):
        raise ValueError("write_10x_h5: the modalities must list the same barcodes in the same order")
    matrix = sp.hstack([sp.csr_matrix(a.X) for a, _ in parts], format="csr")
    names = np.concatenate([a.var_names.to_numpy(dtype=str) for a, _ in parts])
    ids = np.concatenate([a.var["gene_ids"].astype(str).to_numpy() if "gene_ids" in a.var.columns
                          else a.var_names.to_numpy(dtype=str) for a, _ in parts])
    types = np.concatenate([np.full(a.n_vars, kind) for a, kind in parts])
    intervals = np.concatenate([_interval(a.var) for a, _ in parts])

    def text(values) -> np.ndarray:
        return np.array([str(v).encode() for v in values], dtype="S")

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.attrs["filetype"] = "matrix"
        handle.attrs["version"] = 2
        group = handle.create_group("matrix")
        group.create_dataset("barcodes", data=text(barcodes), compression="gzip")
        # a barcodes x features CSR is the features x barcodes CSC that 10x stores
        group.create_dataset("data", data=matrix.data.astype(np.int32), compression="gzip")
        group.create_dataset("indices", data=matrix.indices.astype(np.int64), compression="gzip")
        group.create_dataset("indptr", data=matrix.indptr.astype(np.int64), compression="gzip")
        group.create_dataset("shape", data=np.array([matrix.shape[1], matrix.shape[0]], dtype=np.int32))
        features = group.create_group("features")
        features.create_dataset("id", data=text(ids), compression="gzip")
        features.create_dataset("name", data=text(names), compression="gzip")
        features.create_dataset("feature_type", data=text(types), compression="gzip")
        features.create_dataset("genome", data=text(np.full(len(names), genome)), compression="gzip")
        features.create_dataset("interval", data=text(intervals), compression="gzip")
        features.create_dataset("_all_tag_keys", data=np.array([b"genome", b"interval"]))
