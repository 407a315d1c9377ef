import csv
import io
import json
import runpy
import subprocess
import sys

import numpy as np
import pytest

from rolo import reference
from rolo.errors import ConfigError, DataError
from rolo.metrics import sequence_metrics, summarize
from rolo.tables import (
    aos_table,
    compare_runs,
    format_table,
    load_run,
    record_table,
    render_csv,
    render_markdown,
    render_text,
)


# ---- reference numbers --------------------------------------------------------

def otb30(repo_root):
    return (repo_root / "otb30_list.txt").read_text().split()


def test_reference_row_counts_and_names(repo_root):
    names = otb30(repo_root)
    assert len(reference.report_aos(1, 10)) == 8
    for e in (2, 3):
        for ep in (10, 30, 100):
            assert len(reference.report_aos(e, ep)) == 30
    assert len(reference.original_rolo_aos()) == 30
    # The report's 30 test videos are the list file's first 30, experiment 1's the last 8 of those.
    assert set(reference.report_aos(2, 100)) == set(names[:30])
    assert set(reference.report_aos(3, 100)) == set(names[:30])
    assert set(reference.original_rolo_aos()) == set(names[:30])
    assert set(reference.report_aos(1, 100)) == set(names[22:30])
    assert "Suv" in reference.report_aos(3, 10) and "SUV" not in reference.report_aos(3, 10)


def test_reference_spot_checks_and_order():
    assert reference.report_aos(1, 10)["CarScale"] == 0.009
    assert reference.report_aos(1, 100)["Skater2"] == 0.220
    assert reference.report_aos(2, 30)["Suv"] == 0.597
    assert reference.report_aos(2, 100)["BlurCar3"] == 0.464
    assert reference.report_aos(3, 10)["David3"] == 0.075
    assert reference.report_aos(3, 30)["Dog"] == 0.559
    assert reference.report_aos(3, 100)["Girl2"] == 0.784
    assert reference.original_rolo_aos()["Jump"] == 0.547
    assert reference.original_rolo_aos()["Car4"] == 0.768
    assert list(reference.report_aos(1, 30))[:2] == ["CarScale", "Dancer"]
    assert list(reference.report_aos(3, 100))[:3] == ["Human2", "Human9", "Gym"]
    assert list(reference.report_aos(3, 100))[-1] == "Girl2"
    assert reference.report_sequences(2) == list(reference.report_aos(2, 10))


def test_reference_missing_columns():
    assert reference.report_aos(3, 50) is None
    assert reference.report_aos(4, 100) is None
    assert reference.report_sequences(7) is None


def test_reference_means_match_the_report_text():
    # "AOS prom 0.6781 vs 0.565" in the report's conclusions.
    assert np.mean(list(reference.report_rolo_aos().values())) == pytest.approx(0.6781, abs=1e-3)
    assert np.mean(list(reference.original_rolo_aos().values())) == pytest.approx(0.565, abs=1e-3)
    # Table 4's "ROLO (nuestro)" is Table 3's 100-epoch column.
    assert reference.table4_report_column() == reference.report_aos(3, 100)


def test_reference_returns_fresh_dicts():
    reference.report_aos(3, 100)["Car4"] = -1
    assert reference.report_aos(3, 100)["Car4"] == 0.856


# ---- format_table and renderers ----------------------------------------------

def example():
    return format_table(["a", "b", "c"], {"X": {"a": 1, "b": 2, "c": 3}, "Y": {"a": 2, "b": None, "c": float("nan")}})


def test_format_table_values_best_and_mean():
    t = example()
    assert t.rows == ["a", "b", "c", "mean (3/1)"]
    assert t.values[:3] == [[1, 2], [2, None], [3, None]]
    assert t.values[3] == [2.0, 2.0]
    assert t.best[0] == {1}
    assert t.best[1] == set() and t.best[2] == set()   # a lone value is not "best"
    assert t.best[3] == set()                          # means over different rows are not ranked


