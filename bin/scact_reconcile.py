#!/usr/bin/env python3
"""Reconcile cell-type labels across modalities and write rna.h5ad, atac.h5ad (see `scact reconcile --help`)."""
from scact.cli import run_script

run_script("reconcile")
