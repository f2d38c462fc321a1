"""The local runner behind ``scact run``.

``scact run`` executes the same ``bin/`` scripts as the Nextflow processes of ``workflows/scact.nf``, in
the same order, with the same options and publishing folders: those of the step table ``scact.steps``,
from which ``conf/modules.config`` is generated (``tests/test_pipeline.py`` checks the order against the
workflow). Each task runs in its own folder ``<outdir>/work/<NN>_<PROCESS>[_<tag>]/`` with its inputs
linked in, as Nextflow stages them. Results are then published to ``<outdir>/<step>/``, and
``<outdir>/pipeline_info/`` gets the trace of tasks, the parameters and the collected ``software_versions.yml``.
Parameters and their defaults come from ``nextflow_schema.json``, the file Nextflow validates against.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from scact import __version__
from scact.errors import ScactInputError, input_error
from scact.io.atomic import write_text
from scact.io.inputs import ARC_FRAGMENTS
from scact.io.preflight import check_annotation
from scact.io.samplesheet import SampleRow, read_samplesheet
from scact.progress import PROGRESS_FILE_ENV, ProgressFollower, show_progress
from scact.steps import STEP_ORDER, STEPS

log = logging.getLogger(__name__)

#: Parameters that may name files (``markers`` may also be a built-in set's name).
FILE_PARAMS = ("annotation", "markers", "genome_fasta")
#: ``<outdir>/pipeline_info/run_status.json``: running (with the step), succeeded, failed (with the step and
#: the message) or interrupted, with the times.
RUN_STATUS_FILE = "run_status.json"

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


#: The option that makes a task's command continue from its own checkpoints, used when ``--resume`` finds the
#: task started with the same inputs but not finished.
RESUME_OPTIONS = {"SCACT_TRAIN": "--resume"}
#: Staged files that describe the run rather than results: they do not make a task run again.
RUN_INFO_FILES = ("execution_trace.tsv", "run_status.json")
#: Files up to this size are fingerprinted by content, larger ones by size and modification time (Nextflow's
#: default for every file).
CONTENT_HASH_MAX_BYTES = 4 << 20
#: In each task folder: the task's cache key (written first), its completion record (written last,
#: atomically; a folder without it did not finish) and the progress records a task may append.
TASK_KEY_FILE, TASK_DONE_FILE, PROGRESS_FILE = ".task_key", ".task_done.json", ".command.progress"
#: Seconds between looks at a running task (its progress file, its exit).
POLL_SECONDS = 0.5


class RunInterrupted(BaseException):
    """The run got SIGINT or SIGTERM; its running task has been stopped."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


class TaskFailed(ScactInputError):
    """A task exited with a non-zero status."""


@dataclass
class TaskRecord:
    process: str
    tag: str
    workdir: Path
    exit_status: int
    seconds: float
    status: str = "COMPLETED"  # COMPLETED, CACHED, FAILED, ABORTED (as Nextflow's trace)
    cpu_seconds: float = float("nan")
    peak_rss_gb: float = float("nan")


def _tree_memory_bytes(root: int) -> tuple[int, int]:
    """Memory of ``root`` and all its descendants now (Linux /proc; 0 where unreadable): the sum of their
    resident sizes, and the largest high-water mark (VmHWM) of any one of them. VmHWM is per address space,
    so unlike wait4's ``ru_maxrss`` it does not carry the forking parent's size across exec."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)  # fields[1]: ppid
        rss[pid] = int(fields[21]) * page  # fields[21]: rss in pages
    total, high_water, stack = 0, 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        high_water = max(high_water, _high_water_bytes(pid))
        stack += children.get(pid, [])
    return total, high_water


def _high_water_bytes(pid: int) -> int:
    """Peak resident size of one process's address space (VmHWM), 0 where unreadable."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_measured(argv: list[str], cwd: Path, log_file, env: dict, poll_seconds: float = 0.5,
                 on_poll=None) -> tuple[int, float, float]:
    """Run a task as Nextflow's trace measures it: exit status, CPU seconds of its whole process tree
    (user + system, from wait4) and peak resident memory in GiB (the larger of the tree's sum and the
    largest single process's high-water mark, both sampled every ``poll_seconds``). ``on_poll()`` runs at
    every sample (the progress display); an exception or signal meanwhile stops the task, then propagates."""
    process = subprocess.Popen(argv, cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    peak = 0
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, *_tree_memory_bytes(process.pid))
            if on_poll is not None:
                on_poll()
            time.sleep(poll_seconds)
    except BaseException:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_utime + usage.ru_stime, peak / 2**30


