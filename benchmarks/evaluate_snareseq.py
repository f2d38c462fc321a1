#!/usr/bin/env python3
"""Benchmark scACT against the baselines on real paired data whose pairing is hidden from training.

OLD IN-SAMPLE PROTOCOL (leaky, issue 14): the model trains on every cell and is scored on the same cells,
and the baselines' references contain the scored cells. The benchmark to read is benchmarks/heldout.py
(held-out cells); this script stays for its loaders and for comparison with earlier results.

Datasets (from $SCACT_DATA, default ../shared/data):
- snareseq_mouse_cortex: raw count matrices; labels obs['cluster (remapped)'] in both modalities.
- pbmc_multiome_1k: rna_atac.h5mu (45 genes, 174 peaks); labels = Leiden clusters of the RNA (the ATAC
  cells take their pair's cluster: labels come from the joint annotation, as for SNARE-seq).
Preprocessing is a documented minimal equivalent of the pipeline's, on count matrices (this data has
no fragments, so the QC steps do not apply): RNA log1p CP10k on the top 3,000 HVGs (all genes when
fewer), ATAC binarised, top 100,000 peaks by TF-IDF (all peaks when fewer), genome order. Training sees
the two modalities as unpaired sets; the shared cell names are used only to score. Each seed trains one
model, scored with the default translation (matched depth, 15-neighbour decoding), with the paper's point
decoding and with typical depth; baselines run with the first seed (only
Harmony depends on it). Results: a long TSV and docs/benchmarks_evaluation_insample.md.

    PYTHONPATH=src python benchmarks/evaluate_snareseq.py --seeds 0 1 2 [--epochs-ae 60 --epochs-map 150]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp

import report_tables

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from scact.evaluation import baselines, evaluate  # noqa: E402
from scact.io.annotation import read_annotation  # noqa: E402
from scact.model import SCACT  # noqa: E402

DATA = Path(os.environ.get("SCACT_DATA", REPO.parent / "shared" / "data")).resolve()
HEADLINE = [
    ("rna_to_atac/auroc_per_peak_median", "per-peak AUROC", ">=", 0.72),
    ("rna_to_atac/auroc_per_cell_mean", "per-cell AUROC", ">=", 0.88),
    ("rna_to_atac/auroc_flattened", "flattened AUROC", None, None),
    ("rna_to_atac/auprc_flattened", "AUPRC", None, None),
    ("rna_to_atac/r2_per_type_mean", "R2 per type (pseudobulk)", None, None),
    ("atac_to_rna/pearson_per_gene_median", "per-gene Pearson", ">=", 0.16),
    ("atac_to_rna/pearson_per_cell_mean", "per-cell Pearson", None, None),
    ("alignment/foscttm", "FOSCTTM", "<=", 0.15),
    ("alignment/silhouette_cell_type", "silhouette (cosine)", None, None),
    ("alignment/leiden_ari", "Leiden ARI", None, None),
    ("alignment/modality_mixing", "modality mixing", None, None),
    ("alignment/label_transfer_atac_to_rna", "label transfer ATAC->RNA", None, None),
]

BASELINES = ("cell-type mean", "global mean", "Harmony kNN", "LIGER")


def preprocess(rna: ad.AnnData, atac: ad.AnnData, n_hvg=3000, n_peaks=100_000):
    """Minimal equivalent of the pipeline's preprocessing (see the module docstring)."""
    rna = rna.copy()
    rna.X = sp.csr_matrix(rna.X, dtype=np.float32)
    rna.layers["counts"] = rna.X.copy()
    rna.obs["log_depth"] = np.log1p(np.asarray(rna.X.sum(1)).ravel())
    sc.pp.normalize_total(rna, target_sum=1e4)
    sc.pp.log1p(rna)
    if rna.n_vars > n_hvg:
        sc.pp.highly_variable_genes(rna, n_top_genes=n_hvg, flavor="seurat_v3", layer="counts")
        rna = rna[:, rna.var["highly_variable"]].copy()
    atac = atac.copy()
    x = sp.csr_matrix(atac.X, dtype=np.float32)
    x.data = (x.data > 0).astype(np.float32)
    x.eliminate_zeros()
    atac.X = x
    atac.obs["log_depth"] = np.log1p(np.diff(x.indptr))
    if atac.n_vars > n_peaks:
        idf = np.log1p(x.shape[0] / (1 + np.asarray(x.sum(0)).ravel()))
        tf = sp.diags(1 / np.maximum(np.diff(x.indptr), 1)) @ x
        score = np.asarray((tf.multiply(idf)).sum(0)).ravel()
        keep = np.sort(np.argsort(-score)[:n_peaks])
        atac = atac[:, keep].copy()
    # peaks grouped by chromosome (first appearance), the column order of the model's translations
    codes, _ = pd.factorize(atac.var["chrom"].astype(str))
    atac = atac[:, np.argsort(codes, kind="stable")].copy()
    return rna, atac


