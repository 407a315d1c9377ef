"""The online tracker: frame sources, the first box, equivalence with evaluation's online mode, speed records.

YOLO runs as an untrained yolov8n built offline at a small imgsz. Left as
Ultralytics initialises it, such a network is degenerate (every feature ~0,
every box the whole frame), which would hide a frame misalignment; so
``lively_weights`` calibrates BatchNorm on the test frames and biases the box
head towards short distances, then saves the network once, and every path
(dataloader, tracker) loads that same file.
"""
from __future__ import annotations

import json
import runpy

import numpy as np
import pytest
import torch

from rolo import cli, config, evaluation, extraction, training, tracker
from rolo.boxes import cxcywh_norm_to_xywh, xywh_to_cxcywh_norm
from rolo.errors import ConfigError, DataError
from rolo.extractor import Detections
from rolo.model import ROLO
from rolo.select import select_target, simulated_dets
from rolo.synthetic import make_benchmark, make_distractor_scene, make_video

cv2 = pytest.importorskip("cv2")
pytest.importorskip("ultralytics")

S = 64          # YOLO imgsz in these tests
LOW = 1e-6      # an untrained network scores ~1e-4: keep every box
SEQ_LEN = 4
FRAMES = 14


def _consts(repo_root, script):
    return runpy.run_path(str(repo_root / script), run_name="not_main")


def lively_weights(path, frames_bgr):
    """Save an untrained yolov8n whose features and boxes vary with the frame (see the module docstring)."""
    from ultralytics import YOLO
    from ultralytics.nn.modules import Detect

    from rolo.extractor import preprocess_bgr

    torch.manual_seed(0)
    yolo = YOLO("yolov8n.yaml")
    model = yolo.model
    x = torch.from_numpy(np.stack([preprocess_bgr(f, S) for f in frames_bgr])).permute(0, 3, 1, 2).float() / 255
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 1.0  # running statistics := these frames' statistics
    model.train()
    with torch.no_grad():
        model(x)
        detect = next(m for m in model.modules() if isinstance(m, Detect))
        for branch in detect.cv2:  # distance bins: near ones likelier, so boxes are not the clipped frame
            branch[-1].weight.mul_(0.5)
            branch[-1].bias.copy_((-0.4 * torch.arange(detect.reg_max, dtype=torch.float32)).repeat(4))
    model.eval()
    yolo.save(str(path))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory, repo_root):
    """A synthetic OTB-layout benchmark, lively weights, the dataloader's cache of it and a small checkpoint."""
    tmp = tmp_path_factory.mktemp("track")
    bench = tmp / "bench"
    make_benchmark(bench, n_sequences=3, frames=FRAMES, size=(160, 120), seed=0, progress=False)
    frames = [cv2.imread(str(p)) for p in sorted((bench / "Syn01" / "img").glob("*.jpg"))]
    weights = lively_weights(tmp / "lively.pt", frames)
    dl = config.from_script(_consts(repo_root, "dataloader.py"), [
        "--otb_root", str(bench), "--list_file", str(bench / "list.txt"), "--out_dir", str(tmp / "data"),
        "--experiment", "1", "--n_train", "1", "--n_test", "1", "--weights", str(weights), "--img_size", str(S),
        "--conf", str(LOW), "--top_k", "5", "--device", "cpu", "--strict_frames", "false"], checks=extraction.CHECKS)
    extraction.run(dl)
    tr = config.from_script(_consts(repo_root, "train.py"), [
        "--data_dir", str(tmp / "data"), "--checkpoint_dir", str(tmp / "ckpt"), "--device", "cpu", "--epochs", "2",
        "--seq_len", str(SEQ_LEN), "--batch_size", "4", "--lr", "1e-3", "--hidden", "16"], checks=training.CHECKS)
    ckpt = training.run(tr, progress=False)
    return {"tmp": tmp, "bench": bench, "weights": weights, "ckpt": ckpt}


def track_cfg(repo_root, world, *argv):
    base = ["--checkpoint", str(world["ckpt"]), "--weights", str(world["weights"]), "--img_size", str(S),
            "--conf", str(LOW), "--top_k", "5", "--device", "cpu", "--out_dir", str(world["tmp"] / "out")]
    return config.from_script(_consts(repo_root, "track.py"), base + list(argv), checks=tracker.CHECKS)


def _read_result(path):
    return np.loadtxt(path, delimiter=",", ndmin=2)


