"""`scact run` end to end on the real data of $SCACT_DATA, split the ways users bring it (issue 12).

Each run builds its samplesheet from the public data, runs the whole local pipeline with `scact run`
(a subprocess, as a user would) and records, from the run's own records, its outcome, wall and CPU time and
pairing into `benchmarks/results_real_data_runs.tsv` (one row per run, replaced when a run is repeated):

- ``snare_unpaired``: SNARE-seq mouse cortex split, by a seeded permutation, into an RNA-only sample of half
  the cells and an ATAC-only sample of the other half (different sample ids, batches, no shared cell; labels
  from ``cluster (remapped)`` in each file). Translation cannot be scored: the report says so.
- ``pbmc_paired``: the 10x Multiome PBMC subset as two `.h5mu` rows (rna, atac) of one sample.
- ``pbmc_partly_paired``: a multiome `.h5mu` of half the PBMC cells plus an ATAC-only sample (the `atac` row of
  an `.h5mu` of the other half).

The PBMC subset holds 45 genes and 174 peaks, so its count thresholds are lowered (``PBMC_PARAMS``). Its
fragments file is not used: it covers only those regions, where the median cell has 22 fragments and a tenth
of the 23,528 non-cell barcodes have more than 32, so no threshold tells cells from background (a first
partly paired run with an ATAC-only fragments sample kept 5,859 "cells").

    SCACT_DATA=../shared/data PYTHONPATH=src nice -n 5 python benchmarks/real_data_runs.py \
        [--runs snare_unpaired pbmc_paired pbmc_partly_paired] [--workdir /tmp/scact_real_data_runs] \
        [--summarise-only]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import anndata as ad
import mudata as md
import numpy as np
import pandas as pd

from scact.evaluation.evaluate import pairing_case
from scact.io.atomic import atomic_path, write_text

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SCACT_DATA", REPO.parent / "shared" / "data")).resolve()
RESULTS = REPO / "benchmarks" / "results_real_data_runs.tsv"
COLUMNS = ["run", "sheet", "pairing_case", "rna_cells", "atac_cells", "paired_cells", "scored_pairs", "processes",
           "status", "wall_s", "cpu_s", "report", "machine", "command"]

SNARE_PARAMS = {"annotation": DATA / "annotation" / "mm10_tss.bed", "min_peak_counts": 20,
                "genes": "Gad1,Slc17a7"}
PBMC_PARAMS = {"annotation": DATA / "annotation" / "hg38_tss.bed", "min_umis": 20, "min_genes": 5,
               "min_fragments": 20, "min_tss_enrichment": 0.0, "min_peak_counts": 5, "genes": "CD14,MS4A1"}


def _half_split(names: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves of ``names`` (seeded), each in its original order."""
    order = np.random.default_rng(seed).permutation(len(names))
    return np.sort(order[: len(names) // 2]), np.sort(order[len(names) // 2:])


def _write_sheet(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def snare_unpaired(folder: Path) -> tuple[Path, dict]:
    source = DATA / "snareseq_mouse_cortex"
    rna, atac = ad.read_h5ad(source / "rna.h5ad"), ad.read_h5ad(source / "atac.h5ad")
    first, second = _half_split(rna.obs_names.to_numpy())
    for name, data, cells in (("snare_rna", rna, first), ("snare_atac", atac, second)):
        part = data[cells].copy()
        part.obs["celltype"] = part.obs["cluster (remapped)"].astype(str)
        part.write_h5ad(folder / f"{name}.h5ad")
    sheet = _write_sheet(folder / "samplesheet.csv", "sample,modality,input,batch,labels", [
        f"snare_rna,rna,{folder / 'snare_rna.h5ad'},snare_rna_batch,obs:celltype",
        f"snare_atac,atac,{folder / 'snare_atac.h5ad'},snare_atac_batch,obs:celltype"])
    return sheet, SNARE_PARAMS


def pbmc_paired(folder: Path) -> tuple[Path, dict]:
    h5mu = DATA / "pbmc_multiome_1k" / "rna_atac.h5mu"
    sheet = _write_sheet(folder / "samplesheet.csv", "sample,modality,input",
                         [f"pbmc,rna,{h5mu}", f"pbmc,atac,{h5mu}"])
    return sheet, PBMC_PARAMS


def pbmc_partly_paired(folder: Path) -> tuple[Path, dict]:
    multiome = md.read_h5mu(DATA / "pbmc_multiome_1k" / "rna_atac.h5mu")
    first, second = _half_split(multiome.obs_names.to_numpy())
    multiome[first].copy().write(folder / "pbmc_half.h5mu")
    multiome[second].copy().write(folder / "pbmc_other_half.h5mu")
    sheet = _write_sheet(folder / "samplesheet.csv", "sample,modality,input,batch", [
        f"pbmc_multiome,multiome,{folder / 'pbmc_half.h5mu'},run1",
        f"pbmc_atac,atac,{folder / 'pbmc_other_half.h5mu'},run2"])
    return sheet, PBMC_PARAMS


RUNS = {"snare_unpaired": snare_unpaired, "pbmc_paired": pbmc_paired, "pbmc_partly_paired": pbmc_partly_paired}
#: What each samplesheet was built to be; `pairing_case` is what evaluate found after QC.
SHEETS = {"snare_unpaired": "unpaired", "pbmc_paired": "paired", "pbmc_partly_paired": "partly paired"}


def _pairing(outdir: Path) -> dict:
    """The pairing rows evaluate wrote (cells per modality, cells named alike, pairs scored), and the case the
    package names from them."""
    metrics = outdir / "evaluation" / "metrics.tsv"
    if not metrics.exists():
        return {}
    table = pd.read_csv(metrics, sep="\t")
    rows = table[table["metric"].str.startswith("pairing/")].drop_duplicates("metric")
    values = {m.split("/", 1)[1]: int(v) for m, v in zip(rows["metric"], rows["value"])}
    values["pairing_case"] = pairing_case(values["paired_cells"], values["rna_cells"], values["atac_cells"])
    return values


def run_one(name: str, workdir: Path) -> list[str]:
    """Build the run's samplesheet and run `scact run` on it; returns the command."""
    folder = workdir / name
    folder.mkdir(parents=True, exist_ok=True)
    sheet, params = RUNS[name](folder)
    command = [str(Path(sys.executable).parent / "scact"), "run", "--input", str(sheet), "--outdir",
               str(folder / "results")]
    for key, value in params.items():
        command += [f"--{key}", str(value)]
    print(f"{name}: {' '.join(command)}", flush=True)
    with open(folder / "run.log", "w") as log:
        subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
    write_text(folder / "command.txt", " ".join(command[1:]) + "\n")
    return command


def summarise(name: str, workdir: Path) -> dict:
    """One results row from a finished run's own records: run status (wall time), trace (CPU time per task),
    evaluate's pairing rows, the report."""
    outdir = workdir / name / "results"
    status = json.loads((outdir / "pipeline_info" / "run_status.json").read_text())
    trace = pd.read_csv(outdir / "pipeline_info" / "execution_trace.tsv", sep="\t")
    pairing = _pairing(outdir)
    command = (workdir / name / "command.txt").read_text().strip()
    row = {"run": name, "sheet": SHEETS[name], "pairing_case": pairing.get("pairing_case", ""),
           **{key: pairing.get(key, "") for key in ("rna_cells", "atac_cells", "paired_cells", "scored_pairs")},
           "processes": trace["process"].nunique(), "status": status["status"],
           "wall_s": round(status["seconds"]), "cpu_s": round(trace["cpu_seconds"].sum()),
           "report": (outdir / "report" / "scact_report.html").exists(),
           "machine": f"{platform.node()} {os.cpu_count()} cores",
           "command": command.replace(str(DATA), "$SCACT_DATA").replace(str(workdir), "<workdir>")}
    print(f"{name}: {row['status']} in {row['wall_s']} s ({row['cpu_s']} s CPU); {pairing}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/scact_real_data_runs"))
    parser.add_argument("--summarise-only", action="store_true",
                        help="only (re)write the rows of runs already in --workdir")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    rows = {row["run"]: row for row in pd.read_csv(RESULTS, sep="\t", dtype=str).to_dict("records")} \
        if RESULTS.exists() else {}
    for name in args.runs:
        if not args.summarise_only:
            run_one(name, workdir)
        rows[name] = summarise(name, workdir)
        table = pd.DataFrame(list(rows.values()), columns=COLUMNS)
        with atomic_path(RESULTS) as tmp:
            table.to_csv(tmp, sep="\t", index=False)
    print(table.drop(columns=["command"]).to_string(index=False))


if __name__ == "__main__":
    main()
