"""The end-of-run report: one self-contained HTML file, the PNG/TSV behind every figure, MultiQC files.

``build_report(results, outdir, ...)`` finds result files by name anywhere under ``results`` (so it reads
both the local runner's and Nextflow's published layouts) and turns each into a section; a section whose
inputs are absent says so instead of failing.
"""
from scact.report.build import build_report

__all__ = ["build_report"]
