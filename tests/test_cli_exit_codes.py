"""Exit codes that Nextflow's retry rules depend on: bad input 2 (no retry), CUDA out-of-memory 75."""
import re
import types

import pytest
import torch

import scact.cli as cli


@pytest.fixture
def failing_command(monkeypatch):
    """A command `boom` whose run() raises the exception the test puts into `errors`."""
    errors = []

    def run(args):
        raise errors[0]

    fake = types.SimpleNamespace(__doc__="Fails on purpose.", add_arguments=lambda parser: None, run=run)
    monkeypatch.setattr(cli, "_module", lambda name: fake)
    return errors


def test_cuda_out_of_memory_exits_75(failing_command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    failing_command.append(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert cli.run_command("boom", []) == cli.EXIT_CUDA_OUT_OF_MEMORY == 75
    assert "smaller --batch-size" in capsys.readouterr().err
    assert not (tmp_path / "versions.yml").exists()


def test_cuda_out_of_memory_as_runtime_error_exits_75(failing_command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    failing_command.append(RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0)"))
    assert cli.run_command("boom", []) == 75


def test_other_errors_are_not_turned_into_an_exit_code(failing_command):
    failing_command.append(RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        cli.run_command("boom", [])


def test_train_retry_rule_uses_the_out_of_memory_exit_code(repo_root):
    config = (repo_root / "conf" / "modules.config").read_text()
    train = config[config.index("withName: 'SCACT_TRAIN'"):]
    retry_codes = re.search(r"task\.exitStatus in \(\[(\d+)\]", train)
    assert retry_codes and int(retry_codes.group(1)) == cli.EXIT_CUDA_OUT_OF_MEMORY
    assert "--batch-size" in train and "task.attempt" in train
