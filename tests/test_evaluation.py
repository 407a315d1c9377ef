import json
import runpy

import numpy as np
import pytest
import torch

from rolo import config, evaluation, metrics, training
from rolo.boxes import NO_DETECTION_CXCYWH_NORM, cxcywh_norm_to_xywh
from rolo.errors import DataError
from rolo.model import ROLO
from rolo.synthetic_cache import write_synthetic_cache


def test_online_prediction_is_last_output_of_window_ending_at_frame():
    torch.manual_seed(0)
    model = ROLO(8, 16).eval()
    x = torch.randn(11, 12)
    with torch.inference_mode():
        out = evaluation.predict_windows(model, x, 6)
        online = evaluation.online_from_windows(out)
        assert out.shape == (6, 6, 4) and online.shape == (11, 4)
        for t in range(11):  # plain reference: run the window [max(0, t-5), t] alone
            ref = model(x[None, max(0, t - 5):t + 1])[0, -1]
            torch.testing.assert_close(online[t], ref, rtol=1e-5, atol=1e-6)
        short = evaluation.online_from_windows(evaluation.predict_windows(model, x[:4], 6))
        torch.testing.assert_close(short, model(x[None, :4])[0])


def _eval_cfg(repo_root, tmp_path, *argv):
    consts = runpy.run_path(str(repo_root / "evaluation.py"), run_name="not_main")
    base = ["--data_dir", str(tmp_path / "data"), "--checkpoint_dir", str(tmp_path / "ckpt"), "--device", "cpu",
            "--results_dir", str(tmp_path / "results"), "--otb_root", str(tmp_path / "none")]
    return config.from_script(consts, base + list(argv), checks=evaluation.CHECKS)


@pytest.fixture(scope="module")
def trained_exp3(tmp_path_factory, repo_root):
    tmp = tmp_path_factory.mktemp("exp3")
    write_synthetic_cache(tmp / "data", experiment=3, n_videos=5, frames=[30, 40, 25, 33, 20], n_train=2, n_test=1)
    consts = runpy.run_path(str(repo_root / "train_exp3.py"), run_name="not_main")
    cfg = config.from_script(consts, ["--data_dir", str(tmp / "data"), "--checkpoint_dir", str(tmp / "ckpt"),
                                      "--device", "cpu", "--epochs", "3", "--batch_size", "8", "--lr", "1e-3",
                                      "--hidden", "32"], checks=training.CHECKS)
    training.run(cfg, progress=False)
    return tmp


def test_evaluation_writes_consistent_results(repo_root, trained_exp3, capsys):
    res = evaluation.run(_eval_cfg(repo_root, trained_exp3, "--epochs", "3"), progress=False)
    out = capsys.readouterr().out
    rd = trained_exp3 / "results"
    saved = json.loads((rd / "metrics.json").read_text())
    assert saved["mode"] == "online" and saved["protocol"] == "all" and set(saved["videos"]) == {"Syn01", "Syn02", "Syn03"}
    # the result file is the online prediction; rescoring it gives the saved AOS
    from rolo import cache
    v = cache.read_video(trained_exp3 / "data" / "test" / "Syn02")
    gt = v.gt * np.array(v.image_size * 2)
    gt[:, :2] -= gt[:, 2:] / 2
    pred = np.loadtxt(rd / "Syn02.txt", delimiter=",")
    assert pred.shape == (40, 4)
    # beside it the per-frame seconds (pytracking's _time.txt): the video's prediction time over its frames
    times = np.loadtxt(rd / "Syn02_time.txt")
    assert times.shape == (40,) and (times > 0).all() and np.ptp(times) == 0
    assert times[0] == pytest.approx(saved["seconds_per_frame"]["Syn02"], abs=1e-8)  # written with 8 decimals
    assert not (rd / "got10k").exists()  # got10k's layout only for GOT-10k
    aos = metrics.iou_xywh(pred, gt).mean()
    assert aos == pytest.approx(saved["videos"]["Syn02"]["aos"], abs=1e-3)
    # experiment 3 tests on its training videos: the held-out column exists and drops frames 1, 4, 7...
    held = saved["variants"]["online/held-out"]
    assert held["mean"]["frames"] < saved["mean"]["frames"]
    assert "online held-out" in out and "report protocol" in out and "YOLO boxes" in out
    assert (rd / "success.png").stat().st_size > 0 and "mean (videos)" in (rd / "metrics.csv").read_text()
    assert res["variants"]["report"]["mean"]["frames"] > res["mean"]["frames"]  # frames counted several times
    # the constant-offset reference: the train split's mean (gt - detector) offset on the test boxes
    train = cache.read_split(trained_exp3 / "data", "train")
    d = np.concatenate([np.asarray(t.gt, float) - np.asarray(t.bbox_yolo, float) for t in train])
    off = np.nanmean(d[np.asarray(np.concatenate([t.bbox_yolo for t in train]))[:, 2] > 0], axis=0)
    np.testing.assert_allclose(saved["yolo_offset_cxcywh_norm"], off, atol=1e-9)
    yolo = np.asarray(v.bbox_yolo, float)
    fixed = cxcywh_norm_to_xywh(np.where(yolo[:, 2:3] > 0, yolo + off, yolo), v.image_size)
    assert saved["variants"]["yolo+offset"]["aos"]["Syn02"] == pytest.approx(
        np.nanmean(metrics.iou_xywh(fixed, gt)), abs=1e-9)
    assert "YOLO + offset" in out


