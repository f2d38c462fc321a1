"""A simulated 10x Multiome sample in CellRanger-arc's output format, with its planted truth.

``simulate_dataset(config, outdir)`` writes into ``outdir`` (itself a CellRanger-arc-style folder):

- ``filtered_feature_bc_matrix.h5`` (genes and peaks, 10x HDF5 layout), ``atac_fragments.tsv.gz`` (+ ``.tbi``),
  ``per_barcode_metrics.csv``, ``atac_peaks.bed``;
- ``annotation/tss.bed`` (TSS windows 1,000 bp upstream to 100 bp downstream, as CellOracle's tables), ``annotation/genes.gtf``, ``annotation/chrom.sizes``;
- ``markers.tsv`` (cell_type, gene), ``cell_labels.csv`` (barcode, label: the true types),
  ``ground_truth_cells.tsv`` (with ``program_<k>`` score columns when programs are planted),
  ``ground_truth_links.tsv``, ``ground_truth_programs.tsv`` (with programs: program, gene, chrom, start,
  end of every program peak), ``simulation.json``;
- ``samplesheet.csv`` with absolute ``input`` paths (Nextflow and ``scact run`` resolve relative paths
  against the launch directory, so absolute paths work from anywhere): one multiome row (the folder), or with ``split`` an RNA-only row (``gex_filtered_feature_bc_matrix.h5``) and an
  ATAC-only row (``atac_fragments.tsv.gz``) of the same sample id, so the unpaired input path is used
  while evaluation still sees the pairing through the cell names.

``write_samplesheet_variants(outdir)`` then adds the unpaired and partly paired samplesheets
(``samplesheet_<variant>.csv``, inputs under ``variants/``; see ``scact.simulate._variants``).

The unit tests of single steps use the small in-memory generators of ``scact.simulate._small``
(``planted_modalities``, ``planted_paired``, ``planted_links``, ``planted_rna_counts``,
``planted_processed_atac``, ``planted_fragments``), exported here: this package is the one generator of test data.

Planted: cell types with marker genes whose loci (promoter and distal peaks) open in that type only;
peak -> gene links (a linked gene's expression is multiplied by ``exp(effect)`` for each open peak of its
locus in that cell); fragments concentrated on open peaks (promoter peaks centred on the TSS) over a
uniform background; low-quality barcodes (few UMIs, few fragments, or background only so no TSS
enrichment); doublets (the sum of two cells of different types); empty barcodes (fragments only).
With ``n_programs`` (0 in the presets but ``programs``): continuous programs inside types, i.e. variation
that both modalities of a cell share beyond its type, so that a model that matches cells inside types can
be told from a label lookup (``SimulationConfig``; truth in ``ground_truth_programs.tsv`` and the cells'
``program_<k>`` scores).
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, replace
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pysam
import scipy.sparse as sp

from scact.errors import input_error
from scact.io.atomic import atomic_path, write_text
from scact.io.tenx import write_10x_h5
from scact.simulate._generate import (FragmentWindow, peak_cut_counts, peak_cut_sites, planted_matrices, rna_counts,
                                      tss_fragment_counts, window_fragments)
from scact.simulate._layouts import TENX_LAYOUTS, write_tenx_layouts
from scact.simulate._model import SimulationConfig, Truth, build_truth
from scact.simulate._small import (PLANTED_MARKERS, PlantedFragments, parsed_atac_h5ad, planted_fragments,
                                   planted_links, planted_modalities, planted_paired, planted_processed_atac,
                                   planted_rna_counts)
from scact.simulate._variants import VARIANTS, write_samplesheet_variants

__all__ = ["PLANTED_MARKERS", "PRESETS", "TENX_LAYOUTS", "VARIANTS", "PlantedFragments", "SimulationConfig",
           "build_truth", "config_from_preset", "parsed_atac_h5ad", "peak_cut_counts", "planted_fragments",
           "planted_links", "planted_matrices", "planted_modalities", "planted_paired", "planted_processed_atac",
           "planted_rna_counts", "rna_counts", "simulate_dataset", "write_samplesheet_variants", "write_tenx_layouts",
           "write_truth_tables"]

log = logging.getLogger(__name__)

#: Named sizes; any field can be overridden.
PRESETS: dict[str, dict] = {
    "fixture": dict(n_cells=300, n_genes=300, n_peaks=900, n_chromosomes=2, n_cell_types=3,
                    median_fragments=2500, median_umis=1500),
    "demo": dict(n_cells=2000, n_genes=1000, n_peaks=4000, n_chromosomes=4, n_cell_types=5),
    "large": dict(n_cells=100_000, n_genes=2000, n_peaks=8000, n_chromosomes=4, n_cell_types=8),
    "programs": dict(n_cells=2000, n_genes=1000, n_peaks=4000, n_chromosomes=4, n_cell_types=5, n_programs=3,
                     program_strength=1.5),
}

MATRIX = "filtered_feature_bc_matrix.h5"
RNA_ONLY_MATRIX = "gex_filtered_feature_bc_matrix.h5"
FRAGMENTS = "atac_fragments.tsv.gz"
METRICS_COLUMNS = (
    "barcode", "gex_barcode", "atac_barcode", "is_cell", "excluded_reason", "gex_raw_reads",
    "gex_mapped_reads", "gex_conf_intergenic_reads", "gex_conf_exonic_reads", "gex_conf_intronic_reads",
    "gex_conf_exonic_unique_reads", "gex_conf_exonic_antisense_reads", "gex_conf_exonic_dup_reads",
    "gex_exonic_umis", "gex_conf_intronic_unique_reads", "gex_conf_intronic_antisense_reads",
    "gex_conf_intronic_dup_reads", "gex_intronic_umis", "gex_conf_txomic_unique_reads", "gex_umis_count",
    "gex_genes_count", "atac_raw_reads", "atac_unmapped_reads", "atac_lowmapq", "atac_dup_reads",
    "atac_chimeric_reads", "atac_mitochondrial_reads", "atac_fragments", "atac_TSS_fragments",
    "atac_peak_region_fragments", "atac_peak_region_cutsites",
)


def config_from_preset(preset: str = "demo", **overrides) -> SimulationConfig:
    """A preset's configuration with the given fields replaced (``None`` values are ignored)."""
    if preset not in PRESETS:
        raise input_error("--preset", f"unknown preset {preset!r}", f"choose one of {', '.join(PRESETS)}")
    return replace(SimulationConfig(**PRESETS[preset]), **{k: v for k, v in overrides.items() if v is not None})


