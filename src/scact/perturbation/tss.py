"""Transcription start sites of genes, read from a TSS BED or a GTF (what perturb/link measure distances to).

Kept inside ``perturbation`` so these commands need nothing from the ATAC preprocessing branch; a BED row is
a window around one TSS (its midpoint is taken as the TSS, strand ignored), a GTF contributes the first base
of each ``transcript`` (or ``gene`` when it has no transcripts) on its strand.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd

from scact.errors import input_error

TSS_COLUMNS = ["gene", "chrom", "tss", "strand"]


def _open_text(path: Path):
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if gzipped else open(path)


def _read_bed(path: Path) -> pd.DataFrame:
    rows = []
    with _open_text(path) as handle:
        for line in handle:
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 4:
                raise input_error(path, f"BED line has {len(fields)} columns, at least 4 needed (chrom, start, end, gene)")
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                raise input_error(path, f"BED start/end are not integers: {line.strip()[:80]!r}") from None
            strand = fields[5] if len(fields) > 5 and fields[5] in "+-" else "."
            rows.append((fields[3], fields[0], (start + end) // 2, strand))
    return pd.DataFrame(rows, columns=TSS_COLUMNS)


def _read_gtf(path: Path) -> pd.DataFrame:
    rows_by_feature: dict[str, list] = {"transcript": [], "gene": []}
    with _open_text(path) as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 9 or fields[2] not in rows_by_feature:
                continue
            name = None
            for attribute in fields[8].split(";"):
                key, _, value = attribute.strip().partition(" ")
                if key == "gene_name":
                    name = value.strip('"')
                    break
            if name is None:
                continue
            strand = fields[6]
            tss = int(fields[3]) - 1 if strand != "-" else int(fields[4]) - 1  # GTF is 1-based closed
            rows_by_feature[fields[2]].append((name, fields[0], tss, strand))
    rows = rows_by_feature["transcript"] or rows_by_feature["gene"]
    return pd.DataFrame(rows, columns=TSS_COLUMNS)


def read_tss(path: str | os.PathLike) -> pd.DataFrame:
    """One row per distinct TSS: ``gene, chrom, tss, strand`` (0-based position)."""
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "annotation file not found", "give a TSS BED or a GTF")
    gtf = any(s in (".gtf", ".gff") for s in path.suffixes)
    table = _read_gtf(path) if gtf else _read_bed(path)
    if table.empty:
        raise input_error(path, "no TSS found", "a BED needs chrom,start,end,gene; a GTF transcript lines with gene_name")
    return table.drop_duplicates().reset_index(drop=True)


def tss_by_gene(tss: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Lookup of each gene's TSS rows (genes with several TSS keep all of them)."""
    return {gene: rows for gene, rows in tss.groupby("gene", sort=False)}


def distance_to_tss(chrom: np.ndarray, start: np.ndarray, end: np.ndarray, gene_tss: pd.DataFrame) -> np.ndarray:
    """Signed distance (bp) from each peak's midpoint to the gene's nearest TSS; NaN on other chromosomes."""
    middle = (np.asarray(start, dtype=np.int64) + np.asarray(end, dtype=np.int64)) // 2
    distances = np.full(len(middle), np.nan)
    for chrom_name, rows in gene_tss.groupby("chrom"):
        on_chrom = np.asarray(chrom) == chrom_name
        if not on_chrom.any():
            continue
        delta = middle[on_chrom, None] - rows["tss"].to_numpy()[None, :]
        nearest = np.abs(delta).argmin(axis=1)
        candidate = delta[np.arange(len(delta)), nearest].astype(float)
        current = distances[on_chrom]
        better = np.isnan(current) | (np.abs(candidate) < np.abs(current))
        current[better] = candidate[better]
        distances[on_chrom] = current
    return distances
