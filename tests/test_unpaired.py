"""Unpaired data end to end (issue 12): samplesheet variants of the generated fixture through the whole local
pipeline, evaluation without pairs, degenerate real-data cases in plots and tables, early refusals."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from scact.cli import run_command
from scact.evaluation.evaluate import Method, Pairing, evaluate, pairing_case, plot_evaluation
from scact.evaluation.metrics import alignment_metrics, within_type_cosine_distances
from scact.io.tenx import read_10x_h5
from scact.pipeline import STEP_ORDER
from scact.simulate import write_samplesheet_variants


# ------------------------------------------------------------------------------------ samplesheet variants
def _rows(sheet):
    return pd.read_csv(sheet, dtype=str)


@pytest.mark.slow
def test_variants_split_the_cells_into_samples_of_their_own(variant_sheets):
    folder, sheets = variant_sheets
    assert set(sheets) == {"unpaired", "partly_paired", "paired"}
    assert sheets["paired"] == folder / "samplesheet.csv"
    unpaired = _rows(sheets["unpaired"])
    assert unpaired["modality"].tolist() == ["rna", "atac"]
    assert unpaired["sample"].nunique() == 2 and unpaired["batch"].nunique() == 2
    rna_cells = set(read_10x_h5(unpaired["input"][0], "rna").obs_names)
    fragment_barcodes = set(pd.read_csv(unpaired["input"][1], sep="\t", header=None, usecols=[3])[3])
    all_cells = set(read_10x_h5(folder / "filtered_feature_bc_matrix.h5", "rna").obs_names)
    assert len(rna_cells) == len(all_cells) // 2
    assert not rna_cells & fragment_barcodes and all_cells - rna_cells <= fragment_barcodes
    partly = _rows(sheets["partly_paired"])
    assert partly["modality"].tolist() == ["multiome", "atac"] and partly["sample"].nunique() == 2
    multiome = read_10x_h5(f"{partly['input'][0]}/filtered_feature_bc_matrix.h5")
    assert set(multiome.obs_names) == rna_cells
    # the same seed gives the same split
    again = write_samplesheet_variants(folder, ["unpaired"])
    assert set(read_10x_h5(_rows(again["unpaired"])["input"][0], "rna").obs_names) == rna_cells


def test_simulate_command_writes_the_variants(tmp_path, capsys):
    code = run_command("simulate", ["--preset", "fixture", "--n-cells", "60", "--outdir", str(tmp_path),
                                    "--variants", "unpaired", "--no-versions"])
    assert code == 0 and (tmp_path / "samplesheet_unpaired.csv").is_file()
    assert "unpaired:" in capsys.readouterr().out
    assert run_command("simulate", ["--preset", "fixture", "--n-cells", "60", "--outdir", str(tmp_path),
                                    "--variants", "halfpaired", "--no-versions"]) == 2


# ------------------------------------------------------------------------------ whole pipeline per variant
def _every_step_ran(variant_run, variant):
    """The variant's run, checked to have run every step: (results, metrics.tsv, its pairing counts)."""
    results, runner = variant_run(variant)
    assert list(dict.fromkeys(t.process for t in runner.trace)) == list(STEP_ORDER)
    table = pd.read_csv(results / "evaluation" / "metrics.tsv", sep="\t")
    return results, table, table[table["metric"].str.startswith("pairing/")].set_index("metric")["value"]


def _section(page: str, key: str) -> str:
    start = page.index(f'id="{key}"')
    end = page.find('<section', start + 1)
    return page[start:end if end > 0 else None]


