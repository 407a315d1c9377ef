"""YOLOv8 as ROLO's visual front end: one detection and one feature vector per frame.

As in the report (section II), every frame is resized to ``imgsz x imgsz``
without keeping its aspect ratio, converted BGR -> RGB, scaled to [0, 1] and
run through YOLOv8. From that single forward pass we keep

* the feature: the output of the last backbone layer (SPPF, layer 9 of the
  yolov8 yaml; 512 channels for yolov8s, 256 for yolov8n), global-average
  pooled to a (D,) vector. A forward hook captures it, so nothing is re-run
  and no Ultralytics code is forked;
* the detection: Ultralytics' own NMS (same ``conf``, ``iou`` and
  ``max_det=300`` as ``YOLO.predict``), keeping the most confident box of any
  class (the report's rule), plus the ``top_k`` best boxes so that a later
  stage can choose among them.

Boxes are ``cxcywh_norm`` (see :mod:`rolo.boxes`): because the frame was
stretched to a square, dividing by ``imgsz`` in the resized frame is the same
as normalising in the original frame. Like ``predict()``, boxes are clipped
to the frame. A frame without any detection gets the report's sentinel box
:data:`rolo.boxes.NO_DETECTION_CXCYWH_NORM`, confidence 0 and
``detected=False``; its feature is still the frame's real feature.

Weights are loaded with ``ultralytics.YOLO``; ``yolov8s.pt`` is downloaded on
first use where the network allows it, and a failed download is a
:class:`WeightsError` that says how to get the file (never a silent fallback).
"""
from __future__ import annotations

import inspect
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .boxes import NO_DETECTION_CXCYWH_NORM, xyxy_norm_to_cxcywh_norm
from .device import resolve_device  # noqa: F401  (re-exported: rolo.extractor.resolve_device)
from .errors import ConfigError, DataError

#: Ultralytics' predict() default; also the report's setting.
MAX_DET = 300
#: Row of ``Detections.topk`` for a slot with no detection: sentinel box, conf -1, class -1.
TOPK_PAD_ROW = np.concatenate([NO_DETECTION_CXCYWH_NORM, [-1.0, -1.0]]).astype(np.float32)
#: Index of the last backbone layer (SPPF) in the yolov8 yaml, used when no SPPF module is found.
BACKBONE_LAST_INDEX = 9
#: Batches decoded ahead of the one being run on the network.
PREFETCH_BATCHES = 2


class WeightsError(DataError):
    """Detector weights that are missing, cannot be downloaded or cannot be loaded."""


@dataclass
class Detections:
    """Per-frame output of :class:`YOLOv8FeatureExtractor` for N frames.

    boxes:    (N, 4) float32 ``cxcywh_norm``, the most confident detection of any class,
              or :data:`~rolo.boxes.NO_DETECTION_CXCYWH_NORM` when there is none.
    features: (N, D) float32, the pooled last-backbone-layer feature of each frame.
    conf:     (N,) float32, confidence of ``boxes`` (0 when nothing was detected).
    detected: (N,) bool.
    topk:     (N, K, 6) float32, the K most confident detections per frame, sorted by
              confidence, rows ``[cx, cy, w, h (cxcywh_norm), conf, cls]``; missing
              slots are :data:`TOPK_PAD_ROW` ``[0.5, 0.5, 0, 0, -1, -1]``.
    sizes:    (N, 2) int64, each frame's (width, height) in pixels as decoded, or None when
              not recorded. Boxes are normalised by their own frame's size, so a caller that
              converts them to pixels needs it (:func:`rolo.extraction.sequence_size`).
    """
    boxes: np.ndarray
    features: np.ndarray
    conf: np.ndarray
    detected: np.ndarray
    topk: np.ndarray
    sizes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def concat(cls, parts: Sequence["Detections"]) -> "Detections":
        """Frames of ``parts`` in order, as one :class:`Detections` (``parts`` must not be empty)."""
        if not parts:
            raise ValueError("Detections.concat needs at least one part")
        sizes = None if any(p.sizes is None for p in parts) else np.concatenate([p.sizes for p in parts])
        return cls(*(np.concatenate([getattr(p, name) for p in parts], axis=0)
                     for name in ("boxes", "features", "conf", "detected", "topk")), sizes=sizes)