def test_format_table_mean_labels_and_ties():
    t = format_table(["a", "b"], {"X": {"a": 0.5, "b": 0.7}, "Y": {"a": 0.5004, "b": 0.2}})
    assert t.rows[-1] == "mean"
    assert t.best[0] == {0, 1}                         # equal at 3 digits
    assert t.best[1] == {0}
    assert t.values[-1] == [pytest.approx(0.6), pytest.approx(0.3502)]
    assert t.best[-1] == {0}
    t = format_table(["a", "b", "c"], {"X": {"a": 1, "b": 3}, "Y": {"a": 4, "b": 0}})
    assert t.rows[-1] == "mean (2)" and t.values[-1] == [2, 2]
    t = format_table(["a"], {"X": {"a": 1}, "Y": {"a": 3}}, mark_best="min", mean_row=False)
    assert t.rows == ["a"] and t.best == [{0}]
    t = format_table(["a"], {"X": {"a": 1}, "Y": {"a": 3}}, mark_best=None)
    assert not any(t.best)
    with pytest.raises(ValueError):
        format_table(["a"], {"X": {}}, mark_best="best")


def test_render_text_aligns_marks_and_dashes():
    text = render_text(example())
    lines = text.splitlines()
    assert lines[0].split() == ["sequence", "X", "Y"]
    row_a = next(line for line in lines if line.startswith("a "))
    assert row_a.split() == ["a", "1.000", "2.000*"]
    row_b = next(line for line in lines if line.startswith("b "))
    assert row_b.split() == ["b", "2.000", "-"]
    # Numbers of one column end at the same character position.
    assert row_a.index("1.000") == row_b.index("2.000")
    assert row_a.index("2.000*") + 4 == row_b.index("-")
    assert "mean (3/1)" in lines[-2] and lines[-1] == "* best in row"


def test_render_markdown_bolds_best():
    md = render_markdown(example()).splitlines()
    assert md[0] == "| sequence | X | Y |"
    assert md[1] == "|:---|---:|---:|"
    assert md[2] == "| a | 1.000 | **2.000** |"
    assert md[3] == "| b | 2.000 | - |"
    assert md[-1] == "| **mean (3/1)** | 2.000 | 2.000 |"   # a summary row's label is bold


def footed():
    return format_table(["a", "b"], {"X": {"a": 0.5, "b": 0.25}, "Y": {"a": 0.75, "b": 0.5}}, title="T|1",
                        footer={"X - Y": {"X": -0.25, "Y": "a | b"}, "count": {"Y": None}})


def test_format_table_footer_rows_follow_the_mean():
    t = footed()
    assert t.rows == ["a", "b", "mean", "X - Y", "count"] and t.summary_rows == 3
    assert t.values[3:] == [[-0.25, "a | b"], ["", None]]     # unnamed column blank, None missing
    assert t.best[2] == {1} and t.best[3:] == [set(), set()]  # the mean ranked, footer rows never
    t = format_table(["a"], {"X": {"a": 1.0}}, mean_row=False, footer={"n": {"X": 1}})
    assert t.rows == ["a", "n"] and t.summary_rows == 1
    assert format_table(["a"], {"X": {"a": 1.0}}).summary_rows == 1
    with pytest.raises(ValueError, match="Z"):
        format_table(["a"], {"X": {"a": 1.0}}, footer={"n": {"Z": 1}})


def test_renderers_print_footers_and_text_cells():
    md = render_markdown(footed(), heading=3).splitlines()
    assert md[:2] == ["### T|1", ""]
    assert md[5] == "| b | 0.250 | **0.500** |"
    assert md[6:] == ["| **mean** | 0.375 | **0.625** |", "| **X - Y** | -0.250 | a \\| b |", "| **count** |  | - |"]
    assert render_markdown(footed()).splitlines()[0] == "T|1"
    text = render_text(footed()).splitlines()
    rules = [i for i, line in enumerate(text) if set(line) == {"-"}]
    assert [text[i + 1].split()[0] for i in rules] == ["a", "mean"]  # under the header, above the summary
    assert text[-2].split() == ["count", "-"] and text[-3].split() == ["X", "-", "Y", "-0.250", "a", "|", "b"]
    rows = list(csv.reader(io.StringIO(render_csv(footed()))))
    assert rows[4:] == [["X - Y", "-0.25", "a | b"], ["count", "", ""]]