def simulate_dataset(config: SimulationConfig, outdir: str | os.PathLike, split: bool = False) -> Truth:
    """Simulate one sample and write every file listed in the module docstring; returns the truth."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    truth = build_truth(config)
    log.info("simulating %d cells (%d latent), %d genes, %d peaks on %d chromosomes", config.n_cells,
             truth.n_latent, len(truth.genes), len(truth.peaks), config.n_chromosomes)
    n_barcodes = len(truth.barcodes)
    atac_stats = {k: np.zeros(n_barcodes, np.int64) for k in
                  ("fragments", "reads", "tss", "peak_fragments", "cutsites")}
    peak_blocks = []
    barcode_codes = barcode_bytes(truth.barcodes)
    with atomic_path(outdir / FRAGMENTS) as tmp:
        # BGZF (what bgzip/tabix_compress write), streamed window by window; level 1 for speed
        with pysam.BGZFile(str(tmp), "wb1") as handle:
            for window in range(len(truth.windows)):
                fragments = window_fragments(truth, window)
                handle.write(format_fragments(fragments, barcode_codes))
                cuts = peak_cut_sites(truth, window, fragments)
                peak_blocks.append(cuts[truth.cell_barcodes])
                _add_atac_stats(atac_stats, truth, window, fragments, cuts)
        pysam.tabix_index(str(tmp), preset="bed", force=True)
        with atomic_path(outdir / f"{FRAGMENTS}.tbi") as tmp_index:
            os.replace(f"{tmp}.tbi", tmp_index)
    log.info("wrote %d fragments", int(atac_stats["fragments"].sum()))

    umis = rna_counts(truth)
    rna, atac = _anndatas(truth, umis[truth.cell_barcodes], sp.hstack(peak_blocks, format="csr"))
    write_10x_h5(rna, atac, outdir / MATRIX, genome=config.genome)
    if split:
        write_10x_h5(rna, None, outdir / RNA_ONLY_MATRIX, genome=config.genome)
    _write_metrics(outdir / "per_barcode_metrics.csv", truth, umis, atac_stats)
    write_truth_tables(outdir, truth)
    _write_samplesheet(outdir / "samplesheet.csv", config.sample, split)
    write_text(outdir / "simulation.json", json.dumps(asdict(config), indent=2) + "\n")
    return truth


def barcode_bytes(barcodes: np.ndarray) -> np.ndarray:
    """Equal-length barcodes as a barcodes x characters uint8 array (the input of ``format_fragments``)."""
    return np.frombuffer("".join(barcodes).encode(), dtype=np.uint8).reshape(len(barcodes), -1)


def format_fragments(fragments: FragmentWindow, codes: np.ndarray) -> bytes:
    """10x fragment lines (``chrom start end barcode count``), built in numpy without per-line Python:
    fixed-width rows whose numbers are left-padded with NUL bytes, dropped at the end; ``codes`` is
    ``barcode_bytes(barcodes)``."""
    n = len(fragments.start)
    if n == 0:
        return b""
    widths = [len(str(int(v.max()))) for v in (fragments.start, fragments.end, fragments.count)]
    prefix = f"{fragments.chrom}\t".encode()
    rows = np.zeros((n, len(prefix) + sum(widths) + codes.shape[1] + 4), dtype=np.uint8)
    rows[:, :len(prefix)] = np.frombuffer(prefix, np.uint8)
    column = len(prefix)
    column = _put_numbers(rows, column, fragments.start, widths[0])
    column = _put_numbers(rows, column, fragments.end, widths[1])
    rows[:, column:column + codes.shape[1]] = codes[fragments.barcode]
    rows[:, column + codes.shape[1]] = ord("\t")
    column = _put_numbers(rows, column + codes.shape[1] + 1, fragments.count, widths[2])
    rows[:, column - 1] = ord("\n")
    return rows[rows != 0].tobytes()


def _put_numbers(rows: np.ndarray, column: int, values: np.ndarray, width: int) -> int:
    """Write ``values`` right-aligned in ``width`` columns and a tab; returns the next free column."""
    for k in range(width):  # k-th digit from the right; leading positions stay NUL
        digit = ((values // 10 ** k) % 10 + 48).astype(np.uint8)
        rows[:, column + width - 1 - k] = digit if k == 0 else np.where(values >= 10 ** k, digit, 0)
    rows[:, column + width] = ord("\t")
    return column + width + 1


def _add_atac_stats(stats: dict, truth: Truth, window: int, fragments: FragmentWindow, cuts: sp.csr_matrix):
    n = len(truth.barcodes)
    stats["fragments"] += np.bincount(fragments.barcode, minlength=n)
    stats["reads"] += np.bincount(fragments.barcode, weights=fragments.count, minlength=n).astype(np.int64)
    stats["tss"] += tss_fragment_counts(truth, fragments)
    stats["cutsites"] += np.asarray(cuts.sum(axis=1)).ravel()
    row = truth.windows.iloc[window]
    peaks = truth.peaks.iloc[row.peak_lo:row.peak_hi]
    starts, ends = peaks["start"].to_numpy(), peaks["end"].to_numpy()
    first = np.searchsorted(starts, fragments.end, side="left") - 1  # last peak starting before the end
    overlaps = (first >= 0) & (ends[np.maximum(first, 0)] > fragments.start)
    stats["peak_fragments"] += np.bincount(fragments.barcode[overlaps], minlength=n)


def _anndatas(truth: Truth, umis: sp.csr_matrix, peak_counts: sp.csr_matrix):
    obs = pd.DataFrame(index=pd.Index(truth.cells["barcode"].to_numpy(), dtype=str))
    genes = truth.genes
    rna = ad.AnnData(X=umis, obs=obs.copy(), var=pd.DataFrame(
        {"gene_ids": genes["gene_id"].to_numpy(),
         "interval": (genes["chrom"] + ":" + genes["start"].astype(str) + "-" + genes["end"].astype(str)).to_numpy()},
        index=pd.Index(genes["gene"].to_numpy(), dtype=str)))
    peaks = truth.peaks
    names = (peaks["chrom"] + ":" + peaks["start"].astype(str) + "-" + peaks["end"].astype(str)).to_numpy()
    atac = ad.AnnData(X=peak_counts, obs=obs.copy(), var=pd.DataFrame(
        {"gene_ids": names, "interval": names}, index=pd.Index(names, dtype=str)))
    return rna, atac


def _write_metrics(path: Path, truth: Truth, umis: sp.csr_matrix, atac: dict) -> None:
    """CellRanger-arc's per_barcode_metrics.csv; read-level columns are plausible multiples of the counts."""
    n = len(truth.barcodes)
    umi_count = np.asarray(umis.sum(axis=1)).ravel().astype(np.int64)
    genes_count = np.diff(umis.indptr)
    is_cell = np.zeros(n, np.int64)
    is_cell[truth.cell_barcodes] = 1
    exonic = (umi_count * 0.75).astype(np.int64)
    gex_reads = 3 * umi_count
    values = {
        "barcode": truth.barcodes, "gex_barcode": truth.barcodes, "atac_barcode": truth.barcodes,
        "is_cell": is_cell, "excluded_reason": np.zeros(n, np.int64), "gex_raw_reads": gex_reads + umi_count // 10,
        "gex_mapped_reads": gex_reads, "gex_conf_intergenic_reads": umi_count // 20,
        "gex_conf_exonic_reads": 3 * exonic, "gex_conf_intronic_reads": 3 * (umi_count - exonic),
        "gex_conf_exonic_unique_reads": exonic, "gex_conf_exonic_antisense_reads": exonic // 50,
        "gex_conf_exonic_dup_reads": 2 * exonic, "gex_exonic_umis": exonic,
        "gex_conf_intronic_unique_reads": umi_count - exonic,
        "gex_conf_intronic_antisense_reads": (umi_count - exonic) // 50,
        "gex_conf_intronic_dup_reads": 2 * (umi_count - exonic), "gex_intronic_umis": umi_count - exonic,
        "gex_conf_txomic_unique_reads": exonic, "gex_umis_count": umi_count, "gex_genes_count": genes_count,
        "atac_raw_reads": atac["reads"] + atac["fragments"] // 5, "atac_unmapped_reads": atac["fragments"] // 50,
        "atac_lowmapq": atac["fragments"] // 20, "atac_dup_reads": atac["reads"] - atac["fragments"],
        "atac_chimeric_reads": np.zeros(n, np.int64), "atac_mitochondrial_reads": atac["fragments"] // 100,
        "atac_fragments": atac["fragments"], "atac_TSS_fragments": atac["tss"],
        "atac_peak_region_fragments": atac["peak_fragments"], "atac_peak_region_cutsites": atac["cutsites"],
    }
    table = pd.DataFrame({column: values[column] for column in METRICS_COLUMNS})
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def _write_tsv(path: Path, table: pd.DataFrame, header: bool = True, sep: str = "\t") -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep=sep, index=False, header=header)


