"""Peak memory of the RNA steps (QC with DoubletDetection, then processing) at atlas size, without
simulating fragments (issue 15).

    PYTHONPATH=src python benchmarks/rna_steps_memory.py --cells 100000 [--doublet-n-iters 1]

Simulates only the RNA side of the scale benchmark's sample (``benchmarks/scale.py``: 20,000 genes, 10 cell
types, median 3,000 UMIs, doublets and low-quality barcodes), parses it as an RNA-only CellRanger HDF5
row, then runs ``scact rna-qc`` and ``scact rna-process`` (with the simulation's markers) as the pipeline
does and prints each one's wall time, CPU time and peak RSS (the task's process tree, as the runner's trace
measures it). DoubletDetection's peak memory is reached in every
iteration (one iteration's matrices live at a time), so ``--doublet-n-iters 1`` measures the peak of the
default 10 iterations at a tenth of the CPU time; the CPU time printed is then that of one iteration.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def simulate_rna(path: Path, cells: int, genes: int, seed: int) -> None:
    import anndata as ad
    import pandas as pd

    from scact.io.tenx import write_10x_h5
    from scact.simulate import config_from_preset
    from scact.simulate._generate import rna_counts
    from scact.simulate._model import build_truth

    config = config_from_preset("large", n_cells=cells, n_peaks=100_000, n_genes=genes, n_chromosomes=20,
                                n_cell_types=10, median_fragments=5000, median_umis=3000, seed=seed)
    truth = build_truth(config)
    umis = rna_counts(truth)[truth.cell_barcodes]
    obs = pd.DataFrame(index=pd.Index(truth.cells["barcode"].to_numpy(), dtype=str))
    var = pd.DataFrame({"gene_ids": truth.genes["gene_id"].to_numpy()},
                       index=pd.Index(truth.genes["gene"].to_numpy(), dtype=str))
    write_10x_h5(ad.AnnData(X=umis, obs=obs, var=var), None, path, genome=config.genome)
    genes = truth.genes["gene"]
    pd.DataFrame([(t, genes.iat[g]) for t in truth.cell_types for g in truth.markers[t]],
                 columns=["cell_type", "gene"]).to_csv(path.parent / "markers.tsv", sep="\t", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, required=True)
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--doublet-n-iters", type=int, default=1)
    parser.add_argument("--start-at", choices=("parse", "rna-qc", "rna-process"), default="parse",
                        help="skip the steps before (their outputs are in the workdir)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/scale/rna_steps_memory"))
    args = parser.parse_args()

    from scact.pipeline import run_measured

    workdir = args.workdir / str(args.cells)
    workdir.mkdir(parents=True, exist_ok=True)
    matrix = workdir / "filtered_feature_bc_matrix.h5"
    if not matrix.is_file():
        start = time.monotonic()
        simulate_rna(matrix, args.cells, args.genes, args.seed)
        print(f"simulated {args.cells:,} cells x {args.genes:,} genes in {time.monotonic() - start:.0f} s", flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    steps = [("parse", ["parse", "--sample", "sim", "--modality", "rna", "--input", str(matrix), "--outdir", "."]),
             ("rna-qc", ["rna-qc", "--input", "sim_rna.h5ad", "--sample", "sim", "--outdir", ".",
                         "--doublet-n-iters", str(args.doublet_n_iters), "--seed", str(args.seed)]),
             ("rna-process", ["rna-process", "--input", "sim_rna_qc.h5ad", "--markers", "markers.tsv", "--outdir", ".",
                              "--seed", str(args.seed)])]
    for name, argv in steps[steps.index(next(s for s in steps if s[0] == args.start_at)):]:
        if name == "parse" and (workdir / "sim_rna.h5ad").is_file():
            continue
        start = time.monotonic()
        with open(workdir / f"{name}.log", "w") as log_file:
            status, cpu, peak = run_measured([sys.executable, "-c", "from scact.cli import main; main()", *argv],
                                             workdir, log_file, env)
        if status != 0:
            raise SystemExit(f"{name} failed ({status}); see {workdir / f'{name}.log'}")
        print(f"{name}: {args.cells:,} cells, wall {time.monotonic() - start:.0f} s, CPU {cpu:.0f} s, "
              f"peak RSS {peak:.2f} GiB", flush=True)


if __name__ == "__main__":
    main()
