"""Gene annotations for ATAC: transcription start sites and gene bodies, from a TSS BED or a GTF.

Two sources are accepted:

* a GTF (plain or gzipped): one row per ``gene`` record; the TSS is the 5' end (``start`` on the plus
  strand, ``end`` on the minus strand) and the body is the gene's span.
* a TSS BED (``chrom, start, end, gene, score, strand``). Rows 1-2 bp wide are TSS points. Wider rows are
  promoter windows; CellOracle's tables (the ``*_tss.bed`` files in the shared data) span 1,000 bp upstream
  to 100 bp downstream of the TSS, so the TSS is taken ``downstream_bp`` (100) inside the window's
  downstream edge. This was checked on real PBMC fragments: insertions pile up exactly there. A TSS BED
  has no gene bodies: the body of a gene is then its TSS alone (gene activity = upstream + TSS window).

Coordinates are 0-based, half-open, like BED and the fragments files.
"""
from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from scact.errors import input_error

GENE_COLUMNS = ["chrom", "start", "end", "strand", "gene", "tss"]
_GENE_NAME = re.compile(r'gene_name "([^"]+)"')
_GENE_ID = re.compile(r'gene_id "([^"]+)"')


def _is_gtf(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return name.endswith((".gtf", ".gff", ".gff3"))


def _read_gtf(path: Path) -> pd.DataFrame:
    rows = []
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt") as handle:
            for line in handle:
                if line.startswith("#"):
                    continue
                fields = line.rstrip("\n").split("\t")
                if len(fields) < 9:
                    raise input_error(path, f"malformed GTF line (expected 9 tab-separated fields): {line[:80]!r}")
                if fields[2] != "gene":
                    continue
                name = _GENE_NAME.search(fields[8]) or _GENE_ID.search(fields[8])
                start, end = int(fields[3]) - 1, int(fields[4])  # GTF is 1-based inclusive
                strand = fields[6] if fields[6] in "+-" else "+"
                rows.append((fields[0], start, end, strand, name.group(1) if name else f"{fields[0]}:{start}",
                             start if strand == "+" else end - 1))
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as err:
        raise input_error(path, f"cannot be read as a GTF ({err})") from err
    if not rows:
        raise input_error(path, "GTF has no 'gene' records", "give a GENCODE/Ensembl GTF with gene lines")
    return pd.DataFrame(rows, columns=GENE_COLUMNS)


def _read_tss_bed(path: Path, downstream_bp: int) -> pd.DataFrame:
    try:
        bed = pd.read_csv(path, sep="\t", header=None, comment="#", dtype={0: str})
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise input_error(path, f"cannot be read as a BED file ({err})") from err
    if bed.shape[1] < 3:
        raise input_error(path, "a TSS BED needs at least chrom, start, end columns")
    starts = pd.to_numeric(bed[1], errors="coerce")
    ends = pd.to_numeric(bed[2], errors="coerce")
    if starts.isna().any() or ends.isna().any():
        raise input_error(path, "BED start/end columns are not integers")
    starts, ends = starts.astype(np.int64).to_numpy(), ends.astype(np.int64).to_numpy()
    strand = bed[5].astype(str).to_numpy() if bed.shape[1] >= 6 else np.full(len(bed), "+")
    strand = np.where(strand == "-", "-", "+")
    genes = bed[3].astype(str).to_numpy() if bed.shape[1] >= 4 else (bed[0] + ":" + bed[1].astype(str)).to_numpy()
    width = ends - starts
    window = width > 2
    tss = np.where(strand == "+", ends - downstream_bp, starts + downstream_bp)
    tss = np.where(window, np.clip(tss, starts, ends - 1), starts)
    return pd.DataFrame({"chrom": bed[0].astype(str).to_numpy(), "start": tss, "end": tss + 1,
                         "strand": strand, "gene": genes, "tss": tss})


def read_annotation(path: str | os.PathLike, downstream_bp: int = 100) -> pd.DataFrame:
    """Genes with ``chrom, start, end`` (body), ``strand``, ``gene`` and ``tss``, in genome order."""
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "annotation file not found", "give a TSS BED or a GTF (.gtf or .gtf.gz)")
    genes = _read_gtf(path) if _is_gtf(path) else _read_tss_bed(path, downstream_bp)
    return genes.sort_values(["chrom", "tss"], kind="stable").reset_index(drop=True)


