"""ATAC preprocessing: per-barcode QC from fragments, MACS peak calling, peak matrices, TF-IDF/LSI.

Conventions (documented once, used everywhere here):

* **Tn5 insertions.** Each fragment ``[start, end)`` has two insertion sites. CellRanger(-arc) fragments
  are already shifted to the insertion site (``tn5="cellranger"``, default): the sites are ``start`` and
  ``end - 1``. Fragments built from raw alignments (``tn5="unshifted"``) get the usual +4/-5 correction:
  ``start + 4`` and ``end - 5``.
* **TSS enrichment** (ArchR-style, per cell): every insertion is assigned to its nearest TSS; those within
  +-50 bp count as centre, those 1,900-2,000 bp away (either side) as flank. TSS enrichment =
  (centre / 101 bp) / ((flank + 1) / 202 bp); the pseudo-count keeps shallow cells from scoring high.
* **Doublets** (AMULET-style, Thibodeau et al. 2021): a diploid cell yields at most two overlapping
  fragments at any locus, so a barcode whose fragments overlap three-deep is suspect. Per barcode we
  count fragments that start while the two previous fragments of that barcode are still open, compare
  that count with a Poisson whose mean scales with the barcode's fragments (the pooled rate of the
  candidate cells), and call doublets at Benjamini-Hochberg q < 0.01. chrM and chromosomes outside the
  annotation are excluded (they are multi-copy or unannotated).
* **Peaks**: MACS3 ``callpeak`` on the pseudo-bulk of kept cells, each insertion written as a 1-bp BED
  record, ``--nomodel --shift -100 --extsize 200 --keep-dup all -q 0.01`` (a 200-bp window centred on each
  cut); summits are widened to fixed 501-bp peaks, overlapping peaks merged, chrM and chromosomes absent
  from the annotation dropped, and the result sorted in genome order.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from scact.errors import input_error
from scact.io.annotation import tss_by_chrom
from scact.io.fragments import BarcodeIndex, iter_fragment_blocks
from scact.stats import benjamini_hochberg

log = logging.getLogger(__name__)

TN5_CONVENTIONS = ("cellranger", "unshifted")
MITO_NAMES = {"chrM", "chrMT", "MT", "M"}
TSS_CENTRE_BP = 50
TSS_FLANK_BP = (1900, 2000)


# ---------------------------------------------------------------------------------------------- helpers
def genome_order_key(chrom: str):
    """Natural chromosome order: 1..22, X, Y, M, then anything else alphabetically."""
    name = re.sub(r"^chr", "", str(chrom), flags=re.IGNORECASE)
    if name.isdigit():
        return (0, int(name), "")
    rank = {"X": 1, "Y": 2, "M": 3, "MT": 3}.get(name.upper())
    return (1, rank, "") if rank is not None else (2, 0, name)


def sort_genome_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of a frame with ``chrom``/``start``/``end`` sorted in genome order."""
    keys = frame["chrom"].astype(str).map(genome_order_key)
    order = sorted(range(len(frame)), key=lambda i: (keys.iat[i], frame["start"].iat[i], frame["end"].iat[i]))
    return frame.iloc[order]


def insertion_sites(starts: np.ndarray, ends: np.ndarray, tn5: str) -> tuple[np.ndarray, np.ndarray]:
    """The two Tn5 insertion sites of each fragment (see the module docstring)."""
    if tn5 == "cellranger":
        return starts, ends - 1
    if tn5 == "unshifted":
        return starts + 4, ends - 5
    raise ValueError(f"tn5 must be one of {TN5_CONVENTIONS}")


def _grow(array: np.ndarray, size: int, fill=0) -> np.ndarray:
    if len(array) >= size:
        return array
    return np.concatenate([array, np.full(size - len(array), fill, dtype=array.dtype)])


