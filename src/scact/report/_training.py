"""Training section: loss curves of every term by phase, and the model's hyperparameters (model.json)."""
from __future__ import annotations

import json

import pandas as pd

from scact.report._document import Note, Section, Writer
from scact.report._inputs import Results, read_table
from scact.report._plots import plt


def _loss_figure(writer: Writer, history: pd.DataFrame):
    terms = sorted({c.split("_", 1)[1] for c in history.columns if c.startswith(("train_", "val_"))})
    terms = [t for t in terms if history.filter(like=t).notna().any().any()]
    if not terms or "epoch" not in history:
        return None
    cols = min(4, len(terms))
    rows = -(-len(terms) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    boundaries = []
    if "phase" in history:
        change = history["phase"].ne(history["phase"].shift()) & history.index.to_series().gt(0)
        boundaries = history.loc[change.to_numpy(), "epoch"].tolist()
    for ax, term in zip(axes.ravel(), terms):
        for split, style in (("train", "-"), ("val", "--")):
            column = f"{split}_{term}"
            if column in history and history[column].notna().any():
                rows_ok = history[column].notna()
                ax.plot(history.loc[rows_ok, "epoch"], history.loc[rows_ok, column], style, lw=1.5,
                        label="validation" if split == "val" else "training", marker="." if rows_ok.sum() < 30 else None)
        for b in boundaries:
            ax.axvline(b - 0.5, color="0.6", lw=0.8, ls=":")
        ax.set_title(term.replace("_", " "))
        ax.set_xlabel("epoch")
    for ax in axes.ravel()[len(terms):]:
        fig.delaxes(ax)
    fig.tight_layout()
    handles = {label: h for ax in axes.ravel() for h, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    caption = "Solid: training, dashed: validation."
    if boundaries:
        caption += " Dotted line: autoencoder phase ends, mapping + discriminator phase begins."
    return writer.figure(fig, "training_loss_curves", "Loss curves of every term", history, caption)


def training_section(results: Results, writer: Writer) -> Section:
    section = Section("training", "Training", "Autoencoders first, then mapping networks and per-type discriminators.")
    path = results.first("training_history.csv")
    history = read_table(path) if path else None
    if history is not None:
        figure = _loss_figure(writer, history)
        if figure:
            section.blocks.append(figure)
    else:
        section.missing("not run: no training_history.csv found")
    model_dir = results.model_dir()
    if model_dir is not None:
        try:
            summary = json.loads((model_dir / "model.json").read_text())
        except (OSError, json.JSONDecodeError) as err:
            section.blocks.append(Note(f"model.json unreadable: {err}", "warning"))
            return section
        rows = [(k, v) for k, v in (summary.get("hyperparameters") or {}).items()]
        rows += [(f"{k} key", v) for k, v in (summary.get("keys") or {}).items()]
        for key in ("n_genes", "n_peaks", "label_names", "shared_label_names", "batches", "label_free"):
            if key in summary:
                rows.append((key, summary[key]))
        frame = pd.DataFrame({"setting": [r[0] for r in rows],
                              "value": [", ".join(map(str, v)) if isinstance(v, list) else str(v) for _, v in rows]})
        section.blocks.append(writer.table(frame, "training_hyperparameters", "Model hyperparameters",
                                           f"From {model_dir.name}/model.json."))
    elif history is not None:
        section.blocks.append(Note("no model/model.json found: hyperparameters unknown", "missing"))
    return section
