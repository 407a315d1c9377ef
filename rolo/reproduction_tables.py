"""REPRODUCTION.md and REPRODUCTION.csv: the report's Tables 1-4 with our numbers beside its own.

Each table keeps the report's rows in the report's order and its columns (10, 30, 100 epochs;
Table 4: original ROLO and the report's ROLO), with our column next to each of the report's.
The report's values are printed as the report prints them (three decimals, from
:mod:`rolo.reference`); under each table, each column's mean, and the mean difference
(ours - report) over the rows where both have a number. Our numbers are each evaluation's
primary AOS (metrics.json ``videos``), which follows the checkpoint's mode: the online one by
default, the report's every-window scoring in report-code mode. Each table is a
:class:`rolo.tables.Table`, printed by that module's Markdown and CSV renderers.
"""
from __future__ import annotations

from pathlib import Path

from . import cache, reference
from .errors import DataError
from .reportcode import Behaviour
from .tables import Table, format_table, load_run, record_table, render_csv, render_markdown

TITLES = {1: "Table 1: experiment 1 (22 training videos, 8 test videos), AOS",
          2: "Table 2: experiment 2 (1/3 of the frames of the 30 videos), AOS",
          3: "Table 3: experiment 3 (all frames, 1/3 of the ground truths), AOS",
          4: "Table 4: original ROLO, the report's ROLO (experiment 3, 100 epochs) and ours"}
SWITCH_TEXT = ("`--report_code true` turns on, at window-building time and in the checkpoints it trains: "
               "an all-zero feature with the [0.5, 0.5, 0, 0] box on frames without a detection; N - 6 training "
               "windows per video (their coordinate loop drops each video's last window); the report's heatmap "
               "variant (binary grids with edges truncated to whole cells, loss and score on the last step, "
               "windows ending on an unlabelled frame dropped); and every window's outputs scored, each frame up "
               "to SEQ_LEN times (their evaluation.py). The caches are the same in both modes.")
CSV_HEADER = ["table", "sequence", "column", "ours", "report", "ours_minus_report"]


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def load_aos(path: Path) -> tuple[dict[str, float | None], dict] | tuple[None, None]:
    """Per-video primary AOS and the whole metrics.json of one evaluation, or (None, None) where
    the stage has not written a readable one (:func:`rolo.tables.load_run`)."""
    try:
        result = load_run(path)
    except DataError:
        return None, None
    return {n: m.get("aos") for n, m in result["videos"].items()}, result


def epoch_pairs(ours: list[int]) -> list[tuple[int, int | None]]:
    """(report's epochs, our epochs or None) for each of the report's columns: the same count when
    we trained it; otherwise ours, in order, against the report's last columns (a quick run's 1
    and 2 epochs stand beside its 30 and 100), and None where we have nothing to set beside it."""
    report = list(reference.REPORT_EPOCHS)
    if set(report) <= set(ours):
        return [(n, n) for n in report]
    mine = list(ours[-len(report):])
    return list(zip(report, [None] * (len(report) - len(mine)) + mine))


class PairedTable:
    """Rows x (label, ours, report) column pairs, with means and mean differences underneath."""

    def __init__(self, title: str, rows: list[str], pairs: list[tuple[str, dict, dict]], ours_label: str = "ours"):
        self.title, self.rows, self.pairs, self.ours_label = title, rows, pairs, ours_label

    def summary(self):
        """Per pair: (mean ours, mean report, mean of ours - report over rows with both, rows with both)."""
        out = []
        for _, ours, rep in self.pairs:
            both = [r for r in self.rows if ours.get(r) is not None and rep.get(r) is not None]
            diff = _mean([ours[r] - rep[r] for r in both])
            out.append((_mean([ours.get(r) for r in self.rows]), _mean([rep.get(r) for r in self.rows]), diff, len(both)))
        return out

    def table(self) -> Table:
        """The rows, then two footer rows: ``mean`` (each column's) and ``ours - report`` (the mean
        difference under our column, and over how many rows)."""
        s = self.summary()
        if len({id(ours) for _, ours, _ in self.pairs}) == 1 and len(self.pairs) > 1:
            # Table 4's layout: the report's columns, then ours once; the differences under ours.
            columns = {label: rep for label, _, rep in self.pairs} | {self.ours_label: self.pairs[0][1]}
            mean = {label: m_r for (label, _, _), (_, m_r, _, _) in zip(self.pairs, s)} | {self.ours_label: s[0][0]}
            diffs = "; ".join(f"{d:+.3f} vs {label} ({n} rows)" for (label, _, _), (_, _, d, n) in zip(self.pairs, s)
                              if d is not None) or None
            diff = {self.ours_label: diffs}
        else:
            columns, mean, diff = {}, {}, {}
            for (label, ours, rep), (m_o, m_r, d, n) in zip(self.pairs, s):
                columns |= {f"{label} ours": ours, f"{label} report": rep}
                mean |= {f"{label} ours": m_o, f"{label} report": m_r}
                diff[f"{label} ours"] = None if d is None else f"{d:+.3f} ({n} rows)"
        return format_table(self.rows, columns, mean_row=False, mark_best=None, row_header="Secuencia",
                            title=self.title, footer={"mean": mean, "ours - report": diff})

    def markdown(self) -> str:
        return render_markdown(self.table(), heading=3)

    def csv_records(self, table: int):
        """Long-format records under :data:`CSV_HEADER`: one per (column, row), then the columns' means."""
        for label, ours, rep in self.pairs:
            for r in self.rows:
                o, p = ours.get(r), rep.get(r)
                yield [table, r, label, o, p, None if o is None or p is None else o - p]
        for (label, _, _), (m_o, m_r, d, _) in zip(self.pairs, self.summary()):
            yield [table, "mean", label, m_o, m_r, d]


