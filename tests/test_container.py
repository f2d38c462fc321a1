"""The CPU image builds offline with podman and runs a pipeline task like the host does (opt-in).

About 10 minutes cold on 2 cores, so it is not part of the default suite: run it before every release
with `SCACT_CONTAINER_CHECK=1 pytest tests/test_container.py` (or `python tests/container_check.py`).
"""
import os

import pytest

import container_check


@pytest.mark.skipif(os.environ.get("SCACT_CONTAINER_CHECK") != "1",
                    reason="opt-in release check: set SCACT_CONTAINER_CHECK=1 (needs root podman, ~10 min)")
def test_cpu_image_runs_parse_like_the_host(shared_data):
    why = container_check.podman_ready()
    if why:
        pytest.skip(why)
    assert container_check.main(["--data", str(shared_data)]) == 0
