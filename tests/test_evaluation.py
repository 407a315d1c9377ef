import json
import runpy

import numpy as np
import pytest
import torch

from rolo import config, evaluation, metrics, training
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
    aos = metrics.iou_xywh(pred, gt).mean()
    assert aos == pytest.approx(saved["videos"]["Syn02"]["aos"], abs=1e-3)
    # experiment 3 tests on its training videos: the held-out column exists and drops frames 1, 4, 7...
    held = saved["variants"]["online/held-out"]
    assert held["mean"]["frames"] < saved["mean"]["frames"]
    assert "online held-out" in out and "report protocol" in out and "YOLO boxes" in out
    assert (rd / "success.png").stat().st_size > 0 and "mean (videos)" in (rd / "metrics.csv").read_text()
    assert res["variants"]["report"]["mean"]["frames"] > res["mean"]["frames"]  # frames counted several times


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
