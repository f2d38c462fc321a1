"""The four ATAC pipeline steps (atac_qc, call_peaks, atac_matrix, atac_process) over scact.preprocessing.atac.

Each function reads its inputs, checks them with clear errors, and writes its outputs atomically.
"""
from __future__ import annotations

import logging
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scact.errors import input_error
from scact.io.anndata import peak_coordinates, read_h5ad, write_h5ad
from scact.io.annotation import check_chromosomes, gene_regions, read_annotation
from scact.io.atomic import atomic_path
from scact.io.fragments import fragment_contigs
from scact.io.provenance import record_provenance
from scact.preprocessing import MIN_CELLS_AFTER_QC, atac
from scact.preprocessing import atac_plots, doublets
from scact.preprocessing.labels import log_cp10k

log = logging.getLogger(__name__)


def _write_tsv(frame: pd.DataFrame, path: Path, index: bool = False) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=index)


def read_cellranger_cell_calls(path) -> set[str]:
    """Barcodes with ``is_cell == 1`` in CellRanger-arc's ``per_barcode_metrics.csv``."""
    path = Path(path)
    try:
        table = pd.read_csv(path, usecols=["barcode", "is_cell"])
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise input_error(path, f"cannot read CellRanger-arc per-barcode metrics ({err})",
                          "give the per_barcode_metrics.csv of the CellRanger-arc output folder") from err
    return set(table.loc[table["is_cell"] == 1, "barcode"].astype(str))


# ------------------------------------------------------------------------------------------ atac_qc
#: Share of a fragments file (chrM aside) on chromosomes the annotation lacks above which ATAC QC warns.
MAX_UNANNOTATED_SHARE = 0.05
#: Median TSS enrichment of a sample's cells below which its annotation is refused as not matching the
#: fragments (or the ``--min-tss-enrichment`` threshold when lower): real samples show 4-20 (real PBMC
#: fragments: 4.0 with hg38, 0.0 with mm10), fragments that ignore the annotation's TSSs ~1.
MIN_MEDIAN_TSS_ENRICHMENT = 2.0


def unannotated_fragments(annotation, fragments, per_chrom: dict[str, int], annotated: set[str]) -> dict:
    """Share of the fragments (chrM aside) on chromosomes the annotation lacks; warns loudly above
    ``MAX_UNANNOTATED_SHARE``. Returns what atac_qc records (and the report shows)."""
    nuclear = {c: n for c, n in per_chrom.items() if c not in atac.MITO_NAMES}
    outside = {c: n for c, n in nuclear.items() if c not in annotated}
    total = sum(nuclear.values())
    share = sum(outside.values()) / total if total else 0.0
    record = {"fragments_outside_annotation": round(share, 4)}
    if share > MAX_UNANNOTATED_SHARE:
        listed = sorted(outside.items(), key=lambda item: -item[1])
        named = ", ".join(f"{c} ({n / total:.0%})" for c, n in listed[:10]) + (", ..." if len(listed) > 10 else "")
        record["chromosomes_outside_annotation"] = named
        log.warning("WARNING: %.0f%% of the fragments of %s lie on chromosomes that the annotation %s lacks: %s. "
                    "They give no TSS enrichment, no gene activity and no peaks. Use an annotation of the whole "
                    "genome the fragments were aligned to.", 100 * share, Path(fragments).name,
                    Path(annotation).name, named)
    return record


def check_tss_signal(annotation, fragments, tss_enrichment: np.ndarray, min_tss_enrichment: float) -> None:
    """Refuse an annotation whose TSSs show no enrichment in the sample's cells (median below
    ``MIN_MEDIAN_TSS_ENRICHMENT`` and below the filter's threshold, so that most cells would be dropped):
    the usual sign of an annotation of another genome build or species (chromosome names alike, positions
    not)."""
    values = tss_enrichment[np.isfinite(tss_enrichment)]
    if min_tss_enrichment <= 0 or not len(values):
        return
    median = float(np.median(values))
    if median < min(MIN_MEDIAN_TSS_ENRICHMENT, min_tss_enrichment):
        share = float(np.mean(values < min_tss_enrichment))
        raise input_error(annotation, f"its TSSs show no enrichment in the fragments of {Path(fragments).name} "
                                      f"(median TSS enrichment of the cells {median:.2f}; {share:.0%} of them "
                                      f"would fail --min_tss_enrichment {min_tss_enrichment:g}): the annotation "
                                      "does not match the genome the fragments were aligned to",
                          "give the annotation (TSS BED or GTF) of that genome build and species; if the data "
                          "are simply of low quality, lower --min_tss_enrichment (0 skips this check and the filter)")


