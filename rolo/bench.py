"""``bench.py``: report-style baselines against our pipeline, on the same inputs, in one run.

Every stage times a baseline written from the report's description and our
code on the same data, checks that both give the same outputs, and returns
one or more :class:`Row` (stage, baseline, ours, ratio, target). Timings are
medians over ``repeats`` runs, baseline and ours alternating. Speed is only
ever judged here, never in a test.

The baselines, as the report describes its code:

* extraction (:class:`ReportStyleExtractor`): one frame at a time, read and
  resize, ``YOLO.predict()`` for the box, then a second pass,
  ``YOLO.embed()``, for the feature;
* training (:class:`ReportWindows`, :func:`report_style_epoch`): a torch
  ``Dataset`` that materialises every window as a float64 numpy copy, a
  ``DataLoader`` with batch size 1 that turns numpy into tensors at every
  step, its own loss (:func:`report_loss`), ``loss.item()`` every step,
  torch's default Adam; written from the report's code's behaviour, not from
  our window code: N - 6 windows per video, per-window targets with -1 padding,
  zeros on frames without a detection;
* evaluation (:func:`report_style_predict`): its N - 5 windows, one forward
  and one device-to-host copy per window.

Ours runs in report-code mode (:data:`REPORT_BEHAVIOUR`) for these two, so that both sides
see the same windows and inputs. What remains different, and why it changes no output:
the baseline's float64 copies are cast to float32 at every step (the same numbers ours holds);
its loss averages the squared errors over the elements of labelled steps, ours the per-step
means over labelled steps (the same quotient, as every step has 4 elements); ours drops windows
without a labelled frame, which the report's code would train on with an empty loss (none
exist with SEQ_LEN 6 and a label every third frame); ours uses fused Adam (same update, other
rounding).

Ours: :class:`rolo.extractor.YOLOv8FeatureExtractor`, :func:`rolo.training.train_epoch`
over :func:`rolo.windows.make_store`, :func:`rolo.training.run`,
:func:`rolo.evaluation.evaluate_video` and :class:`rolo.tracker.RoloTracker`.

Features are synthesised (:mod:`rolo.synthetic_cache`) and frames come from
:mod:`rolo.synthetic` unless a folder of JPEGs is given, so the benchmark
needs no download. The detector is untrained when WEIGHTS is a yaml: the
same computation as the trained network. Its BatchNorm statistics are then
taken from the frames (:func:`calibrate_batchnorm`) so that its features
and scores are informative enough for the same-output checks to mean
something.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import cache, config, evaluation, training
from .boxes import NO_DETECTION_CXCYWH_NORM, cxcywh_norm_to_xywh, xyxy_to_cxcywh_norm
from .device import exact_math, resolve_device
from .errors import DataError
from .model import ROLO
from .reportcode import Behaviour
from .windows import make_store

CHECKS = {
    "REPEATS": config.at_least(0),
    "FRAMES": config.at_least(0),
    "IMG_SIZE": config.at_least(0),
    "EXTRACT_BATCH": config.at_least(0),
    "FAST_BATCH_SIZE": config.at_least(1),
    "FAST_LR": config.between(1e-12, 10.0),
    "DIST_RANKS": config.at_least(2),
}
STAGES = ("extraction", "training", "batched", "memory", "evaluation", "online", "scale", "distributed")
#: Sizes of each mode; a non-zero FRAMES / IMG_SIZE / EXTRACT_BATCH / REPEATS constant overrides them.
#: Training workload: ``train_videos`` x ``train_frames`` for training, ``test_videos`` of as many
#: frames for the test AOS; ``epoch_windows`` caps the batch-1 epoch (0: all windows).
#: Memory: ``mem_videos`` x ``mem_frames`` is OTB-30's size (about 20,000 frames).
PRESETS = {
    "quick": dict(frames=8, img_size=320, extract_batch=4, repeats=2, check_frames=2,
                  hidden=512, feature_dim=512, train_videos=30, test_videos=8, train_frames=25, epoch_windows=150,
                  batch1_epochs=10, fast_epochs=16,
                  mem_videos=30, mem_frames=667, mem_hidden=128, mem_batch=256, mem_baseline_steps=100,
                  eval_videos=2, eval_frames=300, online_img_size=640, online_steps=100, online_forwards=2,
                  scale_videos=140, scale_frames=2500, scale_steps=40, scale_batch=64, scale_hidden=512,
                  dist_videos=4, dist_frames=16, dist_img_size=160, dist_train_videos=12, dist_epochs=2),
    "full": dict(frames=16, img_size=640, extract_batch=4, repeats=3, check_frames=4,
                 hidden=512, feature_dim=512, train_videos=30, test_videos=8, train_frames=25, epoch_windows=0,
                 batch1_epochs=30, fast_epochs=40,
                 mem_videos=30, mem_frames=667, mem_hidden=512, mem_batch=64, mem_baseline_steps=300,
                 eval_videos=2, eval_frames=1000, online_img_size=640, online_steps=300, online_forwards=5,
                 scale_videos=1400, scale_frames=2500, scale_steps=100, scale_batch=64, scale_hidden=512,
                 dist_videos=6, dist_frames=40, dist_img_size=320, dist_train_videos=30, dist_epochs=3),
}
#: Stages left out of ``--quick true --stages all``: they need minutes or gigabytes (run them in full mode
#: or by name; ``--quick true --stages scale`` is the small scale run).
SLOW_STAGES = ("batched", "scale", "distributed")
#: The in-RAM cache the scale stage's steps are compared with: OTB-30's size.
SCALE_RAM_FRAMES = 20_000
SEQ_LEN = 6
#: The report's training settings (train.py's defaults).
REPORT_LR = 1e-4
#: Online step: detections per frame the target rule chooses among.
ONLINE_TOP_K = 10
#: Detections are compared at this threshold, low enough that an untrained detector has boxes.
CHECK_CONF = 1e-6
#: Frame size of the synthesised JPEGs, (W, H), as the larger OTB videos.
FRAME_SIZE = (640, 480)
SCRIPTS_DIR = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    """One line of the table.

    ``ratio`` is in the sense its ``target`` states: a gain ("x": baseline time /
    ours, ours rate / baseline rate, baseline memory / ours), a share ("%":
    ours / baseline) or a plain quotient (ours / baseline). ``ok``: the target
    is met; ``same``: baseline and ours gave the same outputs (None: nothing to
    compare).
    """
    stage: str
    unit: str
    baseline: float
    ours: float
    ratio: float
    target: str
    ok: bool | None
    note: str = ""
    same: bool | None = None
    ratio_unit: str = "x"

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("stage", "unit", "baseline", "ours", "ratio", "ratio_unit", "target",
                                              "ok", "note", "same")}


@dataclass
class Timer:
    """Median of several timed runs; CUDA work is waited for before each clock read."""
    device: torch.device
    seconds: list = field(default_factory=list)

    def __enter__(self):
        self._sync()
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self._sync()
        self.seconds.append(time.perf_counter() - self._t)

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @property
    def median(self) -> float:
        return float(np.median(self.seconds))


def _quiet():
    """Silence the nested runs' own progress lines; the table is the output."""
    return contextlib.redirect_stdout(io.StringIO())


