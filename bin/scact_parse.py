#!/usr/bin/env python3
"""Nextflow entry point of `scact parse` (see src/scact/cli/parse.py)."""
from scact.cli import run_script
run_script("parse")