def test_record_table_keeps_records_as_given():
    t = record_table(["table", "sequence", "ours"], [[1, "Gym", 0.5], [1, "Gym", float("nan")], ["2", "Dog", None]],
                     title="long")
    assert t.rows == ["1", "1", "2"] and t.columns == ["sequence", "ours"] and t.row_header == "table"
    assert t.values == [["Gym", 0.5], ["Gym", None], ["Dog", None]]
    assert not any(t.best) and t.summary_rows == 0 and t.title == "long"
    assert render_csv(t) == "table,sequence,ours\n1,Gym,0.5\n1,Gym,\n2,Dog,\n"
    assert render_markdown(t).splitlines()[4:] == ["| 1 | Gym | 0.500 |", "| 1 | Gym | - |", "| 2 | Dog | - |"]
    with pytest.raises(ValueError, match="record 1 has 2 fields"):
        record_table(["a", "b", "c"], [[1, 2, 3], [1, 2]])


def test_render_csv_round_trips():
    t = format_table(["a", "b"], {"x, y": {"a": 0.123456789, "b": None}}, digits=2)
    rows = list(csv.reader(io.StringIO(render_csv(t))))
    assert rows[0] == ["sequence", "x, y"]
    assert rows[1] == ["a", "0.123456789"]
    assert rows[2] == ["b", ""]
    assert rows[3][0] == "mean (1)" and float(rows[3][1]) == pytest.approx(0.123456789)


def test_aos_table_exp3_has_report_and_original():
    t = aos_table({"Boy": 0.7, "Car4": 0.9, "Human2": 0.5}, 3, 100)
    assert t.columns == ["ours", "report (exp 3, 100 ep)", "original ROLO"]
    assert t.rows[:3] == ["Human2", "Car4", "Boy"]     # report order, then ours
    assert t.values[0] == [0.5, 0.812, 0.545]
    assert t.values[2] == [0.7, None, None]
    assert t.rows[3] == "mean (3/2/2)"
    assert t.values[3][1] == pytest.approx((0.812 + 0.856) / 2)


def test_aos_table_other_experiments():
    t = aos_table({"Gym": 0.3}, 1, 30)
    assert t.columns == ["ours", "report (exp 1, 30 ep)"] and t.values[0] == [0.3, 0.244]
    assert t.rows[-1] == "mean"
    assert aos_table({"Gym": 0.3}, 2, 50).columns == ["ours"]


# ---- compare ------------------------------------------------------------------

def write_run(folder, experiment, epochs, shifts, mode="online"):
    """A results folder whose videos have predictions shifted right by ``shifts[name]`` px."""
    videos = {}
    for name, shift in shifts.items():
        gt = np.tile([10.0, 10.0, 40.0, 40.0], (20, 1))
        pred = gt + [shift, 0, 0, 0]
        videos[name] = sequence_metrics(pred, gt)
    folder.mkdir(parents=True)
    run = {"settings": {}, "experiment": experiment, "epochs": epochs, "split": "test", "mode": mode,
           "protocol": "all", "init_gt": False, "videos": videos, **summarize(videos)}
    (folder / "metrics.json").write_text(json.dumps(run))
    return run


@pytest.fixture()
def two_runs(tmp_path):
    a = write_run(tmp_path / "runA", 3, 100, {"Car4": 0, "Human2": 20, "Boy": 10})
    b = write_run(tmp_path / "runB", 3, 30, {"Car4": 10, "Human2": 0}, mode="report")
    return tmp_path, a, b


def compare_script(repo_root):
    return runpy.run_path(str(repo_root / "compare.py"), run_name="compare")