@pytest.mark.slow
def test_unpaired_samplesheet_runs_every_step_and_reports_alignment_only(variant_run):
    results, table, counts = _every_step_ran(variant_run, "unpaired")
    assert counts["pairing/paired_cells"] == 0 and counts["pairing/rna_cells"] > 100
    assert not table["metric"].str.startswith(("rna_to_atac", "atac_to_rna")).any()
    alignment = table[table["metric"].str.startswith("alignment/")]
    assert {"scACT", "Harmony kNN"} <= {m.split(" (")[0] for m in alignment["method"]}
    assert {"alignment/silhouette_cell_type", "alignment/leiden_ari", "alignment/modality_mixing",
            "alignment/label_transfer_rna_to_atac", "alignment/label_transfer_atac_to_rna",
            "alignment/within_type_cosine_distance_median"} <= set(alignment["metric"])
    assert "alignment/foscttm" not in set(alignment["metric"])
    assert (results / "evaluation" / "metrics_headline.png").is_file()
    assert len(pd.read_csv(results / "evaluation" / "within_type_distances.tsv", sep="\t")) > 0
    page = (results / "report" / "scact_report.html").read_text()
    assert "Alignment metrics with baselines" in _section(page, "alignment")
    assert "Unpaired data" in _section(page, "alignment")
    assert "not available (no paired cells)" in _section(page, "translation")
    links = pd.read_csv(results / "regulation" / "links.tsv", sep="\t")
    assert "observed" not in set(links["source"])  # no cell in both modalities: translated sources only
    assert list(pd.read_csv(results / "regulation" / "link_agreement.tsv", sep="\t").columns)[:2] == \
        ["reference", "source"]
    assert "Observed vs translated links: not available" in _section(page, "perturbation")


@pytest.mark.slow
def test_partly_paired_samplesheet_scores_the_shared_cells(variant_run):
    results, table, counts = _every_step_ran(variant_run, "partly_paired")
    assert 0 < counts["pairing/paired_cells"] < counts["pairing/atac_cells"]
    assert pairing_case(int(counts["pairing/paired_cells"]), int(counts["pairing/rna_cells"]),
                        int(counts["pairing/atac_cells"])) == "partly paired"
    scored = table[table["metric"] == "rna_to_atac/auroc_per_cell_mean"]
    assert {"scACT", "cell-type mean", "Harmony kNN"} <= set(scored["method"])
    page = (results / "report" / "scact_report.html").read_text()
    assert "Partly paired data" in _section(page, "translation")
    assert "Translation metrics with baselines" in _section(page, "translation")


# ----------------------------------------------------------------------------------- evaluation units
def _embedded(n=60, types=("a", "b", "c"), seed=0, prefix="rna"):
    rng = np.random.default_rng(seed)
    labels = np.array([types[i % len(types)] for i in range(n)])
    centres = {t: rng.normal(size=5) * 3 for t in types}
    z = np.vstack([centres[t] for t in labels]) + rng.normal(size=(n, 5))
    adata = ad.AnnData(sp.csr_matrix(rng.poisson(1.0, size=(n, 8)).astype(np.float32)),
                       obs=pd.DataFrame({"cell_type": labels}, index=[f"{prefix}:{i}" for i in range(n)]))
    return adata, z


def test_evaluation_without_pairs_scores_alignment_and_draws_it(tmp_path):
    rna, z_rna = _embedded(prefix="s1")
    atac, z_atac = _embedded(seed=1, prefix="s2")
    result = evaluate(rna, atac, [Method("scACT", embeddings={"latent": (z_rna, z_atac)})])
    values = result.metrics.set_index("metric")["value"]
    assert values["pairing/paired_cells"] == 0 and values["pairing/rna_cells"] == 60
    assert 0 <= values["alignment/modality_mixing"] <= 1 and "alignment/foscttm" not in values
    assert result.roc_curves.empty and result.per_type.empty
    written = plot_evaluation(result, tmp_path)
    assert [p.name for p in written] == ["metrics_headline.png"]


def test_pairing_cases():
    assert pairing_case(0, 100, 100) == "unpaired" and pairing_case(1, 100, 100) == "unpaired"
    assert pairing_case(95, 100, 98) == "paired"
    assert pairing_case(50, 50, 100) == "partly paired"
    assert not Pairing.by_name(["a:1"], ["b:1"]).scorable and Pairing.by_name(["a:1", "a:2"], ["a:2", "a:1"]).scorable


def test_alignment_metrics_with_one_type_or_no_shared_type_are_nan_not_errors():
    _, z = _embedded(n=30)
    one = alignment_metrics(z, z + 0.1, ["a"] * 30, ["a"] * 30, paired=False)
    assert np.isnan(one["silhouette_cell_type"]) and one["label_transfer_rna_to_atac"] == 1.0
    disjoint = alignment_metrics(z, z, ["a", "b"] * 15, ["c", "d"] * 15, paired=False)
    assert np.isnan(disjoint["within_type_cosine_distance_median"])
    assert list(within_type_cosine_distances(z, z, ["a"] * 30, ["b"] * 30).columns)[:2] == ["cell_type", "n_pairs"]


