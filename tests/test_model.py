"""scACT model and training on generated unpaired data with planted cell types (small, CPU, seeded)."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from scipy.stats import spearmanr
from sklearn.linear_model import RidgeCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from scact.simulate import planted_modalities
from scact.cli import run_command
from scact.errors import ScactInputError
from scact.model import SCACT

FAST = dict(max_epochs_autoencoder=20, max_epochs_mapping=30, batch_size=64, device="cpu", progress=False)


@pytest.fixture(autouse=True)
def one_thread():
    """Small networks run fastest on one thread, above all on a shared machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def data():
    return planted_modalities(seed=0)


@pytest.fixture(scope="module")
def trained(data):
    torch.set_num_threads(1)
    model = SCACT(*data, seed=0)
    model.train(**FAST)
    return model


def _state(model):
    return {k: v.clone() for k, v in model.module.state_dict().items()}


def _rna_to_atac(model, rna, **options):
    return np.concatenate([block for _, _, block in model.translated_blocks(rna, "rna_to_atac", batch_size=100,
                                                                            **options)])


def test_each_loss_term_decreases(trained):
    h = trained.history
    ae, mapping = h[h.phase == "autoencoder"], h[h.phase == "mapping"]
    for term in ("rna_reconstruction", "atac_reconstruction"):
        for split in ("train", "val"):
            assert ae[f"{split}_{term}"].iloc[-3:].mean() < 0.8 * ae[f"{split}_{term}"].iloc[0], term
    assert ae["train_atac_mutual_information"].iloc[-3:].mean() < ae["train_atac_mutual_information"].iloc[0]
    # mapping phase: cycle and total fall; the generator's adversarial loss falls from its peak (the
    # discriminator wins first, then the mapping catches up), and the discriminator no longer wins easily
    assert mapping["train_cycle"].iloc[-5:].mean() < 0.7 * mapping["train_cycle"].iloc[0]
    assert mapping["train_total"].iloc[-5:].mean() < mapping["train_total"].max()
    assert mapping["train_adversarial"].iloc[-5:].mean() < mapping["train_adversarial"].max()
    assert mapping["train_discriminator"].iloc[-5:].mean() > 0.5 * mapping["train_discriminator"].iloc[0]
    assert list(h.epoch) == list(range(1, len(h) + 1))


def test_translation_beats_random_model(trained, data):
    rna_paired, atac_paired = planted_modalities(seed=0, paired=True)  # same programmes, new paired cells
    untrained = SCACT(*data, seed=1)
    truth = atac_paired.X.toarray().ravel()
    auc_trained = roc_auc_score(truth, _rna_to_atac(trained, rna_paired).ravel())
    auc_random = roc_auc_score(truth, _rna_to_atac(untrained, rna_paired).ravel())
    assert auc_trained > auc_random + 0.1, (auc_trained, auc_random)
    expression = rna_paired.X.toarray()
    predicted = trained.translate_atac_to_rna(atac_paired).X
    r_trained = np.mean([np.corrcoef(p, t)[0, 1] for p, t in zip(predicted, expression)])
    predicted_random = untrained.translate_atac_to_rna(atac_paired).X
    r_random = np.mean([np.corrcoef(p, t)[0, 1] for p, t in zip(predicted_random, expression)])
    assert r_trained > r_random + 0.1, (r_trained, r_random)
    # mapped RNA cells land among ATAC cells of their own type (4 types: chance 0.25)
    z_mapped = trained.map_latent(trained.get_latent_representation(rna_paired, "rna"), "rna_to_atac")
    knn = KNeighborsClassifier(10).fit(trained.get_latent_representation(atac_paired, "atac"),
                                       atac_paired.obs["cell_type"])
    assert (knn.predict(z_mapped) == rna_paired.obs["cell_type"].to_numpy()).mean() > 0.45