def preprocess_bgr(image_bgr: np.ndarray, imgsz: int) -> np.ndarray:
    """The report's preprocessing up to the scaling: (imgsz, imgsz, 3) uint8 RGB.

    ``image_bgr`` is an HxWx3 BGR uint8 frame; HxW or HxWx1 greyscale is
    accepted and replicated to three channels first. The frame is stretched
    with ``cv2.resize`` (bilinear, aspect ratio not kept).
    """
    import cv2

    img = np.asarray(image_bgr)
    if img.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {img.dtype}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"expected an HxWx3 BGR or HxW greyscale image, got shape {img.shape}")
    return cv2.cvtColor(cv2.resize(img, (imgsz, imgsz)), cv2.COLOR_BGR2RGB)


def decode_resized(path, imgsz: int) -> tuple[np.ndarray, tuple[int, int]]:
    """One frame file read and preprocessed (:func:`preprocess_bgr`), and its (W, H) as decoded:
    a decode worker process's task."""
    from .otb import load_image

    img = load_image(path)
    return preprocess_bgr(img, imgsz), (img.shape[1], img.shape[0])


def read_jpeg_bytes(path) -> tuple:
    """(path, the file's bytes as a uint8 tensor) for device-side decoding, with :func:`rolo.otb.load_image`'s
    checks for missing, empty and truncated files."""
    import torch

    from .otb import _jpeg_complete

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"image not found: {path}") from None
    if not data:
        raise DataError(f"image is empty (0 bytes): {path}")
    if path.suffix.lower() in (".jpg", ".jpeg") and not _jpeg_complete(path, len(data)):
        raise DataError(f"image is truncated (JPEG without its end-of-image marker): {path}")
    return path, torch.frombuffer(bytearray(data), dtype=torch.uint8)


def _release_url(name: str) -> str:
    """Where Ultralytics downloads ``name`` from (its current release tag)."""
    from ultralytics.utils import downloads

    release = inspect.signature(downloads.attempt_download_asset).parameters["release"].default
    return f"https://github.com/{downloads.GITHUB_ASSETS_REPO}/releases/download/{release}/{name}"


def _download_help(name: str) -> str:
    stem = Path(name).stem
    return (f"Get {name} from {_release_url(name)} , or on any machine with network run\n"
            f"  python -c \"from ultralytics import YOLO; YOLO('{name}')\"\n"
            f"and copy the file here; then point WEIGHTS at it: --weights /path/to/{name}\n"
            f"(For checks only, --weights {stem}.yaml builds the same network untrained: "
            f"its boxes and features are meaningless.)")


def _rolo_hint(path: Path) -> str:
    """" (it is a ROLO checkpoint ...)" when ``path`` is train.py's output, which users mistake for weights."""
    import torch

    try:  # weights_only: a file we could not identify is never unpickled here
        peek = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # not a torch file, or one holding other objects: nothing to add
        return ""
    if isinstance(peek, dict) and ("model_info" in peek or "lstm.weight_ih_l0" in peek):
        return " (it is a ROLO LSTM checkpoint from train.py, not detector weights)"
    return ""


def load_yolo(weights):
    """An ``ultralytics.YOLO`` from a ready instance, a local file, an Ultralytics asset name or a yaml.

    A bare asset name such as ``yolov8s.pt`` is downloaded by Ultralytics when
    missing; a failure raises :class:`WeightsError` explaining how to get the
    file. Any other path that does not exist is an error naming it.
    """
    import torch
    from ultralytics import YOLO
    from ultralytics.engine.model import Model
    from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES

    if isinstance(weights, Model):
        return weights
    text = str(weights).strip()
    path = Path(text)
    bare = os.sep not in text and "/" not in text
    if path.is_file():
        try:
            yolo = YOLO(text)
        except Exception as e:  # Ultralytics raises TypeError/RuntimeError/... for damaged files
            # Ultralytics' own text runs to several lines and recommends its newest models: its first line is the cause.
            cause = (str(e).strip().splitlines() or [""])[0]
            raise WeightsError(f"cannot load YOLO weights {path}: {type(e).__name__}: {cause}{_rolo_hint(path)}") from e
        if not isinstance(yolo.model, torch.nn.Module):
            # Ultralytics takes a file it cannot read as a network (an image, a .pth) for a source name.
            raise WeightsError(f"--weights {path} is not a YOLO weights file{_rolo_hint(path)}; pass a .pt from "
                               f"Ultralytics or from finetune_yolo.py, or a model yaml")
        return yolo
    if bare and text in GITHUB_ASSETS_NAMES:
        try:
            return YOLO(text)
        except Exception as e:  # a failed download surfaces as ConnectionError, FileNotFoundError, ...
            raise WeightsError(f"YOLO weights {text!r} are not on this machine and could not be downloaded "
                               f"({type(e).__name__}: {e}).\n{_download_help(text)}") from e
    if bare and path.suffix.lower() in (".yaml", ".yml"):
        try:
            return YOLO(text)
        except Exception as e:  # an unknown model config name
            raise WeightsError(f"cannot build a YOLO model from config {text!r}: {type(e).__name__}: {e}") from e
    raise WeightsError(f"YOLO weights file not found: {text}\n"
                       f"Pass an existing .pt file (--weights /path/to/yolov8s.pt) or an Ultralytics model name "
                       f"such as yolov8s.pt, which is downloaded on first use.")


