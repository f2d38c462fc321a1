"""Peak memory of the pipeline's steps at atlas size, without simulating fragments (issue 15).

    PYTHONPATH=src python benchmarks/steps_memory.py --cells 100000 [--doublet-n-iters 1] [--start-at STEP]

Simulates the scale benchmark's sample (``atlas_config`` of ``benchmarks/scale.py``: 20,000 genes, 100,000
peaks, 10 cell types, median 3,000 UMIs and 5,000 fragments) without writing fragments, so that the steps
after peak calling can be measured at sizes where simulating, counting and calling peaks on fragments would
take hours on a laptop:

- RNA: the UMI matrix with doublets and low-quality barcodes, as an RNA-only CellRanger HDF5, through
  ``parse``, ``rna-qc`` (DoubletDetection) and ``rna-process`` with the simulation's markers;
- ATAC: the matrix cells' peak cut counts (``scact.simulate.peak_cut_counts``: CellRanger-arc sparsity, about
  2,900 accessible peaks per cell) written as an ``atac-matrix`` output, through ``atac-process``,
  ``reconcile`` (markers on gene activity, held-out split) and ``train`` (``--max-epochs`` per phase);
- then ``translate``, ``evaluate`` (with the baselines), ``perturb`` (the scale runs' two genes), ``link`` and
  ``motifs`` (no genome FASTA: its TF-IDF-free part only) with the pipeline's arguments.

Each step runs as the pipeline runs it and prints wall time, CPU time and peak RSS (the task's process
tree, as the runner's trace measures it); the rows go to ``benchmarks/results_steps_memory.tsv`` (the columns
of ``results_scale.tsv``; ``scale.py --summarise --results benchmarks/results_steps_memory.tsv --plot
docs/benchmarks_steps_memory.png`` prints their table and slopes). DoubletDetection's peak memory is reached in every iteration (one
iteration's matrices live at a time), so ``--doublet-n-iters 1`` measures the peak of the default 10
iterations at a tenth of the CPU time; the CPU time printed is then that of one iteration.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("parse", "rna-qc", "rna-process", "atac-process", "reconcile", "train", "translate", "evaluate", "perturb",
         "link", "motifs")
MATRIX, ATAC_MATRIX = "filtered_feature_bc_matrix.h5", "sim_atac_peaks.h5ad"


def truth_of(cells: int, genes: int, seed: int):
    from scale import atlas_config

    from scact.simulate import build_truth

    return build_truth(atlas_config(cells, genes=genes, seed=seed))


def simulate_rna(truth, folder: Path) -> None:
    """The RNA-only CellRanger HDF5 of every barcode called a cell (doublets and low-quality ones included)."""
    import anndata as ad
    import pandas as pd

    from scact.io.tenx import write_10x_h5
    from scact.simulate import rna_counts

    umis = rna_counts(truth)[truth.cell_barcodes]
    obs = pd.DataFrame(index=pd.Index(truth.cells["barcode"].to_numpy(), dtype=str))
    var = pd.DataFrame({"gene_ids": truth.genes["gene_id"].to_numpy()},
                       index=pd.Index(truth.genes["gene"].to_numpy(), dtype=str))
    write_10x_h5(ad.AnnData(X=umis, obs=obs, var=var), None, folder / MATRIX, genome=truth.config.genome)


def simulate_atac(truth, folder: Path) -> None:
    """``sim_atac_peaks.h5ad`` as atac-matrix writes it, its cells named ``sim:<barcode>`` as parse names the
    RNA cells (the held-out split pairs them by name)."""
    import anndata as ad
    import numpy as np
    import pandas as pd

    from scact.io.anndata import write_h5ad
    from scact.preprocessing.atac import peak_names
    from scact.simulate import peak_cut_counts

    barcodes = truth.cells["barcode"].to_numpy().astype(str)
    peaks = truth.peaks[["chrom", "start", "end"]].reset_index(drop=True)
    obs = pd.DataFrame({"sample": "sim", "batch": "sim", "barcode": barcodes,
                        "n_fragments": truth.fragment_depth[:len(barcodes)].round()},
                       index=pd.Index([f"sim:{b}" for b in barcodes]))
    write_h5ad(ad.AnnData(X=peak_cut_counts(truth).astype(np.float32), obs=obs,
                          var=peaks.set_index(pd.Index(peak_names(peaks)))), folder / ATAC_MATRIX)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, required=True)
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--doublet-n-iters", type=int, default=1)
    parser.add_argument("--max-epochs", type=int, default=1, help="epochs of each training phase")
    parser.add_argument("--start-at", choices=STEPS, default="parse",
                        help="skip the steps before (their outputs are in the workdir)")
    parser.add_argument("--stop-after", choices=STEPS, default=STEPS[-1])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/scale/steps_memory"))
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results_steps_memory.tsv")
    args = parser.parse_args()

    import pandas as pd
    from measure_step import measure
    from scale import ATLAS_PEAKS, COLUMNS, append_results, perturbed_genes

    from scact.simulate import write_truth_tables

    workdir = args.workdir / str(args.cells)
    workdir.mkdir(parents=True, exist_ok=True)
    steps = STEPS[STEPS.index(args.start_at):STEPS.index(args.stop_after) + 1]
    truth = None
    for first_step, output, simulate in (("parse", MATRIX, simulate_rna), ("atac-process", ATAC_MATRIX, simulate_atac)):
        if first_step in steps and not (workdir / output).is_file():
            start = time.monotonic()
            if truth is None:
                truth = truth_of(args.cells, args.genes, args.seed)
                write_truth_tables(workdir, truth)  # markers.tsv, annotation/tss.bed
            simulate(truth, workdir)
            print(f"simulated {output}: {args.cells:,} cells in {time.monotonic() - start:.0f} s", flush=True)
    del truth
    epochs = str(args.max_epochs)
    settings = {"rna-qc": f"--doublet-n-iters {args.doublet_n_iters}", "train": f"{args.max_epochs} epoch(s) per phase"}
    commands = {
        "parse": ["parse", "--sample", "sim", "--modality", "rna", "--input", MATRIX, "--outdir", "."],
        "rna-qc": ["rna-qc", "--input", "sim_rna.h5ad", "--sample", "sim", "--outdir", ".",
                   "--doublet-n-iters", str(args.doublet_n_iters), "--seed", str(args.seed)],
        "rna-process": ["rna-process", "--input", "sim_rna_qc.h5ad", "--markers", "markers.tsv", "--outdir", ".",
                        "--seed", str(args.seed)],
        "atac-process": ["atac-process", "--input", ATAC_MATRIX, "--annotation", "annotation/tss.bed", "--outdir", ".",
                         "--seed", str(args.seed)],
        "reconcile": ["reconcile", "--rna", "rna_processed.h5ad", "--atac", "atac_processed.h5ad", "--gene-activity",
                      "gene_activity.h5ad", "--markers", "markers.tsv", "--outdir", ".", "--seed", str(args.seed)],
        "train": ["train", "--rna", "rna.h5ad", "--atac", "atac.h5ad", "--outdir", ".", "--no-progress",
                  "--max-epochs-autoencoder", epochs, "--max-epochs-mapping", epochs, "--max-epochs-joint", epochs,
                  "--seed", str(args.seed)],
        "translate": ["translate", "--model", "model", "--rna", "rna.h5ad", "--atac", "atac.h5ad", "--outdir", "."],
        "evaluate": ["evaluate", "--rna", "rna.h5ad", "--atac", "atac.h5ad", "--rna-to-atac", "rna_to_atac.h5ad",
                     "--atac-to-rna", "atac_to_rna.h5ad", "--joint-embedding", "joint_embedding.h5ad",
                     "--gene-activity", "gene_activity.h5ad", "--outdir", "."],
        "perturb": ["perturb", "--model", "model", "--atac", "atac.h5ad", "--genes", "GENES",
                    "--annotation", "annotation/tss.bed", "--outdir", "."],
        "link": ["link", "--rna", "rna.h5ad", "--atac", "atac.h5ad", "--annotation", "annotation/tss.bed",
                 "--rna-to-atac", "rna_to_atac.h5ad", "--atac-to-rna", "atac_to_rna.h5ad", "--ig-dir", ".",
                 "--genes", "GENES", "--outdir", "."],
        "motifs": ["motifs", "--atac", "atac.h5ad", "--rna-to-atac", "rna_to_atac.h5ad", "--rna", "rna.h5ad",
                   "--outdir", "."],
    }
    if any(step in steps for step in ("perturb", "link")):
        from scact.evaluation.evaluate import read_h5ad_var_names

        genes = perturbed_genes(workdir / "markers.tsv", among=read_h5ad_var_names(workdir / "rna.h5ad"))
        commands = {name: [genes if word == "GENES" else word for word in command]
                    for name, command in commands.items()}
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for name in steps:
        (workdir / f"{name}.log").unlink(missing_ok=True)
        status, wall, cpu, peak = measure(commands[name], workdir, workdir / f"{name}.log", env)
        if status != 0:
            raise SystemExit(f"{name} failed ({status}); see {workdir / f'{name}.log'}")
        row = (args.cells, ATLAS_PEAKS, name.upper().replace("-", "_"), wall, cpu, peak,
               "; ".join(filter(None, ["no fragments (steps_memory.py)", settings.get(name)])))
        append_results(pd.DataFrame([row], columns=COLUMNS), args.results)
        print(f"{name}: {args.cells:,} cells, wall {wall:.0f} s, CPU {cpu:.0f} s, peak RSS {peak:.2f} GiB", flush=True)


if __name__ == "__main__":
    main()
