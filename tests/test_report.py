"""The report: every section present, every embedded image decodes, tables non-empty, MultiQC files,
and a report (with 'not run' notes) from an empty results folder. Inputs are small files in the formats
the pipeline steps write (QC tables/h5ads, peaks.bed, training history, model.json, joint embedding,
translations, metrics, ROC, integrated gradients, links, versions, trace)."""
from __future__ import annotations

import base64
import io
import json
import re

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml
from PIL import Image

from scact.cli import run_command
from scact.evaluation.metrics import dense_blocks
from scact.io.translated import TranslatedAccessibility, write_translated_accessibility

SECTIONS = ("qc", "training", "alignment", "translation", "perturbation", "run")


def _write_results(root):
    """A published results folder of a small paired run (local-runner layout: <outdir>/<step>/)."""
    rng = np.random.default_rng(0)
    types = np.array(["B", "T", "Mono"])
    n, n_genes, n_peaks = 90, 30, 60
    labels = types[np.arange(n) % 3]
    cells = [f"s1:c{i}" for i in range(n)]
    genes = [f"G{i}" for i in range(n_genes)]
    peaks = pd.DataFrame({"chrom": ["chr1"] * 40 + ["chr2"] * 20, "start": np.r_[np.arange(40), np.arange(20)] * 5000,
                          "end": np.r_[np.arange(40), np.arange(20)] * 5000 + 500})
    peaks.index = [f"{c}:{s}-{e}" for c, s, e in peaks.itertuples(index=False)]
    type_code = np.arange(n) % 3
    expression = rng.poisson(1 + 3 * (np.arange(n_genes)[None, :] % 3 == type_code[:, None])).astype(np.float32)
    accessible = (rng.random((n, n_peaks)) < 0.1 + 0.6 * (np.arange(n_peaks)[None, :] % 3 == type_code[:, None]))
    for name in ("rna_qc", "atac_qc", "call_peaks", "reconcile", "train/model", "translate", "evaluate",
                 "perturb", "link", "pipeline_info"):
        (root / name).mkdir(parents=True)
    pd.DataFrame({"sample": "s1", "reason": ["low_umis", "low_genes", "high_mito", "doublet", "kept", "total"],
                  "n_cells": [12, 3, 5, 7, n, n + 27], "rule": ["n_counts < 200", "", "", "", "", ""]}
                 ).to_csv(root / "rna_qc/s1_rna_qc.tsv", sep="\t", index=False)
    pd.DataFrame({"sample": "s1", "reason": ["input_barcodes", "low_fragments", "low_tss_enrichment", "kept"],
                  "n_barcodes": [n + 30, 20, 10, n]}).to_csv(root / "atac_qc/s1_atac_qc.tsv", sep="\t", index=False)
    rna_qc = ad.AnnData(sp.csr_matrix(expression), obs=pd.DataFrame(
        {"n_counts": rng.integers(200, 5000, n).astype(float), "doublet_score": rng.random(n)}, index=cells))
    rna_qc.uns["scact"] = {"rna_qc": {"params": {"min_umis": 200}}}
    rna_qc.write_h5ad(root / "rna_qc/s1_rna_qc.h5ad")
    atac_qc = ad.AnnData(obs=pd.DataFrame({"n_fragments": rng.integers(1000, 20000, n).astype(float),
                                           "tss_enrichment": rng.uniform(2, 12, n),
                                           "doublet_qvalue": rng.uniform(0.01, 1, n)}, index=cells))
    atac_qc.uns["scact"] = {"atac_qc": {"params": {"min_fragments": 1000, "min_tss_enrichment": 2.0}}}
    atac_qc.write_h5ad(root / "atac_qc/s1_atac_qc.h5ad")
    peaks.to_csv(root / "call_peaks/peaks.bed", sep="\t", header=False, index=False)
    pd.DataFrame({"cell_type": types, "rna_label": types, "atac_label": types}).to_csv(
        root / "reconcile/label_reconciliation.tsv", sep="\t", index=False)
    obs = pd.DataFrame({"cell_type": pd.Categorical(labels), "sample": "s1"}, index=cells)
    rna = ad.AnnData(sp.csr_matrix(np.log1p(expression)), obs=obs.copy(), var=pd.DataFrame(index=genes))
    rna.write_h5ad(root / "reconcile/rna.h5ad")
    atac = ad.AnnData(sp.csr_matrix(accessible.astype(np.float32)), obs=obs.copy(), var=peaks.copy())
    atac.write_h5ad(root / "reconcile/atac.h5ad")
    history = pd.DataFrame({"phase": ["autoencoder"] * 5 + ["mapping"] * 5, "epoch": np.arange(1, 11)})
    for term in ("rna_reconstruction", "atac_reconstruction"):
        history[f"train_{term}"] = np.r_[np.linspace(1, 0.3, 5), [np.nan] * 5]
        history[f"val_{term}"] = history[f"train_{term}"] + 0.05
    for term in ("adversarial", "cycle", "discriminator"):
        history[f"train_{term}"] = np.r_[[np.nan] * 5, np.linspace(0.9, 0.5, 5)]
    history.to_csv(root / "train/training_history.csv", index=False)
    (root / "train/model/model.json").write_text(json.dumps({"hyperparameters": {"latent_dim": 20, "gamma": 1.0},
                                                             "keys": {"labels": "cell_type"}, "n_genes": n_genes,
                                                             "n_peaks": n_peaks, "label_names": list(types)}))
    probabilities = np.clip(accessible * 0.7 + rng.random((n, n_peaks)) * 0.3, 0, 1).astype(np.float32)
    write_translated_accessibility(dense_blocks(probabilities, 32)(), obs, peaks, root / "translate/rna_to_atac.h5ad")
    ad.AnnData(np.log1p(expression) + rng.normal(0, 0.1, expression.shape).astype(np.float32), obs=obs.copy(),
               var=pd.DataFrame(index=genes)).write_h5ad(root / "translate/atac_to_rna.h5ad")
    joint_obs = pd.DataFrame({"cell": cells * 2, "modality": ["rna"] * n + ["atac"] * n,
                              "cell_type": np.r_[labels, labels]}, index=[f"rna:{c}" for c in cells] + [f"atac:{c}" for c in cells])
    umap = rng.normal(size=(2 * n, 2)) + np.r_[type_code, type_code][:, None] * 4
    ad.AnnData(obs=joint_obs, obsm={"X_umap_rna_latent": umap, "X_umap_atac_latent": umap[:, ::-1]}).write_h5ad(
        root / "translate/joint_embedding.h5ad")
    metrics = [("scACT", "rna_to_atac/auroc_flattened", 0.81), ("global mean", "rna_to_atac/auroc_flattened", 0.6),
               ("scACT", "atac_to_rna/pearson_per_gene_median", 0.52), ("scACT (rna latent)", "alignment/foscttm", 0.21),
               ("Harmony kNN", "alignment/foscttm", 0.3)]
    pd.DataFrame(metrics, columns=["method", "metric", "value"]).to_csv(root / "evaluate/metrics.tsv", sep="\t", index=False)
    pd.DataFrame({"method": "scACT", "task": "rna_to_atac", "cell_type": types, "metric": "auroc", "value": [0.8, 0.7, 0.9]}
                 ).to_csv(root / "evaluate/metrics_per_type.tsv", sep="\t", index=False)
    grid = np.linspace(0, 1, 21)
    pd.DataFrame({"method": "scACT", "threshold": 1 - grid, "tpr": np.sqrt(grid), "fpr": grid}).to_csv(
        root / "evaluate/roc_curves.tsv", sep="\t", index=False)
    pd.DataFrame({"gene": ["G0", "G9"], "status": ["ok", "error: gene not in the model"], "cell_type": ["B", None],
                  "mean_top_accessibility_in_type": [0.6, np.nan], "mean_top_accessibility_other_types": [0.1, np.nan],
                  "p_value": [1e-5, np.nan]}).to_csv(root / "perturb/ig_summary.tsv", sep="\t", index=False)
    top = peaks.iloc[:5].reset_index(names="peak").assign(rank=np.arange(1, 6), attribution=[0.5, 0.3, 0.2, -0.1, 0.05],
                                                        distance_to_tss=[-2000, 3000, 8000, 12000, 40000])
    top.to_csv(root / "perturb/G0_ig_peaks.tsv", sep="\t", index=False)
    links = peaks.iloc[:12].reset_index(names="peak").assign(gene="G0", tss=20000, source="observed",
                                                            r=rng.uniform(-0.5, 0.9, 12), p_value=0.01)
    links["significant"] = links["r"] > 0.4
    links.to_csv(root / "link/links.tsv", sep="\t", index=False)
    (root / "pipeline_info/software_versions.yml").write_text(yaml.safe_dump(
        {"SCACT_RNA_QC": {"scact": "0.1.0", "numpy": "2.4.6"}, "SCACT_TRAIN": {"scact": "0.1.0", "torch": "2.13.0"}}))
    (root / "pipeline_info/params.json").write_text(json.dumps({"input": "samplesheet.csv", "seed": 0}))
    (root / "pipeline_info/samplesheet.csv").write_text("sample,modality,input\ns1,multiome,/data/s1\n")
    (root / "pipeline_info/execution_trace.tsv").write_text(
        "task\tprocess\ttag\texit\tseconds\tworkdir\n1\tSCACT_RNA_QC\ts1\t0\t12.5\tw1\n2\tSCACT_TRAIN\t\t0\t80.0\tw2\n")


