#!/usr/bin/env python3
"""Simulate a CellRanger-arc-style multiome sample with planted ground truth (scact simulate)."""
from scact.cli import run_script
run_script("simulate")