def resolve_doublet_method(method: str, fragments, n_peaks: int, input_h5ad) -> str:
    """The doublet method to run (``auto`` resolved); refuses one the inputs cannot support."""
    if method not in atac.DOUBLET_METHODS:
        raise input_error("--doublet-method", f"unknown method {method!r}",
                          f"choose one of {', '.join(atac.DOUBLET_METHODS)}")
    if method == "auto":
        method = "amulet" if fragments is not None else "doubletdetection"
    if method == "amulet" and fragments is None:
        raise input_error(input_h5ad, "AMULET doublet detection counts overlapping fragments, and no fragments "
                                      "file was given for this peak-count input",
                          "pass --fragments <fragments.tsv.gz>, or use --doublet-method doubletdetection (or auto)")
    if method == "doubletdetection" and n_peaks == 0:
        raise input_error(input_h5ad, "has no peak counts (0 features), and DoubletDetection runs on the binarized "
                                      "cells x peaks matrix",
                          "use --doublet-method amulet (or auto) with --fragments, or give a peak-count input")
    return method


def atac_qc(input_h5ad, output_h5ad, output_tsv, fragments=None, annotation=None, cell_metrics=None,
            min_fragments: int = 1000, min_tss_enrichment: float = 2.0, min_peak_counts: int = 500,
            doublet_method: str = "auto", doublet_q: float = 0.01, doublet_p_thresh: float = 1e-4,
            doublet_voter_thresh: float = 0.5, doublet_n_iters: int = 10, seed: int = 0,
            tn5: str = "cellranger", plot_prefix=None) -> ad.AnnData:
    """Per-barcode QC of one sample; keeps the cells passing every filter.

    Doublets are called among the cells that pass the other filters: AMULET (``doublet_q``) needs the
    fragments; DoubletDetection (``doublet_p_thresh``, ``doublet_voter_thresh``, ``doublet_n_iters``,
    ``seed``) runs on the binarized peak counts.
    """
    adata = read_h5ad(input_h5ad)
    sample = str(adata.obs["sample"].iloc[0]) if "sample" in adata.obs and adata.n_obs else Path(input_h5ad).stem
    barcodes = adata.obs["barcode"].astype(str) if "barcode" in adata.obs else pd.Series(adata.obs_names, index=adata.obs_names)
    reasons = pd.Series("kept", index=adata.obs_names, dtype=object)
    if fragments is None and adata.n_vars == 0:
        raise input_error(input_h5ad, "has neither peak counts nor a fragments file", "pass --fragments")
    method = resolve_doublet_method(doublet_method, fragments, adata.n_vars, input_h5ad)
    params = dict(min_fragments=min_fragments, min_tss_enrichment=min_tss_enrichment, tn5=tn5,
                  doublet_method=method, doublet_method_requested=doublet_method, cell_metrics=cell_metrics)
    if method == "amulet":
        params["doublet_q"] = doublet_q
    elif method == "doubletdetection":
        params.update(doublet_input="binarized peak counts", doublet_p_thresh=doublet_p_thresh,
                      doublet_voter_thresh=doublet_voter_thresh, doublet_n_iters=doublet_n_iters, seed=seed)
    if cell_metrics is not None:
        called = read_cellranger_cell_calls(cell_metrics)
        reasons[~barcodes.isin(called).to_numpy()] = "not_called_by_cellranger"
    if fragments is None:
        log.warning("%s: no fragments file: TSS enrichment is not computable; filtering on peak counts only "
                    "(>= %d), doublets: %s", input_h5ad, min_peak_counts, method)
        counts = np.asarray(adata.X.sum(axis=1)).ravel()
        adata.obs["n_peak_counts"] = counts
        adata.obs["n_fragments"] = counts  # depth proxy for the model's confounders
        adata.obs["tss_enrichment"] = np.nan
        reasons[(reasons == "kept").to_numpy() & (counts < min_peak_counts)] = "low_peak_counts"
        params["min_peak_counts"] = min_peak_counts
        params["tss_enrichment"] = "not computable without fragments"
    else:
        if annotation is None:
            raise input_error(fragments, "TSS enrichment needs a gene annotation", "pass --annotation (TSS BED or GTF)")
        genes = read_annotation(annotation)
        check_chromosomes(annotation, genes, fragments, fragment_contigs(fragments))
        per_chrom: dict[str, int] = {}
        metrics, lengths = atac.fragment_metrics(fragments, genes, tn5=tn5, fragments_per_chrom=per_chrom)
        matched = barcodes.isin(metrics.index)
        if not matched.any():
            raise input_error(fragments, f"none of its {len(metrics)} barcodes match the {adata.n_obs} cells of "
                                         f"{input_h5ad} (e.g. {metrics.index[0]!r} vs {barcodes.iloc[0]!r})",
                              "give the fragments file of this sample")
        params.update(unannotated_fragments(annotation, fragments, per_chrom, set(genes["chrom"])))
        cell_metrics_frame = metrics.reindex(barcodes.to_numpy()).fillna(0)
        cell_metrics_frame.index = adata.obs_names
        # the cells whose TSS enrichment the filter will judge
        candidates = ((reasons == "kept").to_numpy() & matched.to_numpy()
                      & (cell_metrics_frame["n_fragments"].to_numpy() >= min_fragments))
        check_tss_signal(annotation, fragments, cell_metrics_frame["tss_enrichment"].to_numpy()[candidates],
                         min_tss_enrichment)
        for column in ("n_fragments", "tss_enrichment", "n_overlaps3"):
            adata.obs[column] = cell_metrics_frame[column].to_numpy()
        kept = (reasons == "kept").to_numpy()
        reasons[kept & (adata.obs["n_fragments"].to_numpy() < min_fragments)] = "low_fragments"
        kept = (reasons == "kept").to_numpy()
        reasons[kept & (adata.obs["tss_enrichment"].to_numpy() < min_tss_enrichment)] = "low_tss_enrichment"
        adata.uns["fragment_length_histogram"] = lengths
    _refuse_too_few(reasons, adata.n_obs, input_h5ad)  # before doublet detection, which needs cells
    kept = (reasons == "kept").to_numpy()
    if method == "amulet" and kept.any():
        calls = atac.call_amulet_doublets(cell_metrics_frame, adata.obs_names[kept].to_numpy(), doublet_q)
        adata.obs["doublet_qvalue"] = calls["doublet_qvalue"].reindex(adata.obs_names).fillna(1.0).to_numpy()
        reasons[calls.index[calls["doublet"].to_numpy()]] = "doublet"
    elif method == "doubletdetection" and kept.any():
        score, is_doublet = doublets.detect_doublets(
            atac.binarize(adata.X[kept]), doublets.BINARY_PEAKS, n_iters=doublet_n_iters,
            p_thresh=doublet_p_thresh, voter_thresh=doublet_voter_thresh, seed=seed)
        doublet_score = np.zeros(adata.n_obs)
        doublet_score[kept] = score
        adata.obs["doublet_score"] = doublet_score
        reasons[adata.obs_names[kept][is_doublet]] = "doublet"
    _refuse_too_few(reasons, adata.n_obs, input_h5ad)
    table = atac.qc_reason_table(reasons, adata.n_obs)
    adata.obs["qc_reason"] = reasons.to_numpy()
    if plot_prefix and fragments is not None:
        atac_plots.qc_plots(adata.obs, adata.uns["fragment_length_histogram"], min_fragments, min_tss_enrichment,
                            Path(f"{plot_prefix}"))
    out = adata[(reasons == "kept").to_numpy()].copy()
    out.obs = out.obs.drop(columns=["qc_reason"])
    out.obs["log_depth"] = np.log1p(out.obs["n_fragments"].to_numpy(np.float64))
    if fragments is not None:
        out.uns["fragments"] = Path(fragments).name
    table.insert(0, "sample", sample)
    record_provenance(out, "atac_qc", params)
    _write_tsv(table, Path(output_tsv))
    write_h5ad(out, output_h5ad)
    return out


