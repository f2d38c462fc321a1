"""Score translations and embeddings against the held-out pairing, beside baselines on the same inputs.

Writes metrics.tsv (long format: method, metric, value; scACT and the baselines global mean, cell-type
mean and Harmony kNN), metrics_per_type.tsv, roc_curves.tsv (RNA->ATAC, flattened), within_type_distances.tsv
and PNGs (ROC curves, headline metrics). Cells named alike in both modalities are the scoring pairs; the
pairing is never used for anything but scoring.
"""
from __future__ import annotations

from pathlib import Path


def add_arguments(parser):
    parser.add_argument("--rna", required=True, help="preprocessed rna.h5ad (observed expression)")
    parser.add_argument("--atac", required=True, help="preprocessed atac.h5ad (observed accessibility)")
    parser.add_argument("--rna-to-atac", help="rna_to_atac.h5ad from scact translate")
    parser.add_argument("--atac-to-rna", help="atac_to_rna.h5ad from scact translate")
    parser.add_argument("--joint-embedding", help="joint_embedding.h5ad from scact translate")
    parser.add_argument("--method-name", default="scACT", help="name of the evaluated method in the table")
    parser.add_argument("--labels-key", default="cell_type", help="obs column with cell types (both files)")
    parser.add_argument("--gene-activity", help="gene_activity.h5ad (ATAC cells x genes) for the Harmony baseline")
    parser.add_argument("--tss-bed", help="annotation (TSS BED or GTF) to compute gene activity around the TSSs "
                                          "when --gene-activity is not given")
    parser.add_argument("--tss-window", type=int, default=10_000, help="bp around a TSS counted as the gene's")
    parser.add_argument("--no-baselines", action="store_true", help="score only the given translations")
    parser.add_argument("--seed", type=int, default=0, help="seed of subsampling, Leiden and Harmony")
    parser.add_argument("--max-scored-pairs", type=int, default=5_000,
                        help="score at most this many pairs, a seeded sample of them (0: all); the metrics' "
                             "memory grows with the scored cells' accessible peaks")
    parser.add_argument("--outdir", default=".", help="folder for the outputs")


def run(args):
    from scact.evaluation.evaluate import run_evaluate

    run_evaluate(rna_path=Path(args.rna), atac_path=Path(args.atac),
                 rna_to_atac=args.rna_to_atac and Path(args.rna_to_atac),
                 atac_to_rna=args.atac_to_rna and Path(args.atac_to_rna),
                 joint=args.joint_embedding and Path(args.joint_embedding), method_name=args.method_name,
                 labels_key=args.labels_key, gene_activity_path=args.gene_activity and Path(args.gene_activity),
                 tss_bed=args.tss_bed and Path(args.tss_bed), tss_window=args.tss_window,
                 baselines_on=not args.no_baselines, seed=args.seed, outdir=Path(args.outdir),
                 max_scored_pairs=args.max_scored_pairs or None)
