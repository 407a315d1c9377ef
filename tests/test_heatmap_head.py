"""ROLO-heatmap through the pipeline: model, windows, training, evaluation and Figure 7.

The grid encoding, the decoder and its IoU bound are tested in test_heatmap.py;
here the heatmap head goes through training.run, evaluation.run and
heatmap_figure.py on a learnable synthetic cache (rolo.synthetic_cache).
"""
import json
import runpy
import shutil
import warnings

import cv2
import numpy as np
import pytest
import torch

from rolo import cache, cli, config, evaluation, figures, metrics, training
from rolo.boxes import cxcywh_norm_to_xywh
from rolo.errors import DataError
from rolo.heatmap import GRID, box_to_grid_cxcywh_norm, grid_to_box_cxcywh_norm, heatmap_loss, overlay_heatmap
from rolo.model import ROLO, build_from_checkpoint, load_checkpoint
from rolo.otb import load_image
from rolo.plots import GT_COLOR_BGR, PRED_COLOR_BGR, TITLE_HEIGHT
from rolo.synthetic import make_benchmark
from rolo.synthetic_cache import write_synthetic_cache
from rolo.windows import frame_inputs, frame_targets

CELLS = GRID * GRID
LENGTHS = [30, 36, 24, 30, 20]  # Syn01..Syn05; experiment 3 with 2 train + 1 test: train = test = Syn01..03
EPOCHS = 12
SIZE = (160, 120)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models run far faster on one thread than on contended cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def train_cfg(repo_root, data_dir, ckpt_dir, *argv):
    consts = runpy.run_path(str(repo_root / "train_exp3.py"), run_name="not_main")
    base = ["--data_dir", str(data_dir), "--checkpoint_dir", str(ckpt_dir), "--device", "cpu", "--hidden", "32",
            "--batch_size", "8", "--head", "heatmap"]
    return config.from_script(consts, base + list(argv), checks=training.CHECKS)


def eval_cfg(repo_root, tmp, *argv):
    consts = runpy.run_path(str(repo_root / "evaluation.py"), run_name="not_main")
    base = ["--data_dir", str(tmp / "data"), "--checkpoint_dir", str(tmp / "ckpt"), "--device", "cpu",
            "--otb_root", str(tmp / "none"), "--epochs", str(EPOCHS)]
    return config.from_script(consts, base + list(argv), checks=evaluation.CHECKS)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, repo_root):
    """A synthetic experiment-3 cache and a heatmap checkpoint trained on it for EPOCHS epochs."""
    tmp = tmp_path_factory.mktemp("heatmap_head")
    write_synthetic_cache(tmp / "data", experiment=3, n_videos=5, frames=LENGTHS, n_train=2, n_test=1,
                          image_size=SIZE)
    path = training.run(train_cfg(repo_root, tmp / "data", tmp / "ckpt", "--epochs", str(EPOCHS), "--lr", "1e-2"),
                        progress=False)
    return tmp, path


@pytest.fixture
def coord_checkpoint(tmp_path):
    """A coordinate-head checkpoint for the same 32-d cache (a plain state dict, as the report saves)."""
    path = tmp_path / "coord.pth"
    torch.save(ROLO(32, 16, "coord").state_dict(), path)
    return path


# ---------------------------------------------------------------- model, windows, loss


def test_heatmap_model_reads_grids_and_outputs_raw_logits():
    torch.manual_seed(0)
    model = ROLO(16, 8, "heatmap")
    assert model.lstm.input_size == 16 + CELLS and model.head.out_features == CELLS
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in model.modules())
    out = model(torch.randn(2, 5, 16 + CELLS))
    assert out.shape == (2, 5, CELLS)
    assert (out < 0).any() and (out > 0).any()  # logits, not probabilities (the sigmoid is in the loss)


def test_heatmap_windows_hold_grids(trained):
    tmp, _ = trained
    v = cache.read_video(tmp / "data" / "train" / "Syn01")
    x, y = frame_inputs(v, "heatmap"), frame_targets(v, "heatmap")
    assert x.shape == (30, 32 + CELLS) and y.shape == (30, CELLS)
    np.testing.assert_array_equal(x[:, :32], v.features)
    np.testing.assert_array_equal(x[:, 32:], box_to_grid_cxcywh_norm(np.asarray(v.bbox_yolo)))
    lab = np.asarray(v.labelled)
    assert lab.sum() == 10 and not lab.all()  # experiment 3: every third label
    np.testing.assert_array_equal(y[lab], box_to_grid_cxcywh_norm(np.asarray(v.gt)[lab]))
    assert not y[~lab].any()  # unlabelled rows carry no target (and are masked out of the loss)


