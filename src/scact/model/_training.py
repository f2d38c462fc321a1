"""Training loop of scACT: autoencoders first, then mapping networks and discriminators alternated.

The objectives themselves are assembled by the network (``ScactNetwork.autoencoder_loss``,
``mapping_loss``, ``discriminator_loss``); this module draws the minibatches, steps the optimizers, stops
early, logs the history and checkpoints.

Phase 1 ("autoencoder") trains the RNA and ATAC autoencoders on reconstruction plus the confounder
mutual-information penalty (plus, with labels and ``classifier_weight`` > 0, the cross-entropy of a
cell-type classifier on each latent), with early stopping on a validation split (the best weights of each
autoencoder are kept). Phase 2 ("mapping") freezes the autoencoders, encodes every cell once, and
alternates a discriminator step and a mapping step on minibatches of latent codes:
Eq. 10 with frozen autoencoders is gamma * Adv + lambda * Con (Rec is constant), plus
classifier_weight * (CE(classifier_A(f(z_R)), label_R) + CE(classifier_R(g(z_A)), label_A)).
Phase 3 ("joint", ``max_epochs_joint`` > 0) is Eq. 9-10 in full: the generator side holds the encoders
and f, g; each step encodes its minibatches afresh and adds both autoencoders' reconstruction (with the
mutual-information and own-type classification terms) to the mapping loss, so the encoders can move cells
towards their counterparts while still describing their own modality. With ``link_weight`` > 0 phases 2
and 3 also add the feature-level link (``ScactNetwork.link_loss``: a gene's expression and its peaks'
accessibility co-vary inside each cell type), the one term that places cells inside their type.

Everything a resumed run needs is in the checkpoint (weights, optimizer states, RNG states, phase, epoch,
early-stopping state, history), so a run killed after a checkpoint and resumed ends with the same weights
as an uninterrupted one on CPU.
"""
from __future__ import annotations

import copy
import contextlib
import logging
import math
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from scact.errors import input_error
from scact.io.atomic import atomic_path
from scact.model._modules import ScactNetwork

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT_VERSION = 1
CHECKPOINT_NAME = "last_checkpoint.pt"
MIN_OOM_BATCH_SIZE = 16
#: the autoencoder loss terms summed in the history (``total`` is not logged in phase 1)
AUTOENCODER_TERMS = ("reconstruction", "mutual_information", "classification")
#: the mapping loss terms logged per epoch of phase 2, after the discriminator's
MAPPING_TERMS = ("adversarial", "cycle", "classification", "total")


@dataclass
class TrainingConfig:
    """Options of one training run (the model's hyperparameters live in the SCACT object)."""

    max_epochs_autoencoder: int = 30
    max_epochs_mapping: int = 100
    #: epochs of phase 3 ("joint"): encoders, decoders and f, g trained together (Eq. 9-10); 0 skips it
    max_epochs_joint: int = 10
    batch_size: int = 256
    lr_autoencoder: float = 1e-3
    lr_mapping: float = 1e-3
    lr_discriminator: float = 1e-3
    validation_fraction: float = 0.1
    patience: int = 5
    checkpoint_every: int = 5
    seed: int = 0
    amp: bool = False


@dataclass
class ModalityData:
    """One modality's training matrix (CSR, cells x features), confounders and discriminator heads."""

    x: sp.csr_matrix
    confounders: np.ndarray
    heads: np.ndarray
    #: raw counts (cells x the same features), needed by the RNA negative binomial likelihood only
    counts: sp.csr_matrix | None = None


