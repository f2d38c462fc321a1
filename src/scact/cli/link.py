"""Peak-to-gene links: correlation of peak accessibility and gene expression across metacells.

For each gene, the peaks within --window bp of its TSS, Pearson r across metacells (kNN aggregates of
cells), p-value and Benjamini-Hochberg FDR, on every source given: observed paired cells (RNA and ATAC
cells sharing <sample>:<barcode> names), RNA with its translated ATAC (--rna-to-atac), ATAC with its
translated RNA (--atac-to-rna). Writes into --outdir: links.tsv (all tested pairs), links_<source>.bedpe
and links_<source>.interact (significant links, for IGV / the UCSC browser), link_genes.tsv (per gene and
source: pairs tested or why none), link_agreement.tsv (observed vs translated links) and <gene>_links.png
(arcs around the gene, top IG peaks from --ig-dir marked). This is the issue's PEAK2GENE_LINK step.
"""
from __future__ import annotations

import logging
from pathlib import Path

from scact.io.translated import PROBABILITY_LAYER, READ_LAYERS


def add_arguments(parser) -> None:
    parser.add_argument("--rna", required=True, help="rna.h5ad (log-normalised expression)")
    parser.add_argument("--atac", required=True, help="atac.h5ad (binary peaks with var chrom/start/end)")
    parser.add_argument("--annotation", required=True, help="TSS BED (chrom,start,end,gene[,score,strand]) or GTF")
    parser.add_argument("--rna-to-atac", help="translated ATAC of the RNA cells (rna_to_atac.h5ad)")
    parser.add_argument("--atac-to-rna", help="translated RNA of the ATAC cells (atac_to_rna.h5ad)")
    parser.add_argument("--translated-layer", default=PROBABILITY_LAYER, choices=list(READ_LAYERS),
                        help="what of --rna-to-atac to correlate: its peak probabilities in whichever form "
                             "translate stored them (its X when none are stored), or X (the sampled profiles)")
    parser.add_argument("--genes", help="comma-separated genes (default: every RNA gene with a TSS)")
    parser.add_argument("--window", type=int, default=100_000, help="bp either side of the TSS")
    parser.add_argument("--n-metacells", type=int, default=300, help="metacells (seed cells) per source")
    parser.add_argument("--k", type=int, default=30, help="cells pooled into each metacell")
    parser.add_argument("--fdr", type=float, default=0.05, help="FDR threshold of a significant link")
    parser.add_argument("--rna-embedding", default="X_pca", help="obsm key of the RNA cells' neighbours")
    parser.add_argument("--atac-embedding", default="X_lsi", help="obsm key of the ATAC cells' neighbours")
    parser.add_argument("--ig-dir", help="output folder of scact perturb: its <gene>_ig_peaks.tsv are marked")
    parser.add_argument("--plot-genes", help="comma-separated genes to plot (default: --genes, at most 12, "
                                             "else the 6 genes with most observed/translated links)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the metacell draw")
    parser.add_argument("--outdir", default=".", help="output folder")


