"""Time and peak memory of simulating a large sample (default: the `large` preset, 100,000 cells).

    PYTHONPATH=src python benchmarks/simulate_large.py [--n-cells N] [--outdir DIR] [--keep]

Prints wall and CPU seconds, peak resident memory, and the sizes written. The output goes to a
temporary folder that is removed afterwards unless --outdir is given.
"""
from __future__ import annotations

import argparse
import logging
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

from scact.simulate import config_from_preset, simulate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="large")
    parser.add_argument("--n-cells", type=int)
    parser.add_argument("--outdir", type=Path, help="keep the output here (default: a removed temporary folder)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = config_from_preset(args.preset, n_cells=args.n_cells, seed=args.seed)
    outdir = args.outdir or Path(tempfile.mkdtemp(prefix="scact_simulate_large_"))
    wall, cpu = time.perf_counter(), time.process_time()
    truth = simulate_dataset(config, outdir)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    sizes = {p.name: p.stat().st_size / 2**20 for p in outdir.iterdir() if p.is_file()}
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"cells {config.n_cells} (+{truth.n_latent - config.n_cells} empty/doublet partners), "
          f"genes {config.n_genes}, peaks {config.n_peaks}, chromosomes {config.n_chromosomes}")
    print(f"wall {wall:.1f} s, cpu {cpu:.1f} s, peak RSS {peak_mib:.0f} MiB")
    for name, mib in sorted(sizes.items()):
        print(f"  {name}: {mib:.1f} MiB")
    if args.outdir is None:
        shutil.rmtree(outdir)


if __name__ == "__main__":
    main()