# --------------------------------------------------------------------------------- degenerate link plots
def _links(rs, significant=None):
    n = len(rs)
    return pd.DataFrame({"source": "observed", "gene": "G", "peak": [f"chr1:{1000 * i}-{1000 * i + 500}" for i in range(n)],
                         "chrom": "chr1", "start": [1000 * i for i in range(n)],
                         "end": [1000 * i + 500 for i in range(n)], "tss": 5000,
                         "distance": [1000 * i - 5000 for i in range(n)], "r": rs, "p_value": 1.0, "fdr": 1.0,
                         "significant": significant if significant is not None else [False] * n})


@pytest.mark.parametrize("rs", [[0.0], [np.nan], [0.0, 0.0, np.nan], [0.4], [1.0, -1.0]],
                         ids=["zero", "constant", "all-degenerate", "one-link", "perfect"])
def test_link_plots_survive_degenerate_correlations(tmp_path, rs):
    from scact.perturbation.linkage import plot_gene_links
    from scact.report._document import Writer
    from scact.report._perturbation import _link_figure

    links = _links(rs)
    plot_gene_links(links, "G", tmp_path / "G_links.png", window=100_000)
    assert (tmp_path / "G_links.png").stat().st_size > 0
    assert _link_figure(Writer(tmp_path / "report"), links, "G", None) is not None


def test_constant_profiles_give_nan_correlation_and_no_significant_link():
    from scact.perturbation.linkage import link_source, metacell_aggregation
    from scact.stats import column_pearson

    rng = np.random.default_rng(0)
    expression = np.c_[np.ones(40), rng.random(40)]  # gene 0 constant
    accessibility = np.c_[rng.random(40) > 0.5, np.zeros(40)].astype(float)  # peak 1 never open
    peaks = pd.DataFrame({"chrom": "chr1", "start": [100, 900], "end": [200, 1000]}, index=["p0", "p1"])
    pairs = pd.DataFrame({"gene": ["G0", "G1"], "peak_index": [0, 1], "tss": 500, "distance": [-350, 450]})
    table = link_source("observed", expression, ["G0", "G1"], accessibility, peaks, pairs,
                        metacell_aggregation(rng.random((40, 3)), n_metacells=10, k=5))
    assert table["r"].isna().all() and not table["significant"].any() and (table["p_value"] == 1).all()
    assert np.isnan(column_pearson(np.zeros((5, 1)), np.zeros((5, 1)))).all()


def test_report_group_means_of_an_empty_group_are_nan():
    from scact.evaluation.per_type import group_means

    means = group_means(np.ones((4, 3)), np.array(["a", "a", "b", "b"]), ["a", "c"])
    assert means.shape == (2, 3) and np.isnan(means[1]).all() and (means[0] == 1).all()


# --------------------------------------------------------------------------------------- early refusals
def _write(adata, path):
    adata.write_h5ad(path)
    return path


def test_one_cell_type_is_refused_at_reconcile_with_followable_advice():
    from scact.errors import ScactInputError
    from scact.preprocessing.reconcile import reconcile_labels

    with pytest.raises(ScactInputError, match=r"atac_processed.h5ad: its cells hold one cell type only "
                                              r"\('T cell'(.|\n)*--label_free true"):
        reconcile_labels(pd.Series(["T cell", "B cell"]), pd.Series(["T cell", "T cell"]),
                         sources=("rna_processed.h5ad", "atac_processed.h5ad"))
    rna, atac, report = reconcile_labels(pd.Series(["T cell"] * 3), pd.Series(["T cell"] * 2), label_free=True)
    assert report["status"].tolist() == ["shared"]