def tss_by_chrom(genes: pd.DataFrame) -> dict[str, np.ndarray]:
    """Sorted unique TSS positions of each chromosome."""
    return {chrom: np.unique(group["tss"].to_numpy(np.int64)) for chrom, group in genes.groupby("chrom")}


def gene_regions(genes: pd.DataFrame, upstream_bp: int = 2000) -> pd.DataFrame:
    """Gene body plus ``upstream_bp`` upstream of the TSS (strand aware): the gene activity windows of the
    pipeline (``gene_activity.h5ad``, ATAC labels)."""
    plus = genes["strand"].to_numpy() == "+"
    start = np.where(plus, genes["start"] - upstream_bp, genes["start"]).clip(min=0)
    end = np.where(plus, genes["end"], genes["end"] + upstream_bp)
    return _span_per_gene(genes, start, end)


def tss_regions(genes: pd.DataFrame, window: int = 10_000) -> pd.DataFrame:
    """Each TSS +- ``window`` bp: gene activity around promoters only (the Harmony and LIGER baselines)."""
    tss = genes["tss"].to_numpy(np.int64)
    return _span_per_gene(genes, (tss - window).clip(min=0), tss + window + 1)


def _span_per_gene(genes: pd.DataFrame, start: np.ndarray, end: np.ndarray) -> pd.DataFrame:
    """Regions ``gene, chrom, start, end``, one per gene: a gene listed more than once (several TSS rows of
    a TSS BED) is joined into its span; a gene name on several chromosomes (PAR genes) keeps its first."""
    regions = pd.DataFrame({"gene": genes["gene"].to_numpy(), "chrom": genes["chrom"].to_numpy(),
                            "start": start, "end": end})
    regions = regions.groupby(["gene", "chrom"], sort=False).agg(start=("start", "min"), end=("end", "max"))
    return regions.reset_index().drop_duplicates("gene").reset_index(drop=True)


def check_chromosomes(annotation_path, genes: pd.DataFrame, data_path, data_chroms) -> None:
    """Refuse an annotation that shares no chromosome name with the data, saying why it usually happens."""
    ours, theirs = set(genes["chrom"]), set(data_chroms)
    if ours & theirs:
        return
    example_ours = ", ".join(sorted(ours)[:3])
    example_theirs = ", ".join(sorted(theirs)[:3])
    hint = "use an annotation of the same genome build and naming"
    if any(c.startswith("chr") for c in ours) != any(c.startswith("chr") for c in theirs):
        hint += " (one uses 'chr1', the other '1': add or strip the 'chr' prefix)"
    raise input_error(annotation_path,
                      f"no chromosome in common with {data_path} (annotation: {example_ours}...; "
                      f"data: {example_theirs}...)", hint)


#: Share of the smaller of two gene sets (the annotation's, the RNA matrix's) that the other must hold;
#: below it the annotation is of another species or naming (a mouse table names no human symbol, while a
#: right one names most genes of a whole-transcriptome matrix and all of a targeted panel).
MIN_GENE_OVERLAP = 0.1


def check_gene_overlap(annotation_path, annotation_genes, data_path, data_genes) -> None:
    """Refuse an annotation that shares too few gene names with the data (``MIN_GENE_OVERLAP``): gene
    activity, ATAC labels and peak-to-gene links would then find no gene of the RNA side."""
    ours = set(map(str, annotation_genes))
    theirs = sorted(set(map(str, data_genes)))
    if not theirs or not ours:
        return
    needed = MIN_GENE_OVERLAP * min(len(ours), len(theirs))
    shared = [g for g in theirs if g in ours]
    if len(shared) >= needed:
        return
    folded = {g.upper() for g in ours}
    by_case = sum(g.upper() in folded for g in theirs)
    hint = "use the annotation of the species and genome build of the data, with gene names as in the RNA matrix"
    if by_case >= needed:
        hint += (f" ({by_case} names match when case is ignored: human symbols are upper case (CD3E), mouse ones "
                 "capitalised (Cd3e), so the annotation is probably of another species)")
    raise input_error(annotation_path,
                      f"names only {len(shared)} of the {len(theirs)} genes of {data_path} (e.g. "
                      f"{', '.join(theirs[:3])} vs the annotation's {', '.join(sorted(ours)[:3])})", hint)
