"""Build the run report: scact_report.html (self-contained), report_figures/, report_tables/, *_mqc files.

Finds the results by file name anywhere under --results (QC tables and h5ads, peaks.bed,
label_reconciliation.tsv, training_history.csv, model/model.json, joint_embedding.h5ad, rna_to_atac.h5ad,
atac_to_rna.h5ad, metrics.tsv, roc_curves.tsv, ig_summary.tsv, *_ig_peaks.tsv, links.tsv, versions,
execution trace); sections whose inputs are absent say so.
"""
from __future__ import annotations

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("--results", type=Path, help="folder holding the run's published results (searched recursively)")
    parser.add_argument("--samplesheet", type=Path, help="input samplesheet.csv (default: one found under --results)")
    parser.add_argument("--params", type=Path, help="params.json of the run (default: one found under --results)")
    parser.add_argument("--versions", type=Path, nargs="+", default=[],
                        help="software_versions.yml or versions.yml files (default: those found under --results)")
    parser.add_argument("--title", default="scACT report", help="title of the report")
    parser.add_argument("--outdir", type=Path, default=Path("."), help="folder for the report and its files")


def run(args) -> None:
    from scact.errors import input_error
    from scact.report import build_report

    for option, path in (("--samplesheet", args.samplesheet), ("--params", args.params)):
        if path is not None and not path.is_file():
            raise input_error(path, f"{option}: file not found")
    for path in args.versions:
        if not path.is_file():
            raise input_error(path, "--versions: file not found")
    build_report(args.results, args.outdir, samplesheet=args.samplesheet, params=args.params,
                 versions=args.versions, title=args.title)
