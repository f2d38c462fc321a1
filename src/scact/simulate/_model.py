"""The planted truth of a simulated multiome sample: genome, cell types, accessibility, links, depths.

Everything random here is drawn from generators seeded by ``(seed, purpose, chunk...)`` so that a block
of the cells x peaks accessibility can be regenerated identically by the ATAC pass (by genome window)
and the RNA pass (by cell chunk) without ever holding the whole matrix.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scact.errors import input_error

LOCUS = 50_000  #: bp of genome given to each nuclear gene
SLOT = 1_000  #: a locus is cut into slots; each peak sits in its own slot
SLOTS = LOCUS // SLOT
TSS_SLOT = SLOTS // 2
PEAK_HALF_WIDTH = 250
CHROM_FLANK = 20_000  #: empty sequence at both ends of every chromosome
LOCI_PER_WINDOW = 20  #: genome windows (the unit of fragment generation) hold this many loci
CELL_CHUNK = 2048  #: cells per block; fixed so that results do not depend on the machine
MT_GENES = ("mt-Nd1", "mt-Nd2", "mt-Co1", "mt-Co2", "mt-Atp8", "mt-Atp6", "mt-Co3", "mt-Nd3",
            "mt-Nd4l", "mt-Nd4", "mt-Nd5", "mt-Nd6", "mt-Cytb")
CHRM_SIZE = 16_299
LOW_QUALITY_KINDS = ("low_umis", "low_fragments", "low_tss_enrichment")

# Purposes that seed independent random streams.
_PARAMS, _ACCESS, _FRAGMENTS, _RNA, _READS, _PROGRAMS = 0, 1, 2, 3, 4, 5


@dataclass(frozen=True)
class SimulationConfig:
    """Size and quality mix of a simulated sample (``n_cells`` counts every barcode of the filtered matrix,
    doublets and low-quality ones included; empty barcodes appear only in the fragments and metrics)."""

    n_cells: int = 2000
    n_genes: int = 1000
    n_peaks: int = 4000
    n_chromosomes: int = 4
    n_cell_types: int = 5
    seed: int = 0
    sample: str = "sim"
    genome: str = "sim_mm10"
    doublet_fraction: float = 0.05
    low_quality_fraction: float = 0.06
    empty_fraction: float = 0.2
    median_fragments: int = 3000
    median_umis: int = 2500
    #: continuous programs inside types: each cell has a score per program (standard normal, independent of
    #: its type) that moves the log-odds of the program's peaks and the log expression of its genes by
    #: ``program_strength`` per unit, in both modalities of the same cell
    n_programs: int = 0
    program_strength: float = 1.0

    def check(self) -> None:
        """Refuse sizes the layout cannot hold, naming the option to change."""
        checks = [
            (self.n_cells >= 20, "--n-cells", "must be at least 20"),
            (1 <= self.n_chromosomes <= 22, "--n-chromosomes", "must be between 1 and 22"),
            (2 <= self.n_cell_types <= 26, "--n-cell-types", "must be between 2 and 26"),
            (self.n_genes >= 20 * self.n_cell_types, "--n-genes", "must be at least 20 per cell type"),
            (self.n_peaks >= 2 * self.n_genes // 3, "--n-peaks", "must be at least 2/3 of --n-genes"),
            (self.n_peaks <= (self.n_genes - 13) * (SLOTS - 1), "--n-peaks",
             f"must be at most {SLOTS - 1} per gene (one peak per {SLOT} bp slot)"),
            (self.n_genes - n_mt_genes(self.n_genes) >= self.n_chromosomes, "--n-genes",
             "needs at least one gene per chromosome"),
            (0 <= self.n_programs <= 10, "--n-programs", "must be between 0 and 10"),
            (self.program_strength >= 0, "--program-strength", "must be 0 or more"),
        ]
        for ok, option, problem in checks:
            if not ok:
                raise input_error(option, f"{problem} (got {getattr(self, option[2:].replace('-', '_'))})")


def n_mt_genes(n_genes: int) -> int:
    return len(MT_GENES) if n_genes >= 200 else max(2, n_genes // 20)


@dataclass
class Truth:
    """The planted structure, shared by the ATAC and RNA passes."""

    config: SimulationConfig
    chrom_sizes: dict[str, int]
    genes: pd.DataFrame  # gene, gene_id, chrom, start, end, tss, strand, locus (nuclear locus or -1)
    peaks: pd.DataFrame  # chrom, start, end, center, gene (locus owner index), is_promoter; genome order
    windows: pd.DataFrame  # chrom, start, end, peak_lo, peak_hi, gene_lo, gene_hi
    cell_types: list[str]
    markers: dict[str, list[int]]  # cell type -> gene indices
    open_probability: np.ndarray  # types x peaks
    peak_weight: np.ndarray  # peaks: relative fragment yield when open
    links: pd.DataFrame  # gene (index), peak (index), effect
    gene_log_mean: np.ndarray  # types x genes
    # latent cells: [cells of the matrix, empty barcodes, second cells of doublets]
    latent_type: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    latent_barcode: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    fragment_depth: np.ndarray = field(default_factory=lambda: np.zeros(0))
    signal_fraction: np.ndarray = field(default_factory=lambda: np.zeros(0))
    umi_depth: np.ndarray = field(default_factory=lambda: np.zeros(0))
    mt_fraction: np.ndarray = field(default_factory=lambda: np.zeros(0))
    barcodes: np.ndarray = field(default_factory=lambda: np.zeros(0, object))  # every barcode, sorted
    cell_barcodes: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # rows of the matrix
    cells: pd.DataFrame | None = None  # ground truth of the matrix barcodes
    programs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["program", "gene"]))
    program_peak: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # program of each peak or -1
    program_score: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # latent cells x programs

    @property
    def n_latent(self) -> int:
        return len(self.latent_type)

    def cell_chunks(self):
        for start in range(0, self.n_latent, CELL_CHUNK):
            yield start // CELL_CHUNK, start, min(start + CELL_CHUNK, self.n_latent)

    def accessibility(self, chunk: int, start: int, stop: int, window: int) -> np.ndarray:
        """Open (True) / closed state of the window's peaks in latent cells ``start:stop``."""
        row = self.windows.iloc[window]
        rng = np.random.default_rng([self.config.seed, _ACCESS, chunk, window])
        probs = self.open_probability[:, row.peak_lo:row.peak_hi][self.latent_type[start:stop]]
        program = self.program_peak[row.peak_lo:row.peak_hi] if len(self.program_peak) else np.zeros(0, int)
        cols = np.flatnonzero(program >= 0)
        if len(cols):
            p = probs[:, cols]
            shift = self.config.program_strength * self.program_score[start:stop][:, program[cols]]
            probs[:, cols] = 1.0 / (1.0 + (1.0 - p) / p * np.exp(-shift))
        return rng.random(probs.shape, dtype=np.float32) < probs

    def program_log_shift(self, start: int, stop: int) -> np.ndarray:
        """Latent cells ``start:stop`` x genes: the programs' change of log expression (0 without programs)."""
        shift = np.zeros((stop - start, len(self.genes)), np.float32)
        for program, genes in self.programs.groupby("program"):
            shift[:, genes["gene"].to_numpy()] += (self.config.program_strength
                                                   * self.program_score[start:stop, program, None])
        return shift


