"""Motif activation score per cell type (paper Eq. 14) in observed and translated ATAC.

With --fasta: scans the peaks of --atac with JASPAR motifs (pyjaspar), scores each motif's activation per
cell type in the observed ATAC and, with --rna-to-atac, in the translated ATAC of the RNA cells; writes
motif_activation.tsv (source, cell_type, motif_id, motif, score), motif_peaks.tsv (peaks carrying each
motif), motif_agreement.tsv (observed vs translated scores) and motif_activation_heatmap.png. Without
--fasta the step is skipped with a message (motifs_skipped.txt), not an error.
"""
from __future__ import annotations

from pathlib import Path

from scact.io.translated import PROBABILITY_LAYER, READ_LAYERS


def add_arguments(parser) -> None:
    parser.add_argument("--atac", required=True, help="atac.h5ad (binary peaks with var chrom/start/end)")
    parser.add_argument("--fasta", help="genome FASTA of the peaks (plain or bgzip; .fai made if missing)")
    parser.add_argument("--rna-to-atac", help="translated ATAC of the RNA cells (rna_to_atac.h5ad)")
    parser.add_argument("--rna", help="rna.h5ad: cell types of the translated cells when --rna-to-atac lacks them")
    parser.add_argument("--translated-layer", default=PROBABILITY_LAYER, choices=list(READ_LAYERS),
                        help="what of --rna-to-atac to score: its peak probabilities in whichever form "
                             "translate stored them (its X when none are stored), or X (the sampled profiles)")
    parser.add_argument("--labels-key", default="cell_type", help="obs column with the cell types")
    parser.add_argument("--collection", default="CORE", help="JASPAR collection")
    parser.add_argument("--tax-group", default="vertebrates", help="JASPAR taxonomic group")
    parser.add_argument("--motifs", help="comma-separated motif names or matrix ids (default: all of the group)")
    parser.add_argument("--threshold", type=float, default=0.85,
                        help="hit: best window >= this fraction from the motif's min to max log-odds score")
    parser.add_argument("--top-n", type=int, default=30, help="most variable motifs in the heatmap")
    parser.add_argument("--batch-size", type=int, default=512, help="peaks per scan batch")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (the scan is a convolution)")
    parser.add_argument("--outdir", default=".", help="output folder")


def run(args) -> None:
    import numpy as np
    import pandas as pd

    from scact.errors import ScactInputError, input_error
    from scact.io.anndata import peak_coordinates, read_h5ad
    from scact.io.atomic import write_text
    from scact.model import resolve_device
    from scact.perturbation.motifs import (
        jaspar_motifs, motif_activation, peak_sequences, plot_activation_heatmap, scan_peaks, sparse_blocks)
    from scact.perturbation.perturb import write_tsv

    outdir = Path(args.outdir)
    if not args.fasta:
        message = "no --fasta given: motif scan and motif activation scores skipped"
        print(message, flush=True)
        write_text(outdir / "motifs_skipped.txt", message + "\n")
        return
    if not 0 < args.threshold <= 1:
        raise ScactInputError("--threshold must be in (0, 1]")
    device = str(resolve_device(args.device))
    atac = read_h5ad(args.atac)
    if args.labels_key not in atac.obs:
        raise input_error(args.atac, f"obs has no column {args.labels_key!r}", "give --labels-key")
    peaks = peak_coordinates(atac.var, args.atac)
    names = [n.strip() for n in (args.motifs or "").split(",") if n.strip()]
    motifs = jaspar_motifs(args.collection, args.tax_group, names or None)
    if not motifs:
        raise ScactInputError(f"--motifs/--tax-group: no JASPAR motif matches ({args.motifs or args.tax_group})")
    sequences = peak_sequences(args.fasta, peaks)
    hits = scan_peaks(sequences, motifs, args.threshold, args.batch_size, device)
    motif_ids = [m.motif_id for m in motifs]
    motif_names = [m.name for m in motifs]
    peak_counts = np.asarray(hits.sum(axis=0)).ravel()
    print(f"scanned {len(sequences)} peaks with {len(motifs)} JASPAR motifs on {device}: "
          f"{hits.nnz} hits, {int((peak_counts > 0).sum())} motifs found at least once", flush=True)
    rows, cols = hits.nonzero()
    write_tsv(pd.DataFrame({"peak": atac.var_names.to_numpy()[rows], "motif_id": np.array(motif_ids)[cols],
                            "motif": np.array(motif_names)[cols]}), outdir / "motif_peaks.tsv")
    observed = atac.X.tocsr() if hasattr(atac.X, "tocsr") else np.asarray(atac.X)
    scores = {"observed": motif_activation(sparse_blocks((observed > 0).astype(np.float32)), hits,
                                           atac.obs[args.labels_key].to_numpy())}
    if args.rna_to_atac:
        translated, labels = _translated(args, atac)
        scores["rna_translated_atac"] = motif_activation(translated, hits, labels)
    tables = []
    for source, table in scores.items():
        long = table.set_axis(motif_ids, axis=1).reset_index().melt(id_vars="cell_type", var_name="motif_id",
                                                                     value_name="score")
        long.insert(0, "source", source)
        long["motif"] = long["motif_id"].map(dict(zip(motif_ids, motif_names)))
        tables.append(long)
    write_tsv(pd.concat(tables, ignore_index=True), outdir / "motif_activation.tsv")
    if len(scores) > 1:
        observed_scores, translated_scores = scores["observed"], scores["rna_translated_atac"]
        shared = observed_scores.index.intersection(translated_scores.index)
        a = observed_scores.loc[shared].to_numpy().ravel()
        b = translated_scores.loc[shared].to_numpy().ravel()
        r = float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 and a.std() > 0 and b.std() > 0 else float("nan")
        write_tsv(pd.DataFrame([{"cell_types_shared": len(shared), "motifs": len(motifs), "pearson_r": r}]),
                  outdir / "motif_agreement.tsv")
        print(f"observed vs translated motif activation over {len(shared)} cell types: Pearson r = {r:.3f}")
    plot_activation_heatmap(scores, motif_names, outdir / "motif_activation_heatmap.png", args.top_n)


def _translated(args, atac):
    """Blocks of the translated ATAC (columns in --atac's peak order) and the translated cells' types."""
    from pathlib import Path

    from scact.errors import input_error
    from scact.io.anndata import read_h5ad
    from scact.io.translated import TranslatedAccessibility

    if not Path(args.rna_to_atac).is_file():
        raise input_error(args.rna_to_atac, "file not found")
    translated = TranslatedAccessibility(args.rna_to_atac, READ_LAYERS[args.translated_layer])
    columns = translated.var_names.get_indexer(atac.var_names)
    if (columns < 0).any():
        raise input_error(args.rna_to_atac, f"{int((columns < 0).sum())} peaks of {args.atac} are absent",
                          "give the translation made with the model trained on this atac.h5ad")
    if args.labels_key in translated.obs:
        labels = translated.obs[args.labels_key].astype(str).to_numpy()
    elif args.rna:
        rna = read_h5ad(args.rna)
        if args.labels_key not in rna.obs:
            raise input_error(args.rna, f"obs has no column {args.labels_key!r}")
        labels = rna.obs[args.labels_key].astype(str).reindex(translated.obs_names).to_numpy()
        if any(v is None or v != v for v in labels):
            raise input_error(args.rna_to_atac, "cells absent from --rna (names must match)")
    else:
        raise input_error(args.rna_to_atac, f"obs has no column {args.labels_key!r}", "give --rna for the cell types")

    return translated.blocks(columns=columns), labels