def resolve_device(device: str) -> torch.device:
    """The torch device of a ``--device`` value: ``auto`` picks CUDA when available, ``cpu``, ``cuda`` or
    ``cuda:<index>``; CUDA without a GPU is an error, not a silent fallback."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device != "cpu" and not re.fullmatch(r"cuda(:\d+)?", device):
        raise input_error("--device", f"unknown device {device!r}", "use auto, cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise input_error("--device", "cuda was requested but no CUDA device is available",
                          "use --device cpu or auto")
    return torch.device(device)


def split_cells(n_cells: int, validation_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded train/validation split (at least one validation cell when the fraction is positive)."""
    order = np.random.default_rng(seed).permutation(n_cells)
    n_val = int(round(n_cells * validation_fraction))
    if validation_fraction > 0:
        n_val = min(max(n_val, 1), n_cells - 2)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


class Trainer:
    """Runs both phases on ``network`` and keeps the per-epoch history."""

    def __init__(self, network: ScactNetwork, data: dict[str, ModalityData], loss_weights: dict,
                 config: TrainingConfig, device: torch.device, checkpoint_dir=None, progress: bool = True,
                 fingerprint: dict | None = None, gene_peak_links: sp.csr_matrix | None = None):
        self.net = network.to(device)
        self.data = data
        self.weights = loss_weights
        self.config = config
        self.device = device
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.progress = progress
        self.fingerprint = {**(fingerprint or {}), "config": _fingerprint_config(config),
                            "loss_weights": dict(loss_weights)}
        self.batch_size = config.batch_size
        self.atac_input_dropout = float(loss_weights.get("atac_input_dropout", 0.0))
        self.link_weight = float(loss_weights.get("link_weight", 0.0))
        if self.link_weight > 0:
            if gene_peak_links is None or gene_peak_links.nnz == 0:
                raise ValueError("link_weight > 0 needs gene-peak links (peaks x genes) with at least one link")
            linked = np.flatnonzero(np.diff(gene_peak_links.tocsc().indptr))
            self.peak_links = sp.csr_matrix(gene_peak_links[:, linked], dtype=np.float32)
            self.linked_genes = torch.from_numpy(linked).to(device)
            self.links = sparse_tensor(sp.csr_matrix(self.peak_links.T)).to(device)
        self.use_amp = bool(config.amp and device.type == "cuda")
        self.generator = torch.Generator().manual_seed(config.seed)
        self.split = {}
        for i, (name, modality) in enumerate(data.items()):
            train, val = split_cells(modality.x.shape[0], config.validation_fraction, config.seed + i)
            self.split[name] = {"train": torch.from_numpy(train), "val": torch.from_numpy(val)}
        self.optimizers = {
            "rna": torch.optim.Adam(self.net.rna.parameters(), lr=config.lr_autoencoder),
            "atac": torch.optim.Adam(self.net.atac.parameters(), lr=config.lr_autoencoder),
            "mapping": torch.optim.Adam(list(self.net.rna_to_atac.parameters())
                                        + list(self.net.atac_to_rna.parameters()),
                                        lr=config.lr_mapping, betas=(0.5, 0.999)),
            "discriminator": torch.optim.Adam(list(self.net.discriminator_atac.parameters())
                                              + list(self.net.discriminator_rna.parameters()),
                                              lr=config.lr_discriminator, betas=(0.5, 0.999)),
        }
        self.phase = "autoencoder"
        self.phase_epoch = 0
        self.early = {name: {"best": math.inf, "bad_epochs": 0, "stopped": False, "state": None}
                      for name in ("rna", "atac")}
        self.history: list[dict] = []
        self.latents: dict[str, torch.Tensor] = {}

    # ----------------------------------------------------------------------------------- batches
    def _dense(self, name: str, index: torch.Tensor, masked: bool = False):
        """Rows ``index`` densified (the only dense copy is one minibatch), their confounders, and for ATAC
        the same rows as a sparse tensor for the encoder (with ``masked``, its open peaks dropped at random:
        see :meth:`_mask_open_peaks`; the dense copy, the reconstruction target, stays whole)."""
        modality = self.data[name]
        rows = index.cpu().numpy()
        block = modality.x[rows]
        x = dense_rows(block, self.device)
        c = torch.from_numpy(modality.confounders[rows]).to(self.device)
        if name != "atac":
            return x, c, x
        if masked and self.atac_input_dropout > 0:
            block = self._mask_open_peaks(block)
        return x, c, sparse_tensor(block).to(self.device)

    def _mask_open_peaks(self, block: sp.csr_matrix) -> sp.csr_matrix:
        """Input dropout of the ATAC encoder (training steps only): each open peak is closed with
        probability ``atac_input_dropout`` and the kept ones are scaled by 1 / (1 - p), so the encoder
        must infer a cell's state from part of its peaks instead of memorising the exact peak set
        (a denoising autoencoder; the decoder still reconstructs every peak). Drawn from the seeded
        shuffling generator, so training stays deterministic and resumable."""
        p = self.atac_input_dropout
        keep = torch.rand(block.nnz, generator=self.generator).numpy() >= p
        masked = sp.csr_matrix((block.data * keep / (1.0 - p), block.indices, block.indptr), shape=block.shape)
        masked.eliminate_zeros()
        return masked

    def _uses_classifier(self) -> bool:
        return self.net.uses_classifier(self.weights)

    def _targets(self, name: str, index: torch.Tensor) -> torch.Tensor:
        """Classifier targets: shared cell-type index, -1 where the cell has no shared type."""
        return torch.from_numpy(self.data[name].heads[index.numpy()] - 1).to(self.device)

    def _autoencoder_losses(self, name: str, index: torch.Tensor, masked: bool = False):
        """The autoencoder's loss terms on the cells ``index`` and their latent codes."""
        x, c, x_in = self._dense(name, index, masked)
        counts = self.data[name].counts
        if counts is not None:
            counts = dense_rows(counts[index.numpy()], self.device)
        targets = self._targets(name, index) if self._uses_classifier() else None
        return self.net.autoencoder_loss(name, x, x_in, c, self.weights, counts=counts, targets=targets,
                                         amp=self.use_amp)

    def _correct_labels(self, name: str, index: torch.Tensor, z: torch.Tensor) -> int:
        """Labelled cells of ``index`` whose type the modality's classifier gets right (0 without one)."""
        if not self._uses_classifier():
            return 0
        targets = self._targets(name, index)
        return int(((getattr(self.net, name).classifier(z).argmax(1) == targets) & (targets >= 0)).sum())

    # ----------------------------------------------------------------------------------- phase 1
    def _autoencoder_epoch(self) -> dict:
        row = {}
        self.net.train()
        for name in ("rna", "atac"):
            train = self.split[name]["train"]
            order = train[torch.randperm(len(train), generator=self.generator)]
            if self.early[name]["stopped"]:
                continue
            totals = np.zeros(3)
            for chunk in order.split(self.batch_size):
                if len(chunk) < 2:
                    continue
                terms, _ = self._autoencoder_losses(name, chunk, masked=True)
                self.optimizers[name].zero_grad(set_to_none=True)
                terms["total"].backward()
                self.optimizers[name].step()
                totals += np.array([terms[t].item() for t in AUTOENCODER_TERMS]) * len(chunk)
            row[f"train_{name}_reconstruction"], row[f"train_{name}_mutual_information"] = totals[:2] / len(order)
            if self._uses_classifier():
                row[f"train_{name}_classification"] = totals[2] / len(order)
        self.net.eval()
        with torch.no_grad():
            for name in ("rna", "atac"):
                val = self.split[name]["val"]
                if len(val) == 0:
                    continue
                totals = np.zeros(4)
                for chunk in val.split(max(self.batch_size, 512)):
                    terms, z = self._autoencoder_losses(name, chunk)
                    totals[:3] += np.array([terms[t].item() for t in AUTOENCODER_TERMS]) * len(chunk)
                    totals[3] += self._correct_labels(name, chunk, z)
                row[f"val_{name}_reconstruction"], row[f"val_{name}_mutual_information"] = totals[:2] / len(val)
                labelled = int((self.data[name].heads[val.numpy()] > 0).sum())
                if self._uses_classifier() and labelled:
                    row[f"val_{name}_classification"] = totals[2] / len(val)
                    row[f"val_{name}_label_accuracy"] = totals[3] / labelled
        return row

    def early_stopping_warmup(self) -> int:
        """Phase-1 epochs in which no epoch counts against the patience: half the budget. Why: the ATAC
        validation BCE first drops to the peak-frequency solution within ~4 epochs, then stalls or rises for
        5-8 epochs before the decoder learns cell-specific structure (SNARE-seq); patience 5 stopped it there
        (restoring epoch 4: unseen-cell reconstruction AUROC 0.37) on one of four splits (docs/model.md)."""
        return self.config.max_epochs_autoencoder // 2

    def _update_early_stopping(self, row: dict) -> None:
        for name in ("rna", "atac"):
            state = self.early[name]
            if state["stopped"]:
                continue
            score = row.get(f"val_{name}_reconstruction", row.get(f"train_{name}_reconstruction"))
            if score < state["best"] - 1e-6 * abs(state["best"] if math.isfinite(state["best"]) else 1.0):
                state.update(best=float(score), bad_epochs=0,
                             state=copy.deepcopy(getattr(self.net, name).state_dict()))
            elif self.phase_epoch > self.early_stopping_warmup():
                state["bad_epochs"] += 1
                if state["bad_epochs"] >= self.config.patience:
                    state["stopped"] = True
                    log.info("early stopping of the %s autoencoder after %d epochs", name, self.phase_epoch)

    def _finish_autoencoders(self) -> None:
        for name in ("rna", "atac"):
            if self.early[name]["state"] is not None:
                getattr(self.net, name).load_state_dict(self.early[name]["state"])

    # ----------------------------------------------------------------------------------- phase 2
    @torch.no_grad()
    def _encode_all(self) -> None:
        self.net.eval()
        for name in ("rna", "atac"):
            ae = getattr(self.net, name)
            n = self.data[name].x.shape[0]
            chunks = [ae.encode(self._dense(name, idx)[2]) for idx in torch.arange(n).split(1024)]
            self.latents[name] = torch.cat(chunks).float()
        self.heads = {name: torch.from_numpy(self.data[name].heads).to(self.device) for name in self.data}

    def _start_mapping(self) -> None:
        zr = self.latents["rna"][self.split["rna"]["train"].to(self.device)]
        za = self.latents["atac"][self.split["atac"]["train"].to(self.device)]
        self.net.rna_to_atac.set_latent_statistics(zr, za)
        self.net.atac_to_rna.set_latent_statistics(za, zr)
        self.net.discriminator_atac.set_latent_statistics(za)
        self.net.discriminator_rna.set_latent_statistics(zr)

    def _mapping_losses(self, ir: torch.Tensor, ia: torch.Tensor, zr=None, za=None):
        """Mapping loss terms of the cells ``ir``, ``ia`` (latent codes ``zr``, ``za`` when given: phase 3,
        differentiable; else the frozen codes of phase 2) and the discriminator step's inputs."""
        zr = self.latents["rna"][ir] if zr is None else zr
        za = self.latents["atac"][ia] if za is None else za
        hr, ha = self.heads["rna"][ir], self.heads["atac"][ia]
        terms, (fake_atac, fake_rna) = self.net.mapping_loss(zr, za, hr, ha, self.weights)
        return terms, (zr, za, hr, ha, fake_atac, fake_rna)

    def _mapping_epoch(self) -> dict:
        bs = self.batch_size
        train_r, train_a = self.split["rna"]["train"], self.split["atac"]["train"]
        perm_r = train_r[torch.randperm(len(train_r), generator=self.generator)].to(self.device)
        perm_a = train_a[torch.randperm(len(train_a), generator=self.generator)].to(self.device)
        steps = math.ceil(max(len(perm_r), len(perm_a)) / bs)
        totals, link_total = np.zeros(5), 0.0
        self.net.train()
        for step in range(steps):
            positions = torch.arange(step * bs, (step + 1) * bs, device=self.device)
            ir, ia = perm_r[positions % len(perm_r)], perm_a[positions % len(perm_a)]
            with torch.no_grad():
                zr, za = self.latents["rna"][ir], self.latents["atac"][ia]
                fake_atac, fake_rna = self.net.rna_to_atac(zr), self.net.atac_to_rna(za)
            d_loss = self.net.discriminator_loss(zr, za, self.heads["rna"][ir], self.heads["atac"][ia],
                                                 fake_atac, fake_rna)
            self.optimizers["discriminator"].zero_grad(set_to_none=True)
            d_loss.backward()
            self.optimizers["discriminator"].step()
            with self._frozen_autoencoders() if self.link_weight > 0 else contextlib.nullcontext():
                terms, (_, _, hr, ha, fake_atac, fake_rna) = self._mapping_losses(ir, ia)
                total = terms["total"]
                if self.link_weight > 0:
                    link = self._link_loss(ir, ia, hr, ha, fake_atac, fake_rna)
                    total = total + self.link_weight * link
                    link_total += link.item()
                self.optimizers["mapping"].zero_grad(set_to_none=True)
                total.backward()
            self.optimizers["mapping"].step()
            totals += np.array([d_loss.item(), *(terms[t].item() for t in MAPPING_TERMS[:-1]), total.item()])
        totals /= steps
        row = dict(zip(["train_discriminator", "train_adversarial", "train_cycle", "train_classification",
                        "train_total"], totals))
        if not self._uses_classifier():
            del row["train_classification"]
        if self.link_weight > 0:
            row["train_link"] = link_total / steps
        val_r, val_a = self.split["rna"]["val"].to(self.device), self.split["atac"]["val"].to(self.device)
        if len(val_r) and len(val_a):
            self.net.eval()
            with torch.no_grad():
                n = max(len(val_r), len(val_a))
                positions = torch.arange(n, device=self.device)
                terms, parts = self._mapping_losses(val_r[positions % len(val_r)], val_a[positions % len(val_a)])
                row.update(val_discriminator=self.net.discriminator_loss(*parts).item(),
                           val_adversarial=terms["adversarial"].item(), val_cycle=terms["cycle"].item(),
                           val_total=terms["total"].item())
                if self._uses_classifier():
                    row["val_classification"] = terms["classification"].item()
        return row

    @contextlib.contextmanager
    def _frozen_autoencoders(self):
        """Phase 2: the link loss decodes through the autoencoders, which must stay as phase 1 left them
        (no gradients are even computed for their weights)."""
        weights = [p for name in ("rna", "atac") for p in getattr(self.net, name).parameters() if p.requires_grad]
        for weight in weights:
            weight.requires_grad_(False)
        try:
            yield
        finally:
            for weight in weights:
                weight.requires_grad_(True)

    def _link_loss(self, ir: torch.Tensor, ia: torch.Tensor, hr: torch.Tensor, ha: torch.Tensor,
                   fake_atac: torch.Tensor, fake_rna: torch.Tensor) -> torch.Tensor:
        """The feature-level link term (``ScactNetwork.link_loss``) of the minibatch pair ``ir``, ``ia``."""
        rna, atac = self.data["rna"], self.data["atac"]
        rna_rows, atac_rows = ir.cpu().numpy(), ia.cpu().numpy()
        expression = dense_rows(rna.x[rna_rows], self.device)
        activity = dense_rows(sp.csr_matrix(atac.x[atac_rows] @ self.peak_links), self.device)
        return self.net.link_loss(
            fake_atac, expression, torch.from_numpy(rna.confounders[rna_rows]).to(self.device), hr,
            fake_rna, activity, torch.from_numpy(atac.confounders[atac_rows]).to(self.device), ha,
            self.links, self.linked_genes)

    # ----------------------------------------------------------------------------------- phase 3
    def _own_losses(self, name: str, index: torch.Tensor, masked: bool):
        """One autoencoder's own loss (as in phase 1), its reconstruction term, and its latent codes."""
        terms, z = self._autoencoder_losses(name, index, masked=masked)
        return terms["total"], terms["reconstruction"], z

    def _joint_epoch(self) -> dict:
        """Eq. 9-10 in full: per minibatch pair a discriminator step, then one step of the encoders,
        decoders, classifier heads and f, g on Rec (+ MI + own-type CE) + gamma Adv + lambda Con (+ CE of
        the mapped embeddings), the latent codes computed afresh so the adversarial and cycle terms reach
        the encoders."""
        bs = self.batch_size
        train_r, train_a = self.split["rna"]["train"], self.split["atac"]["train"]
        perm_r = train_r[torch.randperm(len(train_r), generator=self.generator)]
        perm_a = train_a[torch.randperm(len(train_a), generator=self.generator)]
        steps = math.ceil(max(len(perm_r), len(perm_a)) / bs)
        generator_side = [self.optimizers[name] for name in ("mapping", "rna", "atac")]
        names = ["discriminator", "adversarial", "cycle", "classification", "rna_reconstruction",
                 "atac_reconstruction", "total"]
        totals, link_total = np.zeros(len(names)), 0.0
        self.net.train()
        for step in range(steps):
            positions = torch.arange(step * bs, (step + 1) * bs)
            ir, ia = perm_r[positions % len(perm_r)], perm_a[positions % len(perm_a)]
            own_r, rec_r, zr = self._own_losses("rna", ir, masked=False)
            own_a, rec_a, za = self._own_losses("atac", ia, masked=True)
            ir, ia = ir.to(self.device), ia.to(self.device)
            with torch.no_grad():
                fake_atac, fake_rna = self.net.rna_to_atac(zr), self.net.atac_to_rna(za)
            d_loss = self.net.discriminator_loss(zr.detach(), za.detach(), self.heads["rna"][ir],
                                                 self.heads["atac"][ia], fake_atac, fake_rna)
            self.optimizers["discriminator"].zero_grad(set_to_none=True)
            d_loss.backward()
            self.optimizers["discriminator"].step()
            terms, (_, _, hr, ha, fake_atac, fake_rna) = self._mapping_losses(ir, ia, zr, za)
            total = terms["total"] + own_r + own_a
            if self.link_weight > 0:
                link = self._link_loss(ir, ia, hr, ha, fake_atac, fake_rna)
                total = total + self.link_weight * link
                link_total += link.item()
            for optimizer in generator_side:
                optimizer.zero_grad(set_to_none=True)
            total.backward()
            for optimizer in generator_side:
                optimizer.step()
            totals += np.array([d_loss.item(), terms["adversarial"].item(), terms["cycle"].item(),
                                terms["classification"].item(), rec_r.item(), rec_a.item(), total.item()])
        row = {f"train_{name}": value for name, value in zip(names, totals / steps)}
        if not self._uses_classifier():
            del row["train_classification"]
        if self.link_weight > 0:
            row["train_link"] = link_total / steps
        val_r, val_a = self.split["rna"]["val"], self.split["atac"]["val"]
        if len(val_r) and len(val_a):
            self.net.eval()
            with torch.no_grad():
                n = max(len(val_r), len(val_a))
                positions = torch.arange(n)
                ir, ia = val_r[positions % len(val_r)], val_a[positions % len(val_a)]
                chunk = max(self.batch_size, 512)
                parts = {"rna": [self._own_losses("rna", i, False) for i in ir.split(chunk)],
                         "atac": [self._own_losses("atac", i, False) for i in ia.split(chunk)]}
                zr = torch.cat([z for _, _, z in parts["rna"]])
                za = torch.cat([z for _, _, z in parts["atac"]])
                ir, ia = ir.to(self.device), ia.to(self.device)
                terms, latent_parts = self._mapping_losses(ir, ia, zr, za)
                for name in ("rna", "atac"):
                    sizes = [len(i) for i in (ir if name == "rna" else ia).split(chunk)]
                    row[f"val_{name}_reconstruction"] = float(
                        sum(rec.item() * size for (_, rec, _), size in zip(parts[name], sizes)) / n)
                row.update(val_discriminator=self.net.discriminator_loss(*latent_parts).item(),
                           val_adversarial=terms["adversarial"].item(), val_cycle=terms["cycle"].item(),
                           val_total=terms["total"].item())
                if self._uses_classifier():
                    row["val_classification"] = terms["classification"].item()
        return row

    # ----------------------------------------------------------------------------------- loop
    def _run_epoch(self) -> dict:
        while True:
            try:
                epoch = {"autoencoder": self._autoencoder_epoch, "mapping": self._mapping_epoch,
                         "joint": self._joint_epoch}[self.phase]
                return epoch()
            except torch.cuda.OutOfMemoryError:
                if self.device.type != "cuda" or self.batch_size // 2 < MIN_OOM_BATCH_SIZE:
                    raise
                torch.cuda.empty_cache()
                self.batch_size //= 2
                log.warning("CUDA out of memory: retrying the epoch with batch size %d", self.batch_size)

    def _phase_done(self) -> bool:
        if self.phase == "autoencoder":
            stopped = all(state["stopped"] for state in self.early.values())
            return stopped or self.phase_epoch >= self.config.max_epochs_autoencoder
        if self.phase == "mapping":
            return self.phase_epoch >= self.config.max_epochs_mapping
        return self.phase_epoch >= self.config.max_epochs_joint

    def _advance_phase(self) -> None:
        if self.phase == "autoencoder":
            self._finish_autoencoders()
            for state in self.early.values():
                state["state"] = None  # no longer needed; keeps later checkpoints small
            self.phase, self.phase_epoch = "mapping", 0
            self._encode_all()
            self._start_mapping()
        elif self.phase == "mapping" and self.config.max_epochs_joint > 0:
            self.phase, self.phase_epoch = "joint", 0
        else:
            self.phase = "done"

    def run(self, resume: bool = False, on_epoch_end=None) -> list[dict]:
        """Train to the end (or from the last checkpoint when ``resume``); returns the history rows."""
        if resume:
            self._load_checkpoint()
        total_epochs = (self.config.max_epochs_autoencoder + self.config.max_epochs_mapping
                        + self.config.max_epochs_joint)
        from tqdm.auto import tqdm

        bar = tqdm(total=total_epochs, initial=len(self.history), disable=not self.progress,
                   desc="scACT", unit="epoch", leave=False)
        try:
            while self.phase != "done":
                if self._phase_done():
                    self._advance_phase()
                    self._save_checkpoint()
                    continue
                start = time.perf_counter()
                row = self._run_epoch()
                self.phase_epoch += 1
                if self.phase == "autoencoder":
                    self._update_early_stopping(row)
                row = {"phase": self.phase, "epoch": len(self.history) + 1, "phase_epoch": self.phase_epoch,
                       **{k: float(v) for k, v in row.items()}, "seconds": time.perf_counter() - start}
                self.history.append(row)
                bar.update(1)
                bar.set_postfix({k.replace("train_", ""): f"{v:.3g}" for k, v in row.items()
                                 if k.startswith("train_")}, refresh=False)
                if self.config.checkpoint_every and row["epoch"] % self.config.checkpoint_every == 0:
                    self._save_checkpoint()
                if on_epoch_end is not None:
                    on_epoch_end(row)
        finally:
            bar.close()
        self.net.eval()
        return self.history

    # ----------------------------------------------------------------------------------- checkpoints
    def _checkpoint_state(self) -> dict:
        return {
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "fingerprint": self.fingerprint,
            "phase": self.phase,
            "phase_epoch": self.phase_epoch,
            "batch_size": self.batch_size,
            "network": self.net.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "torch_rng": torch.get_rng_state(),
            "shuffle_rng": self.generator.get_state(),
            "early_stopping": self.early,
            "history": self.history,
        }

    def _save_checkpoint(self) -> None:
        if self.checkpoint_dir is None:
            return
        with atomic_path(self.checkpoint_dir / CHECKPOINT_NAME) as tmp:
            torch.save(self._checkpoint_state(), tmp)

    def _load_checkpoint(self) -> None:
        path = None if self.checkpoint_dir is None else self.checkpoint_dir / CHECKPOINT_NAME
        if path is None or not path.is_file():
            log.info("no checkpoint to resume from in %s: training from the start", self.checkpoint_dir)
            return
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise input_error(path, f"not a readable scACT checkpoint ({type(err).__name__}: {err})",
                              "delete it to train from the start") from err
        missing = {"format_version", "fingerprint", "phase", "phase_epoch", "network", "optimizers",
                   "torch_rng", "shuffle_rng", "early_stopping", "history", "batch_size"} - set(state)
        if missing:
            raise input_error(path, f"checkpoint lacks {', '.join(sorted(missing))}", "delete it to start over")
        if state["format_version"] != CHECKPOINT_FORMAT_VERSION:
            raise input_error(path, f"checkpoint format {state['format_version']} is not the supported "
                              f"{CHECKPOINT_FORMAT_VERSION}", "delete it to train from the start")
        if state["fingerprint"] != self.fingerprint:
            raise input_error(path, "checkpoint was written for other data or other settings",
                              "resume with the same inputs and options, or delete it")
        try:
            self.net.load_state_dict(state["network"])
        except RuntimeError as err:
            raise input_error(path, f"checkpoint weights do not fit the model ({err})") from err
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        torch.set_rng_state(state["torch_rng"])
        self.generator.set_state(state["shuffle_rng"])
        self.phase, self.phase_epoch = state["phase"], state["phase_epoch"]
        self.batch_size = state["batch_size"]
        self.early, self.history = state["early_stopping"], state["history"]
        if self.phase != "autoencoder":
            self._encode_all()
        log.info("resumed from %s at %s epoch %d", path, self.phase, self.phase_epoch)


