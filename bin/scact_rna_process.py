#!/usr/bin/env python3
"""Nextflow entry point of `scact rna_process` (see src/scact/cli/rna_process.py)."""
from scact.cli import run_script
run_script("rna_process")
