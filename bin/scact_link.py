#!/usr/bin/env python3
"""Nextflow entry point of `scact link` (see src/scact/cli/link.py)."""
from scact.cli import run_script
run_script("link")
