#!/usr/bin/env python3
"""Build the CPU image with podman, offline, and check that a pipeline task gives the same result inside it.

Steps (each timed):
1. a Python 3.11 base image from Debian bookworm (`mmdebstrap --variant=minbase` + `podman import`),
   unless it exists already; this stands in for docker.io/library/python:3.11-slim-bookworm where
   registries cannot be reached;
2. the pinned wheels (requirements/runtime.txt) downloaded or built on the host with `pip wheel`, so
   the build needs no network (HTTPS from inside a build may fail certificate checks); pip must find
   the CPU build of torch (e.g. `PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu`);
3. `podman build -f containers/cpu/Dockerfile --build-arg PIP_NO_INDEX=1 ...` from a clean export of
   the repository (`git ls-files`) plus those wheels in `.whl/`;
4. `scact_parse.py` on the generated CellRanger-arc fixture (`scact_simulate.py --preset fixture`, made
   on the host) and on the real PBMC multiome subset ($SCACT_DATA/pbmc_multiome_1k), run inside the
   image (no network, inputs and outputs mounted at the same paths, as Nextflow does) and outside it
   with this interpreter; the .h5ad files and versions.yml must agree (only the Python patch version
   may differ).

Needs root podman configured as in docs/containers.md. Opt-in: takes 9-17 minutes cold on 2 cores
(mostly the image build), too much for the default suite; run before every release:
    python tests/container_check.py            # or: SCACT_CONTAINER_CHECK=1 pytest tests/test_container.py
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE_IMAGE = "localhost/scact-base:bookworm-py311"
IMAGE = "localhost/scact:container-check"
BASE_PACKAGES = "python3,python3-venv,procps,ca-certificates"


def log(message: str) -> None:
    print(f"[container_check] {message}", flush=True)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    log("$ " + " ".join(map(str, cmd)))
    return subprocess.run(list(map(str, cmd)), check=True, **kwargs)


class Timer:
    """Records how long each phase takes, for the final summary."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, float]] = []

    def __call__(self, name: str, func, *args, **kwargs):
        start = time.monotonic()
        result = func(*args, **kwargs)
        self.phases.append((name, time.monotonic() - start))
        log(f"{name}: {self.phases[-1][1]:.0f} s")
        return result


