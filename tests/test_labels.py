"""Labels from marker genes (generated and real PBMC data) and from user files."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scact.simulate import PLANTED_MARKERS, planted_rna_counts
from scact.errors import ScactInputError
from scact.io.anndata import read_h5mu_modality
from scact.preprocessing.labels import (UNASSIGNED, assign_labels, load_markers, read_label_file)
from scact.preprocessing.rna import RnaProcessParams, process_rna

pytestmark = pytest.mark.slow  # pegasus marker sets and Leiden on planted RNA


@pytest.fixture(scope="module")
def processed_planted():
    adata = planted_rna_counts(n_good=300, n_low_quality=0, n_doublets=0, seed=3)
    return process_rna(adata, RnaProcessParams(n_top_genes=200, resolution=0.5, seed=0))


def test_builtin_marker_sets_have_the_expected_types():
    assert {"T cell", "B cell", "Natural killer cell", "CD14+ Monocyte"} <= set(load_markers("human_pbmc"))
    assert {"Glutamatergic neuron", "Astrocyte", "Oligodendrocyte"} <= set(load_markers("human_cortex"))
    assert {"GABAergic neuron", "Microglia", "OPC"} <= set(load_markers("mouse_cortex"))
    assert "Gad1" in load_markers("mouse_brain")["GABAergic neuron"]["+"]


def test_marker_labels_recover_planted_types(processed_planted):
    adata = processed_planted
    scores = assign_labels(adata, markers="human_pbmc")
    assert scores is not None and "assigned" in scores
    accuracy = (adata.obs["cell_type"].astype(str) == adata.obs["true_type"]).mean()
    print(f"planted-type accuracy {accuracy:.3f}")
    assert accuracy >= 0.95


def test_user_marker_file_and_label_file(processed_planted, tmp_path):
    adata = processed_planted.copy()
    marker_file = tmp_path / "markers.tsv"
    marker_file.write_text("cell_type\tgene\n" + "".join(
        f"{name.split()[0]}-like\t{gene}\n" for name, genes in PLANTED_MARKERS.items() for gene in genes))
    assign_labels(adata, markers=str(marker_file))
    expected = adata.obs["true_type"].str.split().str[0] + "-like"
    assert (adata.obs["cell_type"].astype(str) == expected).mean() >= 0.95

    label_file = tmp_path / "labels.csv"
    barcodes = adata.obs["barcode"].iloc[:100]  # bare barcodes, matched through obs['barcode']
    label_file.write_text("barcode,label\n" + "".join(f"{b},type_{i % 3}\n" for i, b in enumerate(barcodes)))
    assign_labels(adata, labels=str(label_file))
    assert adata.obs["cell_type"].iloc[:100].tolist() == [f"type_{i % 3}" for i in range(100)]
    assert (adata.obs["cell_type"].iloc[100:] == UNASSIGNED).all()


def test_label_file_matching_no_cell_names_the_file(processed_planted, tmp_path):
    label_file = tmp_path / "other_labels.tsv"
    label_file.write_text("AAACGT-1\tT\nCCCGTA-1\tB\n")
    with pytest.raises(ScactInputError, match=r"other_labels\.tsv: none of its 2 barcodes"):
        read_label_file(label_file, processed_planted)


def test_marker_set_without_matching_genes_is_refused(processed_planted):
    with pytest.raises(ScactInputError, match="mouse_brain: none of its marker genes"):
        assign_labels(processed_planted.copy(), markers="mouse_brain")


@pytest.mark.realdata
def test_pbmc_marker_labels_sit_on_their_marker_genes(shared_data):
    adata = read_h5mu_modality(shared_data / "pbmc_multiome_1k" / "rna_atac.h5mu", "rna")
    adata.obs["sample"] = adata.obs["batch"] = "pbmc"
    process_rna(adata, RnaProcessParams(resolution=1.0, seed=0))
    assign_labels(adata, markers="human_pbmc")
    cell_type = adata.obs["cell_type"].astype(str)
    counts = cell_type.value_counts()
    print(counts.to_dict())
    expected = {"CD14+ Monocyte": ["CD14", "LYZ"], "B cell": ["MS4A1"], "Natural killer cell": ["NKG7", "GNLY"],
                "T cell": ["TRAC"]}
    for name, genes in expected.items():
        assert counts.get(name, 0) >= 30, name
        inside = (cell_type == name).to_numpy()
        for gene in genes:
            values = np.asarray(adata[:, gene].X.todense()).ravel()
            by_type = pd.Series(values).groupby(cell_type.to_numpy()).mean()
            # the type's own marker is highest in that type, and well above the other cells
            assert by_type.idxmax() == name or by_type[name] >= 0.9 * by_type.max(), (name, gene, by_type.to_dict())
            assert values[inside].mean() > 2 * values[~inside].mean(), (name, gene)