def experiment_table(plan, e: int) -> PairedTable:
    rows = list(reference.report_sequences(e))
    pairs = []
    for rep_epochs, our_epochs in epoch_pairs(plan.epochs):
        ours = (load_aos(plan.results(e, our_epochs, "test"))[0] if our_epochs else None) or {}
        rows += [n for n in ours if n not in rows]
        label = f"{rep_epochs} ep" if rep_epochs == our_epochs else f"{rep_epochs} ep (ours: {our_epochs or '-'})"
        pairs.append((label, ours, reference.report_aos(e, rep_epochs)))
    return PairedTable(TITLES[e], rows, pairs)


def table4(plan) -> PairedTable:
    ours, _ = load_aos(plan.results(3, plan.epochs[-1], "test"))
    ours = ours or {}
    rows = [n for n in reference.original_rolo_aos()] + [n for n in ours if n not in reference.original_rolo_aos()]
    return PairedTable(TITLES[4], rows, [("ROLO", ours, reference.original_rolo_aos()),
                                         ("ROLO (nuestro)", ours, reference.table4_report_column())],
                       ours_label=f"ours (exp 3, {plan.epochs[-1]} ep)")


def extra_table(plan) -> Table:
    """Our runs the report has no numbers for: the eval videos, and ROLO-heatmap."""
    records = []
    for e, n, split, head in plan.evaluations():
        if split == "test" and head == "coord":
            continue
        aos, result = load_aos(plan.results(e, n, split, head))
        if aos is None:
            continue
        name = f"exp {e}, {n} ep" + (", heatmap" if head == "heatmap" else "")
        records.append([name, split, ", ".join(aos), _mean(aos.values()), result["mode"]])
    return record_table(["run", "split", "videos", "mean AOS", "mode"], records,
                        title="Runs the report gives no number for (eval videos, ROLO-heatmap)")


def write_reproduction(plan, est: dict, clock: dict, yolo_runs: int, stages) -> dict:
    tables = {e: experiment_table(plan, e) for e in plan.experiments}
    if 3 in plan.experiments:
        tables[4] = table4(plan)
    behaviour = Behaviour.from_settings(plan.cfg)
    cfg = plan.cfg
    md = ["# Reproduction of the report's Tables 1-4", "",
          f"Mode: **{plan.mode}** ({behaviour.describe()}). {SWITCH_TEXT}", "",
          f"Settings: OTB_ROOT `{cfg.OTB_ROOT}`, LIST_FILE `{cfg.LIST_FILE}`, WEIGHTS `{cfg.WEIGHTS}`, IMG_SIZE "
          f"{cfg.IMG_SIZE}, CONF {cfg.CONF}, SEQ_LEN {cfg.SEQ_LEN}, batch {cfg.TRAIN_BATCH_SIZE}, LR {cfg.LR}, "
          f"HIDDEN {cfg.HIDDEN}, epochs {', '.join(map(str, plan.epochs))}"
          + (f", QUICK ({cfg.QUICK_FRAMES} frames per video: a plumbing check, not numbers)" if cfg.QUICK else "")
          + ".", "",
          "Our number is each evaluation's primary AOS on the test split (per video, mean IoU over its "
          "frames); the report's is printed as the report prints it. `-`: no number (a video the report's "
          "table does not list, or one this run did not evaluate). Under each table: each column's mean, "
          "and the mean of (ours - report) over the rows where both have a number.", ""]
    md += [tables[t].markdown() for t in sorted(tables)]
    md += [render_markdown(extra_table(plan), heading=3)]
    s = est["seconds"]
    md += ["### Time", "",
           f"Estimated before the run on {est['device']}: {sum(s.values()):.0f} s ({est['seconds_per_frame'] * 1000:.1f} "
           f"ms per frame through YOLO, {est['seconds_per_window'] * 1000:.2f} ms per training window). Measured: "
           + ", ".join(f"{k} {v:.0f} s" for k, v in clock.items()) + f". YOLO passes this run: {yolo_runs}; "
           f"stages skipped as finished: {', '.join(stages.skipped) or 'none'}.", ""]
    long_csv = record_table(CSV_HEADER, (r for t in sorted(tables) for r in tables[t].csv_records(t)))
    text = "\n".join(md)
    for folder in (plan.root, plan.mode_dir):
        Path(folder).mkdir(parents=True, exist_ok=True)
        cache.write_text_atomic(Path(folder) / "REPRODUCTION.md", text)
        cache.write_text_atomic(Path(folder) / "REPRODUCTION.csv", render_csv(long_csv))
    print(f"\nwrote {plan.root / 'REPRODUCTION.md'} and .csv ({plan.mode} mode; also in {plan.mode_dir})")
    for t in sorted(tables):
        for (label, _, _), (m_o, m_r, d, n) in zip(tables[t].pairs, tables[t].summary()):
            print(f"  Table {t}, {label}: mean ours {_fmt(m_o)}, report {_fmt(m_r)}, "
                  f"ours - report {('%+.3f' % d) if d is not None else '-'} over {n} rows")
    return {"tables": {t: tables[t].summary() for t in tables}, "markdown": text, "mode": plan.mode}
