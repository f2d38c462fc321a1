#!/usr/bin/env python3
"""Nextflow entry point of `scact simulate` (see src/scact/cli/simulate.py)."""
from scact.cli import run_script
run_script("simulate")