def _nearest_distance(positions: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Absolute distance of each position to the nearest of the sorted ``sites``."""
    idx = np.searchsorted(sites, positions)
    right = sites[np.minimum(idx, len(sites) - 1)]
    left = sites[np.maximum(idx - 1, 0)]
    return np.minimum(np.abs(positions - left), np.abs(right - positions))


# ---------------------------------------------------------------------------------------- QC metrics
def fragment_metrics(path, genes: pd.DataFrame, tn5: str = "cellranger", chunk_size: int = 2_000_000,
                     max_fragment_length: int = 1000,
                     fragments_per_chrom: dict[str, int] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-barcode metrics in one streaming pass over a fragments file.

    Returns a frame indexed by barcode with ``n_fragments`` (unique fragments: rows of the file),
    ``tss_centre``, ``tss_flank``, ``tss_enrichment``, ``n_overlaps3`` (AMULET-style triple overlaps,
    annotated autosomes/sex chromosomes only), plus the pooled fragment-length histogram.
    Memory grows with the number of barcodes, never with the number of fragments. ``fragments_per_chrom``,
    when given, is filled with the number of fragments (all barcodes) of each chromosome.
    """
    tss = tss_by_chrom(genes)
    index = BarcodeIndex()
    n_frag = np.zeros(0, np.int64)
    centre = np.zeros(0, np.int64)
    flank = np.zeros(0, np.int64)
    overlaps = np.zeros(0, np.int64)
    last_end1 = np.zeros(0, np.int64)   # end of the barcode's latest fragment on the current chromosome
    last_end2 = np.zeros(0, np.int64)   # ... and of the one before
    last_chrom = np.zeros(0, np.int64)  # chromosome number those ends belong to
    lengths = np.zeros(max_fragment_length + 1, np.int64)
    chrom_numbers: dict[str, int] = {}
    for block in iter_fragment_blocks(path, index, chunk_size):
        n = len(index)
        n_frag, centre, flank, overlaps = (_grow(a, n) for a in (n_frag, centre, flank, overlaps))
        last_end1, last_end2 = _grow(last_end1, n, -1), _grow(last_end2, n, -1)
        last_chrom = _grow(last_chrom, n, -1)
        codes = block.barcodes
        n_frag += np.bincount(codes, minlength=n)
        if fragments_per_chrom is not None:
            fragments_per_chrom[block.chrom] = fragments_per_chrom.get(block.chrom, 0) + len(codes)
        lengths += np.bincount(np.minimum(block.ends - block.starts, max_fragment_length),
                               minlength=max_fragment_length + 1)
        sites = tss.get(block.chrom)
        if sites is None or block.chrom in MITO_NAMES:
            continue
        for cut in insertion_sites(block.starts, block.ends, tn5):
            distance = _nearest_distance(cut, sites)
            centre += np.bincount(codes[distance <= TSS_CENTRE_BP], minlength=n)
            in_flank = (distance >= TSS_FLANK_BP[0]) & (distance <= TSS_FLANK_BP[1])
            flank += np.bincount(codes[in_flank], minlength=n)
        chrom_number = chrom_numbers.setdefault(block.chrom, len(chrom_numbers))
        overlaps += _triple_overlaps(block, chrom_number, last_end1, last_end2, last_chrom, n)
    tsse = (centre / (2 * TSS_CENTRE_BP + 1)) / ((flank + 1) / (2 * (TSS_FLANK_BP[1] - TSS_FLANK_BP[0] + 1)))
    metrics = pd.DataFrame({"n_fragments": n_frag, "tss_centre": centre, "tss_flank": flank,
                            "tss_enrichment": tsse, "n_overlaps3": overlaps}, index=pd.Index(index.names, name="barcode"))
    return metrics, lengths


def _triple_overlaps(block, chrom_number, last_end1, last_end2, last_chrom, n) -> np.ndarray:
    """Count fragments starting while the barcode's two previous fragments are still open (in place state)."""
    order = np.argsort(block.barcodes, kind="stable")  # block is sorted by start: stays so per barcode
    codes, starts, ends = block.barcodes[order], block.starts[order], block.ends[order]
    first = np.r_[True, codes[1:] != codes[:-1]]
    second = np.r_[False, first[:-1]] & ~first
    carried = last_chrom[codes] == chrom_number
    prev1 = np.r_[-1, ends[:-1]]
    prev2 = np.r_[-1, -1, ends[:-2]]
    prev1 = np.where(first, np.where(carried, last_end1[codes], -1), prev1)
    prev2 = np.where(first, np.where(carried, last_end2[codes], -1), np.where(second, np.where(carried, last_end1[codes], -1), prev2))
    triple = (starts < prev1) & (starts < prev2)
    counts = np.bincount(codes[triple], minlength=n)
    # carry the two latest ends of each barcode into the next block
    last = np.r_[np.flatnonzero(first[1:]), len(codes) - 1]
    group_codes = codes[last]
    last_end2[group_codes] = np.where(first[last], prev1[last], ends[np.maximum(last - 1, 0)])
    last_end1[group_codes] = ends[last]
    last_chrom[group_codes] = chrom_number
    return counts


#: ``auto``: AMULET when a fragments file is given, else DoubletDetection on the binarized peak counts.
DOUBLET_METHODS = ("auto", "amulet", "doubletdetection", "none")


def call_amulet_doublets(metrics: pd.DataFrame, candidates: np.ndarray, q_threshold: float = 0.01) -> pd.DataFrame:
    """Poisson test of triple overlaps against a rate proportional to the barcode's fragments."""
    sub = metrics.loc[candidates]
    rate = sub["n_overlaps3"].sum() / max(sub["n_fragments"].sum(), 1)
    expected = rate * sub["n_fragments"].to_numpy()
    observed = sub["n_overlaps3"].to_numpy()
    pvalues = np.where(observed > 0, stats.poisson.sf(observed - 1, np.maximum(expected, 1e-12)), 1.0)
    qvalues = benjamini_hochberg(pvalues)
    return pd.DataFrame({"doublet_pvalue": pvalues, "doublet_qvalue": qvalues,
                         "doublet": qvalues < q_threshold}, index=sub.index)


QC_REASONS = ("not_called_by_cellranger", "low_fragments", "low_tss_enrichment", "low_peak_counts", "doublet")


def qc_reason_table(reasons: pd.Series, n_input: int) -> pd.DataFrame:
    """Removed barcodes counted by their first failing reason, plus input and kept totals."""
    rows = [("input_barcodes", n_input)]
    rows += [(reason, int((reasons == reason).sum())) for reason in QC_REASONS if (reasons == reason).any()]
    rows.append(("kept", int((reasons == "kept").sum())))
    return pd.DataFrame(rows, columns=["reason", "n_barcodes"])


# ------------------------------------------------------------------------------------------- peaks
#: Insertions MACS gets per pseudo-bulk (about 10,000 cells of 5,000 fragments): beyond it MACS's time,
#: the largest of the pipeline at 10,000 cells (docs/benchmarks_scale.md), would grow with cells while the
#: peaks it finds no longer change much; ArchR caps its pseudo-bulks the same way (by cells).
MAX_INSERTIONS = 100_000_000


def write_pseudobulk_insertions(fragment_files: list[tuple[str, dict[str, str]]], outdir: Path, tn5: str,
                                keep_chroms: set[str], chunk_size: int = 2_000_000,
                                keep_fraction: dict[str, float] | None = None,
                                seed: int = 0) -> tuple[dict[str, Path], dict[str, int]]:
    """Write each insertion of the kept barcodes as a 1-bp BED6 record (+ strand), one BED per group.

    ``fragment_files`` pairs each fragments file with ``{barcode: group}`` of its kept cells (one group
    for a plain pseudo-bulk). ``keep_fraction`` (per group, default 1) keeps each fragment of the group
    with that probability, drawn from one generator seeded with ``seed`` in file order (deterministic).
    Returns the BED of each group and the number of fragments dropped per excluded chromosome (chrM and
    those not in the annotation).
    """
    groups = sorted({g for _, mapping in fragment_files for g in mapping.values()})
    fractions = np.array([(keep_fraction or {}).get(g, 1.0) for g in groups])
    rng = np.random.default_rng(seed)
    beds = {group: outdir / f"insertions_{i}.bed" for i, group in enumerate(groups)}
    handles = {group: open(path, "w") for group, path in beds.items()}
    dropped: dict[str, int] = {}
    try:
        for path, mapping in fragment_files:
            index = BarcodeIndex(sorted(mapping))
            n_keep = len(index)
            group_of_code = np.array([groups.index(mapping[b]) for b in index.names], dtype=np.int64)
            for block in iter_fragment_blocks(path, index, chunk_size):
                mask = block.barcodes < n_keep
                if block.chrom in MITO_NAMES or block.chrom not in keep_chroms:
                    dropped[block.chrom] = dropped.get(block.chrom, 0) + int(mask.sum())
                    continue
                block_groups = group_of_code[block.barcodes[mask]]
                for group_number in np.unique(block_groups):
                    in_group = block_groups == group_number
                    if fractions[group_number] < 1:  # one draw per fragment of this group only
                        members = np.flatnonzero(in_group)
                        in_group[members[rng.random(members.size) >= fractions[group_number]]] = False
                    cuts = np.concatenate(insertion_sites(block.starts[mask][in_group], block.ends[mask][in_group], tn5))
                    cuts = np.sort(cuts[cuts >= 0])
                    frame = pd.DataFrame({"c": block.chrom, "s": cuts, "e": cuts + 1, "n": ".", "v": 0, "t": "+"})
                    frame.to_csv(handles[groups[group_number]], sep="\t", header=False, index=False)
    finally:
        for handle in handles.values():
            handle.close()
    return beds, dropped


#: MACS releases ``call_peaks`` can run: MACS3 (pinned in requirements/runtime.txt) or MACS2 (the paper's
#: 2.2.9.1; installed on its own, docs/atac_preprocessing.md), with the same callpeak options.
MACS_VERSIONS = ("macs3", "macs2")


def macs_executable(version: str = "macs3") -> str:
    """The ``macs3``/``macs2`` command beside this Python (the project venv), else on PATH."""
    if version not in MACS_VERSIONS:
        raise input_error("--macs-version", f"must be one of {', '.join(MACS_VERSIONS)} (got {version!r})")
    beside = Path(sys.executable).parent / version
    found = str(beside) if beside.exists() else shutil.which(version)
    if not found:
        fix = ("pip install macs3 (requirements/runtime.txt)" if version == "macs3" else
               "install MACS2 in its own environment (pip install macs2==2.2.9.1) and put its bin/ on PATH; "
               "see docs/atac_preprocessing.md")
        raise input_error(version, f"the {version.upper()} command was not found", fix)
    return found


def run_macs(insertions_bed: Path, outdir: Path, name: str, genome_size: str, qvalue: float,
             extra_args: list[str] | None = None, version: str = "macs3") -> Path:
    """``macs3 callpeak`` (or ``macs2 callpeak``) on an insertions BED; returns the narrowPeak path."""
    command = [macs_executable(version), "callpeak", "-t", str(insertions_bed), "-f", "BED", "-g", str(genome_size),
               "-n", name, "--outdir", str(outdir), "--nomodel", "--shift", "-100", "--extsize", "200",
               "--keep-dup", "all", "-q", str(qvalue), "--call-summits"] + list(extra_args or [])
    log.info("running %s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{version} callpeak failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return outdir / f"{name}_peaks.narrowPeak"


def read_narrowpeak(path: Path) -> pd.DataFrame:
    columns = ["chrom", "start", "end", "name", "score", "strand", "signal", "pvalue", "qvalue", "summit"]
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame(columns=columns)
    return pd.read_csv(path, sep="\t", header=None, names=columns, dtype={"chrom": str})


def fixed_width_merged_peaks(narrow: pd.DataFrame, half_width: int = 250) -> pd.DataFrame:
    """Summits widened to ``2*half_width+1`` bp, overlapping peaks merged, in genome order."""
    if narrow.empty:
        return pd.DataFrame(columns=["chrom", "start", "end"])
    summit = narrow["start"].to_numpy(np.int64) + narrow["summit"].to_numpy(np.int64)
    peaks = pd.DataFrame({"chrom": narrow["chrom"].astype(str).to_numpy(),
                          "start": np.maximum(summit - half_width, 0), "end": summit + half_width + 1})
    return merge_intervals(peaks)


def merge_intervals(intervals: pd.DataFrame) -> pd.DataFrame:
    """Merge overlapping or touching intervals per chromosome; genome order."""
    merged = []
    for chrom, group in intervals.groupby("chrom", sort=False):
        group = group.sort_values("start")
        starts, ends = group["start"].to_numpy(np.int64), group["end"].to_numpy(np.int64)
        running_end = np.maximum.accumulate(ends)
        new = np.r_[True, starts[1:] > running_end[:-1]]
        merged.append(pd.DataFrame({"chrom": chrom, "start": starts[new],
                                    "end": np.maximum.reduceat(ends, np.flatnonzero(new)) if len(starts) else []}))
    out = pd.concat(merged, ignore_index=True) if merged else pd.DataFrame(columns=["chrom", "start", "end"])
    return sort_genome_order(out).reset_index(drop=True)


def peak_names(peaks: pd.DataFrame) -> list[str]:
    return (peaks["chrom"].astype(str) + ":" + peaks["start"].astype(str) + "-" + peaks["end"].astype(str)).tolist()


def read_peaks_bed(path) -> pd.DataFrame:
    """Peaks BED (chrom, start, end, ...) -> merged, genome-ordered frame."""
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "peaks file not found")
    try:
        bed = pd.read_csv(path, sep="\t", header=None, comment="#", usecols=[0, 1, 2], dtype={0: str})
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise input_error(path, f"cannot be read as a BED file ({err})") from err
    bed.columns = ["chrom", "start", "end"]
    if bed.empty:
        raise input_error(path, "peaks file holds no peaks")
    return merge_intervals(bed.astype({"start": np.int64, "end": np.int64}))


# ---------------------------------------------------------------------------------------- matrices
def peak_matrix_from_fragments(path, barcodes: list[str], peaks: pd.DataFrame, tn5: str = "cellranger",
                               chunk_size: int = 2_000_000) -> sp.csr_matrix:
    """Cells x peaks insertion counts (CSR, float32), one streaming pass; peaks must not overlap."""
    index = BarcodeIndex(barcodes)
    n_cells = len(index)
    by_chrom = {chrom: (group.index.to_numpy(), group["start"].to_numpy(np.int64), group["end"].to_numpy(np.int64))
                for chrom, group in peaks.reset_index(drop=True).groupby("chrom")}
    matrix = sp.csr_matrix((n_cells, len(peaks)), dtype=np.float32)
    found_any = False
    for block in iter_fragment_blocks(path, index, chunk_size):
        if block.chrom not in by_chrom:
            continue
        keep = block.barcodes < n_cells
        if not keep.any():
            continue
        found_any = True
        peak_ids, peak_starts, peak_ends = by_chrom[block.chrom]
        rows, cols = [], []
        for cut in insertion_sites(block.starts[keep], block.ends[keep], tn5):
            slot = np.searchsorted(peak_starts, cut, side="right") - 1
            inside = (slot >= 0) & (cut < peak_ends[np.maximum(slot, 0)])
            rows.append(block.barcodes[keep][inside])
            cols.append(peak_ids[slot[inside]])
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        matrix = matrix + sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=matrix.shape)
    if not found_any:
        raise input_error(path, f"none of its fragments belong to the {n_cells} cells on peak chromosomes",
                          "check that the fragments file is the one of this sample")
    matrix.sum_duplicates()
    return matrix.tocsr()


