"""The inputs users bring: every 10x layout, log-normalised RNA (opt-in), and bad inputs refused by the step
that can know, with the file named and nothing written."""
import gzip
import shutil

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from scact.cli import run_command
from scact.errors import ScactInputError
from scact.io.annotation import check_gene_overlap
from scact.io.inputs import read_modality
from scact.io.preflight import check_annotation
from scact.io.samplesheet import read_samplesheet
from scact.preprocessing.reconcile import training_rna
from scact.io.provenance import record_provenance
from scact.pipeline import LocalRunner, run_pipeline
from scact.preprocessing.rna import check_log_normalised, log_normalise, select_hvgs
from scact.report._qc import _input_notes
from scact.simulate import TENX_LAYOUTS, config_from_preset, simulate_dataset, write_tenx_layouts

SMALL = dict(n_cells=60, n_genes=100, n_peaks=200, n_chromosomes=2, n_cell_types=2)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """A small simulated CellRanger-arc folder, its other 10x layouts and their samplesheet."""
    base = tmp_path_factory.mktemp("inputs")
    simulate_dataset(config_from_preset("fixture", seed=0, **SMALL), base / "sim")
    sheet = write_tenx_layouts(base / "sim", base / "layouts")
    return base, sheet


def run(command, *argv):
    return run_command(command, [*map(str, argv), "--no-versions"])


def assert_same(adata, reference, modality):
    assert list(adata.obs_names) == list(reference.obs_names)
    assert list(adata.var_names) == list(reference.var_names)
    assert sp.issparse(adata.X) and (adata.X != reference.X).nnz == 0
    if modality == "atac":
        assert adata.var[["chrom", "start", "end"]].equals(reference.var[["chrom", "start", "end"]])


def test_every_10x_layout_parses_to_the_matrices_of_the_folder_form(sim):
    base, sheet = sim
    reference = {m: read_modality(base / "sim", "cellranger_arc", m) for m in ("rna", "atac")}
    rows = {row.sample.removeprefix("sim_"): row for row in read_samplesheet(sheet)}
    assert set(rows) == set(TENX_LAYOUTS)
    formats = {layout: row.input_format for layout, row in rows.items()}
    assert formats == {"arc_h5": "10x_h5", "arc_h5_column": "10x_h5", "atac_h5": "10x_h5", "arc_mtx": "10x_mtx"}
    # fragments: beside the .h5 / the mtx folder / CellRanger-ATAC's fragments.tsv.gz, or from the column
    assert rows["arc_h5"].fragments == base / "layouts" / "arc_h5" / "atac_fragments.tsv.gz"
    assert rows["arc_h5_column"].fragments == base / "layouts" / "arc_h5_column" / "fragments" / "atac_fragments.tsv.gz"
    assert rows["atac_h5"].fragments.name == "fragments.tsv.gz"
    assert rows["arc_mtx"].fragments == base / "layouts" / "arc_mtx" / "atac_fragments.tsv.gz"
    for row in rows.values():
        for modality in row.modalities:
            assert_same(read_modality(row.input, row.input_format, modality), reference[modality], modality)
    # the CellRanger-ATAC outs folder itself, and the file as real CellRanger-ATAC writes it
    folder = base / "layouts" / "atac_h5"
    assert_same(read_modality(folder, "cellranger_atac", "atac"), reference["atac"], "atac")
    with h5py.File(folder / "filtered_peak_bc_matrix.h5") as handle:
        features = handle["matrix/features"]
        assert sorted(features["_all_tag_keys"][:]) == [b"derivation", b"genome"] and "interval" not in features
        assert features["id"][0] == features["name"][0] and b":" in features["id"][0]


