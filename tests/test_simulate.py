"""The simulator: deterministic, in CellRanger-arc's format, and with its planted structure visible."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pysam
import pytest
import scipy.sparse as sp

from scact.io.fragments import count_fragments_per_barcode, iter_fragments
from scact.io.samplesheet import read_samplesheet
from scact.io.tenx import read_10x_h5, write_10x_h5
from scact.simulate import config_from_preset, peak_cut_counts, planted_matrices, simulate_dataset

SMALL = dict(n_cells=60, n_genes=100, n_peaks=200, n_chromosomes=2, n_cell_types=2)


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory):
    """The fixture preset, simulated once for this module, with its CPU time."""
    outdir = tmp_path_factory.mktemp("sim") / "fixture"
    started = time.process_time()
    truth = simulate_dataset(config_from_preset("fixture", seed=3), outdir)
    return outdir, truth, time.process_time() - started


@pytest.fixture(scope="module")
def fragments(fixture_run) -> pd.DataFrame:
    outdir, _, _ = fixture_run
    return pd.read_csv(outdir / "atac_fragments.tsv.gz", sep="\t", header=None,
                       names=["chrom", "start", "end", "barcode", "count"])


@pytest.fixture(scope="module")
def cells(fixture_run) -> pd.DataFrame:
    outdir, _, _ = fixture_run
    return pd.read_csv(outdir / "ground_truth_cells.tsv", sep="\t", keep_default_na=False).set_index("barcode")


def test_fixture_preset_is_fast_and_writes_every_file(fixture_run):
    outdir, truth, cpu_seconds = fixture_run
    assert cpu_seconds < 10, f"fixture took {cpu_seconds:.1f} s of CPU"
    for name in ("filtered_feature_bc_matrix.h5", "atac_fragments.tsv.gz", "atac_fragments.tsv.gz.tbi",
                 "per_barcode_metrics.csv", "atac_peaks.bed", "annotation/tss.bed", "annotation/genes.gtf",
                 "annotation/chrom.sizes", "markers.tsv", "cell_labels.csv", "ground_truth_cells.tsv",
                 "ground_truth_links.tsv", "samplesheet.csv", "simulation.json"):
        assert (outdir / name).is_file(), name
    assert not list(outdir.glob(".*tmp*")), "temporary files left behind"
    sizes = pd.read_csv(outdir / "annotation" / "chrom.sizes", sep="\t", header=None)
    assert list(sizes[0]) == ["chr1", "chr2", "chrM"]
    tss = pd.read_csv(outdir / "annotation" / "tss.bed", sep="\t", header=None)
    assert tss.shape == (300, 6) and set(tss[5]) == {"+", "-"}
    assert ((tss[2] - tss[1]) == 1100).all()
    gtf = pd.read_csv(outdir / "annotation" / "genes.gtf", sep="\t", header=None)
    assert set(gtf[2]) == {"gene", "transcript", "exon"} and (gtf[3] <= gtf[4]).all()
    peaks = pd.read_csv(outdir / "atac_peaks.bed", sep="\t", header=None)
    assert len(peaks) == 900 and (peaks[1] < peaks[2]).all()
    markers = pd.read_csv(outdir / "markers.tsv", sep="\t")
    assert set(markers["cell_type"]) == set(truth.cell_types) and not markers["gene"].duplicated().any()


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path):
    config = config_from_preset("fixture", **SMALL, seed=7)
    for name in ("a", "b"):
        simulate_dataset(config, tmp_path / name)
    simulate_dataset(config_from_preset("fixture", **SMALL, seed=8), tmp_path / "c")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) >= 14
    for name in files:
        a, b = ((tmp_path / run / name).read_bytes() for run in ("a", "b"))
        if str(name) == "samplesheet.csv":  # holds each folder's absolute path
            a, b = a.replace(str(tmp_path / "a").encode(), b""), b.replace(str(tmp_path / "b").encode(), b"")
        assert a == b, name
    assert ((tmp_path / "a" / "atac_fragments.tsv.gz").read_bytes()
            != (tmp_path / "c" / "atac_fragments.tsv.gz").read_bytes())


def test_h5_has_the_10x_layout(fixture_run):
    outdir, truth, _ = fixture_run
    with h5py.File(outdir / "filtered_feature_bc_matrix.h5", "r") as handle:
        matrix = handle["matrix"]
        for key in ("barcodes", "data", "indices", "indptr", "shape"):
            assert key in matrix, key
        features = matrix["features"]
        for key in ("id", "name", "feature_type", "genome", "interval", "_all_tag_keys"):
            assert key in features, key
        assert [k.decode() for k in features["_all_tag_keys"][:]] == ["genome", "interval"]
        n_features, n_barcodes = matrix["shape"][:]
        assert (n_features, n_barcodes) == (300 + 900, 300)
        assert len(matrix["indptr"]) == n_barcodes + 1 and matrix["indptr"][-1] == len(matrix["data"])
        types = [t.decode() for t in features["feature_type"][:]]
        assert types == ["Gene Expression"] * 300 + ["Peaks"] * 900
        intervals = [i.decode() for i in features["interval"][:]]
        assert all(pd.Series(intervals).str.fullmatch(r"chr[0-9M]+:\d+-\d+"))
    rna = read_10x_h5(outdir / "filtered_feature_bc_matrix.h5", "rna")
    atac = read_10x_h5(outdir / "filtered_feature_bc_matrix.h5", "atac")
    assert rna.shape == (300, 300) and atac.shape == (300, 900)
    assert list(rna.obs_names) == list(truth.cells["barcode"])
    assert rna.var_names.str.startswith("mt-").sum() == 13
    assert (atac.var_names == atac.var["interval"]).all()


def test_peak_cut_counts_without_fragments_match_the_fragments_sparsity(fixture_run):
    """The atlas benchmarks' peak matrix (no fragment file) counts cuts on planted open peaks only, with the
    sparsity that the fragments give CellRanger's matrix."""
    outdir, truth, _ = fixture_run
    cuts = peak_cut_counts(truth)
    _, states = planted_matrices(truth)
    assert cuts.shape == states.shape == (300, 900)
    assert (cuts.data > 0).all() and (cuts.data % 2 == 0).all()
    assert (cuts.astype(bool) > states.astype(bool)).nnz == 0  # never on a closed peak
    from_fragments = read_10x_h5(outdir / "filtered_feature_bc_matrix.h5", "atac").X
    good = ~(truth.cells["is_doublet"] | truth.cells["is_low_quality"]).to_numpy()
    ratio = np.median(np.diff(cuts.indptr)[good]) / np.median(np.diff(sp.csr_matrix(from_fragments).indptr)[good])
    assert 0.6 < ratio < 1.4, ratio


