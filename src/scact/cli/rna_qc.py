"""RNA cell QC of one sample: UMIs, genes, mitochondrial percent, DoubletDetection doublets.

Reads `<sample>_rna.h5ad` (raw counts) and writes `<sample>_rna_qc.h5ad` (kept cells, raw counts, obs
n_counts, n_genes, percent_mito, doublet_score), `<sample>_rna_qc.tsv` (cells removed by reason) and
PNG plots (UMI histogram, genes vs UMIs, doublet scores) into --outdir. With --rna-normalised true the input
holds log-normalised values: they are checked, every cell is kept, n_counts is the estimated depth.
"""
from __future__ import annotations

import os
from pathlib import Path

from scact.cli import true_or_false
from scact.errors import input_error
from scact.io.anndata import read_h5ad, sample_id, write_h5ad
from scact.io.atomic import atomic_path
from scact.io.inputs import FIX_NORMALISED_RNA, is_count_matrix
from scact.io.provenance import record_provenance
from scact.preprocessing.rna import RnaQcParams, params_dict, qc_normalised_sample, qc_sample


def add_arguments(parser) -> None:
    parser.add_argument("--input", required=True, help="<sample>_rna.h5ad of raw counts (from parse)")
    parser.add_argument("--sample", help="sample id used in output names (default: obs['sample'] or the file stem)")
    parser.add_argument("--outdir", default=".", help="folder for the outputs")
    parser.add_argument("--min-umis", type=int, default=200, help="remove cells with fewer UMIs")
    parser.add_argument("--min-genes", type=int, default=100, help="remove cells with fewer detected genes")
    parser.add_argument("--max-percent-mito", type=float, default=20.0,
                        help="remove cells with more than this percent of counts in MT-/mt- genes")
    parser.add_argument("--no-doublets", action="store_true", help="skip DoubletDetection")
    parser.add_argument("--doublet-n-iters", type=int, default=10, help="DoubletDetection boosting iterations")
    parser.add_argument("--doublet-p-thresh", type=float, default=1e-4, help="DoubletDetection p-value cut")
    parser.add_argument("--doublet-voter-thresh", type=float, default=0.5,
                        help="share of iterations that must call a cell a doublet")
    parser.add_argument("--no-plots", action="store_true", help="do not write the QC PNGs")
    parser.add_argument("--seed", type=int, default=0, help="random seed of DoubletDetection")
    parser.add_argument("--rna-normalised", type=true_or_false, default=False, metavar="true|false",
                        help="the input holds log-normalised values, not counts: check them, skip the count "
                             "thresholds and doublet removal")


def run(args) -> None:
    adata = read_h5ad(args.input)
    sample = args.sample or sample_id(args.input, adata.obs, "_rna")
    if "sample" not in adata.obs:
        adata.obs["sample"] = sample
    # errors name the samplesheet's input file (recorded by parse), which is the one to fix
    source = adata.uns.get("scact", {}).get("parse", {}).get("params", {}).get("input", args.input)
    source = f"{source} (sample {sample})"
    params = RnaQcParams(min_umis=args.min_umis, min_genes=args.min_genes,
                         max_percent_mito=args.max_percent_mito, remove_doublets=not args.no_doublets,
                         doublet_n_iters=args.doublet_n_iters, doublet_p_thresh=args.doublet_p_thresh,
                         doublet_voter_thresh=args.doublet_voter_thresh, seed=args.seed)
    if args.rna_normalised:
        kept, table, metrics = qc_normalised_sample(adata, source=source)
        recorded = {"rna_normalised": True, "skipped": "count thresholds and doublet removal (log-normalised input)"}
    else:
        if not is_count_matrix(adata.X):
            raise input_error(source, "X holds non-integer values and there is no layers['counts']",
                              FIX_NORMALISED_RNA)
        kept, table, metrics = qc_sample(adata, params, source=args.input)
        recorded = {**params_dict(params), "rna_normalised": False}
    kept.uns.pop("non_integer_values", None)
    table["sample"] = sample
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    record_provenance(kept, "rna_qc", {**recorded, "input": os.path.basename(args.input)})
    with atomic_path(outdir / f"{sample}_rna_qc.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    if not args.no_plots:
        from scact.preprocessing.qc_plots import rna_qc_plots

        rna_qc_plots(metrics, sample, params.min_umis, str(outdir / f"{sample}_rna_qc"))
    write_h5ad(kept, outdir / f"{sample}_rna_qc.h5ad")
