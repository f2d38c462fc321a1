#!/usr/bin/env python3
"""Check the parameters and the samplesheet (see `scact validate --help`)."""
from scact.cli import run_script

run_script("validate")
