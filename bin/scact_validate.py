#!/usr/bin/env python3
"""Nextflow entry point of `scact validate` (see src/scact/cli/validate.py)."""
from scact.cli import run_script
run_script("validate")
