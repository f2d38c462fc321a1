#!/usr/bin/env python3
"""Choose scACT training settings on SNARE-seq with pairing-free criteria; report held-out pairs apart.

Protocol (issue 14): the paired cells are split, seeded, into 80% training and 20% held-out cells; the
training RNA comes from one half of the training cells and the training ATAC from the other half, so no
cell gives both modalities to training. Inside each half a validation share (``--validation``, default
15%) is kept from the model as well: these unseen cells of ONE modality each, never paired with
anything, give the criteria that choose settings:

- ``unseen label transfer``: 15-NN majority vote of the mapped embedding of an unseen cell among the
  model's training cells of the other modality (RNA -> ATAC latent via f, ATAC -> RNA latent via g),
  scored against the cell's own label; ``seen`` is the same for the training cells (memorisation gap);
- ``own-modality label transfer``: the same vote among the training cells of the unseen cell's own
  modality in its own latent space (how much of the type the encoder recovers; LSI / PCA as a model-free
  reference);
- ``reconstruction``: each autoencoder on unseen cells of its own modality, at their own depth (ATAC
  per-peak AUROC median, RNA per-gene Pearson median), and for ATAC also on as many training cells;
- ``neighbour prediction``: an unseen cell predicted by decoding its 15 nearest training cells of its
  own modality (latent cosine) at its own depth, which is what neighbour decoding of translations does.

Scored only for reporting, never for choosing: the held-out pairs (per-peak AUROC of RNA -> ATAC,
per-gene Pearson of ATAC -> RNA, both with 15-neighbour decoding among training cells, and FOSCTTM in
both latent spaces), next to the type mean of the training cells. Features (3,000 HVGs, top 100,000
TF-IDF peaks) are selected on all cells without labels or pairing, as in benchmarks/evaluate_snareseq.py.

    PYTHONPATH=src nice -n 10 python benchmarks/heldout_model_search.py --candidates default dropout50 \
        [--seed 0 --epochs-ae 30 --epochs-map 100 --out /tmp/model/search.tsv]
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from evaluate_snareseq import load_snareseq  # noqa: E402

from scact.evaluation import baselines, metrics  # noqa: E402
from scact.evaluation.evaluate import Pairing  # noqa: E402
from scact.io.annotation import read_annotation, tss_regions  # noqa: E402
from scact.model import SCACT  # noqa: E402

#: candidate name -> (model hyperparameters, training options)
CANDIDATES = {
    "default": ({}, {}),
    "dropout50": ({"atac_input_dropout": 0.5}, {}),
    "dropout30": ({"atac_input_dropout": 0.3}, {}),
    "dropout70": ({"atac_input_dropout": 0.7}, {}),
    "dropout80": ({"atac_input_dropout": 0.8}, {}),
    "dropout50+atac64": ({"atac_input_dropout": 0.5, "atac_hidden": [64, 64, 32]}, {}),
    "atac32": ({"atac_hidden": [32, 32, 32]}, {}),
    "joint10": ({}, {"max_epochs_joint": 10}),
    "dropout50+joint10": ({"atac_input_dropout": 0.5}, {"max_epochs_joint": 10}),
    # the joint phase's control: as many reconstruction epochs (at --epochs-ae 30), no joint training
    "dropout50+ae40": ({"atac_input_dropout": 0.5}, {"max_epochs_autoencoder": 40}),
    # the feature-level link (gene regions: TSS +- 10 kb of the dataset's annotation)
    "dropout50+joint10+link5": ({"atac_input_dropout": 0.5, "link_weight": 5.0}, {"max_epochs_joint": 10}),
    "dropout50+joint10+link1": ({"atac_input_dropout": 0.5, "link_weight": 1.0}, {"max_epochs_joint": 10}),
    "dropout50+link5": ({"atac_input_dropout": 0.5, "link_weight": 5.0}, {}),
}
K = 15


def split(n_cells: int, seed: int, validation: float):
    """Held-out pairs (20%), then the training cells halved into RNA and ATAC cells, each with an unseen
    validation share: returns index arrays held_out, rna_fit, rna_val, atac_fit, atac_val."""
    order = np.random.default_rng(seed).permutation(n_cells)
    n_held = int(n_cells * 0.2)
    held, train = order[:n_held], order[n_held:]
    rna_cells, atac_cells = train[: len(train) // 2], train[len(train) // 2:]
    n_val = int(round(len(rna_cells) * validation))
    return held, rna_cells[n_val:], rna_cells[:n_val], atac_cells[n_val:], atac_cells[:n_val]


def knn_vote(query: np.ndarray, reference: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Majority label of the ``K`` nearest reference cells (cosine)."""
    q = query / np.linalg.norm(query, axis=1, keepdims=True).clip(1e-12)
    r = reference / np.linalg.norm(reference, axis=1, keepdims=True).clip(1e-12)
    nearest = np.argsort(-(q @ r.T), axis=1)[:, :K]
    names, codes = np.unique(labels, return_inverse=True)
    votes = np.zeros((len(q), len(names)))
    np.add.at(votes, (np.repeat(np.arange(len(q)), K), codes[nearest].ravel()), 1)
    return names[votes.argmax(1)]


