"""The same simulated sample in the other layouts 10x software writes, so the readers are tested without
downloads: the CellRanger-arc matrix as a lone ``.h5`` file, CellRanger-ATAC's output folder, and
CellRanger-arc's mtx folder.

The matrices are read back from the simulated ``filtered_feature_bc_matrix.h5`` with plain h5py (not with
the readers under test) and written again in each layout.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.io.atomic import write_text
from scact.io.tenx import write_10x_h5, write_10x_mtx

ARC_MATRIX = "filtered_feature_bc_matrix.h5"
ARC_FRAGMENTS = "atac_fragments.tsv.gz"

#: Layout folder -> (modality, input path inside it, fragments for the samplesheet column or None).
TENX_LAYOUTS = {
    # CellRanger-arc's matrix given as a file, its fragments and per-barcode metrics beside it
    "arc_h5": ("multiome", ARC_MATRIX, None),
    # the same matrix alone, its fragments named in the samplesheet's fragments column
    "arc_h5_column": ("multiome", "sample_filtered_feature_bc_matrix.h5", "fragments/atac_fragments.tsv.gz"),
    # CellRanger-ATAC's outs/ folder: peaks only (tags genome, derivation; no interval), fragments.tsv.gz
    "atac_h5": ("atac", "filtered_peak_bc_matrix.h5", None),
    # CellRanger-arc's outs/ with filtered_feature_bc_matrix/ (mtx, both feature types), fragments beside it
    "arc_mtx": ("multiome", "filtered_feature_bc_matrix", None),
}


def _arc_modalities(path: Path) -> tuple[ad.AnnData, ad.AnnData]:
    """Genes and peaks of a CellRanger-arc HDF5 matrix, read with h5py alone."""
    with h5py.File(path, "r") as handle:
        group = handle["matrix"]
        n_features, n_barcodes = (int(v) for v in group["shape"][:])
        matrix = sp.csc_matrix((group["data"][:], group["indices"][:], group["indptr"][:]),
                               shape=(n_features, n_barcodes)).T.tocsr()
        text = {key: np.array([v.decode() for v in group[key][:]]) for key in
                ("barcodes", "features/id", "features/name", "features/feature_type", "features/interval")}
    obs = pd.DataFrame(index=text["barcodes"])
    parts = []
    for kind in ("Gene Expression", "Peaks"):
        keep = text["features/feature_type"] == kind
        var = pd.DataFrame({"gene_ids": text["features/id"][keep], "interval": text["features/interval"][keep]},
                           index=text["features/name"][keep])
        parts.append(ad.AnnData(X=matrix[:, np.flatnonzero(keep)], obs=obs.copy(), var=var))
    return parts[0], parts[1]


def _link(source: Path, target: Path) -> None:
    """A hard link where the file system allows it (fragments files are the large part), else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def write_tenx_layouts(simdir: str | os.PathLike, outdir: str | os.PathLike, sample: str = "sim") -> Path:
    """Write every layout of ``TENX_LAYOUTS`` for the simulated CellRanger-arc folder ``simdir`` into
    ``outdir/<layout>/`` and a samplesheet ``outdir/tenx_layouts.csv`` with one row per layout (sample ids
    ``<sample>_<layout>``, absolute paths). Returns the samplesheet's path."""
    simdir, outdir = Path(simdir).resolve(), Path(outdir).resolve()
    rna, atac = _arc_modalities(simdir / ARC_MATRIX)
    fragments = [simdir / ARC_FRAGMENTS, simdir / f"{ARC_FRAGMENTS}.tbi"]
    genome = "sim"

    folder = outdir / "arc_h5"
    _link(simdir / ARC_MATRIX, folder / ARC_MATRIX)
    for path in [*fragments, simdir / "per_barcode_metrics.csv"]:
        _link(path, folder / path.name)

    folder = outdir / "arc_h5_column"
    _link(simdir / ARC_MATRIX, folder / TENX_LAYOUTS["arc_h5_column"][1])
    for path in fragments:
        _link(path, folder / "fragments" / path.name)

    folder = outdir / "atac_h5"
    write_10x_h5(None, atac, folder / TENX_LAYOUTS["atac_h5"][1], genome=genome, flavour="atac")
    _link(fragments[0], folder / "fragments.tsv.gz")
    _link(fragments[1], folder / "fragments.tsv.gz.tbi")

    folder = outdir / "arc_mtx"
    write_10x_mtx(rna, atac, folder / TENX_LAYOUTS["arc_mtx"][1])
    for path in [*fragments, simdir / "per_barcode_metrics.csv"]:
        _link(path, folder / path.name)

    rows = ["sample,modality,input,fragments"]
    for layout, (modality, name, column) in TENX_LAYOUTS.items():
        rows.append(f"{sample}_{layout},{modality},{outdir / layout / name},"
                    f"{outdir / layout / column if column else ''}")
    sheet = outdir / "tenx_layouts.csv"
    write_text(sheet, "\n".join(rows) + "\n")
    return sheet
