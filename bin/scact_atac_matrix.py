#!/usr/bin/env python3
"""Nextflow entry point of `scact atac_matrix` (see src/scact/cli/atac_matrix.py)."""
from scact.cli import run_script
run_script("atac_matrix")
