"""The statistics shared by QC, evaluation and linkage: each caller's rule for constant columns and NaN."""
import numpy as np
import pytest

from scact.stats import benjamini_hochberg, column_pearson


def test_column_pearson_constant_columns_follow_the_callers_rule():
    observed = np.array([[1.0, 2.0, 5.0], [2.0, 2.0, 5.0], [4.0, 2.0, 5.0]])
    predicted = np.array([[1.0, 0.0, 1.0], [3.0, 1.0, 1.0], [3.0, 2.0, 1.0]])
    predicted[:, 0] = 7.0  # flat prediction of a varying column
    linkage = column_pearson(observed, predicted)
    evaluation = column_pearson(observed, predicted, constant_b=0.0)
    assert np.isnan(linkage[0]) and evaluation[0] == 0.0
    assert np.isnan(linkage[1:]).all() and np.isnan(evaluation[1:]).all()  # constant observed column


def test_benjamini_hochberg_counts_nan_as_one():
    q = benjamini_hochberg(np.array([0.01, np.nan, 0.02]))
    assert q == pytest.approx([0.03, 1.0, 0.03])
    assert benjamini_hochberg(np.array([])).shape == (0,)


def test_one_vs_rest_t_from_type_moments_matches_two_pass_welch_on_dense_and_sparse():
    import scipy.sparse as sp

    from scact.stats import one_vs_rest_t

    rng = np.random.default_rng(0)
    x = rng.gamma(1.0, 2.0, size=(200, 30)) * (rng.random((200, 30)) < 0.4)
    labels = np.array(["a"] * 120 + ["b"] * 79 + ["c"])  # "c": a single cell (no variance: unit error)
    for matrix in (x, sp.csr_matrix(x)):
        scores = one_vs_rest_t(matrix, labels)
        for label in ("a", "b"):
            a, b = x[labels == label], x[labels != label]
            se = np.sqrt(a.var(0, ddof=1) / len(a) + b.var(0, ddof=1) / len(b))
            np.testing.assert_allclose(scores[label], (a.mean(0) - b.mean(0)) / se, rtol=1e-9)
        np.testing.assert_allclose(scores["c"], x[labels == "c"][0] - x[labels != "c"].mean(0), rtol=1e-9)


def test_type_moments_of_selected_rows_read_in_blocks_equal_a_direct_sum():
    """Per-type sums and squares over the ``rows`` mask only, the same for a sparse ``x`` (never densified)
    and a dense one, across block boundaries."""
    import scipy.sparse as sp

    from scact.stats import type_moments

    rng = np.random.default_rng(1)
    x = rng.poisson(0.5, size=(97, 13)).astype(np.float32)
    labels = rng.choice(["a", "b", "c"], 97)
    rows = rng.random(97) < 0.6
    rows[labels == "c"] = False  # a type with no selected row is not reported
    for matrix in (x, sp.csr_matrix(x)):
        names, sizes, sums, squares = type_moments(matrix, labels, rows, block_values=13 * 10)
        assert names.tolist() == ["a", "b"]
        for i, name in enumerate(names):
            chosen = x[rows & (labels == name)].astype(np.float64)
            assert sizes[i] == len(chosen)
            np.testing.assert_allclose(sums[i], chosen.sum(0))
            np.testing.assert_allclose(squares[i], (chosen ** 2).sum(0))
