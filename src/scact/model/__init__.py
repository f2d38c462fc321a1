"""The scACT model: autoencoders, latent mappings and per-cell-type discriminators (see ``SCACT``)."""
from scact.model._model import MODEL_FORMAT_VERSION, SCACT, TRANSLATION_NEIGHBOURS
from scact.model._training import resolve_device

__all__ = ["SCACT", "MODEL_FORMAT_VERSION", "TRANSLATION_NEIGHBOURS", "resolve_device"]