def test_matched_translation_depth_follows_the_source_cell(trained):
    """``matched`` decodes each cell at its own depth z-score, ``typical`` every cell at the mean depth:
    with depth shared by the pair (co-assays), matched translations rank cells per peak better."""
    rna, atac = planted_modalities(seed=0, paired=True, shared_depth=True)
    matched, typical = _rna_to_atac(trained, rna), _rna_to_atac(trained, rna, depth="typical")
    depth = rna.obs["log_depth"].to_numpy()
    assert spearmanr(depth, matched.mean(1))[0] > 0.5
    shallow = rna.copy()
    shallow.obs["log_depth"] -= 1.0  # the same cells said to be shallower
    assert (_rna_to_atac(trained, shallow).mean(1) < matched.mean(1)).all()
    assert np.array_equal(_rna_to_atac(trained, shallow, depth="typical"), typical)
    observed = atac.X.toarray()
    per_peak = {name: np.median([roc_auc_score(observed[:, j], pred[:, j]) for j in range(observed.shape[1])
                                 if 10 <= observed[:, j].sum() < len(observed) - 10])
                for name, pred in (("matched", matched), ("typical", typical))}
    assert per_peak["matched"] > per_peak["typical"] + 0.02, per_peak
    expression = trained.translate_atac_to_rna(atac).X
    assert not np.array_equal(expression, trained.translate_atac_to_rna(atac, depth="typical").X)
    with pytest.raises(ScactInputError, match="translation-depth"):
        trained.translate_atac_to_rna(atac, depth="deep")


def test_neighbourhood_decoding_averages_the_nearest_reference_cells(trained):
    """With a reference, a mapped embedding is decoded as the mean over its nearest reference cells' codes
    (cosine), each at the source cell's depth; without one, or with 0 neighbours, the point itself."""
    rna, atac = planted_modalities(seed=0, paired=True, shared_depth=True)
    point = _rna_to_atac(trained, rna)
    assert np.array_equal(_rna_to_atac(trained, rna, reference=atac, neighbours=0), point)
    # one neighbour: the decoded code of the reference cell nearest the mapped embedding
    mapped = trained.map_latent(trained.get_latent_representation(rna, "rna"), "rna_to_atac")
    z_atac = trained.get_latent_representation(atac, "atac")
    nearest = NearestNeighbors(n_neighbors=1, metric="cosine").fit(z_atac).kneighbors(mapped)[1][:, 0]
    one = _rna_to_atac(trained, rna, reference=atac, neighbours=1, depth="typical")
    with torch.no_grad():
        decoded = torch.sigmoid(trained.module.atac.decode(torch.from_numpy(z_atac[nearest]),
                                                           trained._default_confounders(len(nearest))))
    np.testing.assert_allclose(one, decoded.numpy(), rtol=1e-5, atol=1e-6)
    # every reference cell: the same mean profile for every cell decoded at the same (typical) depth
    everyone = _rna_to_atac(trained, rna, reference=atac, neighbours=atac.n_obs + 5, depth="typical")
    np.testing.assert_allclose(everyone, np.broadcast_to(everyone[:1], everyone.shape), rtol=1e-5, atol=1e-6)
    expression = trained.translate_atac_to_rna(atac, reference=rna, neighbours=rna.n_obs, depth="typical").X
    np.testing.assert_allclose(expression, np.broadcast_to(expression[:1], expression.shape), rtol=1e-5,
                               atol=1e-5)
    for bad in (-1, 2.5, True):
        with pytest.raises(ScactInputError, match="translation-neighbours"):
            trained.translate_atac_to_rna(atac, reference=rna, neighbours=bad)


@pytest.mark.slow
def test_mutual_information_penalty_removes_depth_from_latent():
    rna, atac = planted_modalities(seed=3, n_rna=400, depth_effect=2.0)
    r2 = {}
    for weight in (0.0, 3.0):
        model = SCACT(rna, atac, seed=0, mi_weight=weight)
        model.train(**{**FAST, "max_epochs_mapping": 0, "max_epochs_autoencoder": 15})
        z = model.get_latent_representation(rna, "rna")
        r2[weight] = cross_val_score(RidgeCV(), z, rna.obs["log_depth"], cv=5, scoring="r2").mean()
    assert r2[3.0] < r2[0.0] - 0.2, r2


