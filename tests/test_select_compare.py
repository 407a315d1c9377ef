"""rolo.select's comparison of the detection-choice rules (docs/tracking.md's table): what it reads,
what it prints, and its simulated detector's distractor."""
import re
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
    with pytest.raises(DataError, match="Car4"):                         # strict: OTB's own frame counts
        compare_rules_simulated(otb_sample, ["Car4"], strict=True, verbose=False)


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


def test_rule_errors_name_the_flag_and_list_the_rules():
    from rolo.errors import ConfigError
    from rolo.select import check_rule

    assert check_rule("target") == "target"
    with pytest.raises(ConfigError) as e:
        check_rule("iou")
    assert str(e.value) == "--select: 'iou' is not a detection-choice rule; choose one of 'confidence', 'target'"
    with pytest.raises(ConfigError, match="^--rule: 'x' "):
        check_rule("x", flag="--rule")


@pytest.mark.parametrize("box, valid", [([0.5, 0.5, 0.1, 0.2], True), ([0.5, 0.5, 0.0, 0.2], False),
                                        ([0.5, 0.5, 0.1, 0.0], False), ([0.5, 0.5, 0.0, 0.0], False),
                                        ([0.5, 0.5, -0.1, 0.2], False), ([np.nan, 0.5, 0.1, 0.2], False),
                                        ([0.5, 0.5, 0.1, np.inf], False), ([0.5, 0.5, 0.1], False)])
def test_a_reference_box_needs_finite_values_and_positive_size(box, valid):
    from rolo.select import valid_box_cxcywh_norm

    assert bool(valid_box_cxcywh_norm(box)) is valid


def test_detections_of_the_wrong_shape_are_refused_by_name():
    from rolo.select import select_confidence, select_target

    for shape in ((2, 3, 5), (2, 6)):
        for call in (select_confidence, lambda d: select_target(d, [0.5, 0.5, 0.1, 0.1])):
            with pytest.raises(ValueError, match=rf"^dets must have shape \(N, K, 6\), got {re.escape(str(shape))}$"):
                call(np.zeros(shape, np.float32))


def test_a_detection_of_confidence_zero_is_a_detection():
    from rolo.select import select_confidence

    boxes, detected = select_confidence(np.array([[[0.2, 0.3, 0.1, 0.1, 0.0, 0], PAD]], np.float32))
    assert detected.tolist() == [True] and boxes[0].tolist() == pytest.approx([0.2, 0.3, 0.1, 0.1])


def test_choose_target_edges():
    from rolo.metrics import iou_cxcywh_norm
    from rolo.select import choose_target

    ref = [0.5, 0.5, 0.2, 0.2]                                          # float64 in, float32 out
    box, found = choose_target(np.zeros((0, 6), np.float32), ref)       # no detection at all
    assert not found and box.dtype == np.float32 and box.tolist() == pytest.approx(ref)
    far = np.array([[0.1, 0.1, 0.05, 0.05, 0.9, 0]], np.float32)
    box, found = choose_target(far, ref, min_iou=0.0)                   # IoU 0 never counts, even at min_iou 0
    assert not found and box.tolist() == pytest.approx(ref)
    near = np.array([[0.55, 0.5, 0.2, 0.2, 0.9, 0]], np.float32)
    iou = float(iou_cxcywh_norm(near[:, :4], np.broadcast_to(np.asarray(ref), (1, 4)))[0])
    box, found = choose_target(near, ref, min_iou=iou)                  # exactly the least overlap counts
    assert found and box.dtype == np.float32 and box.tolist() == pytest.approx(near[0, :4].tolist())
    with pytest.raises(ValueError, match=r"^reference box must be finite with positive size, got \[.*0\.2\]$"):
        choose_target(near, [0.5, 0.5, 0, 0.2])


def test_select_target_types_and_init_error():
    from rolo.select import select_target

    dets = np.array([[[0.5, 0.5, 0.2, 0.2, 0.9, 0]], [PAD]], np.float64)
    boxes, detected = select_target(dets, [0.5, 0.5, 0.2, 0.2])
    assert boxes.dtype == np.float32 and detected.dtype == bool and detected.tolist() == [True, False]
    with pytest.raises(ValueError, match=r"^init box must be finite with positive size, got \[ *nan"):
        select_target(dets, [np.nan, 0.5, 0.2, 0.2])