def inference_network(model, device, half: bool):
    """``model`` (a YOLO ``nn.Module``) ready for inference: BatchNorm folded into the convolutions
    (what ``predict()`` does), eval mode, fp16 or fp32, in-place activations, and channels-last,
    the layout in which oneDNN and cuDNN run its convolutions fastest (10-20% faster on CPU
    here; bench.py)."""
    import torch

    model = model.fuse(verbose=False).to(device).eval()
    model = model.half() if half else model.float()
    for m in model.modules():
        # Inference only: each activation's input is a convolution output nothing else reads.
        if isinstance(m, torch.nn.SiLU):
            m.inplace = True
    return model.to(memory_format=torch.channels_last)


def _feature_layer(model):
    """The last backbone layer of a DetectionModel: its SPPF module, else layer 9."""
    from ultralytics.nn.modules import SPPF

    layers = list(model.model)
    for layer in layers:
        if isinstance(layer, SPPF):
            return layer
    if len(layers) <= BACKBONE_LAST_INDEX:
        raise WeightsError(f"the model has no SPPF layer and only {len(layers)} layers; "
                           f"cannot locate the last backbone layer")
    return layers[BACKBONE_LAST_INDEX]


def _out_channels(layer) -> int | None:
    import torch

    convs = [m for m in layer.modules() if isinstance(m, torch.nn.Conv2d)]
    return convs[-1].out_channels if convs else None


def _nms():
    try:  # where recent Ultralytics (8.4 here) keeps it; older releases had it in utils.ops
        from ultralytics.utils.nms import non_max_suppression
    except ImportError:
        from ultralytics.utils.ops import non_max_suppression
    return non_max_suppression


