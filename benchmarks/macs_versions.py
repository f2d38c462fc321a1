"""MACS2 beside MACS3 on real fragments: peak recall and time (issue 15, --macs_version).

    PYTHONPATH=src PATH=$PATH:/path/to/macs2-env/bin python benchmarks/macs_versions.py [--fragments F --h5mu M]

The pseudo-bulk of the 10x Multiome PBMC subset's cells (``$SCACT_DATA/pbmc_multiome_1k``: real fragments
around 174 CellRanger-arc peaks) goes through the pipeline's own insertion writer and ``run_macs`` with each
MACS release, with the options ``scact call_peaks`` uses (plus ``--nolambda``: the file holds only the
regions around those peaks, where MACS's local background would be inflated). Prints, per release, the
summits, the merged 501-bp peaks, the recall of CellRanger's peaks (overlapped by a called peak), the
overlap between the two releases, and the wall and CPU seconds of the MACS process.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from peak_calling_cap import overlapped_share as overlapped
from scact.preprocessing import atac

DATA = Path(os.environ.get("SCACT_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fragments", type=Path, default=DATA / "pbmc_multiome_1k" / "atac_fragments.tsv.gz")
    parser.add_argument("--h5mu", type=Path, default=DATA / "pbmc_multiome_1k" / "rna_atac.h5mu")
    args = parser.parse_args()
    import mudata

    cells = mudata.read_h5mu(args.h5mu).mod["atac"]
    reference = cells.var["interval"].str.extract(r"^(?P<chrom>[^:]+):(?P<start>\d+)-(?P<end>\d+)$")
    reference[["start", "end"]] = reference[["start", "end"]].astype(int)
    chroms = set(pd.read_csv(args.fragments, sep="\t", header=None, usecols=[0], comment="#")[0].astype(str))
    rows, peak_sets = [], {}
    with tempfile.TemporaryDirectory(prefix="macs_versions.") as tmp:
        beds, _ = atac.write_pseudobulk_insertions([(str(args.fragments), {b: "all" for b in cells.obs_names})],
                                                   Path(tmp), "cellranger", chroms)
        bed = next(iter(beds.values()))
        for version in atac.MACS_VERSIONS:
            if shutil.which(version) is None and not (Path(os.sys.executable).parent / version).exists():
                rows.append({"macs": version, "status": "not installed"})
                continue
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            narrow = atac.read_narrowpeak(atac.run_macs(bed, Path(tmp), version, "hs", 0.01, ["--nolambda"], version))
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            peaks = atac.fixed_width_merged_peaks(narrow)
            peak_sets[version] = peaks
            rows.append({"macs": version, "status": "ok", "summits": len(narrow), "peaks_501bp": len(peaks),
                         "recall_of_cellranger_peaks": round(overlapped(reference, peaks), 3),
                         "wall_s": round(wall, 1),
                         "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1)})
    table = pd.DataFrame(rows)
    print(f"{len(cells.obs_names)} cells, {len(reference)} CellRanger-arc peaks, insertions from {args.fragments.name}")
    print(table.to_string(index=False))
    if len(peak_sets) == 2:
        print(f"MACS2 peaks overlapped by MACS3 peaks: {overlapped(peak_sets['macs2'], peak_sets['macs3']):.3f}; "
              f"MACS3 peaks overlapped by MACS2 peaks: {overlapped(peak_sets['macs3'], peak_sets['macs2']):.3f}")


if __name__ == "__main__":
    main()
