"""MultiQC custom-content files (``*_mqc.tsv``, ``*_mqc.yaml``) so that MultiQC reports can pick up the run."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from scact.io.atomic import write_text


def _tsv(path: Path, header: dict, frame: pd.DataFrame) -> None:
    lines = [f"# {key}: {yaml.safe_dump(value, default_flow_style=True).strip()}" for key, value in header.items()]
    write_text(path, "\n".join(lines) + "\n" + frame.to_csv(sep="\t", index=False))


def write_multiqc(outdir: Path, qc: pd.DataFrame, metrics: pd.DataFrame | None) -> list[Path]:
    """QC table, cells-removed bar graph, general statistics and the metrics table; returns paths written."""
    written = []
    if len(qc):
        qc = qc.assign(id=qc["sample"] + "_" + qc["modality"])
        wide = qc.pivot_table(index="id", columns="reason", values="n_cells", aggfunc="sum", fill_value=0)
        wide = wide.reset_index().rename(columns={"id": "Sample"})
        wide.columns.name = None
        path = outdir / "scact_qc_mqc.tsv"
        _tsv(path, {"id": "scact_qc", "section_name": "scACT cell QC", "plot_type": "table",
                    "description": "Cells kept and removed per QC reason (first failed test), per sample and modality."},
             wide)
        written.append(path)
        removed = qc[~qc["reason"].isin(["total", "input_barcodes"])]
        data = {sample: {r: int(n) for r, n in zip(g["reason"], g["n_cells"])} for sample, g in removed.groupby("id")}
        path = outdir / "scact_qc_removed_mqc.yaml"
        write_text(path, yaml.safe_dump({"id": "scact_qc_removed", "section_name": "scACT cells removed",
                                         "description": "Cells kept and removed, by reason.", "plot_type": "bargraph",
                                         "pconfig": {"id": "scact_qc_removed_plot", "title": "scACT: QC outcome",
                                                     "ylab": "cells"}, "data": data}, sort_keys=False))
        written.append(path)
        general = qc[qc["reason"] == "kept"].pivot_table(index="sample", columns="modality", values="n_cells",
                                                         aggfunc="sum")
        general.columns = [f"{m}_cells_kept" for m in general.columns]
        general = general.reset_index().rename(columns={"sample": "Sample"})
        path = outdir / "scact_general_stats_mqc.tsv"
        _tsv(path, {"id": "scact_general_stats", "plot_type": "generalstats",
                    "pconfig": [{c: {"title": c.replace("_", " "), "format": "{:,.0f}"}} for c in general.columns[1:]]},
             general)
        written.append(path)
    if metrics is not None and len(metrics):
        wide = metrics.pivot_table(index="method", columns="metric", values="value", aggfunc="first").reset_index()
        wide.columns.name = None
        path = outdir / "scact_metrics_mqc.tsv"
        _tsv(path, {"id": "scact_metrics", "section_name": "scACT evaluation metrics", "plot_type": "table",
                    "description": "Translation and alignment metrics of scACT and the baselines (pairing as truth)."},
             wide.rename(columns={"method": "Sample"}))
        written.append(path)
    return written
