"""scACT: cross-modality translation between unpaired single-cell RNA-seq and ATAC-seq.

    import scact
    model = scact.SCACT(rna, atac)          # scact.model.SCACT
    model.train()
    z = model.get_latent_representation(rna)

Layers: ``scact.io`` (10x h5, fragments, AnnData), ``scact.preprocessing``, ``scact.model``,
``scact.evaluation``, ``scact.perturbation``, ``scact.report``; ``scact.cli`` is the command line
that the ``bin/`` scripts and the Nextflow processes call. The public names below are imported on first
use, so that ``import scact`` (and every command's start) does not import torch.
"""
from importlib import import_module as _import_module
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("scact")
except _metadata.PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

#: public name -> module that defines it
_EXPORTS = {
    "SCACT": "scact.model",
    "TranslatedAccessibility": "scact.io.translated",
    "ScactInputError": "scact.errors",
}
_SUBPACKAGES = ("io", "preprocessing", "model", "evaluation", "perturbation", "report", "simulate", "stats")

__all__ = ["__version__", *_EXPORTS, *_SUBPACKAGES]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(_import_module(_EXPORTS[name]), name)
    elif name in _SUBPACKAGES:
        value = _import_module(f"scact.{name}")
    else:
        raise AttributeError(f"module 'scact' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