class _Video:
    """A cached video as the rules read it: name, dets, gt, bbox_yolo, len()."""

    def __init__(self, n, gt0=(0.5, 0.5, 0.2, 0.2), dets=None, path=None):
        self.name = "Vid"
        if path is not None:
            self.path = path
        self.dets = np.tile(np.array(PAD, np.float32), (n, 2, 1)) if dets is None else dets
        self.gt = np.tile(np.array(gt0, np.float64), (n, 1))
        self.bbox_yolo = np.full((n, 4), 0.25, np.float64)
        self._n = n

    def __len__(self):
        return self._n


def test_target_rule_errors_name_the_cache_or_the_video():
    from rolo.select import boxes_for_videos

    with pytest.raises(DataError, match=r"^cache /c/Vid: dets.npy has shape \(3, 2, 5\), expected \(3, K, 6\); "):
        boxes_for_videos([_Video(3, dets=np.zeros((3, 2, 5)), path="/c/Vid")], "target")
    with pytest.raises(DataError, match=r"^cache Vid: dets.npy has shape \(2, 2, 6\), expected \(3, K, 6\)"):
        boxes_for_videos([_Video(3, dets=np.zeros((2, 2, 6)))], "target")
    with pytest.raises(DataError, match=r"^cache Vid: frame 1 has no valid ground truth \(\[.*\]\), "
                                        r"which the 'target' rule starts from$"):
        boxes_for_videos([_Video(3, gt0=(0.5, 0.5, 0, 0))], "target")
    boxes = boxes_for_videos([_Video(3)], "target")[0]                # every frame missed: frame 1's box held
    assert boxes.dtype == np.float32 and boxes.tolist() == [pytest.approx([0.5, 0.5, 0.2, 0.2])] * 3
    conf = boxes_for_videos([_Video(3)], "confidence")[0]              # the cached boxes, as float32
    assert conf.dtype == np.float32 and conf.tolist() == [[0.25] * 4] * 3


def test_score_rules_detected_fraction_of_a_one_frame_video():
    from rolo.select import score_rules

    dets = np.array([[[0.5, 0.5, 0.2, 0.2, 0.9, 0]]], np.float32)
    res = score_rules([{"name": "One", "dets": dets, "gt_xywh": np.array([[40.0, 40, 20, 20]]), "size": (100, 100)}])
    assert res["confidence"]["detected"] == 1.0 and res["target"]["detected"] == 1.0


def test_compare_rules_counts_a_video_in_two_splits_once_and_goes_on(tmp_path):
    names = write_synthetic_cache(tmp_path / "data", experiment=1, n_videos=3, frames=[12, 15, 9], n_train=1, n_test=1)
    train, test = tmp_path / "data" / "train", tmp_path / "data" / "test"
    shutil.copytree(train / names[0], test / names[0])               # the train video also in test, listed first
    both = compare_rules(tmp_path / "data", ["train", "test"], verbose=False)
    test_only = compare_rules(tmp_path / "data", "test", verbose=False)
    assert list(both["target"]["videos"]) == list(test_only["target"]["videos"]) == names[:2]
    for rule in ("confidence", "target"):
        assert both[rule]["detected"] == test_only[rule]["detected"]


def test_the_documented_simulated_comparison_reproduces(otb_sample):
    # docs/tracking.md, "OTB samples", noise 0.10 / 15% missed: mean over seeds 0-4 of the mean AOS / AUC
    runs = {min_iou: [compare_rules_simulated(otb_sample, seed=s, verbose=False, min_iou=min_iou) for s in range(5)]
            for min_iou in (0.2, 0.0)}

    def mean(min_iou, rule, key):
        return round(float(np.mean([r[rule]["mean"][key] for r in runs[min_iou]])), 3)

    assert (mean(0.2, "confidence", "aos"), mean(0.2, "confidence", "auc")) == (0.108, 0.111)
    assert (mean(0.2, "target", "aos"), mean(0.2, "target", "auc")) == (0.500, 0.494)
    assert (mean(0.0, "target", "aos"), mean(0.0, "target", "auc")) == (0.369, 0.367)
