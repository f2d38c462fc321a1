"""The stored forms of RNA->ATAC translations (scact.io.translated): written and read back in bounded blocks."""
import tracemalloc

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scact.io import translated as io
from scact.io.translated import TranslatedAccessibility, write_translated_accessibility

N_CELLS, N_PEAKS = 400, 300


def probabilities(n_cells=N_CELLS, n_peaks=N_PEAKS, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n_cells, n_peaks)) ** 3).astype(np.float32)


def blocks_of(matrix, size):
    for start in range(0, matrix.shape[0], size):
        yield start, min(start + size, matrix.shape[0]), matrix[start:start + size]


def write(path, probs, form, top_k=30, block=20):
    n_cells, n_peaks = probs.shape
    obs = pd.DataFrame({"cell_type": ["a", "b"] * (n_cells // 2)}, index=[f"c{i}" for i in range(n_cells)])
    var = pd.DataFrame(index=[f"p{i}" for i in range(n_peaks)])
    return write_translated_accessibility(blocks_of(probs, block), obs, var, path, probabilities=form,
                                          top_k=top_k, seed=3)


@pytest.mark.parametrize("form", ["float32", "float16", "topk", "none"])
def test_each_form_is_written_and_read_back(tmp_path, form):
    probs = probabilities()
    path = tmp_path / "rna_to_atac.h5ad"
    assert write(path, probs, form) == form
    adata = ad.read_h5ad(path)  # an ordinary h5ad for scanpy users
    assert adata.shape == (N_CELLS, N_PEAKS) and set(np.unique(adata.X.data)) == {1.0}
    assert abs(adata.X.mean() - probs.mean()) < 0.01
    assert adata.uns["scact"]["translate_rna_to_atac"]["params"]["probabilities"] == form
    rows, columns = np.array([399, 5, 17, 6, 250]), np.array([7, 0, 299])
    with TranslatedAccessibility(path, block_elements=N_PEAKS * 3) as reader:
        assert reader.form == ("samples" if form == "none" else form)
        got = reader.read_rows(rows)
        picked = reader.columns(columns, rows)
        np.testing.assert_array_equal(picked, got[:, columns])
        streamed = np.vstack([b for _, _, b in reader.blocks(rows, block_size=2)()])
        np.testing.assert_array_equal(streamed, got)
    truth = probs[rows]
    if form == "float32":
        np.testing.assert_array_equal(got, truth)
    elif form == "float16":
        np.testing.assert_allclose(got, truth, atol=1e-3)
    elif form == "topk":
        top = np.argsort(-truth, axis=1)[:, :30]
        np.testing.assert_array_equal(np.take_along_axis(got, top, 1), np.take_along_axis(truth, top, 1))
        np.testing.assert_allclose(got.sum(1), truth.sum(1), rtol=1e-4)  # the rest reads as its mean
        assert (np.ptp(np.sort(got, 1)[:, :-30], axis=1) == 0).all()
    else:
        np.testing.assert_array_equal(got, adata.X[rows].toarray())
    with TranslatedAccessibility(path, use="samples") as samples:
        np.testing.assert_array_equal(samples.read_rows(rows), adata.X[rows].toarray())


def test_auto_stores_dense_when_small_and_top_k_when_large(tmp_path, monkeypatch):
    probs = probabilities()
    assert write(tmp_path / "small.h5ad", probs, "auto") == "float32"
    monkeypatch.setattr(io, "DENSE_LIMIT", N_CELLS * N_PEAKS - 1)
    assert write(tmp_path / "large.h5ad", probs, "auto") == "topk"
    with pytest.raises(ValueError, match="probabilities must be one of"):
        write(tmp_path / "bad.h5ad", probs, "float64")


@pytest.mark.parametrize("form", ["float32", "topk", "none"])
def test_no_dense_cells_x_peaks_matrix_when_writing_or_reading(tmp_path, form, monkeypatch):
    """Python-side allocations (numpy's included) stay far below one dense cells x peaks float32 matrix."""
    from scact.io import provenance

    monkeypatch.setattr(provenance, "package_versions", dict)  # its metadata scan is no matrix
    probs = probabilities(800, 2500)
    whole = probs.nbytes
    path = tmp_path / "t.h5ad"
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        write(path, probs, form, block=20)
        writing = tracemalloc.get_traced_memory()[1] - before
        with TranslatedAccessibility(path, block_elements=8 * 2500) as reader:  # obs and var are read here
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            total = np.zeros(2500)
            for _, _, block in reader.blocks()():
                assert block.shape[0] <= 8
                total += block.sum(0)
            reading = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert reading < whole / 10, f"reading held {reading} bytes; the dense matrix is {whole}"
    assert writing < whole / 5, f"writing held {writing} bytes; the dense matrix is {whole}"
    expected = probs.sum(0) if form != "none" else ad.read_h5ad(path).X.sum(0).A1  # top-k keeps cell totals
    np.testing.assert_allclose(total.sum(), expected.sum(), rtol=1e-4)
