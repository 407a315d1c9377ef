"""reproduce.py: every table from one command, resumable, with the report's numbers beside ours."""
import csv
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from rolo import reference
from rolo.config import Config
from rolo.reproduction_tables import CSV_HEADER, TITLES, PairedTable, epoch_pairs, write_reproduction
from rolo.synthetic import make_benchmark


def test_epoch_columns_pair_ours_with_the_reports():
    assert epoch_pairs([10, 30, 100]) == [(10, 10), (30, 30), (100, 100)]
    assert epoch_pairs([1, 2]) == [(10, None), (30, 1), (100, 2)]  # a quick run stands beside the last columns


def test_table_means_and_differences_use_the_rows_both_have():
    t = PairedTable("t", ["A", "B", "C"], [("10 ep", {"A": 0.5, "C": 0.1}, {"A": 0.25, "B": 0.75})])
    (mean_ours, mean_report, diff, n), = t.summary()
    assert (mean_ours, mean_report, diff, n) == (pytest.approx(0.3), 0.5, 0.25, 1)
    md = t.markdown()
    assert "| B | - | 0.750 |" in md and "+0.250 (1 rows)" in md


def test_table_markdown_is_rolo_tables_markdown():
    t = PairedTable("t", ["A", "B"], [("10 ep", {"A": 0.5}, {"A": 0.25, "B": 0.75}), ("30 ep", {}, {"B": 0.5})])
    assert t.markdown() == "\n".join([
        "### t", "",
        "| Secuencia | 10 ep ours | 10 ep report | 30 ep ours | 30 ep report |",
        "|:---|---:|---:|---:|---:|",
        "| A | 0.500 | 0.250 | - | - |",
        "| B | - | 0.750 | - | 0.500 |",
        "| **mean** | 0.500 | 0.500 | - | 0.500 |",
        "| **ours - report** | +0.250 (1 rows) |  | - |  |", ""])


class FakePlan:
    """What write_reproduction reads of a reproduce.Plan: folders, settings, epochs and evaluations."""

    experiments, epochs, mode = [1, 3], [1, 2], "default"

    def __init__(self, root):
        self.root, self.mode_dir = root, root / "default"
        self.cfg = Config(OTB_ROOT="otb", LIST_FILE="list.txt", WEIGHTS="w.pt", IMG_SIZE=64, CONF=0.1, SEQ_LEN=6,
                          TRAIN_BATCH_SIZE=4, LR=0.001, HIDDEN=16, QUICK=False)

    def results(self, e, n, split, head="coord"):
        return self.mode_dir / "eval" / f"exp{e}_{n}_{split}_{head}"

    def evaluations(self):
        return [(e, n, s, "coord") for e in self.experiments for n in self.epochs for s in ("test", "eval")]


def test_reproduction_files_from_the_evaluations_metrics(tmp_path):
    plan = FakePlan(tmp_path)
    for (e, n, split, head), aos in zip(plan.evaluations(), (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)):
        folder = plan.results(e, n, split, head)
        folder.mkdir(parents=True)
        videos = {"Gym": aos, "Extra": aos / 2} if split == "test" else {"Boy": aos}
        (folder / "metrics.json").write_text(json.dumps({"videos": {v: {"aos": a} for v, a in videos.items()},
                                                         "mode": "online"}))
    est = {"seconds": {"extract": 1.0}, "device": "cpu", "seconds_per_frame": 0.01, "seconds_per_window": 0.001}
    result = write_reproduction(plan, est, {"extract 1": 2.0}, 0, SimpleNamespace(skipped=[]))
    md = (tmp_path / "REPRODUCTION.md").read_text()
    assert md == (tmp_path / "default" / "REPRODUCTION.md").read_text() == result["markdown"]
    for t in (1, 3, 4):
        assert f"### {TITLES[t]}" in md
    assert "| Gym | - | 0.228 | 0.100 | 0.244 | 0.300 | 0.291 |" in md  # quick epochs beside 30 and 100
    assert "| Gym | 0.599 | 0.697 | 0.700 |" in md and "| Extra | - | - | 0.350 |" in md  # Table 4: ours last
    assert "| exp 1, 1 ep | eval | Boy | 0.200 | online |" in md
    rows = list(csv.DictReader((tmp_path / "REPRODUCTION.csv").open()))
    assert list(rows[0]) == CSV_HEADER
    gym = next(r for r in rows if (r["table"], r["sequence"], r["column"]) == ("1", "Gym", "100 ep (ours: 2)"))
    assert (float(gym["ours"]), float(gym["report"]), float(gym["ours_minus_report"])) == (0.3, 0.291, 0.009)
    mean = next(r for r in rows if (r["table"], r["sequence"], r["column"]) == ("4", "mean", "ROLO"))
    assert float(mean["ours"]) == pytest.approx(0.525) and float(mean["report"]) == pytest.approx(0.565, abs=1e-3)
    assert float(mean["ours_minus_report"]) == pytest.approx(0.7 - 0.599)  # over Gym, the one row both have


