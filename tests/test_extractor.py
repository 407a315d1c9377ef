"""YOLOv8FeatureExtractor against Ultralytics' own predict(), on CPU, offline.

No trained weights are available here, so the network is ``yolov8n.yaml``
built with a fixed seed. Left as Ultralytics initialises it, an untrained
network is degenerate (features ~1e-8, every score the same, every box the
whole frame), which would let a wrong implementation pass. ``_lively`` makes it
informative: BatchNorm statistics are taken from the test frames (a
data-dependent initialisation, so activations have unit scale), and the last
convolutions of the head are tamed so that class scores are distinct and
boxes are of varied sizes. Every comparison builds both sides from the same
in-memory YOLO object.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")
pytest.importorskip("ultralytics")

from rolo.boxes import NO_DETECTION_CXCYWH_NORM, cxcywh_norm_to_xywh, xyxy_to_xywh  # noqa: E402
from rolo.errors import ConfigError, DataError, RoloError  # noqa: E402
from rolo.extractor import (  # noqa: E402
    TOPK_PAD_ROW, Detections, WeightsError, YOLOv8FeatureExtractor, preprocess_bgr)

S = 128        # test imgsz: small and a multiple of the stride
LOW = 1e-6     # conf low enough that every frame has boxes


def synthetic_frames(n=6, h=240, w=360, seed=0):
    """n BGR uint8 frames of w x h: smooth colour fields with a few solid rectangles."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        img = cv2.resize(rng.integers(0, 256, (4, 6, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
        for _ in range(3):
            x, y = rng.integers(0, w - 40), rng.integers(0, h - 40)
            dx, dy = rng.integers(10, 80, size=2)
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            cv2.rectangle(img, (int(x), int(y)), (int(x + dx), int(y + dy)), colour, -1)
        frames.append(img)
    return frames


def _lively(yolo, frames):
    """Make an untrained DetectionModel informative on ``frames`` (see the module docstring)."""
    from ultralytics.nn.modules import Detect

    model = yolo.model
    x = torch.from_numpy(np.stack([preprocess_bgr(f, S) for f in frames])).permute(0, 3, 1, 2).float() / 255
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 1.0  # running statistics := this batch's statistics
    model.train()
    with torch.no_grad():
        model(x)
        head = next(m for m in model.modules() if isinstance(m, Detect))
        for branch in head.cv3:  # class logits: small spread around -4, so scores neither tie nor saturate
            branch[-1].weight.mul_(0.1)
            branch[-1].bias.fill_(-4.0)
        for branch in head.cv2:  # DFL logits favouring short distances, so boxes are not all clipped frames
            branch[-1].weight.mul_(0.3)
            branch[-1].bias.copy_(torch.linspace(2, -2, head.reg_max).repeat(4))
    model.eval()
    return yolo


@pytest.fixture(scope="module")
def frames():
    return synthetic_frames()


@pytest.fixture(scope="module")
def yolo(frames):
    from ultralytics import YOLO

    torch.manual_seed(0)
    return _lively(YOLO("yolov8n.yaml"), frames)


@pytest.fixture(scope="module")
def ext(yolo):
    return YOLOv8FeatureExtractor(yolo, device="cpu", imgsz=S, conf=LOW)


@pytest.fixture(scope="module")
def dets(ext, frames):
    return ext.detect_batch(frames)


@pytest.fixture(scope="module")
def predicted(yolo, frames):
    """Ultralytics predict() on the frames already resized to S x S (BGR, as predict expects)."""
    resized = [cv2.resize(f, (S, S)) for f in frames]
    return yolo.predict(resized, imgsz=S, conf=LOW, verbose=False)


def hand_cxcywh_norm(xyxy, side):
    x1, y1, x2, y2 = (np.asarray(xyxy, np.float64) / side).T
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=-1)


def predict_rows(result):
    """All of predict()'s boxes for one frame as (n, 6) [cxcywh_norm (by hand), conf, cls], best first."""
    b = result.boxes
    order = np.argsort(-b.conf.numpy(), kind="stable")
    return np.column_stack([hand_cxcywh_norm(b.xyxy.numpy(), S), b.conf.numpy(), b.cls.numpy()])[order]


def assert_row_in(row, rows, rel=1e-4, box_atol=1e-4):
    """``row`` [box, conf, cls] is one of ``rows`` up to float noise."""
    hit = ((np.abs(rows[:, 4] - row[4]) <= rel * row[4] + 1e-9)
           & (np.abs(rows[:, :4] - row[:4]).max(axis=1) <= box_atol) & (rows[:, 5] == row[5]))
    assert hit.any(), f"{row} not among {rows[:5]} ..."


