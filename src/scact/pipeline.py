"""The pipeline's steps and the local runner behind ``scact run``.

``scact run`` executes the same ``bin/`` scripts as the Nextflow processes of ``workflows/scact.nf``, in
the same order (``STEP_ORDER``; ``tests/test_pipeline.py`` checks it against the workflow), each task in
its own folder ``<outdir>/work/<NN>_<PROCESS>[_<tag>]/`` with its inputs linked in, as Nextflow stages
them. Results are then published to ``<outdir>/<step>/``, and ``<outdir>/pipeline_info/`` gets the
trace of tasks, the parameters and the collected ``software_versions.yml``.
Parameters and their defaults come from ``nextflow_schema.json``, the file Nextflow validates against.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from scact.errors import ScactInputError, input_error
from scact.io.atomic import write_text
from scact.io.inputs import fragments_of
from scact.io.samplesheet import SampleRow, read_samplesheet

log = logging.getLogger(__name__)

#: Processes in the order ``workflows/scact.nf`` calls them.
STEP_ORDER = ("SCACT_PARSE",)

#: Parameters only Nextflow uses (containers, logging); the local runner accepts and ignores them.
NEXTFLOW_ONLY_PARAMS = ("container_cpu", "container_gpu", "help", "version", "validate_params",
                        "monochrome_logs", "trace_report_suffix", "publish_dir_mode")


def load_params_schema() -> dict:
    """``nextflow_schema.json`` as shipped with the package."""
    return json.loads(resources.files("scact.data").joinpath("nextflow_schema.json").read_text())


def schema_properties(schema: dict | None = None) -> dict[str, dict]:
    """Every parameter of the schema, across its groups."""
    schema = schema or load_params_schema()
    props: dict[str, dict] = {}
    for group in schema.get("$defs", {}).values():
        props.update(group.get("properties", {}))
    return props


def resolve_params(overrides: dict) -> dict:
    """Schema defaults updated with ``overrides``; unknown names and wrong types are refused."""
    props = schema_properties()
    unknown = sorted(set(overrides) - set(props))
    if unknown:
        raise ScactInputError(f"unknown parameter(s): {', '.join('--' + u for u in unknown)} "
                              f"(see nextflow_schema.json or docs/parameters.md)")
    params = {name: spec.get("default") for name, spec in props.items()}
    for name, value in overrides.items():
        params[name] = _coerce(value, props[name], name)
    for name, value in params.items():
        if value is None:
            continue
        spec = {k: v for k, v in props[name].items() if k in ("type", "enum", "minimum", "maximum", "pattern")}
        try:
            jsonschema.validate(value, spec)
        except jsonschema.ValidationError as err:
            raise ScactInputError(f"parameter --{name}: {err.message}") from None
    return params


def _coerce(value, spec: dict, name: str):
    """Command-line strings to the schema's type (Nextflow does the same for ``--name value``)."""
    if not isinstance(value, str):
        return value
    kind = spec.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        raise ScactInputError(f"parameter --{name}: {value!r} is not a {kind}") from None
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise ScactInputError(f"parameter --{name}: {value!r} is not true or false")
        return value.lower() == "true"
    return value


def bin_dir() -> Path:
    """The repository's ``bin/`` folder (the scripts Nextflow puts on the PATH of every task)."""
    candidate = Path(__file__).resolve().parents[2] / "bin"
    if not candidate.is_dir():
        raise ScactInputError(f"{candidate}: bin/ folder not found; run scact run from a checkout of the pipeline")
    return candidate


@dataclass
class TaskRecord:
    process: str
    tag: str
    workdir: Path
    exit_status: int
    seconds: float


