#!/usr/bin/env python3
"""Nextflow entry point of `scact call_peaks` (see src/scact/cli/call_peaks.py)."""
from scact.cli import run_script
run_script("call_peaks")
