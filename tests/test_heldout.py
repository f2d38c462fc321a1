"""The held-out protocol (scact.preprocessing.split) and generated data that can tell a model that matches
cells inside types from a label lookup (simulated programs)."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from scact.evaluation import baselines, evaluate, metrics
from scact.preprocessing.split import HELDOUT, PARTNER_TRAINED, TRAIN, annotate_split, split_cells
from scact.simulate import SimulationConfig, build_truth, planted_matrices, planted_paired


def test_split_holds_out_pairs_and_trains_each_cell_on_one_modality_only():
    rna_names = [f"c{i}" for i in range(100)] + ["rna_only"]
    atac_names = ["atac_only"] + [f"c{i}" for i in range(99, -1, -1)]
    split = split_cells(rna_names, atac_names, fraction=0.2, seed=3)
    rna_role = dict(zip(rna_names, split.rna))
    atac_role = dict(zip(atac_names, split.atac))
    assert rna_role["rna_only"] == TRAIN and atac_role["atac_only"] == TRAIN
    paired = [f"c{i}" for i in range(100)]
    assert sum(rna_role[n] == HELDOUT for n in paired) == 20
    for name in paired:
        roles = {rna_role[name], atac_role[name]}
        assert roles in ({HELDOUT}, {TRAIN, PARTNER_TRAINED}), name  # never both modalities in training
    assert sum(rna_role[n] == TRAIN for n in paired) == sum(atac_role[n] == TRAIN for n in paired) == 40
    rna_rows, atac_rows = split.heldout_pairs(rna_names, atac_names)
    assert len(rna_rows) == 20 and all(rna_names[r] == atac_names[a] for r, a in zip(rna_rows, atac_rows))
    # the split depends on the names and the seed only, not on the order of the cells
    again = split_cells(rna_names[::-1], atac_names, fraction=0.2, seed=3)
    assert dict(zip(rna_names[::-1], again.rna)) == rna_role
    assert split_cells(rna_names, atac_names, fraction=0.2, seed=4).rna.tolist() != split.rna.tolist()
    assert (split_cells(rna_names, atac_names, fraction=0.0).rna == TRAIN).all()


def test_evaluation_scores_heldout_pairs_against_training_references():
    rna, atac, _ = planted_paired(n_cells=120, seed=2)
    split = annotate_split(rna, atac, fraction=0.25, seed=0)
    pairing = evaluate.Pairing.for_scoring(rna, atac)
    assert pairing.heldout and len(pairing) == 30
    result = evaluate.evaluate(rna, atac, evaluate.baseline_methods(rna, atac, pairing, "cell_type"), "cell_type")
    table = result.metrics.set_index(["method", "metric"])["value"]
    # the cell-type mean averages the training ATAC cells only, never a held-out cell's own profile
    labels = rna.obs["cell_type"].astype(str).to_numpy()
    train = split.atac_train
    expected = metrics.rna_to_atac_metrics(
        atac.X[pairing.atac_rows],
        baselines.type_mean(atac.X[train], atac.obs["cell_type"].astype(str).to_numpy()[train],
                            labels[pairing.rna_rows]), labels[pairing.rna_rows])
    assert table["cell-type mean", "rna_to_atac/auroc_flattened"] == pytest.approx(
        expected.scalars["auroc_flattened"])
    # the oracle that knows only the types: FOSCTTM about sum of squared type shares / 2 on the held-out cells
    shares = pd.Series(labels[pairing.rna_rows]).value_counts(normalize=True).to_numpy()
    assert table[evaluate.ORACLE_TYPE_ONLY, "alignment/foscttm"] == pytest.approx(
        (shares ** 2).sum() / 2, abs=0.05)


def test_scored_pairs_are_a_seeded_sample_above_the_cap():
    rna, atac, _ = planted_paired(n_cells=120, seed=2)
    annotate_split(rna, atac, fraction=0.25, seed=0)
    every = evaluate.Pairing.for_scoring(rna, atac)
    sample = evaluate.Pairing.for_scoring(rna, atac, max_pairs=12, seed=1)
    assert every.sampled_from is None and evaluate.Pairing.for_scoring(rna, atac, max_pairs=30).sampled_from is None
    assert len(sample) == 12 and sample.heldout and sample.sampled_from == 30
    assert set(zip(sample.rna_rows, sample.atac_rows)) <= set(zip(every.rna_rows, every.atac_rows))
    assert np.all(np.diff(sample.rna_rows) > 0)  # kept in RNA order
    again = evaluate.Pairing.for_scoring(rna, atac, max_pairs=12, seed=1)
    assert np.array_equal(again.rna_rows, sample.rna_rows)
    assert not np.array_equal(evaluate.Pairing.for_scoring(rna, atac, max_pairs=12, seed=2).rna_rows,
                              sample.rna_rows)
    rows = {r["metric"]: r["value"] for r in evaluate.pairing_rows(sample, rna.obs_names, atac.obs_names)}
    assert rows["pairing/scored_pairs"] == 12 and rows["pairing/scorable_pairs"] == 30
    assert "pairing/scorable_pairs" not in {r["metric"] for r in evaluate.pairing_rows(every, rna.obs_names,
                                                                                        atac.obs_names)}
    result = evaluate.evaluate(rna, atac, evaluate.baseline_methods(rna, atac, sample, "cell_type"), "cell_type",
                               pairing=sample)
    from scact.report._metrics import pairing_note

    note = pairing_note(result.metrics)
    assert "30 of them were held out" in note.text and "sample of 12" in note.text


def _planted(strength: float):
    """Paired cells from a small simulation with two programs (no doublets, no low-quality cells)."""
    truth = build_truth(SimulationConfig(n_cells=800, n_genes=300, n_peaks=900, n_chromosomes=2,
                                         n_cell_types=3, doublet_fraction=0, low_quality_fraction=0,
                                         empty_fraction=0, n_programs=2, program_strength=strength, seed=1))
    counts, states = planted_matrices(truth)
    names = truth.cells["barcode"].to_numpy()
    obs = pd.DataFrame({"cell_type": truth.cells["cell_type"].to_numpy()}, index=names)
    expression = np.log1p(counts.toarray() / counts.sum(1).A * 1e4).astype(np.float32)
    rna = ad.AnnData(expression, obs=obs.copy())
    atac = ad.AnnData(states, obs=obs.copy())
    return truth, rna, atac


def _program_scores(x, features) -> np.ndarray:
    """Per cell and program: the mean standardised value of the program's features (no pairing used)."""
    x = x.toarray() if sp.issparse(x) else np.asarray(x)
    z = (x - x.mean(0)) / np.maximum(x.std(0), 1e-6)
    return np.column_stack([z[:, cols].mean(1) for cols in features])


