"""Run one ``scact`` command as the pipeline's runner measures a task, and print its figures.

    PYTHONPATH=src python benchmarks/measure_step.py atac-process --input sim_atac_peaks.h5ad --outdir . ...

Prints the exit status, wall time, CPU time (user + system of the command's process tree) and peak resident
memory (``scact.pipeline.run_measured``, the trace's ``cpu_seconds`` and ``peak_rss_gb``); the command's
output goes to ``measure.log`` in the working directory. Used to re-measure single steps on the inputs of an
earlier run (docs/benchmarks_scale.md), and by ``steps_memory.py`` for each of its steps.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from scact.pipeline import run_measured


def measure(arguments: list[str], workdir: Path, log_path: Path,
            env: dict[str, str]) -> tuple[int, float, float, float]:
    """Exit status, wall seconds, CPU seconds and peak GiB of ``scact <arguments>`` run in ``workdir``."""
    start = time.monotonic()
    with open(log_path, "a") as log_file:
        status, cpu, peak = run_measured([sys.executable, "-c", "from scact.cli import main; main()", *arguments],
                                         workdir, log_file, env)
    return status, time.monotonic() - start, cpu, peak


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        raise SystemExit(__doc__)
    status, wall, cpu, peak = measure(sys.argv[1:], Path("."), Path("measure.log"), dict(os.environ))
    print(f"{sys.argv[1]}: exit {status}, wall {wall:.0f} s, CPU {cpu:.0f} s, peak RSS {peak:.2f} GiB", flush=True)
    raise SystemExit(status)


if __name__ == "__main__":
    main()
