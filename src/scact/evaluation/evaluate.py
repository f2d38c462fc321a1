"""Score scACT and the baselines on the same cells, labels and metrics, into one long table.

The true pairing (same cell name in both modalities) is used here only, for scoring. RNA->ATAC is
scored on the paired cells: the translation of RNA cell i against the observed ATAC profile of cell i.
With a held-out split (``obs['split']``, scact.preprocessing.split) only the held-out pairs are scored,
every alignment metric uses the held-out cells only, and every reference a baseline averages or searches
holds training cells only. Without one (old inputs, ``heldout_fraction`` 0, data with no pairs) every pair
is scored in-sample and the alignment metrics that need no pairing (silhouette, Leiden ARI/AMI, mixing,
label transfer, within-type distances) use all cells. Unpaired data (scACT's main use case: no cell named
alike in both modalities) get the pairing-free metrics only; translation-vs-truth metrics are then not
available, and ``metrics.tsv`` says so through its ``pairing/*`` rows (:func:`pairing_rows`, read by the
report).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.evaluation import baselines, metrics
from scact.preprocessing.atac import as_binary
from scact.preprocessing.split import heldout_pairs, stored_roles, training_mask
from scact.progress import tracked

log = logging.getLogger(__name__)


#: name of the alignment oracle that knows only the cell types (an oracle: it reads the scored cells' labels)
ORACLE_TYPE_ONLY = "oracle: type-only alignment"


@dataclass
class Method:
    """What one method produced. Translations cover the paired cells, in the order of ``Pairing``."""

    name: str
    rna_to_atac: metrics.PredictionSource | None = None
    atac_to_rna: np.ndarray | None = None
    #: space name -> (RNA cells' embedding, ATAC cells' embedding), all cells of each modality
    embeddings: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


#: Fewest paired cells that translation-vs-truth metrics are computed on (a correlation needs two).
MIN_SCORING_PAIRS = 2
#: Method name of the data-level rows of metrics.tsv (``pairing/*``: cells per modality, paired cells).
INPUTS_ROW = "(inputs)"


@dataclass
class Pairing:
    """Row indices of the cells present in both modalities (same name), in RNA order."""

    rna_rows: np.ndarray
    atac_rows: np.ndarray
    #: True when these are held-out pairs (no cell of them trained); alignment is then scored on them only
    heldout: bool = False
    #: how many pairs there were when these are a sample of them (:meth:`sample`), else None
    sampled_from: int | None = None

    @classmethod
    def by_name(cls, rna_names, atac_names) -> "Pairing":
        atac_pos = pd.Index(atac_names).get_indexer(pd.Index(rna_names))
        rna_rows = np.flatnonzero(atac_pos >= 0)
        return cls(rna_rows, atac_pos[rna_rows])

    @classmethod
    def for_scoring(cls, rna, atac, max_pairs: int | None = None, seed: int = 0) -> "Pairing":
        """The held-out pairs when both inputs carry a split (``obs['split']``), else every pair by name
        (never the training pairs of a split); at most ``max_pairs`` of them (:meth:`sample`)."""
        rna_roles, atac_roles = stored_roles(rna), stored_roles(atac)
        if rna_roles is None or atac_roles is None:
            return cls.by_name(rna.obs_names, atac.obs_names).sample(max_pairs, seed)
        rna_rows, atac_rows = heldout_pairs(rna.obs_names, atac.obs_names, rna_roles, atac_roles)
        # no held-out pair (unpaired data): nothing to score, alignment on all cells
        return cls(rna_rows, atac_rows, heldout=len(rna_rows) > 0).sample(max_pairs, seed)

    def sample(self, max_pairs: int | None, seed: int = 0) -> "Pairing":
        """At most ``max_pairs`` of these pairs, drawn with ``seed`` (kept in RNA order). The RNA->ATAC metrics
        hold ~190 bytes per accessible entry of the scored cells (5,000 cells x 2,700 peaks: 2.5 GB), so an
        atlas's held-out pairs are scored on a sample (``scact evaluate --max-scored-pairs``, 5,000 by default):
        medians and means over peaks, genes and cells barely move, and memory and time stop growing with the
        atlas."""
        if not max_pairs or len(self) <= max_pairs:
            return self
        keep = np.sort(np.random.default_rng(seed).choice(len(self), max_pairs, replace=False))
        return Pairing(self.rna_rows[keep], self.atac_rows[keep], self.heldout, sampled_from=len(self))

    def __len__(self) -> int:
        return len(self.rna_rows)

    @property
    def scorable(self) -> bool:
        """Whether there are enough pairs to score translations against the truth."""
        return len(self) >= MIN_SCORING_PAIRS


def pairing_case(n_paired: int, n_rna: int, n_atac: int) -> str:
    """'unpaired', 'partly paired' or 'paired' (>= 80% of all cells in pairs; QC drops a few per modality)."""
    if n_paired < MIN_SCORING_PAIRS:
        return "unpaired"
    union = n_rna + n_atac - n_paired
    return "paired" if n_paired >= 0.8 * union else "partly paired"


def pairing_rows(pairing: Pairing, rna_names, atac_names) -> list[dict]:
    """The ``pairing/*`` rows of metrics.tsv: how many cells each modality has, how many are named alike in
    both (which case the data are) and how many pairs are scored (the held-out ones, with a split); when
    they are a sample (:meth:`Pairing.sample`), ``scorable_pairs`` says of how many."""
    counts = (("rna_cells", len(rna_names)), ("atac_cells", len(atac_names)),
              ("paired_cells", len(Pairing.by_name(rna_names, atac_names))), ("scored_pairs", len(pairing)))
    if pairing.sampled_from is not None:
        counts += (("scorable_pairs", pairing.sampled_from),)
    return [{"method": INPUTS_ROW, "metric": f"pairing/{name}", "value": float(value)} for name, value in counts]


@dataclass
class Evaluation:
    metrics: pd.DataFrame       # method, metric, value
    per_type: pd.DataFrame      # method, task, cell_type, metric, value
    roc_curves: pd.DataFrame    # method, threshold, tpr, fpr
    distances: pd.DataFrame     # method, cell_type, n_pairs, q1, median, q3, mean


def type_mean_method(name, rna, atac, pairing: Pairing, labels_key: str, rna_reference=None,
                     atac_reference=None, block_size: int = 1024) -> Method:
    """Each scored cell translated as the mean profile of its type among the reference cells of the other
    modality (training cells by default, see :func:`baseline_methods`); ``labels_key`` may name finer
    labels (an oracle when they come from a joint annotation)."""
    rna_reference = training_mask(rna) if rna_reference is None else np.asarray(rna_reference, bool)
    atac_reference = training_mask(atac) if atac_reference is None else np.asarray(atac_reference, bool)
    rna_labels = rna.obs[labels_key].astype(str).to_numpy()
    atac_labels = atac.obs[labels_key].astype(str).to_numpy()
    rna_expr = sp.csr_matrix(rna.X) if sp.issparse(rna.X) else np.asarray(rna.X)
    return Method(name,
                  rna_to_atac=baselines.type_mean(as_binary(atac.X), atac_labels, rna_labels[pairing.rna_rows],
                                                  block_size, reference_rows=atac_reference),
                  atac_to_rna=baselines.dense_prediction(baselines.type_mean(
                      rna_expr, rna_labels, atac_labels[pairing.atac_rows], block_size,
                      reference_rows=rna_reference)))


def baseline_methods(rna, atac, pairing: Pairing, labels_key: str, activity=None, activity_genes=None,
                     seed: int = 0, k: int = 15, block_size: int = 1024, liger: bool = False,
                     rna_reference=None, atac_reference=None) -> list[Method]:
    """Global mean, cell-type mean and (given gene activity) Harmony kNN, on the same inputs; with
    ``liger`` also the LIGER joint embedding (alignment metrics only; needs pyliger and RNA counts); and
    the oracle type-only alignment (each cell at its type, at random inside it).

    ``rna_reference`` / ``atac_reference`` (boolean masks): the cells the baselines average or search,
    by default the training cells of the stored split (all cells without one). Harmony and LIGER embed all
    cells of both modalities as two unpaired sets (they are transductive); their kNN references are the
    reference cells."""
    rna_reference = training_mask(rna) if rna_reference is None else np.asarray(rna_reference, bool)
    atac_reference = training_mask(atac) if atac_reference is None else np.asarray(atac_reference, bool)
    atac_binary = as_binary(atac.X)
    rna_expr = sp.csr_matrix(rna.X) if sp.issparse(rna.X) else np.asarray(rna.X)
    n = len(pairing)
    rna_labels = rna.obs[labels_key].astype(str).to_numpy()
    atac_labels = atac.obs[labels_key].astype(str).to_numpy()
    methods = [] if not pairing.scorable else [
        Method("global mean",
               rna_to_atac=baselines.global_mean(atac_binary, n, block_size, reference_rows=atac_reference),
               atac_to_rna=baselines.dense_prediction(baselines.global_mean(rna_expr, n, block_size,
                                                                            reference_rows=rna_reference))),
        type_mean_method("cell-type mean", rna, atac, pairing, labels_key, rna_reference, atac_reference,
                         block_size)]
    if activity is not None:
        z_rna, z_atac = baselines.harmony_embedding(rna_expr, list(rna.var_names), activity, activity_genes,
                                                    seed=seed)
        harmony = Method("Harmony kNN", embeddings={"harmony": (z_rna, z_atac)})
        if pairing.scorable:
            # neighbours among the reference cells, weights over all cells: no copy of the reference rows
            to_atac = baselines.knn_weights(z_rna[pairing.rna_rows], z_atac, k, reference_rows=atac_reference)
            to_rna = baselines.knn_weights(z_atac[pairing.atac_rows], z_rna, k, reference_rows=rna_reference)
            harmony.rna_to_atac = baselines.knn_translation(to_atac, atac_binary, block_size)
            harmony.atac_to_rna = np.asarray((to_rna @ rna_expr).toarray() if sp.issparse(rna_expr)
                                             else to_rna @ rna_expr)
        methods.append(harmony)
        if liger and "counts" in rna.layers:
            try:
                z_rna, z_atac = baselines.liger_embedding(rna.layers["counts"], list(rna.var_names), activity,
                                                          activity_genes, seed=seed)
            except ImportError:
                log.warning("pyliger is not installed (requirements/benchmarks_liger.txt): LIGER skipped")
            except ValueError as err:
                log.warning("LIGER skipped: %s", err)
            else:
                methods.append(Method("LIGER", embeddings={"liger": (z_rna, z_atac)}))
        elif liger:
            log.warning("LIGER needs raw RNA counts in layers['counts']: skipped")
    methods.append(Method(ORACLE_TYPE_ONLY, embeddings={"type only": baselines.type_only_embedding(
        rna_labels, atac_labels, seed=seed)}))
    return methods


def evaluate(rna, atac, methods: list[Method], labels_key: str = "cell_type", seed: int = 0,
             progress: Callable[[str], None] = log.info, pairing: Pairing | None = None) -> Evaluation:
    """Every metric of every method; see the module docstring for which cells each uses.

    ``pairing``: the scored pairs (default :meth:`Pairing.for_scoring`: the held-out pairs of a stored
    split, else every pair by name); with ``pairing.heldout`` alignment is scored on those cells only."""
    pairing = Pairing.for_scoring(rna, atac) if pairing is None else pairing
    paired = pairing.scorable
    rna_labels = rna.obs[labels_key].astype(str).to_numpy()
    atac_labels = atac.obs[labels_key].astype(str).to_numpy()
    rows, per_type, rocs, distances = pairing_rows(pairing, rna.obs_names, atac.obs_names), [], [], []

    def add(method, prefix, values):
        rows.extend({"method": method, "metric": f"{prefix}/{k}", "value": float(v)} for k, v in values.items())

    if paired:
        observed_atac = as_binary(atac.X)[pairing.atac_rows]
        observed_rna = rna.X[pairing.rna_rows]
        labels = rna_labels[pairing.rna_rows]
    else:
        progress(f"{len(pairing)} cell(s) named alike in both modalities: translation-vs-truth metrics are not "
                 "available (no paired cells); pairing-free alignment metrics only")
    for method in tracked(methods, "scoring", lambda m: m.name):
        if paired and method.rna_to_atac is not None:
            progress(f"{method.name}: RNA->ATAC metrics")
            scores = metrics.rna_to_atac_metrics(observed_atac, method.rna_to_atac, labels)
            add(method.name, "rna_to_atac", scores.scalars)
            for row in scores.per_type.itertuples():
                per_type.append({"method": method.name, "task": "rna_to_atac", "cell_type": row.cell_type,
                                 "metric": "auroc", "value": row.auroc})
                per_type.append({"method": method.name, "task": "rna_to_atac", "cell_type": row.cell_type,
                                 "metric": "r2_pseudobulk", "value": row.r2_pseudobulk})
            rocs.append(scores.roc_curve.assign(method=method.name))
        if paired and method.atac_to_rna is not None:
            progress(f"{method.name}: ATAC->RNA metrics")
            scalars, _ = metrics.atac_to_rna_metrics(observed_rna, method.atac_to_rna, labels,
                                                     gene_names=list(rna.var_names))
            add(method.name, "atac_to_rna", scalars)
        for space, (z_rna, z_atac) in method.embeddings.items():
            progress(f"{method.name}: alignment in {space}")
            name = method.name if len(method.embeddings) == 1 else f"{method.name} ({space})"
            cells_rna, cells_atac = ((pairing.rna_rows, pairing.atac_rows) if pairing.heldout
                                     else (slice(None), slice(None)))
            z_rna, z_atac = z_rna[cells_rna], z_atac[cells_atac]
            labels_r, labels_a = rna_labels[cells_rna], atac_labels[cells_atac]
            values = metrics.alignment_metrics(z_rna, z_atac, labels_r, labels_a, paired=False, seed=seed)
            if paired:
                values = {"foscttm": (metrics.foscttm(z_rna, z_atac) if pairing.heldout else
                                      metrics.foscttm(z_rna[pairing.rna_rows], z_atac[pairing.atac_rows])),
                          **values}
            add(name, "alignment", values)
            table = metrics.within_type_cosine_distances(z_rna, z_atac, labels_r, labels_a, seed=seed)
            distances.append(table.assign(method=name))
    return Evaluation(
        metrics=pd.DataFrame(rows, columns=["method", "metric", "value"]),
        per_type=pd.DataFrame(per_type, columns=["method", "task", "cell_type", "metric", "value"]),
        roc_curves=(pd.concat(rocs)[["method", "threshold", "tpr", "fpr"]] if rocs
                    else pd.DataFrame(columns=["method", "threshold", "tpr", "fpr"])),
        distances=(pd.concat(distances) if distances else pd.DataFrame()),
    )


#: Bar charts of metrics_headline.png, those present (translation ones need paired cells).
HEADLINE_METRICS = ("rna_to_atac/auroc_per_peak_median", "rna_to_atac/auroc_per_cell_mean",
                    "atac_to_rna/pearson_per_gene_median", "alignment/foscttm", "alignment/silhouette_cell_type",
                    "alignment/modality_mixing", "alignment/label_transfer_atac_to_rna")


def plot_evaluation(evaluation: Evaluation, outdir) -> list:
    """ROC curves of RNA->ATAC (paired cells only) and a bar chart per headline metric, as PNGs."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scact.io.atomic import atomic_path

    outdir = Path(outdir)
    written = []
    if not evaluation.roc_curves.empty:
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        for name, curve in evaluation.roc_curves.groupby("method", sort=False):
            ax.plot(curve["fpr"], curve["tpr"], label=name)
        ax.plot([0, 1], [0, 1], color="grey", lw=0.5, ls="--")
        ax.set(xlabel="false positive rate", ylabel="true positive rate", title="RNA->ATAC (flattened)")
        ax.legend(fontsize=7)
        written.append(_save(fig, outdir / "roc_rna_to_atac.png", atomic_path, plt))
    present = set(evaluation.metrics["metric"])
    headline = [m for m in HEADLINE_METRICS if m in present]
    table = evaluation.metrics[evaluation.metrics["metric"].isin(headline)]
    if not table.empty:
        fig, axes = plt.subplots(1, len(headline), figsize=(4 * len(headline), 3.5))
        for ax, metric in zip(np.atleast_1d(axes), headline):
            part = table[table["metric"] == metric]
            ax.barh(part["method"], part["value"])
            ax.set_title(metric, fontsize=9)
        fig.tight_layout()
        written.append(_save(fig, outdir / "metrics_headline.png", atomic_path, plt))
    return written


def _save(fig, target, atomic_path, plt):
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return target


def method_from_files(name, rna, atac, pairing: Pairing, rna_to_atac=None, atac_to_rna=None, joint=None,
                      block_size: int | None = None) -> Method:
    """A :class:`Method` read from ``scact translate`` outputs (probabilities streamed from disk, in blocks
    of ``block_size`` cells; default: as many as the reader's memory budget allows)."""
    import anndata as ad

    from scact.errors import input_error
    from scact.io.anndata import read_h5ad
    from scact.io.translated import TranslatedAccessibility

    method = Method(name)
    if rna_to_atac is not None:
        translated = TranslatedAccessibility(rna_to_atac)
        rows = translated.obs_names.get_indexer(rna.obs_names[pairing.rna_rows])
        if (rows < 0).any() or not translated.var_names.equals(atac.var_names):
            translated.close()
            raise input_error(rna_to_atac, "cells or peaks differ from the given rna.h5ad/atac.h5ad",
                              "evaluate the files translate wrote from the same inputs")
        log.info("%s: RNA->ATAC scored on %s", rna_to_atac, translated.form)
        if pairing.scorable:
            method.rna_to_atac = translated.blocks(rows, block_size=block_size)
        else:
            translated.close()
    if atac_to_rna is not None and pairing.scorable:
        translated = read_h5ad(atac_to_rna)
        rows = translated.obs_names.get_indexer(atac.obs_names[pairing.atac_rows])
        if (rows < 0).any() or not translated.var_names.equals(rna.var_names):
            raise input_error(atac_to_rna, "cells or genes differ from the given atac.h5ad/rna.h5ad")
        x = translated.X[rows]
        method.atac_to_rna = x.toarray() if sp.issparse(x) else np.asarray(x)
    if joint is not None:
        table = read_h5ad(joint)
        for space in ("rna_latent", "atac_latent"):
            key = f"X_{space}"
            if key not in table.obsm:
                raise input_error(joint, f"has no obsm['{key}']", "give the joint_embedding.h5ad of translate")
            parts = []
            for modality, adata in (("rna", rna), ("atac", atac)):
                sub = table.obs[table.obs["modality"] == modality]
                pos = pd.Index(sub["cell"].astype(str)).get_indexer(adata.obs_names.astype(str))
                if (pos < 0).any():
                    raise input_error(joint, f"lacks {int((pos < 0).sum())} {modality} cells of the inputs")
                parts.append(table.obsm[key][table.obs_names.get_indexer(sub.index)][pos])
            method.embeddings[space.replace("_", " ")] = (parts[0], parts[1])
    return method


def run_evaluate(rna_path, atac_path, rna_to_atac=None, atac_to_rna=None, joint=None, method_name="scACT",
                 labels_key="cell_type", gene_activity_path=None, tss_bed=None, tss_window=10_000,
                 baselines_on=True, seed=0, outdir=".", max_scored_pairs: int | None = 5_000) -> Evaluation:
    """The whole ``scact evaluate`` step."""
    from pathlib import Path

    from scact.errors import input_error
    from scact.io.anndata import read_h5ad
    from scact.io.annotation import read_annotation
    from scact.io.atomic import atomic_path
    from scact.io.translated import translated_var_names

    rna, atac = read_h5ad(rna_path), read_h5ad(atac_path)
    for path, adata in ((rna_path, rna), (atac_path, atac)):
        if labels_key not in adata.obs:
            raise input_error(path, f"has no obs column '{labels_key}'", "pass --labels-key")
    if rna_to_atac is not None:  # score on the peaks that were translated
        peaks = translated_var_names(rna_to_atac)
        missing = pd.Index(peaks).difference(atac.var_names)
        if len(missing):
            raise input_error(rna_to_atac, f"{len(missing)} translated peaks are not in {atac_path}")
        if not atac.var_names.equals(pd.Index(peaks)):
            atac = atac[:, peaks].copy()
    if atac_to_rna is not None:
        genes = read_h5ad_var_names(atac_to_rna)
        missing = pd.Index(genes).difference(rna.var_names)
        if len(missing):
            raise input_error(atac_to_rna, f"{len(missing)} translated genes are not in {rna_path}")
        if not rna.var_names.equals(pd.Index(genes)):
            rna = rna[:, genes].copy()
    pairing = Pairing.for_scoring(rna, atac, max_scored_pairs, seed)
    if pairing.sampled_from is not None:
        log.info("%d of %d pairs are scored, drawn with seed %d (--max-scored-pairs)", len(pairing),
                 pairing.sampled_from, seed)
    if pairing.heldout:
        log.info("%d held-out pairs are scored (obs['split']); references hold training cells only",
                 len(pairing))
    else:
        log.info("%d cells are named alike in both modalities (scoring pairs, in-sample: no held-out split): "
                 "%s data", len(pairing), pairing_case(len(pairing), rna.n_obs, atac.n_obs))
    methods = [method_from_files(method_name, rna, atac, pairing, rna_to_atac, atac_to_rna, joint)]
    if baselines_on:
        activity, activity_genes = None, None
        if gene_activity_path is not None:
            table = read_h5ad(gene_activity_path, matrix_only=True)
            pos = table.obs_names.get_indexer(atac.obs_names)
            if (pos < 0).any():
                raise input_error(gene_activity_path, f"lacks {int((pos < 0).sum())} cells of {atac_path}")
            in_rna = np.flatnonzero(table.var_names.isin(rna.var_names))  # Harmony uses the shared genes only
            activity = sp.csr_matrix(table.X)[:, in_rna][pos]
            activity_genes = list(table.var_names[in_rna])
            del table
        elif tss_bed is not None:
            activity, activity_genes = baselines.gene_activity(atac, read_annotation(tss_bed), tss_window)
        else:
            log.warning("no --gene-activity or --tss-bed: the Harmony kNN baseline is skipped")
        methods += baseline_methods(rna, atac, pairing, labels_key, activity, activity_genes, seed=seed)
    result = evaluate(rna, atac, methods, labels_key, seed=seed, pairing=pairing)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for name, frame in (("metrics.tsv", result.metrics), ("metrics_per_type.tsv", result.per_type),
                        ("roc_curves.tsv", result.roc_curves), ("within_type_distances.tsv", result.distances)):
        with atomic_path(outdir / name) as tmp:
            frame.to_csv(tmp, sep="\t", index=False)
    plot_evaluation(result, outdir)
    return result


def read_h5ad_var_names(path) -> list[str]:
    """Feature names of an .h5ad without loading its matrix."""
    import anndata as ad

    backed = ad.read_h5ad(path, backed="r")
    names = list(backed.var_names.astype(str))
    backed.file.close()
    return names
