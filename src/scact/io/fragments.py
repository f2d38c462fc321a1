"""10x ATAC fragments files (``chrom, start, end, barcode, count``; bgzipped, tabix-indexed).

Read by streaming through pysam so that memory does not grow with the number of fragments.
"""
from __future__ import annotations

import gzip
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pysam

from scact.errors import input_error
from scact.io.atomic import atomic_path

FIX_INDEX = "sort and index it: sort -k1,1 -k2,2n frags.tsv | bgzip > frags.tsv.gz && tabix -p bed frags.tsv.gz"
FIX_BGZIP = ("recompress it with bgzip (block gzip, from htslib) and index it: "
             "zcat frags.tsv.gz | bgzip > frags.bgz.tsv.gz && tabix -p bed frags.bgz.tsv.gz")
_GZIP_MAGIC = b"\x1f\x8b"


def check_bgzipped(path: Path) -> None:
    """Refuse a fragments file that is plain gzip (or not compressed): tabix needs BGZF blocks to seek.

    A BGZF file is gzip whose header carries the extra subfield 'BC' (bytes 12-13 of the first block).
    """
    with path.open("rb") as handle:
        header = handle.read(18)
    if header[:2] != _GZIP_MAGIC:
        raise input_error(path, "fragments file is not compressed (not bgzipped)", FIX_BGZIP)
    if len(header) < 18 or not header[3] & 4 or header[12:14] != b"BC":
        raise input_error(path, "fragments file is gzip-compressed but not bgzipped, so its index cannot be "
                                "used", FIX_BGZIP)


class Fragment(NamedTuple):
    chrom: str
    start: int
    end: int
    barcode: str
    count: int


def open_fragments(path: str | os.PathLike) -> pysam.TabixFile:
    """Open a fragments file through its tabix index, with a clear error when either is unusable."""
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "fragments file not found")
    check_bgzipped(path)
    if not Path(f"{path}.tbi").is_file() and not Path(f"{path}.csi").is_file():
        raise input_error(path, "fragments file has no tabix index (.tbi)", FIX_INDEX)
    try:
        return pysam.TabixFile(str(path))
    except (OSError, ValueError, NotImplementedError) as err:
        raise input_error(path, f"cannot be read as a bgzipped, tabix-indexed file ({err})", FIX_INDEX) from err


def iter_fragments(path: str | os.PathLike, chroms: list[str] | None = None) -> Iterator[Fragment]:
    """Yield every fragment, chromosome by chromosome in index order (or only ``chroms``)."""
    path = Path(path)
    with open_fragments(path) as tabix:
        for chrom in (tabix.contigs if chroms is None else chroms):
            if chrom not in tabix.contigs:
                continue
            for line_number, line in enumerate(tabix.fetch(chrom), start=1):
                fields = line.split("\t")
                try:
                    yield Fragment(fields[0], int(fields[1]), int(fields[2]), fields[3],
                                   int(fields[4]) if len(fields) > 4 else 1)
                except (IndexError, ValueError):
                    raise input_error(path, f"malformed fragment on {chrom} (record {line_number}): {line[:80]!r}",
                                      "expected tab-separated chrom, start, end, barcode, count") from None


class BarcodeIndex:
    """Barcode -> integer code, growing as new barcodes are met (memory grows with barcodes only)."""

    def __init__(self, barcodes=()):
        self.codes: dict[str, int] = {}
        self.names: list[str] = []
        for barcode in barcodes:
            self.add(barcode)

    def add(self, barcode: str) -> int:
        code = self.codes.get(barcode)
        if code is None:
            code = self.codes[barcode] = len(self.names)
            self.names.append(barcode)
        return code

    def encode(self, barcodes) -> np.ndarray:
        return np.fromiter((self.add(b) for b in barcodes), dtype=np.int64, count=len(barcodes))

    def __len__(self) -> int:
        return len(self.names)


