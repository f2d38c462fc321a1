#!/usr/bin/env python3
"""scact translate (see scact/cli/translate.py)."""
from scact.cli import run_script
run_script("translate")