def binarize(counts: sp.spmatrix, copy: bool = True) -> sp.csr_matrix:
    """Accessible or not: a sparse 0/1 float32 cells x peaks matrix. ``copy=False`` overwrites a float32 CSR
    input in place, so an atlas-size matrix is never held twice."""
    binary = sp.csr_matrix(counts, dtype=np.float32, copy=copy)
    binary.eliminate_zeros()
    binary.data[:] = 1.0
    return binary


def as_binary(matrix) -> sp.csr_matrix:
    """``matrix`` itself when it is already a 0/1 float32 CSR (as atac.h5ad holds it), else a binarized
    copy: for read-only uses, which then need no copy of an atlas-size matrix."""
    if sp.isspmatrix_csr(matrix) and matrix.dtype == np.float32 and bool((matrix.data == 1).all()):
        return matrix
    return binarize(matrix)


def _tfidf_blocks(binary: sp.csr_matrix, scale: float, cell_totals: np.ndarray | None, block_nnz: int = 1 << 22):
    """TF-IDF values of ``binary.data``, a block of cells at a time: (first, last) data offsets and values.
    Blocks of about ``block_nnz`` entries keep the temporaries small; a cells x peaks product of sparse
    diagonals would copy the matrix twice in float64."""
    if cell_totals is None:
        cell_totals = np.asarray(binary.sum(axis=1)).ravel()
    idf = binary.shape[0] / np.maximum(np.asarray(binary.sum(axis=0)).ravel(), 1)
    rows = max(1, int(block_nnz * binary.shape[0] / max(binary.nnz, 1)))
    for lo in range(0, binary.shape[0], rows):
        hi = min(lo + rows, binary.shape[0])
        first, last = binary.indptr[lo], binary.indptr[hi]
        tf = np.repeat(1.0 / np.maximum(cell_totals[lo:hi], 1), np.diff(binary.indptr[lo:hi + 1]))
        yield first, last, np.log1p(binary.data[first:last] * tf * idf[binary.indices[first:last]] * scale)