def test_resume_after_kill_equals_uninterrupted(tmp_path):
    rna, atac = planted_modalities(seed=1, n_rna=120, n_atac=120)
    options = dict(max_epochs_autoencoder=4, max_epochs_mapping=4, batch_size=32, device="cpu", progress=False,
                   checkpoint_every=2)
    reference = SCACT(rna, atac, seed=5)
    reference.train(**options, checkpoint_dir=tmp_path / "a")

    class Killed(Exception):
        pass

    def kill_at_epoch_7(row):
        if row["epoch"] == 7:  # after the checkpoint of epoch 6: epoch 7 is redone on resume
            raise Killed

    interrupted = SCACT(rna, atac, seed=5)
    with pytest.raises(Killed):
        interrupted.train(**options, checkpoint_dir=tmp_path / "b", on_epoch_end=kill_at_epoch_7)
    resumed = SCACT(rna, atac, seed=5)
    resumed.train(**options, checkpoint_dir=tmp_path / "b", resume=True)
    expected, got = _state(reference), _state(resumed)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    pd.testing.assert_frame_equal(reference.history.drop(columns="seconds"), resumed.history.drop(columns="seconds"))

    changed = SCACT(rna, atac, seed=5, gamma=2.0)
    with pytest.raises(ScactInputError, match="other data or other settings"):
        changed.train(**options, checkpoint_dir=tmp_path / "b", resume=True)


def test_save_load_roundtrip_identical_outputs(trained, data, tmp_path):
    rna, atac = data
    trained.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["model.json", "model.pt"]
    torch.load(tmp_path / "model" / "model.pt", weights_only=True)  # plain containers and tensors only
    loaded = SCACT.load(tmp_path / "model")
    for adata, modality in ((rna, "rna"), (atac, "atac")):
        np.testing.assert_array_equal(loaded.get_latent_representation(adata, modality),
                                      trained.get_latent_representation(adata, modality))
    np.testing.assert_array_equal(_rna_to_atac(loaded, rna), _rna_to_atac(trained, rna))
    np.testing.assert_array_equal(loaded.translate_atac_to_rna(atac).X, trained.translate_atac_to_rna(atac).X)
    assert list(loaded.genes.index) == list(rna.var_names)
    assert loaded.peaks[["chrom", "start", "end"]].equals(trained.peaks[["chrom", "start", "end"]])
    assert loaded.label_names == ["type0", "type1", "type2", "type3"]
    assert loaded.history.shape == trained.history.shape
    x = torch.from_numpy(atac.X[:5].toarray()).requires_grad_(True)
    out = loaded.atac_to_rna_torch(x)
    out[:, 0].sum().backward()
    assert x.grad.shape == x.shape and torch.isfinite(x.grad).all()


def test_load_refuses_other_version_and_missing_keys(trained, tmp_path):
    trained.save(tmp_path / "m")
    state = torch.load(tmp_path / "m" / "model.pt", weights_only=True)
    state["format_version"] = 99
    torch.save(state, tmp_path / "m" / "model.pt")
    with pytest.raises(ScactInputError, match="model format 99"):
        SCACT.load(tmp_path / "m")
    state["format_version"] = 1
    del state["state_dict"]["rna.encoder.0.weight"]
    torch.save(state, tmp_path / "m" / "model.pt")
    with pytest.raises(ScactInputError, match="do not fit"):
        SCACT.load(tmp_path / "m")
    with pytest.raises(ScactInputError, match="no saved scACT model"):
        SCACT.load(tmp_path / "nothing")


def test_label_free_mode_runs(data):
    rna, atac = data
    atac = atac.copy()
    del atac.obs["cell_type"]  # labels in one modality only
    model = SCACT(rna, atac, seed=0)
    assert model.label_free and model.module.discriminator_atac.net[-1].out_features == 1
    model.train(**{**FAST, "max_epochs_autoencoder": 5, "max_epochs_mapping": 5, "max_epochs_joint": 2})
    assert np.isfinite(model.get_latent_representation(rna, "rna")).all()
    assert model.history["train_adversarial"].notna().sum() == 5 + 2  # the mapping and joint epochs
    assert not hasattr(model.module.atac, "classifier") and "train_classification" not in model.history


