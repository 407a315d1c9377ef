"""rolo.select's comparison of the detection-choice rules (docs/tracking.md's table): what it reads,
what it prints, and its simulated detector's distractor."""
import shutil

import numpy as np
import pytest

from rolo.errors import DataError
from rolo.select import compare_rules, compare_rules_simulated, crossing_distractor_xywh, print_comparison
from rolo.synthetic import make_benchmark
from rolo.synthetic_cache import write_synthetic_cache


def _rule(videos, mean, frames, detected):
    return {"videos": videos, "mean": mean, "frame_weighted": frames, "detected": detected}


def test_print_comparison_text(capsys):
    result = {
        "confidence": _rule({"Bird1": {"aos": 0.25, "auc": 0.125}, "a_long_sequence_name": {"aos": None, "auc": None}},
                            {"aos": 0.25, "auc": 0.125}, {"aos": 0.2, "auc": 0.1}, 1.0),
        "target": _rule({"Bird1": {"aos": 0.75, "auc": 0.5}, "a_long_sequence_name": {"aos": 0.5, "auc": 0.375}},
                        {"aos": 0.625, "auc": 0.4375}, {"aos": 0.6, "auc": 0.4}, 0.875),
    }
    print_comparison(result, "the title")
    w = len("a_long_sequence_name")
    cell = "  {:>14s}  {:>14s}".format
    assert capsys.readouterr().out.splitlines() == [
        "the title",
        "  " + "video".ljust(w) + cell("confidence AOS", "confidence AUC") + cell("target AOS", "target AUC"),
        "  " + "Bird1".ljust(w) + cell("0.250", "0.125") + cell("0.750", "0.500"),
        "  " + "a_long_sequence_name" + cell("-", "-") + cell("0.500", "0.375"),
        "  " + "mean (videos)".ljust(w) + cell("0.250", "0.125") + cell("0.625", "0.438"),
        "  " + "mean (frames)".ljust(w) + cell("0.200", "0.100") + cell("0.600", "0.400"),
        "  " + "detected".ljust(w) + cell("1.000", "") + cell("0.875", ""),
    ]
    print_comparison({"target": _rule({"B": {"aos": 1.0, "auc": 1.0}}, {"aos": 1.0, "auc": 1.0},
                                      {"aos": 1.0, "auc": 1.0}, 1.0)})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "  " + "video".ljust(14) + cell("target AOS", "target AUC")   # no title line; width 14 at least
    assert out[1] == "  " + "B".ljust(14) + cell("1.000", "1.000")


def test_compare_rules_reads_each_video_once_and_says_where(tmp_path, capsys):
    names = write_synthetic_cache(tmp_path / "data", experiment=2, n_videos=3, frames=15, n_train=1, n_test=1)
    both = compare_rules(tmp_path / "data", ["train", "test"], verbose=False)
    assert list(both["target"]["videos"]) == names[:2]     # train and test hold the same two videos
    one = compare_rules(tmp_path / "data")                 # "test" by default, given as a string
    assert one["target"]["videos"] == both["target"]["videos"] or list(one["target"]["videos"]) == names[:2]
    out = capsys.readouterr().out
    assert out.startswith(f"detection choice on the cached detections of {tmp_path / 'data'} (test)\n")
    # min_iou reaches the rule: with an impossible overlap every frame after the first keeps frame 1's box
    strict = compare_rules(tmp_path / "data", "test", rules=["target"], verbose=False, min_iou=1.01)
    assert strict["target"]["detected"] < one["target"]["detected"]


def test_crossing_distractor_by_hand():
    gt = np.array([[10, 20, 10, 5]] * 4, np.float64)
    # shifted by 2 x width x cos(2 pi t / 4) = 20, 0, -20, 0 pixels
    np.testing.assert_allclose(crossing_distractor_xywh(gt), gt + np.array([[20, 0, 0, 0], [0, 0, 0, 0],
                                                                            [-20, 0, 0, 0], [0, 0, 0, 0]]), atol=1e-12)
    np.testing.assert_allclose(crossing_distractor_xywh(gt, amplitude=1.0, periods=0.5)[:, 0],
                               10 + 10 * np.cos(np.pi * np.arange(4) / 4))
    assert crossing_distractor_xywh(np.zeros((0, 4))).shape == (0, 4)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("sel") / "bench"
    make_benchmark(root, n_sequences=3, frames=20, size=(96, 72), seed=0, progress=False)
    return root


def test_compare_rules_simulated_reads_the_list_then_folders_then_names(bench, tmp_path, capsys):
    listed = compare_rules_simulated(bench)
    assert list(listed["target"]["videos"]) == (bench / "list.txt").read_text().split()
    assert capsys.readouterr().out.startswith(f"detection choice on {bench} with a simulated detector and a more "
                                              f"confident distractor (seed 0)\n")
    copy = tmp_path / "copy"
    shutil.copytree(bench, copy)
    (copy / "list.txt").write_text("Syn03\nSyn01\n")
    assert list(compare_rules_simulated(copy, verbose=False)["target"]["videos"]) == ["Syn03", "Syn01"]
    (copy / "list.txt").unlink()
    assert list(compare_rules_simulated(copy, verbose=False)["target"]["videos"]) == ["Syn01", "Syn02", "Syn03"]
    assert list(compare_rules_simulated(copy, ["Syn02"], verbose=False)["target"]["videos"]) == ["Syn02"]
    with pytest.raises(DataError, match=f"^no sequences found under {tmp_path / 'empty'}$"):
        (tmp_path / "empty").mkdir()
        compare_rules_simulated(tmp_path / "empty")


def test_compare_rules_simulated_seed_distractor_and_detector(bench, tmp_path):
    base = compare_rules_simulated(bench, verbose=False)
    assert base == compare_rules_simulated(bench, seed=0, verbose=False)
    assert base != compare_rules_simulated(bench, seed=1, verbose=False)
    # the detector's settings reach it: found on every frame, without noise, the target is followed exactly
    exact = compare_rules_simulated(bench, verbose=False, noise=0.0, miss_rate=0.0)
    assert exact["target"]["mean"]["aos"] == pytest.approx(1.0)
    assert base["target"]["mean"]["aos"] < 0.99
    assert compare_rules_simulated(bench, verbose=False, min_iou=1.01)["target"]["detected"] < base["target"]["detected"]
    copy = tmp_path / "nodis"
    shutil.copytree(bench, copy)
    for f in copy.glob("*/distractor_rect.txt"):                           # then the crossing distractor is used
        f.unlink()
    assert compare_rules_simulated(copy, verbose=False) != base


def test_compare_rules_simulated_accepts_shortened_otb_copies(otb_sample):
    res = compare_rules_simulated(otb_sample, verbose=False)               # Car4 and Human3 are cut short
    assert list(res["target"]["videos"]) == ["Car4", "Crossing", "Human3"]
    assert res["target"]["videos"]["Car4"]["frames"] == 100
