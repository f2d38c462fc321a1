"""ATAC cell QC of one sample: unique fragments, TSS enrichment, doublets, CellRanger-arc calls.

Reads `<sample>_atac.h5ad` (from parse) and its fragments file; writes `<sample>_atac_qc.h5ad` (kept cells,
obs n_fragments, tss_enrichment, n_overlaps3, doublet_qvalue or doublet_score, log_depth),
`<sample>_atac_qc.tsv` (removed barcodes by reason) and QC PNGs. Without --fragments (peak-count input) TSS
enrichment is not computable: cells are filtered on peak counts only. Doublets (--doublet-method auto):
AMULET-style triple overlaps with --fragments, else DoubletDetection on the binarized peak counts.
"""
from pathlib import Path

from scact.preprocessing.atac import DOUBLET_METHODS, TN5_CONVENTIONS


def add_arguments(parser):
    parser.add_argument("--input", required=True, type=Path, help="<sample>_atac.h5ad from parse")
    parser.add_argument("--fragments", type=Path, help="fragments .tsv.gz (bgzipped, with .tbi)")
    parser.add_argument("--annotation", type=Path, help="TSS BED or GTF(.gz); required with --fragments")
    parser.add_argument("--cell-metrics", type=Path,
                        help="CellRanger-arc per_barcode_metrics.csv: only its is_cell barcodes are candidates")
    parser.add_argument("--sample", help="sample id used in output names (default: obs['sample'])")
    parser.add_argument("--min-fragments", type=int, default=1000)
    parser.add_argument("--min-tss-enrichment", type=float, default=2.0)
    parser.add_argument("--min-peak-counts", type=int, default=500, help="peak-count inputs without fragments")
    parser.add_argument("--doublet-method", choices=DOUBLET_METHODS, default="auto",
                        help="amulet: triple fragment overlaps (needs --fragments); doubletdetection: on the "
                             "binarized peak counts; auto: amulet with --fragments, else doubletdetection")
    parser.add_argument("--doublet-q", type=float, default=0.01,
                        help="amulet: BH q-value below which a barcode is a doublet")
    parser.add_argument("--doublet-p-thresh", type=float, default=1e-4, help="doubletdetection: p-value cut")
    parser.add_argument("--doublet-voter-thresh", type=float, default=0.5,
                        help="doubletdetection: share of iterations that must call a cell a doublet")
    parser.add_argument("--doublet-n-iters", type=int, default=10, help="doubletdetection: boosting iterations")
    parser.add_argument("--seed", type=int, default=0, help="random seed of DoubletDetection")
    parser.add_argument("--tn5", choices=TN5_CONVENTIONS, default="cellranger",
                        help="cellranger: fragments already shifted to insertion sites; unshifted: apply +4/-5")
    parser.add_argument("--outdir", type=Path, default=Path("."))


def run(args):
    from scact.io.anndata import read_h5ad, sample_id
    from scact.preprocessing.atac_steps import atac_qc

    sample = args.sample or sample_id(args.input, read_h5ad(args.input).obs, "_atac")
    prefix = args.outdir / f"{sample}_atac_qc"
    atac_qc(args.input, f"{prefix}.h5ad", f"{prefix}.tsv", fragments=args.fragments, annotation=args.annotation,
            cell_metrics=args.cell_metrics, min_fragments=args.min_fragments,
            min_tss_enrichment=args.min_tss_enrichment, min_peak_counts=args.min_peak_counts,
            doublet_method=args.doublet_method, doublet_q=args.doublet_q, doublet_p_thresh=args.doublet_p_thresh,
            doublet_voter_thresh=args.doublet_voter_thresh, doublet_n_iters=args.doublet_n_iters, seed=args.seed,
            tn5=args.tn5, plot_prefix=prefix)
