"""Motif scan and activation score on a generated genome with a planted CTCF motif; skip and bad input."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from scact.cli import run_command
from scact.evaluation.metrics import dense_blocks
from scact.io.translated import write_translated_accessibility
from scact.perturbation.motifs import jaspar_motifs, one_hot, scan_peaks

pytestmark = pytest.mark.slow  # motif scans of generated sequences

MOTIFS = "CTCF,GATA1,SPI1,MA0079"  # MA0079: SP1 by matrix id


@pytest.fixture(scope="module")
def ctcf():
    return jaspar_motifs(names=["CTCF"])[0]


def test_one_hot_and_reverse_strand_scan(ctcf):
    assert one_hot(["ACGTN"], 6)[0].argmax(0).tolist()[:4] == [0, 1, 2, 3]
    assert one_hot(["ACGTN"], 6)[0][:, 4:].sum() == 0
    consensus = "".join("ACGT"[i] for i in ctcf.log_odds.argmax(1))
    reverse = consensus[::-1].translate(str.maketrans("ACGT", "TGCA"))
    rng = np.random.default_rng(0)
    background = "".join(rng.choice(list("AT"), 60))  # AT-only: CTCF (GC rich) cannot hit by chance
    hits = scan_peaks([background[:20] + consensus + background[20:], background[:30] + reverse + background[30:],
                       background], [ctcf], threshold=0.85)
    assert hits.toarray()[:, 0].tolist() == [True, True, False]


def make_inputs(tmp_path, ctcf, n_cells=300, form=None):
    """``form``: None writes rna_to_atac.h5ad with anndata (a dense layer), else as scact translate stores it."""
    rng = np.random.default_rng(0)
    genome = {c: "".join(rng.choice(list("ACGT"), 40_000)) for c in ("chr1", "chr2")}
    consensus = "".join("ACGT"[i] for i in ctcf.log_odds.argmax(1))
    rows = []
    for c in genome:
        for start in range(1000, 39_000, 1300):
            rows.append((c, start, start + 300))
    peaks = pd.DataFrame(rows, columns=["chrom", "start", "end"])
    planted = np.arange(0, len(peaks), 4)
    for p in planted:
        c, s = peaks.loc[p, "chrom"], peaks.loc[p, "start"] + 100
        genome[c] = genome[c][:s] + consensus + genome[c][s + len(consensus):]
    with open(tmp_path / "genome.fa", "w") as handle:
        for c, seq in genome.items():
            handle.write(f">{c}\n" + "\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + "\n")
    with open(tmp_path / "renamed.fa", "w") as handle:
        for c, seq in genome.items():
            handle.write(f">{c[3:]}\n{seq}\n")
    types = np.array(["A"] * (n_cells // 3) + ["B"] * (n_cells - n_cells // 3))
    prob = np.full((n_cells, len(peaks)), 0.2)
    prob[np.ix_(types == "A", planted)] = 0.7
    x = (rng.random(prob.shape) < prob).astype(np.float32)
    peaks.index = [f"{c}:{s}-{e}" for c, s, e in peaks.itertuples(index=False)]
    obs = pd.DataFrame({"cell_type": types}, index=[f"s:{i}" for i in range(n_cells)])
    ad.AnnData(sp.csr_matrix(x), obs=obs, var=peaks).write_h5ad(tmp_path / "atac.h5ad")
    translated = np.clip(x * 0.6 + 0.2 + rng.normal(0, 0.05, x.shape), 0, 1).astype(np.float32)
    translated_obs = pd.DataFrame(index=[f"r:{i}" for i in range(n_cells)])
    if form is None:
        translated_ad = ad.AnnData(sp.csr_matrix((translated > 0.5).astype(np.float32)), obs=translated_obs,
                                   var=peaks)
        translated_ad.layers["probabilities"] = translated
        translated_ad.write_h5ad(tmp_path / "rna_to_atac.h5ad")
    else:
        write_translated_accessibility(dense_blocks(translated, 64)(), translated_obs, peaks,
                                       tmp_path / "rna_to_atac.h5ad", probabilities=form, top_k=20)
    ad.AnnData(sp.csr_matrix((n_cells, 1)), obs=pd.DataFrame({"cell_type": types}, index=[f"r:{i}" for i in range(n_cells)])
               ).write_h5ad(tmp_path / "rna.h5ad")
    return peaks, planted


@pytest.mark.parametrize("form", [None, "topk", "none"])
def test_motifs_command_scores_planted_motif(tmp_path, ctcf, form):
    peaks, planted = make_inputs(tmp_path, ctcf, form=form)
    out = tmp_path / "out"
    code = run_command("motifs", ["--atac", str(tmp_path / "atac.h5ad"), "--fasta", str(tmp_path / "genome.fa"),
                                  "--rna-to-atac", str(tmp_path / "rna_to_atac.h5ad"), "--rna", str(tmp_path / "rna.h5ad"),
                                  "--motifs", MOTIFS, "--device", "cpu", "--outdir", str(out), "--no-versions"])
    assert code == 0
    hits = pd.read_csv(out / "motif_peaks.tsv", sep="\t")
    ctcf_peaks = set(hits.loc[hits["motif"] == "CTCF", "peak"])
    assert set(peaks.index[planted]) <= ctcf_peaks
    assert len(ctcf_peaks) <= len(planted) + 2  # random sequence rarely reaches 85% of CTCF's max score
    scores = pd.read_csv(out / "motif_activation.tsv", sep="\t")
    assert set(scores["motif"]) >= {"CTCF", "GATA1", "SP1"}
    ctcf_scores = scores[scores["motif"] == "CTCF"].groupby(["source", "cell_type"])["score"].max()  # CTCF has several matrices
    for source in ("observed", "rna_translated_atac"):
        assert ctcf_scores[(source, "A")] > 0.2 > ctcf_scores[(source, "B")]
    assert pd.read_csv(out / "motif_agreement.tsv", sep="\t")["pearson_r"].iloc[0] > 0.8
    assert (out / "motif_activation_heatmap.png").stat().st_size > 0


def test_motifs_without_fasta_is_skipped_and_mismatched_fasta_is_refused(tmp_path, ctcf, capsys):
    make_inputs(tmp_path, ctcf, n_cells=30)
    assert run_command("motifs", ["--atac", str(tmp_path / "atac.h5ad"), "--outdir", str(tmp_path),
                                  "--no-versions"]) == 0
    assert "skipped" in (tmp_path / "motifs_skipped.txt").read_text()
    code = run_command("motifs", ["--atac", str(tmp_path / "atac.h5ad"), "--fasta", str(tmp_path / "renamed.fa"),
                                  "--motifs", "CTCF", "--outdir", str(tmp_path), "--no-versions"])
    assert code == 2
    err = capsys.readouterr().err
    assert "renamed.fa: chromosome names do not match the peaks" in err and "chr1" in err
