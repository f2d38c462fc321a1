"""Draw the observations from the planted truth: ATAC fragments (by genome window) and RNA counts (by cell
chunk), both streaming, so that 100k cells need memory for one window or one chunk at a time plus the
sparse matrices that are written out."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from scact.simulate._model import _FRAGMENTS, _READS, _RNA, Truth

TSS_REGION = 1_000  #: a fragment within this distance of a TSS counts as a TSS fragment (metrics)
MIDPOINT_SD = 90  #: spread of fragment midpoints around a peak's centre (the TSS for promoter peaks)


@dataclass
class FragmentWindow:
    """Sorted, de-duplicated fragments of one genome window."""

    chrom: str
    start: np.ndarray
    end: np.ndarray
    barcode: np.ndarray  # index into Truth.barcodes
    count: np.ndarray


def _quantiles(draw, size: int = 4096) -> np.ndarray:
    """``size`` evenly spaced quantiles of a distribution: indexing them with uniform integers samples it
    with one random number per fragment instead of several."""
    return np.quantile(draw(np.random.default_rng(0), 200_000), (np.arange(size) + 0.5) / size)


def _lengths(nucleosome_free: float) -> np.ndarray:
    """Nucleosome-free fragments (~50-150 bp) mixed with mono-nucleosome ones (~200 bp)."""
    def draw(rng, n):
        return np.where(rng.random(n) < nucleosome_free, 40 + rng.gamma(2.0, 30.0, n), rng.normal(200, 25, n))
    return np.clip(_quantiles(draw), 30, 800).round().astype(np.int64)


PEAK_LENGTHS, BACKGROUND_LENGTHS = _lengths(0.7), _lengths(0.3)
MIDPOINT_OFFSETS = _quantiles(lambda rng, n: rng.normal(0, MIDPOINT_SD, n)).round().astype(np.int64)
_LENGTH_BITS = 12  # PEAK_LENGTHS has 2**12 entries


def _expected_open_weight(truth: Truth) -> np.ndarray:
    """Per type, the peak weight a cell has open on average (so no pass over all peaks per window)."""
    return truth.open_probability @ truth.peak_weight


def _peak_fragment_rate(truth: Truth, window: int, chunk: int, lo: int, hi: int,
                        expected_open: np.ndarray) -> np.ndarray:
    """Expected fragments of latent cells ``lo:hi`` on each peak of the window (0 where closed): the cell's
    signal fragments spread over its open peaks by peak weight."""
    row = truth.windows.iloc[window]
    signal = truth.fragment_depth[lo:hi] * truth.signal_fraction[lo:hi]
    rate = signal / expected_open[truth.latent_type[lo:hi]]
    return truth.accessibility(chunk, lo, hi, window) * rate[:, None] * truth.peak_weight[None, row.peak_lo:row.peak_hi]


def window_fragments(truth: Truth, window: int) -> FragmentWindow:
    """Fragments of every barcode in one window: open peaks yield fragments centred on them (promoter
    peaks on their TSS), the rest fall uniformly as background."""
    row = truth.windows.iloc[window]
    peaks = truth.peaks.iloc[row.peak_lo:row.peak_hi]
    centers = peaks["center"].to_numpy()
    genome_length = sum(size for chrom, size in truth.chrom_sizes.items() if chrom != "chrM")
    width = row.end - row.start
    expected_open = _expected_open_weight(truth)
    parts = []
    for chunk, lo, hi in truth.cell_chunks():
        rng = np.random.default_rng([truth.config.seed, _FRAGMENTS, chunk, window])
        signal = truth.fragment_depth[lo:hi] * truth.signal_fraction[lo:hi]
        counts = rng.poisson(_peak_fragment_rate(truth, window, chunk, lo, hi, expected_open))
        cells, cols = np.nonzero(counts)
        reps = counts[cells, cols]
        draws = rng.integers(0, 1 << (2 * _LENGTH_BITS), len(cells_of := np.repeat(cells, reps)))
        peak_mid = np.repeat(centers[cols], reps) + MIDPOINT_OFFSETS[draws >> _LENGTH_BITS]
        peak_length = PEAK_LENGTHS[draws & ((1 << _LENGTH_BITS) - 1)]
        n_background = rng.poisson((truth.fragment_depth[lo:hi] - signal) * width / genome_length)
        bg_cells = np.repeat(np.arange(hi - lo), n_background)
        bg_mid = rng.integers(row.start, row.end, len(bg_cells))
        bg_length = BACKGROUND_LENGTHS[rng.integers(0, len(BACKGROUND_LENGTHS), len(bg_cells))]
        length = np.concatenate([peak_length, bg_length])
        start = np.clip(np.concatenate([peak_mid, bg_mid]) - length // 2, row.start, row.end - 1)
        length = np.minimum(length, truth.chrom_sizes[row.chrom] - start)
        barcode = truth.latent_barcode[lo + np.concatenate([cells_of, bg_cells])]
        # one int64 key orders by (start, end, barcode): 22 bits offset, 10 bits length, 31 bits barcode
        parts.append((((start - row.start) << 41) | (length << 31) | barcode).astype(np.int64))
    keys = np.concatenate(parts)
    # np.unique sorts: one record per (start, end, barcode); duplicates and extra reads make up the read count (<= 9)
    keys, multiplicity = np.unique(keys, return_counts=True)
    rng = np.random.default_rng([truth.config.seed, _READS, window])
    count = np.minimum(multiplicity + rng.poisson(0.3, len(keys)), 9)
    start = (keys >> 41) + row.start
    return FragmentWindow(row.chrom, start, start + ((keys >> 31) & 1023), keys & 0x7FFFFFFF, count)


def peak_cut_sites(truth: Truth, window: int, fragments: FragmentWindow) -> sp.csr_matrix:
    """Barcodes x window peaks: Tn5 cut sites (both fragment ends) inside each peak, as CellRanger counts."""
    row = truth.windows.iloc[window]
    peaks = truth.peaks.iloc[row.peak_lo:row.peak_hi]
    starts, ends = peaks["start"].to_numpy(), peaks["end"].to_numpy()
    rows, cols = [], []
    for cut in (fragments.start, fragments.end - 1):
        idx = np.searchsorted(starts, cut, side="right") - 1
        inside = (idx >= 0) & (cut < ends[np.maximum(idx, 0)])
        rows.append(fragments.barcode[inside])
        cols.append(idx[inside])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.ones(len(rows), np.int32), (rows, cols)),
                         shape=(len(truth.barcodes), len(peaks)))


def peak_cut_counts(truth: Truth) -> sp.csr_matrix:
    """The matrix cells x peaks: two Tn5 cuts for each fragment drawn on an open peak, with no fragment file
    (no background or doublet fragments), for memory benchmarks of the steps after peak calling at atlas
    size. Its draws are not those of the fragments (only open peaks draw, which is what makes it fast)."""
    n_cells = truth.config.n_cells  # the first latent cells are the matrix cells, in the order of cells
    expected_open = _expected_open_weight(truth)
    rows = []
    for chunk, lo, hi in truth.cell_chunks():
        if lo >= n_cells:
            break
        hi = min(hi, n_cells)
        blocks = []
        for window in range(len(truth.windows)):
            rng = np.random.default_rng([truth.config.seed, _FRAGMENTS, chunk, window])
            rate = _peak_fragment_rate(truth, window, chunk, lo, hi, expected_open)
            cells, peaks = np.nonzero(rate)
            fragments = rng.poisson(rate[cells, peaks])
            drawn = fragments > 0  # most open peaks draw none: keep only the cuts (7x fewer entries)
            blocks.append(sp.csr_matrix((2 * fragments[drawn].astype(np.int32), (cells[drawn], peaks[drawn])),
                                        shape=rate.shape))
        rows.append(sp.hstack(blocks, format="csr"))
    return sp.vstack(rows, format="csr")


def tss_fragment_counts(truth: Truth, fragments: FragmentWindow) -> np.ndarray:
    """Fragments per barcode within ``TSS_REGION`` bp of a TSS of the window's chromosome."""
    tss = np.sort(truth.genes.loc[truth.genes["chrom"] == fragments.chrom, "tss"].to_numpy())
    near = (np.searchsorted(tss, fragments.end + TSS_REGION, side="left")
            - np.searchsorted(tss, fragments.start - TSS_REGION, side="left")) > 0
    return np.bincount(fragments.barcode[near], minlength=len(truth.barcodes))


