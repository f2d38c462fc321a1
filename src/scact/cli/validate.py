"""Check the pipeline parameters against nextflow_schema.json and the samplesheet against
assets/schema_input.json, and write the checked rows as JSON (the first step of the Nextflow pipeline;
scact run makes the same checks with the same messages).

Each row of the JSON output gives the sample, modality, batch and labels, the input with its detected
format and index, and the files that come with an ATAC input (fragments, their index, CellRanger-arc
per-barcode metrics), each null when absent.
"""
from __future__ import annotations

import json
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("--input", required=True, type=Path, help="samplesheet CSV")
    parser.add_argument("--params", required=True, type=Path,
                        help="the pipeline parameters as JSON (Nextflow's params)")
    parser.add_argument("--base-dir", type=Path, default=None,
                        help="folder that relative samplesheet paths start from (Nextflow's launch directory)")
    parser.add_argument("--output", type=Path, default=Path("samplesheet.valid.json"),
                        help="where the checked rows are written")


def run(args) -> None:
    from scact.io.atomic import write_text
    from scact.io.samplesheet import read_samplesheet
    from scact.pipeline import FILE_PARAMS, check_run, read_params_file, resolve_params, row_files

    params = resolve_params(read_params_file(args.params))
    base = args.base_dir or Path.cwd()
    for name in FILE_PARAMS:  # relative to the launch directory, as Nextflow reads them
        if params[name] and not Path(params[name]).is_absolute() and (base / params[name]).exists():
            params[name] = str(base / params[name])
    rows = read_samplesheet(args.input, args.base_dir)
    check_run(params, rows)
    checked = []
    for row in rows:
        files = row_files(row)
        checked.append({"sample": row.sample, "modality": row.modality, "batch": row.batch,
                        "labels": row.labels, "input_format": row.input_format,
                        **{name: (str(path) if path is not None else None) for name, path in files.items()}})
    write_text(args.output, json.dumps(checked, indent=2) + "\n")