def _release_large_buffers_to_the_os() -> None:
    """Pin glibc's mmap threshold at 128 KiB so that freed chunk arrays go back to the OS.

    glibc raises the threshold dynamically after large frees; the per-chunk arrays of a long stream then
    come from the heap and fragment it, so resident memory crept up with the file size (1.3 GB after 50M
    fragments instead of ~0.3 GB). No-op where glibc's ``mallopt`` is unavailable.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


class FragmentBlock(NamedTuple):
    """Consecutive fragments of one chromosome: numpy arrays, barcodes as BarcodeIndex codes."""
    chrom: str
    starts: np.ndarray
    ends: np.ndarray
    barcodes: np.ndarray


def iter_fragment_blocks(path: str | os.PathLike, barcode_index: BarcodeIndex,
                         chunk_size: int = 2_000_000) -> Iterator[FragmentBlock]:
    """Stream the whole file in numpy blocks of at most ``chunk_size`` fragments, one chromosome each.

    The file is parsed sequentially by pandas' C reader (much faster than a Python loop over tabix
    lines) in fixed-size chunks, so memory stays flat. Sorting is checked on the way: a chromosome that
    comes back after another, or a start smaller than the previous one, is refused with the fix.
    """
    path = Path(path)
    open_fragments(path).close()  # the index must exist: later steps rely on a sorted, indexed file
    _release_large_buffers_to_the_os()
    seen_chroms: set[str] = set()
    last_chrom, last_start = None, -1
    try:
        reader = pd.read_csv(path, sep="\t", header=None, comment="#", usecols=[0, 1, 2, 3],
                             names=["chrom", "start", "end", "barcode"],
                             dtype={"chrom": "category", "start": np.int64, "end": np.int64, "barcode": "category"},
                             chunksize=chunk_size, compression="gzip")
        for chunk in reader:
            if chunk["barcode"].isna().any():
                raise ValueError("a line has fewer than 4 fields")
            lookup = barcode_index.encode(chunk["barcode"].cat.categories)
            barcodes = lookup[chunk["barcode"].cat.codes.to_numpy()]
            chrom_codes = chunk["chrom"].cat.codes.to_numpy()
            chrom_names = chunk["chrom"].cat.categories
            starts, ends = chunk["start"].to_numpy(), chunk["end"].to_numpy()
            bounds = np.flatnonzero(np.diff(chrom_codes)) + 1
            for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(chunk)]):
                chrom = str(chrom_names[chrom_codes[lo]])
                block_starts = starts[lo:hi]
                if chrom != last_chrom:
                    if chrom in seen_chroms:
                        raise input_error(path, f"fragments are not sorted: {chrom} appears again after "
                                                f"{last_chrom}", FIX_INDEX)
                    seen_chroms.add(chrom)
                    last_chrom, last_start = chrom, -1
                if block_starts[0] < last_start or (hi - lo > 1 and (np.diff(block_starts) < 0).any()):
                    raise input_error(path, f"fragments are not sorted by start on {chrom}", FIX_INDEX)
                last_start = int(block_starts[-1])
                yield FragmentBlock(chrom, block_starts, ends[lo:hi], barcodes[lo:hi])
    except (ValueError, pd.errors.ParserError, EOFError, OSError) as err:
        raise input_error(path, f"malformed fragments file ({err})",
                          "expected tab-separated chrom, start, end, barcode, count; " + FIX_INDEX) from err


def fragment_contigs(path: str | os.PathLike) -> list[str]:
    """Chromosome names listed in the tabix index."""
    with open_fragments(path) as tabix:
        return list(tabix.contigs)


def count_fragments_per_barcode(path: str | os.PathLike) -> Counter:
    """Number of fragments of each barcode (one streaming pass; memory grows with barcodes, not fragments)."""
    index = BarcodeIndex()
    totals = np.zeros(0, dtype=np.int64)
    for block in iter_fragment_blocks(path, index):
        counts = np.bincount(block.barcodes, minlength=len(index))
        totals = np.concatenate([totals, np.zeros(len(index) - len(totals), dtype=np.int64)]) + counts
    return Counter({name: int(n) for name, n in zip(index.names, totals) if n})


def filter_fragments(source: str | os.PathLike, target: str | os.PathLike, drop: set[str]) -> None:
    """Copy a fragments file without the fragments of the ``drop`` barcodes, bgzipped and tabix-indexed: how
    one multiome run is split into samples that share no cell (simulated variants, real-data runs)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        with gzip.open(source, "rb") as lines, pysam.BGZFile(str(tmp), "wb1") as out:
            block = []
            for line in lines:
                if line.startswith(b"#") or line.split(b"\t", 4)[3].decode() not in drop:
                    block.append(line)
                if len(block) >= 100_000:
                    out.write(b"".join(block))
                    block = []
            out.write(b"".join(block))
        pysam.tabix_index(str(tmp), preset="bed", force=True)
        with atomic_path(f"{target}.tbi") as tmp_index:
            os.replace(f"{tmp}.tbi", tmp_index)
