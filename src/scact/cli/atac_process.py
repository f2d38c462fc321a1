"""Join the samples' peak matrices: binarize, TF-IDF, top peaks, LSI (depth component dropped), Leiden.

Writes atac_processed.h5ad (X binary CSR float32 on the top TF-IDF peaks in genome order; var chrom,start,end;
obs sample,batch,n_fragments,tss_enrichment,log_depth,leiden[,label]; obsm X_lsi), gene_activity.h5ad
(accessible peaks in gene body + upstream; X log CP10k, layers['counts']) and atac_umap.png.
"""
from pathlib import Path


def add_arguments(parser):
    parser.add_argument("--input", nargs="+", required=True, type=Path, help="every <sample>_atac_peaks.h5ad")
    parser.add_argument("--annotation", type=Path, help="GTF(.gz) or TSS BED for gene activity scores")
    parser.add_argument("--n-top-peaks", type=int, default=100_000)
    parser.add_argument("--n-components", type=int, default=20, help="LSI components kept")
    parser.add_argument("--depth-correlation", type=float, default=0.9,
                        help="drop the LSI component with |r| to log depth above this (else the first)")
    parser.add_argument("--resolution", type=float, default=1.0, help="Leiden resolution")
    parser.add_argument("--n-neighbors", type=int, default=15)
    parser.add_argument("--upstream-bp", type=int, default=2000, help="gene activity window upstream of the TSS")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--outdir", type=Path, default=Path("."))


def run(args):
    from scact.preprocessing.atac_steps import atac_process

    atac_process([str(p) for p in args.input], args.outdir / "atac_processed.h5ad",
                 args.outdir / "gene_activity.h5ad", annotation=args.annotation, n_top_peaks=args.n_top_peaks,
                 n_components=args.n_components, depth_r=args.depth_correlation, resolution=args.resolution,
                 n_neighbors=args.n_neighbors, upstream_bp=args.upstream_bp, seed=args.seed,
                 plot_prefix=args.outdir / "atac")