# ---- inputs ----------------------------------------------------------------------

def frame_paths(img_dir: str, n: int, work: Path) -> list[Path]:
    """``n`` JPEG paths: the first ``n`` of ``img_dir`` (sorted), or ``n`` frames synthesised under ``work``."""
    if img_dir:
        folder = Path(img_dir)
        if not folder.is_dir():
            raise DataError(f"--img_dir: folder not found: {folder}")
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
        if not paths:
            raise DataError(f"--img_dir: no .jpg/.jpeg files in {folder}")
        return paths[:n]
    from .synthetic import make_benchmark

    root = work / "frames"
    name = make_benchmark(root, n_sequences=1, frames=n, size=FRAME_SIZE, overwrite=True, progress=False)[0]
    return sorted((root / name / "img").glob("*.jpg"))


def calibrate_batchnorm(yolo, images_bgr, imgsz: int) -> None:
    """Set every BatchNorm's statistics to those of ``images_bgr`` (a data-dependent init).

    Ultralytics' untrained network has near-zero features and near-equal scores,
    which would let different outputs compare equal; with unit-scale activations
    the same-output checks mean something. The compute is unchanged.
    """
    from .extractor import preprocess_bgr

    model = yolo.model
    x = torch.from_numpy(np.stack([preprocess_bgr(f, imgsz) for f in images_bgr])).permute(0, 3, 1, 2)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.momentum = 1.0  # the running statistics become this batch's
    model.train()
    with torch.no_grad():
        model(x.float() / 255)
    model.eval()


def bench_yolo(weights, frames: list[Path], imgsz: int, seed: int = 0):
    """The detector for the extraction and online stages (an untrained yaml is calibrated on ``frames``)."""
    from .extractor import load_yolo
    from .otb import load_image

    torch.manual_seed(seed)
    yolo = load_yolo(weights)
    if str(weights).lower().endswith((".yaml", ".yml")):
        calibrate_batchnorm(yolo, [load_image(p) for p in frames[:8]], imgsz)
    return yolo


def bare_network(yolo, device, half: bool):
    """A copy of ``yolo``'s network prepared as our extractor's (fused, channels-last), with no
    hook: the physical limit of one forward."""
    from .extractor import inference_network

    return inference_network(deepcopy(yolo.model), device, half)


# ---- 1. extraction -----------------------------------------------------------------

