"""Versions and parameters recorded in every output (``uns['scact']`` and ``versions.yml``)."""
from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import yaml

from scact.io.atomic import write_text

#: Packages whose versions every step records: what its results can depend on.
TRACKED_PACKAGES = (
    "scact", "numpy", "scipy", "pandas", "anndata", "mudata", "h5py", "scanpy", "pegasuspy",
    "doubletdetection", "macs3", "pysam", "scikit-learn", "torch", "leidenalg", "igraph", "pyjaspar",
)


def package_versions(packages=TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``packages`` (those not installed are left out) plus Python's."""
    found = {"python": platform.python_version()}
    for name in packages:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def record_provenance(adata, step: str, params: dict) -> None:
    """Store the parameters and package versions of ``step`` in ``adata.uns['scact'][step]``."""
    clean = {k: (str(v) if not isinstance(v, (int, float, bool, str, type(None), list)) else v)
             for k, v in params.items()}
    clean = {k: ("None" if v is None else v) for k, v in clean.items()}  # h5ad cannot store None
    adata.uns.setdefault("scact", {})[step] = {"params": clean, "versions": package_versions()}


def write_versions_yml(path, task_name: str) -> None:
    """Write nf-core's ``versions.yml``: ``{task_name: {package: version}}``."""
    write_text(path, yaml.safe_dump({task_name: package_versions()}, sort_keys=False))
