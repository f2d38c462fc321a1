#!/usr/bin/env python3
"""scact atac_matrix (see scact.cli.atac_matrix)."""
from scact.cli import run_script
run_script("atac_matrix")
