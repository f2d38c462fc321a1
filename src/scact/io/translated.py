"""The on-disk form of translated accessibility (``rna_to_atac.h5ad``), written and read in blocks.

One writer and one reader, so that every step (evaluate, link, motifs, report) reads whichever form
``scact translate`` stored and none ever holds a dense cells x peaks matrix:

- ``X``: binary profiles drawn from Bernoulli(probabilities) with a seeded generator, CSR, always;
- ``layers['probabilities']``, in one of the forms of :data:`PROBABILITY_FORMS`:
  ``float32`` / ``float16``: dense, gzip-chunked (small data: cells x peaks <= :data:`DENSE_LIMIT`);
  ``topk``: each cell's ``top_k`` most probable peaks (CSR), the other peaks of the cell read as
  ``obs['probability_rest']`` (the mean probability of the peaks not stored), so per-cell totals and type
  means are kept while the file grows with cells x k, not cells x peaks;
  ``none``: not stored (readers fall back to the samples in X).
``auto`` (the default) picks ``float32`` up to :data:`DENSE_LIMIT` entries, ``topk`` above.

The file is an ordinary ``.h5ad`` (scanpy reads it, with the top-k layer as a sparse matrix); it is written
in place into a temporary file, CSR parts appended block by block, then renamed.
"""
from __future__ import annotations

from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.io.atomic import atomic_path
from scact.io.provenance import record_provenance

PROBABILITY_FORMS = ("auto", "float32", "float16", "topk", "none")
PROBABILITY_LAYER = "probabilities"
REST_COLUMN = "probability_rest"
#: What a reading command's ``--translated-layer`` may name, as the reader's ``use``: the stored
#: probabilities (whatever their form) or ``X`` (the sampled profiles).
READ_LAYERS = {PROBABILITY_LAYER: "probabilities", "X": "samples"}
#: ``auto`` stores dense probabilities up to this many cells x peaks entries (400 MB as float32).
DENSE_LIMIT = 100_000_000
#: Peaks kept per cell by the ``topk`` form (at most the number of peaks).
DEFAULT_TOP_K = 1000
#: Values a reader holds per block (float32: 64 MB), unless told otherwise.
BLOCK_ELEMENTS = 1 << 24


def choose_form(requested: str, n_cells: int, n_peaks: int) -> str:
    """The stored form of the probabilities: ``requested``, or for ``auto`` the one that fits the size."""
    if requested not in PROBABILITY_FORMS:
        raise ValueError(f"probabilities must be one of {', '.join(PROBABILITY_FORMS)} (got {requested!r})")
    if requested != "auto":
        return requested
    return "float32" if n_cells * n_peaks <= DENSE_LIMIT else "topk"


class _CSRAppender:
    """A CSR matrix written row block by row block into an HDF5 group in AnnData's ``csr_matrix`` encoding."""

    def __init__(self, group: h5py.Group, n_cols: int, dtype, chunk: int = 1 << 18):
        self.group, self.n_cols, self.n_rows, self.nnz = group, n_cols, 0, 0
        options = dict(chunks=(chunk,), maxshape=(None,), compression="gzip", compression_opts=4)
        self.data = group.create_dataset("data", shape=(0,), dtype=dtype, **options)
        self.indices = group.create_dataset("indices", shape=(0,), dtype=np.int32, **options)
        self.indptr = [np.zeros(1, np.int64)]

    def append(self, block: sp.csr_matrix) -> None:
        block = sp.csr_matrix(block)
        block.sort_indices()
        added = block.nnz
        for dataset, values in ((self.data, block.data), (self.indices, block.indices)):
            dataset.resize((self.nnz + added,))
            dataset[self.nnz:] = values.astype(dataset.dtype, copy=False)
        self.indptr.append(block.indptr[1:].astype(np.int64) + self.nnz)
        self.nnz += added
        self.n_rows += block.shape[0]

    def close(self) -> None:
        self.group.create_dataset("indptr", data=np.concatenate(self.indptr))
        self.group.attrs.update({"encoding-type": "csr_matrix", "encoding-version": "0.1.0",
                                 "shape": np.array([self.n_rows, self.n_cols], dtype=np.int64)})


