"""`scact link` end to end on planted data: every source, output files, per-gene messages, bad input."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scact.simulate import planted_links
from scact.cli import run_command
from scact.evaluation.metrics import dense_blocks
from scact.io.translated import write_translated_accessibility


def write_inputs(tmp_path, form="float32"):
    rna, atac, tss, truth = planted_links(n_cells=500)
    rna.write_h5ad(tmp_path / "rna.h5ad")
    atac.write_h5ad(tmp_path / "atac.h5ad")
    bed = pd.DataFrame({"chrom": tss["chrom"], "start": tss["tss"] - 500, "end": tss["tss"] + 500,
                        "gene": tss["gene"], "score": 0, "strand": "+"})
    bed = bed[bed["gene"] != "Gene3"]  # a gene of the data without a TSS
    bed.to_csv(tmp_path / "tss.bed", sep="\t", header=False, index=False)
    # translations as `scact translate` writes them: RNA->ATAC X = sparse binary samples, probabilities
    # in the given form (read from disk by columns); ATAC->RNA a dense expression matrix
    probabilities = np.clip(atac.X.toarray() * 0.8 + 0.1, 0, 1).astype(np.float32)
    write_translated_accessibility(dense_blocks(probabilities, 64)(), rna.obs, atac.var,
                                   tmp_path / "rna_to_atac.h5ad", probabilities=form, top_k=40)
    ad.AnnData(rna.X.toarray(), obs=atac.obs.copy(), var=rna.var.copy()).write_h5ad(tmp_path / "atac_to_rna.h5ad")
    return truth


@pytest.mark.slow
def test_link_command_writes_all_outputs(tmp_path, capsys):
    write_inputs(tmp_path)
    out = tmp_path / "out"
    code = run_command("link", [
        "--rna", str(tmp_path / "rna.h5ad"), "--atac", str(tmp_path / "atac.h5ad"),
        "--annotation", str(tmp_path / "tss.bed"), "--rna-to-atac", str(tmp_path / "rna_to_atac.h5ad"),
        "--atac-to-rna", str(tmp_path / "atac_to_rna.h5ad"), "--genes", "Gene0,Gene1,Gene3,NoSuchGene",
        "--n-metacells", "100", "--k", "15", "--outdir", str(out), "--no-versions"])
    assert code == 0
    links = pd.read_csv(out / "links.tsv", sep="\t")
    assert set(links["source"]) == {"observed", "rna_translated_atac", "atac_translated_rna"}
    status = pd.read_csv(out / "link_genes.tsv", sep="\t").set_index("gene")
    assert status.loc["NoSuchGene", "observed"] == "gene not in the expression matrix"
    assert "Gene3: observed: no TSS in the annotation" in capsys.readouterr().out
    agreement = pd.read_csv(out / "link_agreement.tsv", sep="\t")
    assert set(agreement["source"]) == {"rna_translated_atac", "atac_translated_rna"}
    interact = (out / "links_observed.interact").read_text().splitlines()
    assert interact[0].startswith("track type=interact") and len(interact[1].split("\t")) == 18
    bedpe = pd.read_csv(out / "links_observed.bedpe", sep="\t")
    assert len(bedpe) == links.query("source == 'observed'")["significant"].sum() > 0
    # the probabilities layer is the default; --translated-layer X reads the binary samples instead
    agreement_r = agreement.set_index("source").loc["rna_translated_atac", "r_correlation"]
    assert agreement_r > 0.9
    assert (out / "Gene0_links.png").exists() and not (out / "NoSuchGene_links.png").exists()


@pytest.mark.slow
@pytest.mark.parametrize("form", ["topk", "none"])
def test_link_reads_every_stored_form(tmp_path, form):
    write_inputs(tmp_path, form)
    out = tmp_path / "out"
    assert run_command("link", [
        "--rna", str(tmp_path / "rna.h5ad"), "--atac", str(tmp_path / "atac.h5ad"),
        "--annotation", str(tmp_path / "tss.bed"), "--rna-to-atac", str(tmp_path / "rna_to_atac.h5ad"),
        "--genes", "Gene0,Gene1", "--n-metacells", "100", "--k", "15", "--outdir", str(out),
        "--no-versions"]) == 0
    agreement = pd.read_csv(out / "link_agreement.tsv", sep="\t").set_index("source")
    assert agreement.loc["rna_translated_atac", "r_correlation"] > 0.7


def test_link_command_without_any_pair_writes_empty_tables(tmp_path, caplog):
    """No peak within the window of any gene (real data do that): a warning and empty tables, not a failure."""
    write_inputs(tmp_path)
    out = tmp_path / "out"
    code = run_command("link", [
        "--rna", str(tmp_path / "rna.h5ad"), "--atac", str(tmp_path / "atac.h5ad"),
        "--annotation", str(tmp_path / "tss.bed"), "--genes", "Gene0", "--window", "10",
        "--outdir", str(out), "--no-versions"])
    assert code == 0
    assert "no gene-peak pair to test" in caplog.text
    assert pd.read_csv(out / "links.tsv", sep="\t").empty
    assert pd.read_csv(out / "link_genes.tsv", sep="\t").set_index("gene").loc["Gene0", "observed"] == \
        "no peak within 10 bp of its TSS"
    assert pd.read_csv(out / "links_observed.bedpe", sep="\t").empty
    assert not list(out.glob("*_links.png"))