def test_training_loss_is_the_heatmap_loss_on_labelled_steps():
    torch.manual_seed(1)
    logits = torch.randn(3, 4, CELLS) * 3
    target = torch.rand(3, 4, CELLS)
    every = torch.ones(3, 4, dtype=torch.bool)
    assert training.masked_loss(logits, target, every, "heatmap").item() == pytest.approx(
        heatmap_loss(logits, target).item(), rel=1e-6)
    some = torch.tensor([[True, False, False, True]] * 3)
    assert training.masked_loss(logits, target, some, "heatmap").item() == pytest.approx(
        heatmap_loss(logits[some], target[some]).item(), rel=1e-6)


def test_evaluation_decode_applies_the_sigmoid_once():
    box = np.array([0.4, 0.55, 0.3, 0.2])
    binary = box_to_grid_cxcywh_norm(box, soft=False)
    logits = np.where(binary > 0, 40.0, -1e4).astype(np.float32)  # far below exp's float32 range
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decoded = evaluation.decode(logits[None], "heatmap", 0.5)
    np.testing.assert_allclose(decoded[0], grid_to_box_cxcywh_norm(binary), atol=1e-6)
    assert metrics.iou_cxcywh_norm(decoded, box[None])[0] > 0.85
    soft = np.random.default_rng(0).normal(0, 2, (3, CELLS)).astype(np.float32)
    np.testing.assert_allclose(evaluation.decode(soft, "heatmap", 0.3),
                               grid_to_box_cxcywh_norm(1 / (1 + np.exp(-soft.astype(np.float64))), 0.3), atol=1e-6)


# ---------------------------------------------------------------- training


def test_heatmap_training_lowers_the_loss(trained):
    tmp, path = trained
    assert path.name == f"rolo_heatmap_exp3_{EPOCHS}.pth"
    ckpt = load_checkpoint(path)
    h = ckpt["loss_history"]
    assert ckpt["model_info"]["head"] == "heatmap" and ckpt["settings"]["HEAD"] == "heatmap"
    assert len(h) == EPOCHS and h[-1] < 0.3 * h[0]
    # Below the best constant map (each cell's mean over the labelled frames): the LSTM uses its inputs.
    videos = cache.read_split(tmp / "data", "train")
    grids = np.concatenate([frame_targets(v, "heatmap")[np.asarray(v.labelled)] for v in videos])
    assert h[-1] < 0.8 * np.mean((grids - grids.mean(0)) ** 2)


