"""Statistics shared by several layers (no scact imports): one implementation of each, so that QC,
evaluation and linkage compute the same thing the same way."""
from __future__ import annotations

import numpy as np
from scipy import stats


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values; a NaN p-value (an untestable hypothesis) counts as 1."""
    p_values = np.asarray(p_values, dtype=np.float64)
    if len(p_values) == 0:
        return np.array([])
    return stats.false_discovery_control(np.nan_to_num(p_values, nan=1.0), method="bh")


def column_pearson(a: np.ndarray, b: np.ndarray, constant_b: float = np.nan) -> np.ndarray:
    """Pearson r between matching columns of ``a`` and ``b`` (rows: observations).

    NaN where ``a``'s column is constant; ``constant_b`` where only ``b``'s is: NaN (undefined, as between
    two observed profiles), or 0 when ``b`` is a prediction of ``a`` (a flat prediction of a varying
    profile explains none of it).
    """
    a = a - a.mean(0)
    b = b - b.mean(0)
    var_a, var_b = (a ** 2).sum(0), (b ** 2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(var_b > 0, (a * b).sum(0) / np.sqrt(var_a * var_b), constant_b)
    return np.where(var_a > 0, r, np.nan)


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
