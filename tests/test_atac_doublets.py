"""ATAC doublets of peak-count inputs without fragments: DoubletDetection on the binarized peak matrix.

Two generated data sets: the planted_atac fragments (scact.simulate.planted_fragments) counted on its
peaks (a third of its doublets are homotypic: two cells of one type, whose binarized union looks like a
singlet of that type), and the peak matrix of a `scact simulate` sample (heterotypic doublets only), given as a peak-count h5ad.
"""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scact.cli import run_command
from scact.errors import ScactInputError
from scact.io.tenx import read_10x_h5
from scact.preprocessing import atac
from scact.preprocessing.atac_steps import atac_qc
from scact.simulate import parsed_atac_h5ad

pytestmark = pytest.mark.slow  # DoubletDetection and AMULET on generated fragments


@pytest.fixture(scope="module")
def peak_counts(planted_atac):
    """What parse writes for a peak-count h5ad of every barcode (no fragments file)."""
    folder = planted_atac.fragments.parent
    barcodes = planted_atac.kinds.index.to_numpy()
    peaks = planted_atac.peaks.reset_index(drop=True)
    counts = atac.peak_matrix_from_fragments(planted_atac.fragments, list(barcodes), peaks)
    var = peaks.copy()
    var.index = atac.peak_names(peaks)
    obs = pd.DataFrame({"sample": "sim", "batch": "b1", "barcode": barcodes}, index=[f"sim:{b}" for b in barcodes])
    path = folder / "sim_peaks_atac.h5ad"
    ad.AnnData(X=counts, obs=obs, var=var).write_h5ad(path)
    return path


@pytest.fixture(scope="module")
def doubletdetection_qc(planted_atac, peak_counts):
    folder = peak_counts.parent
    kept = atac_qc(peak_counts, folder / "dd_qc.h5ad", folder / "dd_qc.tsv", seed=0)
    return folder, kept


def _removed_share(kept: ad.AnnData, barcodes) -> float:
    return float(np.mean([b not in set(kept.obs["barcode"]) for b in barcodes]))


def test_doubletdetection_removes_heterotypic_doublets_without_fragments(planted_atac, doubletdetection_qc):
    folder, kept = doubletdetection_qc
    params = kept.uns["scact"]["atac_qc"]["params"]
    assert params["doublet_method"] == "doubletdetection" and params["doublet_method_requested"] == "auto"
    kinds = planted_atac.kinds
    doublets = planted_atac.doublet_types
    homotypic = doublets.index[[a == b for a, b in doublets.str.split("+")]]
    heterotypic = doublets.index.difference(homotypic)
    removed = {"doublet": _removed_share(kept, doublets.index), "heterotypic": _removed_share(kept, heterotypic),
               "homotypic": _removed_share(kept, homotypic),
               "good": _removed_share(kept, kinds.index[kinds == "good"])}
    print(f"DoubletDetection on binarized peaks, planted_atac data: removed {removed} "
          f"({len(heterotypic)} heterotypic, {len(homotypic)} homotypic doublets)")
    # measured (seed 0): all 25 doublets 0.60, heterotypic 1.00, homotypic 0.00, good cells 0.005. A homotypic
    # doublet's binarized profile is that of a singlet of its type here (every type peak is open in singlets).
    assert removed["heterotypic"] >= 0.9, removed
    assert removed["doublet"] >= 0.5, removed  # chance: the 5 % of good cells removed
    assert removed["good"] <= 0.05, removed
    table = pd.read_csv(folder / "dd_qc.tsv", sep="\t").set_index("reason")["n_barcodes"]
    assert table["input_barcodes"] == len(kinds) and table["kept"] == kept.n_obs
    assert table.drop(["input_barcodes", "kept"]).sum() == len(kinds) - kept.n_obs
    assert table["doublet"] >= 0.5 * len(doublets)
    assert "doublet_score" in kept.obs and kept.obs["doublet_score"].notna().all()
    written = ad.read_h5ad(folder / "dd_qc.h5ad")
    assert written.n_obs == kept.n_obs and written.X.format == "csr"