def dense_rows(block: sp.csr_matrix, device: torch.device) -> torch.Tensor:
    """A minibatch as a dense float tensor on ``device``. On a GPU the block travels sparse and is
    densified there: 256 cells x 100,000 peaks are 102 MB dense but ~9 MB as CSR, and copying the dense
    block from the host would bound an atlas-size epoch (docs/benchmarks_scale.md). On the CPU scipy's
    ``toarray`` is used, about 5x faster than torch's CSR ``to_dense``."""
    if device.type == "cpu":
        return torch.from_numpy(block.toarray())
    return csr_tensor(block).to(device).to_dense()


def csr_tensor(block: sp.csr_matrix) -> torch.Tensor:
    """A torch CSR tensor sharing nothing with ``block`` but its values (int64 index arrays)."""
    return torch.sparse_csr_tensor(torch.from_numpy(block.indptr.astype(np.int64)),
                                   torch.from_numpy(block.indices.astype(np.int64)),
                                   torch.from_numpy(np.asarray(block.data)), size=block.shape,
                                   check_invariants=False)


def sparse_tensor(block: sp.csr_matrix) -> torch.Tensor:
    """A coalesced torch COO tensor of a scipy sparse block (the ATAC encoder's minibatch input)."""
    coo = block.tocoo()
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(np.float32))
    return torch.sparse_coo_tensor(indices, values, coo.shape, check_invariants=False).coalesce()


def _fingerprint_config(config: TrainingConfig) -> dict:
    """The options that change the result (checkpointing frequency does not)."""
    return {k: v for k, v in asdict(config).items() if k != "checkpoint_every"}
