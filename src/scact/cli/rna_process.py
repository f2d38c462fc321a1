"""Normalise, select HVGs, PCA, cluster and label the QC'd RNA cells of all samples.

Reads every `<sample>_rna_qc.h5ad` and writes `rna_processed.h5ad` (all genes; X log1p CP10k,
layers['counts'], var['highly_variable'], obsm X_pca/X_umap, obs sample, batch, n_counts, log_depth,
leiden, cell_type), `rna_marker_scores.tsv` (cluster x cell type, when labelled by markers) and
`rna_umap.png` (UMAP by cluster and label) into --outdir. Labels: --labels file, else obs['label'] from
the samplesheet, else marker genes (--markers). With --rna-normalised true X already holds log-normalised
values (checked by rna_qc): normalisation is skipped and there is no layers['counts'].
"""
from __future__ import annotations

from pathlib import Path

from scact.cli import true_or_false
from scact.errors import input_error
from scact.io.anndata import read_h5ad, write_h5ad
from scact.io.atomic import atomic_path
from scact.io.provenance import record_provenance
from scact.preprocessing.labels import BUILTIN_MARKER_SETS, assign_labels
from scact.preprocessing.rna import RnaProcessParams, concatenate_samples, params_dict, process_rna


def add_arguments(parser) -> None:
    parser.add_argument("--input", nargs="+", required=True, help="<sample>_rna_qc.h5ad files (from rna_qc)")
    parser.add_argument("--outdir", default=".", help="folder for the outputs")
    parser.add_argument("--labels", help="CSV/TSV barcode,label (barcodes or <sample>:<barcode>); overrides obs['label']")
    parser.add_argument("--markers", default="human_pbmc",
                        help=f"built-in marker set ({', '.join(BUILTIN_MARKER_SETS)}) or a cell_type,gene file")
    parser.add_argument("--min-marker-score", type=float, default=0.2,
                        help="clusters whose best marker score is lower are labelled 'unassigned'")
    parser.add_argument("--n-top-genes", type=int, default=3000, help="highly variable genes kept for training")
    parser.add_argument("--n-pcs", type=int, default=20, help="principal components")
    parser.add_argument("--n-neighbors", type=int, default=15, help="neighbours of the kNN graph")
    parser.add_argument("--resolution", type=float, default=1.0, help="Leiden resolution")
    parser.add_argument("--no-plots", action="store_true", help="do not write rna_umap.png")
    parser.add_argument("--seed", type=int, default=0, help="random seed (PCA, kNN, Leiden, UMAP)")
    parser.add_argument("--rna-normalised", type=true_or_false, default=False, metavar="true|false",
                        help="the inputs hold log-normalised values (rna_qc --rna-normalised true): do not normalise")


def run(args) -> None:
    adata = concatenate_samples(_read_samples(args))  # the inputs are not kept: see concatenate_samples
    params = RnaProcessParams(n_top_genes=args.n_top_genes, n_pcs=args.n_pcs, n_neighbors=args.n_neighbors,
                              resolution=args.resolution, seed=args.seed)
    process_rna(adata, params, normalised=args.rna_normalised)
    scores = assign_labels(adata, labels=args.labels, markers=args.markers, min_score=args.min_marker_score)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    if scores is not None:
        with atomic_path(outdir / "rna_marker_scores.tsv") as tmp:
            scores.to_csv(tmp, sep="\t", float_format="%.4f")
    if not args.no_plots:
        from scact.preprocessing.qc_plots import umap_plot

        umap_plot(adata, ("leiden", "cell_type"), str(outdir / "rna_umap.png"), title="RNA")
    label_source = "file" if args.labels else ("markers" if scores is not None else "obs:label")
    record_provenance(adata, "rna_process", {**params_dict(params), "labels": args.labels,
                                             "markers": args.markers if scores is not None else None,
                                             "label_source": label_source,
                                             "min_marker_score": args.min_marker_score,
                                             "rna_normalised": args.rna_normalised,
                                             "inputs": [Path(p).name for p in args.input]})
    write_h5ad(adata, outdir / "rna_processed.h5ad")


def _read_samples(args) -> list:
    """The QC'd inputs, refused when one was normalised otherwise than ``--rna-normalised`` says."""
    samples = [(path, read_h5ad(path)) for path in args.input]
    for path, sample in samples:
        qc = sample.uns.get("scact", {}).get("rna_qc", {}).get("params", {})
        if bool(qc.get("rna_normalised", False)) != args.rna_normalised:
            state = "log-normalised values" if qc.get("rna_normalised") else "raw counts"
            raise input_error(path, f"holds {state} (as rna_qc recorded) but --rna-normalised is "
                                    f"{str(args.rna_normalised).lower()}",
                              "run rna_qc and rna_process with the same --rna-normalised")
    return samples