def _split(text):
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def run(args) -> None:
    import pandas as pd

    from scact.errors import ScactInputError, input_error
    from scact.io.anndata import peak_coordinates, read_h5ad
    from scact.io.translated import TranslatedAccessibility
    from scact.perturbation.linkage import (
        cell_embedding, link_agreement, link_genes, plot_gene_links, to_bedpe, to_interact)
    from scact.perturbation.perturb import safe_name, write_tsv
    from scact.perturbation.tss import read_tss

    if args.window <= 0 or args.k < 2 or args.n_metacells < 3:
        raise ScactInputError("--window must be > 0, --k >= 2 and --n-metacells >= 3")
    outdir = Path(args.outdir)
    rna, atac = read_h5ad(args.rna), read_h5ad(args.atac)
    atac.var = atac.var.assign(**peak_coordinates(atac.var, args.atac))
    tss = read_tss(args.annotation)
    annotated = set(tss["gene"])
    genes = _split(args.genes) or [g for g in rna.var_names if g in annotated]
    if not genes:
        raise input_error(args.annotation, "no gene of the RNA matrix has a TSS here",
                          "check that gene symbols and genome match")
    rna_embedding = (rna.obs_names, cell_embedding(rna, args.rna_embedding, seed=args.seed))
    atac_embedding = (atac.obs_names, cell_embedding(atac, args.atac_embedding, seed=args.seed))
    sources = [{"name": "observed", "expression": rna, "accessibility": atac, "peaks": atac.var,
                "embedding": rna_embedding}]
    if args.rna_to_atac:
        if not Path(args.rna_to_atac).is_file():
            raise input_error(args.rna_to_atac, "file not found")
        translated = TranslatedAccessibility(args.rna_to_atac, READ_LAYERS[args.translated_layer])
        translated_peaks = peak_coordinates(translated.var, args.rna_to_atac)
        sources.append({"name": "rna_translated_atac", "expression": rna, "accessibility": translated,
                        "peaks": translated_peaks, "embedding": rna_embedding})
    if args.atac_to_rna:
        sources.append({"name": "atac_translated_rna", "expression": read_h5ad(args.atac_to_rna),
                        "accessibility": atac, "peaks": atac.var, "embedding": atac_embedding})
    links, status = link_genes(genes, tss, sources, window=args.window, n_metacells=args.n_metacells, k=args.k,
                               fdr=args.fdr, seed=args.seed)
    write_tsv(status, outdir / "link_genes.tsv")
    for gene, row in status.set_index("gene").iterrows():
        problems = [f"{source}: {text}" for source, text in row.dropna().items() if "tested" not in str(text)]
        if problems:
            print(f"{gene}: " + "; ".join(problems), flush=True)
    if links.empty:  # real data may give none (no peak near the genes, no paired cells): say so, write empty tables
        logging.getLogger(__name__).warning(
            "no gene-peak pair to test (see link_genes.tsv: no TSS for the genes, no peaks within %d bp, or no "
            "paired/translated cells); the link tables are empty", args.window)
    write_tsv(links, outdir / "links.tsv")
    for source in dict.fromkeys([s["name"] for s in sources]):
        table = links[links["source"] == source]
        significant = table[table["significant"].astype(bool)]
        write_tsv(to_bedpe(significant).rename(columns={"chrom1": "#chrom1"}), outdir / f"links_{source}.bedpe")
        _write_interact(to_interact(significant), outdir / f"links_{source}.interact", source)
    agreement = link_agreement(links)
    write_tsv(agreement, outdir / "link_agreement.tsv")
    if len(agreement):
        print(agreement.to_string(index=False), flush=True)
    plot_genes = _split(args.plot_genes) or _split(args.genes)[:12]
    if not plot_genes:
        counts = links[links["significant"]].groupby("gene").size().sort_values(ascending=False)
        plot_genes = list(counts.index[:6])
    linked = set(links["gene"])
    for gene in plot_genes:
        if gene not in linked:
            continue
        top_ig = None
        if args.ig_dir and (Path(args.ig_dir) / f"{safe_name(gene)}_ig_peaks.tsv").is_file():
            top_ig = pd.read_csv(Path(args.ig_dir) / f"{safe_name(gene)}_ig_peaks.tsv", sep="\t")
        plot_gene_links(links, gene, outdir / f"{safe_name(gene)}_links.png", top_ig, window=args.window)


def _write_interact(table, path, source):
    from scact.io.atomic import atomic_path

    header = (f'track type=interact name="scact_{source}" description="scACT peak-to-gene links ({source})" '
              'interactDirectional=false maxHeightPixels=200:100:50 visibility=full\n')
    with atomic_path(path) as tmp:
        with open(tmp, "w") as handle:
            handle.write(header)
            table.to_csv(handle, sep="\t", index=False, header=False)