def test_heatmap_resume_equals_uninterrupted(repo_root, trained, tmp_path, monkeypatch):
    data = trained[0] / "data"
    args = ["--epochs", "4", "--save_every", "2", "--lr", "1e-2"]
    full = training.run(train_cfg(repo_root, data, tmp_path / "full", *args), progress=False)

    real_save = training.save_atomic

    def save_then_die(state, path):
        real_save(state, path)
        if state["epoch"] == 2:
            raise KeyboardInterrupt  # killed right after the epoch-2 checkpoint

    monkeypatch.setattr(training, "save_atomic", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        training.run(train_cfg(repo_root, data, tmp_path / "part", *args), progress=False)
    monkeypatch.setattr(training, "save_atomic", real_save)
    last = tmp_path / "part" / "rolo_heatmap_exp3_4.last.pth"
    assert load_checkpoint(last)["epoch"] == 2
    resumed = training.run(train_cfg(repo_root, data, tmp_path / "part", *args, "--resume", "true"), progress=False)
    a, b = load_checkpoint(full), load_checkpoint(resumed)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["loss_history"] == b["loss_history"] and len(b["loss_history"]) == 4

    # A resumable file of the other head (renamed by hand) is refused by name, not loaded into the wrong model.
    shutil.copy(last, tmp_path / "part" / "rolo_lstm_exp3_4.last.pth")
    with pytest.raises(DataError, match="trained with HEAD='heatmap', this run has 'coord'"):
        training.run(train_cfg(repo_root, data, tmp_path / "part", *args, "--head", "coord", "--resume", "true"),
                     progress=False)


# ---------------------------------------------------------------- evaluation


def _keys(d):
    """The nested key structure of a metrics dict, with per-video names dropped."""
    if not isinstance(d, dict):
        return None
    return {k: _keys(v) for k, v in d.items() if not k.startswith("Syn")}


def test_evaluation_of_a_heatmap_checkpoint_writes_every_metric(repo_root, trained, tmp_path, capsys):
    tmp, _ = trained
    cfg = eval_cfg(repo_root, tmp, "--head", "heatmap", "--results_dir", str(tmp_path / "hm"))
    assert evaluation.resolve_paths(config.Config(cfg, RESULTS_DIR=""))[1].name == f"exp3_{EPOCHS}_test_heatmap"
    res = evaluation.run(cfg, progress=False)
    out = capsys.readouterr().out
    rd = tmp_path / "hm"
    saved = json.loads((rd / "metrics.json").read_text())
    assert saved["head"] == "heatmap" and saved["checkpoint"].endswith(f"rolo_heatmap_exp3_{EPOCHS}.pth")
    assert set(saved["variants"]) == {"online", "report", "yolo", "online/held-out", "report/held-out",
                                      "yolo/held-out", "yolo+offset"}
    for name, variant in saved["variants"].items():
        for key in ("aos", "auc", "sr50", "p20"):
            assert 0.0 <= variant["mean"][key] <= 1.0, (name, key)
    for column in ("online held-out", "report protocol", "YOLO boxes", "head heatmap"):
        assert column in out
    assert (rd / "success.png").stat().st_size > 0 and (rd / "precision.png").stat().st_size > 0
    assert "mean (videos)" in (rd / "metrics.csv").read_text()
    # The result file is the decoded online box of every frame; rescoring it gives the saved AOS.
    v = cache.read_video(tmp / "data" / "test" / "Syn02")
    pred = np.loadtxt(rd / "Syn02.txt", delimiter=",")
    assert pred.shape == (36, 4)
    gt = cxcywh_norm_to_xywh(np.asarray(v.gt, np.float64), v.image_size)
    assert metrics.iou_xywh(pred, gt).mean() == pytest.approx(saved["videos"]["Syn02"]["aos"], abs=1e-3)
    # Trained for a few seconds, the decoded boxes already overlap the targets (an untrained head gives ~0).
    assert res["mean"]["aos"] > 0.3

    # Same metrics and tables as the coordinate head: a coord checkpoint's metrics.json has the same layout.
    coord = training.run(train_cfg(repo_root, tmp / "data", tmp_path / "ck", "--epochs", "1", "--head", "coord"),
                         progress=False)
    ref = evaluation.run(eval_cfg(repo_root, tmp, "--checkpoint", str(coord), "--epochs", "1", "--plots", "false",
                                  "--results_dir", str(tmp_path / "coord")), progress=False)
    drop = {"settings", "checkpoint"}
    assert _keys({k: v for k, v in res.items() if k not in drop}) == _keys({k: v for k, v in ref.items()
                                                                             if k not in drop})


def test_head_follows_the_checkpoint_and_a_given_mismatch_is_a_clear_error(repo_root, trained, coord_checkpoint):
    tmp, path = trained
    with pytest.raises(config.ConfigError, match=r"--head coord conflicts with checkpoint .*, which was trained "
                                                 r"with HEAD='heatmap'"):
        evaluation.run(eval_cfg(repo_root, tmp, "--checkpoint", str(path), "--head", "coord"), progress=False)
    with pytest.raises(config.ConfigError, match="--head heatmap conflicts .* HEAD='coord'"):
        evaluation.run(eval_cfg(repo_root, tmp, "--checkpoint", str(coord_checkpoint), "--head", "heatmap"),
                       progress=False)
    # Without --head the checkpoint's head is used (the report's heatmap checkpoint needs no flag).
    result = evaluation.run(eval_cfg(repo_root, tmp, "--checkpoint", str(path), "--plots", "false",
                                     "--results_dir", str(tmp / "nohead")), progress=False)
    assert result["head"] == "heatmap"
    with pytest.raises(config.ConfigError, match="--heatmap_threshold"):
        eval_cfg(repo_root, tmp, "--heatmap_threshold", "0")


# ---------------------------------------------------------------- Figure 7


@pytest.fixture(scope="module")
def frames_root(trained):
    """OTB-layout frames named like the cache's videos (Syn01..Syn03, 36 frames each)."""
    root = trained[0] / "otb"
    make_benchmark(root, n_sequences=3, frames=36, size=SIZE, progress=False)
    return root


def figure_argv(trained, frames_root, out, *argv, checkpoint=None):
    tmp, path = trained
    return ["--checkpoint", str(checkpoint or path), "--data_dir", str(tmp / "data"), "--otb_root", str(frames_root),
            "--strict_frames", "false", "--out", str(out), "--device", "cpu", "--sequence", "Syn02",
            "--start", "5", "--count", "7", "--cols", "4", "--tile_width", "80", *argv]


def figure_cfg(repo_root, *argv):
    consts = runpy.run_path(str(repo_root / "heatmap_figure.py"), run_name="not_main")
    return config.from_script(consts, list(argv), checks=figures.CHECKS)


def test_figure7_strip(repo_root, trained, frames_root, tmp_path):
    tmp, path = trained
    out = figures.run(figure_cfg(repo_root, *figure_argv(trained, frames_root, tmp_path / "f" / "fig7.png")))
    assert out == tmp_path / "f" / "fig7.png"
    png = load_image(out)
    # 7 frames, 4 per row -> 2 rows of 80 x 60 tiles (the frames' 4:3) under their titles; slot 8 stays white.
    assert png.shape == (2 * (60 + TITLE_HEIGHT), 4 * 80, 3)
    assert (png[60 + 2 * TITLE_HEIGHT:, 3 * 80:] == 255).all()

    v = cache.read_video(tmp / "data" / "test" / "Syn02")
    ckpt = load_checkpoint(path)
    model = build_from_checkpoint(ckpt).eval()
    rows = figures.frame_rows(v, 5, 7)
    np.testing.assert_array_equal(rows, np.arange(4, 11))
    probs, boxes = figures.online_heatmaps(model, v, seq_len=6, end=11, device="cpu")
    # The figure's boxes are evaluation's online predictions, not a variant of them.
    ev = evaluation.evaluate_video(model, v, seq_len=6, head="heatmap", device="cpu")
    np.testing.assert_allclose(cxcywh_norm_to_xywh(boxes, v.image_size), ev["online"][:11], atol=1e-3)
    assert probs.shape == (11, CELLS) and 0 < probs.min() and probs.max() < 1

    frames = figures.image_paths(frames_root, False, v)
    items, ious = figures.heatmap_tiles(v, frames, rows, probs, boxes, (80, 60))
    np.testing.assert_allclose(ious, metrics.iou_xywh(ev["online"][rows], ev["gt"][rows]))
    assert [t.split()[0] for t, _ in items] == [f"#{n}" for n in range(5, 12)]
    assert items[0][0] == f"#5  IoU {ious[0]:.2f}"
    allowed = np.array([(0, 0, 0), GT_COLOR_BGR, PRED_COLOR_BGR])
    for k, (_, image) in enumerate(items):
        r = rows[k]
        # The tile is the frame under its heatmap, except for the box outlines (black border, GT green, prediction red).
        base = cv2.resize(overlay_heatmap(load_image(frames[r]), probs[r]), (80, 60), interpolation=cv2.INTER_AREA)
        changed = image[(image != base).any(-1)]
        assert (changed[:, None] == allowed).all(-1).any(-1).all()
        # The red pixels lie on the decoded box's outline, scaled to the tile (0.5).
        x1, y1, w, h = ev["online"][r] * 0.5
        red_rc = np.argwhere((image == PRED_COLOR_BGR).all(-1))
        assert len(red_rc) and (image == GT_COLOR_BGR).all(-1).any()
        rr, cc = red_rc.T
        near = lambda a, edge: np.abs(a - edge) <= 1  # noqa: E731
        on_edge = near(cc, x1) | near(cc, x1 + w) | near(rr, y1) | near(rr, y1 + h)
        assert on_edge.all()


def test_figure7_refuses_a_coord_checkpoint(repo_root, trained, frames_root, coord_checkpoint, tmp_path, capsys):
    argv = figure_argv(trained, frames_root, tmp_path / "x.png", checkpoint=coord_checkpoint)
    consts = runpy.run_path(str(repo_root / "heatmap_figure.py"), run_name="not_main")
    with pytest.raises(SystemExit) as e:
        cli.run(figures.main, consts, argv)
    assert e.value.code == 2
    assert "error: Figure 7 needs a heatmap checkpoint, but" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("argv, message", [
    (["--start", "40"], "frame 40 is not in the cache .* frames 1..36"),
    (["--start", "30", "--count", "8"], "8 frames from frame 30 run past its last cached frame 36"),
    (["--sequence", "Nope"], "no video 'Nope' in .* holds: Syn01, Syn02, Syn03"),
])
def test_figure7_range_errors_name_the_flag(repo_root, trained, frames_root, tmp_path, argv, message):
    cfg = figure_cfg(repo_root, *figure_argv(trained, frames_root, tmp_path / "x.png", *argv))
    with pytest.raises(DataError, match=message):
        figures.run(cfg)