def assert_best_box(box, conf, topk_rows, rel=1e-4, box_atol=1e-4):
    """``box`` with ``conf`` is the reference frame's best box, or one tied with it to float noise."""
    assert conf == pytest.approx(topk_rows[0, 4], rel=rel)
    tied = topk_rows[topk_rows[:, 4] >= topk_rows[0, 4] * (1 - 2 * rel)]
    assert (np.abs(tied[:, :4] - box).max(axis=1) <= box_atol).any(), f"{box} is not the best box {tied}"


def assert_same_detections(got, ref, rel=1e-4, box_atol=1e-4):
    """``got`` (Detections) agrees with ``ref``: a Detections, or predict_rows() of each frame.

    CPU results move by ~1e-5 between runs and batch sizes, so boxes whose
    scores tie to that precision may come in either order: confidences are
    compared rank by rank, boxes by membership among the reference boxes.
    """
    if isinstance(ref, Detections):
        scale = np.abs(ref.features).max()
        np.testing.assert_allclose(got.features, ref.features, rtol=rel, atol=rel * scale)
        rows_per_frame = [t[t[:, 4] >= 0] for t in ref.topk]
        complete = [len(r) < ref.topk.shape[1] for r in rows_per_frame]
    else:
        rows_per_frame, complete = ref, [True] * len(ref)
    assert len(got) == len(rows_per_frame)
    for i, rows in enumerate(rows_per_frame):
        n = min(len(rows), got.topk.shape[1])
        assert got.detected[i] == (len(rows) > 0)
        if not n:
            np.testing.assert_array_equal(got.topk[i], np.broadcast_to(TOPK_PAD_ROW, got.topk[i].shape))
            continue
        np.testing.assert_allclose(got.topk[i, :n, 4], rows[:n, 4], rtol=rel)
        np.testing.assert_allclose(got.conf[i], rows[0, 4], rtol=rel)
        # the last ranks may trade places with the first box the reference left out
        cut = rows[n - 1, 4] * (1 + 2 * rel) if (n < len(rows) or not complete[i]) else -np.inf
        for row in got.topk[i, :n]:
            if row[4] > cut:
                assert_row_in(row, rows, rel, box_atol)
        assert_row_in(np.r_[got.boxes[i], got.conf[i], got.topk[i, 0, 5]], rows, rel, box_atol)


# ---- the network and its feature -------------------------------------------------

def test_feature_dim_and_names_come_from_the_model(yolo, ext, dets, frames):
    from ultralytics import YOLO

    assert ext.feature_dim == 256  # yolov8n's SPPF
    assert ext.feature_layer_index == 9 and type(ext.feature_layer).__name__ == "SPPF"
    assert len(ext.names) == 80 and ext.names == yolo.names
    assert dets.features.shape == (len(frames), 256) and dets.features.dtype == np.float32
    big = YOLOv8FeatureExtractor(YOLO("yolov8s.yaml"), device="cpu", imgsz=64)
    assert big.feature_dim == 512  # the report's 512 channels, read from yolov8s itself


def test_feature_equals_ultralytics_pooled_embedding(yolo, ext, dets, frames):
    resized = [cv2.resize(f, (S, S)) for f in frames]
    emb = yolo.predict(resized, imgsz=S, embed=[ext.feature_layer_index], device="cpu", verbose=False)
    emb = torch.stack(emb).cpu().numpy()
    assert emb.shape == dets.features.shape
    scale = np.abs(emb).max()
    assert scale > 0.1  # a live network, not the ~1e-8 of the default initialisation
    np.testing.assert_allclose(dets.features, emb, rtol=1e-4, atol=1e-5 * scale)
    # the feature tells frames apart
    assert np.abs(dets.features[0] - dets.features[1]).max() > 1e-2 * scale


def test_caller_yolo_object_is_not_modified(yolo, ext):
    original = yolo.model.model[ext.feature_layer_index]
    assert original is not ext.feature_layer
    assert not original._forward_hooks
    assert hasattr(original.cv1, "bn")  # not fused in place


# ---- boxes -----------------------------------------------------------------------

