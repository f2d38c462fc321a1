"""Samplesheet variants of one simulated sample: the ways users bring their data.

- ``unpaired``: an RNA-only sample (10x h5 of half the cells) and an ATAC-only sample (fragments of the
  other half): different sample ids, disjoint cell barcodes, different batch names. No cell is named alike
  in both modalities, so evaluation has no pairs (scACT's main use case).
- ``partly_paired``: a multiome sample (CellRanger-arc folder of half the cells) and an ATAC-only sample
  (fragments of the other half).
- ``paired``: the simulated folder's own multiome ``samplesheet.csv``.

The cells are split in two by a seeded permutation; fragments of barcodes that are not cells (empty and
low-quality barcodes) stay in every fragments file, as CellRanger writes them.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from scact.errors import input_error
from scact.io.atomic import write_text
from scact.io.fragments import filter_fragments
from scact.io.tenx import read_10x_h5, write_10x_h5

#: The variants ``write_samplesheet_variants`` knows, in the order users meet them.
VARIANTS = ("unpaired", "partly_paired", "paired")

_MATRIX = "filtered_feature_bc_matrix.h5"
_FRAGMENTS = "atac_fragments.tsv.gz"


def write_samplesheet_variants(folder: str | os.PathLike, variants=VARIANTS, seed: int = 0,
                               sample: str | None = None) -> dict[str, Path]:
    """Write the input files and ``samplesheet_<variant>.csv`` of each variant into a simulated folder
    (``simulate_dataset``'s output); returns {variant: samplesheet path} (absolute input paths)."""
    folder = Path(folder).resolve()
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise input_error("--variants", f"unknown variant(s) {', '.join(unknown)}", f"use {', '.join(VARIANTS)}")
    if not (folder / _MATRIX).is_file() or not (folder / _FRAGMENTS).is_file():
        raise input_error(folder, f"not a simulated CellRanger-arc folder (no {_MATRIX} or {_FRAGMENTS})",
                          "run scact simulate first")
    sample = sample or _sample_of(folder)
    written: dict[str, Path] = {}
    if "paired" in variants:
        written["paired"] = folder / "samplesheet.csv"
    split = [v for v in variants if v != "paired"]
    if not split:
        return written
    rna = read_10x_h5(folder / _MATRIX, "rna")
    atac = read_10x_h5(folder / _MATRIX, "atac")
    order = np.random.default_rng(seed).permutation(rna.n_obs)
    first = np.sort(order[: rna.n_obs // 2])
    second = np.sort(order[rna.n_obs // 2:])
    first_cells, second_cells = set(rna.obs_names[first]), set(rna.obs_names[second])
    genome = str(rna.var["genome"].iloc[0]) if "genome" in rna.var else "unknown"
    if "unpaired" in variants:
        target = folder / "variants" / "unpaired"
        rna_path, fragments = target / "rna_only.h5", target / _FRAGMENTS
        write_10x_h5(rna[first].copy(), None, rna_path, genome=genome)
        filter_fragments(folder / _FRAGMENTS, fragments, drop=first_cells)
        written["unpaired"] = _samplesheet(folder / "samplesheet_unpaired.csv", [
            (f"{sample}_rna", "rna", rna_path, f"{sample}_batch_rna"),
            (f"{sample}_atac", "atac", fragments, f"{sample}_batch_atac")])
    if "partly_paired" in variants:
        target = folder / "variants" / "partly_paired"
        multiome = target / f"{sample}_multiome"
        write_10x_h5(rna[first].copy(), atac[first].copy(), multiome / _MATRIX, genome=genome)
        filter_fragments(folder / _FRAGMENTS, multiome / _FRAGMENTS, drop=second_cells)
        fragments = target / f"{sample}_atac" / _FRAGMENTS
        filter_fragments(folder / _FRAGMENTS, fragments, drop=first_cells)
        written["partly_paired"] = _samplesheet(folder / "samplesheet_partly_paired.csv", [
            (f"{sample}_multiome", "multiome", multiome, f"{sample}_batch1"),
            (f"{sample}_atac", "atac", fragments, f"{sample}_batch2")])
    return written


def _sample_of(folder: Path) -> str:
    """The sample id of the folder's own samplesheet (``sim`` if it has none)."""
    sheet = folder / "samplesheet.csv"
    lines = sheet.read_text().splitlines() if sheet.is_file() else []
    return lines[1].split(",")[0] if len(lines) > 1 else "sim"


def _samplesheet(path: Path, rows: list[tuple]) -> Path:
    write_text(path, "sample,modality,input,batch\n" + "".join(
        f"{sample},{modality},{input_path},{batch}\n" for sample, modality, input_path, batch in rows))
    return path