def _refuse_too_few(reasons: pd.Series, n_input: int, source) -> None:
    """Refuse a sample that keeps fewer than MIN_CELLS_AFTER_QC cells, with the counts by reason."""
    n_kept = int((reasons == "kept").sum())
    if n_kept >= MIN_CELLS_AFTER_QC:
        return
    table = atac.qc_reason_table(reasons, n_input)
    problem = ("the QC thresholds remove every cell" if n_kept == 0 else
               f"only {n_kept} cells pass QC, at least {MIN_CELLS_AFTER_QC} are needed")
    raise input_error(source, f"{problem} ({'; '.join(f'{r}: {n}' for r, n in table.itertuples(index=False))})",
                      "lower --min_fragments / --min_tss_enrichment / --min_peak_counts (scact atac-qc: "
                      "--min-fragments, --min-tss-enrichment, --min-peak-counts), check the annotation and "
                      "fragments, or leave this sample out")


# ---------------------------------------------------------------------------------------- call_peaks
def call_peaks(inputs: list[tuple[str, str]], annotation, output_bed, outdir=".", genome_size: str = "hs",
               qvalue: float = 0.01, half_width: int = 250, tn5: str = "cellranger", plot_path=None,
               macs_args: list[str] | None = None, group_by: str | None = None,
               min_group_cells: int = 50, macs_version: str = "macs3",
               max_insertions: int = atac.MAX_INSERTIONS, seed: int = 0) -> pd.DataFrame:
    """MACS3 (or ``macs_version`` macs2) on the pseudo-bulk of kept cells of every sample -> merged
    fixed-width peaks BED; the MACS outputs are named ``<macs_version>_*``.

    With ``group_by`` (an obs column of the QC files, e.g. user labels) MACS3 runs once per group, so that
    peaks of rare cell types are not drowned in the pooled background, and the summits are merged; groups
    with fewer than ``min_group_cells`` cells are pooled together. A group expected to give more than
    ``max_insertions`` insertions (2 per fragment, from the QC's ``n_fragments``) is subsampled to about that
    many, fragment by fragment with ``seed`` (0: never), so that MACS's time stops growing with cells.
    """
    genes = read_annotation(annotation)
    annotated = set(genes["chrom"])
    fragment_files, given_peaks, cell_fragments = [], [], []
    for qc_h5ad, fragments in inputs:
        cells = read_h5ad(qc_h5ad)
        if fragments in (None, "-", ""):  # a peak-count input: its own peaks join the shared set
            if cells.n_vars == 0:
                raise input_error(qc_h5ad, "has neither fragments nor peaks", "give its fragments file")
            own = peak_coordinates(cells.var, qc_h5ad)
            given_peaks.append(own[own["chrom"].isin(annotated) & ~own["chrom"].isin(atac.MITO_NAMES)])
            continue
        check_chromosomes(annotation, genes, fragments, fragment_contigs(fragments))
        barcodes = cells.obs["barcode"].astype(str) if "barcode" in cells.obs else pd.Series(cells.obs_names, index=cells.obs_names)
        if group_by is None:
            groups = pd.Series("all", index=cells.obs_names)
        elif group_by not in cells.obs:
            raise input_error(qc_h5ad, f"has no obs column '{group_by}' to call peaks per group",
                              f"columns: {', '.join(map(str, cells.obs.columns))}")
        else:
            groups = cells.obs[group_by].astype(str).fillna("unlabelled")
        fragment_files.append((str(fragments), dict(zip(barcodes.to_numpy(), groups.to_numpy()))))
        cell_fragments.append(pd.Series(cells.obs["n_fragments"].to_numpy(float) if "n_fragments" in cells.obs
                                        else np.nan, index=groups.to_numpy()))
    sizes = pd.Series([g for _, m in fragment_files for g in m.values()]).value_counts()
    small = set(sizes.index[sizes < min_group_cells]) if group_by is not None else set()
    fragment_files = [(f, {b: ("small_groups" if g in small else g) for b, g in m.items()}) for f, m in fragment_files]
    keep_fraction = _insertion_fractions(cell_fragments, small, max_insertions)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    narrow_parts = []
    beds, dropped = {}, {}
    with atac.temporary_directory(".call_peaks.") as tmp:
        if not fragment_files:
            return _write_peaks(atac.merge_intervals(pd.concat(given_peaks)), output_bed, outdir, dropped, plot_path)
        beds, dropped = atac.write_pseudobulk_insertions(fragment_files, Path(tmp), tn5, annotated,
                                                         keep_fraction=keep_fraction, seed=seed)
        if all(bed.stat().st_size == 0 for bed in beds.values()):
            raise input_error(inputs[0][1], "no insertion of the kept cells lies on an annotated chromosome",
                              "check the fragments files and the annotation")
        for number, (group, bed) in enumerate(beds.items()):
            if bed.stat().st_size == 0:
                continue
            name = macs_version if len(beds) == 1 else f"{macs_version}_group{number}"
            narrow_path = atac.run_macs(bed, Path(tmp), name, genome_size, qvalue, macs_args, macs_version)
            part = atac.read_narrowpeak(narrow_path)
            part["group"] = group
            narrow_parts.append(part)
            for produced in Path(tmp).glob(f"{name}_*"):
                with atomic_path(outdir / produced.name) as dest:
                    dest.write_bytes(produced.read_bytes())
    narrow = pd.concat(narrow_parts, ignore_index=True)
    peaks = atac.fixed_width_merged_peaks(narrow, half_width)
    if peaks.empty:
        raise input_error(inputs[0][1], f"{macs_version.upper()} called no peak on the kept cells",
                          "check --genome-size and that the kept cells have enough fragments")
    log.info("%d %s summits -> %d merged %d-bp peaks", len(narrow), macs_version.upper(), len(peaks),
             2 * half_width + 1)
    if given_peaks:
        peaks = atac.merge_intervals(pd.concat([peaks] + given_peaks, ignore_index=True))
    if len(beds) > 1:
        _write_tsv(pd.DataFrame({"group_file": [f"{macs_version}_group{i}" for i in range(len(beds))], "group": list(beds),
                                 "n_summits": [int((narrow["group"] == g).sum()) for g in beds]}),
                   outdir / "peak_groups.tsv")
    return _write_peaks(peaks, output_bed, outdir, dropped, plot_path)


