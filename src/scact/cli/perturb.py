"""In-silico perturbation: integrated gradients of genes' translated expression w.r.t. the ATAC peaks.

For each gene of --genes: the peaks ranked by their attribution in the gene's own cell type (where its
observed expression in --rna is highest, else where its translated expression is), with coordinates and distance to the gene's TSS, the
mean accessibility of the top peaks in that type vs the others (Welch t-test, Fig. 5B of the paper) and
the completeness check of the attributions. Writes into --outdir: ig_summary.tsv, <gene>_ig_peaks.tsv,
<gene>_ig_by_cell_type.tsv, <gene>_ig_top_peaks_accessibility.png.
"""
from __future__ import annotations

from pathlib import Path

from scact.perturbation.integrated_gradients import METHODS


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, help="folder of the trained model (scact train)")
    parser.add_argument("--atac", required=True, help="atac.h5ad the model was trained on (binary peaks)")
    parser.add_argument("--annotation", help="TSS BED (chrom,start,end,gene[,score,strand]) or GTF; without "
                                             "it distances to the TSS are left empty")
    parser.add_argument("--genes", required=True, help="comma-separated gene symbols, e.g. SATB2,GAD2")
    parser.add_argument("--rna", help="rna.h5ad: a gene's own cell type is then the one with its highest observed "
                                      "expression (default: highest translated expression)")
    parser.add_argument("--labels-key", default="cell_type", help="obs column with the cell types")
    parser.add_argument("--steps", type=int, default=50, help="integration steps of integrated gradients")
    parser.add_argument("--method", choices=METHODS, default="gausslegendre", help="quadrature rule")
    parser.add_argument("--top-k", type=int, default=20, help="peaks reported (and tested) per gene")
    parser.add_argument("--batch-size", type=int, default=64, help="cells per forward/backward pass")
    parser.add_argument("--max-cells-per-type", type=int, default=500,
                        help="cells drawn per cell type (0: all cells); bounds the cost")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cell subsample")
    parser.add_argument("--outdir", default=".", help="output folder")


def run(args) -> None:
    from scact.errors import ScactInputError
    from scact.io.anndata import read_h5ad
    from scact.model import SCACT, resolve_device
    from scact.perturbation.perturb import observed_cell_types, perturb_genes
    from scact.perturbation.tss import read_tss

    genes = [gene.strip() for gene in args.genes.split(",") if gene.strip()]
    if not genes:
        raise ScactInputError("--genes: no gene named (give e.g. --genes Satb2,Gad2)")
    if args.steps < 1 or args.top_k < 1 or args.batch_size < 1:
        raise ScactInputError("--steps, --top-k and --batch-size must be positive")
    device = str(resolve_device(args.device))
    model = SCACT.load(args.model, device=device)
    atac = read_h5ad(args.atac)
    tss = read_tss(args.annotation) if args.annotation else None
    gene_cell_types = observed_cell_types(read_h5ad(args.rna), genes, args.labels_key) if args.rna else None
    summary = perturb_genes(model, atac, genes, tss, Path(args.outdir), labels_key=args.labels_key,
                            steps=args.steps, method=args.method, top_k=args.top_k, batch_size=args.batch_size,
                            device=device, max_cells_per_type=args.max_cells_per_type, seed=args.seed,
                            atac_path=args.atac, gene_cell_types=gene_cell_types)
    failed = summary[summary["status"].str.startswith("error")]
    if len(failed) == len(summary):
        raise ScactInputError(f"--genes: no gene could be perturbed ({'; '.join(failed['gene'] + ': ' + failed['status'])})")