def tfidf(binary: sp.csr_matrix, scale: float = 1e4, cell_totals: np.ndarray | None = None) -> sp.csr_matrix:
    """Signac-style log TF-IDF: log1p(x / cell_total * n_cells / peak_total * scale), sparse float32.
    ``cell_totals`` (default: the row sums) lets a subset of peaks keep the depths of all of them."""
    out = sp.csr_matrix(binary, dtype=np.float32, copy=True)
    for first, last, values in _tfidf_blocks(out, scale, cell_totals):
        out.data[first:last] = values
    return out


def tfidf_peak_scores(binary: sp.csr_matrix, scale: float = 1e4) -> np.ndarray:
    """Column sums of ``tfidf(binary)`` without building it: the ranking of --n-top-peaks."""
    binary = sp.csr_matrix(binary, dtype=np.float32)
    scores = np.zeros(binary.shape[1])
    for first, last, values in _tfidf_blocks(binary, scale, None):
        scores += np.bincount(binary.indices[first:last], weights=values, minlength=binary.shape[1])
    return scores


def lsi(tfidf_matrix: sp.csr_matrix, depth: np.ndarray, n_components: int = 20, seed: int = 0,
        depth_r: float = 0.9) -> tuple[np.ndarray, int, np.ndarray]:
    """Truncated SVD with ``n_components + 1`` components, then one dropped: the component most
    correlated with log depth when |r| > ``depth_r``, else the first (the usual depth-driven one).
    Returns (embedding, dropped component index, correlations)."""
    from sklearn.decomposition import TruncatedSVD

    k = min(n_components + 1, min(tfidf_matrix.shape) - 1)
    svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=7, random_state=seed)
    embedding = svd.fit_transform(tfidf_matrix)
    log_depth = np.log1p(depth)
    correlations = np.array([np.corrcoef(embedding[:, i], log_depth)[0, 1] if embedding[:, i].std() > 0 else 0.0
                             for i in range(k)])
    best = int(np.nanargmax(np.abs(correlations)))
    dropped = best if abs(correlations[best]) > depth_r else 0
    embedding = np.delete(embedding, dropped, axis=1)
    return embedding.astype(np.float32), dropped, correlations


