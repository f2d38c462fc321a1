"""Report blocks (notes, figures, tables), the writer that saves their PNG/TSV files, and the HTML page."""
from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from scact.io.atomic import atomic_path, write_text

#: Table rows shown in the HTML; the full table is always in report_tables/.
MAX_HTML_ROWS = 40


@dataclass
class Note:
    text: str
    kind: str = "info"  # info | missing | warning


@dataclass
class Figure:
    name: str
    title: str
    png: bytes
    caption: str = ""


@dataclass
class Table:
    name: str
    title: str
    frame: pd.DataFrame
    caption: str = ""


@dataclass
class Section:
    key: str
    title: str
    intro: str = ""
    blocks: list = field(default_factory=list)

    def missing(self, text: str) -> "Section":
        self.blocks.append(Note(text, "missing"))
        return self

    @property
    def ran(self) -> bool:
        return any(not isinstance(b, Note) or b.kind != "missing" for b in self.blocks)


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "x"


class Writer:
    """Saves every figure to report_figures/<name>.png and every table to report_tables/<name>.tsv."""

    def __init__(self, outdir: Path, dpi: int = 110):
        self.outdir = Path(outdir)
        self.figure_dir = self.outdir / "report_figures"
        self.table_dir = self.outdir / "report_tables"
        self.dpi = dpi
        self.names: set[str] = set()

    def _unique(self, name: str) -> str:
        base, i, name = safe_name(name), 1, safe_name(name)
        while name in self.names:
            i += 1
            name = f"{base}_{i}"
        self.names.add(name)
        return name

    def figure(self, fig, name: str, title: str, data: pd.DataFrame | None, caption: str = "") -> Figure:
        """Save ``fig`` and the table it was drawn from (same base name), then close it."""
        import matplotlib.pyplot as plt

        name = self._unique(name)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=self.dpi, bbox_inches="tight")
        plt.close(fig)
        png = buffer.getvalue()
        with atomic_path(self.figure_dir / f"{name}.png") as tmp:
            tmp.write_bytes(png)
        if data is not None:
            self._tsv(data, self.table_dir / f"{name}.tsv")
        return Figure(name, title, png, caption)

    def table(self, frame: pd.DataFrame, name: str, title: str, caption: str = "") -> Table:
        name = self._unique(name)
        self._tsv(frame, self.table_dir / f"{name}.tsv")
        return Table(name, title, frame, caption)

    @staticmethod
    def _tsv(frame: pd.DataFrame, path: Path) -> None:
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, sep="\t", index=False)


# ------------------------------------------------------------------------------------------------ HTML
CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1d2330;background:#f6f7f9;line-height:1.45}
header{background:#23395d;color:#fff;padding:22px 40px}
header h1{margin:0 0 4px 0;font-size:26px} header p{margin:0;opacity:.85}
.layout{display:flex;align-items:flex-start}
nav{position:sticky;top:0;width:230px;flex:none;padding:18px 16px;font-size:14px;max-height:100vh;overflow:auto}
nav a{color:#23395d;text-decoration:none;display:block;padding:3px 0} nav a:hover{text-decoration:underline}
nav .sub{padding-left:14px;font-size:13px;color:#555}
nav .off{color:#999}
main{flex:1;min-width:0;padding:10px 40px 60px 10px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:14px 26px 20px;margin:16px 0}
h2{color:#23395d;border-bottom:2px solid #e3e7ee;padding-bottom:6px}
h3{margin:22px 0 6px 0;font-size:17px}
.note{padding:8px 12px;border-radius:4px;background:#eef3fb;border-left:4px solid #6b8fc7;margin:8px 0}
.note.missing{background:#f4f4f4;border-left-color:#aaa;color:#555;font-style:italic}
.note.warning{background:#fff5e6;border-left-color:#e08a00}
figure{margin:8px 0 18px 0} figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:13px;color:#555;margin-top:4px}
.tablewrap{overflow-x:auto;margin:6px 0 16px 0}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #dde1e7;padding:3px 9px;text-align:left;vertical-align:top}
th{background:#eef1f5;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafbfc}
.more{font-size:12px;color:#666}
code{background:#f0f2f5;padding:1px 4px;border-radius:3px}
"""


def format_value(value) -> tuple[str, bool]:
    """Readable cell text and whether it is numeric (right-aligned): 3 decimals, thousands separators."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "", False
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)), False
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}", True
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}", True
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
            return f"{v:.3g}", True
        return f"{v:,.3f}", True
    return str(value), False


def table_html(frame: pd.DataFrame, max_rows: int = MAX_HTML_ROWS) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for record in frame.head(max_rows).itertuples(index=False):
        cells = []
        for value in record:
            text, numeric = format_value(value)
            cells.append(f'<td class="num">{text}</td>' if numeric else f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _block_html(block) -> str:
    if isinstance(block, Note):
        return f'<div class="note {block.kind}">{html.escape(block.text)}</div>'
    if isinstance(block, Figure):
        data = base64.b64encode(block.png).decode("ascii")
        caption = f"<figcaption>{html.escape(block.caption)} <span class='more'>(report_figures/{block.name}.png)</span></figcaption>"
        return (f'<h3 id="fig-{block.name}">{html.escape(block.title)}</h3><figure>'
                f'<img alt="{html.escape(block.title)}" src="data:image/png;base64,{data}">{caption}</figure>')
    if isinstance(block, Table):
        more = (f"showing {MAX_HTML_ROWS} of {len(block.frame):,} rows; "
                if len(block.frame) > MAX_HTML_ROWS else "")
        caption = f"{html.escape(block.caption)} " if block.caption else ""
        return (f'<h3 id="tab-{block.name}">{html.escape(block.title)}</h3>'
                f'<div class="tablewrap">{table_html(block.frame)}</div>'
                f'<div class="more">{caption}{more}full table: report_tables/{block.name}.tsv</div>')
    raise TypeError(f"unknown report block {block!r}")


def render_html(sections: list[Section], title: str, subtitle: str) -> str:
    toc = []
    for s in sections:
        toc.append(f'<a href="#{s.key}"{"" if s.ran else " class=off"}>{html.escape(s.title)}'
                   f'{"" if s.ran else " (not run)"}</a>')
        for b in s.blocks:
            if isinstance(b, (Figure, Table)):
                anchor = ("fig-" if isinstance(b, Figure) else "tab-") + b.name
                toc.append(f'<a class="sub" href="#{anchor}">{html.escape(b.title)}</a>')
    body = []
    for s in sections:
        intro = f"<p>{html.escape(s.intro)}</p>" if s.intro else ""
        body.append(f'<section id="{s.key}"><h2>{html.escape(s.title)}</h2>{intro}'
                    + "".join(_block_html(b) for b in s.blocks) + "</section>")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>"
            f'<div class="layout"><nav><b>Contents</b>{"".join(toc)}</nav><main>{"".join(body)}</main></div>'
            "</body></html>\n")


def write_html(path: Path, sections: list[Section], title: str, subtitle: str) -> None:
    write_text(path, render_html(sections, title, subtitle))
