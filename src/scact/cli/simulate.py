"""Simulate a 10x Multiome sample in CellRanger-arc's output format, with its planted ground truth.

Writes into --outdir: filtered_feature_bc_matrix.h5, atac_fragments.tsv.gz(.tbi), per_barcode_metrics.csv,
atac_peaks.bed, annotation/{tss.bed,genes.gtf,chrom.sizes}, markers.tsv, cell_labels.csv,
ground_truth_cells.tsv, ground_truth_links.tsv, simulation.json and samplesheet.csv (absolute input
paths); with --tenx-layouts also the other 10x layouts of the same sample (tenx_layouts/); with
--variants also samplesheet_unpaired.csv (an RNA-only and an ATAC-only sample of different cells) and
samplesheet_partly_paired.csv (a multiome sample and an ATAC-only sample), their inputs under variants/.
Deterministic given --seed.
"""
from __future__ import annotations

from pathlib import Path

from scact.simulate import (PRESETS, VARIANTS, config_from_preset, simulate_dataset, write_samplesheet_variants,
                            write_tenx_layouts)


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
    parser.add_argument("--tenx-layouts", action="store_true",
                        help="also write the sample in the other 10x layouts under <outdir>/tenx_layouts/ (the "
                             "CellRanger-arc .h5 as a file, with its fragments beside it or named in a "
                             "fragments column; CellRanger-ATAC's filtered_peak_bc_matrix.h5; CellRanger-arc's "
                             "mtx folder) with their samplesheet tenx_layouts/tenx_layouts.csv")
    parser.add_argument("--variants", default="",
                        help=f"comma-separated samplesheet variants to write as well ({', '.join(VARIANTS)}, "
                             "or 'all'): samplesheet_<variant>.csv")


def run(args) -> None:
    config = config_from_preset(args.preset, n_cells=args.n_cells, n_genes=args.n_genes, n_peaks=args.n_peaks,
                                n_chromosomes=args.n_chromosomes, n_cell_types=args.n_cell_types,
                                n_programs=args.n_programs, program_strength=args.program_strength,
                                seed=args.seed, sample=args.sample)
    simulate_dataset(config, args.outdir, split=args.split)
    if args.tenx_layouts:
        write_tenx_layouts(args.outdir, Path(args.outdir) / "tenx_layouts", sample=args.sample)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if variants:
        written = write_samplesheet_variants(args.outdir, VARIANTS if variants == ["all"] else variants,
                                             seed=args.seed, sample=args.sample)
        for variant, path in written.items():
            print(f"{variant}: {path}")
