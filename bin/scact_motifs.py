#!/usr/bin/env python3
"""Nextflow entry point of `scact motifs` (see src/scact/cli/motifs.py)."""
from scact.cli import run_script
run_script("motifs")