@pytest.mark.slow
def test_quick_run_writes_the_four_tables_and_a_rerun_skips_every_stage(repo_root, tmp_path):
    names = make_benchmark(tmp_path / "otb", n_sequences=4, frames=20, size=(96, 72), seed=3, progress=False)
    env = dict(os.environ, YOLO_OFFLINE="1", YOLO_CONFIG_DIR=str(tmp_path / "yolo_cfg"), MPLBACKEND="Agg")
    argv = [sys.executable, "reproduce.py", "--otb_root", str(tmp_path / "otb"), "--list_file",
            str(tmp_path / "otb" / "list.txt"), "--out_dir", str(tmp_path / "out"), "--weights", "yolov8n.yaml",
            "--img_size", "64", "--conf", "1e-6", "--n_train", "2", "--n_test", "1", "--hidden", "16",
            "--quick", "--quick_frames", "19", "--device", "cpu"]
    first = subprocess.run(argv, cwd=repo_root, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "estimated time on cpu" in first.stdout and "YOLO passes this run: 4" in first.stdout  # once per video
    # experiments 2 and 3 take every pass from the store, and say so
    assert first.stdout.count("(0 frames through YOLO; ") == 2, first.stdout
    assert "detections reused from the shared store" in first.stdout
    md = (tmp_path / "out" / "quick" / "REPRODUCTION.md").read_text()
    for title in ("Table 1", "Table 2", "Table 3", "Table 4"):
        assert f"### {title}:" in md
    assert "Mode: **default**" in md and "| CarScale | - | 0.009 |" in md  # the report's number as printed
    assert (tmp_path / "out" / "quick" / "REPRODUCTION.csv").read_text().startswith("table,sequence,column,ours")
    again = subprocess.run(argv, cwd=repo_root, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and "stages run: 0" in again.stdout and "YOLO passes this run: 0" in again.stdout
    assert "[skip] train 3: finished earlier" in again.stdout
    report = subprocess.run(argv + ["--report_code"], cwd=repo_root, env=env, capture_output=True, text=True,
                            timeout=900)
    assert report.returncode == 0 and "[skip] extract 1" in report.stdout  # the caches serve both modes
    assert "Mode: **report_code**" in (tmp_path / "out" / "quick" / "REPRODUCTION.md").read_text()
    assert len(names) == 4 and len(reference.report_sequences(1)) == 8


def test_table_4_sets_ours_once_beside_the_reports_two_columns():
    ours = {"Human2": 0.7}
    t = PairedTable("Table 4", ["Human2", "Gym"], [("ROLO", ours, {"Human2": 0.545, "Gym": 0.599}),
                                                   ("ROLO (nuestro)", ours, {"Human2": 0.812, "Gym": 0.697})],
                    ours_label="ours (exp 3, 100 ep)")
    md = t.markdown()
    assert "| Secuencia | ROLO | ROLO (nuestro) | ours (exp 3, 100 ep) |" in md
    assert "| Human2 | 0.545 | 0.812 | 0.700 |" in md and "| Gym | 0.599 | 0.697 | - |" in md
    assert "+0.155 vs ROLO (1 rows); -0.112 vs ROLO (nuestro) (1 rows)" in md


def test_the_training_speed_is_the_median_of_several_timings(monkeypatch):
    """One timing of 20 steps swung from 7 to 95 ms a window on a shared CPU; the median of 5 resists one slow."""
    import torch

    from rolo import reproduce

    ticks = iter([0, 0] + [t for per_step in (1, 100, 2, 3, 4) for t in (0, 10 * per_step)])  # warm-up, then 5 x 10
    monkeypatch.setattr(reproduce.time, "perf_counter", lambda: next(ticks))
    cfg = Config(HIDDEN=8, LR=1e-3, TRAIN_BATCH_SIZE=2, SEQ_LEN=3)
    assert reproduce.time_training_step(4, cfg, "coord", torch.device("cpu")) == 3 / 2  # median step / batch
    assert next(ticks, None) is None  # every timing was taken