def _within_type_standardised(scores, labels):
    out = np.empty_like(scores)
    for label in np.unique(labels):
        inside = labels == label
        out[inside] = (scores[inside] - scores[inside].mean(0)) / np.maximum(scores[inside].std(0), 1e-6)
    return out


def _program_versus_type_mean(strength: float):
    """Held-out per-peak AUROC of a program-aware predictor and of the type mean; FOSCTTM of a type +
    program space and of the type-only oracle."""
    truth, rna, atac = _planted(strength)
    split = split_cells(rna.obs_names, atac.obs_names, fraction=0.2, seed=0)
    rna_rows, atac_rows = split.heldout_pairs(rna.obs_names, atac.obs_names)
    labels = rna.obs["cell_type"].to_numpy()
    gene_sets = [g.to_numpy() for _, g in truth.programs.groupby("program")["gene"]]
    peak_sets = [np.flatnonzero(truth.program_peak == p) for p in range(truth.config.n_programs)]
    # each modality's program scores, standardised inside each type of that modality's cells
    rna_cells = np.r_[np.flatnonzero(split.rna_train), rna_rows]
    atac_cells = np.r_[np.flatnonzero(split.atac_train), atac_rows]
    rna_score = _within_type_standardised(_program_scores(rna.X[rna_cells], gene_sets), labels[rna_cells])
    atac_score = _within_type_standardised(_program_scores(atac.X[atac_cells], peak_sets), labels[atac_cells])
    n_rna_train, n_atac_train = int(split.rna_train.sum()), int(split.atac_train.sum())
    # RNA->ATAC: mean of the 15 training ATAC cells of the same type nearest in program score
    train_atac = atac.X[split.atac_train]
    train_labels = labels[split.atac_train]
    predicted = np.zeros((len(rna_rows), atac.n_vars), np.float32)
    for i, row in enumerate(rna_rows):
        same = np.flatnonzero(train_labels == labels[row])
        gap = ((atac_score[:n_atac_train][same] - rna_score[n_rna_train + i]) ** 2).sum(1)
        predicted[i] = train_atac[same[np.argsort(gap)[:15]]].mean(0).A1
    observed = atac.X[atac_rows]
    program_auroc = metrics.rna_to_atac_metrics(observed, metrics.dense_blocks(predicted)).scalars
    type_auroc = metrics.rna_to_atac_metrics(
        observed, baselines.type_mean(train_atac, train_labels, labels[rna_rows])).scalars
    # alignment: type vertices plus the program scores, against the type-only oracle
    z_rna, z_atac = baselines.type_only_embedding(labels[rna_rows], labels[atac_rows], dims=2)
    z_rna[:, -2:] = rna_score[n_rna_train:]
    z_atac[:, -2:] = atac_score[n_atac_train:]
    oracle = baselines.type_only_embedding(labels[rna_rows], labels[atac_rows], dims=2)
    return (program_auroc["auroc_per_peak_median"], type_auroc["auroc_per_peak_median"],
            metrics.foscttm(z_rna, z_atac), metrics.foscttm(*oracle))