def test_parse_reads_a_cellranger_arc_h5_file_as_multiome(sim, tmp_path):
    base, _ = sim
    out = tmp_path / "out"
    h5 = base / "layouts" / "arc_h5" / "filtered_feature_bc_matrix.h5"
    assert run("parse", "--sample", "a1", "--modality", "multiome", "--input", h5, "--outdir", out) == 0
    rna, atac = ad.read_h5ad(out / "a1_rna.h5ad"), ad.read_h5ad(out / "a1_atac.h5ad")
    assert rna.n_vars == SMALL["n_genes"] and atac.n_vars > 0 and list(rna.obs_names) == list(atac.obs_names)
    assert atac.uns["fragments"] == "atac_fragments.tsv.gz" and atac.uns["input_format"] == "10x_h5"


@pytest.mark.parametrize("case, message", [
    ("rna_only_h5", "has no 'Peaks' features"),
    ("fragments_for_rna", "a fragments file is given for an rna row"),
    ("fragments_without_index", "has no tabix index"),
])
def test_sheet_refuses_10x_rows_that_cannot_work(sim, tmp_path, case, message):
    base, _ = sim
    h5 = base / "layouts" / "arc_h5" / "filtered_feature_bc_matrix.h5"
    if case == "rna_only_h5":
        from scact.io.tenx import write_10x_h5

        rna_only = tmp_path / "gex.h5"
        write_10x_h5(read_modality(h5, "10x_h5", "rna"), None, rna_only)
        line = f"s1,multiome,{rna_only},"
    elif case == "fragments_for_rna":
        line = f"s1,rna,{h5},{base / 'sim' / 'atac_fragments.tsv.gz'}"
    else:
        lone = tmp_path / "frags.tsv.gz"
        shutil.copy(base / "sim" / "atac_fragments.tsv.gz", lone)
        line = f"s1,multiome,{h5},{lone}"
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f"sample,modality,input,fragments\n{line}\n")
    with pytest.raises(ScactInputError, match="line 2") as err:
        read_samplesheet(sheet)
    assert message in str(err.value)


# ------------------------------------------------------------------------------------------ bad fragments
@pytest.fixture(scope="module")
def parsed_atac(sim):
    base, _ = sim
    out = base / "parsed"
    assert run("parse", "--sample", "a", "--modality", "multiome", "--input", base / "sim", "--outdir", out) == 0
    return out / "a_atac.h5ad", out / "a_rna.h5ad"


def test_plain_gzip_fragments_are_refused_with_the_fix(sim, parsed_atac, tmp_path, capsys):
    base, _ = sim
    plain = tmp_path / "frags.tsv.gz"
    with gzip.open(base / "sim" / "atac_fragments.tsv.gz", "rb") as source, gzip.open(plain, "wb") as target:
        shutil.copyfileobj(source, target)
    shutil.copy(base / "sim" / "atac_fragments.tsv.gz.tbi", f"{plain}.tbi")
    out = tmp_path / "out"
    assert run("parse", "--sample", "f", "--modality", "atac", "--input", plain, "--outdir", out) == 2
    assert run("atac_qc", "--input", parsed_atac[0], "--fragments", plain, "--annotation",
               base / "sim" / "annotation" / "tss.bed", "--outdir", out / "qc") == 2
    for line in capsys.readouterr().err.strip().splitlines():
        assert str(plain) in line and "not bgzipped" in line and "bgzip" in line and "tabix" in line
    assert not [p for p in out.rglob("*") if p.is_file()]


# ------------------------------------------------------------------------------------------ annotations
def test_wrong_genome_annotation_is_refused_at_atac_qc_and_before_the_run(sim, parsed_atac, shared_data,
                                                                         tmp_path, capsys):
    base, sheet = sim
    mm10 = shared_data / "annotation" / "mm10_tss.bed"  # chr1, chr2 as in the data, other genes and TSSs
    out = tmp_path / "qc"
    assert run("atac_qc", "--input", parsed_atac[0], "--fragments", base / "sim" / "atac_fragments.tsv.gz",
               "--annotation", mm10, "--outdir", out) == 2
    err = capsys.readouterr().err
    assert f"error: {mm10}: its TSSs show no enrichment" in err and "genome" in err
    assert not out.exists() or not any(out.glob("*.h5ad"))
    with pytest.raises(ScactInputError, match=r"mm10_tss\.bed: names only 0 of the 100 genes"):
        run_pipeline(sheet, tmp_path / "results", {"annotation": str(mm10)})  # before step 1
    assert not (tmp_path / "results").exists()
    check_annotation(base / "sim" / "annotation" / "tss.bed", read_samplesheet(sheet))