def test_boxes_are_predicts_best_boxes(ext, dets, predicted):
    assert dets.topk.shape == (len(predicted), ext.top_k, 6) and dets.topk.dtype == np.float32
    rows = [predict_rows(r) for r in predicted]
    assert min(len(r) for r in rows) > ext.top_k
    assert_same_detections(dets, rows)
    np.testing.assert_array_equal(dets.topk[:, 0, :4], dets.boxes)
    np.testing.assert_array_equal(dets.topk[:, 0, 4], dets.conf)
    assert np.all(np.diff(dets.topk[:, :, 4], axis=1) <= 0)
    # varied boxes, so a constant or mis-scaled box cannot pass
    assert np.ptp(dets.boxes, axis=0).min() > 0.05
    assert 0.05 < dets.boxes[:, 2:].min() and dets.boxes[:, 2:].max() < 0.9


def test_the_helper_catches_a_wrong_box(dets, predicted):
    wrong = Detections.concat([dets])
    wrong.boxes[0] = wrong.boxes[0] * [1, 1, 2, 2]  # e.g. forgetting to divide w, h... by the right side
    with pytest.raises(AssertionError):
        assert_same_detections(wrong, [predict_rows(r) for r in predicted])


def test_normalisation_by_hand_and_in_the_original_frame(dets, predicted, frames):
    """Unclipped boxes, normalised by hand, then mapped back to the W x H original frame."""
    H, W = frames[0].shape[:2]
    checked = 0
    for i, r in enumerate(predicted):
        xyxy, conf, cls = r.boxes.xyxy.numpy(), r.boxes.conf.numpy(), r.boxes.cls.numpy()
        for row in dets.topk[i]:
            j = np.argmin(np.abs(conf - row[4]) + 10 * (cls != row[5]))  # the same detection in predict()
            x1, y1, x2, y2 = xyxy[j]
            if not (0 < x1 < x2 < S and 0 < y1 < y2 < S):
                continue  # clipped boxes are covered by test_boxes_are_predicts_best_boxes
            np.testing.assert_allclose(row[:4], [(x1 + x2) / 2 / S, (y1 + y2) / 2 / S, (x2 - x1) / S, (y2 - y1) / S],
                                       atol=1e-4)
            # stretching S x S back to W x H multiplies x by W/S and y by H/S
            in_original = xyxy_to_xywh(np.array([x1 * W / S, y1 * H / S, x2 * W / S, y2 * H / S]))
            np.testing.assert_allclose(cxcywh_norm_to_xywh(row[:4], (W, H)), in_original, atol=0.05)
            checked += 1
    assert checked >= 3


def test_no_detection_gives_the_sentinel_and_keeps_the_feature(yolo, dets, frames):
    high = YOLOv8FeatureExtractor(yolo, device="cpu", imgsz=S, conf=0.99)
    none = high.detect_batch(frames)
    assert not none.detected.any()
    np.testing.assert_array_equal(none.boxes, np.tile(NO_DETECTION_CXCYWH_NORM, (len(frames), 1)))
    np.testing.assert_array_equal(none.conf, 0.0)
    np.testing.assert_array_equal(none.topk, np.broadcast_to(TOPK_PAD_ROW, none.topk.shape))
    assert np.isfinite(none.features).all() and np.abs(none.features).max() > 0.1
    scale = np.abs(dets.features).max()
    np.testing.assert_allclose(none.features, dets.features, rtol=1e-4, atol=1e-4 * scale)  # conf leaves it alone


def test_topk_pads_when_fewer_boxes_than_k(yolo, dets, frames):
    conf0 = dets.topk[0, :, 4]
    r = 2 + int(np.argmax(conf0[1:8] / conf0[2:9]))  # keep r >= 2 boxes, cutting at the widest gap
    threshold = float(np.sqrt(conf0[r - 1] * conf0[r]))
    few = YOLOv8FeatureExtractor(yolo, device="cpu", imgsz=S, conf=threshold).detect_batch(frames[:1])
    assert (few.topk[0, :, 4] > 0).sum() == r
    np.testing.assert_array_equal(few.topk[0, r:], np.broadcast_to(TOPK_PAD_ROW, (few.topk.shape[1] - r, 6)))
    for row in few.topk[0, :r]:
        assert_row_in(row, dets.topk[0])


# ---- inputs and API --------------------------------------------------------------

def test_greyscale_input_equals_its_bgr_version(ext, frames):
    grey = cv2.cvtColor(frames[0], cv2.COLOR_BGR2GRAY)
    as_bgr = ext.detect_batch([cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)])
    for variant in (grey, grey[:, :, None]):
        assert_same_detections(ext.detect_batch([variant]), as_bgr)