def fingerprint(path: Path):
    """What identifies a staged input: content hash of a small file, size and modification time of a large
    one; for a folder, the same of every file in it."""
    path = path.resolve()
    if not path.exists():
        return "missing"
    if path.is_dir():
        return [[str(p.relative_to(path)), fingerprint(p)] for p in sorted(path.rglob("*")) if p.is_file()]
    stat = path.stat()
    if stat.st_size <= CONTENT_HASH_MAX_BYTES:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    return f"size:{stat.st_size},mtime_ns:{stat.st_mtime_ns}"


def _task_outputs(workdir: Path) -> dict[str, int]:
    """Files a task wrote (not its staged links, not the runner's dot files), with their sizes."""
    outputs = {}
    for path in sorted(workdir.rglob("*")):
        relative = path.relative_to(workdir)
        if path.is_symlink() or relative.parts[0].startswith(".") or not path.is_file():
            continue
        outputs[str(relative)] = path.stat().st_size
    return outputs


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h {seconds // 60 % 60:02d}m {seconds % 60:02d}s" if seconds >= 3600 else \
        f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def task_folder_name(process: str, tag: str = "") -> str:
    """A task's folder under ``work/``: its step's number, process and tag (the sample), never its position in
    the run, so that adding, removing or reordering samplesheet rows leaves the other tasks' folders, and
    what ``--resume`` reuses, where they were."""
    return f"{STEP_ORDER.index(process) + 1:02d}_{process}" + (f"_{tag}" if tag else "")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class _Display:
    """What a person sees: at a terminal, a line per task with its time and the pipeline's, and a live bar
    (with ETA when the task reports progress); otherwise (Nextflow, CI, a log file) plain log lines."""

    def __init__(self):
        self.live = show_progress()
        self.start = time.monotonic()
        self.bar = None

    def task_started(self, label: str, argv: list[str]) -> None:
        if not self.live:
            log.info("%s: %s", label, " ".join(argv[1:]))
            return
        from tqdm.auto import tqdm

        log.debug("%s: %s", label, " ".join(argv[1:]))
        self.bar = tqdm(desc=label, total=None, file=sys.stderr, leave=False, dynamic_ncols=True,
                        bar_format="{desc}: running {elapsed}")

    def task_progress(self, label: str, record: dict | None) -> None:
        if self.bar is None:
            return
        if record is not None:
            if self.bar.total != record["total"]:
                self.bar.total = record["total"]
                self.bar.bar_format = ("{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                       "[{elapsed}<{remaining}{postfix}]")
            self.bar.set_description_str(f"{label} {record.get('desc', '')}".rstrip(), refresh=False)
            self.bar.set_postfix(record.get("postfix") or {}, refresh=False)
            self.bar.n = int(record["n"])  # the rate (and ETA) is then the average since the task started
        self.bar.refresh()

    def task_done(self, label: str, status: str, seconds: float) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        text = {"COMPLETED": f"done in {_duration(seconds)}", "CACHED": "cached (--resume)"}.get(
            status, f"{status.lower()} after {_duration(seconds)}")
        if self.live:
            from tqdm.auto import tqdm

            tqdm.write(f"{label}: {text}  [pipeline {_duration(time.monotonic() - self.start)}]", file=sys.stderr)
        elif status == "CACHED":
            log.info("%s: %s", label, text)


@dataclass
class LocalRunner:
    """Runs tasks one at a time in their own folders and keeps a trace, like Nextflow's local executor.
    With ``resume``, a task whose command, inputs and outputs are unchanged since it completed is not run
    again (Nextflow's ``-resume``); one that started with the same inputs but did not finish continues from
    its checkpoints when its command can (``RESUME_OPTIONS``)."""

    outdir: Path
    params: dict
    resume: bool = False
    trace: list[TaskRecord] = field(default_factory=list)
    status: dict = field(default_factory=dict)
    display: _Display = field(default_factory=_Display)

    def task(self, process: str, args: list[str], stage: list[Path], tag: str = "",
             nested: dict[Path, list[Path]] | None = None) -> Path:
        """Run ``bin/scact_<command>.py args`` for ``process`` in a fresh folder with ``stage`` linked in
        (and ``nested``: files linked into subfolders, as Nextflow's ``stageAs: 'dir/??/*'``)."""
        name = task_folder_name(process, tag)
        label = f"[{STEP_ORDER.index(process) + 1:>2}/{len(STEP_ORDER)}] {process}" + (f" ({tag})" if tag else "")
        workdir = self.outdir / "work" / name
        staged = [(folder / path.name, path) for folder, paths in [(Path("."), stage), *(nested or {}).items()]
                  for path in paths]
        options = [str(v) for option in STEPS[process].options for v in (option.flag, self.params[option.param])]
        args = [*map(str, args), *options, "--task-name", process]
        key = self._task_key(process, args, staged)
        self.set_status(step=process, tag=tag, task=name)
        if self.resume and self._completed(workdir, key):
            self._record(TaskRecord(process, tag, workdir, 0, self._done_record(workdir)["seconds"], "CACHED"), label)
            self.set_status(step=None, tag=None, task=None)
            return workdir
        continuing = (self.resume and process in RESUME_OPTIONS and (workdir / TASK_KEY_FILE).is_file()
                      and (workdir / TASK_KEY_FILE).read_text() == key)
        if workdir.exists() and not continuing:
            shutil.rmtree(workdir)
        for folder, path in staged:
            (workdir / folder.parent).mkdir(parents=True, exist_ok=True)
            link = workdir / folder
            if not link.is_symlink():
                link.symlink_to(path.resolve())
        write_text(workdir / TASK_KEY_FILE, key)
        argv = [sys.executable, str(bin_dir() / f"scact_{STEPS[process].command}.py"), *args,
                *([RESUME_OPTIONS[process]] if continuing else [])]
        write_text(workdir / ".command.sh", " ".join(argv) + "\n")
        status, seconds, cpu, peak_gb = self._execute(argv, workdir, label, process, tag)
        if status != 0:
            self._record(TaskRecord(process, tag, workdir, status, seconds, "FAILED", cpu, peak_gb), label)
            tail = (workdir / ".command.log").read_text().strip().splitlines()[-15:]
            raise TaskFailed(f"step {process}{' (' + tag + ')' if tag else ''} failed with exit status "
                             f"{status}; log {workdir / '.command.log'}:\n" + "\n".join(tail))
        write_text(workdir / TASK_DONE_FILE, json.dumps(
            {"key": key, "process": process, "tag": tag, "exit_status": 0, "seconds": seconds,
             "finished": _now(), "outputs": _task_outputs(workdir)}, indent=1) + "\n")
        self._record(TaskRecord(process, tag, workdir, status, seconds, "COMPLETED", cpu, peak_gb), label)
        self.set_status(step=None, tag=None, task=None)
        self.repeat_warnings(name, workdir / ".command.log")
        return workdir

    def _task_key(self, process: str, args: list[str], staged: list[tuple[Path, Path]]) -> str:
        """What decides whether a completed task can be reused: the package version, the command line and
        the fingerprints of the staged inputs and of files named by absolute path (e.g. ``--markers``)."""
        record = {"scact": __version__, "process": process, "args": args,
                  "inputs": [[str(name), fingerprint(path)] for name, path in staged
                             if path.name not in RUN_INFO_FILES],
                  "files_in_args": [[a, fingerprint(Path(a))] for a in args
                                    if os.path.isabs(a) and Path(a).exists()]}
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()

    @staticmethod
    def _done_record(workdir: Path) -> dict:
        try:
            return json.loads((workdir / TASK_DONE_FILE).read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def _completed(self, workdir: Path, key: str) -> bool:
        """Whether ``workdir`` holds a completed task with this key whose outputs are all still there."""
        done = self._done_record(workdir)
        if done.get("key") != key:
            return False
        outputs = done.get("outputs", {})
        return all((workdir / name).is_file() and (workdir / name).stat().st_size == size
                   for name, size in outputs.items())

    def _execute(self, argv: list[str], workdir: Path, label: str, process: str,
                 tag: str) -> tuple[int, float, float, float]:
        """Run the task's command, following its progress file and measuring its process tree: exit status,
        wall seconds, CPU seconds, peak memory (GiB). A signal to the run stops the task first."""
        self.display.task_started(label, argv)
        progress = ProgressFollower(workdir / PROGRESS_FILE)
        start = time.monotonic()
        with open(workdir / ".command.log", "w") as out:
            try:
                status, cpu, peak_gb = run_measured(
                    argv, workdir, out, {**os.environ, "MPLBACKEND": "Agg",
                                         PROGRESS_FILE_ENV: str(workdir / PROGRESS_FILE)}, POLL_SECONDS,
                    on_poll=lambda: self.display.task_progress(label, progress.latest()))
            except BaseException:
                self._record(TaskRecord(process, tag, workdir, -1, time.monotonic() - start, "ABORTED"), label)
                raise
        return status, time.monotonic() - start, cpu, peak_gb

    def _record(self, record: TaskRecord, label: str) -> None:
        self.trace.append(record)
        self.display.task_done(label, record.status, record.seconds)
        self.write_trace()

    @staticmethod
    def repeat_warnings(name: str, task_log: Path) -> None:
        """Show the task's WARNING lines on the runner's own log: the task logs are files nobody watches."""
        for line in task_log.read_text(errors="replace").splitlines():
            if " WARNING " in line:
                log.warning("[%s] %s", name, line.split(" WARNING ", 1)[1])

    def publish(self, process: str, workdir: Path, patterns: list[str]) -> list[Path]:
        """Copy the outputs matching ``patterns`` to the step's folder of ``--outdir`` (Nextflow's publishDir):
        all of them into a temporary folder first, then each renamed into place."""
        step = STEPS[process]
        if step.intermediate and not self.params["save_intermediates"]:
            return []
        outputs = {path.name: path for pattern in patterns for path in sorted(workdir.glob(pattern))}
        if not outputs:
            return []
        target = self.outdir / step.publish_dir
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".publishing-", dir=self.outdir))
        try:
            for name, path in outputs.items():
                (shutil.copytree if path.is_dir() else shutil.copy2)(path, staging / name)
            for name in outputs:
                dest = target / name
                if dest.is_dir() and not dest.is_symlink():
                    os.rename(dest, staging / f".{name}.old")
                os.replace(staging / name, dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return list(outputs.values())

    def write_trace(self) -> None:
        lines = ["task\tprocess\ttag\texit\tseconds\tcpu_seconds\tpeak_rss_gb\tstatus\tworkdir"]
        lines += [f"{i}\t{t.process}\t{t.tag}\t{t.exit_status}\t{t.seconds:.1f}\t{t.cpu_seconds:.1f}\t"
                  f"{t.peak_rss_gb:.3f}\t{t.status}\t{t.workdir}" for i, t in enumerate(self.trace, start=1)]
        write_text(self.outdir / "pipeline_info" / "execution_trace.tsv", "\n".join(lines) + "\n")

    def collect_versions(self) -> None:
        """Merge every task's versions.yml into pipeline_info/software_versions.yml."""
        versions: dict = {}
        for record in self.trace:
            path = record.workdir / "versions.yml"
            if path.is_file():
                versions.update(yaml.safe_load(path.read_text()) or {})
        write_text(self.outdir / "pipeline_info" / "software_versions.yml", yaml.safe_dump(versions, sort_keys=True))

    def set_status(self, **fields) -> None:
        """Update ``pipeline_info/run_status.json``: where the run is, or how it ended."""
        self.status.update(fields)
        counts = {}
        for record in self.trace:
            counts[record.status.lower()] = counts.get(record.status.lower(), 0) + 1
        self.status["tasks"] = counts
        write_text(self.outdir / "pipeline_info" / RUN_STATUS_FILE, json.dumps(self.status, indent=2) + "\n")

    def finish(self, error: BaseException | None) -> None:
        """Write how the run ended; a successful run also removes task folders no longer part of it."""
        seconds = round(time.monotonic() - self.display.start, 1)
        if error is None:
            current = {record.workdir for record in self.trace}
            for folder in sorted((self.outdir / "work").glob("*")):
                if folder not in current:
                    shutil.rmtree(folder, ignore_errors=True)
            self.set_status(status="succeeded", finished=_now(), seconds=seconds, step=None, tag=None, task=None)
            return
        status = "interrupted" if isinstance(error, (RunInterrupted, KeyboardInterrupt)) else "failed"
        message = str(error) or type(error).__name__
        log_file = str(self.trace[-1].workdir / ".command.log") if self.trace and self.trace[-1].status in (
            "FAILED", "ABORTED") else None
        self.set_status(status=status, finished=_now(), seconds=seconds, message=message, log=log_file)


def row_files(row: SampleRow) -> dict[str, Path | None]:
    """The files a samplesheet row brings, None when absent: its input (and the index of a fragments
    input), a labels file, and for ATAC the fragments, their index and the CellRanger-arc per-barcode
    metrics. The local runner stages them from here, Nextflow from ``scact validate``'s output."""
    fragments = row.fragments
    # CellRanger-arc's cell calls, beside its fragments (arc folder, its .h5 or its mtx folder)
    metrics = (fragments.parent / "per_barcode_metrics.csv"
               if fragments is not None and row.input_format != "fragments" and fragments.name == ARC_FRAGMENTS
               else None)
    return {
        "input": row.input,
        "input_index": Path(f"{row.input}.tbi") if row.input_format == "fragments" else None,
        "labels_file": Path(row.labels) if row.labels and not row.labels.startswith("obs:") else None,
        "fragments": fragments,
        "fragments_index": Path(f"{fragments}.tbi") if fragments is not None else None,
        "cell_metrics": metrics if metrics is not None and metrics.is_file() else None,
    }


def check_run(params: dict, rows: list[SampleRow]) -> None:
    """What is checked before the first step, by the local runner and by Nextflow's SCACT_VALIDATE:
    both modalities given (scACT translates between them), the annotation fits the samples, and the
    parameters go together."""
    given = {modality for row in rows for modality in row.modalities}
    for modality in ("rna", "atac"):
        if modality not in given:
            raise ScactInputError(f"the samplesheet gives no {modality.upper()} sample: scACT needs both modalities")
    if params["annotation"]:
        check_annotation(Path(params["annotation"]), rows)
    if params["link_weight"] > 0 and not params["annotation"]:
        raise ScactInputError("parameter --link_weight > 0 links genes to the peaks near their TSS: it needs "
                              "--annotation (a TSS BED or GTF of the genome)")
    if params["rna_normalised"] and params["rna_likelihood"] == "nb":
        raise ScactInputError("parameters --rna_normalised true and --rna_likelihood nb: the negative binomial "
                              "likelihood models raw counts, which log-normalised input lacks (use --rna_likelihood mse)")


def _param_file(runner: LocalRunner, name: str) -> Path | None:
    """The file a path parameter (``annotation``, ``genome_fasta``) names, or None when it is unset."""
    return Path(runner.params[name]) if runner.params[name] else None


def _pass_file(args: list[str], stage: list[Path], flag: str, path: Path) -> None:
    """Give a task ``path`` as ``flag <name>`` and stage it into the task's folder."""
    args += [flag, path.name]
    stage.append(path)


def task_device(params: dict) -> str:
    """The torch device of the GPU-capable steps (train, translate, perturb) in the local runner:
    ``--device``, ``auto`` meaning CUDA when available. (Nextflow gives ``cuda`` to the tasks that hold
    an accelerator, i.e. with the gpu profile, and ``cpu`` to the others.)"""
    if params["device"] != "auto":
        return params["device"]
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _parse_rows(runner: LocalRunner, rows: list[SampleRow]) -> dict[str, dict[str, Path]]:
    """SCACT_PARSE for every row; returns {modality: {sample: parsed h5ad}} plus the ATAC files of each
    sample ({"atac_files": {sample: row_files(row)}})."""
    parsed: dict[str, dict] = {"rna": {}, "atac": {}, "atac_files": {}}
    for row in rows:
        files = row_files(row)
        stage = [path for path in (files["input"], files["input_index"], files["labels_file"]) if path]
        args = ["--sample", row.sample, "--modality", row.modality, "--input", row.input.name, "--outdir", "."]
        if row.batch != row.sample:
            args += ["--batch", row.batch]
        if row.labels:
            args += ["--labels", files["labels_file"].name if files["labels_file"] else row.labels]
        workdir = runner.task("SCACT_PARSE", args, stage, tag=f"{row.sample}_{row.modality}")
        runner.publish("SCACT_PARSE", workdir, [f"{row.sample}_*.h5ad"])
        for modality in row.modalities:
            parsed[modality][row.sample] = workdir / f"{row.sample}_{modality}.h5ad"
        if "atac" in row.modalities:
            parsed["atac_files"][row.sample] = files
    return parsed


def _preprocess_rna(runner: LocalRunner, parsed: dict[str, Path]) -> Path:
    """SCACT_RNA_QC per sample, then SCACT_RNA_PROCESS over all of them."""
    qc = []
    for sample, h5ad in sorted(parsed.items()):
        workdir = runner.task("SCACT_RNA_QC", ["--input", h5ad.name, "--sample", sample, "--outdir", "."],
                              [h5ad], tag=sample)
        runner.publish("SCACT_RNA_QC", workdir, [f"{sample}_rna_qc*"])
        qc.append(workdir / f"{sample}_rna_qc.h5ad")
    workdir = runner.task("SCACT_RNA_PROCESS", ["--input", *[p.name for p in qc], "--outdir", "."], qc)
    runner.publish("SCACT_RNA_PROCESS", workdir, ["rna_processed.h5ad", "rna_marker_scores.tsv", "*.png"])
    return workdir / "rna_processed.h5ad"


def _preprocess_atac(runner: LocalRunner, parsed: dict[str, Path],
                     atac_files: dict[str, dict[str, Path | None]]) -> tuple[Path, Path]:
    """SCACT_ATAC_QC per sample, SCACT_CALL_PEAKS on the samples with fragments, SCACT_ATAC_MATRIX per
    sample, SCACT_ATAC_PROCESS over all of them."""
    annotation = _param_file(runner, "annotation")
    fragments = {sample: files["fragments"] for sample, files in atac_files.items() if files["fragments"]}
    if fragments and annotation is None:
        raise ScactInputError("ATAC fragments inputs need --annotation (a TSS BED or GTF of the genome)")
    qc: dict[str, Path] = {}
    for sample, h5ad in sorted(parsed.items()):
        args, stage = ["--input", h5ad.name, "--sample", sample, "--outdir", "."], [h5ad]
        if sample in fragments:
            frag = fragments[sample]
            args += ["--fragments", frag.name, "--annotation", annotation.name]
            stage += [frag, Path(f"{frag}.tbi"), annotation]
            metrics = atac_files[sample]["cell_metrics"]
            if metrics is not None:
                _pass_file(args, stage, "--cell-metrics", metrics)
        workdir = runner.task("SCACT_ATAC_QC", args, stage, tag=sample)
        runner.publish("SCACT_ATAC_QC", workdir, [f"{sample}_atac_qc*"])
        qc[sample] = workdir / f"{sample}_atac_qc.h5ad"
    peaks = None
    with_fragments = sorted(s for s in qc if s in fragments)
    if with_fragments:
        args, stage = [], [annotation]
        for number, sample in enumerate(with_fragments, start=1):
            staged = Path("fragments") / f"{number:02d}" / fragments[sample].name
            args += ["--input", qc[sample].name, str(staged)]
            stage.append(qc[sample])
        workdir = runner.task("SCACT_CALL_PEAKS", [*args, "--annotation", annotation.name, "--outdir", "."], stage,
                              nested={Path("fragments") / f"{n:02d}": [fragments[s], Path(f"{fragments[s]}.tbi")]
                                      for n, s in enumerate(with_fragments, start=1)})
        runner.publish("SCACT_CALL_PEAKS", workdir, ["peaks.bed", "macs[23]_*", "dropped_chromosomes.tsv", "*.png"])
        peaks = workdir / "peaks.bed"
    matrices = []
    for sample, h5ad in sorted(qc.items()):
        args, stage = ["--input", h5ad.name, "--sample", sample, "--outdir", "."], [h5ad]
        if peaks is not None:
            _pass_file(args, stage, "--peaks", peaks)
        if sample in fragments:
            args += ["--fragments", fragments[sample].name]
            stage += [fragments[sample], Path(f"{fragments[sample]}.tbi")]
        workdir = runner.task("SCACT_ATAC_MATRIX", args, stage, tag=sample)
        runner.publish("SCACT_ATAC_MATRIX", workdir, [f"{sample}_atac_peaks.h5ad"])
        matrices.append(workdir / f"{sample}_atac_peaks.h5ad")
    args, stage = ["--input", *[m.name for m in matrices], "--outdir", "."], list(matrices)
    if annotation is not None:
        _pass_file(args, stage, "--annotation", annotation)
    workdir = runner.task("SCACT_ATAC_PROCESS", args, stage)
    runner.publish("SCACT_ATAC_PROCESS", workdir, ["atac_processed.h5ad", "gene_activity.h5ad", "*.png"])
    return workdir / "atac_processed.h5ad", workdir / "gene_activity.h5ad"


def _reconcile(runner: LocalRunner, rna: Path, atac: Path, gene_activity: Path) -> tuple[Path, Path]:
    """SCACT_RECONCILE: shared label vocabulary, the training inputs rna.h5ad and atac.h5ad."""
    workdir = runner.task("SCACT_RECONCILE", ["--rna", rna.name, "--atac", atac.name,
                                              "--gene-activity", gene_activity.name, "--outdir", "."],
                          [rna, atac, gene_activity])
    runner.publish("SCACT_RECONCILE", workdir, ["rna.h5ad", "atac.h5ad", "label_reconciliation.tsv",
                                                "atac_marker_scores.tsv", "*.png"])
    return workdir / "rna.h5ad", workdir / "atac.h5ad"


def _train(runner: LocalRunner, rna: Path, atac: Path) -> Path:
    """SCACT_TRAIN: the scACT model on the unpaired training matrices."""
    args, stage = ["--rna", rna.name, "--atac", atac.name, "--outdir", ".", "--no-progress",
                   "--device", task_device(runner.params)], [rna, atac]
    if runner.params["link_weight"] > 0:  # check_run: the link comes with an annotation
        _pass_file(args, stage, "--annotation", _param_file(runner, "annotation"))
    workdir = runner.task("SCACT_TRAIN", args, stage)
    runner.publish("SCACT_TRAIN", workdir, ["model", "training_history.csv", "loss_curves.png"])
    return workdir / "model"


def _translate_and_evaluate(runner: LocalRunner, model: Path, rna: Path, atac: Path,
                            gene_activity: Path) -> dict[str, Path]:
    """SCACT_TRANSLATE (both ways, joint embedding) and SCACT_EVALUATE (metrics with baselines)."""
    workdir = runner.task("SCACT_TRANSLATE", ["--model", model.name, "--rna", rna.name, "--atac", atac.name,
                                              "--device", task_device(runner.params)], [model, rna, atac])
    runner.publish("SCACT_TRANSLATE", workdir, ["rna_to_atac.h5ad", "atac_to_rna.h5ad", "joint_embedding.h5ad",
                                                "umap_*.png"])
    translations = {name: workdir / f"{name}.h5ad" for name in ("rna_to_atac", "atac_to_rna", "joint_embedding")}
    stage = [rna, atac, *translations.values(), gene_activity]
    workdir = runner.task("SCACT_EVALUATE", ["--rna", rna.name, "--atac", atac.name,
                                             "--rna-to-atac", "rna_to_atac.h5ad", "--atac-to-rna", "atac_to_rna.h5ad",
                                             "--joint-embedding", "joint_embedding.h5ad",
                                             "--gene-activity", gene_activity.name], stage)
    runner.publish("SCACT_EVALUATE", workdir, ["metrics.tsv", "metrics_per_type.tsv", "roc_curves.tsv",
                                               "within_type_distances.tsv", "*.png"])
    return translations


def _regulation(runner: LocalRunner, model: Path, rna: Path, atac: Path, translations: dict[str, Path]) -> None:
    """SCACT_PERTURB (when genes are asked for), SCACT_LINK (when there is an annotation), SCACT_MOTIFS."""
    annotation = _param_file(runner, "annotation")
    genes = runner.params["genes"]
    ig_peaks: list[Path] = []
    if genes:
        args, stage = ["--model", model.name, "--atac", atac.name, "--genes", genes, "--outdir", ".",
                       "--device", task_device(runner.params)], [model, atac]
        if annotation is not None:
            _pass_file(args, stage, "--annotation", annotation)
        workdir = runner.task("SCACT_PERTURB", args, stage)
        runner.publish("SCACT_PERTURB", workdir, ["ig_summary.tsv", "*_ig_peaks.tsv", "*_ig_by_cell_type.tsv",
                                                  "*_ig_top_peaks_accessibility.png"])
        ig_peaks = sorted(workdir.glob("*_ig_peaks.tsv"))
    if annotation is not None:
        args = ["--rna", rna.name, "--atac", atac.name, "--annotation", annotation.name,
                "--rna-to-atac", "rna_to_atac.h5ad", "--atac-to-rna", "atac_to_rna.h5ad", "--ig-dir", ".",
                "--outdir", "."]
        if genes:
            args += ["--genes", genes]
        workdir = runner.task("SCACT_LINK", args, [rna, atac, annotation, translations["rna_to_atac"],
                                                   translations["atac_to_rna"], *ig_peaks])
        runner.publish("SCACT_LINK", workdir, ["links.tsv", "links_*.bedpe", "links_*.interact", "link_genes.tsv",
                                               "link_agreement.tsv", "*_links.png"])
    else:
        log.info("SCACT_LINK skipped: peak-to-gene links need --annotation")
    args, stage = ["--atac", atac.name, "--rna-to-atac", "rna_to_atac.h5ad", "--rna", rna.name, "--outdir", "."], \
        [atac, translations["rna_to_atac"], rna]
    if runner.params["genome_fasta"]:
        _pass_file(args, stage, "--fasta", _param_file(runner, "genome_fasta"))
    workdir = runner.task("SCACT_MOTIFS", args, stage)
    runner.publish("SCACT_MOTIFS", workdir, ["motif_*.tsv", "motif_activation_heatmap.png", "motifs_skipped.txt"])


def _report(runner: LocalRunner, samplesheet: Path) -> None:
    """SCACT_REPORT over every published result, with the samplesheet, parameters and versions."""
    info = runner.outdir / "pipeline_info"
    folders = {step.publish_dir for step in STEPS.values() if not step.intermediate}
    folders.discard(STEPS["SCACT_REPORT"].publish_dir)
    published = [runner.outdir / folder for folder in sorted(folders)
                 if (runner.outdir / folder).is_dir()]
    workdir = runner.task("SCACT_REPORT", ["--results", "results", "--samplesheet", "samplesheet.csv",
                                           "--params", "params.json", "--versions", "software_versions.yml",
                                           "--outdir", "."],
                          [info / "samplesheet.csv", info / "params.json", info / "software_versions.yml"],
                          nested={Path("results"): published + [info / name for name in RUN_INFO_FILES]})
    runner.publish("SCACT_REPORT", workdir, ["scact_report.html", "report_figures", "report_tables", "*_mqc.*"])


def run_pipeline(samplesheet: Path, outdir: Path, overrides: dict | None = None,
                 resume: bool = False) -> LocalRunner:
    """Run every step of the workflow on one machine; with ``resume``, reuse the tasks of an earlier run
    into ``outdir`` whose inputs, command line and outputs are unchanged."""
    params = resolve_params({**(overrides or {}), "input": str(samplesheet), "outdir": str(outdir)})
    for name in FILE_PARAMS:  # tasks run in their own folders: make paths absolute, as Nextflow stages them
        if params[name] and Path(params[name]).exists():
            params[name] = str(Path(params[name]).resolve())
    rows = read_samplesheet(samplesheet)
    check_run(params, rows)
    outdir = outdir.resolve()
    clear_previous_results(outdir, keep_work=resume)
    runner = LocalRunner(outdir, params, resume=resume)
    runner.set_status(status="running", started=_now(), resumed=resume)
    write_text(outdir / "pipeline_info" / "params.json", json.dumps(params, indent=2, default=str) + "\n")
    shutil.copy2(samplesheet, outdir / "pipeline_info" / "samplesheet.csv")
    try:
        with _signals_interrupt_the_run():
            parsed = _parse_rows(runner, rows)
            rna_processed = _preprocess_rna(runner, parsed["rna"])
            atac_processed, gene_activity = _preprocess_atac(runner, parsed["atac"], parsed["atac_files"])
            rna, atac = _reconcile(runner, rna_processed, atac_processed, gene_activity)
            model = _train(runner, rna, atac)
            translations = _translate_and_evaluate(runner, model, rna, atac, gene_activity)
            _regulation(runner, model, rna, atac, translations)
            runner.collect_versions()
            _report(runner, samplesheet)
            runner.collect_versions()
    except BaseException as err:
        runner.collect_versions()
        runner.finish(err)
        raise
    runner.finish(None)
    return runner


def clear_previous_results(outdir: Path, keep_work: bool) -> None:
    """Remove what an earlier run published into ``outdir`` (and its task folders unless ``keep_work``), so
    that the results are this run's only; refuse an outdir whose folders no earlier run wrote."""
    owned = {step.publish_dir.split("/")[0] for step in STEPS.values()}
    owned |= {"pipeline_info"} | (set() if keep_work else {"work"})
    present = sorted(outdir / name for name in owned if (outdir / name).exists())
    earlier_run = any((outdir / "pipeline_info" / name).is_file() for name in ("params.json", RUN_STATUS_FILE))
    if present and not earlier_run:
        raise input_error(outdir, f"holds {', '.join(p.name + '/' for p in present)} but no earlier scact run "
                                  "(no pipeline_info/params.json)", "choose a new or empty --outdir")
    for path in [*present, *outdir.glob(".publishing-*")]:
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    outdir.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _signals_interrupt_the_run():
    """SIGINT and SIGTERM raise :class:`RunInterrupted` (the running task is stopped, the status written)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, _frame):
        raise RunInterrupted(signum)

    previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


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