def _genome(config: SimulationConfig, rng: np.random.Generator):
    n_mt = n_mt_genes(config.n_genes)
    n_nuclear = config.n_genes - n_mt
    per_chrom = [len(part) for part in np.array_split(np.arange(n_nuclear), config.n_chromosomes)]
    chroms = [f"chr{i + 1}" for i in range(config.n_chromosomes)]
    chrom_sizes = {c: 2 * CHROM_FLANK + n * LOCUS for c, n in zip(chroms, per_chrom)}
    chrom = np.repeat(chroms, per_chrom)
    locus = np.concatenate([np.arange(n) for n in per_chrom])
    strand = rng.choice(np.array(["+", "-"]), n_nuclear)
    tss = CHROM_FLANK + locus * LOCUS + TSS_SLOT * SLOT + SLOT // 2
    length = rng.integers(2_000, 20_000, n_nuclear)
    start = np.where(strand == "+", tss, tss - length)
    end = np.where(strand == "+", tss + length, tss)
    nuclear = pd.DataFrame({"gene": [f"Gene{i + 1:05d}" for i in range(n_nuclear)],
                            "chrom": chrom, "start": start, "end": end, "tss": tss, "strand": strand,
                            "locus": locus})
    mt_start = 100 + np.arange(n_mt) * 1_200
    mt = pd.DataFrame({"gene": list(MT_GENES[:n_mt]), "chrom": "chrM", "start": mt_start,
                       "end": mt_start + 1_000, "tss": mt_start, "strand": "+", "locus": -1})
    chrom_sizes["chrM"] = CHRM_SIZE
    genes = pd.concat([nuclear, mt], ignore_index=True)
    genes.insert(1, "gene_id", [f"SIMG{i + 1:08d}" for i in range(len(genes))])
    return chrom_sizes, genes, n_nuclear