def _report(tmp_path, results):
    outdir = tmp_path / "report"
    args = ["--outdir", str(outdir), "--no-versions"] + (["--results", str(results)] if results else [])
    assert run_command("report", args) == 0
    return outdir, (outdir / "scact_report.html").read_text()


def _section(page: str, key: str) -> str:
    match = re.search(rf'<section id="{key}">(.*?)</section>', page, flags=re.S)
    assert match, f"section {key} missing"
    return match.group(1)


def test_report_of_a_full_run(tmp_path):
    results = tmp_path / "results"
    _write_results(results)
    outdir, page = _report(tmp_path, results)
    assert "http://" not in page.replace("http://www.w3.org", "") and "<script" not in page  # self-contained
    for key in SECTIONS:
        assert 'class="note missing"' not in _section(page, key) or key in ("translation",), key
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    figures = sorted(p.name for p in (outdir / "report_figures").glob("*.png"))
    assert len(images) == len(figures) >= 14
    for data in images:
        with Image.open(io.BytesIO(base64.b64decode(data))) as image:
            image.verify()
    for name in ("qc_cells_by_reason", "qc_tss_vs_fragments", "qc_peaks_per_chromosome", "training_loss_curves",
                 "alignment_marker_genes", "translation_roc", "translation_roc", "translation_accessibility_per_type",
                 "translation_marker_genes", "perturbation_G0_ig_peaks", "perturbation_G0_links"):
        assert f"{name}.png" in figures, name
        assert len(pd.read_csv(outdir / "report_tables" / f"{name}.tsv", sep="\t")) > 0, name
    for table in (outdir / "report_tables").glob("*.tsv"):
        assert len(pd.read_csv(table, sep="\t")) > 0, table.name
    assert page.count("<table>") >= 10
    peaks = pd.read_csv(outdir / "report_tables/qc_peaks_per_chromosome.tsv", sep="\t")
    assert dict(zip(peaks["chrom"], peaks["n_peaks"])) == {"chr1": 40, "chr2": 20}
    removed = pd.read_csv(outdir / "report_tables/qc_cells_removed.tsv", sep="\t")
    assert removed.query("modality == 'rna' and reason == 'low_umis'")["n_cells"].item() == 12
    assert "0.810" in _section(page, "translation") and "0.210" in _section(page, "alignment")
    assert "SCACT_TRAIN" in _section(page, "run") and "1.5 min" in _section(page, "run")
    qc = (outdir / "scact_qc_mqc.tsv").read_text()
    assert "# plot_type: table" in qc and "s1_rna" in qc and "s1_atac" in qc
    general = (outdir / "scact_general_stats_mqc.tsv").read_text()
    assert "generalstats" in general and "rna_cells_kept" in general
    assert yaml.safe_load((outdir / "scact_qc_removed_mqc.yaml").read_text())["data"]["s1_rna"]["low_umis"] == 12
    assert "alignment/foscttm" in (outdir / "scact_metrics_mqc.tsv").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("form", ["topk", "none"])