def top_k_block(block: np.ndarray, k: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Each row's ``k`` largest values (CSR) and the mean of the row's other values."""
    n_rows, n_cols = block.shape
    k = min(k, n_cols)
    columns = np.argpartition(block, n_cols - k, axis=1)[:, n_cols - k:]
    values = np.take_along_axis(block, columns, axis=1)
    kept = sp.csr_matrix((values.ravel(), columns.ravel(), np.arange(0, n_rows * k + 1, k)),
                         shape=block.shape)
    rest_total = block.sum(1, dtype=np.float64) - values.sum(1, dtype=np.float64)
    rest = rest_total / max(n_cols - k, 1) if n_cols > k else np.zeros(n_rows)
    return kept, np.clip(rest, 0.0, 1.0).astype(np.float32)


def _encoded_blocks(blocks, n_cells: int, form: str, top_k: int, seed: int):
    """Per translation block ``(start, stop, sampled profiles (CSR), stored probabilities, rest)``: the
    probabilities dense in ``form`` (``float32``/``float16``), as top-k CSR (``topk``, with the mean of the
    other peaks per cell in ``rest``) or None (``none``). One seeded generator draws the samples, so the
    file and the in-memory form of the same blocks hold the same profiles."""
    if form == "topk" and top_k < 1:
        raise ValueError(f"top_k must be >= 1 (got {top_k})")
    rng = np.random.default_rng(seed)
    covered = 0
    for start, stop, block in blocks:
        if start != covered:
            raise ValueError(f"translation blocks out of order: {start} after {covered}")
        block = np.clip(np.asarray(block, dtype=np.float32), 0.0, 1.0)
        samples = sp.csr_matrix(rng.random(block.shape, dtype=np.float32) < block, dtype=np.float32)
        stored, rest = None, None
        if form in ("float32", "float16"):
            stored = block.astype(form)
        elif form == "topk":
            stored, rest = top_k_block(block, top_k)
            stored.sort_indices()
        yield start, stop, samples, stored, rest
        covered = stop
    if covered != n_cells:
        raise ValueError(f"translation covered {covered} of {n_cells} cells")


def _skeleton(obs: pd.DataFrame, var: pd.DataFrame, form: str, requested: str, top_k: int, seed: int,
              params: dict | None) -> ad.AnnData:
    """obs, var and provenance of a translation (``obs['probability_rest']`` zero until filled)."""
    obs = obs.copy()
    if form == "topk":
        obs[REST_COLUMN] = np.zeros(len(obs), np.float32)
    skeleton = ad.AnnData(obs=obs, var=var.copy())
    record_provenance(skeleton, "translate_rna_to_atac",
                      {"probabilities": form, "requested_probabilities": requested, "seed": seed,
                       **({"top_k": min(top_k, len(var))} if form == "topk" else {}), **(params or {})})
    return skeleton


def translated_accessibility(blocks, obs: pd.DataFrame, var: pd.DataFrame, probabilities="auto",
                             top_k: int = DEFAULT_TOP_K, seed: int = 0, params: dict | None = None) -> ad.AnnData:
    """RNA->ATAC translations in memory, as :func:`write_translated_accessibility` would store them (the
    same sampled X, the same probability layer form and provenance)."""
    form = choose_form(probabilities, len(obs), len(var))
    adata = _skeleton(obs, var, form, probabilities, top_k, seed, params)
    samples, stored, rest = [], [], []
    for _, _, sampled, probabilities_part, rest_part in _encoded_blocks(blocks, len(obs), form, top_k, seed):
        samples.append(sampled)
        stored.append(probabilities_part)
        rest.append(rest_part)
    shape = (len(obs), len(var))
    adata.X = sp.vstack(samples, format="csr", dtype=np.float32) if samples else sp.csr_matrix(shape, dtype=np.float32)
    if form in ("float32", "float16"):
        adata.layers[PROBABILITY_LAYER] = np.vstack(stored) if stored else np.zeros(shape, form)
    elif form == "topk":
        adata.layers[PROBABILITY_LAYER] = (sp.vstack(stored, format="csr", dtype=np.float32) if stored
                                           else sp.csr_matrix(shape, dtype=np.float32))
        if rest:
            adata.obs[REST_COLUMN] = np.concatenate(rest)
    return adata


def write_translated_accessibility(blocks, obs: pd.DataFrame, var: pd.DataFrame, path, probabilities="auto",
                                   top_k: int = DEFAULT_TOP_K, seed: int = 0, params: dict | None = None) -> str:
    """Write RNA->ATAC translations block by block; returns the form the probabilities were stored in.

    ``blocks``: iterator of ``(start, stop, float32 probabilities)`` covering every cell of ``obs`` in order.
    """
    n_cells, n_peaks = len(obs), len(var)
    form = choose_form(probabilities, n_cells, n_peaks)
    skeleton = _skeleton(obs, var, form, probabilities, top_k, seed, params)
    path = Path(path)
    with atomic_path(path) as tmp:
        skeleton.write_h5ad(tmp)
        with h5py.File(tmp, "a") as handle:
            if "X" in handle:
                del handle["X"]
            samples = _CSRAppender(handle.create_group("X"), n_peaks, np.float32)
            layers = handle.require_group("layers")
            dense = kept = None
            if form in ("float32", "float16"):
                dense = layers.create_dataset(
                    PROBABILITY_LAYER, shape=(n_cells, n_peaks), dtype=form,
                    chunks=(max(1, min(256, n_cells)), max(1, min(4096, n_peaks))), compression="gzip",
                    compression_opts=4)
                dense.attrs.update({"encoding-type": "array", "encoding-version": "0.2.0"})
            elif form == "topk":
                kept = _CSRAppender(layers.create_group(PROBABILITY_LAYER), n_peaks, np.float32)
            rest = np.zeros(n_cells, np.float32)
            for start, stop, sampled, stored, rest_part in _encoded_blocks(blocks, n_cells, form, top_k, seed):
                samples.append(sampled)
                if dense is not None:
                    dense[start:stop] = stored
                elif kept is not None:
                    kept.append(stored)
                    rest[start:stop] = rest_part
            samples.close()
            if kept is not None:
                kept.close()
                handle["obs"][REST_COLUMN][...] = rest
    return form


class TranslatedAccessibility:
    """A written RNA->ATAC file, read lazily: obs and var in memory, the matrices read in row blocks.

    ``use``: ``probabilities`` (the stored layer, whatever its form; the samples if none is stored) or
    ``samples`` (X). ``form`` says what is read: ``float32``, ``float16``, ``topk`` or ``samples``.
    """

    def __init__(self, path, use: str = "probabilities", block_elements: int = BLOCK_ELEMENTS):
        from anndata.io import read_elem

        from scact.errors import input_error

        if use not in ("probabilities", "samples"):
            raise ValueError(f"use must be probabilities or samples (got {use!r})")
        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, "r")
            self.obs = read_elem(self._file["obs"])
            self.var = read_elem(self._file["var"])
            layer = self._file.get(f"layers/{PROBABILITY_LAYER}") if use == "probabilities" else None
            element = layer if layer is not None else self._file["X"]
        except (OSError, KeyError) as err:
            raise input_error(self.path, f"not a readable translation .h5ad ({type(err).__name__}: {err})",
                              "give the rna_to_atac.h5ad written by scact translate") from err
        self.obs_names, self.var_names = self.obs.index, self.var.index
        self.n_obs, self.n_vars = len(self.obs), len(self.var)
        self.block_elements = int(block_elements)
        self._element = element
        if layer is None:
            self.form = "samples"
        elif isinstance(layer, h5py.Dataset):
            self.form = str(layer.dtype)
        else:
            self.form = "topk"
        self._rest = (np.asarray(self.obs[REST_COLUMN], np.float32) if self.form == "topk" and REST_COLUMN in self.obs
                      else None)
        if isinstance(element, h5py.Group):
            self._indptr = element["indptr"][:]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self._file.close()

    @property
    def is_probability(self) -> bool:
        return self.form != "samples"

    def _span_rows(self) -> int:
        """Rows read from disk at once: a full row is n_vars values wide whatever columns are wanted."""
        return max(1, self.block_elements // max(self.n_vars, 1))

    def _read_span(self, lo: int, hi: int, columns: np.ndarray | None) -> np.ndarray:
        """Rows ``lo:hi`` as dense float32 (only ``columns`` if given)."""
        width = self.n_vars if columns is None else len(columns)
        element = self._element
        if isinstance(element, h5py.Dataset):
            block = element[lo:hi]
            return np.asarray(block if columns is None else block[:, columns], dtype=np.float32)
        start, stop = self._indptr[lo], self._indptr[hi]
        part = sp.csr_matrix((element["data"][start:stop], element["indices"][start:stop],
                              self._indptr[lo:hi + 1] - start), shape=(hi - lo, self.n_vars))
        if columns is not None:
            part = part[:, columns]
        part = part.tocoo()
        fill = 0.0 if self._rest is None else self._rest[lo:hi, None]
        block = np.empty((hi - lo, width), np.float32)
        block[...] = fill
        block[part.row, part.col] = part.data
        return block

    def read_rows(self, rows, columns=None) -> np.ndarray:
        """Dense float32 of ``rows`` (any order) x ``columns`` (all if None); the caller bounds its size."""
        rows = np.asarray(rows, dtype=np.int64)
        columns = None if columns is None else np.asarray(columns, dtype=np.int64)
        width = self.n_vars if columns is None else len(columns)
        out = np.empty((len(rows), width), np.float32)
        if len(rows) == 0:
            return out
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        span = self._span_rows()
        first = 0
        while first < len(ordered):
            lo = int(ordered[first])
            last = int(np.searchsorted(ordered, lo + span, side="left"))
            hi = int(ordered[last - 1]) + 1
            out[order[first:last]] = self._read_span(lo, hi, columns)[ordered[first:last] - lo]
            first = last
        return out

    def blocks(self, rows=None, columns=None, block_size: int | None = None):
        """A prediction source (``scact.evaluation.metrics.PredictionSource``): a callable yielding
        ``(start, stop, dense float32 block)`` over ``rows`` (all cells if None) in that order."""
        wanted = np.arange(self.n_obs) if rows is None else np.asarray(rows, dtype=np.int64)
        width = self.n_vars if columns is None else len(columns)
        size = block_size or max(1, self.block_elements // max(width, 1))

        def generate():
            for start in range(0, len(wanted), size):
                stop = min(start + size, len(wanted))
                yield start, stop, self.read_rows(wanted[start:stop], columns)
        return generate

    def columns(self, columns, rows=None) -> np.ndarray:
        """Dense float32 of ``rows`` (all if None) x a few ``columns``, read in row blocks."""
        wanted = np.arange(self.n_obs) if rows is None else np.asarray(rows, dtype=np.int64)
        parts = [block for _, _, block in self.blocks(wanted, columns)()]
        return np.vstack(parts) if parts else np.zeros((0, len(columns)), np.float32)


def translated_var_names(path) -> list[str]:
    """Peak names of a translation file without reading its matrices."""
    with TranslatedAccessibility(path) as translated:
        return list(translated.var_names.astype(str))