def test_write_10x_h5_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    obs = pd.DataFrame(index=[f"BC{i}-1" for i in range(5)])
    rna = ad.AnnData(sp.csr_matrix(rng.poisson(2.0, (5, 4)).astype(np.float32)), obs=obs.copy(),
                     var=pd.DataFrame({"gene_ids": [f"G{i}" for i in range(4)]}, index=list("abcd")))
    atac = ad.AnnData(sp.csr_matrix(rng.poisson(1.0, (5, 3)).astype(np.float32)), obs=obs.copy(),
                      var=pd.DataFrame({"chrom": ["chr1"] * 3, "start": [10, 50, 90], "end": [20, 60, 99]},
                                       index=["p1", "p2", "p3"]))
    write_10x_h5(rna, atac, tmp_path / "m.h5", genome="test")
    back_rna, back_atac = read_10x_h5(tmp_path / "m.h5", "rna"), read_10x_h5(tmp_path / "m.h5", "atac")
    assert (back_rna.X != rna.X).nnz == 0 and (back_atac.X != atac.X).nnz == 0
    assert list(back_rna.var["gene_ids"]) == ["G0", "G1", "G2", "G3"]
    assert list(back_atac.var["interval"]) == ["chr1:10-20", "chr1:50-60", "chr1:90-99"]
    assert set(back_rna.var["genome"]) == {"test"} and list(back_rna.obs_names) == list(obs.index)
    write_10x_h5(rna, None, tmp_path / "rna_only.h5")
    assert read_10x_h5(tmp_path / "rna_only.h5").shape == (5, 4)


def test_fragments_are_sorted_indexed_and_match_the_metrics(fixture_run, fragments):
    outdir, _, _ = fixture_run
    path = outdir / "atac_fragments.tsv.gz"
    with pysam.TabixFile(str(path)) as tabix:
        assert list(tabix.contigs) == ["chr1", "chr2"]
        assert sum(1 for _ in tabix.fetch("chr2", 0, 100_000)) > 0
    assert (fragments.groupby("chrom", sort=False)["start"].apply(lambda s: s.is_monotonic_increasing)).all()
    assert not fragments.duplicated(["chrom", "start", "end", "barcode"]).any()
    assert (fragments["end"] > fragments["start"]).all() and (fragments["count"] >= 1).all()
    first = next(iter_fragments(path))
    assert first.chrom == "chr1" and first.count >= 1
    metrics = pd.read_csv(outdir / "per_barcode_metrics.csv").set_index("barcode")
    assert {"is_cell", "atac_fragments", "gex_umis_count", "atac_TSS_fragments",
            "atac_peak_region_fragments"} <= set(metrics.columns)
    counted = pd.Series(count_fragments_per_barcode(path))
    assert counted.sum() == len(fragments)
    assert (metrics.loc[counted.index, "atac_fragments"] == counted).all()
    assert metrics["is_cell"].sum() == 300 and len(metrics) > 300  # empty barcodes have fragments too
    rna = read_10x_h5(outdir / "filtered_feature_bc_matrix.h5", "rna")
    umis = np.asarray(rna.X.sum(axis=1)).ravel()
    assert (metrics.loc[rna.obs_names, "gex_umis_count"].to_numpy() == umis).all()


