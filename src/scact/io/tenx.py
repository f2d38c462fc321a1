"""10x Genomics matrices: the CellRanger HDF5 layout and the mtx folder layout, as CellRanger-arc (genes and
peaks), CellRanger (genes) and CellRanger-ATAC (peaks) write them.

The HDF5 layout (``matrix/{barcodes,data,indices,indptr,shape}`` and ``matrix/features/{id,name,
feature_type,...}``) stores a features x barcodes CSC matrix, i.e. a barcodes x features CSR. Besides
``id``, ``name`` and ``feature_type`` each feature has the tags listed in ``features/_all_tag_keys``:
CellRanger-arc writes ``genome`` and ``interval`` (``chr1:100-200``; ``NA`` for some genes),
CellRanger-ATAC writes ``genome`` and ``derivation`` and no ``interval``: its peak coordinates are the
``id``/``name`` (``chr1:100-200``). Every listed tag is read into ``var``.

The mtx folder holds ``matrix.mtx``, ``barcodes.tsv`` and ``features.tsv`` (gzipped or not). CellRanger-arc's
``features.tsv`` has six columns (id, name, feature_type, chrom, start, end), CellRanger's three (or two in
``genes.tsv``), CellRanger-ATAC's folder has ``peaks.bed`` (chrom, start, end) instead.
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
#: Feature tags read when a file has no ``_all_tag_keys`` (older CellRanger versions).
_KNOWN_TAGS = ("genome", "interval", "derivation")
#: The tags each CellRanger flavour writes (``write_10x_h5``).
TAGS_BY_FLAVOUR = {"arc": ("genome", "interval"), "atac": ("genome", "derivation")}


def _decode(values) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)


def _open_h5(path: Path) -> h5py.File:
    if not path.is_file():
        raise input_error(path, "file not found")
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise input_error(path, f"not an HDF5 file ({err})") from err
    if "matrix" not in handle:
        handle.close()
        raise input_error(path, "no 'matrix' group: not a 10x Genomics HDF5 matrix (CellRanger >= 3, "
                                "CellRanger-ATAC or CellRanger-arc)")
    return handle


def _tag_keys(features: h5py.Group) -> list[str]:
    """The feature tags of a file: those ``_all_tag_keys`` lists, else the known ones present."""
    if "_all_tag_keys" in features:
        keys = [str(k) for k in _decode(features["_all_tag_keys"][:])]
    else:
        keys = list(_KNOWN_TAGS)
    return [k for k in keys if k in features and k not in ("id", "name", "feature_type")]


def read_10x_h5(path: str | os.PathLike, modality: str | None = None) -> ad.AnnData:
    """Read a 10x HDF5 matrix; ``modality`` ('rna' or 'atac') keeps only that feature type.

    ``var`` gets ``gene_ids``, ``feature_types`` and every feature tag the file lists (``genome``,
    ``interval``, ``derivation``). Peaks without an ``interval`` tag (CellRanger-ATAC) get it from their id.
    """
    path = Path(path)
    with _open_h5(path) as handle:
        group = handle["matrix"]
        missing = [key for key in _REQUIRED if key not in group]
        if missing:
            raise input_error(path, f"10x HDF5 matrix lacks {', '.join('matrix/' + m for m in missing)}")
        n_features, n_barcodes = (int(v) for v in group["shape"][:])
        features = group["features"]
        var = pd.DataFrame({"gene_ids": _decode(features["id"][:]),
                            "feature_types": _decode(features["feature_type"][:])},
                           index=_decode(features["name"][:]))
        for key in _tag_keys(features):
            values = _decode(features[key][:])
            if len(values) == len(var):
                var[key] = values
        barcodes = _decode(group["barcodes"][:])
        peaks = (var["feature_types"] == FEATURE_TYPES["atac"]).to_numpy()
        if peaks.any():
            interval = var["interval"].to_numpy(dtype=object) if "interval" in var else np.full(len(var), "NA", object)
            interval[peaks & (interval == "NA")] = var["gene_ids"].to_numpy(dtype=object)[peaks & (interval == "NA")]
            var["interval"] = interval
        keep = np.ones(n_features, dtype=bool)
        if modality is not None:
            keep = _modality_features(var, modality, path)
        matrix = _kept_rows_by_barcode(group, keep, n_barcodes)
    adata = ad.AnnData(X=as_count_matrix(matrix, path), obs=pd.DataFrame(index=barcodes), var=var[keep].copy())
    adata.var_names = adata.var_names.astype(str)
    adata.var_names_make_unique()
    return adata


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


def _modality_features(var: pd.DataFrame, modality: str, path: Path) -> np.ndarray:
    """Which features are of ``modality``; a file with none is refused, naming the types it has."""
    keep = (var["feature_types"] == FEATURE_TYPES[modality]).to_numpy()
    if not keep.any():
        raise input_error(path, f"has no '{FEATURE_TYPES[modality]}' features "
                                f"(found: {', '.join(sorted(set(var['feature_types']))) or 'none'})")
    return keep


def _keep_modality(adata: ad.AnnData, modality: str | None, path: Path) -> ad.AnnData:
    if modality is not None:
        adata = adata[:, _modality_features(adata.var, modality, path)].copy()
    adata.var_names = adata.var_names.astype(str)
    adata.var_names_make_unique()
    return adata


def _open_text(path: Path):
    return gzip.open(path, "rt") if path.suffix == ".gz" else path.open()


def _find(folder: Path, names: tuple[str, ...], required: bool = True) -> Path | None:
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    if required:
        raise input_error(folder, f"10x mtx folder lacks {' or '.join(n + '(.gz)' for n in names)}")
    return None


#: Subfolders of a CellRanger output that hold the mtx files.
MTX_SUBFOLDERS = ("filtered_feature_bc_matrix", "filtered_peak_bc_matrix")


def mtx_folder(folder: Path) -> Path:
    """The folder holding ``matrix.mtx(.gz)``: ``folder`` itself or one of its ``MTX_SUBFOLDERS``."""
    for candidate in (folder, *(folder / sub for sub in MTX_SUBFOLDERS)):
        if any((candidate / f).is_file() for f in ("matrix.mtx.gz", "matrix.mtx")):
            return candidate
    raise input_error(folder, "not a 10x mtx folder (no matrix.mtx.gz)")


def _mtx_features(folder: Path) -> tuple[pd.DataFrame, Path]:
    """``var`` of an mtx folder: gene_ids, feature_types and, for peaks, interval."""
    features_path = _find(folder, ("features.tsv", "genes.tsv", "peaks.bed"))
    try:
        features = pd.read_csv(features_path, sep="\t", header=None, dtype=str, comment="#")
    except (OSError, ValueError, pd.errors.ParserError, EOFError) as err:
        raise input_error(features_path, f"cannot read the features table ({err})") from err
    if features_path.name.startswith("peaks.bed"):  # CellRanger-ATAC: chrom, start, end
        if features.shape[1] < 3:
            raise input_error(features_path, "expected three tab-separated columns (chrom, start, end)")
        names = (features[0] + ":" + features[1] + "-" + features[2]).to_numpy()
        return pd.DataFrame({"gene_ids": names, "feature_types": FEATURE_TYPES["atac"], "interval": names},
                            index=names), features_path
    if features.shape[1] < 2:
        raise input_error(features_path, "expected at least two tab-separated columns (id, name)")
    types = features[2] if features.shape[1] > 2 else pd.Series(FEATURE_TYPES["rna"], index=features.index)
    var = pd.DataFrame({"gene_ids": features[0].to_numpy(), "feature_types": types.to_numpy()},
                       index=features[1].to_numpy())
    if features.shape[1] >= 6:  # CellRanger-arc: chrom, start, end of every feature
        located = features[3].notna() & features[4].notna() & features[5].notna()
        interval = np.where(located, features[3] + ":" + features[4] + "-" + features[5], "NA")
        var["interval"] = interval.astype(object)
    peaks = (var["feature_types"] == FEATURE_TYPES["atac"]).to_numpy()
    if peaks.any() and "interval" not in var:
        var["interval"] = np.where(peaks, var["gene_ids"], "NA").astype(object)
    return var, features_path


def read_10x_mtx(folder: str | os.PathLike, modality: str | None = "rna") -> ad.AnnData:
    """Read a 10x mtx folder (``matrix.mtx``, ``barcodes.tsv``, ``features.tsv``/``genes.tsv``/``peaks.bed``,
    gzipped or not; a ``filtered_feature_bc_matrix`` or ``filtered_peak_bc_matrix`` subfolder is looked
    into). ``modality`` ('rna', 'atac' or None for all) keeps that feature type."""
    folder = mtx_folder(Path(folder))
    matrix_path = _find(folder, ("matrix.mtx",))
    try:
        with _open_text(matrix_path) as handle:
            matrix = sp.csr_matrix(scipy.io.mmread(handle).T)
    except (ValueError, OSError, EOFError) as err:
        raise input_error(matrix_path, f"not a readable Matrix Market file ({err})") from err
    with _open_text(_find(folder, ("barcodes.tsv",))) as handle:
        barcodes = [line.strip().split("\t")[0] for line in handle if line.strip()]
    var, _ = _mtx_features(folder)
    if matrix.shape != (len(barcodes), len(var)):
        raise input_error(matrix_path, f"matrix is {matrix.shape[1]} x {matrix.shape[0]} (features x barcodes) "
                                       f"but there are {len(var)} features and {len(barcodes)} barcodes")
    adata = ad.AnnData(X=as_count_matrix(matrix, matrix_path), obs=pd.DataFrame(index=barcodes), var=var)
    return _keep_modality(adata, modality, matrix_path)


def feature_names(path: str | os.PathLike, modality: str) -> list[str]:
    """Names of the features of one modality of a 10x ``.h5`` file or mtx folder, without the matrix."""
    path = Path(path)
    if path.is_dir():
        var, _ = _mtx_features(mtx_folder(path))
        return list(var.index[(var["feature_types"] == FEATURE_TYPES[modality]).to_numpy()])
    with _open_h5(path) as handle:
        features = handle["matrix/features"]
        keep = _decode(features["feature_type"][:]) == FEATURE_TYPES[modality]
        return list(_decode(features["name"][:])[keep])


def feature_types(path: str | os.PathLike) -> set[str]:
    """The feature types of a 10x ``.h5`` file or mtx folder, read without loading the matrix."""
    path = Path(path)
    if path.is_dir():
        var, _ = _mtx_features(mtx_folder(path))
        return set(var["feature_types"])
    with _open_h5(path) as handle:
        if "features/feature_type" not in handle["matrix"]:
            raise input_error(path, "10x HDF5 matrix lacks matrix/features/feature_type")
        return set(_decode(np.unique(handle["matrix/features/feature_type"][:])))


def _interval(var: pd.DataFrame) -> np.ndarray:
    if "interval" in var.columns:
        return var["interval"].astype(str).to_numpy()
    if {"chrom", "start", "end"}.issubset(var.columns):
        return (var["chrom"].astype(str) + ":" + var["start"].astype(str) + "-" + var["end"].astype(str)).to_numpy()
    return np.full(len(var), "NA", dtype=object)


def _parts(rna: ad.AnnData | None, atac: ad.AnnData | None, caller: str):
    parts = [(a, FEATURE_TYPES[m]) for a, m in ((rna, "rna"), (atac, "atac")) if a is not None]
    if not parts:
        raise ValueError(f"{caller} needs at least one modality")
    barcodes = parts[0][0].obs_names
    if any(not a.obs_names.equals(barcodes) for a, _ in parts):
        raise ValueError(f"{caller}: the modalities must list the same barcodes in the same order")
    matrix = sp.hstack([sp.csr_matrix(a.X) for a, _ in parts], format="csr")
    names = np.concatenate([a.var_names.to_numpy(dtype=str) for a, _ in parts])
    ids = np.concatenate([a.var["gene_ids"].astype(str).to_numpy() if "gene_ids" in a.var.columns
                          else a.var_names.to_numpy(dtype=str) for a, _ in parts])
    types = np.concatenate([np.full(a.n_vars, kind) for a, kind in parts])
    intervals = np.concatenate([_interval(a.var) for a, _ in parts])
    return barcodes, matrix, names, ids, types, intervals


def write_10x_h5(rna: ad.AnnData | None, atac: ad.AnnData | None, path: str | os.PathLike,
                 genome: str = "unknown", flavour: str = "arc") -> None:
    """Write barcodes x (genes, peaks) counts in a CellRanger HDF5 layout.

    ``flavour`` 'arc': CellRanger-arc's ``filtered_feature_bc_matrix.h5`` (tags genome, interval);
    'atac': CellRanger-ATAC's ``filtered_peak_bc_matrix.h5`` (tags genome, derivation; peak ids and names
    ``chr:start-end``). Either modality may be ``None``. Both must have the same barcodes in the same
    order. ``features/id`` is ``var['gene_ids']`` where present, else the name; ``interval`` comes from
    ``var['interval']`` or ``var`` chrom/start/end.
    """
    barcodes, matrix, names, ids, types, intervals = _parts(rna, atac, "write_10x_h5")
    if flavour == "atac":
        ids = names = intervals

    def text(values) -> np.ndarray:
        return np.array([str(v).encode() for v in values], dtype="S")

    tags = {"genome": np.full(len(names), genome), "interval": intervals, "derivation": np.full(len(names), "")}
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
        for tag in TAGS_BY_FLAVOUR[flavour]:
            features.create_dataset(tag, data=text(tags[tag]), compression="gzip")
        features.create_dataset("_all_tag_keys", data=text(TAGS_BY_FLAVOUR[flavour]))


def write_10x_mtx(rna: ad.AnnData | None, atac: ad.AnnData | None, folder: str | os.PathLike) -> None:
    """Write CellRanger-arc's ``filtered_feature_bc_matrix/`` folder: ``matrix.mtx.gz``, ``barcodes.tsv.gz``
    and a six-column ``features.tsv.gz`` (id, name, feature_type, chrom, start, end)."""
    barcodes, matrix, names, ids, types, intervals = _parts(rna, atac, "write_10x_mtx")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    located = pd.Series(intervals).str.extract(r"^(.+):(\d+)-(\d+)$").fillna("")
    features = pd.DataFrame({"id": ids, "name": names, "type": types, "chrom": located[0], "start": located[1],
                             "end": located[2]})
    with atomic_path(folder / "features.tsv.gz") as tmp:
        features.to_csv(tmp, sep="\t", header=False, index=False, compression="gzip")
    with atomic_path(folder / "barcodes.tsv.gz") as tmp, gzip.open(tmp, "wt") as handle:
        handle.write("".join(f"{b}\n" for b in barcodes))
    with atomic_path(folder / "matrix.mtx.gz") as tmp, gzip.open(tmp, "wb") as handle:
        scipy.io.mmwrite(handle, sp.csr_matrix(matrix.T, dtype=np.int64), field="integer")
