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


def type_moments(x, labels: np.ndarray, rows=None, block_values: int = 1 << 22) -> tuple[np.ndarray, np.ndarray,
                                                                                         np.ndarray, np.ndarray]:
    """(type names, cells per type, per-type column sums, per-type column sums of squares), float64, read a
    block of rows at a time from a dense or sparse ``x``: no copy of ``x`` (an atlas's cells x genes is GBs)
    and no dense copy of a sparse block. With ``rows`` (a boolean mask), of those rows only."""
    import scipy.sparse as sp

    labels = np.asarray(labels)
    used = np.ones(len(labels), bool) if rows is None else np.asarray(rows, bool)
    names, used_codes = np.unique(labels[used], return_inverse=True)
    codes = np.full(len(labels), -1)
    codes[used] = used_codes
    sums = np.zeros((len(names), x.shape[1]))
    squares = np.zeros((len(names), x.shape[1]))
    step = max(1, block_values // max(x.shape[1], 1))
    for start in range(0, x.shape[0], step):
        block_codes = codes[start:start + step]
        kept = np.flatnonzero(block_codes >= 0)
        if not len(kept):
            continue
        block = x[start:start + step]
        indicator = sp.csr_matrix((np.ones(len(kept)), (block_codes[kept], kept)),
                                  shape=(len(names), block.shape[0]))
        if sp.issparse(block):  # sparse products: a sparse block is never densified
            block = sp.csr_matrix(block, dtype=np.float64)
            sums += (indicator @ block).toarray()
            squares += (indicator @ block.multiply(block)).toarray()
        else:
            block = np.asarray(block, dtype=np.float64)
            sums += indicator @ block
            squares += indicator @ np.square(block)
    return names, np.bincount(used_codes, minlength=len(names)), sums, squares


def one_vs_rest_t(x, labels: np.ndarray) -> dict:
    """Welch t statistic of every gene, each type against all other cells (``x`` dense or sparse, never
    copied: from :func:`type_moments`)."""
    names, sizes, sums, squares = type_moments(x, labels)
    total, total_squares, n = sums.sum(0), squares.sum(0), sizes.sum()

    def mean_and_variance(count, column_sums, column_squares):
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = column_sums / count
            return mean, np.maximum(column_squares - count * mean ** 2, 0.0) / (count - 1)

    out = {}
    for name, size, type_sums, type_squares in zip(names, sizes, sums, squares):
        mean_a, var_a = mean_and_variance(size, type_sums, type_squares)
        mean_b, var_b = mean_and_variance(n - size, total - type_sums, total_squares - type_squares)
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.sqrt(var_a / max(size, 1) + var_b / max(n - size, 1)) if size > 1 else np.ones(x.shape[1])
            out[name] = np.nan_to_num((mean_a - mean_b) / se, nan=0.0, posinf=0.0, neginf=0.0)
    return out
