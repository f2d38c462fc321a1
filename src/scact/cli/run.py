"""Run the whole pipeline on one machine without Nextflow: the same scripts, in the same order.

Any pipeline parameter of nextflow_schema.json can be given as --<name> <value>, as with nextflow run.
--resume reuses the tasks of an earlier run into the same --outdir whose inputs, command line and outputs
are unchanged, as nextflow run -resume does. <outdir>/pipeline_info/run_status.json says whether the run is
running, succeeded, failed (at which step, why) or was interrupted.
"""
from __future__ import annotations

import sys
from pathlib import Path

from scact.errors import ScactInputError

PASS_THROUGH_OPTIONS = True


def add_arguments(parser) -> None:
    parser.add_argument("--input", required=True, type=Path, help="samplesheet CSV (see docs/usage.md)")
    parser.add_argument("--outdir", type=Path, default=Path("results"), help="where results are written")
    parser.add_argument("--params-file", type=Path, default=None,
                        help="YAML/JSON file of pipeline parameters (as nextflow run -params-file)")
    parser.add_argument("--resume", "-resume", action="store_true",
                        help="reuse the completed tasks of the last run into --outdir whose inputs, command line "
                             "and outputs are unchanged; continue an interrupted training from its checkpoint")


def parse_param_pairs(tokens: list[str]) -> dict:
    """``['--seed', '1', '--genes', 'A,B']`` -> ``{'seed': '1', 'genes': 'A,B'}``."""
    params, i = {}, 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--"):
            raise ScactInputError(f"unexpected argument {token!r}: parameters are given as --<name> <value>")
        name = token[2:].replace("-", "_")
        if "=" in name:
            name, value = name.split("=", 1)
            i += 1
        elif i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
            value, i = tokens[i + 1], i + 2
        else:
            value, i = "true", i + 1
        params[name] = value
    return params


def run(args) -> None:
    from scact.pipeline import RunInterrupted, read_params_file, run_pipeline

    args.no_versions = True  # each task writes its own; the run collects them in pipeline_info/
    overrides = read_params_file(args.params_file) if args.params_file else {}
    overrides.update(parse_param_pairs(args.extra))
    try:
        run_pipeline(args.input, args.outdir, overrides, resume=args.resume)
    except RunInterrupted as stop:
        print(f"scact run: {stop}; continue with the same command and --resume", file=sys.stderr)
        raise SystemExit(128 + stop.signum) from None
