"""Run section: software versions of every step, parameters, run time per task, the input samplesheet."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import yaml

from scact.report._document import Note, Section, Writer
from scact.report._inputs import Results, read_table


def collect_versions(results: Results, given: list[Path]) -> pd.DataFrame:
    """Rows (step, software, version) from software_versions.yml / versions.yml files (given or found)."""
    paths = list(given) or results.glob("software_versions.yml") or [
        p for p in results.files if p.name == "versions.yml" or p.name.endswith("_versions.yml")]
    rows = []
    for path in paths:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        for step, tools in data.items() if isinstance(data, dict) else ():
            if isinstance(tools, dict):
                rows += [(str(step), str(tool), str(version)) for tool, version in tools.items()]
    table = pd.DataFrame(rows, columns=["step", "software", "version"]).drop_duplicates()
    return table.sort_values(["step", "software"], ignore_index=True)


def versions_wide(table: pd.DataFrame) -> pd.DataFrame:
    """One row per software; the versions seen across steps (usually one) and the steps."""
    grouped = table.groupby("software", sort=True)
    return pd.DataFrame({"software": list(grouped.groups),
                         "version": [", ".join(sorted(set(g["version"]))) for _, g in grouped],
                         "steps": [len(set(g["step"])) for _, g in grouped]})


def _duration_seconds(text) -> float:
    """Seconds from a number or a Nextflow duration such as '1m 3s', '250ms', '2h 1m'."""
    if isinstance(text, (int, float)):
        return float(text)
    text = str(text).strip()
    try:
        return float(text)
    except ValueError:
        pass
    units = {"ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"([\d.]+)\s*(ms|s|m|h|d)", text)
    return sum(float(v) * units[u] for v, u in parts) if parts else float("nan")


def trace_table(path: Path) -> pd.DataFrame | None:
    """Task, status and seconds from the local runner's or Nextflow's execution_trace*.tsv."""
    trace = read_table(path)
    if trace is None:
        return None
    name = next((c for c in ("name", "process") if c in trace), None)
    time_column = next((c for c in ("seconds", "realtime", "duration") if c in trace), None)
    if name is None or time_column is None:
        return None
    out = pd.DataFrame({"task": trace[name].astype(str)})
    if "tag" in trace and name == "process":
        out["task"] = [f"{p} ({t})" if isinstance(t, str) and t else p for p, t in zip(trace["process"], trace["tag"])]
    status = next((c for c in ("status", "exit") if c in trace), None)
    if status:
        out["status"] = trace[status].astype(str)
    out["seconds"] = [_duration_seconds(v) for v in trace[time_column]]
    if "peak_rss" in trace:
        out["peak_memory"] = trace["peak_rss"].astype(str)
    return out


def run_status_note(path: Path) -> Note | None:
    """One line on how the run went, from ``scact run``'s ``pipeline_info/run_status.json`` (Nextflow runs
    have none). The report is the run's last step, so 'running' at SCACT_REPORT means every other step
    completed."""
    try:
        status = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(status, dict):
        return None
    tasks = status.get("tasks") or {}
    counts = f"{tasks.get('completed', 0)} tasks run, {tasks.get('cached', 0)} reused from an earlier run by --resume"
    where = status.get("step") or "between steps"
    if status.get("tag"):
        where += f" ({status['tag']})"
    started = f"started {status['started']}" if status.get("started") else ""
    state = status.get("status")
    if state == "running" and status.get("step") == "SCACT_REPORT":
        return Note(f"Run status: every step before this report completed ({counts}; {started}).")
    if state == "succeeded":
        return Note(f"Run status: succeeded ({counts}; {started}, {status.get('seconds', '?')} s).")
    if state in ("failed", "interrupted"):
        return Note(f"Run status: {state.upper()} at {where}: {status.get('message', '')} ({counts}). Results "
                    "of later steps are missing.", "warning")
    return Note(f"Run status: {state} at {where} ({counts}; {started}).")


def run_section(results: Results, writer: Writer, samplesheet: Path | None, params: Path | None,
                versions: list[Path]) -> Section:
    section = Section("run", "Run information", "Software versions, parameters, run time and input samplesheet.")
    status_path = results.first("run_status.json")
    note = run_status_note(status_path) if status_path else None
    if note is not None:
        section.blocks.append(note)
    table = collect_versions(results, versions)
    if len(table):
        section.blocks.append(writer.table(versions_wide(table), "software_versions", "Software versions",
                                           "Version of each tool, over all pipeline steps."))
        section.blocks.append(writer.table(table, "software_versions_by_step", "Software versions per step"))
    else:
        section.missing("no versions.yml or software_versions.yml found")
    params = params or results.first("params*.json")
    if params and params.is_file():
        try:
            data = json.loads(params.read_text())
        except (OSError, json.JSONDecodeError):
            data = None
        if isinstance(data, dict):
            frame = pd.DataFrame({"parameter": list(data), "value": [json.dumps(v) if isinstance(v, (dict, list))
                                                                    else str(v) for v in data.values()]})
            section.blocks.append(writer.table(frame, "parameters", "Parameters", f"From {params.name}."))
    else:
        section.missing("no params.json found: parameters unknown")
    trace_path = results.first("execution_trace*.tsv") or results.first("execution_trace*.txt")
    trace = trace_table(trace_path) if trace_path else None
    if trace is not None:
        total = trace["seconds"].sum()
        section.blocks.append(writer.table(trace, "run_time", "Run time per task",
                                           f"{len(trace)} tasks, {total / 60:.1f} min of task time in total."))
    else:
        section.missing("no execution trace (pipeline_info/execution_trace*.tsv) found: run time unknown")
    samplesheet = samplesheet or results.first("samplesheet*.csv")
    sheet = read_table(samplesheet, sep=",") if samplesheet and samplesheet.is_file() else None
    if sheet is not None:
        section.blocks.append(writer.table(sheet, "samplesheet", "Input samplesheet", f"From {samplesheet.name}."))
    else:
        section.missing("no samplesheet given or found")
    return section
