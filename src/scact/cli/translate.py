"""Translate with a trained scACT model: RNA->ATAC, ATAC->RNA and the joint embedding of both modalities.

Writes rna_to_atac.h5ad (X: seeded Bernoulli-sampled binary profiles, sparse; layers['probabilities']:
peak probabilities streamed to disk block by block, dense up to 1e8 cells x peaks and as each cell's top-k
peaks above, or as --probabilities says; docs/output.md), atac_to_rna.h5ad
(log-normalised expression), joint_embedding.h5ad (both modalities' cells in the RNA and in the ATAC
latent space, cosine UMAPs with 13 neighbours) and UMAP PNGs coloured by modality, cell type and markers.
"""
from __future__ import annotations

from pathlib import Path

from scact.io.translated import DEFAULT_TOP_K, DENSE_LIMIT, PROBABILITY_FORMS


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="folder of the trained model (scact train)")
    parser.add_argument("--rna", required=True, help="preprocessed rna.h5ad")
    parser.add_argument("--atac", required=True, help="preprocessed atac.h5ad")
    parser.add_argument("--outdir", default=".", help="folder for the outputs")
    parser.add_argument("--probabilities", choices=PROBABILITY_FORMS, default="auto",
                        help="how RNA->ATAC peak probabilities are stored: a dense float32/float16 layer, each "
                             "cell's --top-k most probable peaks (the rest as their mean), not at all (none), or "
                             f"auto: float32 up to {DENSE_LIMIT:.0e} cells x peaks, topk above")
    parser.add_argument("--top-k", type=int, default=DEFAULT_TOP_K,
                        help="peaks kept per cell by --probabilities topk")
    parser.add_argument("--labels-key", default="cell_type", help="obs column with cell types")
    parser.add_argument("--batch-size", type=int, default=512, help="cells per translation block")
    parser.add_argument("--n-neighbors", type=int, default=13, help="UMAP neighbours (cosine)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Bernoulli samples and the UMAPs")
    parser.add_argument("--device", default="cpu", help="torch device of the model")
    parser.add_argument("--translation-depth", choices=["matched", "typical"], default="matched",
                        help="depth the decoders assume: each source cell's own depth z-score (matched) or "
                             "the training mean for every cell (typical); docs/model.md")
    parser.add_argument("--translation-neighbours", type=int, default=None,
                        help="decode each mapped embedding as the mean over this many nearest cells of the "
                             "other input (default: the model's, 15; 0: the mapped embedding itself, as in "
                             "the paper); docs/model.md")
    parser.add_argument("--no-plots", action="store_true", help="skip the UMAP PNGs")


def run(args):
    from scact.translation import run_translate

    run_translate(model_dir=Path(args.model), rna_path=Path(args.rna), atac_path=Path(args.atac),
                  outdir=Path(args.outdir), probabilities=args.probabilities, top_k=args.top_k,
                  labels_key=args.labels_key,
                  batch_size=args.batch_size, n_neighbors=args.n_neighbors, seed=args.seed,
                  device=args.device, plots=not args.no_plots,
                  translation_depth=args.translation_depth, translation_neighbours=args.translation_neighbours)
