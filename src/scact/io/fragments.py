"""10x ATAC fragments files (``chrom, start, end, barcode, count``; bgzipped, tabix-indexed).

Read by streaming through pysam so that memory does not grow with the number of fragments.
"""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pysam

from scact.errors import input_error

FIX_INDEX = "sort and index it: sort -k1,1 -k2,2n frags.tsv | bgzip > frags.tsv.gz && tabix -p bed frags.tsv.gz"


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
    if not Path(f"{path}.tbi").is_file() and not Path(f"{path}.csi").is_file():
        raise input_error(path, "fragments file has no tabix index (.tbi)", FIX_INDEX)
    try:
        return pysam.TabixFile(str(path))
    except (OSError, ValueError) as err:
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


def count_fragments_per_barcode(path: str | os.PathLike) -> Counter:
    """Number of fragments of each barcode (one pass, memory grows with barcodes, not fragments)."""
    counts: Counter = Counter()
    for fragment in iter_fragments(path):
        counts[fragment.barcode] += 1
    return counts
