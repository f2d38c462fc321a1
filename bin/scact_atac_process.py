#!/usr/bin/env python3
"""Nextflow entry point of `scact atac_process` (see src/scact/cli/atac_process.py)."""
from scact.cli import run_script
run_script("atac_process")