def test_preprocess_is_the_reports(frames):
    img = frames[0]
    out = preprocess_bgr(img, S)
    assert out.shape == (S, S, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, cv2.resize(img, (S, S))[:, :, ::-1])
    with pytest.raises(ValueError, match="uint8"):
        preprocess_bgr(img.astype(np.float32), S)
    with pytest.raises(ValueError, match="shape"):
        preprocess_bgr(np.zeros((4, 4, 2), np.uint8), S)


def test_extract_and_extract_batch_api(ext, dets, frames):
    box, feat = ext.extract(frames[2])
    assert box.shape == (4,) and box.dtype == np.float32
    assert feat.shape == (ext.feature_dim,) and feat.dtype == np.float32
    np.testing.assert_allclose(feat, dets.features[2], rtol=1e-4, atol=1e-4 * np.abs(feat).max())
    assert_best_box(box, dets.conf[2], dets.topk[2])
    boxes, feats, confs = ext.extract_batch(frames)
    assert boxes.dtype == feats.dtype == confs.dtype == np.float32
    assert boxes.shape == (len(frames), 4) and feats.shape == (len(frames), ext.feature_dim)
    np.testing.assert_allclose(feats, dets.features, rtol=1e-4, atol=1e-4 * np.abs(feats).max())
    for i in range(len(frames)):
        assert_best_box(boxes[i], confs[i], dets.topk[i])
    empty = ext.detect_batch([])
    assert empty.boxes.shape == (0, 4) and empty.features.shape == (0, ext.feature_dim)
    assert empty.topk.shape == (0, ext.top_k, 6) and len(empty) == 0


def test_detections_concat(dets):
    joined = Detections.concat([dets, dets])
    assert len(joined) == 2 * len(dets)
    np.testing.assert_array_equal(joined.topk[len(dets):], dets.topk)
    assert joined.detected.dtype == bool


def test_one_forward_pass_per_batch(ext, frames, tmp_path):
    calls = []
    handle = ext.feature_layer.register_forward_hook(lambda *a: calls.append(1))
    try:
        ext.detect_batch(frames)
        assert len(calls) == 1
        paths = []
        for i, f in enumerate(frames[:5]):
            paths.append(tmp_path / f"{i:04d}.jpg")
            cv2.imwrite(str(paths[-1]), f)
        calls.clear()
        d = ext.extract_paths(paths, batch_size=2, progress=False)
        assert len(calls) == 3 and len(d) == 5  # batches of 2, 2, 1
    finally:
        handle.remove()


# ---- files -----------------------------------------------------------------------

def test_extract_paths_matches_extract_batch_on_otb(ext, otb_sample):
    from rolo.otb import OTB, load_image

    paths = OTB(otb_sample, strict=False)["Car4"].frames[:8]
    images = [load_image(p) for p in paths]
    assert np.array_equal(images[0][:, :, 0], images[0][:, :, 1])  # Car4 is greyscale
    expected = ext.detect_batch(images)
    got = ext.extract_paths(paths, batch_size=3, desc="Car4", progress=True)
    assert len(got) == 8 and got.detected.all()
    assert_same_detections(got, expected)
    boxes, feats, confs = ext.extract_batch(images)
    np.testing.assert_allclose(got.features, feats, rtol=1e-4, atol=1e-4 * np.abs(feats).max())
    for i in range(len(paths)):
        assert_best_box(boxes[i], confs[i], got.topk[i])


@pytest.mark.parametrize("content", [b"", b"\xff\xd8 definitely not a jpeg"])
def test_extract_paths_names_a_bad_image(ext, frames, tmp_path, content):
    good = tmp_path / "0001.jpg"
    cv2.imwrite(str(good), frames[0])
    bad = tmp_path / "0002.jpg"
    bad.write_bytes(content)
    with pytest.raises(DataError, match="0002.jpg"):
        ext.extract_paths([good, bad, good], batch_size=2, progress=False)


# ---- weights, device, settings ---------------------------------------------------

@pytest.fixture
def no_download(monkeypatch, tmp_path):
    """Make Ultralytics' downloader fail without touching the network; record its calls."""
    from ultralytics.utils import SETTINGS, downloads

    calls = []

    def refuse(url=None, file=None, **kwargs):
        calls.append(url)
        raise ConnectionError(f"test: no network for {url}")

    monkeypatch.setattr(downloads, "safe_download", refuse)
    monkeypatch.chdir(tmp_path)  # no yolov8s.pt lying in the working folder
    monkeypatch.setitem(SETTINGS, "weights_dir", str(tmp_path / "weights"))
    return calls


