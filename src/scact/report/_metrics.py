"""Evaluate's metrics.tsv as the alignment and translation sections show it: the pairing case of the data
(from its ``pairing/*`` rows) and one table per task, methods side by side."""
from __future__ import annotations

import pandas as pd

from scact.report._document import Note
from scact.report._inputs import Results, read_table


def read_metrics(results: Results) -> pd.DataFrame | None:
    """metrics.tsv (method, metric, value), or None when absent or of another shape."""
    path = results.first("metrics.tsv")
    table = read_table(path) if path else None
    if table is None or not {"method", "metric", "value"} <= set(table):
        return None
    return table


def pairing_of(metrics: pd.DataFrame | None) -> tuple[str, int, int, int, int, int] | None:
    """(case, RNA cells, ATAC cells, cells named alike in both, scorable pairs, scored pairs) from evaluate's
    ``pairing/*`` rows of metrics.tsv (scored pairs are a sample of the scorable ones above
    ``--max-scored-pairs``)."""
    from scact.evaluation.evaluate import pairing_case

    if metrics is None:
        return None
    rows = metrics[metrics["metric"].astype(str).str.startswith("pairing/")]
    counts = {str(m).split("/", 1)[1]: int(v) for m, v in zip(rows["metric"], rows["value"]) if pd.notna(v)}
    if not {"rna_cells", "atac_cells", "paired_cells"} <= set(counts):
        return None
    n_rna, n_atac, n_paired = counts["rna_cells"], counts["atac_cells"], counts["paired_cells"]
    n_scored = counts.get("scored_pairs", n_paired)
    return pairing_case(n_paired, n_rna, n_atac), n_rna, n_atac, n_paired, counts.get("scorable_pairs", n_scored), \
        n_scored


def pairing_note(metrics: pd.DataFrame | None) -> Note | None:
    """Which case the data are: unpaired, partly paired or paired, and what is scored on which cells."""
    pairing = pairing_of(metrics)
    if pairing is None:
        return None
    case, n_rna, n_atac, n_paired, n_scorable, n_scored = pairing
    if case == "unpaired":
        return Note(f"Unpaired data: {n_rna:,} RNA cells and {n_atac:,} ATAC cells, no cell named alike in both "
                    "modalities. Alignment is scored by pairing-free metrics on all cells; translation scores "
                    "against the truth are not available (no paired cells).")
    sample = (f" A seeded sample of {n_scored:,} of these pairs is scored (--max-scored-pairs)."
              if n_scored < n_scorable else "")
    if n_scorable < n_paired:
        return Note(f"{case.capitalize()} data: {n_paired:,} cells are named alike in both modalities (of "
                    f"{n_rna:,} RNA and {n_atac:,} ATAC cells). {n_scorable:,} of them were held out from "
                    "training (neither modality trained) and are the only cells scored; every reference the "
                    f"baselines average or search holds training cells only.{sample} The pairing is never used "
                    "in training.")
    return Note(f"{case.capitalize()} data: {n_paired:,} cells are named alike in both modalities (of {n_rna:,} "
                f"RNA and {n_atac:,} ATAC cells). Translations are scored on these {n_paired:,} paired cells "
                f"in-sample (no held-out split); alignment metrics other than FOSCTTM use all cells.{sample} The "
                "pairing is never used in training.")


def metric_table(writer, metrics, prefixes, name, title) -> object | None:
    """The rows of ``metrics`` whose metric starts with ``prefixes``, one column per method, or None."""
    if metrics is None:
        return None
    rows = metrics[metrics["metric"].astype(str).str.startswith(prefixes)].copy()
    if rows.empty:
        return None
    index = ["method"] + (["scope"] if "scope" in rows and rows["scope"].notna().any() else [])
    wide = rows.pivot_table(index="metric", columns=index, values="value", aggfunc="first", sort=False)
    wide.columns = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in wide.columns]
    wide = wide.reset_index()
    return writer.table(wide, name, title, "One column per method (scACT and the baselines); "
                                           "higher is better except FOSCTTM and distances.")

