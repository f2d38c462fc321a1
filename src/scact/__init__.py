"""scACT: cross-modality translation between unpaired single-cell RNA-seq and ATAC-seq.

Layers: ``scact.io`` (10x h5, fragments, AnnData), ``scact.preprocessing``, ``scact.model``,
``scact.evaluation``, ``scact.perturbation``, ``scact.report``; ``scact.cli`` is the command line
that the ``bin/`` scripts and the Nextflow processes call.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("scact")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