def podman_ready() -> str | None:
    """None when podman can run containers here, else why not."""
    if shutil.which("podman") is None:
        return "podman is not installed"
    probe = subprocess.run(["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"podman is not configured: {probe.stderr.strip()[:200]}"
    return None


def ensure_base_image(image: str) -> None:
    if subprocess.run(["podman", "image", "exists", image]).returncode == 0:
        log(f"base image {image} exists")
        return
    if shutil.which("mmdebstrap") is None:
        raise SystemExit("mmdebstrap is needed to make the base image (apt-get install mmdebstrap)")
    with tempfile.TemporaryDirectory() as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        run(["mmdebstrap", "--quiet", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", tarball])
        run(["podman", "import", "--change", 'CMD ["/bin/bash"]', tarball, image], stdout=subprocess.DEVNULL)


def download_wheels(wheel_dir: Path) -> None:
    """Every pinned runtime dependency as a wheel (sdists are built here, on the same glibc)."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "-r", REPO / "requirements" / "runtime.txt",
         "-w", wheel_dir])
    torch = sorted(wheel_dir.glob("torch-*.whl"))
    if not torch or any("+cpu" not in w.name for w in torch):
        raise SystemExit(f"{wheel_dir} should hold only the CPU build of torch (found {[w.name for w in torch]}); "
                         "set PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu")


def export_context(context: Path, wheel_dir: Path) -> None:
    """The tracked files of the repository (as in a clean clone) plus the wheels in .whl/."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source, target = REPO / name, context / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (context / ".whl").mkdir()
    for wheel in wheel_dir.glob("*.whl"):
        try:
            os.link(wheel, context / ".whl" / wheel.name)
        except OSError:  # another file system
            shutil.copy2(wheel, context / ".whl" / wheel.name)


def build_image(context: Path, base_image: str, image: str) -> None:
    build_log = context.parent / "build.log"
    try:
        with build_log.open("w") as out:
            run(["podman", "build", "-f", context / "containers" / "cpu" / "Dockerfile",
                 "--build-arg", f"BASE_IMAGE={base_image}", "--build-arg", "PIP_FIND_LINKS=/src/wheels",
                 "--build-arg", "PIP_NO_INDEX=1", "-t", image, context], stdout=out, stderr=subprocess.STDOUT)
    except subprocess.CalledProcessError:
        print("".join(build_log.read_text().splitlines(keepends=True)[-60:]), file=sys.stderr)
        raise


def task_commands(data: Path, fixture: Path) -> list[list[str]]:
    """The tasks compared: parse of the generated CellRanger-arc fixture and of the real PBMC MuData."""
    return [
        ["scact_parse.py", "--sample", "sim", "--modality", "multiome", "--input", str(fixture),
         "--outdir", ".", "--task-name", "SCACT_PARSE"],
        ["scact_parse.py", "--sample", "pbmc", "--modality", "multiome",
         "--input", str(data / "pbmc_multiome_1k" / "rna_atac.h5mu"), "--outdir", ".", "--task-name", "SCACT_PARSE"],
    ]


def make_fixture(fixture: Path) -> None:
    """The project's generated fixture (300 cells, two chromosomes), made on the host."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    run([sys.executable, REPO / "bin" / "scact_simulate.py", "--preset", "fixture", "--seed", "0",
         "--outdir", fixture, "--no-versions"], env=env)


def run_inside(image: str, data: Path, fixture: Path, workdir: Path) -> None:
    """Each task in the image, without network, inputs and outputs mounted at their host paths."""
    workdir.mkdir(parents=True)
    for command in task_commands(data, fixture):
        run(["podman", "run", "--rm", "--network", "none", "-v", f"{data}:{data}:ro",
             "-v", f"{fixture}:{fixture}:ro", "-v", f"{workdir}:{workdir}", "-w", workdir, image, *command])


def run_outside(data: Path, fixture: Path, workdir: Path) -> None:
    workdir.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    for command in task_commands(data, fixture):
        run([sys.executable, REPO / "bin" / command[0], *command[1:]], cwd=workdir, env=env)


def compare_outputs(inside: Path, outside: Path) -> list[str]:
    """Differences between the two runs' outputs (empty when they agree)."""
    import anndata as ad
    import numpy as np
    import scipy.sparse as sp
    import yaml

    problems = []
    names = sorted(p.name for p in outside.iterdir())
    if names != sorted(p.name for p in inside.iterdir()):
        return [f"files differ: outside {names}, inside {sorted(p.name for p in inside.iterdir())}"]
    for name in (n for n in names if n.endswith(".h5ad")):
        a, b = ad.read_h5ad(outside / name), ad.read_h5ad(inside / name)
        if a.shape != b.shape or a.X.dtype != b.X.dtype or sp.issparse(a.X) != sp.issparse(b.X):
            problems.append(f"{name}: X {a.shape} {a.X.dtype} vs {b.shape} {b.X.dtype}")
            continue
        if (sp.csr_matrix(a.X) != sp.csr_matrix(b.X)).nnz:
            problems.append(f"{name}: X values differ")
        for frame in ("obs", "var"):
            if not getattr(a, frame).equals(getattr(b, frame)):
                problems.append(f"{name}: {frame} differs")
        if list(a.obs_names) != list(b.obs_names) or list(a.var_names) != list(b.var_names):
            problems.append(f"{name}: names differ")
        for key in set(a.obsm) | set(b.obsm):
            if key not in a.obsm or key not in b.obsm or not np.array_equal(a.obsm[key], b.obsm[key]):
                problems.append(f"{name}: obsm[{key}] differs")
        uns_a, uns_b = dict(a.uns), dict(b.uns)
        for step in set(uns_a.get("scact", {})) | set(uns_b.get("scact", {})):
            ra, rb = uns_a["scact"].get(step, {}), uns_b["scact"].get(step, {})
            if ra.get("params") != rb.get("params"):
                problems.append(f"{name}: params of {step} differ: {ra.get('params')} vs {rb.get('params')}")
            va = {k: v for k, v in ra.get("versions", {}).items() if k != "python"}
            vb = {k: v for k, v in rb.get("versions", {}).items() if k != "python"}
            if va != vb:
                problems.append(f"{name}: versions of {step} differ: {va} vs {vb}")
        uns_a.pop("scact", None), uns_b.pop("scact", None)
        if repr(sorted(uns_a.items())) != repr(sorted(uns_b.items())):
            problems.append(f"{name}: uns differs")
    va, vb = (yaml.safe_load((d / "versions.yml").read_text())["SCACT_PARSE"] for d in (outside, inside))
    if {k: v for k, v in va.items() if k != "python"} != {k: v for k, v in vb.items() if k != "python"}:
        problems.append(f"versions.yml differs: {va} vs {vb}")
    log(f"python outside {va.get('python')}, inside {vb.get('python')}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="folder of wheels to reuse (default: download into a temporary one)")
    parser.add_argument("--base-image", default=BASE_IMAGE, help="Python 3.11 base image (made with mmdebstrap if missing)")
    parser.add_argument("--image", default=IMAGE, help="tag of the image built")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SCACT_DATA", REPO.parent / "shared" / "data")),
                        help="the shared real data folder")
    parser.add_argument("--keep-image", action="store_true", help="do not remove the image at the end")
    args = parser.parse_args(argv)
    why = podman_ready()
    if why:
        log(why)
        return 77
    timer = Timer()
    with tempfile.TemporaryDirectory(prefix="scact-container-check-", dir=os.environ.get("TMPDIR", "/var/tmp")) as tmp:
        tmp = Path(tmp)
        timer("base image", ensure_base_image, args.base_image)
        wheels = args.wheels or tmp / "wheels"
        if not args.wheels:
            timer("wheels", download_wheels, wheels)
        timer("build context", export_context, tmp / "context", wheels)
        timer("image build", build_image, tmp / "context", args.base_image, args.image)
        data = args.data.resolve()
        fixture = tmp / "fixture"
        timer("fixture", make_fixture, fixture)
        timer("tasks inside", run_inside, args.image, data, fixture, tmp / "inside")
        timer("tasks outside", run_outside, data, fixture, tmp / "outside")
        problems = compare_outputs(tmp / "inside", tmp / "outside")
    if not args.keep_image:
        subprocess.run(["podman", "rmi", "--force", args.image], capture_output=True)
    total = sum(seconds for _, seconds in timer.phases)
    log("timings: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timer.phases) + f"; total {total:.0f} s")
    for problem in problems:
        log(f"MISMATCH {problem}")
    log("outputs inside and outside the image agree" if not problems else f"{len(problems)} mismatches")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