def test_gene_names_of_another_species_are_named_as_such():
    with pytest.raises(ScactInputError, match="another species"):
        check_gene_overlap("mm10.bed", ["Cd3e", "Cd4", "Ms4a1", "Lyz2"], "pbmc.h5", ["CD3E", "CD4", "MS4A1"])
    check_gene_overlap("hg38.bed", ["CD3E", "CD4", "MS4A1", "LYZ", "A1BG"], "panel.h5", ["CD3E", "CD4", "X"])


def test_annotation_lacking_a_chromosome_warns_and_is_recorded_for_the_report(sim, parsed_atac, tmp_path, caplog):
    base, _ = sim
    tss = pd.read_csv(base / "sim" / "annotation" / "tss.bed", sep="\t", header=None)
    partial = tmp_path / "chr1_only.bed"
    tss[tss[0] == "chr1"].to_csv(partial, sep="\t", header=False, index=False)
    out = tmp_path / "qc"
    assert run("atac_qc", "--input", parsed_atac[0], "--fragments", base / "sim" / "atac_fragments.tsv.gz",
               "--annotation", partial, "--min-fragments", "100", "--outdir", out) == 0
    records = list(caplog.records)
    assert any("WARNING" in r.message and "chr2" in r.message and r.levelname == "WARNING" for r in records)
    qc = ad.read_h5ad(out / "a_atac_qc.h5ad")
    params = qc.uns["scact"]["atac_qc"]["params"]
    assert 0.2 < params["fragments_outside_annotation"] < 0.8 and "chr2" in params["chromosomes_outside_annotation"]
    notes = _input_notes([], [("a", qc)])
    assert len(notes) == 1 and notes[0].kind == "warning" and "chr2" in notes[0].text
    # scact run repeats the task's warning on its own log
    caplog.clear()
    task_log = tmp_path / ".command.log"
    task_log.write_text("".join(f"2026-01-01 {r.name} {r.levelname} {r.getMessage()}\n" for r in records))
    LocalRunner.repeat_warnings("04_SCACT_ATAC_QC_a", task_log)
    assert [r.getMessage() for r in caplog.records] == [f"[04_SCACT_ATAC_QC_a] {r.getMessage()}" for r in records
                                                        if r.levelname == "WARNING"]


# ------------------------------------------------------------------------------------------ normalised RNA
@pytest.fixture
def lognormalised(shared_data, tmp_path):
    """Real counts (10x Multiome PBMC, 100 cells) log-normalised as published data ship them."""
    import scanpy as sc

    counts = ad.read_h5ad(shared_data / "pbmc_multiome_100" / "rna.h5ad")
    counts.X = sp.csr_matrix(counts.X, dtype=np.float32)
    normalised = counts.copy()
    sc.pp.normalize_total(normalised, target_sum=1e4)
    sc.pp.log1p(normalised)
    path = tmp_path / "published.h5ad"
    ad.AnnData(normalised.X, obs=pd.DataFrame(index=counts.obs_names), var=pd.DataFrame(index=counts.var_names)
               ).write_h5ad(path)
    return path, counts


