"""Finding result files by name anywhere under the results folder, and reading them tolerantly.

Both layouts work: the local runner's ``<outdir>/<step>/`` and Nextflow's publishDir folders. Work folders
(``work/``) and the report's own outputs are skipped so that files are not counted twice.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from scact.errors import input_error

log = logging.getLogger(__name__)

SKIPPED_FOLDERS = {"work", "report_figures", "report_tables", ".nextflow", "checkpoints"}


class Results:
    """The files of one results folder, by glob pattern (sorted, de-duplicated by name)."""

    def __init__(self, root: Path | None):
        self.root = Path(root) if root else None
        self.files: list[Path] = []
        if self.root is not None:
            if not self.root.is_dir():
                raise input_error(self.root, "results folder not found", "give the --outdir of the pipeline run")
            self.files = sorted(p for p in self.root.rglob("*")
                                if p.is_file() and not SKIPPED_FOLDERS & set(p.relative_to(self.root).parts[:-1]))

    def glob(self, pattern: str) -> list[Path]:
        """Files whose name matches ``pattern``; one per file name (the shallowest), in name order."""
        chosen: dict[str, Path] = {}
        for path in self.files:
            if path.match(pattern):
                known = chosen.get(path.name)
                if known is None or len(path.parts) < len(known.parts):
                    chosen[path.name] = path
        return [chosen[name] for name in sorted(chosen)]

    def first(self, pattern: str) -> Path | None:
        found = self.glob(pattern)
        return found[0] if found else None

    def model_dir(self) -> Path | None:
        summary = self.first("model.json")
        return summary.parent if summary else None


def read_table(path: Path, sep: str | None = None) -> pd.DataFrame | None:
    """A TSV/CSV (separator from the suffix), or None with a warning when unreadable or empty."""
    sep = sep or ("," if path.suffix == ".csv" else "\t")
    try:
        frame = pd.read_csv(path, sep=sep, comment=None)
    except Exception as err:  # a half-broken side file must not break the whole report
        log.warning("%s: not readable as a table (%s); skipped", path, err)
        return None
    return frame if len(frame) else None


def open_backed(path: Path):
    """An .h5ad opened backed (obs, obsm, uns without loading X), or None with a warning."""
    import anndata as ad

    try:
        return ad.read_h5ad(path, backed="r")
    except Exception as err:
        log.warning("%s: not a readable .h5ad (%s); skipped", path, err)
        return None


def read_h5ad(path: Path):
    """A whole (small) .h5ad, or None with a warning."""
    import anndata as ad

    try:
        return ad.read_h5ad(path)
    except Exception as err:
        log.warning("%s: not a readable .h5ad (%s); skipped", path, err)
        return None


def provenance_params(uns_scact: dict, step: str) -> dict:
    entry = uns_scact.get(step, {}) if isinstance(uns_scact, dict) else {}
    params = entry.get("params", {}) if isinstance(entry, dict) else {}
    return dict(params) if isinstance(params, dict) else {}