def test_doubletdetection_is_deterministic(peak_counts, doubletdetection_qc, tmp_path):
    _, first = doubletdetection_qc
    again = atac_qc(peak_counts, tmp_path / "again.h5ad", tmp_path / "again.tsv", seed=0)
    assert list(again.obs_names) == list(first.obs_names)
    assert np.array_equal(again.obs["doublet_score"].to_numpy(), first.obs["doublet_score"].to_numpy())


def test_scact_simulate_peak_counts(tmp_path):
    """The peak matrix of a `scact simulate` sample as a peak-count h5ad, through parse and atac_qc (CLI)."""
    from scact.simulate import config_from_preset, simulate_dataset

    simulate_dataset(config_from_preset("fixture", seed=1, n_cells=600), tmp_path / "sim")
    read_10x_h5(tmp_path / "sim" / "filtered_feature_bc_matrix.h5", "atac").write_h5ad(tmp_path / "peaks.h5ad")
    assert run_command("parse", ["--sample", "s", "--modality", "atac", "--input", str(tmp_path / "peaks.h5ad"),
                                 "--outdir", str(tmp_path), "--no-versions"]) == 0
    assert run_command("atac_qc", ["--input", str(tmp_path / "s_atac.h5ad"), "--outdir", str(tmp_path),
                                   "--no-versions"]) == 0
    kept = ad.read_h5ad(tmp_path / "s_atac_qc.h5ad")
    truth = pd.read_csv(tmp_path / "sim" / "ground_truth_cells.tsv", sep="\t").set_index("barcode")
    truth = truth[truth.index.isin(read_10x_h5(tmp_path / "sim" / "filtered_feature_bc_matrix.h5", "atac").obs_names)]
    good = truth.index[~truth["is_doublet"] & ~truth["is_low_quality"]]
    removed = {"doublet": _removed_share(kept, truth.index[truth["is_doublet"]]), "good": _removed_share(kept, good)}
    print(f"DoubletDetection on binarized peaks, scact simulate (seed 1, 600 cells): removed {removed}")
    assert removed["doublet"] >= 0.9 and removed["good"] <= 0.05, removed
    assert kept.uns["scact"]["atac_qc"]["params"]["doublet_method"] == "doubletdetection"


def test_amulet_needs_fragments(peak_counts, tmp_path):
    with pytest.raises(ScactInputError, match="sim_peaks_atac.h5ad: AMULET.*no fragments file.*--fragments.*"
                                              "doubletdetection"):
        atac_qc(peak_counts, tmp_path / "q.h5ad", tmp_path / "q.tsv", doublet_method="amulet")
    code = run_command("atac_qc", ["--input", str(peak_counts), "--doublet-method", "amulet",
                                   "--outdir", str(tmp_path), "--no-versions"])
    assert code == 2 and not list(tmp_path.glob("*_atac_qc*"))


def test_doubletdetection_needs_peaks(planted_atac, tmp_path):
    no_peaks = parsed_atac_h5ad(planted_atac, tmp_path / "frag_atac.h5ad")
    with pytest.raises(ScactInputError, match="frag_atac.h5ad: has no peak counts.*binarized"):
        atac_qc(no_peaks, tmp_path / "q.h5ad", tmp_path / "q.tsv", fragments=planted_atac.fragments,
                annotation=planted_atac.tss_bed, doublet_method="doubletdetection")


def test_auto_picks_amulet_with_fragments(planted_atac, peak_counts, tmp_path):
    """With fragments, auto runs AMULET (even when the input also has peak counts)."""
    kept = atac_qc(peak_counts, tmp_path / "q.h5ad", tmp_path / "q.tsv", fragments=planted_atac.fragments,
                   annotation=planted_atac.tss_bed)
    params = kept.uns["scact"]["atac_qc"]["params"]
    assert params["doublet_method"] == "amulet" and "doublet_qvalue" in kept.obs and "doublet_score" not in kept.obs
    assert _removed_share(kept, planted_atac.doublet_types.index) >= 0.7
