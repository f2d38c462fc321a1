#!/usr/bin/env python3
"""Nextflow entry point of `scact reconcile` (see src/scact/cli/reconcile.py)."""
from scact.cli import run_script
run_script("reconcile")
