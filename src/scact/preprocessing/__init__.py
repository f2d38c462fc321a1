"""Preprocessing of each modality: QC, normalisation, features, clusters."""

#: Fewest cells a sample may keep after QC: fewer cannot be clustered or trained on (the model needs as
#: many per modality), so QC refuses them at once instead of training failing minutes later.
MIN_CELLS_AFTER_QC = 10
