#!/usr/bin/env python3
"""Build the scACT run report (see `scact report --help`)."""
from scact.cli import run_script

run_script("report")