@torch.no_grad()
def own_modality_predictions(model: SCACT, adata, modality: str, reference=None):
    """Each cell's own-modality profile decoded at its own depth: from its own latent code
    (reconstruction), or as the mean over its ``K`` nearest ``reference`` cells' decoded codes."""
    z = torch.from_numpy(model.get_latent_representation(adata, modality))
    depth = model._translation_depth(adata, modality, model._align_rna(adata) if modality == "rna"
                                     else model._align_atac(adata), "matched")
    confounders = model._decoder_confounders(depth, 0, adata.n_obs)
    ae = getattr(model.module, modality)
    output = torch.sigmoid if modality == "atac" else (lambda values: values)
    n_features = adata.n_vars
    targets = None if reference is None else torch.from_numpy(model.get_latent_representation(reference, modality))
    return model._decode_mapped(ae, z, confounders, targets, K, output, n_features).numpy()


def criteria(model: SCACT, rna, atac, cells, labels) -> dict:
    """The pairing-free criteria of the module docstring."""
    _, rna_fit, rna_val, atac_fit, atac_val = cells
    out = {}
    z_r_fit = model.get_latent_representation(rna[rna_fit], "rna")
    z_a_fit = model.get_latent_representation(atac[atac_fit], "atac")
    for name, cells_val, other_fit, modality, direction in (
            ("atac", atac_val, z_r_fit, "atac", "atac_to_rna"), ("rna", rna_val, z_a_fit, "rna", "rna_to_atac")):
        adata = (atac if modality == "atac" else rna)
        fit = atac_fit if modality == "atac" else rna_fit
        other_labels = labels[rna_fit] if modality == "atac" else labels[atac_fit]
        for tag, subset in (("unseen", cells_val), ("seen", fit[: len(cells_val)])):
            mapped = model.map_latent(model.get_latent_representation(adata[subset], modality), direction)
            out[f"{name} {tag} label transfer"] = float(np.mean(knn_vote(mapped, other_fit, other_labels)
                                                              == labels[subset]))
    # how well each latent space alone tells an unseen cell's type (among its own modality's training cells)
    out["atac unseen own-modality label transfer"] = float(np.mean(knn_vote(
        model.get_latent_representation(atac[atac_val], "atac"), z_a_fit, labels[atac_fit]) == labels[atac_val]))
    out["rna unseen own-modality label transfer"] = float(np.mean(knn_vote(
        model.get_latent_representation(rna[rna_val], "rna"), z_r_fit, labels[rna_fit]) == labels[rna_val]))
    for tag, subset in (("unseen", atac_val), ("seen", atac_fit[: len(atac_val)])):
        pred = own_modality_predictions(model, atac[subset], "atac")
        scores = metrics.rna_to_atac_metrics(atac[subset].X, metrics.dense_blocks(pred))
        out[f"atac {tag} reconstruction per-peak AUROC"] = scores.scalars["auroc_per_peak_median"]
    pred = own_modality_predictions(model, rna[rna_val], "rna")
    out["rna unseen reconstruction per-gene Pearson"] = metrics.atac_to_rna_metrics(
        rna[rna_val].X, pred)[0]["pearson_per_gene_median"]
    pred = own_modality_predictions(model, atac[atac_val], "atac", reference=atac[atac_fit])
    out["atac unseen neighbour prediction per-peak AUROC"] = metrics.rna_to_atac_metrics(
        atac[atac_val].X, metrics.dense_blocks(pred)).scalars["auroc_per_peak_median"]
    pred = own_modality_predictions(model, rna[rna_val], "rna", reference=rna[rna_fit])
    out["rna unseen neighbour prediction per-gene Pearson"] = metrics.atac_to_rna_metrics(
        rna[rna_val].X, pred)[0]["pearson_per_gene_median"]
    return out


def heldout_metrics(model: SCACT, rna, atac, cells, labels) -> dict:
    """Held-out pairs, for reporting only: translations among training cells (both halves), FOSCTTM."""
    held, rna_fit, rna_val, atac_fit, atac_val = cells
    rna_train, atac_train = np.concatenate([rna_fit, rna_val]), np.concatenate([atac_fit, atac_val])
    blocks = lambda: model.translated_blocks(rna[held], "rna_to_atac", batch_size=512,  # noqa: E731
                                             reference=atac[atac_train])
    out = {"per-peak AUROC": metrics.rna_to_atac_metrics(atac[held].X, blocks, labels[held])
           .scalars["auroc_per_peak_median"]}
    predicted = model.translate_atac_to_rna(atac[held], reference=rna[rna_train]).X
    out["per-gene Pearson"] = metrics.atac_to_rna_metrics(rna[held].X, predicted)[0]["pearson_per_gene_median"]
    z_r, z_a = model.get_latent_representation(rna[held], "rna"), model.get_latent_representation(atac[held], "atac")
    out["FOSCTTM rna latent"] = metrics.foscttm(z_r, model.map_latent(z_a, "atac_to_rna"))
    out["FOSCTTM atac latent"] = metrics.foscttm(model.map_latent(z_r, "rna_to_atac"), z_a)
    return out


