"""Preprocessing of each modality: QC, normalisation, clustering, labels, and their reconciliation."""
