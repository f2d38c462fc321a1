"""The scACT model: autoencoders, latent mappings and per-cell-type discriminators (see ``SCACT``)."""
from scact.model._model import MODEL_FORMAT_VERSION, SCACT, TRANSLATION_NEIGHBOURS

__all__ = ["SCACT", "MODEL_FORMAT_VERSION", "TRANSLATION_NEIGHBOURS"]