@pytest.mark.slow
def test_negative_binomial_rna_likelihood(data, tmp_path):
    """``rna_likelihood="nb"``: NB loss on layers['counts'] falls, translations keep the log1p(CP10k) scale
    and beat a random model, the dispersions are learned and saved; no counts layer: a clear error."""
    rna, atac = data
    model = SCACT(rna, atac, rna_likelihood="nb", seed=0)
    model.train(**FAST)
    h = model.history[model.history.phase == "autoencoder"]
    # the NB likelihood has a large floor (counting noise), so the fall is smaller than for the MSE
    assert h["val_rna_reconstruction"].iloc[-3:].mean() < 0.95 * h["val_rna_reconstruction"].iloc[0]
    assert not torch.allclose(model.module.rna.log_theta, torch.zeros_like(model.module.rna.log_theta))
    rna_paired, atac_paired = planted_modalities(seed=0, paired=True)
    expression = rna_paired.X.toarray()
    predicted = model.translate_atac_to_rna(atac_paired).X
    assert predicted.min() >= 0 and abs(predicted.mean() - expression.mean()) < 0.5 * expression.mean()
    untrained = SCACT(rna, atac, rna_likelihood="nb", seed=1).translate_atac_to_rna(atac_paired).X
    r = {name: np.mean([np.corrcoef(p, t)[0, 1] for p, t in zip(pred, expression)])
         for name, pred in (("trained", predicted), ("random", untrained))}
    assert r["trained"] > r["random"] + 0.1, r
    model.save(tmp_path / "nb")
    again = SCACT.load(tmp_path / "nb")
    np.testing.assert_allclose(again.translate_atac_to_rna(atac_paired).X, predicted, rtol=1e-5, atol=1e-6)
    no_counts = rna.copy()
    del no_counts.layers["counts"]
    with pytest.raises(ScactInputError, match="layers\\['counts'\\]"):
        SCACT(no_counts, atac, rna_likelihood="nb")
    normalised = rna.copy()
    normalised.layers["counts"] = normalised.X.copy()  # log-normalised values, not counts
    with pytest.raises(ScactInputError, match="not raw counts"):
        SCACT(normalised, atac, rna_likelihood="nb")


def test_classifier_heads_learn_types_and_can_be_disabled(trained, data, tmp_path):
    """Default: a cell-type head on each latent (validation label accuracy recorded, no pairing used)
    and a classification term on mapped embeddings; weight 0 builds no head, as in models saved before
    the option existed, which still load."""
    h = trained.history
    ae = h[h.phase == "autoencoder"]
    assert ae["val_rna_label_accuracy"].dropna().iloc[-1] > 0.6
    assert ae["train_atac_classification"].dropna().iloc[-1] < ae["train_atac_classification"].iloc[0]
    assert h.loc[h.phase == "mapping", "train_classification"].notna().all()
    assert trained.module.atac.classifier.out_features == 4
    plain = SCACT(*data, seed=0, classifier_weight=0.0)
    assert not hasattr(plain.module.rna, "classifier")
    plain.save(tmp_path / "old")
    state = torch.load(tmp_path / "old" / "model.pt", weights_only=True)
    del state["metadata"]["hyperparameters"]["classifier_weight"]  # a model written before the option
    torch.save(state, tmp_path / "old" / "model.pt")
    old = SCACT.load(tmp_path / "old")
    np.testing.assert_array_equal(old.get_latent_representation(data[0], "rna"),
                                  plain.get_latent_representation(data[0], "rna"))


def test_chromosome_split_has_no_interchromosomal_weights(trained, data):
    sizes = [50, 30, 20]
    encoder, decoder = trained.module.atac.encoder, trained.module.atac.decoder
    assert [layer.weight.shape for layer in encoder.first] == [torch.Size([128, n]) for n in sizes]
    assert [block[-1].weight.shape for block in decoder.blocks] == [torch.Size([n, 128]) for n in sizes]
    # no parameter anywhere spans all 100 peaks (a dense peaks x hidden weight would)
    assert not any(sum(sizes) in p.shape for p in trained.module.parameters())
    # the sparse and dense encoder paths compute the same thing
    x = data[1].X[:20]
    dense = encoder(torch.from_numpy(x.toarray()))
    sparse = encoder(torch.from_numpy(x.toarray()).to_sparse())
    torch.testing.assert_close(dense, sparse, rtol=1e-5, atol=1e-5)


