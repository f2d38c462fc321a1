#!/usr/bin/env python3
"""Nextflow entry point of `scact train` (see src/scact/cli/train.py)."""
from scact.cli import run_script
run_script("train")
