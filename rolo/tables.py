"""Result tables: pure formatters, plus the comparison behind ``compare.py``.

:func:`format_table` turns per-row numbers of several columns into a
:class:`Table`, :func:`record_table` a list of records (a long-format table,
a list of runs); :func:`render_text`, :func:`render_markdown` and
:func:`render_csv` print it. Nothing here reads or writes files except
:func:`load_run` and :func:`compare_runs`.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence, Union

from . import reference
from .errors import ConfigError, DataError
from .metrics import SCALAR_METRICS

REFERENCE_CHOICES = ("none", "report", "rolo", "all")
ORIGINAL_ROLO_LABEL = "original ROLO"

#: One cell: a number (printed with the table's digits), a text (printed as is) or None (missing: ``-``).
Cell = Union[float, str, None]


@dataclass(frozen=True)
class Table:
    """A rendered-ready table.

    ``values[r][c]`` is the :data:`Cell` of row ``rows[r]`` in column
    ``columns[c]``. ``best[r]`` holds the indices of the columns marked best
    in row ``r`` (ties are all marked). The last ``summary_rows`` rows
    summarise the rows above them (the mean row, then :func:`format_table`'s
    footer rows): :func:`render_text` sets them off with a rule,
    :func:`render_markdown` puts their labels in bold.
    """

    rows: list[str]
    columns: list[str]
    values: list[list[Cell]]
    best: list[frozenset[int]]
    digits: int = 3
    row_header: str = "sequence"
    title: str = ""
    summary_rows: int = 0


def _number(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


def _cell_value(v) -> Cell:
    return v if isinstance(v, str) else _number(v)


def _best_columns(values: Sequence[float | None], mark_best: str | None, digits: int) -> frozenset[int]:
    present = [(i, round(v, digits)) for i, v in enumerate(values) if v is not None]
    # One number alone is not "best" of anything.
    if mark_best is None or len(present) < 2:
        return frozenset()
    pick = max if mark_best == "max" else min
    target = pick(v for _, v in present)
    return frozenset(i for i, v in present if v == target)


def format_table(rows: Sequence[str], columns: Mapping[str, Mapping[str, float | None]], *,
                 mean_row: bool = True, mark_best: str | None = "max", digits: int = 3,
                 row_header: str = "sequence", title: str = "",
                 footer: Mapping[str, Mapping[str, Cell]] | None = None) -> Table:
    """Build a :class:`Table` with ``rows`` (in this order) and one column per ``columns`` entry.

    ``columns`` maps a column title to ``{row name: value}``; rows a column
    lacks, and None or NaN values, are missing (shown as ``-``).

    The mean row, when asked, is the mean over the rows where that column has
    a value. Its label is ``mean`` when every column with values has every
    row, ``mean (8)``
    when all columns with values have the same 8 rows, and ``mean (30/8)``
    (one count per column) otherwise; its best mark is only set when the
    columns' counts agree, so means over different rows are never ranked.

    ``mark_best``: "max", "min" or None. Values are compared after rounding to
    ``digits``, so displayed ties are all marked; a row with fewer than two
    values gets no mark.

    ``footer``: summary rows after the mean row, ``{label: {column title:
    cell}}``, for what a mean does not say (a difference between columns, a
    count). A cell is a number, a text or None (``-``); the columns a footer
    row does not name are left blank, and footer rows are never marked best.
    """
    if mark_best not in ("max", "min", None):
        raise ValueError(f"mark_best must be 'max', 'min' or None, got {mark_best!r}")
    names = list(columns)
    footer = footer or {}
    unknown = sorted({c for cells in footer.values() for c in cells} - set(names))
    if unknown:
        raise ValueError(f"footer names columns the table does not have: {', '.join(unknown)}")
    values = [[_number(columns[c].get(r)) for c in names] for r in rows]
    best = [_best_columns(v, mark_best, digits) for v in values]
    labels = list(rows)
    if mean_row:
        counts = [sum(row[c] is not None for row in values) for c in range(len(names))]
        means = [
            sum(row[c] for row in values if row[c] is not None) / n if n else None
            for c, n in enumerate(counts)
        ]
        present = {n for n in counts if n}
        if present <= {len(rows)}:
            label = "mean"
        elif len(present) == 1:
            label = f"mean ({present.pop()})"
        else:
            label = "mean (" + "/".join(map(str, counts)) + ")"
        values.append(means)
        best.append(_best_columns(means, mark_best, digits) if len(present) <= 1 else frozenset())
        labels.append(label)
    for label, cells in footer.items():
        values.append([_cell_value(cells[c]) if c in cells else "" for c in names])
        best.append(frozenset())
        labels.append(label)
    return Table(rows=labels, columns=names, values=values, best=best, digits=digits,
                 row_header=row_header, title=title, summary_rows=int(mean_row) + len(footer))


def record_table(header: Sequence[str], records: Iterable[Sequence], *, digits: int = 3,
                 title: str = "") -> Table:
    """A :class:`Table` of ``records`` in the order given, for lists rather than grids of numbers.

    ``header`` is ``[row header, column title, ...]`` and each record ``[row
    label, cell, ...]`` of the same length; a cell is a number, a text or
    None (missing). Row labels may repeat (a long-format table names its
    sequence once per column); nothing is marked best and no mean is added.
    """
    header, records = list(header), [list(r) for r in records]
    for i, record in enumerate(records):
        if len(record) != len(header):
            raise ValueError(f"record {i} has {len(record)} fields, the header {len(header)}: {record!r}")
    return Table(rows=[str(r[0]) for r in records], columns=header[1:],
                 values=[[_cell_value(v) for v in r[1:]] for r in records],
                 best=[frozenset()] * len(records), digits=digits, row_header=header[0], title=title)


def _cell(table: Table, r: int, c: int) -> str:
    v = table.values[r][c]
    if v is None:
        return "-"
    return v if isinstance(v, str) else f"{v:.{table.digits}f}"


def render_text(table: Table) -> str:
    """Aligned plain text; missing values are ``-``, the best of each row has a ``*``."""
    head = [table.row_header, *table.columns]
    body = [[label] + [_cell(table, r, c) + ("*" if c in table.best[r] else " ")
                       for c in range(len(table.columns))]
            for r, label in enumerate(table.rows)]
    widths = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
    widths[1:] = [max(w, len(h) + 1) for w, h in zip(widths[1:], head[1:])]

    def line(cells, header=False):
        first = cells[0].ljust(widths[0])
        # Headers sit over the digits, not over the '*' column.
        rest = [(cell + " " if header else cell).rjust(w) for cell, w in zip(cells[1:], widths[1:])]
        return "  ".join([first, *rest]).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    out = [table.title] if table.title else []
    out += [line(head, header=True), rule]
    n_body = len(body) - table.summary_rows
    out += [line(row) for row in body[:n_body]]
    if table.summary_rows:
        out += [rule] + [line(row) for row in body[n_body:]]
    if any(table.best):
        out.append("* best in row")
    return "\n".join(out) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(table: Table, heading: int = 0) -> str:
    """A GitHub-flavoured Markdown table; the best of each row in **bold**, and the summary rows' labels.

    ``heading``: the title as a Markdown heading of that level (3: ``### title``); 0, a plain line.
    """
    title = ("#" * heading + " " if heading else "") + table.title
    out = [title, ""] if table.title else []
    out.append("| " + " | ".join(_md_escape(h) for h in [table.row_header, *table.columns]) + " |")
    out.append("|:---|" + "---:|" * len(table.columns))
    n_body = len(table.rows) - table.summary_rows
    for r, label in enumerate(table.rows):
        cells = [f"**{_cell(table, r, c)}**" if c in table.best[r] else _md_escape(_cell(table, r, c))
                 for c in range(len(table.columns))]
        label = _md_escape(label) if r < n_body else f"**{_md_escape(label)}**"
        out.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(out) + "\n"


def render_csv(table: Table) -> str:
    """CSV with numbers to 10 decimals (no float noise), texts as they are, missing values empty,
    no best marks."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([table.row_header, *table.columns])
    for label, row in zip(table.rows, table.values):
        writer.writerow([label, *("" if v is None else v if isinstance(v, str) else repr(round(v, 10))
                                  for v in row)])
    return buf.getvalue()


def _report_order(names, experiment) -> list[str]:
    """``names`` with the report's rows for ``experiment`` first, in its order, then the rest as given."""
    names = list(dict.fromkeys(names))
    order = reference.report_sequences(experiment) or []
    first = [n for n in order if n in names]
    return first + [n for n in names if n not in first]


def reference_aos_columns(experiment: int, epochs: int) -> dict[str, dict[str, float]]:
    """The report's AOS column for (experiment, epochs) when it has one, and
    the original ROLO paper's for experiment 3; never recomputed."""
    columns = {}
    ref = reference.report_aos(experiment, epochs)
    if ref is not None:
        columns[f"report (exp {experiment}, {epochs} ep)"] = ref
    if experiment == 3:
        columns[ORIGINAL_ROLO_LABEL] = reference.original_rolo_aos()
    return columns


def aos_table(per_video_aos: Mapping[str, float | None], experiment: int, epochs: int, *,
              digits: int = 3, ours: Mapping[str, Mapping[str, float | None]] | None = None,
              title: str | None = None) -> Table:
    """Our per-video AOS next to the report's and (experiment 3) the original ROLO paper's.

    Columns: ``ours`` (or the several columns of ``ours``), ``report (exp E, N ep)``
    when the report has that column, and ``original ROLO`` for experiment 3.
    Rows are our videos, the report's table order first.
    """
    columns = dict(ours) if ours is not None else {"ours": dict(per_video_aos)}
    columns.update(reference_aos_columns(experiment, epochs))
    return format_table(_report_order(per_video_aos, experiment), columns, digits=digits,
                        title=title or f"AOS, experiment {experiment}, {epochs} epochs")


# ---- comparing results folders ----------------------------------------------

METRICS_FILE = "metrics.json"


def load_run(folder) -> dict:
    """Read ``folder/metrics.json`` (as written by the evaluation); errors name the path."""
    path = Path(folder) / METRICS_FILE
    if not path.is_file():
        what = "does not exist" if not Path(folder).exists() else f"has no {METRICS_FILE}"
        raise DataError(f"{folder}: {what}; expected a results folder written by the evaluation ({path})")
    try:
        run = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: cannot read as JSON ({e})") from None
    if not isinstance(run, dict) or not isinstance(run.get("videos"), dict):
        raise DataError(f"{path}: no 'videos' object; is this an evaluation's metrics.json?")
    return run


def run_label(folder, run: Mapping) -> str:
    """``<folder name> (exp E, N ep, mode, protocol)``, leaving out what the run does not record."""
    parts = []
    if run.get("experiment") is not None:
        parts.append(f"exp {run['experiment']}")
    if run.get("epochs") is not None:
        parts.append(f"{run['epochs']} ep")
    parts += [str(run[k]) for k in ("mode", "protocol") if run.get(k) is not None]
    name = Path(folder).resolve().name or str(folder)
    return f"{name} ({', '.join(parts)})" if parts else name


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare_runs` produced: the per-video table, a per-run
    summary (video mean vs frame-weighted), notes, and the files written."""

    per_video: Table
    summary: Table
    notes: list[str]
    files: list[Path]


def compare_table(runs: Sequence[tuple[str, Mapping]], *, metric: str = "aos",
                  reference_columns: str = "none", digits: int = 3) -> tuple[Table, Table, list[str]]:
    """Pure part of :func:`compare_runs`: ``runs`` is ``[(label, metrics.json dict), ...]``.

    Returns (per-video table, summary table, notes).
    """
    if metric not in SCALAR_METRICS:
        raise ConfigError(f"--metric: {metric!r} is not one of {', '.join(SCALAR_METRICS)}")
    if reference_columns not in REFERENCE_CHOICES:
        raise ConfigError(f"--reference: {reference_columns!r} is not one of {', '.join(REFERENCE_CHOICES)}")
    if reference_columns != "none" and metric != "aos":
        raise ConfigError(f"--reference {reference_columns}: the report and the ROLO paper give AOS only; "
                          f"use --metric aos or --reference none")
    if not runs:
        raise ConfigError("give at least one results folder")

    columns: dict[str, dict] = {}
    for label, run in runs:
        columns[label] = {name: (v or {}).get(metric) for name, v in run["videos"].items()}

    notes = []
    if reference_columns in ("report", "all"):
        keys = dict.fromkeys((run.get("experiment"), run.get("epochs")) for _, run in runs)
        for experiment, epochs in keys:
            ref = reference.report_aos(experiment, epochs)
            if ref is None:
                notes.append(f"the report has no AOS table for experiment {experiment}, {epochs} epochs")
            else:
                columns[f"report (exp {experiment}, {epochs} ep)"] = ref
    if reference_columns in ("rolo", "all"):
        columns[ORIGINAL_ROLO_LABEL] = reference.original_rolo_aos()

    names = [name for _, run in runs for name in run["videos"]]
    rows = _report_order(names, runs[0][1].get("experiment"))
    per_video = format_table(rows, columns, digits=digits, title=f"{metric} per video")

    summary_cols = {
        "video mean": {label: (run.get("mean") or {}).get(metric) for label, run in runs},
        "frame-weighted": {label: (run.get("frame_weighted") or {}).get(metric) for label, run in runs},
    }
    summary = format_table([label for label, _ in runs], summary_cols, mean_row=False, mark_best=None,
                           digits=digits, row_header="run", title=f"{metric} over each run's videos")
    return per_video, summary, notes


def _unique_labels(folders, runs) -> list[str]:
    labels = [run_label(f, r) for f, r in zip(folders, runs)]
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def compare_runs(folders: Sequence, *, metric: str = "aos", reference_columns: str = "none",
                 out=None, plots: bool = True) -> Comparison:
    """Compare the ``metrics.json`` of several results folders.

    Builds the per-video table of ``metric`` (one column per run, plus the
    reference columns asked for: "report" = the report's table for each run's
    experiment and epochs, "rolo" = the original ROLO paper, "all" = both)
    and a summary of each run's video-mean and frame-weighted ``metric``.
    When ``out`` is given, writes ``compare.md`` and ``compare.csv`` there,
    and with ``plots`` the success and precision plots of the runs' mean curves.
    """
    if not folders:
        raise ConfigError("give at least one results folder")
    runs = [load_run(f) for f in folders]
    labelled = list(zip(_unique_labels(folders, runs), runs))
    per_video, summary, notes = compare_table(labelled, metric=metric, reference_columns=reference_columns)
    files: list[Path] = []
    if out is not None:
        out = Path(out)
        try:
            out.mkdir(parents=True, exist_ok=True)
            md = render_markdown(per_video) + "\n" + render_markdown(summary)
            md += "".join(f"\nNote: {n}.\n" for n in notes)
            (out / "compare.md").write_text(md)
            (out / "compare.csv").write_text(render_csv(per_video))
        except OSError as e:
            raise DataError(f"{out}: cannot write the comparison ({e})") from None
        files += [out / "compare.md", out / "compare.csv"]
        if plots:
            files += _plot_runs(labelled, out)
    return Comparison(per_video=per_video, summary=summary, notes=notes, files=files)


def _plot_runs(labelled, out: Path) -> list[Path]:
    from .plots import plot_precision, plot_success  # matplotlib only when plotting

    mean = {label: run.get("mean") or {} for label, run in labelled}
    written = []
    succ = {label: m["success_curve"] for label, m in mean.items() if m.get("success_curve")}
    prec = {label: m["precision_curve"] for label, m in mean.items() if m.get("precision_curve")}
    if succ:
        written.append(plot_success(succ, out / "compare_success.png"))
    if prec:
        written.append(plot_precision(prec, out / "compare_precision.png"))
    return written
