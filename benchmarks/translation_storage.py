"""The stored forms of RNA->ATAC translations at atlas size: write and read time, memory, file size.

    nice -n 10 env PYTHONPATH=src python benchmarks/translation_storage.py --cells 10000 --peaks 100000 \\
        [--forms float32 topk none] [--workdir /tmp/scale/storage]

Writes ``rna_to_atac.h5ad`` for ``--cells`` x ``--peaks`` through ``scact.io.translated`` from generated
probability blocks (each cell a mixture of a few planted type profiles, mean ~0.04 like decoded ATAC, 512
cells per block as ``scact translate`` yields them), then streams it back the way evaluate and motifs do
(all rows, all peaks, blocks of the reader's budget) and reads 20 peak columns for every cell (the link
step). Each form runs in its own process so that its peak RSS is its own. Prints one row per form.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def probability_blocks(n_cells: int, n_peaks: int, block: int = 512, seed: int = 0):
    """Translation-like blocks: per cell one of 10 type profiles (log-normal around 0.04) times a depth."""
    rng = np.random.default_rng(seed)
    profiles = np.clip(0.04 * rng.lognormal(0, 1.0, (10, n_peaks)), 0, 0.95).astype(np.float32)
    for start in range(0, n_cells, block):
        stop = min(start + block, n_cells)
        types = rng.integers(0, 10, stop - start)
        depth = rng.lognormal(0, 0.3, (stop - start, 1)).astype(np.float32)
        yield start, stop, np.clip(profiles[types] * depth, 0, 1)


def one_form(form: str, cells: int, peaks: int, path: Path) -> dict:
    from scact.io.translated import TranslatedAccessibility, write_translated_accessibility

    obs = pd.DataFrame(index=[f"c{i}" for i in range(cells)])
    var = pd.DataFrame(index=[f"p{i}" for i in range(peaks)])
    start, cpu = time.perf_counter(), time.process_time()
    stored = write_translated_accessibility(probability_blocks(cells, peaks), obs, var, path, probabilities=form)
    write_s, write_cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    total = 0.0
    with TranslatedAccessibility(path) as reader:
        for _, _, block in reader.blocks()():
            total += float(block.sum(dtype=np.float64))
        stream_s = time.perf_counter() - start
        start = time.perf_counter()
        reader.columns(np.arange(0, peaks, peaks // 20)[:20])
        columns_s = time.perf_counter() - start
    return {"cells": cells, "peaks": peaks, "form": stored, "file_gb": path.stat().st_size / 2**30,
            "write_s": write_s, "write_cpu_s": write_cpu, "stream_all_s": stream_s, "read_20_columns_s": columns_s,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "sum": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=10_000)
    parser.add_argument("--peaks", type=int, default=100_000)
    parser.add_argument("--forms", nargs="+", default=["float32", "topk", "none"])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/scale/storage"))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = args.workdir / f"rna_to_atac_{args.one}_{args.cells}.h5ad"
    if args.one:
        print(json.dumps(one_form(args.one, args.cells, args.peaks, path)))
        path.unlink()
        return
    rows = []
    for form in args.forms:
        out = subprocess.run([sys.executable, __file__, "--one", form, "--cells", str(args.cells), "--peaks",
                              str(args.peaks), "--workdir", str(args.workdir)], capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stderr[-2000:])
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(pd.DataFrame(rows[-1:]).round(3).to_string(index=False), flush=True)
    table = pd.DataFrame(rows).drop(columns="sum").round(3)
    print("| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns))
    for row in table.itertuples(index=False):
        print("| " + " | ".join(str(v) for v in row) + " |")


if __name__ == "__main__":
    main()
