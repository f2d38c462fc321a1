#!/usr/bin/env python3
"""Nextflow entry point of `scact perturb` (see src/scact/cli/perturb.py)."""
from scact.cli import run_script
run_script("perturb")
