"""AnnData/MuData reading and writing with checked inputs and atomic outputs."""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.errors import input_error
from scact.io.atomic import atomic_path

_INTERVAL = re.compile(r"^(?P<chrom>[^:\-_\s]+)[:\-_](?P<start>\d+)[\-_](?P<end>\d+)$")


def read_h5ad(path: str | os.PathLike, backed: bool = False, matrix_only: bool = False) -> ad.AnnData:
    """Read an ``.h5ad``, turning a missing or unreadable file into a clear error. ``backed`` leaves ``X`` in
    the file (read-only; obs, var and layers are read), for inputs whose ``X`` a step does not need;
    ``matrix_only`` reads ``X``, obs and var and nothing else (no layers, obsm or uns), for inputs whose
    other parts a step does not need."""
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "file not found")
    try:
        if matrix_only:
            import h5py
            from anndata.io import read_elem

            with h5py.File(path, "r") as handle:
                return ad.AnnData(X=read_elem(handle["X"]), obs=read_elem(handle["obs"]),
                                  var=read_elem(handle["var"]))
        return ad.read_h5ad(path, backed="r" if backed else None)
    except Exception as err:  # h5py/anndata raise many types for a corrupt file
        raise input_error(path, f"not a readable .h5ad file ({type(err).__name__}: {err})") from err


def read_h5mu_modality(path: str | os.PathLike, modality: str) -> ad.AnnData:
    """One modality (``rna`` or ``atac``) of a MuData ``.h5mu`` file."""
    import mudata

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mdata = mudata.read_h5mu(path)
    except Exception as err:
        raise input_error(path, f"not a readable .h5mu file ({type(err).__name__}: {err})") from err
    if modality not in mdata.mod:
        raise input_error(path, f"has no '{modality}' modality (found: {', '.join(mdata.mod) or 'none'})",
                          "name the modalities 'rna' and 'atac'")
    return mdata.mod[modality].copy()


def write_h5ad(adata: ad.AnnData, path: str | os.PathLike) -> None:
    """Write ``adata`` compressed, through a temporary file renamed on success."""
    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp, compression="gzip")


def as_count_matrix(matrix, path) -> sp.csr_matrix:
    """A float32 CSR count matrix; NaN, infinite or negative values are refused with the file named."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    if matrix.nnz and not np.isfinite(matrix.data).all():
        raise input_error(path, "the count matrix contains NaN or infinite values")
    if matrix.nnz and matrix.data.min() < 0:
        raise input_error(path, "the count matrix contains negative values; raw counts are expected")
    return matrix


def peak_coordinates(var: pd.DataFrame, path) -> pd.DataFrame:
    """``chrom``, ``start``, ``end`` of each peak from ``var`` columns, an ``interval`` column or the names.

    Accepts ``chr1:100-200``, ``chr1-100-200`` and ``chr1_100_200``; anything else is refused, since the
    model splits its ATAC network by chromosome.
    """
    if {"chrom", "start", "end"}.issubset(var.columns):
        coords = var[["chrom", "start", "end"]].copy()
    else:
        source = var["interval"] if "interval" in var.columns else pd.Series(var.index, index=var.index)
        parts = source.astype(str).str.extract(_INTERVAL)
        bad = parts["chrom"].isna()
        if bad.any():
            raise input_error(path, f"{int(bad.sum())} peaks have no coordinates (e.g. {source[bad].iloc[0]!r})",
                              "give var columns chrom/start/end or names like chr1:100-200")
        coords = parts
    coords["chrom"] = coords["chrom"].astype(str)
    coords["start"] = pd.to_numeric(coords["start"], errors="coerce")
    coords["end"] = pd.to_numeric(coords["end"], errors="coerce")
    if coords[["start", "end"]].isna().any().any() or (coords["end"] <= coords["start"]).any():
        raise input_error(path, "peak start/end are missing or end <= start")
    coords[["start", "end"]] = coords[["start", "end"]].astype(np.int64)
    return coords


def sample_id(path: str | os.PathLike, obs: pd.DataFrame, suffix: str) -> str:
    """A per-sample file's sample id: its ``obs['sample']``, else the file name less ``<suffix>.h5ad``."""
    if "sample" in obs.columns and len(obs):
        return str(obs["sample"].iloc[0])
    return Path(path).name.removesuffix(".h5ad").removesuffix(suffix)