class YOLOv8FeatureExtractor:
    """Detections and backbone features of YOLOv8 frames, from one forward pass per batch.

    ``weights``: an ``ultralytics.YOLO`` instance (it is copied, never
    modified), a ``.pt`` file, an Ultralytics asset name (``yolov8s.pt``,
    downloaded when missing) or a model yaml (``yolov8s.yaml``: untrained,
    for checks). ``device``: ``None``/``"auto"``, ``"cpu"``, ``"cuda:0"``...
    ``half``: fp16 inference; ``None`` means on for CUDA, off for CPU.
    ``decode_workers``: 0 decodes frames in threads of this process; N > 0 in N
    worker processes (a many-core host feeding a GPU: decoding holds the GIL only
    partly, and one process's threads did not keep up). ``gpu_decode``: JPEGs are
    decoded by torchvision on the extractor's device (nvJPEG on CUDA) and stretched
    there (bilinear, as cv2's); pixels then differ from OpenCV's by rounding.
    Call :meth:`close` to stop the worker processes.

    Attributes: ``feature_dim`` (D), ``names`` (class id -> name),
    ``feature_layer`` (the hooked module), ``feature_layer_index`` (its index
    in the model, for Ultralytics' ``embed=[i]``), ``device``, ``half``.

    Not thread-safe: one extractor serves one caller at a time.
    """

    def __init__(self, weights="yolov8s.pt", device=None, imgsz: int = 640, conf: float = 0.25,
                 iou: float = 0.7, top_k: int = 10, half: bool | None = None, decode_workers: int = 0,
                 gpu_decode: bool = False):
        import torch
        from ultralytics.engine.model import Model

        if not 0.0 <= conf <= 1.0:
            raise ConfigError(f"conf must be between 0 and 1, got {conf!r}")
        if not 0.0 <= iou <= 1.0:
            raise ConfigError(f"iou must be between 0 and 1, got {iou!r}")
        if int(top_k) < 1:
            raise ConfigError(f"top_k must be >= 1, got {top_k!r}")
        if int(decode_workers) < 0:
            raise ConfigError(f"decode_workers must be >= 0, got {decode_workers!r}")
        self.decode_workers, self.gpu_decode, self._pool = int(decode_workers), bool(gpu_decode), None
        self.device = resolve_device(device)
        self.half = self.device.type == "cuda" if half is None else bool(half)
        if self.half and self.device.type != "cuda":
            raise ConfigError(f"half precision needs a CUDA device, got device {str(self.device)!r}")

        yolo = load_yolo(weights)
        if yolo.task != "detect":
            raise WeightsError(f"{weights!r} is a {yolo.task!r} model; ROLO needs a detection model")
        # Our copy is fused and hooked; the caller's YOLO object must stay as it was.
        model = deepcopy(yolo.model) if isinstance(weights, Model) else yolo.model
        model = inference_network(model, self.device, self.half)
        for p in model.parameters():
            p.requires_grad_(False)
        self.model = model
        self.names = dict(model.names)
        self.stride = max(int(model.stride.max()), 32)
        if int(imgsz) != imgsz or imgsz < self.stride or imgsz % self.stride:
            raise ConfigError(f"imgsz must be a positive multiple of the model stride {self.stride}, got {imgsz!r}")
        self.imgsz = int(imgsz)
        self.conf = float(conf)
        self.iou = float(iou)
        self.top_k = int(top_k)

        self.feature_layer = _feature_layer(model)
        self.feature_layer_index = int(getattr(self.feature_layer, "i", BACKBONE_LAST_INDEX))
        self._captured: list = []
        self._hook = self.feature_layer.register_forward_hook(self._capture)
        dim = _out_channels(self.feature_layer)
        if dim is None:  # a layer without convolutions: ask the network once
            dim = self._forward(torch.zeros((1, self.stride, self.stride, 3), dtype=torch.uint8))[1].shape[1]
        self.feature_dim = int(dim)

    def __repr__(self) -> str:
        return (f"YOLOv8FeatureExtractor(device={str(self.device)!r}, imgsz={self.imgsz}, conf={self.conf}, "
                f"iou={self.iou}, top_k={self.top_k}, half={self.half}, feature_dim={self.feature_dim})")

    def close(self) -> None:
        """Stop the decode worker processes (started on first use when ``decode_workers`` > 0)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _process_pool(self):
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: a forked copy of a process whose torch threads are running can deadlock.
            self._pool = ProcessPoolExecutor(self.decode_workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def _capture(self, module, inputs, output):
        # Pool in float32: fp16 sums over 20x20 cells lose digits.
        self._captured.append(output.float().mean(dim=(2, 3)))

    # ---- the one forward pass -------------------------------------------------

    def _host_batch(self, n: int):
        """An empty (n, imgsz, imgsz, 3) uint8 tensor, in pinned memory on CUDA for async copies."""
        import torch

        return torch.empty((n, self.imgsz, self.imgsz, 3), dtype=torch.uint8,
                           pin_memory=self.device.type == "cuda")

    def _forward(self, batch_rgb):
        """Run (N, S, S, 3) uint8 RGB -> raw NMS output list and (N, D) float32 features (on device)."""
        import torch

        # (N, S, S, 3) permuted is already channels-last: no copy before the network.
        x = batch_rgb.to(self.device, non_blocking=True).permute(0, 3, 1, 2).contiguous(
            memory_format=torch.channels_last)
        x = (x.half() if self.half else x.float()).div_(255)
        self._captured.clear()
        with torch.inference_mode():
            preds = self.model(x)
            if len(self._captured) != 1:
                raise RuntimeError(f"feature hook fired {len(self._captured)} times in one forward pass")
            feats = self._captured.pop()
            kwargs = {"end2end": True} if getattr(self.model, "end2end", False) else {}
            dets = _nms()(preds, self.conf, self.iou, max_det=MAX_DET, **kwargs)
        return dets, feats

    def _detections(self, batch_rgb) -> Detections:
        import torch

        dets, feats = self._forward(batch_rgb)
        n, k, s = len(dets), self.top_k, float(self.imgsz)
        topk = torch.full((n, k, 6), -1.0)
        counts = np.zeros(n, dtype=np.int64)
        for i, d in enumerate(dets):
            d = d[:, :6].float()
            d = d[torch.argsort(d[:, 4], descending=True, stable=True)[:k]].cpu()
            topk[i, :len(d)] = d
            counts[i] = len(d)
        topk = topk.numpy()
        # Clipped to the frame as predict() does, then normalised by the square's side.
        xyxy_norm = np.clip(topk[..., :4] / s, 0.0, 1.0)
        topk[..., :4] = xyxy_norm_to_cxcywh_norm(xyxy_norm)
        filled = np.arange(k)[None, :] < counts[:, None]
        topk[~filled] = TOPK_PAD_ROW
        detected = counts > 0
        return Detections(
            boxes=np.ascontiguousarray(topk[:, 0, :4]),
            features=feats.cpu().numpy().astype(np.float32, copy=False),
            conf=np.where(detected, topk[:, 0, 4], 0.0).astype(np.float32),
            detected=detected,
            topk=topk.astype(np.float32, copy=False),
        )

    def _decode_on_device(self, files):
        """(N, S, S, 3) uint8 RGB on the device from ``files`` [(path, bytes)], and each frame's (W, H):
        torchvision's decoder on the device (nvJPEG on CUDA) and a bilinear stretch to S x S there,
        half-pixel centres and no antialiasing like cv2.resize's INTER_LINEAR, rounded back to uint8
        as cv2 does."""
        import torch
        import torch.nn.functional as F
        from torchvision.io import ImageReadMode, decode_image, decode_jpeg

        jpeg = [i for i, (p, _) in enumerate(files) if p.suffix.lower() in (".jpg", ".jpeg")]
        images: list = [None] * len(files)
        try:
            for i, im in zip(jpeg, decode_jpeg([files[i][1] for i in jpeg], mode=ImageReadMode.RGB,
                                               device=self.device) if jpeg else []):
                images[i] = im
            for i, (p, data) in enumerate(files):
                if images[i] is None:  # PNG, BMP: decoded on the host
                    images[i] = decode_image(data, mode=ImageReadMode.RGB).to(self.device, non_blocking=True)
        except RuntimeError:
            for p, data in files:  # find the file at fault
                try:
                    decode_image(data, mode=ImageReadMode.RGB)
                except RuntimeError as e:
                    raise DataError(f"cannot decode image (corrupt or not an image): {p} ({e})") from None
            raise
        s = self.imgsz
        out = torch.empty((len(files), s, s, 3), dtype=torch.uint8, device=self.device)
        for i, im in enumerate(images):
            r = F.interpolate(im[None].float(), size=(s, s), mode="bilinear", align_corners=False, antialias=False)
            out[i] = r[0].round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0)
        return out, [(int(im.shape[2]), int(im.shape[1])) for im in images]

    def _empty(self) -> Detections:
        return Detections(np.zeros((0, 4), np.float32), np.zeros((0, self.feature_dim), np.float32),
                          np.zeros(0, np.float32), np.zeros(0, bool), np.zeros((0, self.top_k, 6), np.float32),
                          np.zeros((0, 2), np.int64))

    # ---- public API -----------------------------------------------------------

    def detect_batch(self, images_bgr) -> Detections:
        """All of ``images_bgr`` (BGR uint8 frames of any sizes, or greyscale) in ONE forward pass."""
        images = list(images_bgr)
        if not images:
            return self._empty()
        batch = self._host_batch(len(images))
        arr = batch.numpy()
        for i, img in enumerate(images):
            arr[i] = preprocess_bgr(img, self.imgsz)
        dets = self._detections(batch)
        dets.sizes = np.array([(np.shape(img)[1], np.shape(img)[0]) for img in images], np.int64)
        return dets

    def extract(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The report's API: (box float32[4] ``cxcywh_norm``, feature float32[D]) of one frame."""
        d = self.detect_batch([image_bgr])
        return d.boxes[0], d.features[0]

    def extract_batch(self, images_bgr) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(boxes (N,4) ``cxcywh_norm``, features (N,D), confidences (N,)) float32, one forward pass."""
        d = self.detect_batch(images_bgr)
        return d.boxes, d.features, d.conf

    def extract_paths(self, paths, batch_size: int = 16, desc: str | None = None, progress: bool = True,
                      workers: int | None = None) -> Detections:
        """Detections for image files, ``batch_size`` frames per forward pass.

        Decoding and resizing run in ``workers`` background threads
        (default: up to 4), or in the ``decode_workers`` processes, up to
        :data:`PREFETCH_BATCHES` batches ahead, so they overlap inference. With
        ``gpu_decode`` the threads only read the files and the device decodes.
        A missing or undecodable image raises :class:`~rolo.errors.DataError`
        naming the file.
        """
        import contextlib

        from tqdm import tqdm

        from .otb import load_image

        paths = [Path(p) for p in paths]
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size!r}")
        if not paths:
            return self._empty()
        workers = workers or min(4, os.cpu_count() or 1)

        def load_into(arr, i, path):
            img = load_image(path)
            arr[i] = preprocess_bgr(img, self.imgsz)
            return img.shape[1], img.shape[0]

        if self.gpu_decode:
            submit = lambda pool, arr, i, path: pool.submit(read_jpeg_bytes, path)  # noqa: E731
        elif self.decode_workers:
            submit = lambda pool, arr, i, path: pool.submit(decode_resized, path, self.imgsz)  # noqa: E731
        else:
            submit = lambda pool, arr, i, path: pool.submit(load_into, arr, i, path)  # noqa: E731
        pool_cm = (contextlib.nullcontext(self._process_pool()) if self.decode_workers and not self.gpu_decode
                   else ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rolo-decode"))
        parts = []
        pending = deque()  # (host batch, futures filling it), oldest first
        with pool_cm as pool, tqdm(total=len(paths), desc=desc, unit="frame", disable=not progress) as bar:
            try:
                starts = iter(range(0, len(paths), batch_size))
                while True:
                    while len(pending) <= PREFETCH_BATCHES:
                        start = next(starts, None)
                        if start is None:
                            break
                        chunk = paths[start:start + batch_size]
                        batch = None if self.gpu_decode else self._host_batch(len(chunk))
                        arr = None if batch is None else batch.numpy()
                        pending.append((batch, [submit(pool, arr, i, p) for i, p in enumerate(chunk)]))
                    if not pending:
                        break
                    batch, futures = pending.popleft()
                    results = [f.result() for f in futures]  # re-raises DataError for a bad file
                    if self.gpu_decode:
                        batch, sizes = self._decode_on_device(results)
                    elif self.decode_workers:
                        arr = batch.numpy()
                        for i, (img, _) in enumerate(results):
                            arr[i] = img
                        sizes = [wh for _, wh in results]
                    else:
                        sizes = results
                    parts.append(self._detections(batch))
                    parts[-1].sizes = np.array(sizes, np.int64)
                    bar.update(len(futures))
            finally:
                for _, futures in pending:
                    for f in futures:
                        f.cancel()
        return Detections.concat(parts)


#: Detector name -> extractor class. A class takes ``(weights, device=, imgsz=, conf=, top_k=, decode_workers=,
#: gpu_decode=)`` and gives ``feature_dim``, ``device``, ``detect_batch(images_bgr) -> Detections``,
#: ``extract_paths(paths, batch_size, desc, progress)`` and ``close()``; a new detector is one such class and
#: one line here.
EXTRACTORS = {"yolov8": YOLOv8FeatureExtractor}


def build_extractor(settings):
    """The extractor that ``settings`` (a script's constants: DETECTOR, default ``"yolov8"``, WEIGHTS,
    DEVICE, IMG_SIZE, CONF, TOP_K, DECODE_WORKERS, GPU_DECODE) names; the one builder of
    extraction and the tracker."""
    name = settings.get("DETECTOR", "yolov8")
    if name not in EXTRACTORS:
        raise ConfigError(f"--detector: {name!r} is not allowed; choose one of {', '.join(map(repr, EXTRACTORS))}")
    return EXTRACTORS[name](settings["WEIGHTS"], device=settings.get("DEVICE", "auto"),
                            imgsz=settings.get("IMG_SIZE", 640), conf=settings.get("CONF", 0.25),
                            top_k=settings.get("TOP_K", 10), decode_workers=settings.get("DECODE_WORKERS", 0),
                            gpu_decode=settings.get("GPU_DECODE", False))