def test_compare_end_to_end(two_runs, repo_root, capsys):
    tmp, a, b = two_runs
    script = compare_script(repo_root)
    out = tmp / "cmp"
    result = script["main"](script, [str(tmp / "runA"), str(tmp / "runB"), "--reference", "all", "--out", str(out)])
    printed = capsys.readouterr().out
    label_a, label_b = "runA (exp 3, 100 ep, online, all)", "runB (exp 3, 30 ep, report, all)"
    t = result.per_video
    assert t.columns == [label_a, label_b, "report (exp 3, 100 ep)", "report (exp 3, 30 ep)", "original ROLO"]
    assert t.rows == ["Human2", "Car4", "Boy", "mean (3/2/2/2/2)"]
    assert t.values[1][:2] == [1.0, pytest.approx(0.6)]      # 40 px box shifted 10 px: 30*40/2000
    assert t.values[1][2:] == [0.856, 0.811, 0.768]
    assert t.values[0][0] == pytest.approx(1 / 3)            # shifted 20 px: 20*40/2400
    assert t.values[2][1] is None
    assert t.values[3][0] == pytest.approx(a["mean"]["aos"])
    assert result.summary.rows == [label_a, label_b]
    assert result.summary.values[0] == [pytest.approx(a["mean"]["aos"]), pytest.approx(a["frame_weighted"]["aos"])]
    assert label_a in printed and "original ROLO" in printed and "1.000*" in printed

    md = (out / "compare.md").read_text()
    assert "| Car4 | **1.000** |" in md and "frame-weighted" in md
    rows = list(csv.reader(io.StringIO((out / "compare.csv").read_text())))
    assert rows[0] == ["sequence", label_a, label_b, "report (exp 3, 100 ep)", "report (exp 3, 30 ep)", "original ROLO"]
    assert rows[3][0] == "Boy" and float(rows[3][1]) == pytest.approx(0.6) and rows[3][2:4] == ["", ""]
    for name in ("compare_success.png", "compare_precision.png"):
        assert (out / name).stat().st_size > 1000


def test_compare_other_metric_and_no_reference(two_runs):
    tmp, a, _ = two_runs
    res = compare_runs([tmp / "runA"], metric="p20")
    assert res.per_video.columns == ["runA (exp 3, 100 ep, online, all)"]
    assert [v[0] for v in res.per_video.values[:3]] == [a["videos"][n]["p20"] for n in ("Human2", "Car4", "Boy")]
    assert res.files == []
    assert res.notes == []


def test_compare_notes_a_missing_report_column(tmp_path):
    write_run(tmp_path / "r", 2, 50, {"Gym": 0})
    res = compare_runs([tmp_path / "r"], reference_columns="report")
    assert res.per_video.columns == ["r (exp 2, 50 ep, online, all)"]
    assert "experiment 2, 50 epochs" in res.notes[0]


def test_compare_user_errors(two_runs, tmp_path):
    tmp, _, _ = two_runs
    (tmp / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        load_run(tmp / "empty")
    with pytest.raises(DataError, match="does not exist"):
        compare_runs([tmp / "nowhere"])
    (tmp / "bad").mkdir()
    (tmp / "bad" / "metrics.json").write_text("{not json")
    with pytest.raises(DataError, match="metrics.json"):
        load_run(tmp / "bad")
    with pytest.raises(ConfigError, match="--reference"):
        compare_runs([tmp / "runA"], metric="auc", reference_columns="all")
    with pytest.raises(ConfigError, match="--metric"):
        compare_runs([tmp / "runA"], metric="iou")
    with pytest.raises(ConfigError):
        compare_runs([])


def test_compare_script_errors(two_runs, repo_root):
    tmp, _, _ = two_runs
    (tmp / "empty").mkdir()

    def run(*args):
        return subprocess.run([sys.executable, str(repo_root / "compare.py"), *args], cwd=tmp,
                              capture_output=True, text=True)

    p = run("runA", "empty")
    assert p.returncode == 2 and p.stderr.startswith("error: empty") and "metrics.json" in p.stderr
    p = run("runA", "--metric", "iou")
    assert p.returncode == 2 and "--metric" in p.stderr
    p = run("--reference", "report")
    assert p.returncode == 2 and "RESULTS_DIR" in p.stderr
    p = run("runA", "--out=o")
    assert p.returncode == 0, p.stderr
    assert (tmp / "o" / "compare.md").is_file() and "runA (exp 3" in p.stdout