def test_planted_programs_let_a_within_type_predictor_beat_the_heldout_type_mean():
    program, type_mean, program_foscttm, oracle_foscttm = _program_versus_type_mean(strength=1.5)
    assert program > type_mean + 0.02  # measured 0.611 vs 0.582
    assert program_foscttm < oracle_foscttm / 3  # 0.016 vs 0.177
    # with program strength 0 the same predictor falls under the type mean (0.565 vs 0.587), and only the
    # planted links (a cell's open linked peaks raise its expression) leave some correspondence (0.123)
    flat, flat_type_mean, flat_foscttm, _ = _program_versus_type_mean(strength=0.0)
    assert flat < flat_type_mean and flat_foscttm > program_foscttm + 0.05


def test_programs_leave_the_presets_unchanged_and_write_their_truth():
    plain = build_truth(SimulationConfig(n_cells=60, n_genes=120, n_peaks=300, n_chromosomes=1, n_cell_types=2))
    with_programs = build_truth(SimulationConfig(n_cells=60, n_genes=120, n_peaks=300, n_chromosomes=1,
                                                 n_cell_types=2, n_programs=2))
    assert len(plain.programs) == 0 and (plain.program_peak == -1).all()
    np.testing.assert_array_equal(plain.latent_type, with_programs.latent_type)
    np.testing.assert_array_equal(plain.open_probability, with_programs.open_probability)
    assert {"program_1", "program_2"} <= set(with_programs.cells.columns)
    # program genes are linked genes and their peaks move with the program
    linked = set(with_programs.links["gene"])
    assert set(with_programs.programs["gene"]) <= linked
    peak_gene = with_programs.peaks["gene"].to_numpy()
    in_program = with_programs.program_peak >= 0
    assert set(peak_gene[in_program]) == set(with_programs.programs["gene"])


def _scact_on_programs(link_weight: float = 0.0, max_epochs_mapping: int = 30, max_epochs_joint: int = 10):
    """scACT (small: 15 autoencoder epochs) trained on the training cells of the planted-program data; FOSCTTM
    of the held-out pairs in its RNA latent space, and of the type-only oracle."""
    from scact.io.annotation import tss_regions
    from scact.model import SCACT

    truth, rna, atac = _planted(1.5)
    rna.X = sp.csr_matrix(rna.X)
    rna.var_names = truth.genes["gene"].to_numpy()
    peaks = truth.peaks
    atac.var = pd.DataFrame({"chrom": peaks["chrom"].to_numpy(), "start": peaks["start"].to_numpy(),
                             "end": peaks["end"].to_numpy()},
                            index=(peaks["chrom"] + ":" + peaks["start"].astype(str)).to_numpy())
    for adata in (rna, atac):
        adata.obs["batch"] = "sim"
    split = split_cells(rna.obs_names, atac.obs_names, fraction=0.2, seed=0)
    rna_rows, atac_rows = split.heldout_pairs(rna.obs_names, atac.obs_names)
    model = SCACT(rna[split.rna_train].copy(), atac[split.atac_train].copy(), labels_key="cell_type",
                  batch_key="batch", seed=0, link_weight=link_weight, gene_regions=tss_regions(truth.genes))
    model.train(max_epochs_autoencoder=15, max_epochs_mapping=max_epochs_mapping, max_epochs_joint=max_epochs_joint,
                progress=False)
    z_rna = model.get_latent_representation(rna[rna_rows], "rna")
    z_atac = model.map_latent(model.get_latent_representation(atac[atac_rows], "atac"), "atac_to_rna")
    labels = rna.obs["cell_type"].to_numpy()
    oracle = baselines.type_only_embedding(labels[rna_rows], labels[atac_rows])
    return metrics.foscttm(z_rna, z_atac), metrics.foscttm(*oracle)


@pytest.fixture(scope="module")
def scact_on_programs():
    """The defaults (no feature link, 10 joint epochs), 15 + 30 epochs."""
    return _scact_on_programs()


@pytest.mark.slow
def test_scact_aligns_the_types_of_heldout_cells(scact_on_programs):
    foscttm, oracle = scact_on_programs
    assert foscttm < 0.25  # random 0.5; measured 0.171 (type-only oracle 0.179)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 14: scACT (ATAC input dropout 0.5, 10 joint epochs) is near "
                                       "the type-only oracle (0.171 vs 0.179) but finds little correspondence "
                                       "inside types on the planted programs")
