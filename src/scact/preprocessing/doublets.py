"""DoubletDetection (boosted synthetic-doublet clustering), one implementation for RNA counts and ATAC peaks.

Each iteration adds synthetic doublets (sums of two random cells), normalises (library size, log),
reduces with PCA, clusters with Leiden, and tests every cluster for enrichment in synthetic doublets; a
cell is a doublet when its cluster is enriched (p <= ``p_thresh``) in at least ``voter_thresh`` of the
iterations. Only the data-dependent classifier settings differ between modalities (``RAW_COUNTS``,
``BINARY_PEAKS``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)

#: Fewer cells than this cannot form clusters of synthetic doublets: detection is skipped.
MIN_CELLS = 50


@dataclass(frozen=True)
class ClassifierSettings:
    """DoubletDetection settings that depend on the kind of matrix."""

    n_components: int
    resolution: float
    standard_scaling: bool
    pseudocount: float


#: Raw RNA counts: DoubletDetection's recommended scaled PCA and fine Leiden clusters.
RAW_COUNTS = ClassifierSettings(n_components=30, resolution=4.0, standard_scaling=True, pseudocount=0.1)
#: Binarized peaks: no per-peak scaling (it amplifies the noise of rarely open peaks: on the planted data
#: of tests/test_atac_doublets.py the RNA settings call no doublet, doublet-score AUC 0.36 vs 0.89 without
#: scaling), log1p so the matrix stays sparse, and fewer PCs and coarser clusters (measured best there).
BINARY_PEAKS = ClassifierSettings(n_components=10, resolution=1.0, standard_scaling=False, pseudocount=1.0)

#: DoubletDetection's own feature count (most variable features kept).
TOP_VARIABLE_FEATURES = 10_000
#: Synthetic doublets per cell (DoubletDetection's ``boost_rate``).
BOOST_RATE = 0.25
#: Bytes of one dense float32 copy of the (cells + synthetic doublets) x features matrix that
#: DoubletDetection builds when a setting densifies (a pseudocount other than 1, or standard scaling);
#: it holds up to four such copies at once. With 10,000 features that copy is 5 GB at 100,000 cells
#: (RNA_QC measured 2.8 GiB at 10,000 cells and 6.6 GiB at 30,000; at 100,000 cells 9.8 GiB with a
#: 1.43 GB copy, benchmarks/steps_memory.py), so beyond 15,000 cells the feature count shrinks to
#: keep the copy within this size.
DENSE_COPY_BYTES = 7.5e8
#: ...but never below this many features (then memory grows again, linearly in cells).
MIN_VARIABLE_FEATURES = 1_000


def variable_features(n_cells: int, n_features: int, settings: ClassifierSettings) -> int:
    """Most variable features DoubletDetection uses: its 10,000, fewer when its dense copy would
    exceed :data:`DENSE_COPY_BYTES` (settings that keep the matrix sparse are not limited)."""
    densifies = settings.standard_scaling or settings.pseudocount != 1
    limit = TOP_VARIABLE_FEATURES
    if densifies:
        rows = n_cells * (1 + BOOST_RATE)
        limit = max(MIN_VARIABLE_FEATURES, min(limit, int(DENSE_COPY_BYTES / (4 * rows))))
    return min(limit, n_features)


def detect_doublets(counts: sp.spmatrix, settings: ClassifierSettings, n_iters: int = 10,
                    p_thresh: float = 1e-4, voter_thresh: float = 0.5,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(doublet_score, is_doublet) per cell of a cells x features matrix; deterministic given ``seed``.

    The score is DoubletDetection's ``doublet_score`` (mean -ln p of the synthetic-doublet enrichment of
    the cell's cluster over iterations).
    """
    import doubletdetection

    n_cells, n_features = counts.shape
    if n_cells < MIN_CELLS:
        log.warning("only %d cells: doublet detection skipped", n_cells)
        return np.zeros(n_cells), np.zeros(n_cells, dtype=bool)
    n_features_used = variable_features(n_cells, n_features, settings)
    if n_features_used < min(TOP_VARIABLE_FEATURES, n_features):
        log.info("doublet detection on the %d most variable of %d features (memory bound at %d cells)",
                 n_features_used, n_features, n_cells)
    n_components = min(settings.n_components, n_features_used - 1, n_cells - 1)
    classifier = doubletdetection.BoostClassifier(
        n_iters=n_iters, clustering_algorithm="leiden", random_state=seed, boost_rate=BOOST_RATE,
        clustering_kwargs={"flavor": "igraph", "n_iterations": 2, "directed": False,
                           "resolution": settings.resolution},
        n_components=n_components, n_top_var_genes=n_features_used,
        standard_scaling=settings.standard_scaling, pseudocount=settings.pseudocount, verbose=False, n_jobs=1,
    )
    classifier.fit(sp.csr_matrix(counts, dtype=np.float32))
    calls = classifier.predict(p_thresh=p_thresh, voter_thresh=voter_thresh)
    score = np.nan_to_num(np.asarray(classifier.doublet_score(), dtype=np.float64))
    return score, np.nan_to_num(calls).astype(bool)
