#!/usr/bin/env python3
"""Nextflow entry point of `scact report` (see src/scact/cli/report.py)."""
from scact.cli import run_script
run_script("report")