class ReportStyleExtractor:
    """The report's extractor: per frame, ``YOLO.predict()`` for the box, then ``YOLO.embed()``
    (a second pass, up to the feature layer) for the feature. One frame at a time.

    ``yolo`` is used as given (Ultralytics fuses it in place on first use).
    """

    def __init__(self, yolo, *, imgsz: int, conf: float, layer: int, device, iou: float = 0.7):
        self.yolo, self.imgsz, self.conf, self.iou, self.layer = yolo, imgsz, conf, iou, layer
        self.device = str(device)

    def extract(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """One BGR frame -> (box (4,) ``cxcywh_norm``, feature (D,), confidence) as float32."""
        import cv2

        img = cv2.resize(image_bgr, (self.imgsz, self.imgsz))  # predict() takes BGR and converts it itself
        args = dict(imgsz=self.imgsz, device=self.device, verbose=False)
        r = self.yolo.predict(img, conf=self.conf, iou=self.iou, **args)[0]
        if len(r.boxes):
            best = int(r.boxes.conf.argmax())
            box = xyxy_to_cxcywh_norm(r.boxes.xyxy[best].cpu().numpy(), (self.imgsz, self.imgsz))
            conf = float(r.boxes.conf[best])
        else:
            box, conf = np.asarray(NO_DETECTION_CXCYWH_NORM), 0.0
        feature = self.yolo.embed(img, embed=[self.layer], **args)[0]
        return np.asarray(box, np.float32), feature.float().cpu().numpy(), np.float32(conf)

    def extract_paths(self, paths) -> dict:
        """``boxes`` (N, 4), ``features`` (N, D), ``conf`` (N,) float32 for image files, in order."""
        from .otb import load_image

        out = [self.extract(load_image(p)) for p in paths]
        return {"boxes": np.stack([o[0] for o in out]), "features": np.stack([o[1] for o in out]),
                "conf": np.asarray([o[2] for o in out], np.float32)}


def compare_extraction(base: dict, ours, half: bool = False) -> dict:
    """Same outputs? Boxes within 1e-4 (``cxcywh_norm``), features within 1e-4 of their scale,
    confidences within 1e-3 (a batch of 4 and a batch of 1 round differently on CPU, and a
    score is more sensitive than a feature).

    ``base`` is :meth:`ReportStyleExtractor.extract_paths` output, ``ours`` a
    :class:`rolo.extractor.Detections`. fp16 on CUDA only has to agree to 3e-2.
    """
    rel = 3e-2 if half else 1e-4
    scale = float(np.abs(base["features"]).max()) or 1.0
    feat_err = float(np.abs(ours.features - base["features"]).max() / scale)
    box_err = np.abs(ours.boxes - base["boxes"]).max(axis=1)
    conf_ok = np.isclose(ours.conf, base["conf"], rtol=max(rel, 1e-3), atol=0)
    box_ok = (box_err <= (1e-2 if half else 1e-4)) & conf_ok
    return {"frames": len(box_ok), "boxes_equal": int(box_ok.sum()), "detected": int(ours.detected.sum()),
            "feature_rel_err": feat_err, "same": bool(box_ok.all() and feat_err <= rel)}


def bench_extraction(paths, *, weights, imgsz: int, batch: int, device, conf: float, repeats: int,
                     check_frames: int, yolo=None) -> list[Row]:
    """Frames/s over ``paths``: report-style (two passes, one frame at a time), ours
    (``extract_paths``, one pass per batch, decoding overlapped) and a bare forward
    of the same network on a ready batch of the same size."""
    from .extractor import YOLOv8FeatureExtractor
    from .otb import load_image

    device = resolve_device(device)
    yolo = yolo or bench_yolo(weights, paths, imgsz)
    ours = YOLOv8FeatureExtractor(yolo, device=device, imgsz=imgsz, conf=conf)
    base = ReportStyleExtractor(yolo, imgsz=imgsz, conf=conf, layer=ours.feature_layer_index, device=device)
    bare = bare_network(yolo, device, ours.half)
    x = torch.rand((batch, 3, imgsz, imgsz), device=device, dtype=torch.half if ours.half else torch.float)
    x = x.contiguous(memory_format=torch.channels_last)
    n_batches = -(-len(paths) // batch)

    # Warm-up: Ultralytics' predictor set-up, lazy CUDA/oneDNN initialisation.
    threads = torch.get_num_threads()
    first = load_image(paths[0])
    base.extract(first)
    # The predictor's set-up sets torch to cpu_count - 1 threads; both sides get the same count.
    torch.set_num_threads(threads)
    ours.detect_batch([first] * min(batch, len(paths)))
    with torch.inference_mode():
        bare(x)

    t_base, t_ours, t_bare = Timer(device), Timer(device), Timer(device)
    for _ in range(repeats):
        with t_base:
            b = base.extract_paths(paths)
        with t_ours:
            d = ours.extract_paths(paths, batch_size=batch, progress=False)
        with t_bare, torch.inference_mode():
            for _ in range(n_batches):
                bare(x)
    same = compare_extraction(b, d, ours.half)

    # Boxes at CONF may be none at all on an untrained network: compare them where there are some.
    # An untrained network's low scores are near ties, so this check runs both sides in exact fp32
    # (no fp16, no TF32): it checks our decoding and selection, not the GPU's rounding.
    check = paths[:check_frames]
    lo_ours = YOLOv8FeatureExtractor(yolo, device=device, imgsz=imgsz, conf=CHECK_CONF, half=False)
    lo_base = ReportStyleExtractor(yolo, imgsz=imgsz, conf=CHECK_CONF, layer=ours.feature_layer_index, device=device)
    with exact_math():
        lo = compare_extraction(lo_base.extract_paths(check),
                                lo_ours.extract_paths(check, batch_size=batch, progress=False))
    n = len(paths)
    fps_base, fps_ours, fps_bare = n / t_base.median, n / t_ours.median, n / t_bare.median
    note = (f"{n} frames {imgsz}px, batch {batch}, {device.type}{' fp16' if ours.half else ''}; same outputs: "
            f"{same['boxes_equal']}/{same['frames']} boxes ({same['detected']} detected at conf {conf:g}), "
            f"{lo['boxes_equal']}/{lo['frames']} boxes at conf {CHECK_CONF:g}, "
            f"features rel. err {max(same['feature_rel_err'], lo['feature_rel_err']):.1e}; the bare forward "
            f"itself is {fps_bare / fps_base:.2f}x the report's, the most any extractor of this network can gain")
    both_same = same["same"] and lo["same"]
    return [
        Row("extraction vs report (2 passes, 1 frame)", "frames/s", fps_base, fps_ours, fps_ours / fps_base,
            ">= 1.6x", fps_ours / fps_base >= 1.6, note, both_same),
        Row("extraction vs bare forward, same batch", "frames/s", fps_bare, fps_ours, fps_ours / fps_bare,
            ">= 0.90", fps_ours / fps_bare >= 0.9, "bare: the fused network on a ready batch, no decode, no NMS",
            ratio_unit=""),
    ]


# ---- 2. training -------------------------------------------------------------------

class ReportWindows(torch.utils.data.Dataset):
    """The report's dataset, written from its code's behaviour and none of our window code.

    Per video: ``[features, bbox_yolo]`` rows as float64 numpy, with the report's extractor's
    zeros (all-zero feature, box ``[0.5, 0.5, 0, 0]``) on frames ``detected.npy`` marks as
    missed; ground truth as float64 with ``-1`` rows where this split holds no label (their
    experiment-3 padding). Every window is copied out up front: ``range(0, N - L)`` starts when
    ``training`` (their training loop, N - 6 windows), ``range(0, N - L + 1)`` otherwise (their
    evaluation, N - 5). Items are ``(x (L, D + 4), y (L, 4))`` float64 arrays; a window's
    labelled steps are the rows of ``y`` that are not -1 (:func:`report_loss`).
    """

    def __init__(self, videos, seq_len: int, training: bool = True):
        self.x, self.y = [], []
        for v in videos:
            features = np.array(v.features, dtype=np.float64)
            boxes = np.array(v.bbox_yolo, dtype=np.float64)
            missed = ~np.array(v.detected, dtype=bool)
            features[missed] = 0.0
            boxes[missed] = (0.5, 0.5, 0.0, 0.0)
            inputs = np.concatenate([features, boxes], axis=1)
            gt = np.array(v.gt, dtype=np.float64)
            gt[~np.isfinite(gt).all(axis=1)] = -1.0
            for s in range(len(inputs) - seq_len + (0 if training else 1)):
                self.x.append(inputs[s:s + seq_len].copy())
                self.y.append(gt[s:s + seq_len].copy())

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def report_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Their train_exp3.py's loss: squared error per element, averaged over the elements of the
    steps whose target is not the -1 padding (on fully labelled windows: plain MSE)."""
    valid = (y != -1).all(dim=-1)
    return ((out - y) ** 2)[valid].mean()


def report_style_epoch(model, opt, dataset: ReportWindows, order, device) -> float:
    """One epoch the report's way: DataLoader, batch 1, tensors made and cast every step,
    the loss read back to the host every step. ``order``: the window indices, in order."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, sampler=list(order))
    model.train()
    running = 0.0
    for x, y in loader:
        x, y = x.float().to(device), y.float().to(device)
        loss = report_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        running += loss.item()
    return running / len(dataset)


#: Our pipeline with the report's code's behaviour (rolo.reportcode): the baseline's inputs and windows.
REPORT_BEHAVIOUR = Behaviour.from_settings({"REPORT_CODE": True})


def workload_cache(root: Path, n_train: int, n_test: int, frames: int, feature_dim: int = 512,
                   seed: int = 0) -> Path:
    """A learnable experiment-1 cache (:mod:`rolo.synthetic_cache`): ``n_train`` training and
    ``n_test`` test videos of ``frames`` frames, and one eval video. Many short videos
    cover more of the frame than a few long ones, so the test AOS measures tracking, not recall."""
    from .synthetic_cache import write_synthetic_cache

    write_synthetic_cache(root, experiment=1, n_videos=n_train + n_test + 1, frames=frames, feature_dim=feature_dim,
                          n_train=n_train, n_test=n_test, seed=seed)
    return root


def bench_training(data_dir: Path, *, device, repeats: int, hidden: int, max_windows: int = 0,
                   seed: int = 0) -> list[Row]:
    """Seconds per batch-1 epoch over the same windows (the first ``max_windows`` of a shuffle,
    0: all), in the same order, from the same weights."""
    device = resolve_device(device)
    videos = cache.read_split(data_dir, "train")
    store = make_store(videos, SEQ_LEN, device=device, behaviour=REPORT_BEHAVIOUR)
    dataset = ReportWindows(videos, SEQ_LEN)
    if len(dataset) != len(store):
        raise RuntimeError(f"report windows {len(dataset)} != store windows {len(store)}")
    perm = torch.randperm(len(store), generator=torch.Generator().manual_seed(seed))[:max_windows or None]
    perm_dev = perm.to(device)
    feature_dim = videos[0].meta["feature_dim"]

    def fresh():
        torch.manual_seed(seed)
        return ROLO(feature_dim, hidden).to(device)

    t_base, t_ours = Timer(device), Timer(device)
    for _ in range(repeats):
        m_base = fresh()
        opt = torch.optim.Adam(m_base.parameters(), lr=REPORT_LR)  # torch's default, as in the report
        with t_base:
            report_style_epoch(m_base, opt, dataset, perm.tolist(), device)
        m_ours = fresh()
        opt = training.make_optimizer(m_ours, REPORT_LR)
        with t_ours:
            training.train_epoch(m_ours, opt, store, perm_dev, 1, "coord", progress=False)
    diff = max(float((a - b).abs().max()) for a, b in zip(m_base.state_dict().values(), m_ours.state_dict().values()))
    same = diff <= 1e-4
    note = (f"{len(perm)} windows of {SEQ_LEN}, hidden {hidden}, {device.type}, {type(store).__name__}; "
            f"weights after one epoch max |diff| {diff:.1e}")
    return [Row("training, batch 1, per epoch", "s", t_base.median, t_ours.median, t_base.median / t_ours.median,
                ">= 1.3x", t_base.median / t_ours.median >= 1.3, note, same)]


def script_config(script: str, **overrides) -> config.Config:
    """The Config ``script`` (train.py or evaluation.py) builds from its constants with
    ``overrides`` (UPPER_CASE names), checked as its command line would be."""
    from .demo import stage_config

    checks = {"train.py": training.CHECKS, "evaluation.py": evaluation.CHECKS}[script]
    return stage_config(SCRIPTS_DIR, script, checks, {k.lower(): v for k, v in overrides.items()})


def online_aos(model, videos, device) -> float:
    """Test AOS of ``model`` as evaluation.py reports it by default (online, every frame, video mean)."""
    model.eval()
    with torch.inference_mode():
        aos = [evaluation.score_video(evaluation.evaluate_video(model, v, seq_len=SEQ_LEN, head="coord",
                                                                device=device))["online"]["aos"] for v in videos]
    return float(np.mean(aos))


class EpochLog:
    """``training.run``'s ``on_epoch``: after every epoch, the training seconds so far (the
    evaluation's own time left out) and the test AOS."""

    def __init__(self, videos, device):
        self.videos, self.device = videos, device
        self.rows: list[tuple[int, float, float]] = []  # (epoch, training seconds, test AOS)
        self._t0 = time.perf_counter()
        self._paused = 0.0

    def __call__(self, epoch: int, model) -> None:
        t = time.perf_counter()
        self.rows.append((epoch, t - self._t0 - self._paused, online_aos(model, self.videos, self.device)))
        self._paused += time.perf_counter() - t

    def first_reaching(self, aos: float):
        """The first (epoch, seconds, AOS) row with AOS >= ``aos``, or None."""
        return next((r for r in self.rows if r[2] >= aos), None)


def train_logged(data_dir: Path, out: Path, *, batch_size: int, lr: float, epochs: int, hidden: int,
                 device) -> EpochLog:
    """``training.run`` with train.py's constants and these overrides, logging each epoch."""
    cfg = script_config("train.py", DATA_DIR=str(data_dir), CHECKPOINT_DIR=str(out / "ckpt"), EPOCHS=epochs,
                        BATCH_SIZE=batch_size, LR=lr, HIDDEN=hidden, DEVICE=str(device), SEQ_LEN=SEQ_LEN,
                        SAVE_EVERY=epochs)
    log = EpochLog(cache.read_split(data_dir, "test"), device)
    with _quiet():
        training.run(cfg, progress=False, on_epoch=log)
    return log


def bench_batched(data_dir: Path, work: Path, *, device, hidden: int, batch1_epochs: int, fast_batch: int,
                  fast_lr: float, fast_epochs: int) -> list[Row]:
    """The report's batch-1 run against the fast choice: the batch-1 run's training time and final
    test AOS, against the fast setting's training time until its test AOS first comes within 0.01
    of it (test AOS taken after every epoch, untimed)."""
    device = resolve_device(device)
    slow = train_logged(data_dir, work / "batch1", batch_size=1, lr=REPORT_LR, epochs=batch1_epochs,
                        hidden=hidden, device=device)
    _, slow_s, slow_aos = slow.rows[-1]
    fast = train_logged(data_dir, work / "fast", batch_size=fast_batch, lr=fast_lr, epochs=fast_epochs,
                        hidden=hidden, device=device)
    hit = fast.first_reaching(slow_aos - 0.01)
    fast_s = hit[1] if hit else fast.rows[-1][1]
    ratio = slow_s / fast_s
    curve = " ".join(f"{a:.3f}" for _, _, a in fast.rows)
    reached = (f"reaches {hit[2]:.3f} at epoch {hit[0]}" if hit
               else f"does not reach it in {fast_epochs} epochs (best {max(a for _, _, a in fast.rows):.3f})")
    note = (f"batch 1, LR {REPORT_LR:g}, {batch1_epochs} epochs: test AOS {slow_aos:.3f} in {slow_s:.0f} s; "
            f"BATCH_SIZE {fast_batch}, LR {fast_lr:g} {reached} ({fast_s:.1f} s); its test AOS per epoch: {curve}; "
            f"hidden {hidden}, {device.type}")
    return [Row("batched training to batch-1 test AOS - 0.01", "s", slow_s, fast_s, ratio, ">= 5x",
                bool(hit) and ratio >= 5, note, bool(hit))]


# ---- 3. memory ---------------------------------------------------------------------

def memory_cache(root: Path, n_videos: int, frames: int, feature_dim: int = 512, seed: int = 0) -> Path:
    """A cache of ``n_videos`` training videos (one more for test); 30 x 667 frames x 512 is OTB-30's size."""
    from .synthetic_cache import write_synthetic_cache

    write_synthetic_cache(root, experiment=1, n_videos=n_videos + 1, frames=frames, feature_dim=feature_dim,
                          n_train=n_videos, n_test=1, seed=seed)
    return root


def folder_bytes(folder: Path) -> int:
    """Size of the files under ``folder`` (what ``du --apparent-size`` counts)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def _child_peak_rss(args: dict) -> dict:
    """Run :func:`_memory_child` in a fresh interpreter; its peak RSS in bytes and what it reported."""
    proc = subprocess.run([sys.executable, "-m", "rolo.bench", "--memory-child", json.dumps(args)],
                          cwd=SCRIPTS_DIR, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"memory run failed ({args['kind']}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _memory_child(args: dict) -> None:
    """In a child process: one training run, then its peak RSS as a JSON line on stdout.

    ``kind``: "ours" (``training.run``, one epoch, CACHE_MODE ``cache_mode``),
    "report" (the report's float64 windows and DataLoader, ``steps`` steps) or
    "floor" (the same model and optimizer for ``steps`` steps on one random
    batch, no cache: what torch itself costs).
    """
    data_dir = Path(args["data_dir"])
    feature_dim = args["feature_dim"]
    extra = {}
    if args["kind"] == "steps":
        extra = _random_window_steps(args)
    elif args["kind"] == "ours":
        cfg = script_config("train.py", DATA_DIR=str(data_dir), CHECKPOINT_DIR=args["ckpt_dir"], EPOCHS=1,
                            BATCH_SIZE=args["batch"], LR=1e-3, HIDDEN=args["hidden"], DEVICE="cpu",
                            CACHE_MODE=args["cache_mode"], SAVE_EVERY=1)
        with _quiet():
            training.run(cfg, progress=False)
    elif args["kind"] == "report":
        dataset = ReportWindows(cache.read_split(data_dir, "train"), SEQ_LEN)
        torch.manual_seed(0)
        model = ROLO(feature_dim, args["hidden"])
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        order = np.random.default_rng(0).permutation(len(dataset))[:args["steps"]]
        report_style_epoch(model, opt, dataset, order, torch.device("cpu"))
    else:
        torch.manual_seed(0)
        model = ROLO(feature_dim, args["hidden"])
        opt = training.make_optimizer(model, 1e-3)
        x, y = torch.randn(args["batch"], SEQ_LEN, feature_dim + 4), torch.rand(args["batch"], SEQ_LEN, 4)
        m = torch.ones(args["batch"], SEQ_LEN, dtype=torch.bool)
        for _ in range(args["steps"]):
            loss = training.masked_loss(model(x), y, m, "coord")
            opt.zero_grad()
            loss.backward()
            opt.step()
    print(json.dumps({"peak_rss": peak_rss(), **extra}))


def peak_rss() -> int:
    """This process's peak resident set in bytes: VmHWM, which starts afresh at exec. (ru_maxrss
    does not: a child started from a large process inherits the parent's peak.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status: the memory stage needs Linux")


def bench_memory(work: Path, *, n_videos: int, frames: int, feature_dim: int, hidden: int, batch: int,
                 baseline_steps: int) -> list[Row]:
    """Peak RSS of a training run (CPU, a fresh process each) against the size of its cache.

    The limit is the floor (the same process training on one random batch, no
    cache: torch, the model and Adam) plus 1.5 x the cache. The floor is
    measured rather than assumed: a CUDA build of torch alone holds about 0.5 GB.
    """
    data_dir = memory_cache(work / "big", n_videos, frames, feature_dim)
    size = folder_bytes(data_dir / "train")
    common = dict(data_dir=str(data_dir), hidden=hidden, batch=batch, feature_dim=feature_dim)
    floor = _child_peak_rss(dict(common, kind="floor", steps=20))["peak_rss"]
    base = _child_peak_rss(dict(common, kind="report", steps=baseline_steps))["peak_rss"]
    limit = floor + 1.5 * size
    rows = []
    for mode in ("auto", "mmap"):
        ours = _child_peak_rss(dict(common, kind="ours", cache_mode=mode, ckpt_dir=str(work / f"ckpt-{mode}")))
        peak = ours["peak_rss"]
        rows.append(Row(f"training peak RSS, CACHE_MODE {mode}", "MB", base / 1e6, peak / 1e6, base / peak,
                        f"<= {limit / 1e6:.0f} MB", peak <= limit,
                        f"cache {size / 1e6:.0f} MB on disk ({n_videos * frames} frames x {feature_dim}); "
                        f"floor {floor / 1e6:.0f} MB (torch + model + Adam, no cache); ours = floor + "
                        f"{(peak - floor) / size:.2f} x cache, report-style float64 windows = floor + "
                        f"{(base - floor) / size:.2f} x cache; limit floor + 1.5 x cache; one epoch, hidden {hidden}, "
                        f"batch {batch}"))
    return rows


# ---- 3b. scale: a LaSOT-size cache on disk ----------------------------------------------

def scale_cache(root: Path, n_videos: int, frames: int, feature_dim: int = 512, seed: int = 0,
                progress: bool = True) -> Path:
    """A training cache of ``n_videos`` x ``frames`` rows with float16 features (1400 x 2500 =
    3.5M frames is LaSOT's size, about 3.6 GB), made once: ``root/scale.json``, written last,
    records what the folder holds, and a folder that matches is reused as it is."""
    from tqdm import tqdm

    root = Path(root)
    want = {"n_videos": n_videos, "frames": frames, "feature_dim": feature_dim, "seed": seed, "dtype": "float16"}
    marker = root / "scale.json"
    if marker.is_file() and json.loads(marker.read_text()) == want:
        return root
    need = n_videos * frames * (feature_dim * 2 + 64)
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    if free < need * 1.2:
        raise DataError(f"the scale stage's cache needs {need / 1e9:.1f} GB but {root} has {free / 1e9:.1f} GB free; "
                        f"point --scale_dir elsewhere or use --quick true")
    rng = np.random.default_rng(seed)
    settings = {"WEIGHTS": "synthetic", "IMG_SIZE": 640, "CONF": 0.25, "TOP_K": 1}
    for i in tqdm(range(n_videos), desc=f"scale cache {root}", disable=not progress, mininterval=2.0):
        boxes = rng.uniform(0.2, 0.8, (frames, 4)).astype(np.float32)
        arrays = {"features": rng.standard_normal((frames, feature_dim), dtype=np.float32).astype(np.float16),
                  "bbox_yolo": boxes, "gt": (boxes + rng.normal(0, 0.01, boxes.shape)).astype(np.float32),
                  "frames": np.arange(1, frames + 1, dtype=np.int32), "labelled": np.ones(frames, bool),
                  "used_in_training": np.ones(frames, bool), "detected": np.ones(frames, bool),
                  "conf": np.ones(frames, np.float32),
                  "dets": np.concatenate([boxes, np.ones((frames, 2), np.float32)], 1)[:, None, :]}
        name = f"Big{i:05d}"
        cache.write_video(cache.video_dir(root, "train", name), arrays,
                          {"name": name, "split": "train", "experiment": 1, "order": i, "image_size": [640, 480],
                           "settings": settings})
    cache.write_text_atomic(marker, json.dumps(want))  # written last and whole: its presence means a whole cache
    return root


def _random_window_steps(args: dict) -> dict:
    """In a child: ``steps`` Adam steps of ``batch`` random windows from the cache at ``data_dir``
    (CACHE_MODE ``cache_mode``), after 5 warm-up steps; the seconds the steps took."""
    videos = cache.read_split(args["data_dir"], "train")
    store = make_store(videos, SEQ_LEN, mode=args["cache_mode"])
    torch.manual_seed(0)
    model = ROLO(videos[0].meta["feature_dim"], args["hidden"])
    opt = training.make_optimizer(model, 1e-3)
    batch = args["batch"]
    ids = torch.randint(len(store), ((args["steps"] + 5) * batch,), generator=torch.Generator().manual_seed(0))
    training.train_epoch(model, opt, store, ids[:5 * batch], batch, "coord", progress=False)
    t0 = time.perf_counter()
    training.train_epoch(model, opt, store, ids[5 * batch:], batch, "coord", progress=False)
    return {"seconds": time.perf_counter() - t0, "frames": int(sum(len(v) for v in videos)),
            "store": type(store).__name__}


def bench_scale(work: Path, scale_dir: Path, *, n_videos: int, frames: int, feature_dim: int, hidden: int,
                batch: int, steps: int, repeats: int, progress: bool = True,
                ram_frames: int = SCALE_RAM_FRAMES) -> list[Row]:
    """Random-window training steps from a cache of ``n_videos`` x ``frames`` float16 rows on disk
    (memory-mapped) against the same steps from an OTB-30-size cache in RAM, and the mapped run's
    peak RSS against the floor (torch, the model and Adam alone). Each run is a fresh process;
    times are medians over ``repeats`` runs, the two alternating."""
    big = scale_cache(scale_dir, n_videos, frames, feature_dim, progress=progress)
    small = scale_dir.parent / f"{scale_dir.name}-ram"
    scale_cache(small, max(1, ram_frames // frames), frames, feature_dim, progress=False)
    common = dict(hidden=hidden, batch=batch, feature_dim=feature_dim, steps=steps)
    floor = _child_peak_rss(dict(common, data_dir=str(small), kind="floor", steps=20))["peak_rss"]
    ram, disk = [], []
    for _ in range(max(1, repeats)):
        ram.append(_child_peak_rss(dict(common, data_dir=str(small), kind="steps", cache_mode="ram")))
        disk.append(_child_peak_rss(dict(common, data_dir=str(big), kind="steps", cache_mode="mmap")))
    t_ram = float(np.median([r["seconds"] for r in ram]))
    t_disk = float(np.median([r["seconds"] for r in disk]))
    peak = max(r["peak_rss"] for r in disk)
    size = folder_bytes(big / "train")
    ratio = t_ram / t_disk
    limit = floor + (1 << 30)
    where = f"{disk[0]['frames']:,} frames x {feature_dim} float16 on disk ({size / 1e9:.2f} GB, {scale_dir})"
    return [
        Row("scale: steps/s, mmap cache on disk vs 20k frames in RAM", "steps/s", steps / t_ram, steps / t_disk,
            ratio, ">= 0.8x", ratio >= 0.8,
            f"{steps} steps of {batch} random windows, hidden {hidden}; {where} ({disk[0]['store']}) against "
            f"{ram[0]['frames']:,} frames in RAM ({ram[0]['store']}); median of {len(ram)}"),
        Row("scale: peak RSS training from the mmap cache", "MB", floor / 1e6, peak / 1e6, peak / floor,
            f"<= floor + 1 GB = {limit / 1e6:.0f} MB", peak <= limit,
            f"peak = floor + {(peak - floor) / 1e6:.0f} MB for a {size / 1e9:.2f} GB cache; floor "
            f"{floor / 1e6:.0f} MB is torch + model + Adam training on one random batch, no cache", ratio_unit="x floor"),
    ]


# ---- 3c. distributed: 1 rank against N under torchrun ------------------------------------

def _timed(cmd: list[str], threads: int, log: Path) -> float:
    """Seconds ``cmd`` took from start to exit (interpreter, model load and rendezvous included)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), YOLO_OFFLINE="1", YOLO_VERBOSE="False")
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, cwd=SCRIPTS_DIR, env=env, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:8])} ... failed; its log: {log}\n{log.read_text()[-3000:]}")
    return time.perf_counter() - t0


def same_cache(a: Path, b: Path) -> bool:
    """The two caches hold the same videos, equal arrays, features within float rounding."""
    for split in ("train", "test", "eval"):
        names = lambda d: sorted(p.name for p in d.iterdir() if not p.name.startswith(".")) if d.is_dir() else []  # noqa
        if names(a / split) != names(b / split):
            return False
        for name in names(a / split):
            va, vb = cache.read_video(a / split / name), cache.read_video(b / split / name)
            for k in cache.ARRAYS:
                x, y = np.asarray(va.arrays[k]), np.asarray(vb.arrays[k])
                ok = (np.allclose(x, y, rtol=1e-4, atol=1e-12) if k == "features"
                      else np.array_equal(x, y, equal_nan=x.dtype.kind == "f"))
                if not ok:
                    return False
    return True


def bench_distributed(work: Path, *, weights: str, ranks: int, device: str, videos: int, frames: int,
                      img_size: int, train_videos: int, epochs: int, hidden: int, seed: int = 0) -> list[Row]:
    """dataloader.py and train.py as 1 process and as ``ranks`` ranks under torchrun, on the same
    inputs: wall time of each and whether the outputs agree (caches: same arrays, features within
    rounding; weights within 1e-6). Every process, the single one included, gets cores / ranks
    threads: the same numerics (oneDNN's sums depend on the thread count) and the same resources
    per rank, as one GPU per rank would be."""
    from .distributed import launch_command
    from .synthetic import make_benchmark
    from .synthetic_cache import write_synthetic_cache

    threads = max(1, (os.cpu_count() or 1) // ranks)
    otb = work / "dist-otb"
    make_benchmark(otb, n_sequences=videos, frames=frames, size=(320, 240), seed=seed, progress=False)
    w = Path(weights)
    if str(weights).lower().endswith((".yaml", ".yml")):  # one untrained network for both runs
        from .extractor import load_yolo

        torch.manual_seed(seed)
        w = work / "dist-weights.pt"
        load_yolo(weights).save(str(w))
    args = lambda out: ["--otb_root", otb, "--list_file", otb / "list.txt", "--out_dir", out, "--weights", w,  # noqa
                        "--img_size", img_size, "--conf", CHECK_CONF, "--device", device, "--batch_size", 8,
                        "--n_train", videos - 1, "--n_test", 1, "--strict_frames", "false"]
    script = SCRIPTS_DIR / "dataloader.py"
    t1 = _timed([sys.executable, str(script), *map(str, args(work / "x1"))], threads, work / "x1.log")
    tn = _timed(launch_command(ranks, script, args(work / "xn")), threads, work / "xn.log")
    rows = [Row(f"distributed: extraction, {ranks} ranks vs 1", "s", t1, tn, t1 / tn,
                "report (no speed-up on 2 CPU cores)", None,
                f"dataloader.py, {videos} videos x {frames} frames at {img_size}px on {device}, wall time with "
                f"start-up; {os.cpu_count()} cores, {threads} threads per process; same = equal boxes "
                f"and ground truth, features within rounding", same_cache(work / "x1", work / "xn"))]

    data = work / "dist-cache"
    write_synthetic_cache(data, experiment=3, n_videos=train_videos + 2, frames=60, n_train=train_videos, n_test=1,
                          feature_dim=512, seed=seed)
    targs = lambda ck: ["--data_dir", data, "--checkpoint_dir", ck, "--experiment", 3, "--epochs", epochs,  # noqa
                        "--batch_size", 16, "--lr", 1e-3, "--hidden", hidden, "--device", device, "--cache_mode", "ram"]
    script = SCRIPTS_DIR / "train.py"
    t1 = _timed([sys.executable, str(script), *map(str, targs(work / "c1"))], threads, work / "c1.log")
    tn = _timed(launch_command(ranks, script, targs(work / "cn")), threads, work / "cn.log")
    a = torch.load(work / "c1" / f"rolo_lstm_exp3_{epochs}.pth", weights_only=True)["model"]
    b = torch.load(work / "cn" / f"rolo_lstm_exp3_{epochs}.pth", weights_only=True)["model"]
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    rows.append(Row(f"distributed: training, {ranks} ranks vs 1", "s", t1, tn, t1 / tn,
                    "report (no speed-up on 2 CPU cores)", None,
                    f"train.py, {train_videos} videos x 60 frames, {epochs} epochs, global batch 16, hidden {hidden} on "
                    f"{device}, wall time with start-up; weights differ by at most {diff:.1e} (same: <= 1e-6)",
                    diff <= 1e-6))
    return rows


def gpu_targets(device) -> list[Row]:
    """The issue's GPU targets, kept in the table: measured on CUDA by the extraction stage and by
    ``--stages distributed --device cuda``; on any other device they are rows that say so."""
    if torch.device(device).type == "cuda":
        return []
    why = f"not measured: no CUDA device in this run ({device}); run bench.py --device cuda on a GPU machine"
    nan = float("nan")
    return [Row("GPU: extraction batch 32 fp16 vs bare forward", "frames/s", nan, nan, nan, ">= 0.9", None, why),
            Row("GPU: DDP training, N ranks vs 1", "steps/s", nan, nan, nan, "report", None, why)]


# ---- 4. evaluation -----------------------------------------------------------------

def report_style_predict(model, dataset: ReportWindows, device) -> np.ndarray:
    """(W, L, Dout) outputs of every window, one forward and one host copy per window."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False)
    outs = []
    with torch.no_grad():
        for x, _ in loader:
            outs.append(model(x.float().to(device))[0].cpu().numpy())
    return np.stack(outs)


def bench_evaluation(data_dir: Path, *, device, repeats: int, hidden: int, seed: int = 0) -> list[Row]:
    """Seconds to predict every window of the test split with one checkpoint (no frame rendering)."""
    device = resolve_device(device)
    videos = cache.read_split(data_dir, "test")
    torch.manual_seed(seed)
    model = ROLO(videos[0].meta["feature_dim"], hidden).to(device).eval()
    per_video = [ReportWindows([v], SEQ_LEN, training=False) for v in videos]

    def run_base():
        return [cxcywh_norm_to_xywh(report_style_predict(model, ds, device), v.image_size)
                for v, ds in zip(videos, per_video)]

    def run_ours():
        return [evaluation.evaluate_video(model, v, seq_len=SEQ_LEN, head="coord", device=device,
                                          behaviour=REPORT_BEHAVIOUR)["report"] for v in videos]

    t_base, t_ours = Timer(device), Timer(device)
    for _ in range(repeats):
        with t_base:
            run_base()
        with t_ours:
            run_ours()
    with exact_math():  # the check, untimed: cuDNN's TF32 LSTM alone differs by ~3e-2 px
        base, ours = run_base(), run_ours()
    err = max(float(np.abs(a - b).max()) for a, b in zip(base, ours))
    windows = sum(len(ds) for ds in per_video)
    ratio = t_base.median / t_ours.median
    return [Row("evaluation, all test windows", "s", t_base.median, t_ours.median, ratio, ">= 20x", ratio >= 20,
                f"{windows} windows, {len(videos)} videos, hidden {hidden}, {device.type}; "
                f"max box diff {err:.1e} px", err <= 1e-2)]


# ---- 5. online step ----------------------------------------------------------------

class CannedExtractor:
    """Stands in for the detector in :class:`rolo.tracker.RoloTracker`: every frame gets
    ``top_k`` detections scattered around the frame centre and a random feature, so
    the tracker's own step (detection choice, LSTM, decoding) is what is timed."""

    def __init__(self, feature_dim: int, top_k: int, seed: int = 0):
        from .extractor import Detections

        rng = np.random.default_rng(seed)
        topk = np.zeros((1, top_k, 6), np.float32)
        topk[0, :, :2] = 0.5 + rng.normal(0, 0.05, (top_k, 2))
        topk[0, :, 2:4] = rng.uniform(0.1, 0.3, (top_k, 2))
        topk[0, :, 4] = np.sort(rng.uniform(0.3, 0.9, top_k))[::-1]
        self.dets = Detections(boxes=topk[:, 0, :4].copy(), features=rng.normal(0, 1, (1, feature_dim)).astype(
            np.float32), conf=topk[:, 0, 4].copy(), detected=np.ones(1, bool), topk=topk)

    def detect_batch(self, images):
        return self.dets


def bench_online(yolo, *, device, imgsz: int, hidden: int, feature_dim: int, steps: int,
                 forwards: int) -> list[Row]:
    """The tracker's per-frame step (target rule over K detections + LSTM over SEQ_LEN rows + decoding)
    against one bare forward of the detector at ``imgsz``."""
    from .tracker import RoloTracker

    device = resolve_device(device)
    half = device.type == "cuda"
    net = bare_network(yolo, device, half)
    x = torch.rand((1, 3, imgsz, imgsz), device=device, dtype=torch.half if half else torch.float)
    x = x.contiguous(memory_format=torch.channels_last)
    t_yolo = Timer(device)
    with torch.inference_mode():
        net(x)
        for _ in range(forwards):
            with t_yolo:
                net(x)
    torch.manual_seed(0)
    model = ROLO(feature_dim, hidden).to(device)
    tracker = RoloTracker(model, CannedExtractor(feature_dim, ONLINE_TOP_K), seq_len=SEQ_LEN, select="target", device=device)
    frame = np.zeros((FRAME_SIZE[1], FRAME_SIZE[0], 3), np.uint8)
    tracker.init(frame, [FRAME_SIZE[0] * 0.4, FRAME_SIZE[1] * 0.4, FRAME_SIZE[0] * 0.2, FRAME_SIZE[1] * 0.2])
    for _ in range(steps + 10):
        tracker.update(frame)
    step = float(np.median(tracker.step_seconds[11:]))  # the first updates warm the LSTM up
    frac = step / t_yolo.median
    return [Row(f"online step vs one detector forward at {imgsz}", "ms", 1e3 * t_yolo.median, 1e3 * step, frac,
                "<= 3%", frac <= 0.03,
                f"RoloTracker.update minus detection: target rule over K={ONLINE_TOP_K}, ROLO on "
                f"1x{SEQ_LEN}x{feature_dim + 4}, hidden {hidden}, decoding; {device.type}", ratio_unit="%")]


# ---- the run -------------------------------------------------------------------------

def settings(cfg) -> dict:
    """The mode's sizes with the script's non-zero overrides."""
    s = dict(PRESETS["quick" if cfg.QUICK else "full"])
    for key in ("FRAMES", "IMG_SIZE", "EXTRACT_BATCH", "REPEATS"):
        if cfg[key]:
            s[key.lower()] = cfg[key]
    return s


def selected_stages(text: str, quick: bool = False) -> list[str]:
    """The stage names of ``--stages`` ("all": every stage, less :data:`SLOW_STAGES` when ``quick``)."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    if names == ["all"]:
        return [s for s in STAGES if not (quick and s in SLOW_STAGES)]
    bad = [s for s in names if s not in STAGES]
    if bad or not names:
        raise config.ConfigError(f"--stages: unknown stage(s) {', '.join(bad) or '(none)'}; "
                                 f"use all or a comma list of {', '.join(STAGES)}")
    return names


def machine() -> str:
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    gpu = f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    load = f", load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{cpu}, {os.cpu_count()} cores{gpu}; torch {torch.__version__}, {torch.get_num_threads()} threads{load}"


def format_value(v: float) -> str:
    if v != v:  # NaN: a target this machine cannot measure (a GPU's)
        return "not measured"
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def format_ratio(row: Row) -> str:
    if row.ratio != row.ratio:
        return "-"
    return f"{100 * row.ratio:.2f}%" if row.ratio_unit == "%" else f"{row.ratio:.2f}{row.ratio_unit}"


def render(rows: list[Row]) -> str:
    """The table: stage, baseline, ours, ratio, target, met, same outputs; then one note per row."""
    head = ("stage", "unit", "baseline", "ours", "ratio", "target", "met", "same")
    body = [(r.stage, r.unit, format_value(r.baseline), format_value(r.ours), format_ratio(r), r.target,
             {True: "yes", False: "NO", None: "-"}[r.ok], {True: "yes", False: "NO", None: "-"}[r.same])
            for r in rows]
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    line = lambda cells: "  ".join(str(c).ljust(w) if i in (0, 1, 5) else str(c).rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    out = [line(head), line(["-" * w for w in widths]), *map(line, body), ""]
    out += [f"{i + 1}. {r.stage}: {r.note}" for i, r in enumerate(rows)]
    return "\n".join(out)


def main(script_globals, argv=None):
    cfg = config.from_script(script_globals, argv, checks=CHECKS)
    return run(cfg)


def run(cfg, progress: bool = True) -> list[Row]:
    """Run the selected stages and print the table; returns its rows."""
    stages = selected_stages(cfg.STAGES, cfg.QUICK)
    s = settings(cfg)
    device = resolve_device(cfg.DEVICE)
    t0 = time.perf_counter()
    say = (lambda msg: print(msg, flush=True)) if progress else (lambda msg: None)  # noqa: E731
    say(f"bench.py {'--quick true' if cfg.QUICK else '(full)'} on {machine()}; device {device}")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="rolo-bench-", dir=cfg.WORK_DIR or None) as tmp:
        work = Path(tmp)
        yolo = None
        if "extraction" in stages or "online" in stages:
            paths = frame_paths(cfg.IMG_DIR, s["frames"], work)
            yolo = bench_yolo(cfg.WEIGHTS, paths, s["img_size"], cfg.SEED)
        if "extraction" in stages:
            say("extraction ...")
            rows += bench_extraction(paths, weights=cfg.WEIGHTS, imgsz=s["img_size"], batch=s["extract_batch"],
                                     device=device, conf=cfg.CONF, repeats=s["repeats"],
                                     check_frames=s["check_frames"], yolo=yolo)
        if {"training", "batched"} & set(stages):
            data = workload_cache(work / "workload", s["train_videos"], s["test_videos"], s["train_frames"],
                                  s["feature_dim"], cfg.SEED)
        if "training" in stages:
            say("training, batch 1 ...")
            rows += bench_training(data, device=device, repeats=s["repeats"], hidden=s["hidden"],
                                   max_windows=s["epoch_windows"], seed=cfg.SEED)
        if "batched" in stages:
            say("batched training ...")
            rows += bench_batched(data, work, device=device, hidden=s["hidden"], batch1_epochs=s["batch1_epochs"],
                                  fast_batch=cfg.FAST_BATCH_SIZE, fast_lr=cfg.FAST_LR, fast_epochs=s["fast_epochs"])
        if "memory" in stages:
            say("memory ...")
            rows += bench_memory(work, n_videos=s["mem_videos"], frames=s["mem_frames"],
                                 feature_dim=s["feature_dim"], hidden=s["mem_hidden"],
                                 batch=s["mem_batch"], baseline_steps=s["mem_baseline_steps"])
        if "evaluation" in stages:
            say("evaluation ...")
            long_videos = workload_cache(work / "long", 1, s["eval_videos"], s["eval_frames"], s["feature_dim"],
                                         cfg.SEED)
            rows += bench_evaluation(long_videos, device=device, repeats=s["repeats"], hidden=s["hidden"],
                                     seed=cfg.SEED)
        if "online" in stages:
            say("online step ...")
            rows += bench_online(yolo, device=device, imgsz=s["online_img_size"], hidden=s["hidden"],
                                 feature_dim=s["feature_dim"], steps=s["online_steps"], forwards=s["online_forwards"])
        if "scale" in stages:
            say("scale: training steps from a LaSOT-size cache on disk ...")
            scale_dir = Path(cfg.SCALE_DIR or Path.home() / ".cache" / "rolo" / "bench-scale")
            scale_dir = scale_dir / ("quick" if cfg.QUICK else "full")
            rows += bench_scale(work, scale_dir, n_videos=s["scale_videos"], frames=s["scale_frames"],
                                feature_dim=s["feature_dim"], hidden=s["scale_hidden"], batch=s["scale_batch"],
                                steps=s["scale_steps"], repeats=cfg.REPEATS or (1 if cfg.QUICK else 2),
                                progress=progress)
        if "distributed" in stages:
            say(f"distributed: 1 rank and {cfg.DIST_RANKS} under torchrun ...")
            rows += bench_distributed(work, weights=cfg.WEIGHTS, ranks=cfg.DIST_RANKS, device=str(device),
                                      videos=s["dist_videos"], frames=s["dist_frames"], img_size=s["dist_img_size"],
                                      train_videos=s["dist_train_videos"], epochs=s["dist_epochs"],
                                      hidden=s["hidden"], seed=cfg.SEED)
        rows += gpu_targets(device)
    print()
    print(render(rows))
    if cfg.QUICK and cfg.STAGES == "all":
        print(f"\n--quick leaves out: {', '.join(SLOW_STAGES)} (minutes; run the full mode, or --stages batched)")
    print(f"\n{time.perf_counter() - t0:.0f} s in all; machine: {machine()}")
    if cfg.JSON:
        Path(cfg.JSON).write_text(json.dumps({"machine": machine(), "device": str(device), "quick": cfg.QUICK,
                                              "rows": [r.as_dict() for r in rows]}, indent=1) + "\n")
    return rows


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--memory-child":
    _memory_child(json.loads(sys.argv[2]))
