#!/usr/bin/env python3
"""Nextflow entry point of `scact translate` (see src/scact/cli/translate.py)."""
from scact.cli import run_script
run_script("translate")
