#!/usr/bin/env python3
"""RNA cell QC of one sample (see `scact rna-qc --help`)."""
from scact.cli import run_script

run_script("rna_qc")
