"""The markdown that the benchmark reports share (benchmarks/heldout.py, benchmarks/evaluate_snareseq.py):
methods x metrics as mean ± sd over seeds, and each headline metric's verdict against its target and the
baselines of the same run. Both take the rows of a results TSV (method, metric, value, one per seed) and a
list of (metric, label, target operator, target) tuples."""
from __future__ import annotations

from typing import NamedTuple

import pandas as pd


def mean_sd_table(metrics: pd.DataFrame, methods, columns, mark_fewer_seeds: bool = False) -> str:
    """One row per method (in the given order), one column per metric of ``columns``: the mean over seeds,
    ± the sd when there are two or more; with ``mark_fewer_seeds`` a cell from fewer seeds than the table's
    fullest cell says how many (e.g. a baseline run on one seed only)."""
    agg = metrics.groupby(["method", "metric"])["value"].agg(["mean", "std", "count"])
    most = int(agg["count"].max())
    lines = ["| method | " + " | ".join(label for _, label, _, _ in columns) + " |",
             "|" + "---|" * (len(columns) + 1)]
    for method in methods:
        cells = []
        for metric, _, _, _ in columns:
            if (method, metric) not in agg.index:
                cells.append("")
                continue
            mean, std, count = agg.loc[(method, metric)]
            text = f"{mean:.3f}" + (f" ± {std:.3f}" if count > 1 else "")
            if mark_fewer_seeds and count < most:
                text += f" ({int(count)} seed{'s' if count > 1 else ''})"
            cells.append(text)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


class Verdict(NamedTuple):
    """A headline metric of the best candidate method (mean over seeds) against its target and baselines."""
    label: str
    op: str
    target: float
    method: str
    value: float
    met: bool
    baselines: list[tuple[str, float]]  # (name, mean) of each baseline that has the metric
    not_beaten: list[str]  # baselines at least as good as the method

    def baselines_text(self) -> str:
        return ", ".join(f"{name} {value:.3f}" for name, value in self.baselines)


def verdicts(metrics: pd.DataFrame, headline, candidates, baselines) -> list[Verdict]:
    """A verdict per headline metric that has a target and a candidate method with rows; the candidate with
    the best mean stands for the model (``op`` '<=': lower is better, '>=': higher)."""
    means = metrics.groupby(["method", "metric"])["value"].mean()
    found = []
    for metric, label, op, target in headline:
        values = {m: means[m, metric] for m in candidates if (m, metric) in means.index}
        if op is None or not values:
            continue
        better = (lambda a, b: a < b) if op == "<=" else (lambda a, b: a > b)
        method = min(values, key=values.get) if op == "<=" else max(values, key=values.get)
        value = values[method]
        others = [(m, means[m, metric]) for m in baselines if (m, metric) in means.index]
        found.append(Verdict(label, op, target, method, value,
                             met=value <= target if op == "<=" else value >= target, baselines=others,
                             not_beaten=[m for m, v in others if not better(value, v)]))
    return found
