"""Train scACT on unpaired rna.h5ad and atac.h5ad: writes model/, training_history.csv, loss_curves.png.

Autoencoders first (early stopping on a validation split), then the mapping networks and per-cell-type
discriminators alternated. When the inputs carry a held-out split (obs['split'], written by reconcile),
only the 'train' cells of each modality are used. Checkpoints go to <outdir>/checkpoints every --checkpoint-every epochs;
--resume continues from the last one (same inputs and options required).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from scact.cli import true_or_false
from scact.errors import ScactInputError, input_error
from scact.io.anndata import read_h5ad
from scact.io.atomic import atomic_path
from scact.progress import PROGRESS_FILE_ENV, append_progress, show_progress

log = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    parser.add_argument("--rna", required=True, type=Path, help="rna.h5ad (X log1p CP10k on HVGs)")
    parser.add_argument("--atac", required=True, type=Path, help="atac.h5ad (X binary peaks, var chrom/start/end)")
    parser.add_argument("--outdir", default=Path("."), type=Path, help="folder for model/ and the training files")
    parser.add_argument("--labels-key", default="cell_type",
                        help="obs column of cell types in both files; 'none' for label-free mode")
    parser.add_argument("--label-free", type=true_or_false, default=False, metavar="{true,false}",
                        help="train without cell-type labels (one unconditional discriminator pair), as "
                             "--labels-key none; for data with one cell type or no trustworthy labels")
    parser.add_argument("--batch-key", default="batch", help="obs column of batches ('none': one batch)")
    parser.add_argument("--depth-key", default="log_depth", help="obs column of log sequencing depth")
    parser.add_argument("--latent-dim", type=int, default=20)
    parser.add_argument("--gamma", type=float, default=0.5, help="weight of the adversarial loss (Eq. 10)")
    parser.add_argument("--lambda", dest="lam", type=float, default=1.0, help="weight of the cycle loss (Eq. 10)")
    parser.add_argument("--mi-weight", type=float, default=0.1,
                        help="weight of the confounder mutual-information penalty in the autoencoders")
    parser.add_argument("--classifier-weight", type=float, default=1.0,
                        help="weight of the cell-type classifiers on both latents and on mapped embeddings "
                             "(labels per modality, no pairing; 0 disables; ignored without labels)")
    parser.add_argument("--rna-likelihood", choices=["mse", "nb"], default="mse",
                        help="RNA reconstruction: MSE on log-normalised X (the paper) or negative binomial on "
                             "layers['counts'] (docs/model.md)")
    parser.add_argument("--atac-input-dropout", type=float, default=0.5,
                        help="share of open peaks closed at random in each training minibatch of the ATAC "
                             "encoder, against memorising the training cells (0: off; docs/model.md)")
    parser.add_argument("--link-weight", type=float, default=0.0,
                        help="weight of the feature-level link in the mapping phases: a gene's expression and the "
                             "accessibility of peaks within 10 kb of its TSS co-vary inside each cell type "
                             "(needs --annotation; 0: off; docs/model.md)")
    parser.add_argument("--annotation", type=Path,
                        help="TSS BED or GTF of the genome, for --link-weight")
    parser.add_argument("--max-epochs-autoencoder", type=int, default=30)
    parser.add_argument("--max-epochs-mapping", type=int, default=100)
    parser.add_argument("--max-epochs-joint", type=int, default=10,
                        help="epochs of phase 3: encoders, decoders and mappings trained together (0: off)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr-autoencoder", type=float, default=1e-3)
    parser.add_argument("--lr-mapping", type=float, default=1e-3)
    parser.add_argument("--lr-discriminator", type=float, default=1e-3)
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--patience", type=int, default=5,
                        help="early-stopping patience (autoencoder epochs; the first half of "
                        "--max-epochs-autoencoder does not count)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--amp", action="store_true", help="bfloat16 mixed precision (CUDA only)")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for torch (0: torch's default); 1 is fastest on a busy machine")
    parser.add_argument("--checkpoint-every", type=int, default=5, help="epochs between checkpoints (0: never)")
    parser.add_argument("--resume", action="store_true", help="continue from <outdir>/checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (there is none anyway unless stderr is a terminal and CI is unset)")
    parser.add_argument("--progress-file", type=Path, default=os.environ.get(PROGRESS_FILE_ENV),
                        help="append one JSON line per epoch (epoch, total, losses) to this file; "
                             f"scact run draws its progress bar from it (default: ${PROGRESS_FILE_ENV}, "
                             "which scact run sets)")


#: The training losses the progress bar shows (the others are in training_history.csv).
SHOWN_LOSSES = ("reconstruction", "adversarial", "cycle", "total")


def _epoch_reporter(path: Path | None, max_epochs_autoencoder: int, max_epochs_mapping: int, max_epochs_joint: int):
    """The per-epoch callback that writes ``path`` for ``scact run``'s progress bar (None: no file).

    The total counts the autoencoder epochs actually run once early stopping has ended that phase.
    """
    if path is None:
        return None

    def report(row: dict) -> None:
        done_before_phase = row["epoch"] - row["phase_epoch"]
        autoencoder_epochs = {"autoencoder": max_epochs_autoencoder, "mapping": done_before_phase,
                              "joint": done_before_phase - max_epochs_mapping}.get(row["phase"], done_before_phase)
        losses = {k[len("train_"):]: f"{v:.3g}" for k, v in row.items()
                  if k.startswith("train_") and k.endswith(SHOWN_LOSSES)}
        append_progress(path, row["epoch"], autoencoder_epochs + max_epochs_mapping + max_epochs_joint,
                        f"training ({row['phase']})", losses)

    return report


def _key(value: str | None):
    return None if value is None or value.lower() == "none" else value


def plot_loss_curves(history, path: Path) -> None:
    """One panel per loss term (train solid, validation dashed), epochs on x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    terms = sorted({c[len("train_"):] for c in history.columns if c.startswith("train_")})
    cols = 4
    rows = -(-len(terms) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, term in zip(axes.ravel(), terms):
        for split, style in (("train", "-"), ("val", "--")):
            column = f"{split}_{term}"
            if column in history:
                ax.plot(history["epoch"], history[column], style, label=split)
        ax.set_title(term.replace("_", " "), fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(terms):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def run(args) -> None:
    import torch

    from scact.model import SCACT

    if args.threads < 0:
        raise input_error("--threads", "must be 0 or more")
    if args.threads:
        torch.set_num_threads(args.threads)
    from scact.preprocessing.split import training_mask

    rna, atac = read_h5ad(args.rna), read_h5ad(args.atac)
    rna, atac = (adata[training_mask(adata)].copy() for adata in (rna, atac))
    log.info("training on %d RNA and %d ATAC cells", rna.n_obs, atac.n_obs)
    for name, path, adata in (("rna", args.rna, rna), ("atac", args.atac, atac)):
        if adata.n_obs == 0 or adata.n_vars == 0:
            raise input_error(path, f"the {name} matrix is empty ({adata.n_obs} cells x {adata.n_vars} features)")
    labels_key = None if args.label_free else _key(args.labels_key)
    regions = None
    if args.link_weight > 0 and args.annotation is not None:
        from scact.io.annotation import read_annotation, tss_regions

        regions = tss_regions(read_annotation(args.annotation))
    try:
        model = SCACT(rna, atac, labels_key=labels_key, batch_key=_key(args.batch_key),
                      depth_key=_key(args.depth_key), gene_regions=regions, latent_dim=args.latent_dim,
                      gamma=args.gamma,
                      lam=args.lam, mi_weight=args.mi_weight,
                      classifier_weight=args.classifier_weight, rna_likelihood=args.rna_likelihood,
                      atac_input_dropout=args.atac_input_dropout, link_weight=args.link_weight, seed=args.seed)
    except ScactInputError as err:
        # the model names the modality; name the file instead so the one-line message is actionable
        message = str(err)
        for name, path in (("rna", args.rna), ("atac", args.atac), ("gene_regions", args.annotation)):
            if message.startswith(f"{name}:"):
                raise input_error(path, message[len(name) + 2:]) from err
        raise
    log.info("%r", model)
    outdir = args.outdir
    history = model.train(
        max_epochs_autoencoder=args.max_epochs_autoencoder, max_epochs_mapping=args.max_epochs_mapping,
        max_epochs_joint=args.max_epochs_joint, batch_size=args.batch_size, lr_autoencoder=args.lr_autoencoder, lr_mapping=args.lr_mapping,
        lr_discriminator=args.lr_discriminator, validation_fraction=args.validation_fraction,
        patience=args.patience, device=args.device, amp=args.amp, checkpoint_dir=outdir / "checkpoints",
        checkpoint_every=args.checkpoint_every, resume=args.resume,
        progress=not args.no_progress and show_progress(),
        on_epoch_end=_epoch_reporter(args.progress_file, args.max_epochs_autoencoder, args.max_epochs_mapping,
                                     args.max_epochs_joint))
    model.save(outdir / "model")
    with atomic_path(outdir / "training_history.csv") as tmp:
        history.to_csv(tmp, index=False)
    plot_loss_curves(history, outdir / "loss_curves.png")
    log.info("trained %d epochs; model written to %s", len(history), outdir / "model")