def test_reconcile_command_refuses_one_type_without_writing_outputs(tmp_path, capsys):
    rna, _ = _embedded(n=30, types=("neuron",))
    atac, _ = _embedded(n=30, types=("neuron",), prefix="atac")
    rna.layers["counts"] = rna.X.copy()
    rna.var["highly_variable"] = True
    atac.var = pd.DataFrame({"chrom": "chr1", "start": np.arange(8) * 1000, "end": np.arange(8) * 1000 + 500},
                            index=[f"chr1:{i * 1000}-{i * 1000 + 500}" for i in range(8)])
    atac.obs["label"] = "neuron"
    args = ["--rna", str(_write(rna, tmp_path / "rna_processed.h5ad")),
            "--atac", str(_write(atac, tmp_path / "atac_processed.h5ad")), "--outdir", str(tmp_path / "out"),
            "--no-versions"]
    assert run_command("reconcile", args) == 2
    err = capsys.readouterr().err
    assert "rna_processed.h5ad: its cells hold one cell type only" in err and "--label_free true" in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert run_command("reconcile", [*args, "--label-free", "true"]) == 0
    assert (tmp_path / "out" / "rna.h5ad").is_file()


def test_too_few_cells_after_rna_qc_are_refused_at_qc(tmp_path, capsys):
    from scact.simulate import planted_rna_counts

    adata = planted_rna_counts(n_good=40, n_low_quality=5, n_doublets=0, seed=1)
    path = _write(adata, tmp_path / "s1_rna.h5ad")
    code = run_command("rna_qc", ["--input", str(path), "--outdir", str(tmp_path / "out"), "--no-doublets",
                                  "--min-umis", "1000000000", "--no-versions"])
    assert code == 2
    err = capsys.readouterr().err
    assert "s1_rna.h5ad" in err and ("fails QC" in err or "pass QC" in err)
    counts = np.asarray(adata.X.sum(axis=1)).ravel()
    threshold = int(np.sort(counts)[-5])  # only 5 cells reach it
    code = run_command("rna_qc", ["--input", str(path), "--outdir", str(tmp_path / "out"), "--no-doublets",
                                  "--min-umis", str(threshold), "--min-genes", "0", "--no-versions"])
    assert code == 2
    err = capsys.readouterr().err
    assert "only 5 of its" in err and "at least 10 are needed" in err and "--min_umis" in err
    assert not (tmp_path / "out" / "s1_rna_qc.h5ad").exists()


def test_labels_naming_unknown_barcodes_or_leaving_most_cells_unlabelled_are_reported(tmp_path, caplog):
    from scact.io.inputs import read_labels

    adata = ad.AnnData(sp.csr_matrix((10, 2), dtype=np.float32), obs=pd.DataFrame(index=[f"B{i}" for i in range(10)]))
    labels = tmp_path / "labels.csv"
    labels.write_text("barcode,label\n" + "".join(f"B{i},t{i % 2}\n" for i in range(3)) + "X1,t0\nX2,t1\n")
    result = read_labels(str(labels), adata, "s1")
    assert result.notna().sum() == 3
    assert "2 of its 5 barcodes are not cells of sample s1" in caplog.text
    assert "7 of the 10 cells of sample s1 have no label" in caplog.text


def test_too_few_cells_after_atac_qc_are_refused_before_doublet_detection(tmp_path, capsys):
    counts = np.zeros((40, 6), dtype=np.float32)
    counts[:5] = 200  # five cells reach --min-peak-counts
    counts[5:] = 1
    atac = ad.AnnData(sp.csr_matrix(counts), obs=pd.DataFrame({"sample": "s2"}, index=[f"s2:B{i}" for i in range(40)]),
                      var=pd.DataFrame({"chrom": "chr1", "start": np.arange(6) * 1000, "end": np.arange(6) * 1000 + 500},
                                       index=[f"chr1:{i * 1000}-{i * 1000 + 500}" for i in range(6)]))
    path = _write(atac, tmp_path / "s2_atac.h5ad")
    code = run_command("atac_qc", ["--input", str(path), "--min-peak-counts", "100", "--outdir", str(tmp_path / "out"),
                                   "--no-versions"])
    assert code == 2
    err = capsys.readouterr().err
    assert "s2_atac.h5ad: only 5 cells pass QC, at least 10 are needed" in err and "--min_peak_counts" in err
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True