@dataclass
class LocalRunner:
    """Runs tasks one at a time in their own folders and keeps a trace, like Nextflow's local executor."""

    outdir: Path
    params: dict
    trace: list[TaskRecord] = field(default_factory=list)

    def task(self, process: str, args: list[str], stage: list[Path], tag: str = "") -> Path:
        """Run ``bin/scact_<command>.py args`` for ``process`` in a fresh folder with ``stage`` linked in."""
        command = process.removeprefix("SCACT_").lower()
        name = f"{len(self.trace) + 1:02d}_{process}" + (f"_{tag}" if tag else "")
        workdir = self.outdir / "work" / name
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        for path in stage:
            link = workdir / path.name
            if not link.exists():
                link.symlink_to(path.resolve())
        argv = [sys.executable, str(bin_dir() / f"scact_{command}.py"), *map(str, args), "--task-name", process]
        write_text(workdir / ".command.sh", " ".join(argv) + "\n")
        log.info("[%s] %s", name, " ".join(argv[1:]))
        start = time.monotonic()
        with open(workdir / ".command.log", "w") as out:
            status = subprocess.run(argv, cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, "MPLBACKEND": "Agg"}).returncode
        self.trace.append(TaskRecord(process, tag, workdir, status, time.monotonic() - start))
        if status != 0:
            tail = (workdir / ".command.log").read_text().strip().splitlines()[-15:]
            self.write_trace()
            raise ScactInputError(f"step {process}{' (' + tag + ')' if tag else ''} failed with exit status "
                                  f"{status}; log {workdir / '.command.log'}:\n" + "\n".join(tail))
        return workdir

    def publish(self, workdir: Path, patterns: list[str], step: str) -> list[Path]:
        """Copy the outputs matching ``patterns`` to ``<outdir>/<step>/`` (Nextflow's publishDir)."""
        target = self.outdir / step
        target.mkdir(parents=True, exist_ok=True)
        published = []
        for pattern in patterns:
            for path in sorted(workdir.glob(pattern)):
                dest = target / path.name
                if dest.exists():
                    shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
                (shutil.copytree if path.is_dir() else shutil.copy2)(path, dest)
                published.append(path)
        return published

    def write_trace(self) -> None:
        lines = ["task\tprocess\ttag\texit\tseconds\tworkdir"]
        lines += [f"{i}\t{t.process}\t{t.tag}\t{t.exit_status}\t{t.seconds:.1f}\t{t.workdir}"
                  for i, t in enumerate(self.trace, start=1)]
        write_text(self.outdir / "pipeline_info" / "execution_trace.tsv", "\n".join(lines) + "\n")

    def collect_versions(self) -> None:
        """Merge every task's versions.yml into pipeline_info/software_versions.yml."""
        versions: dict = {}
        for record in self.trace:
            path = record.workdir / "versions.yml"
            if path.is_file():
                versions.update(yaml.safe_load(path.read_text()) or {})
        write_text(self.outdir / "pipeline_info" / "software_versions.yml", yaml.safe_dump(versions, sort_keys=True))


def _parse_rows(runner: LocalRunner, rows: list[SampleRow]) -> dict[str, dict[str, Path]]:
    """SCACT_PARSE for every row; returns {modality: {sample: parsed h5ad}} plus fragments per sample."""
    parsed: dict[str, dict[str, Path]] = {"rna": {}, "atac": {}, "fragments": {}}
    for row in rows:
        stage = [row.input]
        fragments = fragments_of(row.input, row.input_format)
        if row.input_format == "fragments":
            stage.append(Path(f"{row.input}.tbi"))
        args = ["--sample", row.sample, "--modality", row.modality, "--input", row.input.name, "--outdir", "."]
        if row.batch != row.sample:
            args += ["--batch", row.batch]
        if row.labels:
            if row.labels.startswith("obs:"):
                args += ["--labels", row.labels]
            else:
                stage.append(Path(row.labels))
                args += ["--labels", Path(row.labels).name]
        workdir = runner.task("SCACT_PARSE", args, stage, tag=f"{row.sample}_{row.modality}")
        runner.publish(workdir, [f"{row.sample}_*.h5ad"], "parse")
        for modality in row.modalities:
            parsed[modality][row.sample] = workdir / f"{row.sample}_{modality}.h5ad"
        if fragments is not None:
            parsed["fragments"][row.sample] = fragments
    return parsed


def run_pipeline(samplesheet: Path, outdir: Path, overrides: dict | None = None) -> LocalRunner:
    """Run every step of the workflow on one machine."""
    params = resolve_params({**(overrides or {}), "input": str(samplesheet), "outdir": str(outdir)})
    rows = read_samplesheet(samplesheet)
    outdir.mkdir(parents=True, exist_ok=True)
    runner = LocalRunner(outdir.resolve(), params)
    write_text(outdir / "pipeline_info" / "params.json", json.dumps(params, indent=2, default=str) + "\n")
    shutil.copy2(samplesheet, outdir / "pipeline_info" / "samplesheet.csv")
    _parse_rows(runner, rows)
    runner.write_trace()
    runner.collect_versions()
    return runner


def read_params_file(path: Path) -> dict:
    """A ``-params-file`` as Nextflow reads it (YAML or JSON)."""
    if not path.is_file():
        raise input_error(path, "params file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise input_error(path, f"not valid YAML/JSON ({err})") from err
    if not isinstance(data, dict):
        raise input_error(path, "params file must hold a mapping of parameter names to values")
    return data
