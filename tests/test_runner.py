"""The local runner's machinery: progress at a terminal only, --resume after a kill, run status, clean outdirs."""
import contextlib
import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from conftest import test_profile_params as profile_params
from scact.errors import ScactInputError
from scact.pipeline import PROGRESS_FILE, run_pipeline, task_folder_name
from scact.progress import PROGRESS_FILE_ENV, ProgressFollower, show_progress, tracked
from scact.report._runinfo import run_status_note


def run_argv(sheet: Path, outdir: Path, params: dict, *extra: str) -> list[str]:
    options = [token for name, value in params.items() for token in (f"--{name}", str(value))]
    return [sys.executable, "-c", "from scact.cli import main; main()", "run", "--input", str(sheet),
            "--outdir", str(outdir), *options, *extra]


def child_pids(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def published_files(outdir: Path) -> set[str]:
    return {str(p.relative_to(outdir)) for p in outdir.rglob("*")
            if p.is_file() and p.relative_to(outdir).parts[0] != "work"}


def trace_statuses(outdir: Path) -> dict[str, str]:
    trace = pd.read_csv(outdir / "pipeline_info" / "execution_trace.tsv", sep="\t", keep_default_na=False)
    return {f"{p}:{t}": s for p, t, s in zip(trace["process"], trace["tag"], trace["status"])}


#: The runner's bar for training in the mapping phase: epochs done of the total, the losses.
#: The test profile's training bar at one of its mapping epochs after the fifth (the total counts all three phases).
TRAINING_EPOCHS = {name: int(value) for name, value in profile_params(Path(".")).items() if name.startswith("max_epochs")}
TRAINING_BAR = (rb"\[ 9/15\] SCACT_TRAIN training \(mapping\):[^\r\n]*\| [5-8]/%d \[[^\r\n]*total="
                % sum(TRAINING_EPOCHS.values()))


def read_terminal(master: int, timeout: float) -> bytes:
    """What the pseudo-terminal shows within ``timeout`` seconds (b"" once its other end is closed)."""
    if not select.select([master], [], [], timeout)[0]:
        return b""
    try:
        return os.read(master, 1 << 16)
    except OSError:  # EIO: every process holding the terminal has exited
        return b""


def kill_during_training_at_a_terminal(argv: list[str], outdir: Path) -> tuple[int, str]:
    """Run ``argv`` on a pseudo-terminal; once training has checkpointed (epoch 5 reported), freeze the
    training process; once the terminal shows that epoch's bar, SIGTERM the runner and let training go on
    to receive the runner's SIGTERM. Returns the exit status and everything the terminal showed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # a terminal 160 columns wide
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    runner = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    shown, deadline = bytearray(), time.monotonic() + 900
    try:
        trainers, progress = [], None
        while runner.poll() is None and time.monotonic() < deadline:
            shown += read_terminal(master, 0.01)
            if progress is None and (started := list((outdir / "work").glob("*_SCACT_TRAIN"))):
                progress = ProgressFollower(started[0] / PROGRESS_FILE)
            if not trainers and progress is not None and ((progress.latest() or {}).get("n", 0) >= 5):
                trainers = child_pids(runner.pid)
                for pid in trainers:
                    os.kill(pid, signal.SIGSTOP)
            if trainers and re.search(TRAINING_BAR, shown):
                runner.send_signal(signal.SIGTERM)
                time.sleep(0.5)  # the runner's handler has sent the training its SIGTERM
                for pid in trainers:
                    os.kill(pid, signal.SIGCONT)
                break
        status = runner.wait(timeout=120)
        while chunk := read_terminal(master, 0.2):
            shown += chunk
    finally:
        if runner.poll() is None:
            runner.kill()
            for pid in trainers:  # a training left frozen by a failed run
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        os.close(master)
    return status, shown.decode(errors="replace")


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_results(pipeline_run, tmp_path):
    """Killed during training, `scact run --resume` reuses steps 1-8, continues training from its
    checkpoint and ends with the same files and values as the uninterrupted fixture run; a second
    --resume runs nothing. Progress bars appear on the terminal and not in redirected output."""
    reference, _, fixture = pipeline_run
    params = profile_params(fixture)
    sheet, out = fixture / "samplesheet.csv", tmp_path / "results"
    # steps 1-8 of the fixture run, copied with their times: --resume reuses them, so the test pays for
    # training onwards only
    for task in sorted((reference / "work").glob("0[1-8]_*")):
        shutil.copytree(task, out / "work" / task.name, symlinks=True)
    shutil.copytree(reference / "pipeline_info", out / "pipeline_info")

    status, terminal = kill_during_training_at_a_terminal(run_argv(sheet, out, params, "--resume"), out)
    assert status == 128 + signal.SIGTERM, terminal[-3000:]
    assert re.search(TRAINING_BAR.decode(), terminal) and "[ 8/15] SCACT_RECONCILE: cached" in terminal
    assert "continue with the same command and --resume" in terminal
    run_status = json.loads((out / "pipeline_info" / "run_status.json").read_text())
    assert run_status["status"] == "interrupted" and run_status["step"] == "SCACT_TRAIN", run_status
    assert trace_statuses(out)["SCACT_TRAIN:"] == "ABORTED"

    resumed = subprocess.run(run_argv(sheet, out, params, "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "\r" not in resumed.stderr and "%|" not in resumed.stderr  # no bars in a log
    statuses = trace_statuses(out)
    order = list(statuses)
    assert {statuses[t] for t in order[:order.index("SCACT_TRAIN:")]} == {"CACHED"}
    assert {statuses[t] for t in order[order.index("SCACT_TRAIN:"):]} == {"COMPLETED"}
    train_dir = next((out / "work").glob("*_SCACT_TRAIN"))
    assert "--resume" in (train_dir / ".command.sh").read_text()
    assert "resumed from" in (train_dir / ".command.log").read_text()
    assert json.loads((out / "pipeline_info" / "run_status.json").read_text())["status"] == "succeeded"

    assert published_files(out) == published_files(reference)
    history = [pd.read_csv(d / "model" / "training_history.csv").drop(columns="seconds") for d in (out, reference)]
    pd.testing.assert_frame_equal(*history)
    for name in ("preprocessing/rna.h5ad", "preprocessing/atac.h5ad", "translation/joint_embedding.h5ad"):
        got, expected = ad.read_h5ad(out / name), ad.read_h5ad(reference / name)
        assert got.obs_names.equals(expected.obs_names), name
        for key in expected.obsm:
            np.testing.assert_array_equal(got.obsm[key], expected.obsm[key], err_msg=f"{name} {key}")
    for name in ("evaluation/metrics.tsv", "regulation/links.tsv"):
        pd.testing.assert_frame_equal(pd.read_csv(out / name, sep="\t"), pd.read_csv(reference / name, sep="\t"))

    report = (out / "report" / "scact_report.html").read_text()
    assert re.search(r"Run status: every step before this report completed \(\d+ tasks run, 8 reused", report)

    again = run_pipeline(sheet, out, params, resume=True)
    assert {record.status for record in again.trace} == {"CACHED"}
    assert published_files(out) == published_files(reference)


def test_failed_run_writes_its_status_and_clears_the_previous_results(tmp_path, monkeypatch):
    """A fresh run into an earlier run's outdir starts from nothing; a task failure is written to
    run_status.json with the step and the message; an outdir no run wrote is refused, not cleared."""
    broken = tmp_path / "broken.h5ad"
    broken.write_bytes(b"not an HDF5 file")
    sheet = tmp_path / "samplesheet.csv"
    sheet.write_text(f"sample,modality,input\ns1,rna,{broken}\ns2,atac,{broken}\n")
    out = tmp_path / "results"
    for stale in ("pipeline_info/params.json", "qc/old_qc.tsv", "work/03_SCACT_RNA_QC_old/x.h5ad"):
        (out / stale).parent.mkdir(parents=True, exist_ok=True)
        (out / stale).write_text("{}")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(ScactInputError, match="SCACT_PARSE"):
        run_pipeline(sheet, out, {})
    status = json.loads((out / "pipeline_info" / "run_status.json").read_text())
    assert status["status"] == "failed" and status["step"] == "SCACT_PARSE" and status["tag"] == "s1_rna"
    assert "broken.h5ad" in status["message"] and status["log"].endswith(".command.log")
    assert not (out / "qc").exists() and not (out / "work" / "03_SCACT_RNA_QC_old").exists()

    foreign = tmp_path / "mine"
    (foreign / "model").mkdir(parents=True)
    with pytest.raises(ScactInputError, match=r"holds model/ but no earlier scact run"):
        run_pipeline(sheet, foreign, {})
    assert (foreign / "model").is_dir()


def test_progress_only_at_a_terminal_outside_ci(monkeypatch):
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as terminal:
        monkeypatch.delenv("CI", raising=False)
        assert show_progress(terminal)
        monkeypatch.setenv("CI", "true")
        assert not show_progress(terminal)
    os.close(master)
    monkeypatch.delenv("CI", raising=False)
    with open(os.devnull, "w") as log_file:
        assert not show_progress(log_file)


def test_steps_report_their_units_to_the_runner_only_under_scact_run(tmp_path, monkeypatch):
    """Evaluation (per method) and perturbation (per gene) tell the runner how far they are, so its bar has
    an ETA; run on their own (Nextflow, a user's shell) they write nothing."""
    path = tmp_path / PROGRESS_FILE
    monkeypatch.delenv(PROGRESS_FILE_ENV, raising=False)
    assert list(tracked(["Gad1", "Sst"], "integrated gradients")) == ["Gad1", "Sst"]
    assert not path.exists()
    monkeypatch.setenv(PROGRESS_FILE_ENV, str(path))
    follower = ProgressFollower(path)
    units = tracked(["Gad1", "Sst"], "integrated gradients")
    assert next(units) == "Gad1"
    assert follower.latest() == {"n": 0, "total": 2, "desc": "integrated gradients (Gad1)", "postfix": {}}
    assert list(units) == ["Sst"]
    assert follower.latest()["n"] == 2


def test_task_folders_are_named_by_step_and_sample_not_by_run_position():
    """A row added to or removed from the samplesheet shifts no other task's folder, so --resume finds them."""
    assert task_folder_name("SCACT_RNA_QC", "s2") == "02_SCACT_RNA_QC_s2"
    assert task_folder_name("SCACT_TRAIN") == "09_SCACT_TRAIN"


def test_report_shows_how_the_run_ended(tmp_path):
    path = tmp_path / "run_status.json"
    path.write_text(json.dumps({"status": "failed", "step": "SCACT_TRAIN", "tag": "", "message": "exit status 1",
                                "tasks": {"completed": 8, "failed": 1}}))
    note = run_status_note(path)
    assert note.kind == "warning" and note.text.startswith("Run status: FAILED at SCACT_TRAIN: exit status 1")
    path.write_text(json.dumps({"status": "succeeded", "tasks": {"completed": 3, "cached": 12}, "seconds": 9.5}))
    assert "3 tasks run, 12 reused" in run_status_note(path).text
