"""Perturbation section: top peaks by integrated gradients per gene with their accessibility test (paper
Fig. 5B), peak-to-gene link arcs per source (Fig. 5C), observed vs translated link agreement."""
from __future__ import annotations

import numpy as np
import pandas as pd

from scact.report._document import Note, Section, Writer, safe_name
from scact.report._inputs import Results, read_table
from scact.report._plots import plt


def _score_column(table: pd.DataFrame) -> str | None:
    for name in ("attribution", "score", "mean_attribution", "ig", "integrated_gradients"):
        if name in table:
            return name
    numeric = [c for c in table.select_dtypes("number").columns if c not in ("rank", "start", "end")]
    return numeric[0] if numeric else None


def _ig_figure(writer, gene: str, peaks: pd.DataFrame, summary_row: pd.Series | None):
    score = _score_column(peaks)
    if score is None:
        return None
    top = peaks.head(15).iloc[::-1]
    if {"chrom", "start", "end"} <= set(top):
        names = [f"{c}:{int(s):,}-{int(e):,}" for c, s, e in zip(top["chrom"], top["start"], top["end"])]
    else:
        names = top["peak"].astype(str).tolist() if "peak" in top else [str(i) for i in top.index]
    if "distance_to_tss" in top:
        names = [f"{n}  ({d / 1000:+.1f} kb)" if pd.notna(d) else n for n, d in zip(names, top["distance_to_tss"])]
    test = summary_row is not None and pd.notna(summary_row.get("mean_top_accessibility_in_type", np.nan))
    fig, axes = plt.subplots(1, 2 if test else 1, figsize=(12 if test else 8, 0.32 * len(top) + 1.6),
                             squeeze=False, gridspec_kw={"width_ratios": [3, 1]} if test else None)
    ax = axes[0, 0]
    values = top[score].to_numpy(float)
    ax.barh(names, values, color=np.where(values >= 0, "#B2182B", "#2166AC"))
    cell_type = summary_row.get("cell_type") if summary_row is not None else None
    ax.set_title(f"{gene}: top peaks by integrated gradients" + (f" in {cell_type}" if cell_type else ""))
    ax.set_xlabel(score.replace("_", " ") + " (label: distance to TSS)")
    if test:
        ax = axes[0, 1]
        inside = float(summary_row["mean_top_accessibility_in_type"])
        other = float(summary_row["mean_top_accessibility_other_types"])
        ax.bar([str(cell_type or "type"), "other types"], [inside, other], color=["#E08214", "0.6"])
        p = summary_row.get("p_value")
        ax.set_title(f"accessibility of top peaks\nWelch t-test p = {float(p):.2g}" if pd.notna(p) else
                     "accessibility of top peaks")
        ax.set_ylabel("mean accessibility")
        ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    return writer.figure(fig, f"perturbation_{gene}_ig_peaks", f"{gene}: top peaks by integrated gradients",
                         peaks, "Attribution of each peak to the gene's translated expression (baseline: all closed), "
                                "and the observed accessibility of these peaks in the gene's type vs the others "
                                "(paper Fig. 5B).")