def test_result_file_matches_evaluation_online_mode(repo_root, world):
    tmp = world["tmp"]
    ecfg = config.from_script(_consts(repo_root, "evaluation.py"), [
        "--experiment", "1", "--split", "test", "--data_dir", str(tmp / "data"), "--checkpoint", str(world["ckpt"]),
        "--init_gt", "true", "--plots", "false", "--results_dir", str(tmp / "eval"), "--device", "cpu"],
        checks=evaluation.CHECKS)
    ev = evaluation.run(ecfg, progress=False)
    summary = tracker.run(track_cfg(repo_root, world, "--source", "Syn02", "--otb_root", str(world["bench"]),
                                    "--video", "false"), progress=False)
    ours, theirs = _read_result(tmp / "out" / "Syn02.txt"), _read_result(tmp / "eval" / "Syn02.txt")
    assert ours.shape == theirs.shape == (FRAMES, 4)
    assert np.ptp(ours[1:], axis=0).min() > 0.05  # the boxes do vary from frame to frame: a real comparison
    np.testing.assert_allclose(ours, theirs, atol=0.02)  # the files hold 2 decimals
    assert summary["init_from"] == "ground truth" and summary["select"] == "confidence"
    assert summary["metrics"]["aos"] == pytest.approx(ev["videos"]["Syn02"]["aos"], abs=1e-3)
    saved = json.loads((tmp / "out" / "Syn02.json").read_text())
    assert saved["frames"] == FRAMES and saved["speed"]["frames"] == FRAMES - 1 and saved["speed"]["fps"] > 0


