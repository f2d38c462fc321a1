#!/usr/bin/env python3
"""scact atac_qc (see scact.cli.atac_qc)."""
from scact.cli import run_script
run_script("atac_qc")
