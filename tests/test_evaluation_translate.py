"""scact translate then scact evaluate, end to end, with a tiny model trained for a few epochs."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scact.simulate import planted_modalities
from scact.cli import run_command
from scact.model import SCACT

pytestmark = pytest.mark.slow  # trains a model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("translate")
    rna, atac = planted_modalities(n_rna=160, paired=True, seed=7)
    atac.obs_names = rna.obs_names  # pairs share names (used by evaluate only)
    rna.write_h5ad(folder / "rna.h5ad")
    atac.write_h5ad(folder / "atac.h5ad")
    model = SCACT(rna, atac, labels_key="cell_type", batch_key="batch")
    model.train(max_epochs_autoencoder=3, max_epochs_mapping=3, batch_size=64, progress=False)
    model.save(folder / "model")
    return folder


def test_translate_then_evaluate(trained, monkeypatch):
    monkeypatch.chdir(trained)
    assert run_command("translate", ["--model", "model", "--rna", "rna.h5ad", "--atac", "atac.h5ad",
                                     "--outdir", "out", "--batch-size", "50", "--seed", "1"]) == 0
    rna_to_atac = ad.read_h5ad("out/rna_to_atac.h5ad")
    probs = rna_to_atac.layers["probabilities"]
    assert rna_to_atac.shape == (160, 100) and probs.min() >= 0 and probs.max() <= 1
    assert set(np.unique(rna_to_atac.X.data)) <= {1.0}
    atac_to_rna = ad.read_h5ad("out/atac_to_rna.h5ad")
    assert atac_to_rna.shape == (160, 60) and np.isfinite(atac_to_rna.X).all()
    joint = ad.read_h5ad("out/joint_embedding.h5ad")
    assert joint.n_obs == 320 and set(joint.obs["modality"]) == {"rna", "atac"}
    for key in ("X_rna_latent", "X_atac_latent", "X_umap_rna_latent", "X_umap_atac_latent"):
        assert joint.obsm[key].shape[0] == 320
    assert (trained / "out" / "umap_rna_latent_cell_type.png").stat().st_size > 0

    # the same seed gives the same samples; another seed other samples
    assert run_command("translate", ["--model", "model", "--rna", "rna.h5ad", "--atac", "atac.h5ad",
                                     "--outdir", "again", "--seed", "1", "--probabilities", "none",
                                     "--no-plots", "--no-versions"]) == 0
    again = ad.read_h5ad("again/rna_to_atac.h5ad")
    assert "probabilities" not in again.layers
    assert (again.X != rna_to_atac.X).nnz == 0
    assert rna_to_atac.uns["scact"]["translate_rna_to_atac"]["params"]["translation_neighbours"] == 15

    # the paper's point decoding: other translations, recorded as such
    assert run_command("translate", ["--model", "model", "--rna", "rna.h5ad", "--atac", "atac.h5ad",
                                     "--outdir", "point", "--translation-neighbours", "0", "--no-plots",
                                     "--no-versions"]) == 0
    point = ad.read_h5ad("point/atac_to_rna.h5ad")
    assert point.uns["scact"]["translate_atac_to_rna"]["params"]["translation_neighbours"] == 0
    assert not np.allclose(point.X, atac_to_rna.X)

    assert run_command("evaluate", ["--rna", "rna.h5ad", "--atac", "atac.h5ad", "--rna-to-atac",
                                    "out/rna_to_atac.h5ad", "--atac-to-rna", "out/atac_to_rna.h5ad",
                                    "--joint-embedding", "out/joint_embedding.h5ad", "--outdir", "eval"]) == 0
    table = pd.read_csv("eval/metrics.tsv", sep="\t")
    scact = table[table["method"] == "scACT"].set_index("metric")["value"]
    for metric in ("rna_to_atac/auroc_per_peak_median", "rna_to_atac/auroc_per_cell_mean",
                   "atac_to_rna/pearson_per_gene_median"):
        assert np.isfinite(scact[metric])
    assert {"scACT (rna latent)", "scACT (atac latent)", "global mean", "cell-type mean"} <= set(table["method"])


def test_translate_decodes_among_training_cells_of_a_heldout_split(trained, monkeypatch):
    """With obs['split'] (reconcile's held-out protocol) neighbour decoding searches training cells only,
    so a held-out cell's translation never averages its own partner; evaluate scores the held-out pairs."""
    from scact.preprocessing.split import annotate_split, training_mask

    monkeypatch.chdir(trained)
    rna, atac = ad.read_h5ad("rna.h5ad"), ad.read_h5ad("atac.h5ad")
    split = annotate_split(rna, atac, fraction=0.25, seed=0)
    rna.write_h5ad("rna_split.h5ad")
    atac.write_h5ad("atac_split.h5ad")
    assert run_command("translate", ["--model", "model", "--rna", "rna_split.h5ad", "--atac", "atac_split.h5ad",
                                     "--outdir", "split", "--no-plots", "--no-versions"]) == 0
    model = SCACT.load("model")
    expected = model.translate_atac_to_rna(atac, reference=rna[training_mask(rna)]).X
    np.testing.assert_allclose(ad.read_h5ad("split/atac_to_rna.h5ad").X, expected, rtol=1e-5, atol=1e-5)
    assert run_command("evaluate", ["--rna", "rna_split.h5ad", "--atac", "atac_split.h5ad", "--rna-to-atac",
                                    "split/rna_to_atac.h5ad", "--atac-to-rna", "split/atac_to_rna.h5ad",
                                    "--joint-embedding", "split/joint_embedding.h5ad", "--outdir", "split_eval",
                                    "--no-versions"]) == 0
    table = pd.read_csv("split_eval/metrics.tsv", sep="\t")
    assert "oracle: type-only alignment" in set(table["method"])
    assert int((split.rna == "heldout").sum()) == 40
