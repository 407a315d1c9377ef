"""Detection-choice rules: "confidence" (the report's) and "target" (follows the target from frame 1's box)."""
import runpy
from pathlib import Path

import numpy as np
import pytest

from rolo import config, evaluation, metrics, training
from rolo.boxes import NO_DETECTION_CXCYWH_NORM, xywh_to_cxcywh_norm
from rolo.cache import VideoCache
from rolo.errors import ConfigError, DataError
from rolo.select import (boxes_for_videos, choose_target, compare_rules, compare_rules_simulated, select_boxes,
                         select_confidence, select_target, simulated_dets)
from rolo.synthetic import make_benchmark, make_distractor_scene
from rolo.synthetic_cache import write_synthetic_cache

PAD = [0.5, 0.5, 0, 0, -1, -1]


def _dets(*frames, k=3):
    """(N, k, 6) from per-frame lists of [cx, cy, w, h, conf], padded like the extractor."""
    out = np.tile(np.array(PAD, np.float32), (len(frames), k, 1))
    for t, rows in enumerate(frames):
        for j, r in enumerate(sorted(rows, key=lambda r: -r[4])):
            out[t, j] = list(r) + [0]
    return out


def test_confidence_rule_is_the_most_confident_box_or_the_sentinel():
    dets = _dets([[0.2, 0.2, 0.1, 0.1, 0.3], [0.7, 0.7, 0.2, 0.2, 0.9]], [])
    boxes, detected = select_confidence(dets)
    np.testing.assert_allclose(boxes[0], [0.7, 0.7, 0.2, 0.2])
    np.testing.assert_allclose(boxes[1], NO_DETECTION_CXCYWH_NORM)
    assert detected.tolist() == [True, False]


def test_target_rule_takes_highest_iou_not_highest_confidence():
    ref = np.array([0.3, 0.3, 0.2, 0.2])
    d = _dets([[0.32, 0.3, 0.2, 0.2, 0.2], [0.4, 0.3, 0.2, 0.2, 0.5], [0.8, 0.8, 0.3, 0.3, 0.99]])[0]
    box, found = choose_target(d, ref)
    assert found and np.allclose(box, [0.32, 0.3, 0.2, 0.2])
    # equal overlap: the more confident one (rows are sorted by confidence)
    d = _dets([[0.25, 0.3, 0.2, 0.2, 0.4], [0.35, 0.3, 0.2, 0.2, 0.6]])[0]
    box, found = choose_target(d, ref)
    assert found and np.allclose(box, [0.35, 0.3, 0.2, 0.2])


def test_nothing_overlapping_falls_back_to_previous_box_and_is_not_detected():
    init = np.array([0.2, 0.2, 0.1, 0.1])
    dets = _dets([[0.21, 0.2, 0.1, 0.1, 0.5]],          # overlaps the given box
                 [[0.8, 0.8, 0.1, 0.1, 0.9]],            # far away: keep frame 1's choice
                 [],                                     # nothing at all
                 [[0.23, 0.21, 0.1, 0.1, 0.4], [0.8, 0.8, 0.1, 0.1, 0.9]])
    boxes, detected = select_target(dets, init)
    assert detected.tolist() == [True, False, False, True]
    np.testing.assert_allclose(boxes[1], [0.21, 0.2, 0.1, 0.1], atol=1e-7)
    np.testing.assert_allclose(boxes[2], boxes[1])
    np.testing.assert_allclose(boxes[3], [0.23, 0.21, 0.1, 0.1], atol=1e-7)
    # the reference is the previous choice, not frame 1's box: a chain of small steps is followed
    # (from frame 3 on, the target no longer overlaps frame 1's box at all)
    steps = _dets(*[[[0.2 + 0.05 * t, 0.2, 0.1, 0.1, 0.5]] for t in range(1, 7)])
    chain, found = select_target(steps, init)
    assert found.all() and np.allclose(chain[:, 0], 0.2 + 0.05 * np.arange(1, 7))


def _video(dets, gt, bbox=None):
    n = len(dets)
    arrays = {"dets": dets, "gt": gt, "features": np.zeros((n, 2), np.float32),
              "bbox_yolo": select_confidence(dets)[0] if bbox is None else bbox}
    return VideoCache(path=Path("mem/Vid"), meta={"name": "Vid"}, arrays=arrays)


def _distractor_world(frames=40, seed=0, miss_rate=0.1):
    """A scene whose larger look-alike passes beside the target, and a detector that finds both,
    the look-alike always more confidently. Returns gt, distractor (N, 4 cxcywh_norm) and dets."""
    scene = make_distractor_scene(frames=frames, size=(160, 120), seed=seed)
    gt = xywh_to_cxcywh_norm(scene.target_xywh, scene.size)
    dis = xywh_to_cxcywh_norm(scene.distractor_xywh, scene.size)
    dets = simulated_dets(gt, dis, np.random.default_rng(seed), noise=0.05, miss_rate=miss_rate)
    assert len(scene.distractor_near_frames()) > 0  # the two do come close
    return gt, dis, dets