def _insertion_fractions(cell_fragments: list[pd.Series], small: set, max_insertions: int) -> dict[str, float]:
    """Per group, the share of fragments kept so that about ``max_insertions`` insertions remain."""
    if not max_insertions or not cell_fragments:
        return {}
    per_cell = pd.concat(cell_fragments)
    if per_cell.isna().any():
        log.info("no n_fragments in a QC file: every insertion goes to MACS")
        return {}
    per_cell.index = ["small_groups" if g in small else g for g in per_cell.index]
    expected = 2 * per_cell.groupby(level=0).sum()
    fractions = {}
    for group, insertions in expected.items():
        if insertions > max_insertions:
            fractions[group] = max_insertions / insertions
            log.info("peaks of %s: %d of ~%d insertions given to MACS (fraction %.3f; --max-insertions)",
                     group, max_insertions, insertions, fractions[group])
    return fractions


def _write_peaks(peaks: pd.DataFrame, output_bed, outdir: Path, dropped: dict, plot_path) -> pd.DataFrame:
    for chrom, n in sorted(dropped.items()):
        log.info("dropped %d fragments on %s (chrM or not in the annotation)", n, chrom)
    peaks = peaks[["chrom", "start", "end"]].copy()
    peaks["name"] = atac.peak_names(peaks)
    with atomic_path(output_bed) as tmp:
        peaks.to_csv(tmp, sep="\t", header=False, index=False)
    summary = pd.DataFrame({"chrom": list(dropped), "n_fragments_dropped": list(dropped.values())})
    _write_tsv(summary, outdir / "dropped_chromosomes.tsv")
    if plot_path:
        atac_plots.peaks_per_chromosome(peaks, Path(plot_path))
    return peaks


