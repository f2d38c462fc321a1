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