def test_target_rule_follows_the_target_past_a_more_confident_distractor():
    gt, dis, dets = _distractor_world(miss_rate=0.0)
    iou = metrics.iou_cxcywh_norm
    conf_boxes, _ = select_boxes(dets, "confidence")
    tgt_boxes, detected = select_boxes(dets, "target", gt[0])
    assert np.mean(iou(conf_boxes, dis) > 0.5) > 0.9        # the report's rule locks onto the look-alike
    assert np.mean(iou(conf_boxes, gt) > 0.5) < 0.2
    assert np.mean(iou(tgt_boxes, gt) > 0.5) > 0.9          # the target rule stays on the target
    assert detected.all()


def test_a_missed_target_does_not_hand_the_choice_to_a_touching_neighbour():
    init = np.array([0.3, 0.5, 0.2, 0.2])
    near = [0.47, 0.5, 0.2, 0.2, 0.9]                     # touches the target's box: IoU 0.08
    dets = _dets([[0.31, 0.5, 0.2, 0.2, 0.5], near],      # target found
                 [near],                                  # target missed
                 [[0.32, 0.5, 0.2, 0.2, 0.5], near])      # found again
    boxes, detected = select_target(dets, init)
    assert detected.tolist() == [True, False, True]
    np.testing.assert_allclose(boxes[:, 0], [0.31, 0.31, 0.32], atol=1e-6)
    # the plain "any overlap" rule takes the neighbour and never comes back
    boxes0, _ = select_target(dets, init, min_iou=0.0)
    np.testing.assert_allclose(boxes0[1:, 0], [0.47, 0.47], atol=1e-6)


def test_choice_never_reads_the_ground_truth_of_frames_2_to_n():
    gt, _, dets = _distractor_world()
    clean = boxes_for_videos([_video(dets, gt.astype(np.float32))], "target")[0]
    corrupt = gt.astype(np.float32).copy()
    corrupt[1:] = np.random.default_rng(1).uniform(0, 1, corrupt[1:].shape)
    corrupt[5:9] = np.nan
    np.testing.assert_array_equal(boxes_for_videos([_video(dets, corrupt)], "target")[0], clean)
    # frame 1's ground truth is the starting point, so it does matter
    moved = gt.astype(np.float32).copy()
    moved[0] = [0.9, 0.1, 0.05, 0.05]
    assert not np.array_equal(boxes_for_videos([_video(dets, moved)], "target")[0], clean)


def test_boxes_for_videos_rules_and_errors():
    gt, _, dets = _distractor_world(frames=12)
    bbox = np.random.default_rng(2).uniform(0, 1, (12, 4)).astype(np.float32)
    v = _video(dets, gt.astype(np.float32), bbox=bbox)
    np.testing.assert_array_equal(boxes_for_videos([v], "confidence")[0], bbox)  # the cached box, untouched
    with pytest.raises(ConfigError, match="--select"):
        boxes_for_videos([v], "nearest")
    no_gt = gt.astype(np.float32).copy()
    no_gt[0] = np.nan
    with pytest.raises(DataError, match="frame 1"):
        boxes_for_videos([_video(dets, no_gt)], "target")
    with pytest.raises(DataError, match="dets.npy"):
        boxes_for_videos([_video(dets[:, :, :5], gt, bbox=bbox)], "target")


def _consts(repo_root, script):
    return runpy.run_path(str(repo_root / script), run_name="not_main")


def test_training_and_evaluation_use_the_target_rule(repo_root, tmp_path):
    write_synthetic_cache(tmp_path / "data", experiment=1, n_videos=4, frames=20, n_train=2, n_test=1)
    base = ["--data_dir", str(tmp_path / "data"), "--checkpoint_dir", str(tmp_path / "ckpt"), "--device", "cpu"]
    cfg = config.from_script(_consts(repo_root, "train.py"), base + ["--epochs", "1", "--hidden", "16",
                                                                      "--batch_size", "8", "--select", "target"],
                             checks=training.CHECKS)
    ckpt = training.run(cfg, progress=False)
    ecfg = config.from_script(_consts(repo_root, "evaluation.py"),
                              base + ["--experiment", "1", "--epochs", "1", "--checkpoint", str(ckpt), "--plots",
                                      "false", "--results_dir", str(tmp_path / "res")], checks=evaluation.CHECKS)
    assert evaluation.run(ecfg, progress=False)["select"] == "target"


def test_compare_rules_on_a_cache(tmp_path, capsys):
    write_synthetic_cache(tmp_path / "data", experiment=1, n_videos=3, frames=15, n_train=1, n_test=1)
    res = compare_rules(tmp_path / "data", ["test", "eval"])
    assert set(res) == {"confidence", "target"} and set(res["target"]["videos"]) == {"Syn02", "Syn03"}
    # one true detection per frame in this cache: both rules see the same boxes where it is found
    assert res["target"]["mean"]["aos"] >= res["confidence"]["mean"]["aos"] - 1e-9
    assert "target AOS" in capsys.readouterr().out


def test_compare_rules_simulated_on_the_synthetic_benchmark(tmp_path):
    make_benchmark(tmp_path / "bench", n_sequences=2, frames=30, size=(160, 120), seed=0, progress=False)
    a = compare_rules_simulated(tmp_path / "bench", seed=3, verbose=False)
    b = compare_rules_simulated(tmp_path / "bench", seed=3, verbose=False)
    assert a["target"]["mean"]["aos"] == b["target"]["mean"]["aos"]  # seeded
    assert a["target"]["mean"]["aos"] > a["confidence"]["mean"]["aos"] + 0.2
    assert a["target"]["mean"]["auc"] > a["confidence"]["mean"]["auc"] + 0.2
