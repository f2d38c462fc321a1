"""The CPU image builds offline with podman and runs a pipeline task like the host does (opt-in).

9-17 minutes cold on 2 cores, so it is not part of the default suite: run it before every release
with `SCACT_CONTAINER_CHECK=1 pytest tests/test_container.py` (or `python tests/container_check.py`).
"""
import os

import pytest

import container_check


@pytest.mark.skipif(os.environ.get("SCACT_CONTAINER_CHECK") != "1",
                    reason="opt-in release check: set SCACT_CONTAINER_CHECK=1 (needs root podman, 9-17 min)")
def test_cpu_image_runs_parse_like_the_host(shared_data):
    why = container_check.podman_ready()
    if why:
        pytest.skip(why)
    assert container_check.main(["--data", str(shared_data)]) == 0


def _write_parse_like_outputs(folder, value):
    import anndata as ad
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp
    import yaml

    folder.mkdir()
    counts = sp.csr_matrix(np.array([[1, 0, 2], [0, value, 0]], dtype=np.float32))
    adata = ad.AnnData(counts, obs=pd.DataFrame({"sample": ["s", "s"]}, index=["s:A", "s:B"]),
                       var=pd.DataFrame(index=["G1", "G2", "G3"]))
    adata.uns["scact"] = {"parse": {"params": {"sample": "s"}, "versions": {"python": "3.11.x", "numpy": "2.4.6"}}}
    adata.write_h5ad(folder / "s_rna.h5ad")
    (folder / "versions.yml").write_text(yaml.safe_dump({"SCACT_PARSE": {"python": "3.11.x", "numpy": "2.4.6"}}))


def test_comparison_accepts_equal_outputs_and_reports_a_changed_count(tmp_path):
    _write_parse_like_outputs(tmp_path / "a", 3)
    _write_parse_like_outputs(tmp_path / "b", 3)
    _write_parse_like_outputs(tmp_path / "c", 4)
    assert container_check.compare_outputs(tmp_path / "a", tmp_path / "b") == []
    assert container_check.compare_outputs(tmp_path / "a", tmp_path / "c") == ["s_rna.h5ad: X values differ"]