def load_snareseq():
    folder = DATA / "snareseq_mouse_cortex"
    rna, atac = ad.read_h5ad(folder / "rna.h5ad"), ad.read_h5ad(folder / "atac.h5ad")
    for a in (rna, atac):
        a.obs["cell_type"] = a.obs["cluster (remapped)"].astype(str)
        a.obs["batch"] = "snare"
        a.obs_names = [f"snare:{n}" for n in a.obs_names]
    return preprocess(rna, atac), DATA / "annotation" / "mm10_tss.bed"


def load_pbmc():
    from scact.io.anndata import peak_coordinates, read_h5mu_modality

    path = DATA / "pbmc_multiome_1k" / "rna_atac.h5mu"
    rna, atac = read_h5mu_modality(path, "rna"), read_h5mu_modality(path, "atac")
    shared = rna.obs_names.intersection(atac.obs_names)
    rna, atac = rna[shared].copy(), atac[shared].copy()
    atac.var = peak_coordinates(atac.var, path)
    rna.var_names_make_unique()
    rna, atac = preprocess(rna, atac)
    labelled = rna.copy()
    sc.pp.pca(labelled, n_comps=min(20, rna.n_vars - 1), random_state=0)
    sc.pp.neighbors(labelled, random_state=0)
    sc.tl.leiden(labelled, resolution=0.5, random_state=0, flavor="igraph", n_iterations=2, directed=False)
    for a in (rna, atac):
        a.obs["cell_type"] = "leiden" + labelled.obs["leiden"].astype(str).to_numpy()
        a.obs["batch"] = "pbmc"
    return (rna, atac), DATA / "annotation" / "hg38_tss.bed"


def scact_methods(model: SCACT, rna, atac, pairing, name="scACT", block_size=512) -> list[evaluate.Method]:
    """scACT's translations of the scoring pairs and its two joint spaces, streamed from the model.

    Rows: the defaults (matched depth, each mapped embedding decoded among its 15 nearest cells of the
    other modality, all cells of which are the reference), the paper's point decoding (``neighbours=0``),
    and typical depth."""
    if not model.peaks.index.equals(atac.var_names) or not model.genes.index.equals(rna.var_names):
        raise RuntimeError("the model's feature order differs from the scored matrices")
    paired_rna, paired_atac = rna[pairing.rna_rows], atac[pairing.atac_rows]
    z_rna, z_atac = model.get_latent_representation(rna, "rna"), model.get_latent_representation(atac, "atac")

    def method(label, embeddings=None, **options):
        return evaluate.Method(
            label,
            rna_to_atac=lambda: model.translated_blocks(paired_rna, "rna_to_atac", batch_size=block_size,
                                                        reference=atac, **options),
            atac_to_rna=model.translate_atac_to_rna(paired_atac, reference=rna, **options).X,
            embeddings=embeddings or {})

    return [method(name, {"rna latent": (z_rna, model.map_latent(z_atac, "atac_to_rna")),
                          "atac latent": (model.map_latent(z_rna, "rna_to_atac"), z_atac)}),
            method(f"{name} (point decode)", neighbours=0),
            method(f"{name} (typical depth)", depth="typical")]


