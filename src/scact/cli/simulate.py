"""Simulate a 10x Multiome sample in CellRanger-arc's output format, with its planted ground truth.

Writes into --outdir: filtered_feature_bc_matrix.h5, atac_fragments.tsv.gz(.tbi), per_barcode_metrics.csv,
atac_peaks.bed, annotation/{tss.bed,genes.gtf,chrom.sizes}, markers.tsv, cell_labels.csv,
ground_truth_cells.tsv, ground_truth_links.tsv, simulation.json and samplesheet.csv (absolute input
paths). Deterministic given --seed.
"""
from __future__ import annotations

from scact.simulate import PRESETS, config_from_preset, simulate_dataset


def add_arguments(parser) -> None:
    parser.add_argument("--outdir", required=True, help="folder to write (created if missing)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo",
                        help="sizes: fixture (300 cells, 2 chromosomes, seconds), demo (2,000 cells), "
                             "large (100,000 cells), programs (the demo with 3 programs inside types)")
    parser.add_argument("--n-cells", type=int, help="barcodes of the filtered matrix (overrides the preset)")
    parser.add_argument("--n-genes", type=int, help="genes, a few mt- genes included")
    parser.add_argument("--n-peaks", type=int, help="peaks")
    parser.add_argument("--n-chromosomes", type=int, help="nuclear chromosomes (chrM is added)")
    parser.add_argument("--n-cell-types", type=int, help="cell types")
    parser.add_argument("--n-programs", type=int,
                        help="continuous programs inside types shared by both modalities (docs/simulated_data.md)")
    parser.add_argument("--program-strength", type=float,
                        help="log-odds (peaks) and log-expression (genes) change per unit of program score")
    parser.add_argument("--sample", default="sim", help="sample id written in samplesheet.csv")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--split", action="store_true",
                        help="samplesheet with an RNA-only row (10x h5) and an ATAC-only row (fragments) "
                             "instead of one multiome row")


def run(args) -> None:
    config = config_from_preset(args.preset, n_cells=args.n_cells, n_genes=args.n_genes, n_peaks=args.n_peaks,
                                n_chromosomes=args.n_chromosomes, n_cell_types=args.n_cell_types,
                                n_programs=args.n_programs, program_strength=args.program_strength,
                                seed=args.seed, sample=args.sample)
    simulate_dataset(config, args.outdir, split=args.split)
