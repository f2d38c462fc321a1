#!/usr/bin/env python3
"""scact call_peaks (see scact.cli.call_peaks)."""
from scact.cli import run_script
run_script("call_peaks")
