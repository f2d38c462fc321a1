#!/usr/bin/env python3
"""Nextflow entry point of `scact evaluate` (see src/scact/cli/evaluate.py)."""
from scact.cli import run_script
run_script("evaluate")
