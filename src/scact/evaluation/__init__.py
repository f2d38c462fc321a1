"""Metrics and baselines that score scACT's alignment and translations."""
