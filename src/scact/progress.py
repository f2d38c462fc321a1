"""Progress of long work: shown to a person at a terminal, silent in logs (Nextflow, CI, redirected output).

A task that runs in a subprocess cannot draw on the runner's terminal, so it appends one JSON line per unit
of work (``n``, ``total``, ``desc``, ``postfix``) to a progress file; ``scact run`` names that file in each
task's environment (``PROGRESS_FILE_ENV``), follows it and draws the bar with its ETA: training per epoch,
evaluation per method, perturbation per gene (``tracked``).
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

#: The environment variable naming the progress file of the task (set by ``scact run`` only).
PROGRESS_FILE_ENV = "SCACT_PROGRESS_FILE"

T = TypeVar("T")


def show_progress(stream=None) -> bool:
    """Whether to draw progress bars on ``stream`` (default stderr): a terminal, and not under CI."""
    stream = sys.stderr if stream is None else stream
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def append_progress(path: Path, n: int, total: int, desc: str, postfix: dict | None = None) -> None:
    """Append one progress record to ``path`` (a line written whole, read by :class:`ProgressFollower`)."""
    line = json.dumps({"n": n, "total": total, "desc": desc, "postfix": postfix or {}}) + "\n"
    with open(path, "a") as out:
        out.write(line)


def tracked(items: Iterable[T], desc: str, describe=str) -> Iterator[T]:
    """Yield ``items``; under ``scact run`` record each one done (``describe(item)`` names it), so the runner's
    bar shows how many of the step's units are done and its ETA. Elsewhere it only yields."""
    path = os.environ.get(PROGRESS_FILE_ENV)
    items = list(items)
    for done, item in enumerate(items):
        if path:
            append_progress(Path(path), done, len(items), f"{desc} ({describe(item)})")
        yield item
    if path:
        append_progress(Path(path), len(items), len(items), desc)


class ProgressFollower:
    """Reads the records appended to a progress file since the last call."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0

    def latest(self) -> dict | None:
        """The newest complete record written since the last call, or None."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return None
        complete = data[:data.rfind(b"\n") + 1]
        self.offset += len(complete)
        records = []
        for line in complete.decode(errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records[-1] if records else None
