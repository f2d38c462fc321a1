"""Plot helpers: readable defaults, point size and alpha scaled by the number of points, category colours."""
from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 9,
                     "ytick.labelsize": 9, "legend.fontsize": 9, "axes.spines.top": False,
                     "axes.spines.right": False, "figure.dpi": 100})

MODALITY_COLOURS = {"rna": "#1f77b4", "atac": "#d62728"}


def point_style(n: int) -> dict:
    """Marker size and alpha so that 100 points and 100,000 points both stay readable."""
    n = max(int(n), 1)
    return {"s": float(np.clip(3000.0 / n, 0.5, 25.0)), "alpha": float(np.clip(60.0 / np.sqrt(n), 0.25, 0.9)),
            "linewidths": 0, "rasterized": n > 5000}


def category_colours(names) -> dict:
    names = list(names)
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    if len(names) > 20:
        return {name: plt.get_cmap("gist_ncar")(i / len(names)) for i, name in enumerate(names)}
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def legend_outside(ax, title: str | None = None, n_items: int = 0) -> None:
    """Legend to the right of the axes (never over dense points); markers large enough to see."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    legend = ax.legend(handles, labels, title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                       frameon=False, markerscale=1.0, ncol=1 if len(labels) <= 18 else 2)
    for handle in legend.legend_handles:
        if hasattr(handle, "set_sizes"):
            handle.set_sizes([36])
        if hasattr(handle, "set_alpha"):
            handle.set_alpha(1.0)


def chromosome_key(name: str):
    """Natural order: chr1, chr2, ..., chr10, ..., chrX, chrY, chrM, then the rest."""
    core = re.sub(r"^chr", "", str(name), flags=re.IGNORECASE)
    if core.isdigit():
        return (0, int(core), "")
    order = {"X": 1, "Y": 2, "M": 3, "MT": 3}
    return (1, order.get(core.upper(), 9), core)


def log_bins(values, n: int = 50):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if len(values) == 0:
        return n
    low, high = values.min(), values.max()
    if high <= low:
        return n
    return np.logspace(np.log10(low), np.log10(high), n)
