"""Motif activation score per cell type (paper Eq. 14), in observed and translated ATAC.

Peaks are scanned with JASPAR position frequency matrices (the ``pyjaspar`` package ships the database):
a log-odds PWM per motif, both strands, a hit where the best window reaches ``threshold`` of the way from
the motif's minimum to its maximum score. The activation of motif k in cell i compares the accessibility
of the peaks carrying k with what the cell's total accessibility predicts (chromVAR-style deviation):

    A_ik = (sum_j x_ij m_jk - E_ik) / E_ik,   E_ik = (sum_j x_ij) * (sum_j m_jk p_j),

with p_j the share of all accessibility that falls in peak j; the score of a cell type is the mean of A_ik
over its cells. The same score on translated ATAC (RNA cells decoded to peak probabilities) says whether
the translation keeps the cell types' regulatory programmes.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from scact.errors import input_error

log = logging.getLogger(__name__)

BASES = "ACGT"


@dataclasses.dataclass
class Motif:
    motif_id: str
    name: str
    log_odds: np.ndarray  # length x 4 (A, C, G, T), log2 odds against a uniform background

    @property
    def score_range(self) -> tuple[float, float]:
        return float(self.log_odds.min(1).sum()), float(self.log_odds.max(1).sum())


def jaspar_motifs(collection: str = "CORE", tax_group: str = "vertebrates", names: list[str] | None = None,
                  release: str | None = None, pseudocount: float = 0.8) -> list[Motif]:
    """JASPAR motifs as log-odds matrices; ``names`` keeps those whose name or matrix id is listed."""
    from pyjaspar import jaspardb

    database = jaspardb(release=release) if release else jaspardb()
    found = database.fetch_motifs(collection=collection, tax_group=[tax_group])
    if names:
        wanted = {n.upper() for n in names}
        found = [m for m in found if m.name.upper() in wanted or m.matrix_id.upper() in wanted
                 or m.matrix_id.split(".")[0].upper() in wanted]
    motifs = []
    for motif in found:
        counts = np.array([motif.counts[base] for base in BASES], dtype=np.float64).T
        frequency = (counts + pseudocount / 4) / (counts.sum(1, keepdims=True) + pseudocount)
        motifs.append(Motif(motif.matrix_id, motif.name, np.log2(frequency / 0.25)))
    return motifs


def peak_sequences(fasta, peaks: pd.DataFrame) -> list[str]:
    """Sequences of the peaks (0-based half-open coordinates), upper case.

    Chromosome names absent from the FASTA are refused with both naming styles shown (a chr1 vs 1 mismatch
    is the usual cause); a few peaks on contigs the FASTA lacks only get a warning and no motif.
    """
    import pysam

    try:
        genome = pysam.FastaFile(str(fasta))
    except (OSError, ValueError) as err:
        raise input_error(fasta, f"not a readable (indexable) FASTA ({err})",
                          "give an uncompressed or bgzip-compressed FASTA with a writable folder for its .fai") from err
    with genome:
        references = set(genome.references)
        chroms = peaks["chrom"].astype(str)
        missing = sorted(set(chroms) - references)
        missing_share = chroms.isin(missing).mean()
        if missing and missing_share > 0.1:
            raise input_error(fasta, f"chromosome names do not match the peaks: {missing_share:.0%} of peaks are on "
                                     f"chromosomes absent from the FASTA (peaks: {', '.join(missing[:3])}; FASTA: "
                                     f"{', '.join(sorted(references)[:3])})",
                              "use a FASTA of the peaks' genome with the same naming (e.g. chr1 vs 1)")
        if missing:
            log.warning("%d peaks on chromosomes absent from the FASTA (%s) get no motif", chroms.isin(missing).sum(),
                        ", ".join(missing[:5]))
        return [genome.fetch(c, int(s), int(e)).upper() if c in references else ""
                for c, s, e in zip(chroms, peaks["start"], peaks["end"])]


def one_hot(sequences: list[str], length: int) -> np.ndarray:
    """Sequences x 4 x length (A, C, G, T); N and padding are all-zero columns."""
    lookup = np.full(256, 4, dtype=np.int64)
    for i, base in enumerate(BASES):
        lookup[ord(base)] = i
    encoded = np.zeros((len(sequences), 5, length), dtype=np.float32)
    for row, sequence in enumerate(sequences):
        codes = lookup[np.frombuffer(sequence[:length].encode(), dtype=np.uint8)]
        encoded[row, codes, np.arange(len(codes))] = 1.0
    return encoded[:, :4]


def scan_peaks(sequences: list[str], motifs: list[Motif], threshold: float = 0.85, batch_size: int = 512,
               device: str = "cpu") -> sp.csr_matrix:
    """Peaks x motifs hit matrix (bool CSR): best relative score over both strands >= ``threshold``."""
    width = max(len(m.log_odds) for m in motifs)
    weights = np.zeros((2 * len(motifs), 4, width), dtype=np.float32)
    for k, motif in enumerate(motifs):
        matrix = motif.log_odds.T  # 4 x length
        weights[k, :, :matrix.shape[1]] = matrix
        weights[len(motifs) + k, :, :matrix.shape[1]] = matrix[::-1, ::-1]  # reverse complement
    low = np.array([m.score_range[0] for m in motifs])
    high = np.array([m.score_range[1] for m in motifs])
    cutoff = torch.as_tensor(low + threshold * (high - low), dtype=torch.float32, device=device)
    kernel = torch.as_tensor(weights, device=device)
    hits = []
    for first in range(0, len(sequences), batch_size):
        batch = sequences[first:first + batch_size]
        length = max(width, max((len(s) for s in batch), default=0))
        x = torch.as_tensor(one_hot(batch, length), device=device)
        with torch.no_grad():
            scores = torch.nn.functional.conv1d(x, kernel).amax(dim=2)
        best = torch.maximum(scores[:, :len(motifs)], scores[:, len(motifs):])
        hits.append(sp.csr_matrix((best >= cutoff).cpu().numpy()))
    return sp.vstack(hits).tocsr() if hits else sp.csr_matrix((0, len(motifs)), dtype=bool)


def motif_activation(blocks: Callable[[], Iterable[tuple[int, int, object]]], hits: sp.csr_matrix,
                     labels: np.ndarray) -> pd.DataFrame:
    """Cell types x motifs mean activation (Eq. 14) from cells x peaks blocks (sparse or dense).

    ``blocks`` is called twice (peak shares first, then per-cell deviations) so a dense translated matrix
    is only ever held one block at a time.
    """
    hits = sp.csr_matrix(hits, dtype=np.float64)
    peak_totals = np.zeros(hits.shape[0])
    for _, _, block in blocks():
        peak_totals += np.asarray(block.sum(axis=0)).ravel()
    share = peak_totals / max(peak_totals.sum(), 1e-12)
    motif_share = hits.T @ share  # expected fraction of a cell's accessibility in each motif's peaks
    labels = np.asarray(labels).astype(str)
    types = sorted(set(labels))
    codes = pd.Categorical(labels, categories=types).codes
    sums = np.zeros((len(types), hits.shape[1]))
    for start, stop, block in blocks():
        observed = np.asarray(block @ hits) if not sp.issparse(block) else (block @ hits).toarray()
        expected = np.asarray(block.sum(axis=1)).reshape(-1, 1) * motif_share[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            deviation = np.where(expected > 0, (observed - expected) / expected, 0.0)
        np.add.at(sums, codes[start:stop], deviation)
    counts = np.bincount(codes, minlength=len(types))[:, None]
    return pd.DataFrame(sums / np.maximum(counts, 1), index=pd.Index(types, name="cell_type"))


def sparse_blocks(matrix, batch_size: int = 2048):
    """A ``blocks`` factory over an in-memory matrix."""
    def generate():
        for start in range(0, matrix.shape[0], batch_size):
            stop = min(start + batch_size, matrix.shape[0])
            yield start, stop, matrix[start:stop]
    return generate


def plot_activation_heatmap(scores: dict[str, pd.DataFrame], motif_names: list[str], path, top_n: int = 30) -> None:
    """Heatmap of the most variable motifs (across cell types of the first source), one panel per source."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scact.io.atomic import atomic_path

    first = next(iter(scores.values()))
    columns = np.argsort(-first.to_numpy().std(axis=0), kind="stable")[:top_n]
    fig, axes = plt.subplots(1, len(scores), figsize=(4 + 0.25 * len(columns) * len(scores), 1.5 + 0.3 * len(first)),
                             squeeze=False)
    for ax, (source, table) in zip(axes[0], scores.items()):
        values = table.to_numpy()[:, columns]
        limit = max(np.abs(values).max(), 1e-9)
        image = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        ax.set_xticks(range(len(columns)), [motif_names[c] for c in columns], rotation=90, fontsize=7)
        ax.set_yticks(range(len(table)), table.index, fontsize=8)
        ax.set_title(f"motif activation: {source}", fontsize=9)
        fig.colorbar(image, ax=ax, shrink=0.7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