def _tss_enrichment(fragments: pd.DataFrame, tss: pd.DataFrame) -> pd.Series:
    """Per barcode: cut sites within 100 bp of a TSS per bp over cut sites 1,900-2,000 bp away per bp."""
    per_barcode = []
    for chrom, group in fragments.groupby("chrom"):
        rows = tss[tss[0] == chrom]  # windows 1,000 bp upstream to 100 bp downstream of the TSS
        sites = np.sort(np.where(rows[5] == "+", rows[2] - 100, rows[1] + 100))
        cuts = np.concatenate([group["start"].to_numpy(), group["end"].to_numpy() - 1])
        barcodes = np.concatenate([group["barcode"].to_numpy()] * 2)
        idx = np.clip(np.searchsorted(sites, cuts), 1, len(sites) - 1)
        distance = np.minimum(np.abs(cuts - sites[idx - 1]), np.abs(cuts - sites[idx]))
        per_barcode.append(pd.DataFrame({"barcode": barcodes, "center": distance <= 100,
                                         "flank": (distance >= 1900) & (distance < 2000)}))
    table = pd.concat(per_barcode).groupby("barcode")[["center", "flank"]].sum()
    return (table["center"] / 201) / ((table["flank"] + 1) / 200)


def test_planted_quality_tss_enrichment_depths_and_doublets(fixture_run, fragments, cells):
    outdir, _, _ = fixture_run
    tss = pd.read_csv(outdir / "annotation" / "tss.bed", sep="\t", header=None)
    enrichment = _tss_enrichment(fragments, tss).reindex(cells.index, fill_value=0)
    n_fragments = fragments["barcode"].value_counts().reindex(cells.index, fill_value=0)
    rna = read_10x_h5(outdir / "filtered_feature_bc_matrix.h5", "rna")
    umis = pd.Series(np.asarray(rna.X.sum(axis=1)).ravel(), index=rna.obs_names).loc[cells.index]
    good = ~cells["is_low_quality"] & ~cells["is_doublet"]
    reason = cells["low_quality_reason"]
    assert (enrichment[good] > 2).mean() > 0.95 and enrichment[good].median() > 4
    assert (enrichment[reason == "low_tss_enrichment"] < 2).all()
    assert (n_fragments[good] >= 1000).all() and n_fragments[good].median() >= 1500
    assert (n_fragments[reason == "low_fragments"] < 1000).all()
    assert (umis[good] > 200).all() and (umis[reason == "low_umis"] < 200).all()
    assert 1.6 < umis[cells["is_doublet"]].median() / umis[good].median() < 2.5
    assert 1.6 < n_fragments[cells["is_doublet"]].median() / n_fragments[good].median() < 2.5
    assert 0 < cells["is_doublet"].sum() and 0 < cells["is_low_quality"].sum()
    partner = cells.loc[cells["is_doublet"], "doublet_partner_type"]
    assert (partner != cells.loc[cells["is_doublet"], "cell_type"]).all()
    mt = rna[:, rna.var_names.str.startswith("mt-")].X.sum(axis=1).A1 / umis.to_numpy()
    assert np.median(mt[good.to_numpy()]) < 0.06 and np.median(mt[(reason == "low_umis").to_numpy()]) > 0.08


