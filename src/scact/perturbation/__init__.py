"""In-silico perturbation (integrated gradients), peak-to-gene linkage and motif activation scores."""
