"""The samplesheet: read it, check it against ``assets/schema_input.json``, detect each input's format.

This module is the check of the Nextflow pipeline (its first step, ``scact validate``), of the local
runner and of every Python entry point, so that a bad sheet is refused the same way everywhere, with the row named.
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jsonschema

from scact.errors import ScactInputError, input_error
from scact.io.inputs import ARC_MATRIX, ATAC_MATRIX, fragments_of
from scact.io.tenx import FEATURE_TYPES, MTX_SUBFOLDERS, feature_types

COLUMNS = ("sample", "modality", "input", "batch", "labels", "fragments")

#: Input formats accepted for each modality (see ``detect_input_format``). A 10x ``.h5`` file or mtx folder
#: must also hold the feature types of the modality (checked with the sheet).
FORMATS_BY_MODALITY = {
    "multiome": {"cellranger_arc", "10x_h5", "10x_mtx", "h5mu"},
    "rna": {"cellranger_arc", "10x_h5", "10x_mtx", "h5ad", "h5mu"},
    "atac": {"cellranger_arc", "cellranger_atac", "10x_h5", "10x_mtx", "fragments", "h5ad", "h5mu"},
}


@dataclass(frozen=True)
class SampleRow:
    """One checked row: paths resolved, batch defaulted to the sample id, format detected."""

    sample: str
    modality: str
    input: Path
    input_format: str
    batch: str
    labels: str | None
    #: The fragments file of an ATAC row: the ``fragments`` column, else the one its input comes with.
    fragments: Path | None = None

    @property
    def modalities(self) -> tuple[str, ...]:
        return ("rna", "atac") if self.modality == "multiome" else (self.modality,)


def load_schema() -> dict:
    """The samplesheet JSON schema shipped with the package (same file as ``assets/schema_input.json``)."""
    return json.loads(resources.files("scact.data").joinpath("schema_input.json").read_text())


def detect_input_format(path: Path) -> str:
    """Name the format of an input path from its layout and suffix."""
    name = path.name.lower()
    if path.is_dir():
        if (path / ARC_MATRIX).is_file():
            return "cellranger_arc"
        if (path / ATAC_MATRIX).is_file():
            return "cellranger_atac"
        for folder in (path, *(path / sub for sub in MTX_SUBFOLDERS)):
            if any((folder / f).is_file() for f in ("matrix.mtx.gz", "matrix.mtx")):
                return "10x_mtx"
        raise input_error(path, f"folder is neither a CellRanger-arc output ({ARC_MATRIX}), a CellRanger-ATAC "
                                f"output ({ATAC_MATRIX}) nor a 10x mtx folder (matrix.mtx.gz)")
    for suffix, fmt in ((".h5ad", "h5ad"), (".h5mu", "h5mu"), (".h5", "10x_h5"),
                        (".tsv.gz", "fragments"), (".tsv.bgz", "fragments"), (".bed.gz", "fragments")):
        if name.endswith(suffix):
            return fmt
    raise input_error(path, "unknown input type",
                      "expected a CellRanger-arc or CellRanger-ATAC folder, 10x .h5, 10x mtx folder, .h5ad, .h5mu or "
                      "fragments .tsv.gz")


def _resolve(value: str, base: Path) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else (base / path)


def read_samplesheet(path: str | os.PathLike, base_dir: str | os.PathLike | None = None) -> list[SampleRow]:
    """Read and check a samplesheet; relative paths resolve against ``base_dir`` (default: the current
    directory, as Nextflow resolves them against its launch directory)."""
    path = Path(path)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    if not path.is_file():
        raise input_error(path, "samplesheet not found")
    with path.open(newline="", encoding="utf-8-sig") as handle:  # a BOM (Excel's 'CSV UTF-8') is dropped
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        records = [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    if not header:
        raise input_error(path, "samplesheet is empty", "give a header line sample,modality,input[,batch,labels]")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise input_error(path, f"unknown column(s) {', '.join(unknown)}", f"allowed: {', '.join(COLUMNS)}")
    if not records:
        raise input_error(path, "samplesheet has a header but no rows")

    validator = jsonschema.Draft202012Validator(load_schema()["items"])
    rows: list[SampleRow] = []
    for number, record in enumerate(records, start=2):  # line 1 is the header
        record = {k: v for k, v in record.items() if v != ""}
        errors = sorted(validator.iter_errors(record), key=lambda e: list(e.path))
        if errors:
            err = errors[0]
            column = err.path[0] if err.path else "row"
            detail = err.schema.get("errorMessage", err.message) if err.validator != "required" else err.message
            raise ScactInputError(f"{path}: line {number}, column {column}: {detail}")
        input_path = _resolve(record["input"], base)
        if not input_path.exists():
            raise ScactInputError(f"{path}: line {number}: input {input_path} does not exist")
        try:
            fmt = detect_input_format(input_path)
        except ScactInputError as err:
            raise ScactInputError(f"{path}: line {number}: {err}") from None
        if fmt not in FORMATS_BY_MODALITY[record["modality"]]:
            raise ScactInputError(f"{path}: line {number}: a {fmt} input cannot give modality "
                                  f"'{record['modality']}' (accepted: {', '.join(sorted(FORMATS_BY_MODALITY[record['modality']]))})")
        modalities = ("rna", "atac") if record["modality"] == "multiome" else (record["modality"],)
        if fmt in ("10x_h5", "10x_mtx"):
            _check_feature_types(path, number, input_path, modalities)
        labels = record.get("labels")
        if labels and not labels.startswith("obs:"):
            labels_path = _resolve(labels, base)
            if not labels_path.is_file():
                raise ScactInputError(f"{path}: line {number}: labels file {labels_path} does not exist")
            labels = str(labels_path)
        rows.append(SampleRow(record["sample"], record["modality"], input_path, fmt,
                              record.get("batch", record["sample"]), labels,
                              _fragments(path, number, record, fmt, input_path, modalities, base)))
    _check_unique(path, rows)
    return rows


def _check_feature_types(path: Path, number: int, input_path: Path, modalities: tuple[str, ...]) -> None:
    """A 10x file or folder must hold the feature types of every modality its row asks for."""
    try:
        present = feature_types(input_path)
    except ScactInputError as err:
        raise ScactInputError(f"{path}: line {number}: {err}") from None
    for modality in modalities:
        if FEATURE_TYPES[modality] not in present:
            raise ScactInputError(
                f"{path}: line {number}: {input_path} has no '{FEATURE_TYPES[modality]}' features "
                f"(found: {', '.join(sorted(present)) or 'none'}), so it cannot give modality {modality} "
                "(a CellRanger-arc filtered_feature_bc_matrix.h5 holds both; set modality to what the file holds)")


def _fragments(path: Path, number: int, record: dict, fmt: str, input_path: Path, modalities: tuple[str, ...],
               base: Path) -> Path | None:
    """The row's fragments file: the ``fragments`` column (with its ``.tbi``), else the input's own."""
    given = record.get("fragments")
    if given is None:
        return fragments_of(input_path, fmt) if "atac" in modalities else None
    if "atac" not in modalities:
        raise ScactInputError(f"{path}: line {number}: a fragments file is given for an rna row "
                              "(leave the fragments column empty, or set modality to atac or multiome)")
    if fmt == "fragments":
        raise ScactInputError(f"{path}: line {number}: the input is already a fragments file; "
                              "leave the fragments column empty")
    fragments = _resolve(given, base)
    if not fragments.is_file():
        raise ScactInputError(f"{path}: line {number}: fragments file {fragments} does not exist")
    if not Path(f"{fragments}.tbi").is_file():
        raise ScactInputError(f"{path}: line {number}: fragments file {fragments} has no tabix index "
                              f"({fragments.name}.tbi) beside it (index it: tabix -p bed {fragments.name})")
    return fragments


def _check_unique(path: Path, rows: list[SampleRow]) -> None:
    """A sample may give each modality once; a multiome row already gives both."""
    seen: dict[tuple[str, str], int] = {}
    for number, row in enumerate(rows, start=2):
        for modality in row.modalities:
            key = (row.sample, modality)
            if key in seen:
                raise ScactInputError(f"{path}: line {number}: duplicate sample id '{row.sample}' for modality "
                                      f"{modality} (first on line {seen[key]})")
            seen[key] = number
