"""`scact perturb` end to end with a real (briefly trained) SCACT model: outputs, completeness, bad genes."""
import anndata as ad
import pandas as pd
import pytest

from scact.simulate import planted_modalities
from scact.cli import run_command
from scact.model import SCACT

pytestmark = pytest.mark.slow  # trains a model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("perturb")
    rna, atac = planted_modalities(n_rna=200, n_atac=200, seed=0)
    model = SCACT(rna, atac)
    model.train(max_epochs_autoencoder=3, max_epochs_mapping=3, batch_size=64, device="cpu", progress=False)
    model.save(folder / "model")
    atac.write_h5ad(folder / "atac.h5ad")
    rna.write_h5ad(folder / "rna.h5ad")
    tss = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [5000, 3000], "end": [6000, 4000],
                        "gene": ["gene1", "gene2"], "score": 0, "strand": "+"})
    tss.to_csv(folder / "tss.bed", sep="\t", header=False, index=False)
    return folder


def test_perturb_command(trained, capsys):
    out = trained / "out"
    code = run_command("perturb", ["--model", str(trained / "model"), "--atac", str(trained / "atac.h5ad"),
                                   "--annotation", str(trained / "tss.bed"), "--genes", "gene1,gene3,NOPE",
                                   "--rna", str(trained / "rna.h5ad"), "--steps", "64", "--top-k", "5", "--batch-size", "32", "--device", "cpu",
                                   "--outdir", str(out), "--no-versions"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "gene1: integrated gradients over 200 cells x 64 steps x 100 peaks on cpu" in printed
    summary = pd.read_csv(out / "ig_summary.tsv", sep="\t").set_index("gene")
    assert summary.loc["gene1", "status"] == "ok"
    rna = ad.read_h5ad(trained / "rna.h5ad")
    by_type = pd.Series(rna[:, "gene1"].X.toarray().ravel()).groupby(rna.obs["cell_type"].to_numpy()).mean()
    assert summary.loc["gene1", "cell_type"] == by_type.idxmax()  # the observed type, from --rna
    assert summary.loc["gene3", "status"].startswith("ok; no TSS")
    assert summary.loc["NOPE", "status"].startswith("error: gene not in the model")
    # a ReLU network is piecewise linear: the quadrature gap is small against F(x) - F(0), not zero
    gene1 = summary.loc["gene1"]
    assert gene1["completeness_mean_absolute_gap"] < 0.1 * gene1["mean_abs_output_change"]
    peaks = pd.read_csv(out / "gene1_ig_peaks.tsv", sep="\t")
    assert len(peaks) == 5 and peaks["score"].is_monotonic_decreasing
    on_chr1 = peaks["chrom"] == "chr1"
    assert peaks.loc[on_chr1, "distance_to_tss"].notna().all() and peaks.loc[~on_chr1, "distance_to_tss"].isna().all()


def test_perturb_command_no_valid_gene(trained, capsys):
    code = run_command("perturb", ["--model", str(trained / "model"), "--atac", str(trained / "atac.h5ad"),
                                   "--genes", "NOPE", "--outdir", str(trained / "bad"), "--no-versions"])
    assert code == 2
    assert "no gene could be perturbed" in capsys.readouterr().err
