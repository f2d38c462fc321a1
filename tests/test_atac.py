"""ATAC preprocessing: QC, MACS peaks, peak matrix, TF-IDF/LSI/Leiden, on planted_atac and real data, and bad input."""
from __future__ import annotations

import shutil
import warnings

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pysam
import pytest
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score

from scact.cli import run_command
from scact.errors import ScactInputError
from scact.io.annotation import read_annotation
from scact.io.fragments import count_fragments_per_barcode
from scact.io.tenx import read_10x_h5
from scact.preprocessing import atac
from scact.preprocessing.atac_steps import atac_matrix, atac_process, atac_qc, call_peaks
from scact.simulate import parsed_atac_h5ad


def _overlap_fraction(reference: pd.DataFrame, called: pd.DataFrame) -> float:
    """Fraction of ``reference`` intervals overlapped by at least one ``called`` interval."""
    hits = 0
    for chrom, start, end in reference[["chrom", "start", "end"]].itertuples(index=False):
        on = called[called["chrom"] == chrom]
        hits += bool(((on["start"] < end) & (on["end"] > start)).any())
    return hits / len(reference)


@pytest.fixture(scope="module")
def qc_done(planted_atac):
    folder = planted_atac.fragments.parent
    parsed = parsed_atac_h5ad(planted_atac, folder / "sim_atac.h5ad")
    kept = atac_qc(parsed, folder / "sim_atac_qc.h5ad", folder / "sim_atac_qc.tsv", fragments=planted_atac.fragments,
                   annotation=planted_atac.tss_bed, plot_prefix=folder / "sim_atac_qc")
    return folder, kept


@pytest.fixture(scope="module")
def peaks_done(planted_atac, qc_done):
    folder, _ = qc_done
    peaks = call_peaks([(folder / "sim_atac_qc.h5ad", planted_atac.fragments)], planted_atac.tss_bed,
                       folder / "peaks.bed", outdir=folder, genome_size=str(planted_atac.genome_size),
                       plot_path=folder / "peaks_per_chromosome.png")
    return folder, peaks


@pytest.fixture(scope="module")
def matrix_done(planted_atac, peaks_done):
    folder, _ = peaks_done
    return atac_matrix(folder / "sim_atac_qc.h5ad", folder / "peaks.bed", folder / "sim_atac_peaks.h5ad",
                       fragments=planted_atac.fragments)


@pytest.mark.slow
def test_qc_removes_planted_low_quality_and_doublets(planted_atac, qc_done):
    folder, kept = qc_done
    kept_barcodes = set(kept.obs["barcode"])
    removed = {kind: np.mean([b not in kept_barcodes for b in planted_atac.kinds.index[planted_atac.kinds == kind]])
               for kind in ("good", "low_fragments", "low_tss", "doublet")}
    assert removed["low_fragments"] >= 0.9 and removed["low_tss"] >= 0.9, removed
    assert removed["doublet"] >= 0.7, removed
    assert removed["good"] <= 0.05, removed
    table = pd.read_csv(folder / "sim_atac_qc.tsv", sep="\t")
    counts = dict(zip(table["reason"], table["n_barcodes"]))
    assert counts["input_barcodes"] == len(planted_atac.kinds)
    assert counts["kept"] == kept.n_obs
    removed = sum(v for k, v in counts.items() if k not in ("input_barcodes", "kept"))
    assert removed == len(planted_atac.kinds) - kept.n_obs
    assert {"n_fragments", "tss_enrichment", "log_depth"}.issubset(kept.obs.columns)
    assert "atac_qc" in kept.uns["scact"]
    for png in ("sim_atac_qc_fragments.png", "sim_atac_qc_tss_vs_fragments.png"):
        assert (folder / png).stat().st_size > 1000


@pytest.mark.slow
def test_metrics_do_not_depend_on_chunk_size(planted_atac):
    genes = read_annotation(planted_atac.tss_bed)
    whole, lengths = atac.fragment_metrics(planted_atac.fragments, genes)
    chunked, chunked_lengths = atac.fragment_metrics(planted_atac.fragments, genes, chunk_size=777)
    pd.testing.assert_frame_equal(whole.sort_index(), chunked.sort_index())
    assert (lengths == chunked_lengths).all()
    assert dict(count_fragments_per_barcode(planted_atac.fragments)) == whole["n_fragments"].to_dict()