# --------------------------------------------------------------------------------------- atac_matrix
def atac_matrix(qc_h5ad, peaks_bed, output_h5ad, fragments=None, tn5: str = "cellranger") -> ad.AnnData:
    """Cells x peaks counts of one sample on the shared peak set (from fragments, or remapped peak counts)."""
    cells = read_h5ad(qc_h5ad)
    if peaks_bed is None:
        if fragments is not None or cells.n_vars == 0:
            raise input_error(qc_h5ad, "no peaks.bed given: only a peak-count input can keep its own peaks",
                              "pass --peaks peaks.bed from call_peaks")
        peaks = atac.sort_genome_order(peak_coordinates(cells.var, qc_h5ad).drop_duplicates()).reset_index(drop=True)
    else:
        peaks = atac.read_peaks_bed(peaks_bed)
    if fragments is not None:
        barcodes = cells.obs["barcode"].astype(str).tolist() if "barcode" in cells.obs else list(cells.obs_names)
        counts = atac.peak_matrix_from_fragments(fragments, barcodes, peaks, tn5=tn5)
        source = "fragments"
    else:
        if cells.n_vars == 0:
            raise input_error(qc_h5ad, "has no peak counts and no fragments file was given", "pass --fragments")
        counts = remap_peak_counts(cells, peaks, qc_h5ad)
        source = "peak counts remapped by overlap"
    var = peaks[["chrom", "start", "end"]].copy()
    var.index = atac.peak_names(peaks)
    out = ad.AnnData(X=counts.astype(np.float32), obs=cells.obs.copy(), var=var)
    out.obs["n_peak_counts"] = np.asarray(counts.sum(axis=1)).ravel()
    out.obs["frip"] = out.obs["n_peak_counts"] / np.maximum(2 * out.obs.get("n_fragments", out.obs["n_peak_counts"]), 1)
    out.uns.update({k: v for k, v in cells.uns.items() if k != "scact"})
    out.uns["scact"] = dict(cells.uns.get("scact", {}))
    record_provenance(out, "atac_matrix", {"peaks": str(peaks_bed or "own peaks"), "source": source, "tn5": tn5})
    write_h5ad(out, output_h5ad)
    return out


