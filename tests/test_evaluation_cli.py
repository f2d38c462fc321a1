"""scact evaluate end to end on files in the format scact translate writes (no model needed here)."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scact.cli import run_command
from scact.evaluation import metrics
from scact.io.translated import write_translated_accessibility
from scact.translation import joint_embedding

from scact.simulate import planted_paired


@pytest.fixture()
def translated(tmp_path):
    """Inputs plus translate-format outputs made from a noisy truth, so the scores are known to be good."""
    rna, atac, tss = planted_paired(n_cells=150, seed=5)
    rna.write_h5ad(tmp_path / "rna.h5ad")
    atac.write_h5ad(tmp_path / "atac.h5ad")
    tss[["chrom", "start", "end", "gene"]].to_csv(tmp_path / "tss.bed", sep="\t", header=False, index=False)
    rng = np.random.default_rng(0)
    truth = atac.X.toarray()
    probs = np.clip(0.6 * truth + 0.3 * rng.random(truth.shape), 0, 1).astype(np.float32)
    write_translated_accessibility(metrics.dense_blocks(probs, 40)(), rna.obs, atac.var,
                                   tmp_path / "rna_to_atac.h5ad", seed=3)
    expr = rna.X.toarray()
    ad.AnnData(expr + rng.normal(scale=0.2, size=expr.shape).astype(np.float32), obs=atac.obs,
               var=rna.var).write_h5ad(tmp_path / "atac_to_rna.h5ad")
    z = rng.normal(size=(rna.n_obs, 5)) + 3 * pd.get_dummies(rna.obs["cell_type"]).to_numpy() @ rng.normal(
        size=(3, 5))
    joint = joint_embedding(z, z + 0.01, z, z - 0.01, rna.obs, atac.obs, "cell_type",
                            expression=np.vstack([expr[:, :2], expr[:, :2]]),
                            expression_genes=list(rna.var_names[:2]))
    joint.write_h5ad(tmp_path / "joint_embedding.h5ad")
    return tmp_path, probs


@pytest.mark.parametrize("form", ["topk", "none"])
def test_evaluate_reads_every_stored_form(tmp_path, monkeypatch, form):
    rna, atac, _ = planted_paired(n_cells=150, seed=5)
    monkeypatch.chdir(tmp_path)
    rna.write_h5ad("rna.h5ad")
    atac.write_h5ad("atac.h5ad")
    truth = atac.X.toarray()
    probs = np.clip(0.6 * truth + 0.3 * np.random.default_rng(0).random(truth.shape), 0, 1).astype(np.float32)
    write_translated_accessibility(metrics.dense_blocks(probs, 40)(), rna.obs, atac.var, "rna_to_atac.h5ad",
                                   probabilities=form, top_k=20, seed=3)
    assert run_command("evaluate", ["--rna", "rna.h5ad", "--atac", "atac.h5ad", "--rna-to-atac", "rna_to_atac.h5ad",
                                    "--no-baselines", "--outdir", "out", "--no-versions"]) == 0
    table = pd.read_csv("out/metrics.tsv", sep="\t").set_index(["method", "metric"])["value"]
    assert table["scACT", "rna_to_atac/auroc_per_peak_median"] > 0.7


@pytest.mark.slow
def test_evaluate_command_writes_the_table(translated, monkeypatch):
    folder, _ = translated
    monkeypatch.chdir(folder)
    status = run_command("evaluate", ["--rna", "rna.h5ad", "--atac", "atac.h5ad", "--rna-to-atac",
                                      "rna_to_atac.h5ad", "--atac-to-rna", "atac_to_rna.h5ad",
                                      "--joint-embedding", "joint_embedding.h5ad", "--tss-bed", "tss.bed",
                                      "--tss-window", "1500", "--outdir", "out"])
    assert status == 0
    table = pd.read_csv(folder / "out" / "metrics.tsv", sep="\t").set_index(["method", "metric"])["value"]
    assert table["scACT", "rna_to_atac/auroc_per_peak_median"] > table["cell-type mean",
                                                                       "rna_to_atac/auroc_per_peak_median"]
    assert table["scACT", "atac_to_rna/pearson_per_gene_median"] > 0.8
    assert table["scACT (rna latent)", "alignment/foscttm"] < 0.05
    assert {"global mean", "cell-type mean", "Harmony kNN"} <= set(table.index.get_level_values(0))
    for name in ("roc_curves.tsv", "metrics_per_type.tsv", "within_type_distances.tsv", "roc_rna_to_atac.png"):
        assert (folder / "out" / name).stat().st_size > 0
    assert (folder / "versions.yml").exists()


@pytest.mark.slow
def test_evaluate_refuses_missing_labels(translated, monkeypatch, capsys):
    folder, _ = translated
    monkeypatch.chdir(folder)
    status = run_command("evaluate", ["--rna", "rna.h5ad", "--atac", "atac.h5ad", "--labels-key", "nope",
                                      "--no-versions"])
    assert status == 2 and "rna.h5ad" in capsys.readouterr().err