def write_truth_tables(outdir: Path, truth: Truth) -> None:
    """The truth's tables: peaks, annotation (TSS, GTF, chromosome sizes), markers, labels and ground truth."""
    genes, peaks = truth.genes, truth.peaks
    _write_tsv(outdir / "atac_peaks.bed", peaks[["chrom", "start", "end"]], header=False)
    # CellOracle's convention, as in the real *_tss.bed tables: 1,000 bp upstream to 100 bp downstream
    tss, plus = genes["tss"].to_numpy(), (genes["strand"] == "+").to_numpy()
    _write_tsv(outdir / "annotation" / "tss.bed", pd.DataFrame(
        {"chrom": genes["chrom"], "start": np.where(plus, tss - 1000, tss - 100),
         "end": np.where(plus, tss + 100, tss + 1000), "gene": genes["gene"], "score": 0,
         "strand": genes["strand"]}), header=False)
    write_text(outdir / "annotation" / "chrom.sizes",
               "".join(f"{chrom}\t{size}\n" for chrom, size in truth.chrom_sizes.items()))
    write_text(outdir / "annotation" / "genes.gtf", _gtf(genes))
    _write_tsv(outdir / "markers.tsv", pd.DataFrame(
        [(t, genes["gene"].iat[g]) for t in truth.cell_types for g in truth.markers[t]], columns=["cell_type", "gene"]))
    cells = truth.cells
    _write_tsv(outdir / "cell_labels.csv", pd.DataFrame({"barcode": cells["barcode"], "label": cells["cell_type"]}),
               sep=",")
    _write_tsv(outdir / "ground_truth_cells.tsv", cells)
    if len(truth.programs):
        in_program = np.flatnonzero(truth.program_peak >= 0)
        _write_tsv(outdir / "ground_truth_programs.tsv", pd.DataFrame({
            "program": truth.program_peak[in_program] + 1,
            "gene": genes["gene"].to_numpy()[peaks["gene"].to_numpy()[in_program]],
            "chrom": peaks["chrom"].to_numpy()[in_program], "start": peaks["start"].to_numpy()[in_program],
            "end": peaks["end"].to_numpy()[in_program]}))
    links = truth.links
    linked_peaks = peaks.iloc[links["peak"].to_numpy()]
    _write_tsv(outdir / "ground_truth_links.tsv", pd.DataFrame({
        "gene": genes["gene"].to_numpy()[links["gene"].to_numpy()],
        "chrom": linked_peaks["chrom"].to_numpy(), "start": linked_peaks["start"].to_numpy(),
        "end": linked_peaks["end"].to_numpy(), "effect": links["effect"].to_numpy(),
        "is_promoter": linked_peaks["is_promoter"].to_numpy()}))


def _gtf(genes: pd.DataFrame) -> str:
    """One gene, one transcript and one exon line per gene (1-based, inclusive coordinates)."""
    lines = []
    for gene in genes.itertuples():
        attributes = (f'gene_id "{gene.gene_id}"; gene_name "{gene.gene}"; gene_type "protein_coding";')
        for feature, extra in (("gene", ""), ("transcript", f' transcript_id "{gene.gene_id}.1";'),
                               ("exon", f' transcript_id "{gene.gene_id}.1"; exon_number "1";')):
            lines.append(f"{gene.chrom}\tscact_simulate\t{feature}\t{gene.start + 1}\t{gene.end}\t.\t"
                         f"{gene.strand}\t.\t{attributes}{extra}\n")
    return "".join(lines)


def _write_samplesheet(path: Path, sample: str, split: bool) -> None:
    folder = path.parent.resolve()
    rows = ([f"{sample},rna,{folder / RNA_ONLY_MATRIX}", f"{sample},atac,{folder / FRAGMENTS}"] if split
            else [f"{sample},multiome,{folder}"])
    write_text(path, "sample,modality,input\n" + "".join(row + "\n" for row in rows))
