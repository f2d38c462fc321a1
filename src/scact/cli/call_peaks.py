"""Call ATAC peaks with MACS3 on the pseudo-bulk of the kept cells of every sample.

Each insertion of the kept cells becomes a 1-bp BED record; `macs3 callpeak -f BED --nomodel --shift -100
--extsize 200 --keep-dup all -q 0.01 --call-summits`; summits widened to fixed-width peaks, overlapping
peaks merged, chrM and chromosomes outside the annotation dropped (counts in dropped_chromosomes.tsv).
With --group-by, MACS3 runs per group (e.g. user labels) and the peaks are merged. A pseudo-bulk expected to
give more than --max-insertions insertions is subsampled to about that many (seeded).
--macs-version macs2 runs MACS2 (the paper's 2.2.9.1, installed on its own) with the same options.
Writes peaks.bed (genome order), macs3_* or macs2_* (MACS outputs), dropped_chromosomes.tsv,
peaks_per_chromosome.png.
"""
from pathlib import Path

from scact.preprocessing.atac import MACS_VERSIONS, MAX_INSERTIONS, TN5_CONVENTIONS


def add_arguments(parser):
    parser.add_argument("--input", nargs=2, action="append", required=True, metavar=("QC_H5AD", "FRAGMENTS"),
                        help="a sample's <sample>_atac_qc.h5ad and its fragments file ('-' for a peak-count input: its own "
                             "peaks join the set); repeat per sample")
    parser.add_argument("--annotation", required=True, type=Path, help="TSS BED or GTF(.gz): chromosomes kept")
    parser.add_argument("--genome-size", default="hs", help="MACS -g: hs, mm, or an effective size in bp")
    parser.add_argument("--qvalue", type=float, default=0.01)
    parser.add_argument("--peak-half-width", type=int, default=250, help="peaks are summit +- this (501 bp)")
    parser.add_argument("--macs-args", default="",
                        help="extra macs3 callpeak options, one string (e.g. '--nolambda' for data restricted to "
                             "target regions, where MACS's local background is inflated)")
    parser.add_argument("--group-by", help="obs column (e.g. label): call peaks per group, then merge")
    parser.add_argument("--min-group-cells", type=int, default=50, help="smaller groups are pooled together")
    parser.add_argument("--tn5", choices=TN5_CONVENTIONS, default="cellranger")
    parser.add_argument("--macs-version", choices=MACS_VERSIONS, default="macs3",
                        help="peak caller: MACS3 (pinned) or MACS2 (the paper's; its macs2 command must be on PATH)")
    parser.add_argument("--max-insertions", type=int, default=MAX_INSERTIONS,
                        help="subsample a pseudo-bulk expected to give more insertions than this to about this many "
                             "(fragment by fragment, seeded): MACS's time stops growing with cells; 0: never")
    parser.add_argument("--seed", type=int, default=0, help="seed of that subsampling")
    parser.add_argument("--outdir", type=Path, default=Path("."))


def run(args):
    from scact.preprocessing.atac_steps import call_peaks

    call_peaks([tuple(pair) for pair in args.input], args.annotation, args.outdir / "peaks.bed", outdir=args.outdir,
               genome_size=args.genome_size, qvalue=args.qvalue, half_width=args.peak_half_width, tn5=args.tn5, macs_args=args.macs_args.split(),
               group_by=args.group_by, min_group_cells=args.min_group_cells, macs_version=args.macs_version,
               max_insertions=args.max_insertions, seed=args.seed,
               plot_path=args.outdir / "peaks_per_chromosome.png")