def run_dataset(name, loader, seeds, epochs_ae, epochs_map, label_free_seed, log, after_run, scact=True,
                rna_likelihood="mse"):
    """Train and score every seed (baselines: Harmony is the only seeded one, run with the first seed)."""
    (rna, atac), tss = loader()
    pairing = evaluate.Pairing.by_name(rna.obs_names, atac.obs_names)
    activity, genes = baselines.gene_activity(atac, read_annotation(tss))
    log(f"{name}: {rna.n_obs} RNA cells x {rna.n_vars} genes, {atac.n_obs} ATAC cells x {atac.n_vars} peaks, "
        f"{len(pairing)} scoring pairs, gene activity on {len(genes)} genes")
    tables, timings = [], []
    runs = [(seed, "cell_type") for seed in seeds]
    if label_free_seed is not None:
        runs.append((label_free_seed, None))
    if not scact:
        runs = runs[:1]
    for seed, labels_key in runs:
        started = time.time()
        method_name = ("scACT" if labels_key else "scACT (label-free)") + (" NB" if rna_likelihood == "nb" else "")
        methods, epochs_run = [], 0
        if scact:
            model = SCACT(rna, atac, labels_key=labels_key, batch_key="batch", seed=seed,
                          rna_likelihood=rna_likelihood)
            model.train(max_epochs_autoencoder=epochs_ae, max_epochs_mapping=epochs_map, progress=False,
                        on_epoch_end=lambda row: log(f"{name} seed {seed}: epoch {row['epoch']} "
                                                     f"({row['phase']}) {row['seconds']:.0f}s"))
            methods += scact_methods(model, rna, atac, pairing, method_name)
            epochs_run = len(model.history)
        train_s = time.time() - started
        if labels_key and seed == seeds[0]:
            methods += evaluate.baseline_methods(rna, atac, pairing, "cell_type", activity, genes, seed=seed,
                                                liger=True)
        started = time.time()
        result = evaluate.evaluate(rna, atac, methods, "cell_type", seed=seed, progress=log)
        eval_s = time.time() - started
        log(f"{name} seed {seed} {method_name}: train {train_s:.0f}s, evaluate {eval_s:.0f}s")
        tables.append(result.metrics.assign(dataset=name, seed=seed))
        timings.append({"dataset": name, "seed": seed, "method": method_name, "train_s": train_s,
                        "evaluate_s": eval_s, "epochs_run": epochs_run})
        after_run(pd.concat(tables), pd.DataFrame(timings), (rna.n_obs, rna.n_vars, atac.n_vars, len(pairing)))
    return pd.concat(tables), pd.DataFrame(timings), (rna, atac, pairing)


def summary_table(metrics: pd.DataFrame) -> str:
    """Markdown: methods x headline metrics, mean ± sd over seeds, targets marked."""
    present = list(dict.fromkeys(metrics["method"]))
    methods = [m for m in present if m.startswith("scACT")] + [m for m in BASELINES if m in present]
    return report_tables.mean_sd_table(metrics, methods, HEADLINE)