def test_tracks_a_video_file(repo_root, world, tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    gt = make_video(clip, frames=10, size=(160, 120), seed=1, fps=20)
    init = ",".join(f"{v:.2f}" for v in gt[0])
    summary = tracker.run(track_cfg(repo_root, world, "--source", str(clip), "--init", init), progress=False)
    boxes = _read_result(world["tmp"] / "out" / "clip.txt")
    assert boxes.shape == (10, 4) and np.isfinite(boxes).all()
    np.testing.assert_allclose(boxes[0], gt[0], atol=0.01)  # frame 1 is the given box
    assert (world["tmp"] / "out" / "clip.mp4").stat().st_size > 0 and "metrics" not in summary
    out = capsys.readouterr().out
    assert "FPS" in out and "detection choice + LSTM" in out


def test_tracks_a_frame_folder_in_natural_order(repo_root, world, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    src = sorted((world["bench"] / "Syn03" / "img").glob("*.jpg"))[:11]
    for i, p in enumerate(src, start=1):  # 1.jpg ... 11.jpg: plain sorting would put 10 and 11 after 1
        (folder / f"{i}.jpg").write_bytes(p.read_bytes())
    source = tracker.open_source(folder)
    first = [f.copy() for f in source.frames]
    assert len(first) == 11 and np.array_equal(first[9], cv2.imread(str(src[9])))
    summary = tracker.run(track_cfg(repo_root, world, "--source", str(folder), "--init", "10,20,30,40",
                                    "--video", "false", "--max_frames", "6"), progress=False)
    assert summary["frames"] == 6 and summary["select"] == "confidence"  # the checkpoint's rule
    assert _read_result(world["tmp"] / "out" / "frames.txt").shape == (6, 4)


def test_bad_sources_are_named(tmp_path, world, repo_root, capsys):
    with pytest.raises(DataError, match="missing.mp4"):
        tracker.open_source(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(DataError, match="junk.avi"):
        tracker.open_source(junk)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        tracker.open_source(tmp_path / "empty")
    with pytest.raises(DataError, match="--otb_root"):
        tracker.open_source("NoSuchSequence", otb_root=world["bench"])
    # through the script: one error line naming the source, exit status 2
    consts = _consts(repo_root, "track.py")
    with pytest.raises(SystemExit) as e:
        cli.run(tracker.main, consts, ["--source", str(junk)])
    assert e.value.code == 2 and "junk.avi" in capsys.readouterr().err


def test_no_display_for_select_roi_names_the_init_flag(monkeypatch, tmp_path, world, repo_root):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert not tracker.display_available()
    clip = tmp_path / "c.mp4"
    make_video(clip, frames=3, size=(160, 120), seed=2)
    with pytest.raises(ConfigError, match="--init x,y,w,h"):
        tracker.run(track_cfg(repo_root, world, "--source", str(clip)), progress=False)
    import cv2

    def headless(*_):  # what opencv-python-headless does; it must not mask the error below
        raise cv2.error("The function is not implemented")

    monkeypatch.setattr(cv2, "destroyAllWindows", headless)
    with pytest.raises(ConfigError, match="--show false"):
        tracker.run(track_cfg(repo_root, world, "--source", str(clip), "--init", "1,2,3,4", "--show", "true"),
                    progress=False)
    with pytest.raises(ConfigError, match="--init"):
        tracker.parse_box_xywh("1,2,3")
    with pytest.raises(ConfigError, match="--init"):
        tracker.parse_box_xywh("1,2,0,4")
    np.testing.assert_array_equal(tracker.parse_box_xywh(" 1, 2 3\t4 "), [1, 2, 3, 4])


def test_feature_dim_mismatch_is_refused(world, tmp_path):
    from rolo.model import save_atomic

    path = tmp_path / "d32.pth"
    save_atomic({"model": ROLO(32, 8).state_dict(), "model_info": {"feature_dim": 32, "hidden": 8, "head": "coord"},
                 "settings": {}}, path)
    with pytest.raises(DataError, match="256-d"):
        tracker.RoloTracker.from_checkpoint(path, world["weights"], device="cpu", imgsz=S, conf=LOW)


# ---- the tracker core, with a scripted detector ------------------------------------------

class ScriptedExtractor:
    """A stand-in for YOLOv8FeatureExtractor that replays given per-frame features and detections."""

    def __init__(self, features, dets):
        self.features, self.dets, self.calls = features, dets, 0

    def detect_batch(self, images):
        t = self.calls
        self.calls += 1
        top = self.dets[t:t + 1]
        detected = top[:, 0, 4] >= 0
        boxes = np.where(detected[:, None], top[:, 0, :4], [0.5, 0.5, 0, 0]).astype(np.float32)
        return Detections(boxes, self.features[t:t + 1], np.maximum(top[:, 0, 4], 0), detected, top)


class EchoBox(torch.nn.Module):
    """Outputs each step's input box: the tracker's output is then its chosen detection."""

    head_type = "coord"

    def forward(self, x):
        return x[..., -4:]


def _scene_dets(frames, seed=0):
    scene = make_distractor_scene(frames=frames, size=(160, 120), seed=seed)
    gt_n = xywh_to_cxcywh_norm(scene.target_xywh, scene.size)
    dis_n = xywh_to_cxcywh_norm(scene.distractor_xywh, scene.size)
    dets = simulated_dets(gt_n, dis_n, np.random.default_rng(seed), noise=0.05, miss_rate=0.1)
    return scene, dets


def test_ring_buffer_steps_equal_evaluation_online_windows():
    torch.manual_seed(0)
    n, d = 11, 8
    model = ROLO(d, 16).eval()
    features = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
    scene, dets = _scene_dets(n)
    frames = [np.zeros((120, 160, 3), np.uint8)] * n
    trk = tracker.RoloTracker(model, ScriptedExtractor(features, dets), seq_len=SEQ_LEN)
    boxes, seconds = trk.track(frames, scene.target_xywh[0])
    # the same rows through evaluation's batched windows, frame 1's box given (--init_gt true)
    rows = np.concatenate([features, np.asarray(trk.inputs)], axis=1)
    rows[0, -4:] = xywh_to_cxcywh_norm(scene.target_xywh[0], (160, 120))
    with torch.inference_mode():
        online = evaluation.online_from_windows(evaluation.predict_windows(model, torch.from_numpy(rows), SEQ_LEN))
    expect = cxcywh_norm_to_xywh(online.numpy(), (160, 120))
    expect[0] = scene.target_xywh[0]
    np.testing.assert_allclose(boxes, expect, rtol=1e-5, atol=1e-4)
    assert seconds.shape == (n,) and len(trk.yolo_seconds) == len(trk.step_seconds) == n
    # the confidence rule feeds the LSTM the extractor's most confident box
    np.testing.assert_allclose(np.asarray(trk.inputs)[1:], dets[1:, 0, :4])


def test_target_rule_through_the_tracker_follows_the_target():
    n = 40
    scene, dets = _scene_dets(n)
    frames = [np.zeros((120, 160, 3), np.uint8)] * n
    feats = np.zeros((n, 2), np.float32)
    gt_n = xywh_to_cxcywh_norm(scene.target_xywh, scene.size)
    from rolo import metrics

    follow = tracker.RoloTracker(EchoBox(), ScriptedExtractor(feats, dets), seq_len=3, select="target")
    boxes, _ = follow.track(frames, scene.target_xywh[0])
    # with the output echoing the chosen box, the online reference is the cached path's: same choices
    cached, detected = select_target(dets[1:], gt_n[0])
    np.testing.assert_allclose(np.asarray(follow.inputs)[1:], cached, atol=1e-6)
    assert follow.detected[1:] == detected.tolist()
    assert np.mean(metrics.iou_xywh(boxes, scene.target_xywh) > 0.5) > 0.8
    report = tracker.RoloTracker(EchoBox(), ScriptedExtractor(feats, dets), seq_len=3, select="confidence")
    wrong, _ = report.track(frames, scene.target_xywh[0])
    assert np.mean(metrics.iou_xywh(wrong, scene.target_xywh) > 0.5) < 0.2  # it follows the look-alike


def test_heatmap_checkpoint_tracks(tmp_path):
    from rolo.model import save_atomic

    torch.manual_seed(0)
    model = ROLO(8, 16, "heatmap")
    path = tmp_path / "hm.pth"
    save_atomic({"model": model.state_dict(), "model_info": model.describe(), "settings": {"SEQ_LEN": 3}}, path)
    from rolo.model import build_from_checkpoint, load_checkpoint

    n = 6
    scene, dets = _scene_dets(n)
    trk = tracker.RoloTracker(build_from_checkpoint(load_checkpoint(path)),
                              ScriptedExtractor(np.ones((n, 8), np.float32), dets), seq_len=3, select="target")
    boxes, _ = trk.track([np.zeros((120, 160, 3), np.uint8)] * n, scene.target_xywh[0])
    assert trk.head == "heatmap" and boxes.shape == (n, 4) and np.isfinite(boxes).all()


def test_update_before_init_and_bad_box_are_errors():
    trk = tracker.RoloTracker(EchoBox(), ScriptedExtractor(np.zeros((2, 2), np.float32), np.zeros((2, 1, 6))))
    with pytest.raises(RuntimeError, match="init"):
        trk.update(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError):
        trk.init(np.zeros((8, 8, 3), np.uint8), [1, 2, 0, 3])


def test_the_tracker_takes_its_settings_from_the_checkpoint_and_refuses_a_conflicting_flag(repo_root, world):
    follows = tracker.RoloTracker.from_checkpoint(world["ckpt"], device="cpu")  # no weights, size or threshold given
    assert (follows.extractor.imgsz, follows.extractor.conf, follows.weights) == (S, LOW, str(world["weights"]))
    with pytest.raises(ConfigError, match=rf"--img_size 320 conflicts with checkpoint .*IMG_SIZE={S}"):
        tracker.run(track_cfg(repo_root, world, "--source", str(world["bench"] / "Syn01"), "--img_size", "320"),
                    progress=False)


class Inputs(torch.nn.Module):
    """Records the rows it is given; outputs a fixed box."""

    head_type, inputs, residual = "coord", "feature+box", False

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(x[0, -1].clone())
        return torch.full((*x.shape[:-1], 4), 0.5)


@pytest.mark.parametrize("report_code", [False, True])
def test_a_missed_frame_reaches_the_lstm_as_the_checkpoint_was_trained(report_code):
    from rolo.reportcode import Behaviour

    feats = np.full((3, 8), 7.0, np.float32)
    dets = np.full((3, 1, 6), -1.0, np.float32)  # nothing detected on any frame
    model = Inputs()
    trk = tracker.RoloTracker(model, ScriptedExtractor(feats, dets), seq_len=2,
                              behaviour=Behaviour.from_settings({"REPORT_CODE": report_code}))
    trk.track([np.zeros((120, 160, 3), np.uint8)] * 3, [10, 10, 20, 20])
    last = model.seen[-1].numpy()
    np.testing.assert_array_equal(last[-4:], [0.5, 0.5, 0, 0])
    assert (last[:8] == (0.0 if report_code else 7.0)).all()  # the report's code zeroes the feature


# ---- what track.py writes, says and refuses ------------------------------------------------

def _stop_at(monkeypatch, frame, exc=KeyboardInterrupt):
    """Make the tracker's update raise ``exc`` (Ctrl-C, q) when it reaches 1-based ``frame``."""
    update = tracker.RoloTracker.update

    def stopping(self, img):
        if len(self.boxes) + 1 == frame:
            raise exc()
        return update(self, img)

    monkeypatch.setattr(tracker.RoloTracker, "update", stopping)


@pytest.mark.parametrize("stop", [KeyboardInterrupt, tracker._Quit])
def test_a_stopped_finite_source_writes_nothing_and_exits_130(repo_root, world, tmp_path, monkeypatch, capsys, stop):
    out = tmp_path / "out"
    argv = ["--checkpoint", str(world["ckpt"]), "--device", "cpu", "--out_dir", str(out),
            "--source", "Syn02", "--otb_root", str(world["bench"])]
    consts = _consts(repo_root, "track.py")
    cli.run(tracker.main, consts, argv)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["Syn02.json", "Syn02.mp4", "Syn02.txt"] and before["Syn02.txt"].count(b"\n") == FRAMES
    _stop_at(monkeypatch, 6, stop)
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        cli.run(tracker.main, consts, argv)
    assert e.value.code == 130
    err = capsys.readouterr().err
    assert f"interrupted: at frame 5 of {FRAMES}; nothing written (earlier results in {out} untouched)" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no partial file, no temporary left


def test_a_stopped_webcam_writes_what_was_tracked(repo_root, world, monkeypatch, capsys):
    images = sorted((world["bench"] / "Syn01" / "img").glob("*.jpg"))
    endless = tracker.Source("webcam7", "webcam", (cv2.imread(str(p)) for p in images))
    monkeypatch.setattr(tracker, "open_source", lambda *a, **k: endless)
    _stop_at(monkeypatch, 5)
    summary = tracker.run(track_cfg(repo_root, world, "--source", "7", "--init", "10,20,30,40"), progress=False)
    out = world["tmp"] / "out"
    assert summary["frames"] == 4 and _read_result(out / "webcam7.txt").shape == (4, 4)
    assert (out / "webcam7.mp4").stat().st_size > 0 and not list(out.glob(".*tmp*"))
    assert f"wrote {out / 'webcam7.txt'}, {out / 'webcam7.mp4'} and {out / 'webcam7.json'}" in capsys.readouterr().out


def test_the_settings_shown_and_saved_are_those_used(repo_root, world, tmp_path, capsys):
    argv = ["--checkpoint", str(world["ckpt"]), "--device", "cpu", "--out_dir", str(tmp_path), "--video", "false",
            "--source", "Syn03", "--otb_root", str(world["bench"]), "--max_frames", "3"]
    cli.run(tracker.main, _consts(repo_root, "track.py"), argv)  # WEIGHTS, IMG_SIZE, CONF: the checkpoint's
    out = capsys.readouterr().out
    for shown in (f"WEIGHTS           = {str(world['weights'])!r}", f"IMG_SIZE          = {S}",
                  f"CONF              = {LOW!r}", "SELECT            = 'confidence'",
                  "(WEIGHTS, IMG_SIZE, CONF, SELECT, REPORT_CODE: from the checkpoint)"):
        assert shown in out
    assert "yolov8s.pt" not in out and "640" not in out
    saved = json.loads((tmp_path / "Syn03.json").read_text())["settings"]
    assert (saved["WEIGHTS"], saved["IMG_SIZE"], saved["CONF"]) == (str(world["weights"]), S, LOW)
    assert f"wrote {tmp_path / 'Syn03.txt'} and {tmp_path / 'Syn03.json'}" in out


@pytest.mark.parametrize("box, overlaps", [
    ("1000,1000,50,50", False), ("-50,10,50,20", False), ("10,240,5,5", False), ("360,0,5,5", False),
    ("-10,-10,20,20", True), ("350,230,50,50", True), ("0,0,360,240", True)])
def test_an_init_box_must_overlap_the_first_frame(box, overlaps):
    frame = np.zeros((240, 360, 3), np.uint8)
    source = tracker.Source("clip", "video", iter(()))
    if overlaps:  # partly outside is a target at a border
        np.testing.assert_array_equal(tracker.initial_box(box, source, frame)[0], tracker.parse_box_xywh(box))
    else:
        with pytest.raises(ConfigError, match=rf"--init {box}: .*outside .*360x240"):
            tracker.initial_box(box, source, frame)
