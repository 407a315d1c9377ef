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


PAD = [0.5, 0.5, 0, 0, -1, -1]


def test_confidence_rule_reads_only_the_first_row():
    from rolo.select import select_boxes

    dets = np.array([[[0.2, 0.3, 0.1, 0.1, 0.9, 0], PAD], [PAD, PAD], [[0.6, 0.6, 0.2, 0.2, 0.4, 2], PAD]], np.float32)
    boxes, detected = select_boxes(dets, "confidence")
    assert boxes.dtype == np.float32 and detected.tolist() == [True, False, True]
    np.testing.assert_array_equal(boxes, np.array([[0.2, 0.3, 0.1, 0.1], [0.5, 0.5, 0, 0], [0.6, 0.6, 0.2, 0.2]],
                                                  np.float32))
    with pytest.raises(ValueError, match="^the 'target' rule needs the first frame's box$"):
        select_boxes(dets, "target")


def test_score_rules_counts_detected_frames_and_starts_from_frame_1():
    from rolo.select import score_rules

    gt = np.array([[10, 10, 20, 20], [40, 40, 20, 20], [40, 40, 20, 20], [40, 40, 20, 20]], np.float64)
    size = (100, 100)
    # frame 1: nothing; then a box on the target of frame 1 and, more confident, one on frames 2-4's box
    on_first, on_later = [0.2, 0.2, 0.2, 0.2, 0.5, 0], [0.5, 0.5, 0.2, 0.2, 0.9, 0]
    dets = np.array([[PAD, PAD], [on_later, on_first], [on_later, on_first], [PAD, PAD]], np.float32)
    res = score_rules([{"name": "V", "dets": dets, "gt_xywh": gt, "size": size}])
    assert res["confidence"]["detected"] == 0.5 and res["target"]["detected"] == 0.5
    # the target rule starts from frame 1's box and stays on the box that overlaps it (wrong here):
    # frame 1 is right, frames 2-4 are not
    assert res["target"]["videos"]["V"]["aos"] == pytest.approx(0.25)
    assert res["confidence"]["videos"]["V"]["aos"] == pytest.approx(0.5)


def test_simulated_detector_rows():
    from rolo.select import simulated_dets

    n = 400
    tgt = np.tile([0.3, 0.4, 0.1, 0.2], (n, 1))
    dis = np.tile([0.7, 0.6, 0.1, 0.2], (n, 1))
    dets = simulated_dets(tgt, dis, np.random.default_rng(0), noise=0.0)
    assert dets.shape == (n, 5, 6) and dets.dtype == np.float32
    conf = dets[..., 4]
    assert (np.diff(conf, axis=1)[conf[:, 1:] >= 0] <= 0).all()            # most confident first
    pad = conf < 0
    np.testing.assert_array_equal(dets[pad], np.tile(np.float32(PAD), (pad.sum(), 1)))
    assert (pad.sum(axis=1) == np.where(conf[:, :4].min(axis=1) >= 0, 1, 2)).all()   # 4 boxes, or 3 when missed
    np.testing.assert_array_equal(dets[:, 0, :4], np.float32(dis))          # the distractor is the most confident
    assert ((conf[:, 0] >= 0.6) & (conf[:, 0] <= 0.9)).all()
    found = (np.abs(dets[..., :4] - np.float32(tgt)[:, None]).max(axis=2) == 0) & (conf >= 0)
    assert (found.sum(axis=1) <= 1).all() and (conf[found] >= 0.3).all() and (conf[found] <= 0.6).all()
    assert 0.1 < 1 - found.any(axis=1).mean() < 0.2                         # misses 15% of frames
    clutter = (conf >= 0) & ~found
    clutter[:, 0] = False
    assert ((conf[clutter] >= 0.05) & (conf[clutter] <= 0.3)).all()
    xy, wh = dets[clutter][:, :2], dets[clutter][:, 2:4]
    assert ((xy >= 0.1) & (xy <= 0.9)).all() and ((wh >= 0.05) & (wh <= 0.3)).all()
    noisy = simulated_dets(tgt, dis, np.random.default_rng(0), noise=0.1, miss_rate=0.0, top_k=2)
    assert noisy.shape == (n, 2, 6)
    err = noisy[:, 1, :2] - np.float32(tgt[:, :2])                        # the target: second, never missed
    np.testing.assert_allclose(err.std(axis=0) / tgt[0, 2:], [0.1, 0.1], rtol=0.15)
    np.testing.assert_allclose(np.log(noisy[:, 1, 2:4] / tgt[:, 2:]).std(axis=0), [0.1, 0.1], rtol=0.15)
    assert abs(np.log(noisy[:, 1, 2:4] / tgt[:, 2:]).mean()) < 0.02 and abs(err.mean()) < 0.005
