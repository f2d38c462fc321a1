"""Small in-memory data sets with planted structure, for the unit tests of single steps and of the model.

``simulate_dataset`` (this package) writes whole CellRanger-arc samples for the end-to-end runs; the
generators here build what one step reads, at the size a unit test needs:

- ``planted_modalities``: unpaired (or paired) RNA and ATAC matrices of shared cell types and a continuous
  state, the inputs of the model;
- ``planted_paired``: paired RNA and ATAC whose genes and their peaks follow the cell type, with TSSs
  (evaluation and its baselines);
- ``planted_links``: paired cells whose genes are driven by planted peaks (linkage, integrated gradients);
- ``planted_rna_counts``: raw RNA counts with marker-gene types, low-quality barcodes and doublets (RNA QC,
  labels);
- ``planted_processed_atac``: a processed ATAC matrix and its gene activity (label reconciliation);
- ``planted_fragments``: a fragments file with good cells, low-quality barcodes and doublets, its peaks
  and TSSs (ATAC QC, peak calling), and ``parsed_atac_h5ad``, what ``parse`` writes for it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pysam
import scipy.sparse as sp

def _peak_table(chrom, start, width: int = 500) -> pd.DataFrame:
    """Peaks as ``var``: chrom, start, end, named ``chrom:start-end``."""
    var = pd.DataFrame({"chrom": chrom, "start": start, "end": start + width})
    var.index = [f"{c}:{s}-{e}" for c, s, e in zip(var.chrom, var.start, var.end)]
    return var


def planted_modalities(n_rna=300, n_atac=300, n_genes=60, chrom_peaks=(50, 30, 20), n_types=4, seed=0,
                       depth_effect=1.0, paired=False, shared_depth=False):
    """RNA (log1p CP10k) and ATAC (binary) cells drawn from shared types plus one continuous state.

    Each type has its own gene and peak programmes; a per-cell state in [0, 1] shifts a second programme
    in both modalities, so a good translation recovers more than the type mean. With ``paired`` the ATAC
    cells share the RNA cells' type and state (for scoring only), and with ``shared_depth`` also their
    relative sequencing depth (a deep RNA cell is a deep ATAC cell, as in co-assays).
    """
    rng = np.random.default_rng(seed)
    n_peaks = sum(chrom_peaks)
    type_genes = rng.gamma(0.6, 1.0, size=(n_types, n_genes)) + 0.05
    type_peaks = rng.beta(0.4, 2.0, size=(n_types, n_peaks))
    state_genes = rng.normal(0, 1.0, size=n_genes)
    state_peaks = rng.normal(0, 1.5, size=n_peaks)

    def cells(n):
        return rng.integers(0, n_types, n), rng.uniform(0, 1, n)

    rna_types, rna_state = cells(n_rna)
    atac_types, atac_state = (rna_types, rna_state) if paired else cells(n_atac)
    n_atac = len(atac_types)
    rna_depth = rng.lognormal(np.log(1500), 0.5 * depth_effect, n_rna)
    rates = type_genes[rna_types] * np.exp(np.outer(rna_state - 0.5, state_genes))
    rates = rates / rates.sum(1, keepdims=True)
    counts = rng.poisson(rates * rna_depth[:, None]).astype(np.float32)
    lib = counts.sum(1, keepdims=True).clip(1)
    rna = ad.AnnData(sp.csr_matrix(np.log1p(counts / lib * 1e4).astype(np.float32)),
                     obs=pd.DataFrame({"cell_type": [f"type{t}" for t in rna_types], "batch": "b1",
                                       "log_depth": np.log1p(lib.ravel())},
                                      index=[f"r{i}" for i in range(n_rna)]),
                     var=pd.DataFrame(index=[f"gene{i}" for i in range(n_genes)]))
    rna.layers["counts"] = sp.csr_matrix(counts)
    atac_scale = rng.lognormal(0, 0.4 * depth_effect, n_atac)
    if paired and shared_depth:
        atac_scale = np.exp(0.8 * (np.log(rna_depth) - np.log(1500)))
    logit = np.log(type_peaks[atac_types] / (1 - type_peaks[atac_types])) + np.outer(atac_state - 0.5, state_peaks)
    prob = np.clip(1 / (1 + np.exp(-logit)) * atac_scale[:, None], 0, 1)
    acc = (rng.uniform(size=prob.shape) < prob).astype(np.float32)
    chrom = np.repeat([f"chr{i + 1}" for i in range(len(chrom_peaks))], chrom_peaks)
    start = np.concatenate([np.arange(n) * 1000 + 100 for n in chrom_peaks])
    var = _peak_table(chrom, start)
    atac = ad.AnnData(sp.csr_matrix(acc),
                      obs=pd.DataFrame({"cell_type": [f"type{t}" for t in atac_types], "batch": "b1",
                                        "log_depth": np.log1p(acc.sum(1))},
                                       index=[f"a{i}" for i in range(n_atac)]),
                      var=var)
    return rna, atac


def planted_paired(n_cells=240, n_genes=60, peaks_per_gene=4, n_types=3, seed=0):
    """Paired RNA/ATAC: each gene's expression and its nearby peaks' accessibility follow the cell type."""
    rng = np.random.default_rng(seed)
    types = rng.integers(n_types, size=n_cells)
    program = rng.random((n_types, n_genes)) < 0.3
    expr = rng.poisson(1 + 6 * program[types]).astype(np.float32)
    rna = ad.AnnData(sp.csr_matrix(np.log1p(expr)),
                     obs=pd.DataFrame({"cell_type": [f"t{t}" for t in types]},
                                      index=[f"s:{i}" for i in range(n_cells)]),
                     var=pd.DataFrame(index=[f"g{j}" for j in range(n_genes)]))
    p = 0.03 + 0.5 * np.repeat(program[types], peaks_per_gene, axis=1)
    acc = (rng.random(p.shape) < p).astype(np.float32)
    starts = np.arange(n_genes * peaks_per_gene) * 1000 + 10_000
    var = _peak_table("chr1", starts, width=300)
    atac = ad.AnnData(sp.csr_matrix(acc), obs=rna.obs.copy(), var=var)
    tss = pd.DataFrame({"chrom": "chr1", "start": 10_000 + np.arange(n_genes) * 1000 * peaks_per_gene,
                        "gene": [f"g{j}" for j in range(n_genes)]})
    tss["end"] = tss["start"] + 1
    tss["tss"], tss["strand"] = tss["start"], "+"  # as scact.io.annotation.read_annotation gives it
    return rna, atac, tss


#: planted_links: cell types, planted peaks per gene, marker peaks per type.
N_TYPES, PLANTED_PER_GENE, MARKERS_PER_TYPE = 4, 5, 15


def planted_links(n_cells=800, n_peaks=240, seed=0):
    """Cells of 4 types; gene g (TSS on chr1 at 1 Mb * (g+1)) is driven by 5 planted peaks within 50 kb
    plus a cell-type offset, so that type-marker peaks correlate with it without driving it."""
    rng = np.random.default_rng(seed)
    types = rng.integers(0, N_TYPES, n_cells)
    chrom = np.array(["chr1"] * n_peaks)
    start = np.sort(rng.choice(np.arange(500_000, 6_000_000, 1000), n_peaks, replace=False))
    prob = np.full((n_cells, n_peaks), 0.05)
    genes, tss, planted_rows = [], [], []
    peak_ids = np.arange(n_peaks)
    used = set()
    for g in range(N_TYPES):
        position = 1_000_000 * (g + 1)
        near = [p for p in peak_ids[np.abs(start - position) < 50_000] if p not in used][:PLANTED_PER_GENE]
        while len(near) < PLANTED_PER_GENE:  # move free peaks into the window
            free = next(p for p in rng.permutation(n_peaks) if p not in used and abs(start[p] - position) >= 200_000)
            start[free] = next(s for s in position + rng.permutation(np.arange(-45, 45)) * 1000 if s not in start)
            near.append(free)
        used.update(near)
        genes.append(f"Gene{g}")
        tss.append(position)
        planted_rows += [(f"Gene{g}", p) for p in near]
    order = np.argsort(start, kind="stable")
    rank_of = np.empty(n_peaks, dtype=int)
    rank_of[order] = np.arange(n_peaks)
    start = start[order]
    planted_rows = [(gene, rank_of[p]) for gene, p in planted_rows]
    planted = {gene: [p for name, p in planted_rows if name == gene] for gene in genes}
    free = [p for p in range(n_peaks) if all(p not in v for v in planted.values())]
    markers = rng.permutation(free)[: N_TYPES * MARKERS_PER_TYPE].reshape(N_TYPES, MARKERS_PER_TYPE)
    for t in range(N_TYPES):
        prob[np.ix_(types == t, markers[t])] = 0.5
        prob[np.ix_(types == t, planted[genes[t]])] = 0.45
        for other in range(N_TYPES):
            if other != t:
                prob[np.ix_(types == t, planted[genes[other]])] = 0.12
    atac = (rng.random((n_cells, n_peaks)) < prob).astype(np.float32)
    expression = np.zeros((n_cells, len(genes)), dtype=np.float32)
    for g, gene in enumerate(genes):
        expression[:, g] = (atac[:, planted[gene]].sum(1) + 3.0 * (types == g)
                            + rng.normal(0, 0.5, n_cells))
    expression = np.clip(expression, 0, None)
    names = [f"s1:cell{i}" for i in range(n_cells)]
    obs = pd.DataFrame({"cell_type": [f"type{t}" for t in types]}, index=names)
    var = _peak_table(chrom, start)
    peak_names = list(var.index)
    atac_ad = ad.AnnData(sp.csr_matrix(atac), obs=obs.copy(), var=var)
    rna_ad = ad.AnnData(sp.csr_matrix(expression), obs=obs.copy(), var=pd.DataFrame(index=genes))
    tss_table = pd.DataFrame({"gene": genes, "chrom": "chr1", "tss": tss, "strand": "+"})
    truth = pd.DataFrame([(gene, peak_names[p]) for gene, peaks in planted.items() for p in peaks],
                         columns=["gene", "peak"])
    return rna_ad, atac_ad, tss_table, truth


#: Marker genes of the planted types (named like human PBMC markers so marker labelling can find them).
PLANTED_MARKERS = {
    "T cell": ["CD3D", "CD3E", "CD3G", "TRAC"],
    "B cell": ["MS4A1", "CD79A", "CD79B", "BANK1"],
    "Natural killer cell": ["GNLY", "KLRF1", "KLRD1", "NCR1"],
    "CD14+ Monocyte": ["CD14", "VCAN", "S100A8", "S100A9"],
}


def planted_rna_counts(n_good=400, n_low_quality=30, n_doublets=40, n_genes=600, seed=0, sample="s1"):
    """Raw counts AnnData; obs['planted'] is good/low_quality/doublet and obs['true_type'] the type."""
    rng = np.random.default_rng(seed)
    types = list(PLANTED_MARKERS)
    markers = [g for genes in PLANTED_MARKERS.values() for g in genes]
    genes = markers + ["MT-CO1", "MT-ND1"] + [f"GENE{i}" for i in range(n_genes - len(markers) - 2)]
    base = rng.gamma(0.6, 1.0, size=len(genes))
    base[len(markers):len(markers) + 2] = 3.0  # mitochondrial genes: a few percent of the counts
    profiles = np.tile(base, (len(types), 1))
    for t, name in enumerate(types):
        for gene in PLANTED_MARKERS[name]:
            profiles[t, genes.index(gene)] = 25.0
        # each type also has its own block of 40 background genes up, as real types differ widely
        block = len(markers) + 2 + 40 * t + np.arange(40)
        profiles[t, block] *= 6.0
    profiles /= profiles.sum(axis=1, keepdims=True)

    def draw(type_index, depth):
        return rng.poisson(profiles[type_index] * depth * rng.gamma(5.0, 0.2, size=len(genes)))

    true_type = rng.integers(0, len(types), size=n_good)
    rows = [draw(t, rng.lognormal(np.log(2500), 0.3)) for t in true_type]
    status = ["good"] * n_good
    labels = [types[t] for t in true_type]
    for _ in range(n_low_quality):
        t = rng.integers(len(types))
        rows.append(draw(t, rng.uniform(40, 150)))
        status.append("low_quality")
        labels.append(types[t])
    for _ in range(n_doublets):
        a, b = rng.choice(len(types), size=2, replace=False)
        rows.append(draw(a, rng.lognormal(np.log(2500), 0.3)) + draw(b, rng.lognormal(np.log(2500), 0.3)))
        status.append("doublet")
        labels.append(f"{types[a]}+{types[b]}")
    order = rng.permutation(len(rows))
    counts = sp.csr_matrix(np.vstack(rows)[order].astype(np.float32))
    barcodes = [f"BC{i:05d}-1" for i in range(len(rows))]
    obs = pd.DataFrame({"sample": sample, "batch": sample, "barcode": barcodes,
                        "planted": np.array(status)[order], "true_type": np.array(labels)[order]},
                       index=[f"{sample}:{b}" for b in barcodes])
    var = pd.DataFrame({"gene_ids": [f"ENSG{i:08d}" for i in range(len(genes))]}, index=genes)
    return ad.AnnData(counts, obs=obs, var=var)


def planted_processed_atac(n_cells=300, n_peaks=200, n_genes=120, seed=0, sample="a1", types=None):
    """An ``atac_processed.h5ad``-like AnnData (leiden per planted type) and its gene-activity AnnData.

    Gene activity is higher on the planted types' marker genes, so marker labelling can recover them.
    """
    rng = np.random.default_rng(seed)
    types = list(types or PLANTED_MARKERS)
    true_type = rng.integers(0, len(types), size=n_cells)
    names = [f"{sample}:ATAC{i:05d}-1" for i in range(n_cells)]
    open_rate = rng.uniform(0.02, 0.2, size=(len(types), n_peaks))
    accessible = sp.csr_matrix((rng.random((n_cells, n_peaks)) < open_rate[true_type]).astype(np.float32))
    chrom = np.repeat(["chr1", "chr2"], [n_peaks // 2, n_peaks - n_peaks // 2])
    start = np.concatenate([np.arange(n_peaks // 2), np.arange(n_peaks - n_peaks // 2)]) * 5000 + 1000
    var = _peak_table(chrom, start)
    n_fragments = rng.integers(1000, 20000, size=n_cells)
    obs = pd.DataFrame({"sample": sample, "batch": sample, "n_fragments": n_fragments,
                        "tss_enrichment": rng.uniform(4, 12, size=n_cells),
                        "leiden": pd.Categorical(true_type.astype(str)),
                        "true_type": np.array(types)[true_type]}, index=names)
    atac = ad.AnnData(accessible, obs=obs, var=var)
    atac.obsm["X_lsi"] = rng.normal(size=(n_cells, 20)).astype(np.float32)

    markers = [g for t in types for g in PLANTED_MARKERS.get(t, [])]
    genes = markers + [f"GENE{i}" for i in range(n_genes - len(markers))]
    rates = np.full((len(types), len(genes)), 2.0)
    for t, name in enumerate(types):
        for gene in PLANTED_MARKERS.get(name, []):
            rates[t, genes.index(gene)] = 12.0
    activity = sp.csr_matrix(rng.poisson(rates[true_type]).astype(np.float32))
    gene_activity = ad.AnnData(activity, obs=pd.DataFrame(index=names), var=pd.DataFrame(index=genes))
    return atac, gene_activity


#: The planted fragments' genome (chrM holds background only).
FRAGMENT_CHROM_SIZES = {"chr1": 1_500_000, "chr2": 1_000_000, "chr3": 800_000, "chrM": 16_000}


@dataclass
class PlantedFragments:
    """What ``planted_fragments`` wrote and planted."""

    fragments: Path
    tss_bed: Path
    peaks: pd.DataFrame
    kinds: pd.Series  # barcode -> good | low_fragments | low_tss | doublet
    cell_types: pd.Series  # barcode -> type of good cells
    doublet_types: pd.Series  # barcode -> 'typeA+typeB' of doublets (homotypic when A == B)
    genome_size: int = field(default=sum(FRAGMENT_CHROM_SIZES.values()))


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
    names = np.array(list(FRAGMENT_CHROM_SIZES))
    weights = np.array([FRAGMENT_CHROM_SIZES[c] for c in names], float)
    bg_chrom = rng.choice(names, n - n_peak, p=weights / weights.sum())
    bg_pos = (rng.random(n - n_peak) * np.array([FRAGMENT_CHROM_SIZES[c] for c in bg_chrom])).astype(np.int64)
    chosen = peaks.iloc[rng.choice(open_peaks, n_peak)]
    centre = ((chosen["start"] + chosen["end"]) // 2).to_numpy() + rng.normal(0, 60, n_peak).astype(np.int64)
    chroms = np.r_[chosen["chrom"].to_numpy(), bg_chrom]
    mids = np.r_[centre, bg_pos]
    length = np.where(rng.random(n) < 0.6, rng.integers(50, 150, n), rng.normal(200, 20, n).astype(np.int64))
    starts = np.maximum(mids - length // 2, 0)
    return _diploid(chroms.astype(str), starts, starts + length, rng)


def planted_fragments(outdir: Path, n_good=200, n_low_fragments=25, n_low_tss=25, n_doublets=25,
                      seed=0) -> PlantedFragments:
    """A tabix-indexed ``fragments.tsv.gz`` and ``tss.bed`` in ``outdir``: good cells, low-quality
    barcodes and doublets.

    Cells are diploid: each fragment lies on one of two copies and fragments of one copy never overlap,
    so a singlet never has three overlapping fragments, while a doublet (two cells' fragments under one
    barcode) does in its accessible peaks. Peaks sit at TSSs (half) or distal sites; three cell types open
    different subsets. Low-quality barcodes have few fragments or no enrichment at peaks/TSSs.
    """
    rng = np.random.default_rng(seed)
    outdir.mkdir(parents=True, exist_ok=True)
    tss_rows = []
    for chrom, size in FRAGMENT_CHROM_SIZES.items():
        if chrom == "chrM":
            continue
        for i, pos in enumerate(range(5_000, size - 5_000, 10_000)):
            tss_rows.append((chrom, pos, pos + 1, f"G{chrom[3:]}_{i}", 0, "+" if rng.random() < 0.5 else "-"))
    tss = pd.DataFrame(tss_rows, columns=["chrom", "start", "end", "gene", "score", "strand"])
    tss_bed = outdir / "tss.bed"
    tss.to_csv(tss_bed, sep="\t", header=False, index=False)
    at_tss = tss.sample(120, random_state=seed)
    distal = tss.sample(120, random_state=seed + 1)
    peaks = pd.concat([
        pd.DataFrame({"chrom": at_tss["chrom"], "start": at_tss["start"] - 250, "end": at_tss["start"] + 250}),
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
        fa = _cell_fragments(3000, 0.5, type_peaks[a % 3], peaks, rng)
        fb = _cell_fragments(3000, 0.5, type_peaks[b % 3], peaks, rng)
        barcode = f"DBLT{i:04d}-1"
        records.append((barcode, tuple(np.r_[x, y] for x, y in zip(fa, fb))))
        kinds[barcode] = "doublet"
        doublet_types[barcode] = f"type{a % 3}+type{b % 3}"
    frames = [pd.DataFrame({"chrom": c, "start": s, "end": e, "barcode": bc, "count": 1}) for bc, (c, s, e) in records]
    table = pd.concat(frames).drop_duplicates(["chrom", "start", "end", "barcode"])
    table["order"] = table["chrom"].map({c: i for i, c in enumerate(FRAGMENT_CHROM_SIZES)})
    table = table.sort_values(["order", "start", "end"]).drop(columns="order")
    plain = outdir / "fragments.tsv"
    table.to_csv(plain, sep="\t", header=False, index=False)
    fragments = outdir / "fragments.tsv.gz"
    pysam.tabix_compress(str(plain), str(fragments), force=True)
    pysam.tabix_index(str(fragments), preset="bed", force=True)
    plain.unlink()
    return PlantedFragments(fragments, tss_bed, peaks, pd.Series(kinds), pd.Series(types), pd.Series(doublet_types))


def parsed_atac_h5ad(planted: PlantedFragments, path: Path, sample: str = "sim") -> Path:
    """What ``parse`` writes for a fragments input: every barcode, 0 features."""
    barcodes = planted.kinds.index.to_numpy()
    obs = pd.DataFrame({"sample": sample, "batch": "b1", "barcode": barcodes},
                       index=[f"{sample}:{b}" for b in barcodes])
    adata = ad.AnnData(X=sp.csr_matrix((len(barcodes), 0), dtype=np.float32), obs=obs)
    adata.uns["fragments"] = planted.fragments.name
    adata.write_h5ad(path)
    return path
