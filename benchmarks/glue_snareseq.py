#!/usr/bin/env python3
"""GLUE (scglue 0.4.1), the strongest unpaired-integration peer, on the evaluation benchmark's data.

Default GLUE settings and no labels, on the same matrices as benchmarks/evaluate_snareseq.py (its
``load_snareseq``/``load_pbmc``: all 1,677 genes and 25,734 peaks of SNARE-seq): PCA 100 of the
log-normalised RNA and LSI 100 of the ATAC as encoder inputs, negative binomial likelihoods on the counts,
the RNA-anchored guidance graph (a peak is linked to a gene when it overlaps the gene or its 2 kb
promoter). Genes are placed at their TSS from the project's TSS table (gene bodies are not in the shared
annotation), so the graph holds promoter links only. The pairing is used only for scoring, with the
same metrics as scACT (scact.evaluation). Writes a TSV and docs/benchmarks_glue.md.

Needs requirements/benchmarks_glue.txt and Debian's ``bedtools``.

    SCACT_DATA=../shared/data PYTHONPATH=src python benchmarks/glue_snareseq.py [--datasets snareseq pbmc]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd
import scanpy as sc

REPO = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO.parent / "src"))

import evaluate_snareseq as bench  # noqa: E402
from scact.evaluation import evaluate  # noqa: E402
from scact.io.annotation import read_annotation  # noqa: E402


def place_genes(rna, tss_path) -> "sc.AnnData":
    """RNA genes with chrom/chromStart/chromEnd/strand at their (first) TSS; genes without one dropped."""
    table = read_annotation(tss_path).drop_duplicates("gene").set_index("gene")
    known = rna.var_names.intersection(table.index)
    rna = rna[:, known].copy()
    rows = table.loc[known]
    rna.var["chrom"] = rows["chrom"].astype(str).to_numpy()
    rna.var["chromStart"] = rows["tss"].astype(int).to_numpy()
    rna.var["chromEnd"] = rows["tss"].astype(int).to_numpy() + 1
    rna.var["strand"] = rows["strand"].astype(str).to_numpy()
    return rna


def run_glue(rna, atac, tss_path, seed: int, workdir: Path, rna_train=None, atac_train=None):
    """GLUE embeddings (RNA cells, ATAC cells) with default settings; returns them and the genes used.

    ``rna_train`` / ``atac_train`` (boolean masks, benchmarks/heldout.py): the model is fitted on those
    cells only and then encodes every cell; PCA and LSI (its encoder inputs) are fitted per modality on all
    cells, like the benchmark's feature selection."""
    import scglue

    scglue.config.ANNDATA_CORE_CACHE = False
    rna = place_genes(rna, tss_path)
    rna.X = rna.layers["counts"].copy()
    sc.pp.normalize_total(rna)
    sc.pp.log1p(rna)
    sc.pp.scale(rna)
    sc.tl.pca(rna, n_comps=min(100, rna.n_vars - 1), svd_solver="auto", random_state=seed)
    atac = atac.copy()
    atac.var["chromStart"] = atac.var["start"].astype(int)
    atac.var["chromEnd"] = atac.var["end"].astype(int)
    atac.var["chrom"] = atac.var["chrom"].astype(str)
    scglue.data.lsi(atac, n_components=min(100, atac.n_vars - 1), n_iter=15, random_state=seed)
    # a cell without any peak has no LSI coordinates (0/0): GLUE's encoder gets zeros for it
    atac.obsm["X_lsi"] = np.nan_to_num(atac.obsm["X_lsi"])
    rna.var["highly_variable"] = True  # all genes and peaks, as in the reference run
    atac.var["highly_variable"] = True
    guidance = scglue.genomics.rna_anchored_guidance_graph(rna, atac)
    scglue.graph.check_graph(guidance, [rna, atac])
    scglue.models.configure_dataset(rna, "NB", use_highly_variable=True, use_layer="counts", use_rep="X_pca")
    scglue.models.configure_dataset(atac, "NB", use_highly_variable=True, use_rep="X_lsi")
    graph = guidance.subgraph(chain(rna.var_names, atac.var_names)).copy()
    fit = {"rna": rna if rna_train is None else rna[np.asarray(rna_train, bool)].copy(),
           "atac": atac if atac_train is None else atac[np.asarray(atac_train, bool)].copy()}
    glue = scglue.models.fit_SCGLUE(fit, graph, init_kws={"random_seed": seed},
                                    fit_kws={"directory": str(workdir)})
    return glue.encode_data("rna", rna), glue.encode_data("atac", atac), rna.n_vars


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["snareseq", "pbmc"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(REPO.parent / "docs" / "benchmarks_glue.md"))
    parser.add_argument("--tsv", default=str(REPO / "results_glue.tsv"))
    args = parser.parse_args(argv)
    loaders = {"snareseq": bench.load_snareseq, "pbmc": bench.load_pbmc}
    tables, lines = [], []
    for name in args.datasets:
        (rna, atac), tss_path = loaders[name]()
        started = time.time()
        with tempfile.TemporaryDirectory(prefix="scact-glue-") as workdir:
            z_rna, z_atac, n_genes = run_glue(rna, atac, tss_path, args.seed, Path(workdir))
        train_s = time.time() - started
        result = evaluate.evaluate(rna, atac, [evaluate.Method("GLUE", embeddings={"glue": (z_rna, z_atac)})],
                                   "cell_type", seed=args.seed)
        tables.append(result.metrics.assign(dataset=name, seed=args.seed))
        values = result.metrics.set_index("metric")["value"]
        lines.append(f"| {name} | {rna.n_obs} / {atac.n_obs} | {n_genes} / {atac.n_vars} | "
                     + " | ".join(f"{values.get(f'alignment/{m}', float('nan')):.3f}"
                                  for m in ("foscttm", "silhouette_cell_type", "leiden_ari", "modality_mixing",
                                            "label_transfer_atac_to_rna"))
                     + f" | {train_s / 60:.1f} |")
        print(lines[-1], flush=True)
    Path(args.tsv).parent.mkdir(parents=True, exist_ok=True)
    pd.concat(tables).to_csv(args.tsv, sep="\t", index=False)
    doc = ["# Benchmark: GLUE on the evaluation data", "",
           f"Machine: {platform.node()} ({platform.machine()}, {os.cpu_count()} CPU cores visible, shared with "
           f"other jobs; load average when written {os.getloadavg()[0]:.1f}), torch on CPU, Python "
           f"{platform.python_version()}, scglue 0.4.1, seed {args.seed}.",
           "Command: `SCACT_DATA=... PYTHONPATH=src python benchmarks/glue_snareseq.py --datasets "
           f"{' '.join(args.datasets)}`. Method and inputs: the script's docstring. Labels are used only to "
           "score; the pairing only for FOSCTTM. Compare with the scACT rows of "
           "`docs/benchmarks_evaluation_insample.md` (same matrices, same metric code; the old in-sample protocol; the held-out GLUE rows are in docs/benchmarks_evaluation.md).", "",
           "| dataset | cells RNA / ATAC | genes / peaks | FOSCTTM | silhouette (cosine) | Leiden ARI | "
           "modality mixing | label transfer ATAC->RNA | minutes |",
           "|---|---|---|---|---|---|---|---|---|", *lines, ""]
    Path(args.out).write_text("\n".join(doc))
    print(f"wrote {args.out} and {args.tsv}")


if __name__ == "__main__":
    main()