def gene_activity_matrix(binary: sp.csr_matrix, peaks: pd.DataFrame, regions: pd.DataFrame) -> tuple[sp.csr_matrix, pd.DataFrame]:
    """Cells x genes: accessible peaks overlapping each gene's body + upstream window (sparse)."""
    rows, cols = [], []
    peaks = peaks.reset_index(drop=True)
    for chrom, genes in regions.groupby("chrom"):
        on_chrom = peaks.index[peaks["chrom"] == chrom].to_numpy()
        if not len(on_chrom):
            continue
        p_start = peaks["start"].to_numpy(np.int64)[on_chrom]
        p_end = peaks["end"].to_numpy(np.int64)[on_chrom]
        order = np.argsort(p_start)
        on_chrom, p_start, p_end = on_chrom[order], p_start[order], p_end[order]
        max_len = int((p_end - p_start).max())
        for gene_id, g_start, g_end in zip(genes.index, genes["start"].to_numpy(), genes["end"].to_numpy()):
            lo = np.searchsorted(p_start, g_start - max_len)
            hi = np.searchsorted(p_start, g_end)
            hits = on_chrom[lo:hi][p_end[lo:hi] > g_start]
            rows.extend(hits)
            cols.extend([gene_id] * len(hits))
    overlap = sp.csr_matrix((np.ones(len(rows), np.float32), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
                            shape=(len(peaks), len(regions)))
    has_signal = np.asarray(overlap.sum(axis=0)).ravel() > 0
    overlap = overlap[:, has_signal]  # genes without a peak dropped before the product, not after it
    return (sp.csr_matrix(binary, dtype=np.float32) @ overlap).tocsr(), regions.loc[has_signal]


def temporary_directory(prefix: str) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix=prefix, dir=os.environ.get("TMPDIR"))