def rna_counts(truth: Truth) -> sp.csr_matrix:
    """Barcodes x genes UMI counts. A latent cell's expression is its type's mean, moved by its program
    scores (program genes) and raised by the open linked peaks of that cell (``exp(sum effect)``), with
    gamma noise (negative binomial counts); a doublet barcode sums the counts of its two latent cells."""
    genes = truth.genes
    is_mt = (genes["chrom"] == "chrM").to_numpy()
    links = truth.links
    effects = []  # per window: (window, dense window peaks x window genes effect matrix)
    for window, row in enumerate(truth.windows.itertuples()):
        in_window = links[(links["peak"] >= row.peak_lo) & (links["peak"] < row.peak_hi)]
        if in_window.empty:
            continue
        effect = np.zeros((row.peak_hi - row.peak_lo, row.gene_hi - row.gene_lo), np.float32)
        effect[in_window["peak"].to_numpy() - row.peak_lo, in_window["gene"].to_numpy() - row.gene_lo] = \
            in_window["effect"].to_numpy()
        effects.append((window, row.gene_lo, row.gene_hi, effect))
    blocks = []
    for chunk, lo, hi in truth.cell_chunks():
        log_rate = truth.gene_log_mean[truth.latent_type[lo:hi]] + truth.program_log_shift(lo, hi)
        for window, gene_lo, gene_hi, effect in effects:
            open_ = truth.accessibility(chunk, lo, hi, window)
            log_rate[:, gene_lo:gene_hi] += open_.astype(np.float32) @ effect
        rate = np.exp(log_rate - log_rate.max(axis=1, keepdims=True))
        rate[:, is_mt] = 0.0
        rate /= rate.sum(axis=1, keepdims=True)
        mt_share = np.zeros_like(rate)
        mt_share[:, is_mt] = 1.0 / is_mt.sum()
        mt = truth.mt_fraction[lo:hi, None]
        rate = (1 - mt) * rate + mt * mt_share
        rng = np.random.default_rng([truth.config.seed, _RNA, chunk])
        rate *= truth.umi_depth[lo:hi, None] * rng.gamma(4.0, 0.25, rate.shape)
        blocks.append(sp.csr_matrix(rng.poisson(rate).astype(np.int32)))
    latent = sp.vstack(blocks, format="csr")
    to_barcode = sp.csr_matrix((np.ones(truth.n_latent, np.int32), (truth.latent_barcode, np.arange(truth.n_latent))),
                               shape=(len(truth.barcodes), truth.n_latent))
    return (to_barcode @ latent).tocsr()


def planted_matrices(truth: Truth) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The matrix cells' UMI counts (cells x genes) and planted open/closed states (cells x peaks, what a
    perfect ATAC assay would read), without fragments: paired data straight from the truth, for tests of
    evaluation protocols and models that need no QC or peak calling."""
    cells = truth.cell_barcodes
    counts = rna_counts(truth)[cells]
    n_cells = truth.config.n_cells  # the first latent cells are the matrix cells, in the order of cells
    rows = []
    for chunk, lo, hi in truth.cell_chunks():
        if lo >= n_cells:
            break
        states = [truth.accessibility(chunk, lo, hi, w) for w in range(len(truth.windows))]
        rows.append(sp.csr_matrix(np.hstack(states)[: n_cells - lo], dtype=np.float32))
    return counts.tocsr(), sp.vstack(rows, format="csr")