@pytest.mark.slow
def test_peaks_recover_planted_peaks_in_genome_order(planted_atac, peaks_done):
    folder, peaks = peaks_done
    assert _overlap_fraction(planted_atac.peaks, peaks) >= 0.9
    assert "chrM" not in set(peaks["chrom"])
    dropped = pd.read_csv(folder / "dropped_chromosomes.tsv", sep="\t")
    assert dropped.set_index("chrom").loc["chrM", "n_fragments_dropped"] > 0
    ordered = atac.sort_genome_order(peaks[["chrom", "start", "end"]])
    assert (ordered.index == peaks.index).all()
    assert (peaks["end"] - peaks["start"] >= 501).all()
    assert (folder / "macs3_peaks.narrowPeak").exists()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("macs2") is None, reason="MACS2 is installed on its own (docs/atac_preprocessing.md)")
def test_macs2_recovers_the_same_planted_peaks(planted_atac, qc_done, tmp_path):
    folder, _ = qc_done
    peaks = call_peaks([(folder / "sim_atac_qc.h5ad", planted_atac.fragments)], planted_atac.tss_bed,
                       tmp_path / "peaks.bed", outdir=tmp_path, genome_size=str(planted_atac.genome_size),
                       macs_version="macs2")
    assert _overlap_fraction(planted_atac.peaks, peaks) >= 0.9
    assert "MACS version 2.2.9.1" in (tmp_path / "macs2_peaks.xls").read_text()


def test_tfidf_in_blocks_matches_the_formula():
    """TF-IDF is built a block of cells at a time (atlas memory); the values are Signac's formula, the peak
    scores are its column sums, and a peak subset keeps the depths over all peaks."""
    rng = np.random.default_rng(0)
    counts = sp.random(20_000, 300, density=0.05, format="csr", random_state=1, dtype=np.float32)
    counts.data = rng.integers(1, 4, counts.nnz).astype(np.float32)
    binary = atac.binarize(counts)
    dense = binary.toarray().astype(np.float64)
    cell_totals, peak_totals = dense.sum(axis=1), dense.sum(axis=0)
    expected = np.log1p(dense / np.maximum(cell_totals, 1)[:, None] * 20_000 / np.maximum(peak_totals, 1) * 1e4)
    weights = atac.tfidf(binary)
    assert weights.dtype == np.float32 and weights.nnz == binary.nnz
    assert np.allclose(weights.toarray(), expected, rtol=1e-6)
    assert np.allclose(atac.tfidf_peak_scores(binary), expected.sum(axis=0))
    subset = atac.tfidf(binary[:, 100:200], cell_totals=cell_totals)
    assert np.allclose(subset.toarray(), expected[:, 100:200], rtol=1e-6)
    in_place = atac.binarize(counts.copy(), copy=False)
    assert (in_place != binary).nnz == 0 and set(np.unique(in_place.data)) == {1.0}


@pytest.mark.slow
def test_matrix_and_process_recover_cell_types(planted_atac, peaks_done, matrix_done):
    folder, peaks = peaks_done
    matrix = matrix_done
    assert matrix.n_vars == len(peaks) and matrix.X.nnz > 0
    out = atac_process([str(folder / "sim_atac_peaks.h5ad")], folder / "atac_processed.h5ad",
                       folder / "gene_activity.h5ad", annotation=planted_atac.tss_bed, n_top_peaks=150, seed=0)
    written = ad.read_h5ad(folder / "atac_processed.h5ad")
    assert written.n_vars == 150 and set(np.unique(written.X.data)) == {1.0} and written.X.dtype == np.float32
    assert (atac.sort_genome_order(written.var).index == written.var.index).all()
    assert written.obsm["X_lsi"].shape == (written.n_obs, 20)
    assert {"sample", "batch", "n_fragments", "tss_enrichment", "log_depth", "leiden"}.issubset(written.obs.columns)
    truth = planted_atac.cell_types.reindex(written.obs["barcode"].astype(str).to_numpy()).to_numpy()
    assert adjusted_rand_score(truth, written.obs["leiden"]) > 0.8
    assert out.uns["lsi"]["dropped_component"] == 0  # the first component tracks depth here
    activity = ad.read_h5ad(folder / "gene_activity.h5ad")
    assert activity.n_obs == written.n_obs and activity.layers["counts"].nnz > 0
    counts = activity.layers["counts"].toarray().astype(np.float64)
    assert activity.X.dtype == np.float32
    cp10k = counts * 1e4 / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    assert np.allclose(np.expm1(activity.X.toarray()), cp10k, rtol=1e-4)
    again = atac_process([str(folder / "sim_atac_peaks.h5ad")], folder / "again.h5ad", folder / "again_ga.h5ad",
                         n_top_peaks=150, seed=0)
    assert np.allclose(again.obsm["X_lsi"], out.obsm["X_lsi"])


