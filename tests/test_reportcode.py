"""Report-code mode (rolo.reportcode): each of the report's code's behaviours, and what it changes."""
import runpy

import numpy as np
import pytest
import torch

from rolo import cache, config, evaluation, training
from rolo.heatmap import box_to_grid_report_cxcywh_norm
from rolo.model import ROLO
from rolo.otb import frame_table, read_list
from rolo.reportcode import Behaviour, folder_first_image, report_pairing_shift
from rolo.synthetic_cache import write_synthetic_cache
from rolo.windows import RamStore, frame_inputs, window_starts

REPORT = Behaviour.from_settings({"REPORT_CODE": True})


@pytest.fixture()
def undetected(tmp_path):
    """A synthetic cache whose detector found nothing on any frame (detected.npy all False)."""
    write_synthetic_cache(tmp_path / "data", experiment=1, n_videos=3, frames=20, feature_dim=8, n_train=1, n_test=1)
    path = cache.video_dir(tmp_path / "data", "test", "Syn02")
    np.save(path / "detected.npy", np.zeros(20, bool))
    return cache.read_video(path)


def test_without_detections_every_full_window_gives_the_same_output_in_report_code_mode(undetected):
    torch.manual_seed(0)
    model = ROLO(8, 16).eval()
    p = evaluation.evaluate_video(model, undetected, seq_len=6, head="coord", device="cpu", behaviour=REPORT)
    windows = p["report"]  # (W, L, 4) xywh pixels, every full window's outputs
    assert windows.shape == (15, 6, 4)
    np.testing.assert_array_equal(windows, np.broadcast_to(windows[:1], windows.shape))
    x = frame_inputs(undetected, behaviour=REPORT)
    assert not x[:, :8].any() and (x[:, 8:] == [0.5, 0.5, 0, 0]).all()  # zeros + the no-detection box
    # Our default keeps each frame's real feature, so the windows differ.
    ours = evaluation.evaluate_video(model, undetected, seq_len=6, head="coord", device="cpu")["report"]
    assert not np.allclose(ours, ours[:1])


def test_report_code_training_cuts_n_minus_6_windows_per_video():
    lengths, labelled = [10, 7, 6], np.ones(23, bool)
    assert len(window_starts(lengths, 6, labelled)) == 5 + 2 + 1                   # ours: N - 5
    assert len(window_starts(lengths, 6, labelled, drop_last=True)) == 4 + 1 + 0   # theirs: range(0, N - 6)
    assert REPORT.drop_last("coord") and not REPORT.drop_last("heatmap")  # their heatmap dataset cuts N - 5


def test_report_heatmap_keeps_windows_ending_labelled_and_scores_their_last_step(tmp_path):
    write_synthetic_cache(tmp_path / "d", experiment=3, n_videos=2, frames=13, feature_dim=8, n_train=1, n_test=1)
    videos = cache.read_split(tmp_path / "d", "train")
    ours = RamStore(videos, 6, head="heatmap")
    theirs = RamStore(videos, 6, head="heatmap", behaviour=REPORT)
    assert len(ours) == 2 * 8  # every window holds a labelled frame when every third one is
    labelled = np.concatenate([v.labelled for v in videos])
    ends = theirs.starts.numpy() + 5
    assert labelled[ends].all() and len(theirs) == labelled.reshape(2, 13)[:, 5:].sum()
    _, y, m = theirs.batch(torch.arange(len(theirs)))
    assert m[:, :-1].sum() == 0 and m[:, -1].all()  # the loss sees the last step only
    assert set(np.unique(y.numpy())) <= {0.0, 1.0}  # binary grids


def test_report_grid_truncates_cell_edges():
    g = box_to_grid_report_cxcywh_norm(np.array([[0.5, 0.5, 0.1, 0.2]])).reshape(32, 32)
    rows, cols = np.nonzero(g)
    # x: 16 -/+ 1.6 -> int(14.4) = 14 .. int(17.6) = 17; y: 16 -/+ 3.2 -> 12 .. 19, both ends included.
    assert (cols.min(), cols.max(), rows.min(), rows.max()) == (14, 17, 12, 19)
    centre = box_to_grid_report_cxcywh_norm(np.array([[0.5, 0.5, 0.0, 0.0]])).reshape(32, 32)
    assert centre.sum() == 1 and centre[16, 16] == 1  # their no-detection box is one cell, not nothing


def test_report_pairing_equals_the_correct_one_on_all_listed_sequences(repo_root):
    """Their dataloader pairs the i-th sorted image with ground-truth line i; OTB-100's frame table
    says where each folder starts. On the 33 listed sequences the two pairings agree."""
    table = frame_table()
    names = read_list(repo_root / "otb30_list.txt")
    assert len(names) == 33
    assert {n: report_pairing_shift(table[n]) for n in names} == {n: 0 for n in names}
    # BlurCar1's folder starts at its first annotated image; David's does not (not listed).
    assert folder_first_image(table["BlurCar1"]) == table["BlurCar1"].start_frame == 247
    assert report_pairing_shift(table["David"]) == 299 and "David" not in names


def _consts(repo_root, name):
    return runpy.run_path(str(repo_root / name), run_name="not_main")


def test_checkpoint_records_report_code_and_evaluation_follows_it(repo_root, tmp_path):
    write_synthetic_cache(tmp_path / "data", experiment=1, n_videos=4, frames=30, feature_dim=8, n_train=2, n_test=1)
    tr = config.from_script(_consts(repo_root, "train.py"), [
        "--data_dir", str(tmp_path / "data"), "--checkpoint_dir", str(tmp_path / "ckpt"), "--device", "cpu",
        "--epochs", "1", "--hidden", "8", "--report_code"], checks=training.CHECKS)
    path = training.run(tr, progress=False)
    assert torch.load(path, weights_only=True)["settings"]["REPORT_CODE"] is True
    base = ["--experiment", "1", "--data_dir", str(tmp_path / "data"), "--checkpoint", str(path), "--plots", "false",
            "--device", "cpu", "--results_dir", str(tmp_path / "r")]
    ev = _consts(repo_root, "evaluation.py")
    followed = evaluation.run(config.from_script(ev, base, checks=evaluation.CHECKS), progress=False)
    assert followed["mode"] == "report" and "report's code" in followed["report_code"]
    told = evaluation.run(config.from_script(ev, base + ["--report_code", "false"], checks=evaluation.CHECKS),
                          progress=False)
    assert told["mode"] == "online" and told["report_code"] == "our defaults"


def test_report_heatmap_scores_the_last_step_of_each_window(undetected):
    torch.manual_seed(0)
    model = ROLO(8, 16, "heatmap").eval()
    p = evaluation.evaluate_video(model, undetected, seq_len=6, head="heatmap", device="cpu", behaviour=REPORT)
    assert p["report"].shape == (15, 1, 4)
    np.testing.assert_array_equal(p["report_rows"][:, 0], np.arange(5, 20))  # frames 6..20, each once
    x = frame_inputs(undetected, "heatmap", behaviour=REPORT)
    assert (x[:, 8:].sum(axis=1) == 1).all()  # their no-detection box is their grid's centre cell
