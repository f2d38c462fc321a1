"""Products of a trained model: translations both ways and the joint embedding of both modalities.

Layered above the model (it reads ``io``, ``preprocessing`` and ``model``) and below ``evaluation`` and
``report``, which read what it writes. ``translate`` holds the step, ``plots`` its UMAP figures.
"""
from scact.translation.plots import plot_joint_embedding
from scact.translation.translate import joint_embedding, run_translate

__all__ = ["joint_embedding", "plot_joint_embedding", "run_translate"]
