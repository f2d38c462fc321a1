#!/usr/bin/env python3
"""scact atac_process (see scact.cli.atac_process)."""
from scact.cli import run_script
run_script("atac_process")
