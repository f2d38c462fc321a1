#!/usr/bin/env python3
"""Train scACT on unpaired rna.h5ad and atac.h5ad (see `scact train --help`)."""
from scact.cli import run_script
run_script("train")
