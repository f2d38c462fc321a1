"""Atlas scale: time and memory of every pipeline step against the number of cells (issue 15).

    nice -n 10 env PYTHONPATH=src python benchmarks/scale.py --cells 10000 30000 100000 \\
        [--peaks 100000 --genes 20000] [--workdir /tmp/scale/bench] [-- --max_epochs_autoencoder 5 ...]

For each size: simulates a CellRanger-arc sample with the simulator (``scact.simulate``: 10x Multiome
sparsity, median 5,000 fragments per cell, 20 chromosomes), then runs the whole local pipeline (``scact run``,
the same bin/ scripts as the Nextflow processes) on it. Each step's wall time, CPU time (user + system of
the task's process tree) and peak resident memory (of the task's process tree) come from the runner's
trace (``pipeline_info/execution_trace.tsv``); the simulation is measured the same way. Rows are appended
to ``benchmarks/results_scale.tsv`` (cells, peaks, step, wall_s, cpu_s, peak_rss_gb, settings). Parameters
after ``--`` go to ``scact run`` (e.g. fewer epochs; they are recorded in ``settings``).

    PYTHONPATH=src python benchmarks/scale.py --collect --cells 30000 [-- <the run's parameters>]

adds the finished steps of a run that was stopped (the runner writes its trace after every task), and

    PYTHONPATH=src python benchmarks/scale.py --summarise

prints the table, the log-log slopes of time and memory against cells per step (least squares over the
sizes measured), and draws ``docs/benchmarks_scale.png``.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results_scale.tsv"
PLOT = ROOT / "docs" / "benchmarks_scale.png"
COLUMNS = ["cells", "peaks", "step", "wall_s", "cpu_s", "peak_rss_gb", "settings"]
TARGET_GB = 8.0
ATLAS_PEAKS = 100_000


def atlas_config(cells: int, peaks: int = ATLAS_PEAKS, genes: int = 20_000, seed: int = 0):
    """The scale benchmarks' sample: CellRanger-arc sparsity (median 5,000 fragments and 3,000 UMIs per
    cell), 10 cell types, 20 chromosomes."""
    from scact.simulate import config_from_preset

    return config_from_preset("large", n_cells=cells, n_peaks=peaks, n_genes=genes, n_chromosomes=20,
                              n_cell_types=10, median_fragments=5000, median_umis=3000, seed=seed)


def perturbed_genes(markers_tsv: Path, among=None) -> str:
    """The ``--genes`` of the scale runs: the first marker of each of the first two cell types (of those
    ``among`` the model's genes, when given)."""
    markers = pd.read_csv(markers_tsv, sep="\t")
    if among is not None:
        markers = markers[markers["gene"].isin(among)]
    return ",".join(markers.groupby("cell_type")["gene"].first().iloc[:2])


def simulate(outdir: Path, cells: int, peaks: int, genes: int, seed: int) -> None:
    """The simulated sample (run in a measured subprocess by :func:`measure_size`)."""
    import logging

    from scact.simulate import simulate_dataset

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    simulate_dataset(atlas_config(cells, peaks, genes, seed), outdir)


def measure_size(cells: int, peaks: int, genes: int, workdir: Path, run_params: list[str], seed: int,
                 results_tsv: Path) -> pd.DataFrame:
    """Simulate (its row is added to ``results_tsv`` at once, so a run stopped later keeps it) and run."""
    from scact.pipeline import run_measured

    data, results = workdir / f"data_{cells}", workdir / f"results_{cells}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    rows = []
    settings = " ".join(run_params) or "defaults"
    if not (data / "samplesheet.csv").is_file():
        shutil.rmtree(data, ignore_errors=True)
        start = time.monotonic()
        with open(workdir / f"simulate_{cells}.log", "w") as log_file:
            status, cpu, peak = run_measured([sys.executable, __file__, "--simulate-into", str(data), "--cells",
                                              str(cells), "--peaks", str(peaks), "--genes", str(genes),
                                              "--seed", str(seed)], workdir, log_file, env)
        if status != 0:
            raise SystemExit(f"simulation failed ({status}); see {workdir / f'simulate_{cells}.log'}")
        row = (cells, peaks, "SIMULATE", time.monotonic() - start, cpu, peak, f"seed {seed}")
        append_results(pd.DataFrame([row], columns=COLUMNS), results_tsv)
        print(f"{cells} cells: simulated in {row[3]:.0f} s, peak {peak:.2f} GiB", flush=True)
    genome_size = sum(int(line.split()[1]) for line in (data / "annotation" / "chrom.sizes").read_text().splitlines()
                      if line.strip() and not line.startswith("chrM"))
    genes_asked = perturbed_genes(data / "markers.tsv")
    shutil.rmtree(results, ignore_errors=True)
    argv = [sys.executable, "-c", "from scact.cli import main; main()", "run", "--input", str(data / "samplesheet.csv"),
            "--outdir", str(results), "--annotation", str(data / "annotation" / "tss.bed"),
            "--markers", str(data / "markers.tsv"), "--macs_genome_size", str(genome_size),
            "--genes", genes_asked, "--seed", str(seed), *run_params]
    start = time.monotonic()
    with open(workdir / f"run_{cells}.log", "w") as log_file:
        status, cpu, peak = run_measured(argv, workdir, log_file, env)
    wall = time.monotonic() - start
    rows += trace_rows(results, cells, peaks, settings, failed=status != 0)
    rows.append((cells, peaks, "WHOLE_RUN" + ("" if status == 0 else " (failed)"), wall, cpu, peak, settings))
    print(f"{cells} cells: scact run exit {status} in {wall:.0f} s; log {workdir / f'run_{cells}.log'}", flush=True)
    return pd.DataFrame(rows, columns=COLUMNS)


def trace_rows(results: Path, cells: int, peaks: int, settings: str, failed: bool) -> list[tuple]:
    """One row per task that ran in the run's trace (written after every task, so a stopped run keeps its
    finished steps; tasks reused by --resume have no figures of this run and are left out); in a failed run
    the failing task is marked."""
    trace_path = results / "pipeline_info" / "execution_trace.tsv"
    if not trace_path.is_file():
        return []
    rows = []
    for row in pd.read_csv(trace_path, sep="\t").itertuples():
        if row.status == "CACHED":
            continue
        step = row.process.removeprefix("SCACT_") + (" (failed)" if failed and row.exit != 0 else "")
        rows.append((cells, peaks, step, row.seconds, row.cpu_seconds, row.peak_rss_gb, settings))
    return rows


def append_results(frame: pd.DataFrame, results: Path) -> None:
    old = pd.read_csv(results, sep="\t") if results.is_file() else pd.DataFrame(columns=COLUMNS)
    keys = set(zip(frame["cells"], frame["peaks"], frame["step"]))
    old = old[[k not in keys for k in zip(old["cells"], old["peaks"], old["step"])]]
    merged = pd.concat([old, frame], ignore_index=True).sort_values(["cells", "peaks"], kind="stable")
    merged.round({"wall_s": 1, "cpu_s": 1, "peak_rss_gb": 3}).to_csv(results, sep="\t", index=False)


def slopes(table: pd.DataFrame, project_to: int = 100_000) -> pd.DataFrame:
    """Per step, least-squares slope of log(wall), log(cpu) and log(peak RSS) on log(cells), and CPU time
    and peak RSS extrapolated along the fit to ``project_to`` cells (a projection, not a measurement)."""
    out = []
    for step, group in table.groupby("step", sort=False):
        group = group.sort_values("cells")
        if group["cells"].nunique() < 2:
            continue
        x = np.log(group["cells"].to_numpy(float))
        row = {"step": step, "sizes": group["cells"].nunique()}
        for column in ("wall_s", "cpu_s", "peak_rss_gb"):
            y = group[column].to_numpy(float)
            ok = y > 0
            fit = np.polyfit(x[ok], np.log(y[ok]), 1) if ok.sum() >= 2 else (np.nan, np.nan)
            row[f"slope_{column}"] = float(fit[0])
            if column != "wall_s":
                row[f"{column}_at_{project_to}"] = float(np.exp(np.polyval(fit, np.log(project_to))))
        out.append(row)
    return pd.DataFrame(out)


def summarise(results: Path, plot_path: Path) -> None:
    table = pd.read_csv(results, sep="\t")
    wide = table.pivot_table(index="step", columns="cells", values=["wall_s", "cpu_s", "peak_rss_gb"],
                             aggfunc="first", sort=False)
    print("| step | " + " | ".join(f"{c:,} cells: wall s / CPU s / peak GiB" for c in sorted(table["cells"].unique()))
          + " |")
    print("|---|" + "---|" * table["cells"].nunique())
    for step in dict.fromkeys(table["step"]):
        cells = []
        for c in sorted(table["cells"].unique()):
            try:
                cells.append(f"{wide.loc[step, ('wall_s', c)]:.0f} / {wide.loc[step, ('cpu_s', c)]:.0f} / "
                             f"{wide.loc[step, ('peak_rss_gb', c)]:.2f}")
            except KeyError:
                cells.append("not run")
            cells[-1] = cells[-1].replace("nan / nan / nan", "not run")
        print(f"| {step} | " + " | ".join(cells) + " |")
    fitted = slopes(table)
    if len(fitted):
        print("\nlog-log slopes against cells (1 = linear), and the fit extrapolated to 100,000 cells:")
        print(fitted.round(2).to_string(index=False))
        over_projected = fitted[fitted["peak_rss_gb_at_100000"] > TARGET_GB]
        print(f"projected above {TARGET_GB:g} GiB at 100,000 cells: "
              + (", ".join(f"{r.step} ({r.peak_rss_gb_at_100000:.1f} GiB)" for r in over_projected.itertuples())
                 or "none"))
    over = table[table["peak_rss_gb"] > TARGET_GB]
    print(f"\nsteps above {TARGET_GB:g} GiB: " + (", ".join(f"{r.step} at {r.cells:,} cells ({r.peak_rss_gb:.1f} GiB)"
                                                   for r in over.itertuples()) or "none"))
    plot(table, plot_path)


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [s for s in dict.fromkeys(table["step"]) if s != "WHOLE_RUN"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for step in steps:
        rows = table[table["step"] == step].sort_values("cells")
        for ax, column in zip(axes, ("wall_s", "peak_rss_gb")):
            ax.plot(rows["cells"], rows[column], marker="o", label=step)
    for ax, label in zip(axes, ("wall time (s)", "peak RSS of the task's process tree (GiB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("cells")
        ax.set_ylabel(label)
    axes[1].axhline(TARGET_GB, color="0.5", ls=":", lw=1)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.suptitle(f"scACT pipeline steps vs cells ({int(table['peaks'].iloc[0]):,} simulated peaks)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--peaks", type=int, default=ATLAS_PEAKS)
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/scale/bench"))
    parser.add_argument("--results", type=Path, default=RESULTS, help="TSV the rows are added to")
    parser.add_argument("--plot", type=Path, default=PLOT, help="PNG of time and memory against cells")
    parser.add_argument("--summarise", action="store_true", help="only print the table and slopes, draw the plot")
    parser.add_argument("--collect", action="store_true",
                        help="add the finished steps of runs already in --workdir (e.g. one stopped by a deadline) "
                             "without running anything; give the run's parameters after -- as when it ran")
    parser.add_argument("--simulate-into", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("run_params", nargs="*", help="parameters for scact run, after --")
    args = parser.parse_args()
    if args.simulate_into:
        simulate(args.simulate_into, args.cells[0], args.peaks, args.genes, args.seed)
        return
    if args.summarise:
        summarise(args.results, args.plot)
        return
    if args.collect:
        settings = " ".join(args.run_params) or "defaults"
        for cells in args.cells:
            rows = trace_rows(args.workdir / f"results_{cells}", cells, args.peaks, settings, failed=False)
            if rows:
                append_results(pd.DataFrame(rows, columns=COLUMNS), args.results)
            print(f"{cells} cells: {len(rows)} finished steps collected", flush=True)
        summarise(args.results, args.plot)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}", flush=True)
    for cells in args.cells:
        append_results(measure_size(cells, args.peaks, args.genes, args.workdir, args.run_params, args.seed,
                                    args.results), args.results)
    summarise(args.results, args.plot)


if __name__ == "__main__":
    main()