def own_modality_reference(rna, atac, cells, labels, seed) -> dict:
    """Model-free reference for the own-modality label transfer: LSI of the ATAC (20 components), PCA of the
    RNA (20), fitted on all cells without labels, unseen cells voted among the fitting cells."""
    from heldout import own_modality_embeddings

    _, rna_fit, rna_val, atac_fit, atac_val = cells
    z_rna, z_atac = own_modality_embeddings(rna, atac, 20, seed)
    return {"atac unseen own-modality label transfer": float(np.mean(
                knn_vote(z_atac[atac_val], z_atac[atac_fit], labels[atac_fit]) == labels[atac_val])),
            "rna unseen own-modality label transfer": float(np.mean(
                knn_vote(z_rna[rna_val], z_rna[rna_fit], labels[rna_fit]) == labels[rna_val]))}


def type_mean_baseline(rna, atac, cells, labels) -> dict:
    held, rna_fit, rna_val, atac_fit, atac_val = cells
    rna_train, atac_train = np.concatenate([rna_fit, rna_val]), np.concatenate([atac_fit, atac_val])
    atac_blocks = baselines.type_mean(atac[atac_train].X, labels[atac_train], labels[held])
    rna_pred = baselines.dense_prediction(baselines.type_mean(rna[rna_train].X, labels[rna_train], labels[held]))
    return {"per-peak AUROC": metrics.rna_to_atac_metrics(atac[held].X, atac_blocks, labels[held])
            .scalars["auroc_per_peak_median"],
            "per-gene Pearson": metrics.atac_to_rna_metrics(rna[held].X, rna_pred)[0]["pearson_per_gene_median"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validation", type=float, default=0.15)
    parser.add_argument("--epochs-ae", type=int, default=30)
    parser.add_argument("--epochs-map", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/model/heldout_model_search.tsv"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    (rna, atac), annotation = load_snareseq()
    regions = tss_regions(read_annotation(annotation))
    pairing = Pairing.by_name(rna.obs_names, atac.obs_names)
    rna, atac = rna[pairing.rna_rows].copy(), atac[pairing.atac_rows].copy()  # row i of both: one cell
    labels = rna.obs["cell_type"].to_numpy().astype(str)
    cells = split(rna.n_obs, args.seed, args.validation)
    print(f"{platform.node()} {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} thread(s); {rna.n_vars} genes, {atac.n_vars} peaks; held-out pairs {len(cells[0])}, "
          f"RNA {len(cells[1])}+{len(cells[2])} / ATAC {len(cells[3])}+{len(cells[4])} (fit+unseen)", flush=True)
    rows = []
    for metric, value in type_mean_baseline(rna, atac, cells, labels).items():
        rows.append(("cell-type mean (training cells)", "held-out pairs", metric, value))
        print(f"cell-type mean: {metric} {value:.3f}", flush=True)
    for metric, value in own_modality_reference(rna, atac, cells, labels, args.seed).items():
        rows.append(("LSI / PCA, no model", "pairing-free", metric, value))
        print(f"LSI / PCA: {metric} {value:.3f}", flush=True)
    for name in args.candidates:
        hyper, options = CANDIDATES[name]
        start = time.perf_counter()
        model = SCACT(rna[cells[1]], atac[cells[3]], seed=args.seed, gene_regions=regions, **hyper)
        model.train(**{"max_epochs_autoencoder": args.epochs_ae, "max_epochs_mapping": args.epochs_map, **options},
                    device="cpu", progress=False)
        seconds = time.perf_counter() - start
        found = criteria(model, rna, atac, cells, labels)
        found["training seconds"] = seconds
        for metric, value in found.items():
            rows.append((name, "pairing-free", metric, value))
        for metric, value in heldout_metrics(model, rna, atac, cells, labels).items():
            rows.append((name, "held-out pairs", metric, value))
        table = pd.DataFrame(rows, columns=["candidate", "kind", "metric", "value"])
        print(table[table.candidate == name].to_string(index=False), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, sep="\t", index=False)
    print(pd.DataFrame(rows, columns=["candidate", "kind", "metric", "value"])
          .pivot_table(index=["kind", "metric"], columns="candidate", values="value", sort=False).round(3)
          .to_string())


if __name__ == "__main__":
    main()
