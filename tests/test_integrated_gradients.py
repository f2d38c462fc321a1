"""Integrated gradients: exact on a linear model, complete on a nonlinear one, batched the same as unbatched."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from scact.perturbation.integrated_gradients import (
    gene_attribution, integrated_gradients, quadrature, top_peak_accessibility_test)


def test_quadrature_integrates_polynomials():
    for method in ("gausslegendre", "riemann_middle", "riemann_trapezoid"):
        alphas, weights = quadrature(64, method)
        assert weights.sum() == pytest.approx(1.0)
        assert (weights * alphas ** 2).sum() == pytest.approx(1 / 3, abs=1e-3)
    with pytest.raises(ValueError):
        quadrature(10, "simpson")


def test_linear_model_attribution_is_weight_times_input():
    torch.manual_seed(0)
    weight = torch.randn(30, 4)
    bias = torch.randn(4)
    x = torch.rand(7, 30)
    result = integrated_gradients(lambda z: z @ weight + bias, x, target=2, steps=3)
    assert torch.allclose(result.attributions, weight[:, 2] * x, atol=1e-5)
    assert result.completeness_gap.abs().max() < 1e-4


def test_completeness_on_nonlinear_function_and_step_batching():
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(40, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3), torch.nn.Softplus())
    x = (torch.rand(5, 40) < 0.3).float()
    precise = integrated_gradients(net, x, target=1, steps=64)
    change = (precise.output - precise.baseline_output).abs()
    assert (precise.completeness_gap.abs() / change.clamp_min(1e-6)).max() < 1e-3
    # few rows per pass (steps split over many passes) gives the same numbers
    chunked = integrated_gradients(net, x, target=1, steps=64, max_rows=7)
    assert torch.allclose(chunked.attributions, precise.attributions, atol=1e-6)
    # a coarse Riemann sum is less complete than Gauss-Legendre with the same steps
    coarse = integrated_gradients(net, x, target=1, steps=4, method="riemann_trapezoid")
    gauss = integrated_gradients(net, x, target=1, steps=4)
    assert gauss.completeness_gap.abs().mean() <= coarse.completeness_gap.abs().mean() + 1e-7


def test_gene_attribution_summarises_per_cell_type_from_sparse_batches():
    rng = np.random.default_rng(0)
    matrix = sp.csr_matrix((rng.random((50, 20)) < 0.3).astype(np.float32))
    labels = np.array(["a"] * 20 + ["b"] * 30)
    weight = torch.zeros(20, 2)
    weight[3, 0] = 2.0
    result = gene_attribution(lambda z: z @ weight, matrix, labels, "g", target=0, steps=2, batch_size=8)
    dense = matrix.toarray()
    assert np.allclose(result.mean_attribution[0, 3], 2 * dense[:20, 3].mean())
    assert np.allclose(result.mean_attribution[1, 3], 2 * dense[20:, 3].mean())
    assert np.allclose(np.delete(result.mean_attribution, 3, axis=1), 0)
    assert result.relative_gap.max() < 1e-4
    assert len(result.cell_output) == 50


def test_top_peak_accessibility_t_test():
    rng = np.random.default_rng(3)
    matrix = sp.csr_matrix(np.vstack([rng.random((10, 3)) < 0.9, rng.random((10, 3)) < 0.1]).astype(np.float32))
    test = top_peak_accessibility_test(matrix, np.array([0, 1]), np.arange(20) < 10)
    assert test["mean_in_type"] > test["mean_other_types"] and test["p_value"] < 1e-3
