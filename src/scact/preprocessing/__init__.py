"""Preprocessing of each modality: QC, normalisation, features, clusters."""
