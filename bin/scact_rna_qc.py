#!/usr/bin/env python3
"""Nextflow entry point of `scact rna_qc` (see src/scact/cli/rna_qc.py)."""
from scact.cli import run_script
run_script("rna_qc")
