"""`scact run` end to end on the real data of $SCACT_DATA, split the ways users bring it (issue 12).

Each run builds its samplesheet from the public data, runs the whole local pipeline with `scact run`
(a subprocess, as a user would) and records its wall time, outcome and pairing into
`benchmarks/results_real_data_runs.tsv` (one row per run, replaced when a run is repeated):

- ``snare_unpaired``: SNARE-seq mouse cortex split, by a seeded permutation, into an RNA-only sample of half
  the cells and an ATAC-only sample of the other half (different sample ids, batches, no shared cell; labels
  from ``cluster (remapped)`` in each file). Translation cannot be scored: the report says so.
- ``pbmc_paired``: the 10x Multiome PBMC subset as two `.h5mu` rows (rna, atac) of one sample.
- ``pbmc_partly_paired``: a multiome `.h5mu` of half the PBMC cells plus an ATAC-only sample, the fragments
  of the other half.

The PBMC subset holds 45 genes and 174 peaks, so its count thresholds are lowered (``PBMC_PARAMS``); its
fragments cover only those regions, so TSS enrichment is not a usable filter there.

    SCACT_DATA=../shared/data PYTHONPATH=src nice -n 5 python benchmarks/real_data_runs.py \
        [--runs snare_unpaired pbmc_paired pbmc_partly_paired] [--workdir /tmp/scact_real_data_runs]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import anndata as ad
import mudata as md
import numpy as np
import pandas as pd

from scact.io.atomic import atomic_path
from scact.io.fragments import filter_fragments

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SCACT_DATA", REPO.parent / "shared" / "data")).resolve()
RESULTS = REPO / "benchmarks" / "results_real_data_runs.tsv"
COLUMNS = ["run", "pairing_case", "rna_cells", "atac_cells", "paired_cells", "scored_pairs", "steps", "status",
           "wall_s", "report", "machine", "command"]

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
    source = DATA / "pbmc_multiome_1k"
    multiome = md.read_h5mu(source / "rna_atac.h5mu")
    cells = multiome.obs_names.to_numpy()
    first, _ = _half_split(cells)
    paired_half = set(cells[first])
    multiome[multiome.obs_names.isin(paired_half)].copy().write(folder / "pbmc_half.h5mu")
    filter_fragments(source / "atac_fragments.tsv.gz", folder / "atac_fragments.tsv.gz", drop=paired_half)
    sheet = _write_sheet(folder / "samplesheet.csv", "sample,modality,input,batch", [
        f"pbmc_multiome,multiome,{folder / 'pbmc_half.h5mu'},run1",
        f"pbmc_atac,atac,{folder / 'atac_fragments.tsv.gz'},run2"])
    return sheet, PBMC_PARAMS


RUNS = {"snare_unpaired": snare_unpaired, "pbmc_paired": pbmc_paired, "pbmc_partly_paired": pbmc_partly_paired}


def _pairing(outdir: Path) -> dict:
    """The pairing rows evaluate wrote (cells per modality, cells named alike, pairs scored)."""
    metrics = outdir / "evaluation" / "metrics.tsv"
    if not metrics.exists():
        return {}
    table = pd.read_csv(metrics, sep="\t")
    rows = table[table["metric"].str.startswith("pairing/")].drop_duplicates("metric")
    values = {m.split("/", 1)[1]: int(v) for m, v in zip(rows["metric"], rows["value"])}
    values["pairing_case"] = ("unpaired" if values.get("paired_cells", 0) == 0 else
                              "paired" if values["paired_cells"] == min(values["rna_cells"], values["atac_cells"])
                              else "partly paired")
    return values


def run_one(name: str, workdir: Path) -> dict:
    folder = workdir / name
    folder.mkdir(parents=True, exist_ok=True)
    sheet, params = RUNS[name](folder)
    outdir = folder / "results"
    command = [str(Path(sys.executable).parent / "scact"), "run", "--input", str(sheet), "--outdir", str(outdir)]
    for key, value in params.items():
        command += [f"--{key}", str(value)]
    print(f"{name}: {' '.join(command)}", flush=True)
    start = time.monotonic()
    with open(folder / "run.log", "w") as log:
        exit_status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.monotonic() - start
    status = json.loads((outdir / "pipeline_info" / "run_status.json").read_text())
    trace = pd.read_csv(outdir / "pipeline_info" / "execution_trace.tsv", sep="\t")
    pairing = _pairing(outdir)
    row = {"run": name, "pairing_case": pairing.get("pairing_case", ""), "rna_cells": pairing.get("rna_cells", ""),
           "atac_cells": pairing.get("atac_cells", ""), "paired_cells": pairing.get("paired_cells", ""),
           "scored_pairs": pairing.get("scored_pairs", ""), "steps": trace["process"].nunique(),
           "status": f"{status.get('status')} (exit {exit_status})", "wall_s": round(wall),
           "report": (outdir / "report" / "scact_report.html").exists(),
           "machine": f"{platform.node()} {os.cpu_count()} cores",
           "command": " ".join(c.replace(str(DATA), "$SCACT_DATA").replace(str(workdir), "<workdir>")
                               for c in command[1:])}
    print(f"{name}: {row['status']} in {wall:.0f} s; {row['steps']} steps; {pairing}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/scact_real_data_runs"))
    args = parser.parse_args()
    table = pd.read_csv(RESULTS, sep="\t", dtype=str) if RESULTS.exists() else pd.DataFrame(columns=COLUMNS)
    for name in args.runs:
        row = run_one(name, args.workdir.resolve())
        table = pd.concat([table[table["run"] != name], pd.DataFrame([row])], ignore_index=True)
        with atomic_path(RESULTS) as tmp:
            table.to_csv(tmp, sep="\t", index=False)
    print(table.drop(columns=["command"]).to_string(index=False))


if __name__ == "__main__":
    main()