def test_new_data_aligned_by_gene_name_and_peak_overlap(trained, data, caplog):
    rna, atac = data
    genes = list(rna.var_names[::-1][:-5])  # reversed, 5 genes missing
    sub = rna[:, genes].copy()
    full = trained.get_latent_representation(rna, "rna")
    with caplog.at_level("WARNING"):
        partial = trained.get_latent_representation(sub, "rna")
    report = trained.alignment_reports["rna"]
    assert report["n_missing"] == 5 and report["missing_examples"] == list(rna.var_names[:5])
    assert "5 of 60 model features are missing" in caplog.text
    expected = trained.get_latent_representation(
        ad.AnnData(rna.X.multiply(np.r_[np.zeros(5), np.ones(55)]).tocsr(), var=rna.var), "rna")
    np.testing.assert_allclose(partial, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(partial, full)
    shifted = atac.copy()  # same peaks called slightly differently: matched by overlap
    shifted.var["start"] += 50
    shifted.var["end"] += 50
    shifted.var_names = [f"p{i}" for i in range(shifted.n_vars)]
    np.testing.assert_array_equal(trained.get_latent_representation(shifted, "atac"),
                                  trained.get_latent_representation(atac, "atac"))
    assert trained.alignment_reports["atac"]["n_missing"] == 0
    elsewhere = atac.copy()
    elsewhere.var["chrom"] = "chrZ"
    elsewhere.var_names = [f"q{i}" for i in range(elsewhere.n_vars)]
    with pytest.raises(ScactInputError, match="none of the model's 100 peaks"):
        trained.get_latent_representation(elsewhere, "atac")


@pytest.mark.parametrize("problem", ["nan", "no_features", "one_type"])
def test_bad_input_is_refused(data, problem):
    rna, atac = (a.copy() for a in data)
    if problem == "nan":
        rna.X.data[0] = np.nan
        match = "NaN or infinite"
    elif problem == "no_features":
        atac = atac[:, :0].copy()
        match = "no usable features"
    else:
        atac.obs["cell_type"] = "neuron"
        match = "one cell type only"
    with pytest.raises(ScactInputError, match=match):
        SCACT(rna, atac)


@pytest.mark.slow
def test_train_command_writes_outputs_and_resumes(data, tmp_path, monkeypatch, capsys):
    rna, atac = data
    rna.write_h5ad(tmp_path / "rna.h5ad")
    atac.write_h5ad(tmp_path / "atac.h5ad")
    monkeypatch.chdir(tmp_path)
    argv = ["--rna", "rna.h5ad", "--atac", "atac.h5ad", "--outdir", "out", "--max-epochs-autoencoder", "3",
            "--max-epochs-mapping", "3", "--batch-size", "64", "--threads", "1", "--device", "cpu",
            "--checkpoint-every", "2", "--no-progress"]
    assert run_command("train", argv) == 0
    history = pd.read_csv(tmp_path / "out" / "training_history.csv")
    assert {"train_rna_reconstruction", "train_atac_reconstruction", "train_rna_mutual_information",
            "train_adversarial", "train_cycle", "train_discriminator", "val_cycle"} <= set(history.columns)
    assert (tmp_path / "out" / "loss_curves.png").stat().st_size > 1000
    assert (tmp_path / "versions.yml").exists()
    first = SCACT.load(tmp_path / "out" / "model")
    assert run_command("train", argv + ["--resume"]) == 0  # the last checkpoint is the finished run
    again = SCACT.load(tmp_path / "out" / "model")
    for key, value in first.module.state_dict().items():
        assert torch.equal(value, again.module.state_dict()[key])
    bad = atac.copy()
    bad.obs["cell_type"] = "one"
    bad.write_h5ad(tmp_path / "bad.h5ad")
    code = run_command("train", ["--rna", "rna.h5ad", "--atac", "bad.h5ad", "--outdir", "bad_out"])
    assert code == 2 and not (tmp_path / "bad_out").exists()
    # the feature-level link: needs an annotation; with one (a TSS per gene at its peak), it trains
    assert run_command("train", argv[:4] + ["--outdir", "link_out", "--link-weight", "1"]) == 2
    assert "--link-weight" in capsys.readouterr().err and not (tmp_path / "link_out").exists()
    peaks = atac.var.reset_index(drop=True)
    pd.DataFrame({"chrom": peaks["chrom"], "start": peaks["start"] + 200, "end": peaks["start"] + 201,
                  "gene": list(rna.var_names) + [f"other{i}" for i in range(len(peaks) - rna.n_vars)]}
                 ).to_csv(tmp_path / "tss.bed", sep="\t", header=False, index=False)
    link_argv = [*argv[:4], "--outdir", "link_out", *argv[6:], "--link-weight", "1", "--annotation", "tss.bed"]
    assert run_command("train", link_argv) == 0
    assert pd.read_csv(tmp_path / "link_out" / "training_history.csv")["train_link"].notna().any()


def test_atac_input_dropout_masks_training_input_only(data, tmp_path):
    """Input dropout closes open peaks of the encoder's training input only (kept ones scaled by 1/(1-p));
    the reconstruction target, evaluation and applied models see every peak; seeded training repeats;
    the setting is saved with the model."""
    from scact.model._training import Trainer, TrainingConfig

    rna, atac = planted_modalities(seed=2, n_rna=80, n_atac=80)
    models = []
    for _ in range(2):
        model = SCACT(rna, atac, seed=3, atac_input_dropout=0.5)
        model.train(max_epochs_autoencoder=2, max_epochs_mapping=1, batch_size=32, device="cpu", progress=False)
        models.append(model)
    for key, value in _state(models[0]).items():
        assert torch.equal(value, _state(models[1])[key]), key
    trainer = Trainer(models[0].module, models[0]._training_data, {"atac_input_dropout": 0.5},
                      TrainingConfig(seed=0), torch.device("cpu"))
    index = torch.arange(40)
    target, _, whole = trainer._dense("atac", index)
    masked_target, _, masked = trainer._dense("atac", index, masked=True)
    assert torch.equal(target, masked_target) and torch.equal(whole.to_dense(), target)
    values = masked.coalesce().values()
    assert torch.allclose(values, torch.full_like(values, 2.0))
    assert 0.35 < len(values) / whole._nnz() < 0.65
    np.testing.assert_array_equal(models[0].get_latent_representation(atac, "atac"),
                                  models[0].get_latent_representation(atac, "atac"))
    models[0].save(tmp_path / "m")
    assert SCACT.load(tmp_path / "m").hyperparameters["atac_input_dropout"] == 0.5
    with pytest.raises(ScactInputError, match="not a probability"):
        SCACT(rna, atac, atac_input_dropout=1.0)


def test_joint_phase_trains_encoders_with_the_mapping(data):
    """Phase 3 (``max_epochs_joint``): the adversarial and cycle losses reach the encoders (they receive
    gradients and move), reconstruction stays in the loss, and the history records the phase."""
    rna, atac = planted_modalities(seed=2, n_rna=80, n_atac=80)
    model = SCACT(rna, atac, seed=0)
    snapshots = {}

    def snapshot(row):
        if row["phase"] == "mapping":
            snapshots["mapping"] = _state(model)

    model.train(max_epochs_autoencoder=2, max_epochs_mapping=2, max_epochs_joint=2, batch_size=32,
                device="cpu", progress=False, on_epoch_end=snapshot)
    h = model.history
    joint = h[h.phase == "joint"]
    assert len(joint) == 2 and joint["train_atac_reconstruction"].notna().all()
    assert joint[["val_rna_reconstruction", "train_adversarial", "train_cycle"]].notna().all().all()
    after = _state(model)
    for key in ("rna.encoder.0.weight", "atac.encoder.merge.weight", "atac.decoder.expand.0.weight",
                "rna_to_atac.net.0.weight"):
        assert not torch.equal(snapshots["mapping"][key], after[key]), key

    from scact.model._training import Trainer, TrainingConfig

    trainer = Trainer(model.module, model._training_data, {"gamma": 1.0, "lam": 1.0, "mi_weight": 0.0},
                      TrainingConfig(seed=0), torch.device("cpu"))
    trainer._encode_all()
    index = torch.arange(32)
    _, _, zr = trainer._own_losses("rna", index, masked=False)
    _, _, za = trainer._own_losses("atac", index, masked=False)
    model.module.zero_grad(set_to_none=True)
    terms, _ = trainer._mapping_losses(index, index, zr, za)
    (terms["adversarial"] + terms["cycle"]).backward()
    assert model.module.rna.encoder[0].weight.grad.abs().sum() > 0
    assert model.module.atac.encoder.merge.weight.grad.abs().sum() > 0


def test_within_type_correlation_is_the_pearson_correlation_of_within_type_residuals():
    from scact.model._modules import within_type_correlation

    rng = np.random.default_rng(0)
    groups = np.repeat([0, 1, 2], 20)
    predicted, observed = rng.normal(size=(60, 5)), rng.normal(size=(60, 5))
    observed[:, 4] = groups  # no variation inside any type: left out
    predicted[:, 0] = observed[:, 0] + 10 * groups  # type offsets do not count

    def residual(x):
        return x - np.vstack([x[groups == g].mean(0) for g in groups])

    expected = [np.corrcoef(residual(predicted)[:, j], residual(observed)[:, j])[0, 1] for j in range(4)]
    value = within_type_correlation(torch.from_numpy(predicted), torch.from_numpy(observed),
                                    torch.from_numpy(groups))
    assert float(value) == pytest.approx(np.mean(expected), abs=1e-6)
    assert expected[0] == pytest.approx(1.0)


def test_feature_link_trains_the_mappings_on_genes_and_their_peaks():
    """``link_weight``: gene regions become peaks x genes links; the mapping phase adds the link term
    (history ``train_link``) and still leaves both autoencoders as phase 1 left them; without regions, or
    with regions that hold no peak, the model says so."""
    rna, atac = planted_modalities(seed=2, n_rna=80, n_atac=80)
    peaks = atac.var.reset_index(drop=True)
    # gene i's region is peak i's interval widened by 100 bp (peaks are 500 bp apart); genes 40-59 have none
    regions = pd.DataFrame({"gene": rna.var_names[:40], "chrom": peaks["chrom"][:40],
                            "start": peaks["start"][:40] - 100, "end": peaks["end"][:40] + 100})
    from scact.model._model import gene_peak_links

    links = gene_peak_links(peaks, list(rna.var_names), regions)
    assert links.shape == (100, 60) and links.nnz == 40 and all(links[i, i] == 1 for i in range(40))
    model = SCACT(rna, atac, seed=0, link_weight=1.0, gene_regions=regions)
    mapping_states = []

    def snapshot(row):
        if row["phase"] == "mapping":
            mapping_states.append(_state(model))

    model.train(max_epochs_autoencoder=2, max_epochs_mapping=3, batch_size=32, device="cpu", progress=False,
                on_epoch_end=snapshot)
    mapping = model.history[model.history.phase == "mapping"]
    assert mapping["train_link"].between(0, 4).all()
    first, last = mapping_states[0], mapping_states[-1]
    for key in first:
        if key.startswith(("rna.", "atac.")):
            assert torch.equal(first[key], last[key]), key
    assert not torch.equal(first["rna_to_atac.net.0.weight"], last["rna_to_atac.net.0.weight"])
    with pytest.raises(ScactInputError, match="needs gene regions"):
        SCACT(rna, atac, link_weight=1.0)
    elsewhere = regions.assign(chrom="chrX")
    with pytest.raises(ScactInputError, match="no peak of the model lies"):
        SCACT(rna, atac, link_weight=1.0, gene_regions=elsewhere)
    with pytest.raises(ScactInputError, match="--link-weight"):
        SCACT(rna, atac, link_weight=-1.0)


def test_public_api_at_the_top_level_without_importing_torch():
    import subprocess
    import sys

    import scact

    assert scact.SCACT is SCACT and scact.ScactInputError is ScactInputError
    code = "import sys, scact; assert 'torch' not in sys.modules; print(sorted(dir(scact)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "SCACT" in done.stdout and "PackageNotFoundError" not in done.stdout


def test_latent_representation_infers_the_modality_and_maps_between_spaces(trained, data):
    rna, atac = data
    z_atac = trained.get_latent_representation(atac)
    np.testing.assert_array_equal(z_atac, trained.get_latent_representation(atac, "atac"))
    np.testing.assert_array_equal(trained.get_latent_representation(rna),
                                  trained.get_latent_representation(rna, "rna"))
    in_rna_space = trained.get_latent_representation(atac, space="rna")
    np.testing.assert_array_equal(in_rna_space, trained.map_latent(z_atac, "atac_to_rna"))
    assert in_rna_space.shape == (atac.n_obs, trained.hyperparameters["latent_dim"])
    unnamed = ad.AnnData(rna.X, var=pd.DataFrame(index=[f"x{i}" for i in range(rna.n_vars)]))
    with pytest.raises(ScactInputError, match="modality='rna'"):
        trained.get_latent_representation(unnamed)


def test_both_translations_return_anndata_in_memory_or_streamed(trained, data, tmp_path):
    """RNA->ATAC: sampled profiles in X and the probabilities in the form scact.io.translated stores, the
    same in memory and streamed to a file; ATAC->RNA: expression on the model's genes."""
    from scact.io.translated import PROBABILITY_LAYER, REST_COLUMN, TranslatedAccessibility

    rna, atac = data
    rna = rna[:40].copy()
    probabilities = _rna_to_atac(trained, rna)
    dense = trained.translate_rna_to_atac(rna, probabilities="float32", seed=3)
    assert list(dense.var_names) == list(trained.peaks.index) and list(dense.obs_names) == list(rna.obs_names)
    np.testing.assert_array_equal(dense.layers[PROBABILITY_LAYER], probabilities)
    assert sp.issparse(dense.X) and set(np.unique(dense.X.data)) <= {1.0}
    streamed = trained.translate_rna_to_atac(rna, path=tmp_path / "r2a.h5ad", probabilities="topk", top_k=5, seed=3,
                                             provenance={"input": "rna.h5ad"})
    in_memory = trained.translate_rna_to_atac(rna, probabilities="topk", top_k=5, seed=3,
                                              provenance={"input": "rna.h5ad"})
    assert streamed.isbacked
    np.testing.assert_array_equal(streamed.X[:].toarray(), in_memory.X.toarray())
    np.testing.assert_array_equal(streamed.X[:].toarray(), dense.X.toarray())  # same seed, same draws
    np.testing.assert_array_equal(streamed.layers[PROBABILITY_LAYER].toarray(),
                                  in_memory.layers[PROBABILITY_LAYER].toarray())
    np.testing.assert_array_equal(streamed.obs[REST_COLUMN], in_memory.obs[REST_COLUMN])
    params = in_memory.uns["scact"]["translate_rna_to_atac"]["params"]
    assert params["probabilities"] == "topk" and params["input"] == "rna.h5ad"
    streamed.file.close()
    with TranslatedAccessibility(tmp_path / "r2a.h5ad") as reader:
        assert reader.form == "topk"
    expression = trained.translate_atac_to_rna(atac[:30])
    assert isinstance(expression, ad.AnnData) and list(expression.var_names) == list(trained.genes.index)
    assert expression.shape == (30, len(trained.genes)) and expression.X.dtype == np.float32
    assert expression.uns["scact"]["translate_atac_to_rna"]["params"]["translation_depth"] == "matched"


def test_minibatches_densified_on_the_device_equal_the_host_copy():
    """A GPU gets the minibatch as CSR and densifies it there (10x less to copy at 100k peaks); the
    result must be the host's dense block, value for value, zero rows and float64 counts included."""
    from scact.model._training import csr_tensor, dense_rows

    block = sp.random(40, 300, density=0.05, format="csr", dtype=np.float32, random_state=0)
    block[3] = 0
    for matrix in (block, block.astype(np.float64)):
        matrix = sp.csr_matrix(matrix)
        host = dense_rows(matrix, torch.device("cpu"))
        assert host.dtype == torch.from_numpy(matrix.data).dtype
        assert torch.equal(csr_tensor(matrix).to_dense(), host)
        assert np.array_equal(host.numpy(), matrix.toarray())


def test_early_stopping_waits_out_the_warm_up_then_restores_the_best_epoch():
    """A validation reconstruction that stalls early (as the ATAC BCE does after learning peak frequencies)
    does not stop an autoencoder during the first half of the budget; after it, ``patience`` epochs without
    improvement do, and the best epoch's weights are the ones kept."""
    from scact.model._training import Trainer, TrainingConfig

    rna, atac = planted_modalities(seed=2, n_rna=80, n_atac=80)
    model = SCACT(rna, atac, seed=0)
    trainer = Trainer(model.module, model._training_data, {}, TrainingConfig(max_epochs_autoencoder=20,
                                                                             patience=2), torch.device("cpu"))
    assert trainer.early_stopping_warmup() == 10
    stalled = [0.5, 0.1, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.09, 0.2, 0.2]
    for epoch, loss in enumerate(stalled, start=1):
        trainer.phase_epoch = epoch
        if epoch == 11:
            best = {k: v.clone() for k, v in model.module.atac.state_dict().items()}
        trainer._update_early_stopping({"val_rna_reconstruction": 1.0 / epoch, "val_atac_reconstruction": loss})
        if epoch == 11:
            for parameter in model.module.atac.parameters():
                parameter.data.add_(1.0)  # later epochs move the weights away from the best ones
        assert trainer.early["atac"]["stopped"] == (epoch >= 13), epoch
    assert not trainer.early["rna"]["stopped"]
    trainer._finish_autoencoders()
    for key, value in model.module.atac.state_dict().items():
        assert torch.equal(value, best[key]), key
