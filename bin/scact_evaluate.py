#!/usr/bin/env python3
"""scact evaluate (see scact/cli/evaluate.py)."""
from scact.cli import run_script
run_script("evaluate")
