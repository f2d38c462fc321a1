"""Peak calling with the pseudo-bulk capped at --max-insertions: time saved and peaks kept (issue 15).

    PYTHONPATH=src python benchmarks/peak_calling_cap.py --qc sim_atac_qc.h5ad --fragments atac_fragments.tsv.gz \\
        --annotation tss.bed --genome-size 1000150000 --truth atac_peaks.bed --caps 0 25000000 [--reference peaks.bed]

Runs ``scact call-peaks`` once per cap (0: every insertion) as the pipeline does, measured like the runner's
trace (wall, CPU of the process tree, peak RSS), and prints per cap the peaks called, the share of the
simulation's planted peaks they overlap (``--truth``) and the share of the uncapped call's peaks they
overlap (the cap-0 run, or ``--reference``, a peaks.bed of an uncapped call made before).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def overlapped_share(reference: pd.DataFrame, called: pd.DataFrame) -> float:
    """Share of ``reference`` intervals overlapped by a ``called`` interval; ``called`` must not overlap
    itself (merged peaks), so the one starting last before a reference end is the only candidate."""
    hits = 0
    for chrom, ref in reference.groupby("chrom"):
        on = called[called["chrom"] == chrom].sort_values("start")
        if on.empty:
            continue
        # the called interval starting last before each reference end: overlaps if it ends after its start
        i = np.searchsorted(on["start"].to_numpy(), ref["end"].to_numpy(), side="left") - 1
        ends = on["end"].to_numpy()
        hits += int(((i >= 0) & (ends[np.maximum(i, 0)] > ref["start"].to_numpy())).sum())
    return hits / max(len(reference), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qc", type=Path, required=True, help="ATAC QC h5ad (kept cells, n_fragments)")
    parser.add_argument("--fragments", type=Path, required=True)
    parser.add_argument("--annotation", type=Path, required=True)
    parser.add_argument("--genome-size", required=True)
    parser.add_argument("--truth", type=Path, help="planted peaks BED of the simulation")
    parser.add_argument("--reference", type=Path, help="peaks.bed of an uncapped call (else the cap-0 run)")
    parser.add_argument("--caps", type=int, nargs="+", default=[0, 25_000_000])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/scale/peak_calling_cap"))
    args = parser.parse_args()

    from scact.pipeline import run_measured
    from scact.preprocessing.atac import read_peaks_bed

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    truth = read_peaks_bed(args.truth) if args.truth else None
    reference = read_peaks_bed(args.reference) if args.reference else None
    print("| max insertions | wall s | CPU s | peak RSS GiB | peaks | planted peaks overlapped | uncapped peaks overlapped |")
    print("|---|---|---|---|---|---|---|")
    for cap in args.caps:
        outdir = args.workdir / f"cap_{cap}"
        outdir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-c", "from scact.cli import main; main()", "call-peaks",
                "--input", str(args.qc.resolve()), str(args.fragments.resolve()),
                "--annotation", str(args.annotation.resolve()), "--genome-size", args.genome_size,
                "--max-insertions", str(cap), "--outdir", "."]
        start = time.monotonic()
        with open(outdir / "call_peaks.log", "w") as log_file:
            status, cpu, peak = run_measured(argv, outdir, log_file, env)
        if status != 0:
            raise SystemExit(f"call-peaks failed ({status}); see {outdir / 'call_peaks.log'}")
        wall = time.monotonic() - start
        peaks = read_peaks_bed(outdir / "peaks.bed")
        if cap == 0 and reference is None:
            reference = peaks
        share_truth = f"{overlapped_share(truth, peaks):.3f}" if truth is not None else "-"
        share_ref = f"{overlapped_share(reference, peaks):.3f}" if reference is not None else "-"
        print(f"| {cap:,} | {wall:.0f} | {cpu:.0f} | {peak:.2f} | {len(peaks):,} | {share_truth} | {share_ref} |",
              flush=True)


if __name__ == "__main__":
    main()
