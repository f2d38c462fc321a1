"""Assemble the report: every section from the files found, the HTML page, the MultiQC files."""
from __future__ import annotations

import datetime
import logging
from pathlib import Path

from scact.report._alignment import alignment_section
from scact.report._document import Section, Writer, write_html
from scact.report._inputs import Results, read_table
from scact.report._multiqc import write_multiqc
from scact.report._perturbation import perturbation_section
from scact.report._qc import qc_counts, qc_section
from scact.report._runinfo import run_section
from scact.report._training import training_section
from scact.report._translation import translation_section

log = logging.getLogger(__name__)

REPORT_NAME = "scact_report.html"


def _guarded(builder, key: str, title: str, *args) -> Section:
    """A section builder's output, or a section saying why it could not be drawn (never a failed report)."""
    try:
        return builder(*args)
    except Exception as err:  # noqa: BLE001 - one broken input must not cost the user the whole report
        log.exception("report section %s failed", key)
        section = Section(key, title)
        section.missing(f"could not be drawn: {type(err).__name__}: {err}")
        return section


def build_report(results: Path | None, outdir: Path = Path("."), samplesheet: Path | None = None,
                 params: Path | None = None, versions: list[Path] | None = None,
                 title: str = "scACT report") -> Path:
    """Write ``scact_report.html``, report_figures/, report_tables/ and *_mqc files into ``outdir``."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    found = Results(results)
    writer = Writer(outdir)
    sections = [
        _guarded(qc_section, "qc", "Quality control", found, writer),
        _guarded(training_section, "training", "Training", found, writer),
        _guarded(alignment_section, "alignment", "Alignment", found, writer),
        _guarded(translation_section, "translation", "Translation", found, writer),
        _guarded(perturbation_section, "perturbation", "Perturbation", found, writer),
        _guarded(run_section, "run", "Run information", found, writer, samplesheet, params, versions or []),
    ]
    metrics_path = found.first("metrics.tsv")
    write_multiqc(outdir, qc_counts(found), read_table(metrics_path) if metrics_path else None)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    subtitle = f"results: {results if results else '(none)'} · generated {stamp}"
    path = outdir / REPORT_NAME
    write_html(path, sections, title, subtitle)
    log.info("report written to %s (%d figures/tables)", path, len(writer.names))
    return path