def test_log_normalised_rna_is_refused_by_default_and_accepted_on_opt_in(lognormalised, tmp_path, capsys):
    path, counts = lognormalised
    out = tmp_path / "out"
    assert run("parse", "--sample", "pub", "--modality", "rna", "--input", path, "--outdir", out) == 0
    parsed = out / "pub_rna.h5ad"
    assert run("rna_qc", "--input", parsed, "--outdir", out / "default") == 2
    err = capsys.readouterr().err
    assert "published.h5ad (sample pub)" in err and "non-integer" in err and "--rna_normalised true" in err
    assert not (out / "default").exists()

    assert run("rna_qc", "--input", parsed, "--outdir", out, "--rna-normalised", "true") == 0
    qc = ad.read_h5ad(out / "pub_rna_qc.h5ad")
    assert qc.n_obs == counts.n_obs and qc.uns["scact"]["rna_qc"]["params"]["rna_normalised"]
    depth = np.asarray(counts.X.sum(axis=1)).ravel()
    has_single = np.asarray((counts.X == 1).sum(axis=1)).ravel() > 0  # where one count is visible
    assert np.allclose(qc.obs["n_counts"].to_numpy()[has_single], depth[has_single], rtol=1e-3)
    table = pd.read_csv(out / "pub_rna_qc.tsv", sep="\t").set_index("reason")
    assert table.at["kept", "n_cells"] == counts.n_obs and "skipped" in table.at["low_umis", "rule"]
    notes = _input_notes([("pub", qc)], [])  # the report's QC section says so
    assert len(notes) == 1 and "--rna_normalised true" in notes[0].text

    # rna_process must be told the same (refused before any work otherwise)
    assert run("rna_process", "--input", out / "pub_rna_qc.h5ad", "--outdir", out / "mixed") == 2
    assert "--rna-normalised is false" in capsys.readouterr().err and not (out / "mixed").exists()
    # what rna_process does with it: X kept (not normalised twice), no counts layer, the estimated depth
    processed = log_normalise(qc.copy(), normalised=True)
    assert np.allclose(processed.X.toarray(), qc.X.toarray()) and "counts" not in processed.layers
    assert np.allclose(processed.obs["log_depth"], np.log1p(qc.obs["n_counts"]))
    select_hvgs(processed, 50)
    record_provenance(processed, "rna_process", {"rna_normalised": True})
    training = training_rna(processed, "rna_processed.h5ad")
    assert training.n_vars == 50 and not training.layers


@pytest.mark.parametrize("kind, message", [
    ("counts", "integers only"), ("scaled", "negative values"), ("unlogged", "not on a log scale"),
    ("log1p_counts", "log1p of raw counts"), ("inconsistent", "not normalised to a common total")])
def test_implausible_log_normalised_values_are_refused(lognormalised, kind, message):
    _, counts = lognormalised
    x = counts.X.toarray().astype(np.float64)
    cp10k = x / x.sum(axis=1, keepdims=True) * 1e4
    values = {"counts": x, "scaled": np.log1p(cp10k) - np.log1p(cp10k).mean(axis=0), "unlogged": cp10k,
              "log1p_counts": np.log1p(x),
              "inconsistent": np.log1p(cp10k * np.geomspace(0.01, 10, len(x))[:, None])}[kind]
    with pytest.raises(ScactInputError, match=message):
        check_log_normalised(values, "published.h5ad")
    check_log_normalised(np.log1p(cp10k), "published.h5ad")


def test_matrix_only_read_leaves_layers_and_embeddings_on_disk(tmp_path):
    from scact.io.anndata import read_h5ad, write_h5ad

    x = sp.random(40, 30, density=0.2, format="csr", dtype=np.float32, random_state=0)
    adata = ad.AnnData(X=x, obs=pd.DataFrame({"kind": ["a"] * 40}, index=[f"c{i}" for i in range(40)]),
                       var=pd.DataFrame(index=[f"g{i}" for i in range(30)]))
    adata.layers["counts"], adata.obsm["X_pca"] = x.copy(), np.zeros((40, 2))
    write_h5ad(adata, tmp_path / "a.h5ad")
    read = read_h5ad(tmp_path / "a.h5ad", matrix_only=True)
    assert not read.layers and not read.obsm and read.obs_names.equals(adata.obs_names)
    assert read.var_names.equals(adata.var_names) and (read.X != x).nnz == 0 and list(read.obs["kind"]) == ["a"] * 40
    with pytest.raises(ScactInputError, match="not a readable"):
        (tmp_path / "b.h5ad").write_text("no")
        read_h5ad(tmp_path / "b.h5ad", matrix_only=True)