def targets_text(metrics: pd.DataFrame) -> str:
    return "\n".join(
        f"- {v.label}: scACT {v.value:.3f} ({v.method}) vs target {v.op} {v.target}: "
        f"{'met' if v.met else 'NOT met'}; {'NOT better' if v.not_beaten else 'better'} than every baseline "
        f"({v.baselines_text()})"
        for v in report_tables.verdicts(metrics, HEADLINE, ("scACT", "scACT (rna latent)", "scACT (atac latent)"),
                                        BASELINES))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2],
                        help="seeds of the labelled runs (none: only the label-free run, without baselines)")
    parser.add_argument("--epochs-ae", type=int, default=60)
    parser.add_argument("--epochs-map", type=int, default=150)
    parser.add_argument("--datasets", nargs="+", default=["snareseq", "pbmc"])
    parser.add_argument("--label-free-seed", type=int, default=0, help="-1 to skip the label-free run")
    parser.add_argument("--rna-likelihood", choices=["mse", "nb"], default="mse",
                        help="scACT's RNA likelihood (nb: negative binomial on the raw counts; rows 'scACT NB')")
    parser.add_argument("--no-scact", action="store_true", help="baselines only (no training)")
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks_evaluation_insample.md"))
    parser.add_argument("--tsv", default=str(REPO / "benchmarks" / "results_evaluation.tsv"))
    args = parser.parse_args(argv)
    sc.settings.verbosity = 0
    started = time.time()

    def log(message):
        print(f"[{time.time() - started:7.0f}s] {message}", flush=True)

    loaders = {"snareseq": load_snareseq, "pbmc": load_pbmc}
    done_metrics, done_timings, sizes = {}, {}, {}

    def after_run(name, metrics, timings, size):
        done_metrics[name], done_timings[name], sizes[name] = metrics, timings, size
        write_outputs(args, pd.concat(done_metrics.values()), pd.concat(done_timings.values()), sizes,
                      time.time() - started)

    for name in args.datasets:
        label_free = args.label_free_seed if (args.label_free_seed >= 0 and name == "snareseq") else None
        run_dataset(name, loaders[name], args.seeds, args.epochs_ae, args.epochs_map, label_free, log,
                    lambda m, t, size, name=name: after_run(name, m, t, size), scact=not args.no_scact,
                    rna_likelihood=args.rna_likelihood)
    log(f"wrote {args.out} and {args.tsv}")


def write_outputs(args, metrics, timings, sizes, elapsed):
    """The long TSV and the markdown report of everything run so far."""
    Path(args.tsv).parent.mkdir(parents=True, exist_ok=True)
    metrics.to_csv(args.tsv, sep="\t", index=False)
    doc = ["# Benchmark, old in-sample protocol (LEAKY: superseded by docs/benchmarks_evaluation.md)", "",
           "Trains on every cell and scores the same cells; read docs/benchmarks_evaluation.md (held-out).", "",
           f"Machine: {platform.node()} ({platform.machine()}, {os.cpu_count()} CPU cores visible, shared "
           f"with other jobs; load average when written {os.getloadavg()[0]:.1f}), torch on CPU, "
           f"Python {platform.python_version()}. Wall time so far {elapsed:.0f} s.",
           f"Command: `SCACT_DATA=... PYTHONPATH=src python benchmarks/evaluate_snareseq.py --seeds "
           f"{' '.join(map(str, args.seeds))} --epochs-ae {args.epochs_ae} --epochs-map {args.epochs_map} "
           f"--datasets {' '.join(args.datasets)}` (max epochs per phase; early stopping may stop sooner).", "",
           "The pairing of cells is used only for scoring; the model trains on the two modalities as unpaired "
           "sets. Labels are the same for scACT and the cell-type-mean baseline. Mean ± sd over seeds for "
           "scACT; the baselines are deterministic except Harmony, and run once (first seed). Definitions: "
           "`docs/evaluation.md`. The cell-type-mean baseline's per-type R2 is 1 by construction (it predicts "
           "the observed type means of the scored cells). GLUE (scglue 0.4.1) runs in its own script on the "
           "same matrices with the same metric code (`benchmarks/glue_snareseq.py`, "
           "`docs/benchmarks_glue.md`). LIGER: pyliger 0.2.4 (requirements/benchmarks_liger.txt), k = 20, "
           "on RNA counts and gene activity, alignment metrics only.", ""]
    for name in sizes:
        cells, genes, peaks, pairs = sizes[name]
        part = metrics[metrics["dataset"] == name]
        doc += [f"## {name}", "", f"{cells} cells, {genes} genes, {peaks} peaks, {pairs} scoring pairs.", "",
                summary_table(part), ""]
        if name == "snareseq":
            doc += ["Targets (issue 8):", "", targets_text(part), ""]
        t = timings[timings["dataset"] == name]
        doc += ["Time per run: " + "; ".join(f"{r.method} seed {r.seed}: train {r.train_s:.0f} s "
                                              f"({r.epochs_run} epochs), evaluate {r.evaluate_s:.0f} s"
                                              for r in t.itertuples()), ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(doc))


if __name__ == "__main__":
    main()
