"""Count one sample's cells x peaks matrix on the shared peaks.bed (streaming over its fragments).

Counts Tn5 insertions per cell and peak (CSR); without --fragments (peak-count input) the sample's own
peak counts are summed onto the shared peaks they overlap. Writes `<sample>_atac_peaks.h5ad`.
"""
from pathlib import Path

from scact.preprocessing.atac import TN5_CONVENTIONS


def add_arguments(parser):
    parser.add_argument("--input", required=True, type=Path, help="<sample>_atac_qc.h5ad")
    parser.add_argument("--peaks", type=Path, default=None,
                        help="peaks.bed from call_peaks; without it (no sample has fragments) a peak-count "
                             "input keeps its own peaks")
    parser.add_argument("--fragments", type=Path, help="the sample's fragments .tsv.gz (with .tbi)")
    parser.add_argument("--sample", help="sample id used in the output name (default: obs['sample'])")
    parser.add_argument("--tn5", choices=TN5_CONVENTIONS, default="cellranger")
    parser.add_argument("--outdir", type=Path, default=Path("."))


def run(args):
    from scact.io.anndata import read_h5ad, sample_id
    from scact.preprocessing.atac_steps import atac_matrix

    sample = args.sample or sample_id(args.input, read_h5ad(args.input).obs, "_atac_qc")
    atac_matrix(args.input, args.peaks, args.outdir / f"{sample}_atac_peaks.h5ad", fragments=args.fragments, tn5=args.tn5)
