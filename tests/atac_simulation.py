"""A small planted ATAC data set for tests: fragments with known good cells, low-quality barcodes,
doublets and peaks.

Cells are diploid: each fragment lies on one of two copies and fragments of one copy never overlap,
so a singlet never has three overlapping fragments, while a doublet (two cells' fragments under one
barcode) does in its accessible peaks. Peaks sit at TSSs (half) or distal sites; three cell types open
different subsets. Low-quality barcodes have few fragments or no enrichment at peaks/TSSs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pysam
import scipy.sparse as sp

CHROM_SIZES = {"chr1": 1_500_000, "chr2": 1_000_000, "chr3": 800_000, "chrM": 16_000}


@dataclass
class PlantedATAC:
    fragments: Path
    tss_bed: Path
    peaks: pd.DataFrame
    kinds: pd.Series  # barcode -> good | low_fragments | low_tss | doublet
    cell_types: pd.Series  # barcode -> type of good cells
    doublet_types: pd.Series  # barcode -> 'typeA+typeB' of doublets (homotypic when A == B)
    genome_size: int = field(default=sum(CHROM_SIZES.values()))


def _diploid(chroms, starts, ends, rng):
    """Drop fragments overlapping an earlier one on the same copy (cells have two copies per locus)."""
    copy = rng.integers(0, 2, len(starts))
    order = np.lexsort((starts, copy, chroms))
    chroms, starts, ends, copy = chroms[order], starts[order], ends[order], copy[order]
    group = np.r_[True, (chroms[1:] != chroms[:-1]) | (copy[1:] != copy[:-1])]
    # running max of the previous ends, restarted on each chromosome copy
    group_id = np.cumsum(group)
    previous_end = np.where(group, -1, np.r_[-1, ends[:-1]])
    running = pd.Series(previous_end).groupby(group_id).cummax().to_numpy()
    keep = starts >= running
    return chroms[keep], starts[keep], ends[keep]


def _cell_fragments(n, peak_fraction, open_peaks, peaks, rng):
    n_peak = rng.binomial(n, peak_fraction)
    names = np.array(list(CHROM_SIZES))
    weights = np.array([CHROM_SIZES[c] for c in names], float)
    bg_chrom = rng.choice(names, n - n_peak, p=weights / weights.sum())
    bg_pos = (rng.random(n - n_peak) * np.array([CHROM_SIZES[c] for c in bg_chrom])).astype(np.int64)
    chosen = peaks.iloc[rng.choice(open_peaks, n_peak)]
    centre = ((chosen["start"] + chosen["end"]) // 2).to_numpy() + rng.normal(0, 60, n_peak).astype(np.int64)
    chroms = np.r_[chosen["chrom"].to_numpy(), bg_chrom]
    mids = np.r_[centre, bg_pos]
    length = np.where(rng.random(n) < 0.6, rng.integers(50, 150, n), rng.normal(200, 20, n).astype(np.int64))
    starts = np.maximum(mids - length // 2, 0)
    return _diploid(chroms.astype(str), starts, starts + length, rng)


def simulate_atac(outdir: Path, n_good=200, n_low_fragments=25, n_low_tss=25, n_doublets=25, seed=0) -> PlantedATAC:
    rng = np.random.default_rng(seed)
    outdir.mkdir(parents=True, exist_ok=True)
    tss_rows = []
    for chrom, size in CHROM_SIZES.items():
        if chrom == "chrM":
            continue
        for i, pos in enumerate(range(5_000, size - 5_000, 10_000)):
            tss_rows.append((chrom, pos, pos + 1, f"G{chrom[3:]}_{i}", 0, "+" if rng.random() < 0.5 else "-"))
    tss = pd.DataFrame(tss_rows, columns=["chrom", "start", "end", "gene", "score", "strand"])
    tss_bed = outdir / "tss.bed"
    tss.to_csv(tss_bed, sep="\t", header=False, index=False)
    at_tss = tss.sample(120, random_state=seed)
    distal = tss.sample(120, random_state=seed + 1)
    peaks = pd.concat([pd.DataFrame({"chrom": at_tss["chrom"], "start": at_tss["start"] - 250, "end": at_tss["start"] + 250}),
                       pd.DataFrame({"chrom": distal["chrom"], "start": distal["start"] + 4_000, "end": distal["start"] + 4_500})])
    peaks = peaks.sort_values(["chrom", "start"]).reset_index(drop=True)
    type_peaks = [np.flatnonzero(rng.random(len(peaks)) < 0.6) for _ in range(3)]
    records, kinds, types, doublet_types = [], {}, {}, {}
    good = {}
    for i in range(n_good):
        cell_type = i % 3
        n = int(np.clip(rng.lognormal(np.log(3000), 0.3), 2000, 8000))
        good[f"GOOD{i:04d}-1"] = _cell_fragments(n, 0.5, type_peaks[cell_type], peaks, rng)
        types[f"GOOD{i:04d}-1"] = f"type{cell_type}"
    for barcode, fr in good.items():
        records.append((barcode, fr))
        kinds[barcode] = "good"
    for i in range(n_low_fragments):
        barcode = f"LOWF{i:04d}-1"
        records.append((barcode, _cell_fragments(int(rng.integers(100, 700)), 0.5, type_peaks[i % 3], peaks, rng)))
        kinds[barcode] = "low_fragments"
    for i in range(n_low_tss):
        barcode = f"LOWT{i:04d}-1"
        records.append((barcode, _cell_fragments(int(rng.integers(2000, 5000)), 0.0, type_peaks[0], peaks, rng)))
        kinds[barcode] = "low_tss"
    good_names = list(good)
    for i in range(n_doublets):
        a, b = rng.choice(len(good_names), 2, replace=False)
        fa, fb = _cell_fragments(3000, 0.5, type_peaks[a % 3], peaks, rng), _cell_fragments(3000, 0.5, type_peaks[b % 3], peaks, rng)
        barcode = f"DBLT{i:04d}-1"
        records.append((barcode, tuple(np.r_[x, y] for x, y in zip(fa, fb))))
        kinds[barcode] = "doublet"
        doublet_types[barcode] = f"type{a % 3}+type{b % 3}"
    frames = [pd.DataFrame({"chrom": c, "start": s, "end": e, "barcode": bc, "count": 1}) for bc, (c, s, e) in records]
    table = pd.concat(frames).drop_duplicates(["chrom", "start", "end", "barcode"])
    table["order"] = table["chrom"].map({c: i for i, c in enumerate(CHROM_SIZES)})
    table = table.sort_values(["order", "start", "end"]).drop(columns="order")
    plain = outdir / "fragments.tsv"
    table.to_csv(plain, sep="\t", header=False, index=False)
    fragments = outdir / "fragments.tsv.gz"
    pysam.tabix_compress(str(plain), str(fragments), force=True)
    pysam.tabix_index(str(fragments), preset="bed", force=True)
    plain.unlink()
    return PlantedATAC(fragments, tss_bed, peaks, pd.Series(kinds), pd.Series(types), pd.Series(doublet_types))


def parsed_atac_h5ad(planted: PlantedATAC, path: Path, sample: str = "sim") -> Path:
    """What ``parse`` writes for a fragments input: every barcode, 0 features."""
    barcodes = planted.kinds.index.to_numpy()
    obs = pd.DataFrame({"sample": sample, "batch": "b1", "barcode": barcodes}, index=[f"{sample}:{b}" for b in barcodes])
    adata = ad.AnnData(X=sp.csr_matrix((len(barcodes), 0), dtype=np.float32), obs=obs)
    adata.uns["fragments"] = planted.fragments.name
    adata.write_h5ad(path)
    return path
