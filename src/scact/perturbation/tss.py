"""Transcription start sites of genes for perturb/link: the project's annotation reader, one row per TSS.

``scact.io.annotation`` reads the TSS BED (CellOracle's windows: the TSS 100 bp inside the downstream edge)
or GTF (gene records) exactly as ATAC QC and gene activity do, so every step measures from the same TSS.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from scact.io.annotation import read_annotation

TSS_COLUMNS = ["gene", "chrom", "tss", "strand"]


def read_tss(path: str | os.PathLike) -> pd.DataFrame:
    """One row per distinct TSS: ``gene, chrom, tss, strand`` (0-based position)."""
    return read_annotation(path)[TSS_COLUMNS].drop_duplicates().reset_index(drop=True)


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
