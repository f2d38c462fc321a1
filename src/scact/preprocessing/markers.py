"""Marker genes of cell types from expression, below every layer that needs them: translate picks the
genes its joint embedding is coloured by, evaluation scores marker enrichment of translated expression."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def one_vs_rest_t(x: np.ndarray, labels: np.ndarray) -> dict:
    """Welch t statistic of every gene, each type against all other cells."""
    out = {}
    for label in np.unique(labels):
        inside = labels == label
        a, b = x[inside], x[~inside]
        se = np.sqrt(a.var(0, ddof=1) / max(len(a), 1) + b.var(0, ddof=1) / max(len(b), 1)) if len(a) > 1 \
            else np.ones(x.shape[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            out[label] = np.nan_to_num((a.mean(0) - b.mean(0)) / se, nan=0.0, posinf=0.0, neginf=0.0)
    return out


def marker_genes(expression, gene_names, labels, per_type: int = 2) -> list[str]:
    """Top genes per type by a one-vs-rest Welch t statistic (for colouring plots)."""
    dense = expression.toarray() if sp.issparse(expression) else np.asarray(expression)
    chosen = []
    for t in one_vs_rest_t(dense, np.asarray(labels)).values():
        for i in np.argsort(-t)[:per_type]:
            if gene_names[i] not in chosen:
                chosen.append(gene_names[i])
    return chosen