def test_scact_beats_the_type_only_oracle_on_planted_programs(scact_on_programs):
    foscttm, oracle = scact_on_programs
    assert foscttm < oracle - 0.02


@pytest.mark.slow
def test_feature_link_finds_correspondence_inside_types_on_planted_programs():
    """The feature-level link (a gene's expression and its peaks' accessibility co-vary inside a type) with a
    joint phase moves held-out cells towards their own partners, past the type-only oracle."""
    foscttm, oracle = _scact_on_programs(link_weight=5.0, max_epochs_mapping=100, max_epochs_joint=50)
    # measured 0.131 vs the oracle's 0.179; the same epochs without the link: 0.172
    assert foscttm < oracle - 0.02


def test_paired_regression_oracle_learns_from_training_pairs_only():
    """The benchmark's paired oracle (benchmarks/heldout.py) recovers the planted programs that a type mean
    cannot see, and never fits on the held-out pairs it scores."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from heldout import paired_regression_oracle

    _, rna, atac = _planted(1.5)
    split = split_cells(rna.obs_names, atac.obs_names, fraction=0.2, seed=0)
    pairing = evaluate.Pairing(*split.heldout_pairs(rna.obs_names, atac.obs_names), heldout=True)
    oracle = paired_regression_oracle(rna, atac, pairing, "cell_type", seed=0)
    type_mean = evaluate.type_mean_method("cell-type mean", rna, atac, pairing, "cell_type",
                                          split.rna_train, split.atac_train)
    observed_rna, observed_atac = rna.X[pairing.rna_rows], sp.csr_matrix(atac.X[pairing.atac_rows])
    peak = {m.name: metrics.rna_to_atac_metrics(observed_atac, m.rna_to_atac).scalars["auroc_per_peak_median"]
            for m in (oracle, type_mean)}
    gene = {m.name: metrics.atac_to_rna_metrics(observed_rna, m.atac_to_rna)[0]["pearson_per_gene_median"]
            for m in (oracle, type_mean)}
    assert peak[oracle.name] > peak["cell-type mean"] + 0.02, peak  # measured 0.638 vs 0.582
    assert gene[oracle.name] > gene["cell-type mean"] + 0.1, gene  # 0.360 vs 0.170
    z_rna, z_atac = oracle.embeddings["paired regression"]
    labels = rna.obs["cell_type"].to_numpy()
    type_only = baselines.type_only_embedding(labels[pairing.rna_rows], labels[pairing.atac_rows], dims=2)
    assert metrics.foscttm(z_rna[pairing.rna_rows], z_atac[pairing.atac_rows]) < metrics.foscttm(*type_only)
    # fitted on the training pairs only: scrambling the held-out ATAC leaves the RNA->ATAC fit unchanged
    rows = np.arange(atac.n_obs)
    rows[pairing.atac_rows] = np.random.default_rng(0).permutation(pairing.atac_rows)
    scrambled = ad.AnnData(sp.csr_matrix(atac.X)[rows], obs=atac.obs)
    again = paired_regression_oracle(rna, scrambled, pairing, "cell_type", seed=0)
    first = np.vstack([block for _, _, block in oracle.rna_to_atac()])
    assert np.allclose(first, np.vstack([block for _, _, block in again.rna_to_atac()]), atol=1e-5)


def test_merging_benchmark_parts_keeps_the_latest_measurement():
    """``benchmarks/heldout.py --merge``: a part that re-measures a method on a seed replaces its rows (no
    seed counted twice), the shared input counts stay once, and a re-timed model's old timing line goes."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from heldout import merged

    def rows(method, value):
        return pd.DataFrame({"dataset": "d", "method": [method, evaluate.INPUTS_ROW], "seed": 0,
                             "metric": ["alignment/foscttm", "pairing/pairs"], "value": [value, 10.0]})

    old = pd.concat([rows("scACT", 0.30), rows("cell-type mean", 0.5)])
    new = rows("scACT", 0.25)
    timing = [pd.DataFrame({"dataset": "d", "seed": 0, "train_s": [100.0, np.nan], "baselines_s": [np.nan, 5.0],
                            "evaluate_s": [1.0, 1.0]}),
              pd.DataFrame({"dataset": "d", "seed": 0, "train_s": [90.0], "evaluate_s": [2.0]})]
    metrics, timings = merged([old, new], timing)
    values = metrics.set_index(["method", "metric"])["value"]
    assert values[("scACT", "alignment/foscttm")] == 0.25
    assert values[("cell-type mean", "alignment/foscttm")] == 0.5
    assert len(metrics) == 3  # scACT, cell-type mean, the input count once
    assert timings["train_s"].dropna().tolist() == [90.0]  # the baselines' line stays, the old training goes
    assert timings["baselines_s"].dropna().tolist() == [5.0]