def _link_figure(writer, links: pd.DataFrame, gene: str, top_ig: pd.DataFrame | None):
    """Arcs from the gene's TSS to each tested peak, one panel per source (paper Fig. 5C)."""
    from matplotlib.patches import Arc

    gene_links = links[links["gene"] == gene]
    if gene_links.empty:
        return None
    sources = list(dict.fromkeys(gene_links["source"].astype(str))) if "source" in gene_links else ["links"]
    fig, axes = plt.subplots(len(sources), 1, figsize=(10, 1.9 * len(sources) + 0.9), sharex=True, squeeze=False)
    tss = float(gene_links["tss"].iloc[0])
    centres_all = (gene_links["start"] + gene_links["end"]) / 2
    span = max(1.0, float(np.abs(centres_all - tss).max()))
    for ax, source in zip(axes[:, 0], sources):
        rows = gene_links[gene_links["source"].astype(str) == source] if "source" in gene_links else gene_links
        for row in rows.itertuples():
            centre = (row.start + row.end) / 2
            r = float(row.r) if pd.notna(row.r) else 0.0
            significant = bool(getattr(row, "significant", False))
            if r == 0:  # zero or undefined correlation: no arc (matplotlib divides by its height)
                continue
            ax.add_patch(Arc(((centre + tss) / 2, 0), abs(centre - tss) or 1, 2 * abs(r), theta1=0, theta2=180,
                             color="#B2182B" if r > 0 else "#2166AC", lw=1.8 if significant else 0.7,
                             alpha=1.0 if significant else 0.45))
        ax.plot((rows["start"] + rows["end"]) / 2, np.zeros(len(rows)), "|", color="0.3", ms=8)
        ax.axvline(tss, color="k", lw=1)
        if top_ig is not None and {"chrom", "start", "end"} <= set(top_ig):
            marked = top_ig[top_ig["chrom"].astype(str) == str(rows["chrom"].iloc[0])]
            centres = (marked["start"] + marked["end"]) / 2
            centres = centres[np.abs(centres - tss) <= span * 1.05]
            ax.plot(centres, np.full(len(centres), -0.1), "^", color="#E08214", ms=7)
        ax.set_ylim(-0.2, 1.05)
        ax.set_ylabel(f"{source.replace('_', ' ')}\n|r|")
        n_sig = int(rows["significant"].sum()) if "significant" in rows else 0
        ax.text(0.005, 0.92, f"{len(rows)} pairs, {n_sig} significant", transform=ax.transAxes, fontsize=8, va="top")
    axes[0, 0].set_xlim(tss - span * 1.08, tss + span * 1.08)
    axes[0, 0].set_title(f"{gene}: peak-to-gene links ({gene_links['chrom'].iloc[0]}, TSS at {int(tss):,})")
    axes[-1, 0].set_xlabel("position (bp). Thick: significant link; red: r > 0, blue: r < 0; "
                           "orange triangles: top IG peaks; black line: TSS")
    fig.tight_layout()
    return writer.figure(fig, f"perturbation_{gene}_links", f"{gene}: peak-to-gene links", gene_links,
                         "Correlation of peak accessibility and gene expression across metacells, per source "
                         "(observed pairs, RNA with translated ATAC, ATAC with translated RNA).")


def perturbation_section(results: Results, writer: Writer) -> Section:
    section = Section("perturbation", "Perturbation", "In-silico perturbation by integrated gradients and "
                                                      "peak-to-gene links (paper Fig. 5).")
    summary_path = results.first("ig_summary.tsv")
    summary = read_table(summary_path) if summary_path else None
    ig_files = {p.name[: -len("_ig_peaks.tsv")]: p for p in results.glob("*_ig_peaks.tsv")}
    genes = list(summary["gene"].astype(str)) if summary is not None and "gene" in summary else list(ig_files)
    if summary is not None:
        shown = [c for c in ("gene", "status", "cell_type", "n_cells", "top_peak", "top_peak_distance_to_tss",
                             "mean_top_accessibility_in_type", "mean_top_accessibility_other_types", "p_value",
                             "completeness_mean_relative_gap") if c in summary]
        section.blocks.append(writer.table(summary[shown], "perturbation_summary", "Integrated gradients per gene"))
    links_path = results.first("links.tsv")
    links = read_table(links_path) if links_path else None
    if links is not None and not {"gene", "tss", "start", "end", "r"} <= set(links):
        links = None
    if not genes and links is None:
        return section.missing("not run: no genes requested (perturb and link steps produced no output)")
    if not genes:
        section.blocks.append(Note("integrated gradients not run: no genes requested", "missing"))
    rows = summary.set_index(summary["gene"].astype(str)) if summary is not None and "gene" in summary else None
    tops = {}
    for gene in genes[:8]:
        path = ig_files.get(safe_name(gene)) or ig_files.get(gene)
        peaks = read_table(path) if path else None
        if peaks is None:
            continue
        tops[gene] = peaks
        row = rows.loc[gene] if rows is not None and gene in rows.index else None
        if isinstance(row, pd.DataFrame):
            row = row.iloc[0]
        figure = _ig_figure(writer, gene, peaks, row)
        if figure:
            section.blocks.append(figure)
    if links is None:
        section.blocks.append(Note("peak-to-gene links not run (no links.tsv)", "missing"))
        return section
    plot_genes = [g for g in genes if g in set(links["gene"].astype(str))][:6]
    if not plot_genes and "significant" in links:
        plot_genes = links[links["significant"]].groupby("gene").size().sort_values(ascending=False).index[:4].tolist()
    for gene in plot_genes:
        figure = _link_figure(writer, links, gene, tops.get(gene))
        if figure:
            section.blocks.append(figure)
    agreement_path = results.first("link_agreement.tsv")
    agreement = read_table(agreement_path) if agreement_path else None
    if agreement is not None and len(agreement):
        section.blocks.append(writer.table(agreement, "perturbation_link_agreement",
                                           "Observed vs translated links"))
    elif agreement_path:  # written with no rows: no observed links to compare with
        section.blocks.append(Note("Observed vs translated links: not available (no paired cells give observed "
                                   "links); the links of each translation are in links.tsv."))
    return section