def remap_peak_counts(cells: ad.AnnData, peaks: pd.DataFrame, path) -> sp.csr_matrix:
    """Sum a sample's own peak counts onto the shared peaks they overlap (peak-count inputs)."""
    own = peak_coordinates(cells.var, path).reset_index(drop=True)
    mapping_rows, mapping_cols = [], []
    shared = peaks.reset_index(drop=True)
    for chrom, group in own.groupby("chrom"):
        on_chrom = shared.index[shared["chrom"] == chrom].to_numpy()
        if not len(on_chrom):
            continue
        s_start, s_end = shared["start"].to_numpy()[on_chrom], shared["end"].to_numpy()[on_chrom]
        for i, start, end in zip(group.index, group["start"], group["end"]):
            hits = on_chrom[(s_start < end) & (s_end > start)]
            mapping_rows.extend([i] * len(hits))
            mapping_cols.extend(hits)
    if not mapping_rows:
        raise input_error(path, "none of its peaks overlaps the shared peak set")
    mapping = sp.csr_matrix((np.ones(len(mapping_rows), np.float32), (mapping_rows, mapping_cols)),
                            shape=(len(own), len(shared)))
    return (sp.csr_matrix(cells.X, dtype=np.float32) @ mapping).tocsr()


# -------------------------------------------------------------------------------------- atac_process
def atac_process(inputs: list[str], output_h5ad, gene_activity_h5ad, annotation=None, n_top_peaks: int = 100_000,
                 n_components: int = 20, depth_r: float = 0.9, resolution: float = 1.0, n_neighbors: int = 15,
                 upstream_bp: int = 2000, seed: int = 0, plot_prefix=None) -> ad.AnnData:
    """Join samples, binarize, TF-IDF, top peaks, LSI, Leiden; gene activity from all peaks."""
    import scanpy as sc

    parts = [read_h5ad(p) for p in inputs]
    peaks = parts[0].var[["chrom", "start", "end"]].copy()
    for path, part in zip(inputs, parts):
        if not part.var_names.equals(peaks.index):
            raise input_error(path, "its peaks differ from those of the first input", "build every sample on the same peaks.bed")
        if part.n_vars == 0:
            raise input_error(path, "has no peaks", "run atac_matrix first")
    # A lone sample is used as read and binarized in place: at atlas size each cells x peaks copy is GBs.
    joined = parts[0] if len(parts) == 1 else ad.concat(parts, join="outer", merge="same", uns_merge="first")
    del parts, part
    joined.var = peaks
    if "n_fragments" not in joined.obs:
        joined.obs["n_fragments"] = np.asarray(joined.X.sum(axis=1)).ravel()
    binary = atac.binarize(joined.X, copy=False)
    joined.X = None
    depth = np.asarray(binary.sum(axis=1)).ravel()
    if (depth == 0).any():
        log.warning("%d cells have no accessible peak; they are kept with zero LSI signal", int((depth == 0).sum()))
    score = atac.tfidf_peak_scores(binary)
    n_top = min(n_top_peaks, int((score > 0).sum()))
    top = np.sort(np.argsort(-score, kind="stable")[:n_top])  # genome order kept: var is in genome order
    selected = binary[:, top].tocsr() if n_top < binary.shape[1] else binary
    weights = atac.tfidf(selected, cell_totals=depth)  # depth over all peaks, as before the selection
    embedding, dropped, correlations = atac.lsi(weights, depth, n_components, seed, depth_r)
    del weights  # before gene activity: the two together were the step's peak at atlas size
    activity = gene_activity(binary, joined, annotation, upstream_bp) if annotation is not None else None
    del binary
    out = ad.AnnData(X=selected, obs=joined.obs.copy(), var=joined.var.iloc[top].copy())
    out.obs["n_accessible_peaks"] = depth
    out.obs["log_depth"] = np.log1p(out.obs["n_fragments"].to_numpy(np.float64))
    if "tss_enrichment" not in out.obs:
        out.obs["tss_enrichment"] = np.nan
    out.obsm["X_lsi"] = embedding
    sc.pp.neighbors(out, use_rep="X_lsi", n_neighbors=min(n_neighbors, out.n_obs - 1), random_state=seed)
    sc.tl.leiden(out, resolution=resolution, random_state=seed, flavor="igraph", n_iterations=2, directed=False)
    out.uns["lsi"] = {"dropped_component": dropped, "depth_correlations": correlations.astype(np.float64)}
    params = dict(n_top_peaks=n_top_peaks, n_components=n_components, depth_r=depth_r, resolution=resolution,
                  n_neighbors=n_neighbors, seed=seed, dropped_component=dropped)
    record_provenance(out, "atac_process", params)
    if activity is not None:
        record_provenance(activity, "gene_activity", {"upstream_bp": upstream_bp, "annotation": str(annotation)})
        activity.obs["leiden"] = out.obs["leiden"].to_numpy()
        write_h5ad(activity, gene_activity_h5ad)
        del activity
    if plot_prefix:
        sc.tl.umap(out, random_state=seed)
        atac_plots.umap_plot(out, Path(f"{plot_prefix}_umap.png"))
    write_h5ad(out, output_h5ad)
    return out


def gene_activity(binary: sp.csr_matrix, joined: ad.AnnData, annotation, upstream_bp: int) -> ad.AnnData:
    """Gene activity (accessible peaks in gene body + upstream): counts in layers, log CP10k in X."""
    genes = read_annotation(annotation)
    check_chromosomes(annotation, genes, "the peaks", set(joined.var["chrom"]))
    regions = gene_regions(genes, upstream_bp)
    counts, kept = atac.gene_activity_matrix(binary, joined.var[["chrom", "start", "end"]], regions)
    out = ad.AnnData(X=log_cp10k(counts), obs=joined.obs.copy(), var=kept.set_index("gene"))
    out.layers["counts"] = counts
    return out