def test_report_reads_every_stored_form(tmp_path, form):
    results = tmp_path / "results"
    _write_results(results)
    path = results / "translate/rna_to_atac.h5ad"
    with TranslatedAccessibility(path) as written:
        probabilities, obs, var = written.read_rows(np.arange(written.n_obs)), written.obs, written.var
    path.unlink()
    write_translated_accessibility(dense_blocks(probabilities, 32)(), obs, var, path, probabilities=form, top_k=25)
    outdir, page = _report(tmp_path, results)
    for name in ("translation_roc_per_type", "translation_accessibility_per_type"):
        assert len(pd.read_csv(outdir / "report_tables" / f"{name}.tsv", sep="\t")) > 0, name


def test_report_without_results_says_what_did_not_run(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    outdir, page = _report(tmp_path, empty)
    for key in SECTIONS:
        assert 'class="note missing"' in _section(page, key), key
    assert "not run: no genes requested" in page and "no ground truth" in page
    assert "data:image/png" not in page
    assert not list(outdir.glob("*_mqc.*"))


def test_report_refuses_a_missing_results_folder(tmp_path, capsys):
    assert run_command("report", ["--results", str(tmp_path / "nope"), "--outdir", str(tmp_path), "--no-versions"]) == 2
    assert "results folder not found" in capsys.readouterr().err