def test_planted_markers_and_links(fixture_run, cells):
    outdir, truth, _ = fixture_run
    rna = read_10x_h5(outdir / "filtered_feature_bc_matrix.h5", "rna")
    atac = read_10x_h5(outdir / "filtered_feature_bc_matrix.h5", "atac")
    good = (~cells["is_low_quality"] & ~cells["is_doublet"]).to_numpy()
    types = cells["cell_type"].to_numpy()[good]
    counts = rna.X[good]
    lognorm = np.log1p(counts.multiply(1e4 / counts.sum(axis=1)).toarray())
    markers = pd.read_csv(outdir / "markers.tsv", sep="\t")
    for cell_type, genes in markers.groupby("cell_type")["gene"]:
        columns = rna.var_names.get_indexer(genes)
        inside = lognorm[types == cell_type][:, columns].mean()
        outside = lognorm[types != cell_type][:, columns].mean()
        assert inside > outside + 1.0, cell_type
        # the marker loci are open in that type: its cells have more cut sites there
        loci = np.isin(truth.peaks["gene"].to_numpy(), truth.genes.index[truth.genes["gene"].isin(genes)])
        peak_counts = atac.X[good][:, loci]
        assert peak_counts[types == cell_type].mean() > 3 * peak_counts[types != cell_type].mean()

    links = pd.read_csv(outdir / "ground_truth_links.tsv", sep="\t")
    assert {"gene", "chrom", "start", "end", "effect"} <= set(links.columns) and (links["effect"] > 0).all()
    # within one cell type, a promoter link's gene is higher where its peak has cut sites
    promoter = links[links["is_promoter"]]
    peak_names = promoter["chrom"] + ":" + promoter["start"].astype(str) + "-" + promoter["end"].astype(str)
    gene_columns = rna.var_names.get_indexer(promoter["gene"])
    peak_columns = atac.var_names.get_indexer(peak_names)
    accessible = atac.X[good][:, peak_columns].toarray() > 0
    expression = lognorm[:, gene_columns]
    differences = []
    for cell_type in np.unique(types):
        rows = types == cell_type
        for j in range(len(promoter)):
            opened = accessible[rows, j]
            if 5 <= opened.sum() <= rows.sum() - 5:
                differences.append(expression[rows][opened, j].mean() - expression[rows][~opened, j].mean())
    assert len(differences) > 50 and np.mean(differences) > 0.3 and np.mean(np.array(differences) > 0) > 0.8


def test_samplesheets_are_valid_from_any_directory(fixture_run, tmp_path):
    outdir, _, _ = fixture_run
    rows = read_samplesheet(outdir / "samplesheet.csv", base_dir=tmp_path)
    assert [(r.sample, r.modality, r.input_format) for r in rows] == [("sim", "multiome", "cellranger_arc")]
    simulate_dataset(config_from_preset("fixture", **SMALL), tmp_path / "split", split=True)
    rows = read_samplesheet(tmp_path / "split" / "samplesheet.csv", base_dir=outdir)
    assert [(r.sample, r.modality, r.input_format) for r in rows] == [("sim", "rna", "10x_h5"),
                                                                       ("sim", "atac", "fragments")]
    assert read_10x_h5(rows[0].input, "rna").n_obs == SMALL["n_cells"]


@pytest.mark.slow
def test_cli_writes_the_folder_and_refuses_impossible_sizes(tmp_path, repo_root):
    script = repo_root / "bin" / "scact_simulate.py"
    env_python = [sys.executable, str(script)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo_root / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(env_python + ["--outdir", str(tmp_path / "out"), "--preset", "fixture", "--n-cells", "40",
                                        "--n-genes", "80", "--n-peaks", "160", "--n-cell-types", "2", "--seed", "1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert read_10x_h5(tmp_path / "out" / "filtered_feature_bc_matrix.h5", "rna").shape == (40, 80)
    assert (tmp_path / "versions.yml").is_file()
    bad = subprocess.run(env_python + ["--outdir", str(tmp_path / "bad"), "--preset", "fixture", "--n-peaks", "5"],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "--n-peaks" in bad.stderr and "Traceback" not in bad.stderr
    assert not Path(tmp_path / "bad" / "filtered_feature_bc_matrix.h5").exists()


def test_10x_h5_is_read_by_barcode_slices_keeping_one_modality(tmp_path):
    """Slices of a few entries give the same matrix as the whole file (atlas files are read in 16M-entry
    slices, so the other modality's entries are never held)."""
    from scact.io.tenx import _kept_rows_by_barcode

    x = sp.random(300, 500, density=0.1, format="csc", random_state=1)
    x.data = np.ceil(x.data * 5)
    keep = np.random.default_rng(0).random(300) < 0.4
    with h5py.File(tmp_path / "m.h5", "w") as handle:
        group = handle.create_group("matrix")
        group["data"], group["indices"], group["indptr"] = x.data.astype(np.int32), x.indices, x.indptr
        for chunk in (7, 100, 1 << 24):
            part = _kept_rows_by_barcode(group, keep, 500, chunk)
            assert part.indices.dtype == np.int32 and (part != x.T.tocsr()[:, keep]).nnz == 0
