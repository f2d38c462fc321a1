#!/usr/bin/env python3
"""Normalise, cluster and label the RNA cells of all samples (see `scact rna-process --help`)."""
from scact.cli import run_script

run_script("rna_process")