@pytest.mark.slow
def test_process_joins_samples_as_one(peaks_done, matrix_done, tmp_path):
    """Two samples are concatenated, a lone one is binarized in place: the same cells give the same result."""
    folder, _ = peaks_done
    whole = ad.read_h5ad(folder / "sim_atac_peaks.h5ad")
    halves = []
    for i, part in enumerate((whole[: whole.n_obs // 2], whole[whole.n_obs // 2:])):
        part.write_h5ad(tmp_path / f"s{i}.h5ad")
        halves.append(str(tmp_path / f"s{i}.h5ad"))
    joined = atac_process(halves, tmp_path / "joined.h5ad", tmp_path / "joined_ga.h5ad", n_top_peaks=150, seed=0)
    single = atac_process([str(folder / "sim_atac_peaks.h5ad")], tmp_path / "single.h5ad", tmp_path / "single_ga.h5ad",
                          n_top_peaks=150, seed=0)
    assert joined.obs_names.equals(single.obs_names) and joined.var_names.equals(single.var_names)
    assert (joined.X != single.X).nnz == 0
    assert np.allclose(np.abs(joined.obsm["X_lsi"]), np.abs(single.obsm["X_lsi"]), atol=1e-4)
    assert (ad.read_h5ad(folder / "sim_atac_peaks.h5ad").X != whole.X).nnz == 0  # the input file is untouched


@pytest.mark.slow
def test_real_pbmc_peaks_recover_cellranger_peaks(shared_data, tmp_path):
    """MACS on every barcode of the real fragments vs the CellRanger-arc peaks of the same run.

    The fragments file only holds regions near 45 genes: CellRanger peaks with no fragment in it cannot be
    recovered by any caller, so recovery is measured on the peaks the file covers (and reported for all)."""
    import mudata

    fragments = shared_data / "pbmc_multiome_1k" / "atac_fragments.tsv.gz"
    annotation = shared_data / "annotation" / "hg38_tss.bed"
    counts = count_fragments_per_barcode(fragments)
    barcodes = sorted(counts)
    obs = pd.DataFrame({"sample": "pbmc", "batch": "b1", "barcode": barcodes}, index=[f"pbmc:{b}" for b in barcodes])
    qc_input = tmp_path / "pbmc_atac_qc.h5ad"
    ad.AnnData(obs=obs).write_h5ad(qc_input)
    peaks = call_peaks([(qc_input, fragments)], annotation, tmp_path / "peaks.bed", outdir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        var = mudata.read_h5mu(shared_data / "pbmc_multiome_1k" / "rna_atac.h5mu").mod["atac"].var
    reference = var["interval"].str.extract(r"^(?P<chrom>[^:]+):(?P<start>\d+)-(?P<end>\d+)$")
    reference[["start", "end"]] = reference[["start", "end"]].astype(np.int64)
    with pysam.TabixFile(str(fragments)) as tabix:
        covered = np.array([chrom in tabix.contigs and any(True for _ in tabix.fetch(chrom, start, end))
                            for chrom, start, end in reference.itertuples(index=False)])
    recovered_covered = _overlap_fraction(reference[covered], peaks)
    print(f"CellRanger-arc peaks recovered: {recovered_covered:.3f} of {covered.sum()} covered by the fragments; "
          f"{_overlap_fraction(reference, peaks):.3f} of all {len(reference)}")
    assert recovered_covered >= 0.8


def test_real_pbmc_tss_enrichment(shared_data):
    fragments = shared_data / "pbmc_multiome_1k" / "atac_fragments.tsv.gz"
    genes = read_annotation(shared_data / "annotation" / "hg38_tss.bed")
    metrics, lengths = atac.fragment_metrics(fragments, genes)
    busy = metrics[metrics["n_fragments"] >= 50]
    assert busy["tss_enrichment"].median() > 2  # real cells pile insertions on TSSs
    assert lengths[:147].sum() > lengths[147:].sum() * 0.5  # nucleosome-free fragments are common


def test_annotation_readers(shared_data):
    gtf = read_annotation(shared_data / "annotation" / "gencode_v29_chr1_sample.gtf.gz")
    ddx = gtf[gtf["gene"] == "DDX11L1"].iloc[0]
    assert (ddx["chrom"], ddx["start"], ddx["end"], ddx["tss"], ddx["strand"]) == ("chr1", 11868, 14409, 11868, "+")
    minus = gtf[gtf["strand"] == "-"].iloc[0]
    assert minus["tss"] == minus["end"] - 1
    tss = read_annotation(shared_data / "annotation" / "hg38_tss.bed")
    copg2 = tss[tss["gene"] == "COPG2"].iloc[0]  # window 130668658-130669758 on '-': TSS 100 bp inside
    assert copg2["tss"] == 130668658 + 100


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.slow
def test_fragments_without_index(planted_atac, tmp_path):
    copy = tmp_path / "frags.tsv.gz"
    shutil.copy(planted_atac.fragments, copy)
    with pytest.raises(ScactInputError, match="no tabix index.*tabix -p bed"):
        count_fragments_per_barcode(copy)


def test_unsorted_and_malformed_fragments(tmp_path, monkeypatch):
    unsorted = tmp_path / "unsorted.tsv"
    unsorted.write_text("chr1\t500\t600\tA\t1\nchr2\t100\t200\tA\t1\nchr1\t700\t800\tB\t1\n")
    pysam.tabix_compress(str(unsorted), str(unsorted) + ".gz")
    with pytest.raises(ScactInputError, match="no tabix index.*sort -k1,1 -k2,2n"):  # tabix cannot index it
        count_fragments_per_barcode(str(unsorted) + ".gz")
    import scact.io.fragments as fragments_module

    monkeypatch.setattr(fragments_module, "open_fragments", lambda path: open(path, "rb"))  # skip the index check
    with pytest.raises(ScactInputError, match="not sorted.*sort -k1,1 -k2,2n"):  # caught while streaming too
        count_fragments_per_barcode(str(unsorted) + ".gz")
    monkeypatch.undo()
    malformed = tmp_path / "malformed.tsv"
    malformed.write_text("chr1\t500\t600\nchr1\t700\t800\n")  # no barcode column
    pysam.tabix_compress(str(malformed), str(malformed) + ".gz")
    pysam.tabix_index(str(malformed) + ".gz", preset="bed")
    with pytest.raises(ScactInputError, match="malformed"):
        count_fragments_per_barcode(str(malformed) + ".gz")


@pytest.mark.slow
def test_barcodes_matching_no_cells(planted_atac, tmp_path):
    obs = pd.DataFrame({"sample": "x", "batch": "b", "barcode": ["NOPE-1", "NOPE-2"]}, index=["x:NOPE-1", "x:NOPE-2"])
    ad.AnnData(obs=obs).write_h5ad(tmp_path / "x_atac.h5ad")
    code = run_command("atac_qc", ["--input", str(tmp_path / "x_atac.h5ad"),
                                   "--fragments", str(planted_atac.fragments),
                                   "--annotation", str(planted_atac.tss_bed), "--outdir", str(tmp_path),
                                   "--no-versions"])
    assert code == 2
    assert not list(tmp_path.glob("x_atac_qc*"))


@pytest.mark.slow
def test_annotation_with_no_shared_chromosome(planted_atac, qc_done, tmp_path):
    renamed = tmp_path / "tss_nochr.bed"
    renamed.write_text(planted_atac.tss_bed.read_text().replace("chr", ""))
    with pytest.raises(ScactInputError, match="no chromosome in common.*'chr' prefix"):
        atac_qc(qc_done[0] / "sim_atac.h5ad", tmp_path / "o.h5ad", tmp_path / "o.tsv",
                fragments=planted_atac.fragments, annotation=renamed)
    assert not (tmp_path / "o.h5ad").exists()


@pytest.mark.slow
def test_threshold_removing_every_cell(planted_atac, qc_done, tmp_path):
    code = run_command("atac_qc", ["--input", str(qc_done[0] / "sim_atac.h5ad"),
                                   "--fragments", str(planted_atac.fragments),
                                   "--annotation", str(planted_atac.tss_bed), "--min-fragments", "10000000",
                                   "--outdir", str(tmp_path), "--no-versions"])
    assert code == 2
    assert not list(tmp_path.glob("*.h5ad")) and not list(tmp_path.glob("*.tsv"))


def test_h5_without_peaks(tmp_path):
    path = tmp_path / "rna_only.h5"
    with h5py.File(path, "w") as handle:
        group = handle.create_group("matrix")
        group["barcodes"] = np.array([b"AAA-1", b"CCC-1"])
        group["data"] = np.array([1, 2], dtype=np.int32)
        group["indices"] = np.array([0, 0], dtype=np.int64)
        group["indptr"] = np.array([0, 1, 2], dtype=np.int64)
        group["shape"] = np.array([1, 2], dtype=np.int32)
        features = group.create_group("features")
        features["id"] = np.array([b"ENSG1"])
        features["name"] = np.array([b"CD3E"])
        features["feature_type"] = np.array([b"Gene Expression"])
    with pytest.raises(ScactInputError, match="no 'Peaks' features"):
        read_10x_h5(path, "atac")


@pytest.mark.slow
def test_peak_count_input_without_fragments(tmp_path, planted_atac, peaks_done, matrix_done):
    """A peak-count h5ad skips fragment steps: filtered on counts, remapped onto the shared peaks."""
    folder, peaks = peaks_done
    counts = ad.read_h5ad(folder / "sim_atac_peaks.h5ad")
    given = ad.AnnData(X=counts.X.copy(), obs=counts.obs[["sample", "batch", "barcode"]].copy(), var=counts.var.copy())
    given.write_h5ad(tmp_path / "given_atac.h5ad")
    kept = atac_qc(tmp_path / "given_atac.h5ad", tmp_path / "q.h5ad", tmp_path / "q.tsv", min_peak_counts=100)
    assert kept.obs["tss_enrichment"].isna().all() and kept.n_obs > 0
    remapped = atac_matrix(tmp_path / "q.h5ad", folder / "peaks.bed", tmp_path / "p.h5ad")
    assert remapped.n_vars == len(peaks)
    assert np.allclose(remapped.X.toarray(), counts[kept.obs_names].X.toarray())


@pytest.mark.slow
def test_cellranger_cell_calls_respected(planted_atac, qc_done, tmp_path):
    """With CellRanger-arc's per_barcode_metrics.csv only its is_cell barcodes can be kept."""
    barcodes = planted_atac.kinds.index.to_numpy()
    called = set(barcodes[::2])
    pd.DataFrame({"barcode": barcodes, "is_cell": [int(b in called) for b in barcodes]}).to_csv(
        tmp_path / "per_barcode_metrics.csv", index=False)
    kept = atac_qc(qc_done[0] / "sim_atac.h5ad", tmp_path / "q.h5ad", tmp_path / "q.tsv",
                   fragments=planted_atac.fragments, annotation=planted_atac.tss_bed,
                   cell_metrics=tmp_path / "per_barcode_metrics.csv")
    assert set(kept.obs["barcode"]) <= called and kept.n_obs > 0
    table = pd.read_csv(tmp_path / "q.tsv", sep="\t").set_index("reason")["n_barcodes"]
    assert table["not_called_by_cellranger"] == len(barcodes) - len(called)


@pytest.mark.parametrize("command", ["atac_qc", "call_peaks", "atac_matrix", "atac_process"])
def test_command_scripts_and_modules(repo_root, command):
    from scact.cli import get_parser

    script = repo_root / "bin" / f"scact_{command}.py"
    assert script.stat().st_mode & 0o111 and len(script.read_text().splitlines()) == 4
    assert f'run_script("{command}")' in script.read_text()
    module = (repo_root / "modules" / "local" / f"scact_{command}" / "main.nf").read_text()
    assert f"process SCACT_{command.upper()} " in module and f"scact_{command}.py" in module
    assert 'emit: versions' in module and "stub:" in module and '--task-name "${task.process}"' in module
    assert get_parser(command).format_help()


@pytest.mark.slow
def test_peaks_called_per_group_then_merged(planted_atac, qc_done, tmp_path):
    folder, kept = qc_done
    labelled = kept.copy()
    labelled.obs["label"] = planted_atac.cell_types.reindex(labelled.obs["barcode"].astype(str).to_numpy()).to_numpy()
    labelled.write_h5ad(tmp_path / "labelled_qc.h5ad")
    peaks = call_peaks([(tmp_path / "labelled_qc.h5ad", planted_atac.fragments)], planted_atac.tss_bed,
                       tmp_path / "peaks.bed",
                       outdir=tmp_path, genome_size=str(planted_atac.genome_size), group_by="label", min_group_cells=20)
    groups = pd.read_csv(tmp_path / "peak_groups.tsv", sep="\t")
    assert sorted(groups["group"]) == ["type0", "type1", "type2"] and (groups["n_summits"] > 0).all()
    assert _overlap_fraction(planted_atac.peaks, peaks) >= 0.9
    assert (atac.sort_genome_order(peaks[["chrom", "start", "end"]]).index == peaks.index).all()


@pytest.mark.slow
def test_call_peaks_with_peak_count_input_only(planted_atac, peaks_done, matrix_done, tmp_path):
    """A peak-count input (no fragments, '-') contributes its own peaks; chrM and unannotated ones are dropped."""
    folder, peaks = peaks_done
    counts = ad.read_h5ad(folder / "sim_atac_peaks.h5ad")
    extra = pd.DataFrame({"chrom": ["chrM", "chrUn"], "start": [100, 100], "end": [600, 600]}, index=["m", "u"])
    var = pd.concat([counts.var[["chrom", "start", "end"]].astype({"chrom": str}), extra])
    given = ad.AnnData(X=sp.hstack([counts.X, sp.csr_matrix((counts.n_obs, 2))]).tocsr(),
                       obs=counts.obs[["sample", "batch", "barcode"]].copy(), var=var)
    given.write_h5ad(tmp_path / "given_qc.h5ad")
    merged = call_peaks([(tmp_path / "given_qc.h5ad", "-")], planted_atac.tss_bed, tmp_path / "peaks.bed",
                        outdir=tmp_path)
    assert merged[["chrom", "start", "end"]].reset_index(drop=True).equals(
        peaks[["chrom", "start", "end"]].reset_index(drop=True).astype(merged[["chrom", "start", "end"]].dtypes))


@pytest.mark.slow
def test_large_pseudobulk_is_subsampled_for_macs(planted_atac, qc_done, peaks_done, tmp_path, caplog):
    """Beyond --max-insertions the pseudo-bulk is thinned fragment by fragment (seeded, so the same BED
    each run), and the planted peaks are still found from half the insertions."""
    folder, kept = qc_done
    mapping = dict.fromkeys(kept.obs["barcode"].astype(str), "all")
    chroms = set(peaks_done[1]["chrom"])

    def insertions(name, **kwargs):
        (tmp_path / name).mkdir()
        beds, _ = atac.write_pseudobulk_insertions([(str(planted_atac.fragments), mapping)], tmp_path / name,
                                                   "cellranger", chroms, **kwargs)
        return beds["all"].read_bytes()

    full, half = insertions("full"), insertions("half", keep_fraction={"all": 0.5}, seed=1)
    assert 0.45 < half.count(b"\n") / full.count(b"\n") < 0.55
    assert insertions("again", keep_fraction={"all": 0.5}, seed=1) == half
    assert insertions("other", keep_fraction={"all": 0.5}, seed=2) != half

    expected = 2 * int(kept.obs["n_fragments"].sum())
    with caplog.at_level("INFO"):
        peaks = call_peaks([(folder / "sim_atac_qc.h5ad", planted_atac.fragments)], planted_atac.tss_bed,
                           tmp_path / "peaks.bed", outdir=tmp_path, genome_size=str(planted_atac.genome_size),
                           max_insertions=expected // 2)
    assert "fraction 0.500" in caplog.text
    assert _overlap_fraction(planted_atac.peaks, peaks) >= 0.9
