#!/usr/bin/env python3
"""Nextflow entry point of `scact atac_qc` (see src/scact/cli/atac_qc.py)."""
from scact.cli import run_script
run_script("atac_qc")