def test_failed_download_explains_how_to_get_the_weights(no_download):
    with pytest.raises(WeightsError) as info:
        YOLOv8FeatureExtractor("yolov8s.pt", device="cpu")
    assert no_download and no_download[0].endswith("/yolov8s.pt")  # the download was really attempted
    msg = str(info.value)
    assert "https://github.com/ultralytics/assets/releases/download/v8." in msg and "/yolov8s.pt" in msg
    assert "python -c \"from ultralytics import YOLO; YOLO('yolov8s.pt')\"" in msg
    assert "--weights /path/to/yolov8s.pt" in msg
    assert "yolov8s.yaml" in msg and "untrained" in msg
    assert isinstance(info.value, RoloError)


@pytest.mark.parametrize("weights", ["/nonexistent/dir/yolov8s.pt", "runs/best.pt", "my_weights.pt"])
def test_missing_explicit_weights_path_is_named(no_download, weights):
    with pytest.raises(WeightsError, match="not found: " + weights):
        YOLOv8FeatureExtractor(weights, device="cpu")
    assert not no_download  # no download attempted for a user's own file


def test_damaged_weights_file_is_named(tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"")
    with pytest.raises(WeightsError, match="broken.pt"):
        YOLOv8FeatureExtractor(str(bad), device="cpu")


def test_settings_are_checked(yolo):
    from rolo.extractor import resolve_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type == expected and resolve_device("auto").type == expected
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(ConfigError, match="nonsense"):
        resolve_device("nonsense")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda:0")
        with pytest.raises(ConfigError, match="half"):
            YOLOv8FeatureExtractor(yolo, device="cpu", imgsz=S, half=True)
    with pytest.raises(ConfigError, match="multiple of the model stride 32"):
        YOLOv8FeatureExtractor(yolo, device="cpu", imgsz=100)
    with pytest.raises(ConfigError, match="conf"):
        YOLOv8FeatureExtractor(yolo, device="cpu", imgsz=S, conf=1.5)
    assert YOLOv8FeatureExtractor(yolo, device="cpu", imgsz=S).half is False


# ---- the top-level script ----------------------------------------------------------

@pytest.fixture(scope="module")
def script(repo_root):
    spec = importlib.util.spec_from_file_location("yolov8_extractor_script", repo_root / "YOLOv8FeatureExtractor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_reexports_and_reports_fps(script, frames, tmp_path, capsys):
    from rolo.cli import run

    assert script.YOLOv8FeatureExtractor is YOLOv8FeatureExtractor
    for i, f in enumerate(frames[:3]):
        cv2.imwrite(str(tmp_path / f"{i:04d}.jpg"), f)
    dets = run(script.main, vars(script), ["--weights", "yolov8n.yaml", "--img_dir", str(tmp_path),
                                          "--img_size", "64", "--device", "cpu", "--batch_size", "2"])
    assert len(dets) == 3 and dets.features.shape == (3, 256)
    assert "3 frames in" in capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    ([], "--img_dir is required"),
    (["--img_dir", "/nonexistent/frames"], "folder not found"),
    (["--img_dir", ".", "--conf", "2"], "--conf"),
])
def test_script_errors_are_one_line(script, capsys, argv, words):
    from rolo.cli import run

    with pytest.raises(SystemExit) as info:
        run(script.main, vars(script), argv)
    assert info.value.code == 2
    assert words in capsys.readouterr().err


# ---- CUDA ------------------------------------------------------------------------

@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(yolo, dets, frames):
    for half, rtol in ((False, 1e-2), (True, 3e-2)):
        gpu = YOLOv8FeatureExtractor(yolo, device="cuda:0", imgsz=S, conf=LOW, half=half)
        assert gpu.half is half
        got = gpu.detect_batch(frames)
        scale = np.abs(dets.features).max()
        np.testing.assert_allclose(got.features, dets.features, rtol=rtol, atol=rtol * scale)
        # near-tied scores may swap under fp16/TF32: the CPU's best box must be among the GPU's best
        for i in range(len(frames)):
            err = np.abs(got.topk[i, :, :4] - dets.boxes[i]).max(axis=1)
            assert err.min() < 1e-2, f"frame {i}: CPU box {dets.boxes[i]} not among the GPU's top boxes"
        np.testing.assert_allclose(got.conf, dets.conf, rtol=rtol)
    assert YOLOv8FeatureExtractor(yolo, device="cuda:0", imgsz=S).half is True
