"""The held-out protocol: which cells train and which are scored, for the pipeline and the benchmarks alike.

A prediction must never contain the scored cell's own profile. Cells named alike in both modalities (the
same cell measured twice) are split, seeded, into held-out cells (scored, never trained on, never in a
reference) and training cells; the training cells are cut into two halves, one giving its RNA to training
and the other its ATAC, so that no cell gives both modalities to training (the model meets unpaired data,
as it will in use). Cells present in one modality only always train. The roles are stored per cell in
``obs['split']`` (``train``, ``heldout``, or ``partner_trained`` for the unused modality of a training
cell), so that every later step (train, translate's neighbour reference, evaluate's baselines and scoring)
reads the same split.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

SPLIT_KEY = "split"
TRAIN, HELDOUT, PARTNER_TRAINED = "train", "heldout", "partner_trained"
#: default share of the paired cells held out from training and scored
HELDOUT_FRACTION = 0.2


@dataclass
class CellSplit:
    """The role of every RNA cell and every ATAC cell (``TRAIN``, ``HELDOUT`` or ``PARTNER_TRAINED``)."""

    rna: np.ndarray
    atac: np.ndarray

    @property
    def rna_train(self) -> np.ndarray:
        return self.rna == TRAIN

    @property
    def atac_train(self) -> np.ndarray:
        return self.atac == TRAIN

    def heldout_pairs(self, rna_names, atac_names) -> tuple[np.ndarray, np.ndarray]:
        """Row indices (RNA rows, ATAC rows) of the held-out pairs, in RNA order."""
        return heldout_pairs(rna_names, atac_names, self.rna, self.atac)


def split_cells(rna_names, atac_names, fraction: float = HELDOUT_FRACTION, seed: int = 0) -> CellSplit:
    """Seeded roles of the cells (see the module docstring); ``fraction`` 0 makes every cell a training cell.

    The split depends only on the set of paired names and the seed, not on the order of the cells.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"the held-out fraction must be in [0, 1), got {fraction}")
    rna_names, atac_names = pd.Index(rna_names).astype(str), pd.Index(atac_names).astype(str)
    paired = np.sort(rna_names.intersection(atac_names).to_numpy().astype(str))
    rna_role = np.full(len(rna_names), TRAIN, dtype=object)
    atac_role = np.full(len(atac_names), TRAIN, dtype=object)
    n_heldout = int(round(fraction * len(paired)))
    if n_heldout < 2:
        if fraction > 0 and len(paired):
            log.warning("%d paired cells: too few to hold out %.0f%% (>= 2 pairs); every cell trains",
                        len(paired), 100 * fraction)
        return CellSplit(rna_role, atac_role)
    order = paired[np.random.default_rng(seed).permutation(len(paired))]
    heldout, rest = order[:n_heldout], order[n_heldout:]
    rna_only, atac_only = rest[: len(rest) // 2], rest[len(rest) // 2:]
    rna_role[rna_names.isin(heldout)] = HELDOUT
    atac_role[atac_names.isin(heldout)] = HELDOUT
    rna_role[rna_names.isin(atac_only)] = PARTNER_TRAINED  # its ATAC trains
    atac_role[atac_names.isin(rna_only)] = PARTNER_TRAINED  # its RNA trains
    return CellSplit(rna_role, atac_role)


def heldout_pairs(rna_names, atac_names, rna_role, atac_role) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the cells held out in both modalities and named alike, in RNA order."""
    rna_names, atac_names = pd.Index(rna_names).astype(str), pd.Index(atac_names).astype(str)
    atac_pos = atac_names.get_indexer(rna_names)
    keep = (atac_pos >= 0) & (np.asarray(rna_role) == HELDOUT)
    keep[keep] &= np.asarray(atac_role)[atac_pos[keep]] == HELDOUT
    rna_rows = np.flatnonzero(keep)
    return rna_rows, atac_pos[rna_rows]


def annotate_split(rna, atac, fraction: float = HELDOUT_FRACTION, seed: int = 0) -> CellSplit:
    """Write the roles into ``obs['split']`` of both AnnData objects (in place) and return them."""
    split = split_cells(rna.obs_names, atac.obs_names, fraction, seed)
    rna.obs[SPLIT_KEY] = pd.Categorical(split.rna, categories=[TRAIN, HELDOUT, PARTNER_TRAINED])
    atac.obs[SPLIT_KEY] = pd.Categorical(split.atac, categories=[TRAIN, HELDOUT, PARTNER_TRAINED])
    counts = {role: (int((split.rna == role).sum()), int((split.atac == role).sum()))
              for role in (TRAIN, HELDOUT, PARTNER_TRAINED)}
    log.info("held-out split (fraction %.2f, seed %d), RNA / ATAC cells: %s", fraction, seed,
             ", ".join(f"{role} {r} / {a}" for role, (r, a) in counts.items()))
    return split


def stored_roles(adata) -> np.ndarray | None:
    """The roles stored in ``obs['split']``, or None when the file has no split (every cell trains)."""
    if SPLIT_KEY not in adata.obs:
        return None
    return adata.obs[SPLIT_KEY].astype(str).to_numpy()


def training_mask(adata) -> np.ndarray:
    """Which cells train (and may serve as references): all, unless ``obs['split']`` says otherwise."""
    roles = stored_roles(adata)
    return np.ones(adata.n_obs, bool) if roles is None else roles == TRAIN