def _place_peaks(config: SimulationConfig, genes: pd.DataFrame, n_nuclear: int, rng: np.random.Generator):
    """Promoter peaks on a random half-or-more of the genes, distal peaks in free slots of the loci."""
    n_promoter = min(n_nuclear, config.n_peaks // 2)
    promoter_genes = np.sort(rng.choice(n_nuclear, n_promoter, replace=False))
    free_slots = np.array([s for s in range(SLOTS) if s != TSS_SLOT])
    n_distal = config.n_peaks - n_promoter
    picks = rng.choice(n_nuclear * len(free_slots), n_distal, replace=False)
    distal_genes, distal_slots = picks // len(free_slots), free_slots[picks % len(free_slots)]
    owner = np.concatenate([promoter_genes, distal_genes])
    slot = np.concatenate([np.full(n_promoter, TSS_SLOT), distal_slots])
    center = CHROM_FLANK + genes["locus"].to_numpy()[owner] * LOCUS + slot * SLOT + SLOT // 2
    peaks = pd.DataFrame({"chrom": genes["chrom"].to_numpy()[owner], "start": center - PEAK_HALF_WIDTH,
                          "end": center + PEAK_HALF_WIDTH, "center": center, "gene": owner,
                          "is_promoter": slot == TSS_SLOT})
    # genes are laid out chromosome by chromosome, so (owner, start) is genome order
    return peaks.sort_values(["gene", "start"], kind="stable").reset_index(drop=True)


def _windows(genes: pd.DataFrame, peaks: pd.DataFrame, chrom_sizes: dict[str, int], n_nuclear: int):
    rows = []
    peak_gene = peaks["gene"].to_numpy()
    for chrom, group in genes.iloc[:n_nuclear].groupby("chrom", sort=False):
        first, n_loci = group.index[0], len(group)
        for lo in range(0, n_loci, LOCI_PER_WINDOW):
            hi = min(lo + LOCI_PER_WINDOW, n_loci)
            rows.append({"chrom": chrom,
                         "start": 0 if lo == 0 else CHROM_FLANK + lo * LOCUS,
                         "end": chrom_sizes[chrom] if hi == n_loci else CHROM_FLANK + hi * LOCUS,
                         "gene_lo": first + lo, "gene_hi": first + hi,
                         "peak_lo": int(np.searchsorted(peak_gene, first + lo)),
                         "peak_hi": int(np.searchsorted(peak_gene, first + hi))})
    return pd.DataFrame(rows)


def build_truth(config: SimulationConfig) -> Truth:
    """Draw the genome, cell types, markers, accessibility, links and every barcode's depths."""
    config.check()
    rng = np.random.default_rng([config.seed, _PARAMS])
    chrom_sizes, genes, n_nuclear = _genome(config, rng)
    peaks = _place_peaks(config, genes, n_nuclear, rng)
    windows = _windows(genes, peaks, chrom_sizes, n_nuclear)
    n_types, n_peaks = config.n_cell_types, len(peaks)
    cell_types = [f"Type_{string.ascii_uppercase[k]}" for k in range(n_types)]

    # marker genes: disjoint sets, drawn from genes with a promoter peak so both modalities show them
    promoter_owner = peaks.loc[peaks["is_promoter"], "gene"].to_numpy()
    n_markers = int(np.clip(len(promoter_owner) // (4 * n_types), 5, 25))
    marker_pool = rng.permutation(promoter_owner)[: n_markers * n_types]
    markers = {t: np.sort(marker_pool[k * n_markers:(k + 1) * n_markers]).tolist()
               for k, t in enumerate(cell_types)}

    # accessibility: shared base, then type-specific peaks (marker loci and some other distal peaks)
    is_promoter = peaks["is_promoter"].to_numpy()
    base = np.where(is_promoter, rng.uniform(0.3, 0.7, n_peaks), rng.uniform(0.03, 0.25, n_peaks))
    open_probability = np.clip(base[None, :] * np.exp(rng.normal(0, 0.2, (n_types, n_peaks))), 0.01, 0.9)
    peak_gene = peaks["gene"].to_numpy()
    specific = np.full(n_peaks, -1)
    for k, t in enumerate(cell_types):
        specific[np.isin(peak_gene, markers[t])] = k
    others = np.flatnonzero((specific < 0) & ~is_promoter)
    extra = rng.choice(others, len(others) // 10, replace=False)
    specific[extra] = rng.integers(0, n_types, len(extra))
    for k in range(n_types):
        cols = specific == k
        open_probability[:, cols] = 0.04
        open_probability[k, cols] = 0.75
    open_probability = open_probability.astype(np.float32)
    peak_weight = np.where(is_promoter, 2.0, 1.0)

    # regulatory links: every peak in the locus of a linked gene raises its expression when open
    all_markers = np.concatenate([markers[t] for t in cell_types])
    has_peak = np.unique(peak_gene)
    candidates = np.setdiff1d(has_peak, all_markers)
    linked = np.union1d(all_markers, rng.choice(candidates, int(0.4 * len(candidates)), replace=False))
    link_peaks = np.flatnonzero(np.isin(peak_gene, linked))
    effect = np.where(is_promoter[link_peaks], rng.uniform(0.8, 1.5, len(link_peaks)),
                      rng.uniform(0.4, 1.2, len(link_peaks)))
    links = pd.DataFrame({"gene": peak_gene[link_peaks], "peak": link_peaks, "effect": effect.round(3)})

    # expression: shared log means, type noise, marker boost
    n_genes = len(genes)
    gene_log_mean = rng.normal(0.0, 1.2, n_genes)[None, :] + rng.normal(0.0, 0.3, (n_types, n_genes))
    for k, t in enumerate(cell_types):
        gene_log_mean[k, markers[t]] += 1.5
    truth = Truth(config, chrom_sizes, genes, peaks, windows, cell_types, markers, open_probability,
                  peak_weight, links, gene_log_mean.astype(np.float32))
    _draw_cells(truth, rng)
    _draw_programs(truth, np.setdiff1d(linked, all_markers))
    return truth


def _draw_programs(truth: Truth, candidates: np.ndarray) -> None:
    """Programs: disjoint sets of linked non-marker genes (with every peak of their loci) and each latent
    cell's score per program, from their own random stream (the other draws do not change)."""
    n_programs = truth.config.n_programs
    truth.program_peak = np.full(len(truth.peaks), -1)
    truth.program_score = np.zeros((truth.n_latent, n_programs), np.float32)
    if n_programs == 0:
        return
    rng = np.random.default_rng([truth.config.seed, _PROGRAMS])
    per_program = max(1, min(len(candidates) // (2 * n_programs), 25))
    if len(candidates) < n_programs:
        raise input_error("--n-programs", f"needs at least one linked non-marker gene per program "
                                          f"({len(candidates)} for {n_programs})")
    chosen = rng.permutation(candidates)[: per_program * n_programs]
    program = np.repeat(np.arange(n_programs), per_program)[: len(chosen)]
    truth.programs = pd.DataFrame({"program": program, "gene": chosen}).sort_values(
        ["program", "gene"], ignore_index=True)
    peak_gene = truth.peaks["gene"].to_numpy()
    for p, gene_set in truth.programs.groupby("program")["gene"]:
        truth.program_peak[np.isin(peak_gene, gene_set.to_numpy())] = p
    truth.program_score = rng.standard_normal((truth.n_latent, n_programs)).astype(np.float32)
    for p in range(n_programs):
        truth.cells[f"program_{p + 1}"] = truth.program_score[: truth.config.n_cells, p].round(4)


def _draw_cells(truth: Truth, rng: np.random.Generator) -> None:
    """Barcodes, types and depths of the matrix cells, empty barcodes and the second cells of doublets."""
    config = truth.config
    n_cells = config.n_cells
    n_empty = int(round(config.empty_fraction * n_cells))
    n_doublets = int(round(config.doublet_fraction * n_cells))
    n_low = int(round(config.low_quality_fraction * n_cells))
    n_types = config.n_cell_types
    proportions = rng.dirichlet(np.full(n_types, 5.0))

    barcodes = _random_barcodes(n_cells + n_empty, rng)
    cell_barcodes = np.sort(rng.choice(len(barcodes), n_cells, replace=False))
    empty_barcodes = np.setdiff1d(np.arange(len(barcodes)), cell_barcodes)

    role = np.full(n_cells, "good", dtype=object)
    special = rng.permutation(n_cells)
    doublets, low = special[:n_doublets], special[n_doublets:n_doublets + n_low]
    role[doublets] = "doublet"
    role[low] = np.array(LOW_QUALITY_KINDS, dtype=object)[np.arange(len(low)) % len(LOW_QUALITY_KINDS)]

    cell_type = rng.choice(n_types, n_cells, p=proportions)
    partner_type = (cell_type[doublets] + rng.integers(1, n_types, n_doublets)) % n_types
    latent_type = np.concatenate([cell_type, rng.choice(n_types, n_empty, p=proportions), partner_type])
    latent_barcode = np.concatenate([cell_barcodes, empty_barcodes, cell_barcodes[doublets]])
    n_latent = len(latent_type)

    fragments = config.median_fragments * np.exp(rng.normal(0, 0.3, n_latent))
    fragments = np.maximum(fragments, 0.55 * config.median_fragments)
    signal = rng.uniform(0.45, 0.7, n_latent)
    umis = np.maximum(config.median_umis * np.exp(rng.normal(0, 0.35, n_latent)), 0.3 * config.median_umis)
    mt = rng.uniform(0.01, 0.05, n_latent)

    empty = slice(n_cells, n_cells + n_empty)
    fragments[empty] = rng.uniform(5, 60, n_empty)
    signal[empty] = 0.1
    umis[empty] = rng.uniform(1, 40, n_empty)
    kind = {k: np.flatnonzero(role == k) for k in LOW_QUALITY_KINDS}
    umis[kind["low_umis"]] = rng.uniform(30, 150, len(kind["low_umis"]))
    mt[kind["low_umis"]] = rng.uniform(0.1, 0.3, len(kind["low_umis"]))
    fragments[kind["low_fragments"]] = rng.uniform(150, 600, len(kind["low_fragments"]))
    signal[kind["low_tss_enrichment"]] = 0.0  # background only: no TSS enrichment

    truth.latent_type, truth.latent_barcode = latent_type, latent_barcode
    truth.fragment_depth, truth.signal_fraction = fragments, signal
    truth.umi_depth, truth.mt_fraction = umis, mt
    truth.barcodes, truth.cell_barcodes = barcodes, cell_barcodes
    partner = np.full(n_cells, "", dtype=object)
    partner[doublets] = np.array(truth.cell_types, dtype=object)[partner_type]
    truth.cells = pd.DataFrame({
        "barcode": barcodes[cell_barcodes],
        "cell_type": np.array(truth.cell_types, dtype=object)[cell_type],
        "is_doublet": role == "doublet",
        "is_low_quality": np.isin(role, LOW_QUALITY_KINDS),
        "low_quality_reason": np.where(np.isin(role, LOW_QUALITY_KINDS), role, ""),
        "doublet_partner_type": partner,
    })


def _random_barcodes(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct 16-base barcodes with the ``-1`` GEM-well suffix, sorted like CellRanger's."""
    codes = np.unique(rng.integers(0, 4 ** 16, int(n * 1.05) + 10, dtype=np.int64))
    codes = np.sort(rng.permutation(codes)[:n])
    digits = (codes[:, None] >> (2 * np.arange(15, -1, -1))[None, :]) & 3
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)[digits]
    return np.array([row.tobytes().decode() + "-1" for row in letters], dtype=object)
