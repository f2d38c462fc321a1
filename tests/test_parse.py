"""SCACT_PARSE: every supported input becomes raw-count .h5ad files with the project's cell naming."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

from scact.cli import run_command


def parse(tmp_path, *argv):
    out = tmp_path / "out"
    status = run_command("parse", [*map(str, argv), "--outdir", str(out), "--no-versions"])
    return status, out


@pytest.fixture
def counts_h5ad(tmp_path):
    rng = np.random.default_rng(0)
    adata = ad.AnnData(sp.csr_matrix(rng.poisson(1.0, (30, 12)).astype(np.float32)),
                       obs=pd.DataFrame({"celltype": ["a", "b", "c"] * 10}, index=[f"BC{i}" for i in range(30)]),
                       var=pd.DataFrame(index=[f"G{i}" for i in range(12)]))
    path = tmp_path / "rna.h5ad"
    adata.write_h5ad(path)
    return path


def test_h5mu_multiome_gives_both_modalities(tmp_path, shared_data):
    status, out = parse(tmp_path, "--sample", "pbmc", "--modality", "multiome",
                        "--input", shared_data / "pbmc_multiome_1k" / "rna_atac.h5mu")
    assert status == 0
    rna, atac = ad.read_h5ad(out / "pbmc_rna.h5ad"), ad.read_h5ad(out / "pbmc_atac.h5ad")
    assert rna.shape == (1000, 45) and atac.shape == (1000, 174)
    assert rna.obs_names[0].startswith("pbmc:") and list(rna.obs_names) == list(atac.obs_names)
    assert sp.issparse(atac.X) and atac.var[["chrom", "start", "end"]].notna().all().all()
    assert (atac.var["end"] > atac.var["start"]).all()
    assert "parse" in rna.uns["scact"] and "numpy" in rna.uns["scact"]["parse"]["versions"]


def test_real_fragments_give_per_barcode_counts(tmp_path, shared_data):
    status, out = parse(tmp_path, "--sample", "frag", "--modality", "atac",
                        "--input", shared_data / "pbmc_multiome_1k" / "atac_fragments.tsv.gz")
    assert status == 0
    atac = ad.read_h5ad(out / "frag_atac.h5ad")
    assert atac.n_vars == 0 and atac.obs["n_fragments"].sum() == 367_439
    assert atac.uns["fragments"] == "atac_fragments.tsv.gz"


def test_h5ad_labels_from_obs_column_and_from_file(tmp_path, counts_h5ad):
    status, out = parse(tmp_path, "--sample", "s1", "--modality", "rna", "--input", counts_h5ad,
                        "--labels", "obs:celltype", "--batch", "run2")
    assert status == 0
    rna = ad.read_h5ad(out / "s1_rna.h5ad")
    assert list(rna.obs["label"][:3]) == ["a", "b", "c"] and set(rna.obs["batch"]) == {"run2"}
    labels = tmp_path / "labels.tsv"
    pd.DataFrame({"barcode": ["s1:BC0", "BC1"], "label": ["x", "y"]}).to_csv(labels, sep="\t", index=False)
    status, out = parse(tmp_path, "--sample", "s1", "--modality", "rna", "--input", counts_h5ad, "--labels", labels)
    rna = ad.read_h5ad(out / "s1_rna.h5ad")
    assert list(rna.obs["label"][:2]) == ["x", "y"] and rna.obs["label"][2:].isna().all()


def test_10x_mtx_folder(tmp_path):
    folder = tmp_path / "mtx"
    folder.mkdir()
    matrix = (sp.random(5, 4, density=0.5, random_state=0, format="coo") * 10).astype(np.int64)
    scipy.io.mmwrite(folder / "matrix.mtx", matrix)
    (folder / "barcodes.tsv").write_text("".join(f"B{i}-1\n" for i in range(4)))
    (folder / "features.tsv").write_text("".join(f"ENSG{i}\tGENE{i}\tGene Expression\n" for i in range(5)))
    status, out = parse(tmp_path, "--sample", "m", "--modality", "rna", "--input", folder)
    assert status == 0
    rna = ad.read_h5ad(out / "m_rna.h5ad")
    assert rna.shape == (4, 5) and np.allclose(rna.X.toarray(), matrix.toarray().T)


@pytest.mark.parametrize("problem, message", [
    ("nan", "NaN or infinite"), ("negative", "negative values"),
    ("bad_labels", "none of its 2 barcodes match"), ("missing_column", "labels column 'nope'")])
def test_bad_inputs_are_refused_with_the_file_named(tmp_path, counts_h5ad, capsys, problem, message):
    adata = ad.read_h5ad(counts_h5ad)
    X = adata.X.toarray()
    labels = ["--labels", "obs:nope"] if problem == "missing_column" else []
    if problem == "nan":
        X[0, 0] = np.nan
    elif problem == "negative":
        X[0, 0] = -1
    elif problem == "bad_labels":
        path = tmp_path / "labels.csv"
        path.write_text("barcode,label\nZZ1,a\nZZ2,b\n")
        labels = ["--labels", path]
    ad.AnnData(sp.csr_matrix(X), obs=adata.obs, var=adata.var).write_h5ad(counts_h5ad)
    status, out = parse(tmp_path, "--sample", "s1", "--modality", "rna", "--input", counts_h5ad, *labels)
    err = capsys.readouterr().err
    assert status == 2 and message in err
    assert not out.exists() or not any(out.iterdir())