def test_report_protocol_counts_each_window_step(repo_root, trained_exp3):
    res = evaluation.run(_eval_cfg(repo_root, trained_exp3, "--epochs", "3", "--mode", "report", "--plots", "false"),
                         progress=False)
    # windows of 6 over 30, 40 and 25 frames: (25 + 35 + 20) windows x 6 steps
    assert res["frame_weighted"]["frames"] == 6 * (25 + 35 + 20)


def test_eval_split_has_no_held_out(repo_root, trained_exp3):
    with pytest.raises(DataError, match="held-out equals all"):
        evaluation.run(_eval_cfg(repo_root, trained_exp3, "--epochs", "3", "--split", "eval",
                                 "--protocol", "held-out", "--plots", "false"), progress=False)


def test_init_gt_sets_first_frame(repo_root, trained_exp3):
    res = evaluation.run(_eval_cfg(repo_root, trained_exp3, "--epochs", "3", "--init_gt", "true",
                                   "--plots", "false"), progress=False)
    pred = np.loadtxt(trained_exp3 / "results" / "Syn01.txt", delimiter=",")
    from rolo import cache
    v = cache.read_video(trained_exp3 / "data" / "test" / "Syn01")
    w, h = v.image_size
    np.testing.assert_allclose(pred[0, 2:], v.gt[0, 2:] * [w, h], atol=0.01)
    assert res["init_gt"] is True


def test_checkpoint_mismatches_are_refused(repo_root, trained_exp3, tmp_path):
    with pytest.raises(DataError, match="checkpoint not found"):
        evaluation.run(_eval_cfg(repo_root, trained_exp3, "--epochs", "7"), progress=False)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="corrupt or not a PyTorch file"):
        evaluation.run(_eval_cfg(repo_root, trained_exp3, "--checkpoint", str(bad)), progress=False)
    other = tmp_path / "other.pth"
    torch.save(ROLO(64, 32).state_dict(), other)  # a plain state dict, as the report's code saves
    with pytest.raises(DataError, match="expects 64-d features, but the cache .* has 32-d"):
        evaluation.run(_eval_cfg(repo_root, trained_exp3, "--checkpoint", str(other)), progress=False)
    plain = tmp_path / "plain.pth"
    ck = torch.load(trained_exp3 / "ckpt" / "rolo_lstm_exp3_3.pth", weights_only=True)
    torch.save(ck["model"], plain)
    res = evaluation.run(_eval_cfg(repo_root, trained_exp3, "--checkpoint", str(plain), "--epochs", "3",
                                   "--plots", "false"), progress=False)
    assert 0 <= res["mean"]["aos"] <= 1


class _Video:  # what detector_offset reads from a cached video
    def __init__(self, gt, det):
        self.gt, self.bbox_yolo = np.asarray(gt, float), np.asarray(det, float)


def test_offset_reference_learns_a_constant_bias_and_scores_it():
    rng = np.random.default_rng(0)
    gt = np.column_stack([rng.uniform(0.3, 0.7, (20, 2)), rng.uniform(0.1, 0.3, (20, 2))])
    bias = np.array([0.01, -0.02, 0.03, 0.02])
    det = gt - bias
    det[3] = NO_DETECTION_CXCYWH_NORM  # a miss: not part of the bias, and left empty
    gt_unlabelled = gt.copy()
    gt_unlabelled[5] = np.nan  # an unlabelled frame: left out
    off = evaluation.detector_offset([_Video(gt_unlabelled, det)])
    np.testing.assert_allclose(off, bias, atol=1e-12)
    other = det + 0.05
    other[3] = NO_DETECTION_CXCYWH_NORM
    np.testing.assert_allclose(evaluation.detector_offset([_Video(gt, det)], [other]), bias - 0.05, atol=1e-12)
    assert evaluation.detector_offset([_Video(gt[:1], NO_DETECTION_CXCYWH_NORM[None])]) is None
    size = (100, 80)
    fixed = evaluation.offset_boxes_xywh(cxcywh_norm_to_xywh(det, size), off, size)
    ious = metrics.iou_xywh(fixed, cxcywh_norm_to_xywh(gt, size))
    np.testing.assert_allclose(np.delete(ious, 3), 1.0)
    assert ious[3] == 0 and fixed[3, 2] == 0  # the miss stays empty
