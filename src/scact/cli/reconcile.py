"""Label the ATAC cells, reconcile cell-type names across modalities and write the training inputs.

Reads `rna_processed.h5ad` (rna_process) and `atac_processed.h5ad` (+ `gene_activity.h5ad`, atac_process)
and writes `rna.h5ad`, `atac.h5ad` (the model's inputs: obs cell_type, shared_type, batch, log_depth,
...), `label_reconciliation.tsv` (each type with its cell counts per modality and status shared /
rna_only / atac_only / unassigned), `atac_marker_scores.tsv` when ATAC is labelled by markers, and
`atac_umap_labels.png` when atac_processed.h5ad has obsm['X_umap']. When cells are named alike in both
modalities, --heldout-fraction of them are held out from training (obs['split'] in both files; the other
paired cells give training their RNA or their ATAC, never both): the evaluation scores those.
"""
from __future__ import annotations

from pathlib import Path

from scact.cli import true_or_false
from scact.errors import input_error
from scact.io.anndata import read_h5ad, write_h5ad
from scact.io.annotation import check_gene_overlap
from scact.io.atomic import atomic_path
from scact.io.provenance import record_provenance
from scact.preprocessing.labels import BUILTIN_MARKER_SETS
from scact.preprocessing.reconcile import (apply_reconciled, label_atac, read_label_mapping,
                                           reconcile_labels, training_atac, training_rna)
from scact.preprocessing.split import HELDOUT_FRACTION, annotate_split


def add_arguments(parser) -> None:
    parser.add_argument("--rna", required=True, help="rna_processed.h5ad (from rna_process)")
    parser.add_argument("--atac", required=True, help="atac_processed.h5ad (from atac_process)")
    parser.add_argument("--gene-activity", help="gene_activity.h5ad (from atac_process), for marker labels")
    parser.add_argument("--atac-labels", help="CSV/TSV barcode,label for the ATAC cells (overrides obs['label'])")
    parser.add_argument("--markers", default="human_pbmc",
                        help=f"marker set for ATAC gene activity ({', '.join(BUILTIN_MARKER_SETS)}) or a "
                             "cell_type,gene file; use the one given to rna_process")
    parser.add_argument("--min-marker-score", type=float, default=0.2,
                        help="ATAC clusters whose best marker score is lower are labelled 'unassigned'")
    parser.add_argument("--label-mapping", help="CSV/TSV label,cell_type renaming labels of either modality")
    parser.add_argument("--drop-unshared", action="store_true",
                        help="drop cells of types found in one modality only (default: keep, shared_type=False)")
    parser.add_argument("--label-free", type=true_or_false, default=False, metavar="{true,false}",
                        help="the model will train without labels: do not refuse labels it could not use "
                             "(one cell type in a modality, no type shared)")
    parser.add_argument("--heldout-fraction", type=float, default=HELDOUT_FRACTION,
                        help="share of the paired cells held out from training and scored (0: none; every cell "
                             "trains and the evaluation is in-sample)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-out split")
    parser.add_argument("--outdir", default=".", help="folder for the outputs")


def run(args) -> None:
    # One input at a time, each cut to what the outputs keep: at atlas size every full matrix is GBs.
    rna = read_h5ad(args.rna)
    if "cell_type" not in rna.obs:
        raise input_error(args.rna, "has no obs['cell_type']", "run scact rna-process, which labels the cells")
    rna_genes = rna.var_names
    rna = training_rna(rna, args.rna)
    atac = read_h5ad(args.atac, backed=True)  # labels need its obs only; its matrix is read after them
    gene_activity = read_h5ad(args.gene_activity, backed=True) if args.gene_activity else None
    if gene_activity is not None:  # its genes are the annotation's: a wrong annotation shows here first
        annotation = gene_activity.uns.get("scact", {}).get("gene_activity", {}).get("params", {}).get(
            "annotation", args.gene_activity)
        check_gene_overlap(annotation, gene_activity.var_names, args.rna, rna_genes)
    scores = label_atac(atac, gene_activity, labels=args.atac_labels, markers=args.markers,
                        min_score=args.min_marker_score, source=args.atac)
    if gene_activity is not None:
        gene_activity.file.close()
    atac = atac.to_memory()
    mapping = read_label_mapping(args.label_mapping) if args.label_mapping else None
    rna_labels, atac_labels, report = reconcile_labels(rna.obs["cell_type"], atac.obs["cell_type"], mapping,
                                                       sources=(args.rna, args.atac), label_free=args.label_free)
    rna_out = apply_reconciled(rna, rna_labels, report, args.drop_unshared)
    atac_out = apply_reconciled(training_atac(atac, args.atac), atac_labels, report, args.drop_unshared)
    if not 0 <= args.heldout_fraction < 1:
        raise input_error("--heldout-fraction", f"must be in [0, 1), got {args.heldout_fraction}")
    if args.heldout_fraction > 0:
        annotate_split(rna_out, atac_out, args.heldout_fraction, args.seed)
    params = {"markers": args.markers if scores is not None else None, "atac_labels": args.atac_labels,
              "label_mapping": args.label_mapping, "drop_unshared": args.drop_unshared,
              "min_marker_score": args.min_marker_score, "label_free": args.label_free,
              "heldout_fraction": args.heldout_fraction, "seed": args.seed,
              "shared_types": report.loc[report["status"] == "shared", "cell_type"].tolist()}
    for adata in (rna_out, atac_out):
        record_provenance(adata, "reconcile", params)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with atomic_path(outdir / "label_reconciliation.tsv") as tmp:
        report.to_csv(tmp, sep="\t", index=False)
    if scores is not None:
        with atomic_path(outdir / "atac_marker_scores.tsv") as tmp:
            scores.to_csv(tmp, sep="\t", float_format="%.4f")
    if "X_umap" in atac_out.obsm:
        from scact.preprocessing.qc_plots import umap_plot

        umap_plot(atac_out, ("leiden", "cell_type"), str(outdir / "atac_umap_labels.png"), title="ATAC")
    write_h5ad(rna_out, outdir / "rna.h5ad")
    write_h5ad(atac_out, outdir / "atac.h5ad")

