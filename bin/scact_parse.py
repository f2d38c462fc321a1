#!/usr/bin/env python3
"""Parse one samplesheet row into per-modality .h5ad files (see `scact parse --help`)."""
from scact.cli import run_script

run_script("parse")
