"""Online ROLO tracking of one target in any video: ``track.py`` and a got10k-style tracker.

Per frame: one YOLO pass (:class:`rolo.extractor.YOLOv8FeatureExtractor`),
the detection choice of :mod:`rolo.select`, then one LSTM forward over the
last SEQ_LEN input rows ``[feature, box]``, kept in a ring buffer and run as
one (1, L, D) batch; frames before the SEQ_LEN-th use the shorter window that
starts at frame 1. That is evaluation.py's online mode with ``--init_gt true``
(the LSTM is causal and restarts with every window, so no state is carried).

Frame 1 follows OTB's one-pass protocol (OPE): the given box is frame 1's
output and frame 1's LSTM input box; after that only the frames are used.

Python API, in the style of the got10k toolkit's ``Tracker``::

    from rolo.tracker import RoloTracker
    tracker = RoloTracker.from_checkpoint("checkpoints/rolo_lstm_exp3_100.pth", weights="yolov8s.pt")
    tracker.init(first_frame_bgr, [x, y, w, h])      # xywh pixels (see rolo.boxes)
    box = tracker.update(next_frame_bgr)              # (4,) xywh pixels
    boxes, seconds = tracker.track(frames_or_image_paths, [x, y, w, h])

Frame sources for ``track.py`` (:func:`open_source`): a video file, a folder
of images (natural order: 2.jpg before 10.jpg), an OTB sequence folder or an
OTB sequence name under OTB_ROOT (these bring ground truth: frame 1's box and
the metrics), or a webcam index.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from . import config
from .boxes import cxcywh_norm_to_xywh, xywh_to_cxcywh_norm
from .cache import write_text_atomic
from .errors import ConfigError, DataError
from .evaluation import decode
from .model import DEFAULT_SEQ_LEN, given_settings, load_for_inference
from .datasets import get_dataset
from .otb import IMAGE_EXTS, list_images, load_image
from .reportcode import NO_DETECTION_BOX, Behaviour
from .select import RULES, check_rule, choose_target, valid_box_cxcywh_norm
from .toolkits import write_results
from .windows import lstm_inputs

CHECKS = {
    "SELECT": config.choices("auto", *RULES),
    "IMG_SIZE": config.at_least(32),
    "CONF": config.between(0.0, 1.0),
    "TOP_K": config.at_least(1),
    "HEATMAP_THRESHOLD": config.between(1e-6, 1.0),
    "MAX_FRAMES": config.at_least(0),
}
#: The report's extraction, assumed for a plain state dict that records none.
PLAIN_STATE_DICT_EXTRACTION = {"WEIGHTS": "yolov8s.pt", "IMG_SIZE": 640, "CONF": 0.25}
#: fps of the annotated video when the source does not say (image folders, OTB).
DEFAULT_VIDEO_FPS = 25.0
#: Frames averaged for the live FPS shown with --show.
LIVE_FPS_FRAMES = 10


def _frame_size(frame) -> tuple[int, int]:
    h, w = np.asarray(frame).shape[:2]
    return int(w), int(h)


def _check_box_xywh(box) -> np.ndarray:
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    if b.shape != (4,) or not np.isfinite(b).all() or b[2] <= 0 or b[3] <= 0:
        raise ValueError(f"the first-frame box must be x, y, w, h with w, h > 0, got {box!r}")
    return b


class RoloTracker:
    """ROLO as an online tracker: :meth:`init` with the first frame's box, then :meth:`update` per frame.

    ``model``: a :class:`rolo.model.ROLO` (or any module mapping (1, L, Din)
    to (1, L, Dout)); ``extractor``: anything with ``detect_batch([frame]) ->
    Detections`` (see :mod:`rolo.extractor`). ``select``: "confidence" or
    "target" (see :mod:`rolo.select`; here the reference is the previous
    output box, or this frame's chosen box when the output is not a valid
    box). ``threshold``: the heatmap head's decoding threshold. ``behaviour``
    (:mod:`rolo.reportcode`): the report-code input rules the checkpoint was trained with.

    Per-frame records, one entry per frame since :meth:`init`: ``boxes``
    (output, xywh pixels), ``inputs`` (the box fed to the LSTM,
    ``cxcywh_norm``), ``detected`` (frame 1: True, the given box),
    ``yolo_seconds`` and ``step_seconds`` (detection choice + LSTM + decoding).
    """

    name = "ROLO"

    def __init__(self, model: torch.nn.Module, extractor, *, seq_len: int = DEFAULT_SEQ_LEN, head: str | None = None,
                 select: str = "confidence", threshold: float = 0.5, device=None,
                 behaviour: Behaviour | None = None):
        if int(seq_len) < 1:
            raise ConfigError(f"seq_len must be >= 1, got {seq_len!r}")
        self.model = model.eval()
        self.extractor = extractor
        self.seq_len = int(seq_len)
        self.head = head or getattr(model, "head_type", "coord")
        self.select = check_rule(select)
        self.threshold = float(threshold)
        self.behaviour = behaviour or Behaviour()
        param = next(model.parameters(), None)
        self.device = torch.device(device) if device is not None else (
            param.device if param is not None else torch.device("cpu"))
        self._slots = torch.arange(self.seq_len, device=self.device)
        self._ring = None
        self._clear()

    def __repr__(self) -> str:
        return (f"RoloTracker(head={self.head!r}, inputs={self.model.inputs!r}, residual={self.model.residual}, "
                f"seq_len={self.seq_len}, select={self.select!r}, device={str(self.device)!r}, "
                f"inputs_as={self.behaviour.describe()!r}, extractor={self.extractor!r})")

    @classmethod
    def from_checkpoint(cls, checkpoint, weights=None, *, device="auto", imgsz: int | None = None,
                        conf: float | None = None, top_k: int = 10, select: str = "auto",
                        threshold: float = 0.5) -> "RoloTracker":
        """A tracker from a ``train.py`` / ``train_exp3.py`` checkpoint (either head).

        ``weights``, ``imgsz``, ``conf`` and ``select`` left at None / "auto" follow the checkpoint
        (the extraction settings of the cache it was trained on, its detection rule); a value
        given that the checkpoint records otherwise raises :class:`ConfigError` naming both.
        A plain state dict records none of them: then yolov8s.pt, 640 and 0.25, as the report.
        """
        from .extractor import build_extractor

        given = {"WEIGHTS": weights, "IMG_SIZE": imgsz, "CONF": conf, "SELECT": None if select == "auto" else select}
        inference = load_for_inference(checkpoint, {k: v for k, v in given.items() if v is not None})
        s = {**PLAIN_STATE_DICT_EXTRACTION, **inference.settings}
        check_rule(s["SELECT"])
        extractor = build_extractor({"WEIGHTS": s["WEIGHTS"], "DEVICE": device, "IMG_SIZE": s["IMG_SIZE"],
                                     "CONF": s["CONF"], "TOP_K": top_k, "DETECTOR": s.get("DETECTOR", "yolov8")})
        model = inference.model
        if extractor.feature_dim != model.feature_dim:
            raise DataError(f"checkpoint {checkpoint} expects {model.feature_dim}-d features, but WEIGHTS "
                            f"{s['WEIGHTS']} give {extractor.feature_dim}-d ones (yolov8s: 512, yolov8n: 256); use "
                            f"the weights the checkpoint's cache was extracted with")
        tracker = cls(model.to(extractor.device), extractor, seq_len=inference.seq_len, select=s["SELECT"],
                      threshold=threshold, device=extractor.device, behaviour=Behaviour.from_settings(s))
        tracker.weights = s["WEIGHTS"]
        tracker.extraction = {k: s[k] for k in ("WEIGHTS", "IMG_SIZE", "CONF")}  # what runs, for the settings echo
        return tracker

    # ---- the got10k interface ------------------------------------------------

    def init(self, frame, box_xywh) -> np.ndarray:
        """Start on ``frame`` (BGR uint8) with the target's ``box_xywh`` (pixels); returns that box."""
        box = _check_box_xywh(box_xywh)
        self._clear()
        t0 = time.perf_counter()
        det = self.extractor.detect_batch([frame])
        t1 = time.perf_counter()
        box_n = xywh_to_cxcywh_norm(box, _frame_size(frame))
        self._push(det.features[0], box_n)
        self._ref = box_n
        self._record(box, box_n, True, t1 - t0, time.perf_counter() - t1)
        return box

    def update(self, frame) -> np.ndarray:
        """Track into the next ``frame``; returns the (4,) float64 ``xywh`` pixel box."""
        if self._ring is None:
            raise RuntimeError("RoloTracker.update called before init(frame, box)")
        size = _frame_size(frame)
        t0 = time.perf_counter()
        det = self.extractor.detect_batch([frame])
        t1 = time.perf_counter()
        if self.select == "target":
            box_n, found = choose_target(det.topk[0], self._ref)
        else:
            box_n, found = det.boxes[0], bool(det.detected[0])
        self._push(det.features[0], box_n, found)
        pred_n = decode(self._step()[None], self.head, self.threshold)[0]
        # A failed output (no size, NaN) cannot be overlapped; the chosen box is the best guess then.
        self._ref = pred_n if valid_box_cxcywh_norm(pred_n) else np.asarray(box_n, np.float64)
        box = cxcywh_norm_to_xywh(pred_n, size)
        self._record(box, box_n, found, t1 - t0, time.perf_counter() - t1)
        return box

    def track(self, frames, box_xywh) -> tuple[np.ndarray, np.ndarray]:
        """got10k's ``Tracker.track``: ``frames`` (BGR arrays or image paths) from the first, with
        its ``box_xywh`` -> (N, 4) ``xywh`` boxes and (N,) seconds per frame."""
        seconds = []
        for i, f in enumerate(frames):
            img = load_image(f) if isinstance(f, (str, os.PathLike)) else f
            t = time.perf_counter()
            self.init(img, box_xywh) if i == 0 else self.update(img)
            seconds.append(time.perf_counter() - t)
        return np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4), np.asarray(seconds)

    # ---- internals -------------------------------------------------------------

    def _clear(self) -> None:
        self._count = 0
        self._ref = None
        self.boxes, self.inputs, self.detected, self.yolo_seconds, self.step_seconds = [], [], [], [], []

    def _push(self, feature, box_n, found: bool = True) -> None:
        if not found and self.behaviour.zero_undetected:
            feature, box_n = np.zeros_like(feature), NO_DETECTION_BOX
        row = torch.from_numpy(lstm_inputs(np.asarray(feature)[None], np.asarray(box_n)[None], self.head,
                                           self.behaviour.grid)[0])
        if self._count == 0 or self._ring is None or self._ring.shape[1] != row.numel():
            self._ring = torch.zeros((self.seq_len, row.numel()), dtype=torch.float32, device=self.device)
        self._ring[self._count % self.seq_len] = row.to(self.device)
        self._count += 1

    def _step(self) -> np.ndarray:
        """The LSTM's last output over the (up to) SEQ_LEN newest rows, oldest first: (Dout,) float32."""
        n = min(self._count, self.seq_len)
        rows = (self._count - n + self._slots[:n]) % self.seq_len
        with torch.inference_mode():
            out = self.model(self._ring[rows][None])[0, -1]
        return out.float().cpu().numpy()

    def _record(self, box, box_n, found, yolo_s, step_s) -> None:
        self.boxes.append(np.asarray(box, np.float64))
        self.inputs.append(np.asarray(box_n, np.float32))
        self.detected.append(bool(found))
        self.yolo_seconds.append(yolo_s)
        self.step_seconds.append(step_s)

    def speed(self) -> dict:
        """Per-frame cost over the frames after the first (frame 1 also warms the network up).

        ``fps`` = frames / (YOLO + step time); ``step_fraction`` = the share of
        the detection choice + LSTM + decoding in it. None before 2 frames.
        """
        y = np.asarray(self.yolo_seconds[1:], np.float64)
        s = np.asarray(self.step_seconds[1:], np.float64)
        if not len(y):
            return {"frames": 0, "fps": None, "yolo_ms": None, "step_ms": None, "step_fraction": None}
        total = float((y + s).sum())
        return {"frames": len(y), "fps": len(y) / total, "yolo_ms": 1e3 * float(y.mean()),
                "step_ms": 1e3 * float(s.mean()), "step_fraction": float(s.sum()) / total}


# ---- frame sources -----------------------------------------------------------------

@dataclass
class Source:
    """Frames to track: ``frames`` yields BGR uint8 images lazily (close it to release a capture).

    ``gt``: (N, 4) ``xywh`` ground truth when the source has one; ``fps`` and
    ``length`` when known.
    """
    name: str
    kind: str
    frames: Iterator[np.ndarray]
    gt: np.ndarray | None = None
    fps: float | None = None
    length: int | None = None


def _images(paths) -> Iterator[np.ndarray]:
    for p in paths:
        yield load_image(p)


def _capture_frames(cap, first) -> Iterator[np.ndarray]:
    try:
        yield first
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                return
            yield frame
    finally:
        cap.release()


def _open_capture(target, what: str) -> tuple[object, np.ndarray]:
    """An opened ``cv2.VideoCapture`` and its first frame, or a DataError naming ``what``."""
    import cv2

    cap = cv2.VideoCapture(target)
    if not cap.isOpened():
        cap.release()
        raise DataError(f"{what}: cannot be opened as a video (not a video file, or a codec OpenCV lacks)")
    ok, first = cap.read()
    if not ok or first is None:
        cap.release()
        raise DataError(f"{what}: no frame could be read (an empty or damaged video)")
    return cap, first


def _video_source(path: Path) -> Source:
    import cv2

    cap, first = _open_capture(str(path), f"--source {path}")
    fps, n = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    return Source(path.stem, "video", _capture_frames(cap, first), fps=fps if fps > 0 else None,
                  length=n if n > 0 else None)


def _webcam_source(index: int) -> Source:
    import cv2

    cap, first = _open_capture(index, f"--source {index} (webcam {index})")
    fps = cap.get(cv2.CAP_PROP_FPS)
    return Source(f"webcam{index}", "webcam", _capture_frames(cap, first), fps=fps if fps > 0 else None)


def _otb_source(seq) -> Source:
    return Source(seq.name, "otb", _images(seq.frames), gt=np.asarray(seq.gt, np.float64), length=len(seq))


def _folder_source(path: Path, strict: bool) -> Source:
    if (path / "img").is_dir():  # an OTB sequence folder: its ground truth comes along
        return _otb_source(get_dataset("otb", path.parent, strict=strict)[path.name])
    frames = list_images(path)
    if not frames:
        raise DataError(f"--source {path}: the folder holds no images ({', '.join(IMAGE_EXTS)})")
    return Source(path.name, "folder", _images(frames), length=len(frames))


def open_source(source, otb_root="OTB100", strict: bool = True) -> Source:
    """The frames of ``source``: a video file, an image folder, an OTB sequence (folder or
    name under ``otb_root``) or a webcam index. Problems raise a RoloError naming it."""
    text = str(source).strip()
    if not text:
        raise ConfigError("--source is empty: give a video file, a folder of frames, an OTB sequence name "
                          "(under --otb_root) or a webcam index")
    path = Path(text)
    if path.is_file():
        return _video_source(path)
    if path.is_dir():
        return _folder_source(path, strict)
    if text.isdigit():
        return _webcam_source(int(text))
    if "/" in text or os.sep in text or path.suffix:
        raise DataError(f"--source {text}: no such file or folder")
    try:
        seq = get_dataset("otb", otb_root, strict=strict)[text]
    except DataError as e:
        raise DataError(f"--source {text!r} is not a file, a folder or a webcam index, and not an OTB sequence "
                        f"under --otb_root {otb_root}: {e}") from None
    return _otb_source(seq)


# ---- the first frame's box -------------------------------------------------------------

def parse_box_xywh(text: str, flag: str = "--init") -> np.ndarray:
    """``"x,y,w,h"`` (commas or spaces, pixels) -> (4,) float64, w and h > 0."""
    parts = [p for p in re.split(r"[,\s]+", str(text).strip()) if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ConfigError(f"{flag}: expected x,y,w,h in pixels, got {text!r}") from None
    if len(values) != 4 or not np.isfinite(values).all() or values[2] <= 0 or values[3] <= 0:
        raise ConfigError(f"{flag}: expected four numbers x,y,w,h with w, h > 0, got {text!r}")
    return np.asarray(values, dtype=np.float64)


def _check_overlaps_frame(box_xywh: np.ndarray, frame) -> np.ndarray:
    """``box_xywh`` if it overlaps ``frame``, else a ConfigError naming both.

    Partly outside is allowed (a target at an image border); wholly outside would
    start the LSTM on a box it can never see, and score frame 1 as if the user had given it."""
    w, h = _frame_size(frame)
    x, y, bw, bh = box_xywh
    if x >= w or y >= h or x + bw <= 0 or y + bh <= 0:
        raise ConfigError(f"--init {','.join(f'{v:g}' for v in box_xywh)}: the box lies wholly outside the first "
                          f"frame, which is {w}x{h} pixels; give x,y,w,h in that frame's pixels")
    return box_xywh


def display_available() -> bool:
    """Whether OpenCV can open a window here (not with opencv-python-headless, nor without a display)."""
    import cv2

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        cv2.namedWindow("rolo-probe", cv2.WINDOW_NORMAL)
        cv2.destroyWindow("rolo-probe")
    except cv2.error:
        return False
    return True


def select_roi(frame) -> np.ndarray:
    """The box drawn with the mouse on ``frame`` (``cv2.selectROI``), xywh pixels."""
    import cv2

    if not display_available():
        raise ConfigError("no first-frame box: the source has no ground truth, and no display is available "
                          "for drawing one (cv2.selectROI); pass --init x,y,w,h (pixels of the first frame)")
    x, y, w, h = cv2.selectROI("ROLO: drag a box around the target, then press ENTER", frame, showCrosshair=True)
    cv2.destroyAllWindows()
    if w <= 0 or h <= 0:
        raise ConfigError("no box was drawn in the selectROI window; draw one or pass --init x,y,w,h")
    return np.asarray([x, y, w, h], dtype=np.float64)


def initial_box(init: str, source: Source, first_frame, select_fn: Callable = select_roi) -> tuple[np.ndarray, str]:
    """Frame 1's box and where it came from: --init, else the ground truth, else selectROI."""
    if str(init).strip():
        return _check_overlaps_frame(parse_box_xywh(init), first_frame), "--init"
    if source.gt is not None:
        return np.asarray(source.gt[0], np.float64), "ground truth"
    return select_fn(first_frame), "selectROI"


# ---- track.py ------------------------------------------------------------------------

def main(script_globals, argv=None):
    return run(config.from_script(script_globals, argv, checks=CHECKS))  # run() shows the settings it resolves


def _tracked_frames(tracker, first, frames, box0, gt, *, limit, draw: bool, show: bool, bar, stoppable: bool):
    """Run the tracker over the frames, yielding the annotated ones (None when not drawing).

    ``stoppable``: q or Ctrl-C ends the frames (an endless source) rather than raising."""
    from . import plots

    def out(frame, i):
        if not (draw or show):
            return None
        g = gt[i] if gt is not None and i < len(gt) else None
        img = plots.draw_boxes(frame, g, tracker.boxes[-1], frame_number=i + 1)
        if show:
            _show(img, tracker)
        return img

    tracker.init(first, box0)
    bar.update(1)
    yield out(first, 0)
    try:
        for i, frame in enumerate(frames, start=1):
            if limit and i >= limit:
                return
            tracker.update(frame)
            bar.update(1)
            yield out(frame, i)
    except (KeyboardInterrupt, _Quit):
        if not stoppable:
            raise
        return  # keep what was tracked: the results are still written


class _Quit(Exception):
    """The user pressed q or Esc in the --show window."""


def _show(img, tracker) -> None:
    import cv2

    recent = np.add(tracker.yolo_seconds[-LIVE_FPS_FRAMES:], tracker.step_seconds[-LIVE_FPS_FRAMES:])
    live = img.copy()
    cv2.putText(live, f"{len(recent) / max(recent.sum(), 1e-9):.1f} FPS", (5, live.shape[0] - 8),
                cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 255), 2, cv2.LINE_AA)
    cv2.imshow("ROLO (q to stop)", live)
    if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
        raise _Quit


def run(cfg, progress: bool = True) -> dict:
    """Track ``cfg.SOURCE``; write OUT_DIR/<name>.txt, .mp4 (VIDEO) and .json; return the summary."""
    from tqdm import tqdm

    from . import metrics, plots

    source = open_source(cfg.SOURCE, cfg.OTB_ROOT, cfg.STRICT_FRAMES)
    frames = source.frames
    windows = False  # a headless OpenCV raises from destroyAllWindows, which would mask the real error
    try:
        first = next(frames, None)
        if first is None:
            raise DataError(f"--source {cfg.SOURCE}: holds no frames")
        if cfg.SHOW and not display_available():
            raise ConfigError("--show true needs a display, and none is available here (no DISPLAY, or "
                              "opencv-python-headless); use --show false")
        windows = cfg.SHOW
        box0, box_from = initial_box(cfg.INIT, source, first)
        given = given_settings(cfg, ("WEIGHTS", "IMG_SIZE", "CONF"))
        tracker = RoloTracker.from_checkpoint(cfg.CHECKPOINT, given.get("WEIGHTS"), device=cfg.DEVICE,
                                              imgsz=given.get("IMG_SIZE"), conf=given.get("CONF"), top_k=cfg.TOP_K,
                                              select=cfg.SELECT, threshold=cfg.HEATMAP_THRESHOLD)
        if "REPORT_CODE" in cfg.given:  # told otherwise than the checkpoint
            tracker.behaviour = Behaviour.from_settings({"REPORT_CODE": cfg.REPORT_CODE})
        _show_settings(cfg, tracker)
        out_dir = Path(cfg.OUT_DIR)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DataError(f"cannot create OUT_DIR {out_dir}: {e.strerror or e}") from None
        print(f"tracking {source.kind} {source.name!r} from {box_from} box {box0.round(2).tolist()} with "
              f"{tracker!r}")
        total = min([n for n in (source.length, cfg.MAX_FRAMES) if n], default=None)
        # The video grows frame by frame: into a temporary (".mp4" last, OpenCV picks the container by it),
        # renamed once the tracking is complete, so a stopped run never leaves half a video in its place.
        video_tmp = out_dir / f".{source.name}.tmp.mp4" if cfg.VIDEO else None
        wall = time.perf_counter()
        try:
            with tqdm(total=total, desc=f"tracking {source.name}", unit="frame", disable=not progress) as bar:
                # A finite source is tracked whole or not at all: a stopped run must not replace a complete
                # earlier result with part of one (--max_frames tracks a prefix). A webcam has no end: q or
                # Ctrl-C is how it stops, and what was tracked is written.
                annotated = _tracked_frames(tracker, first, frames, box0, source.gt, limit=cfg.MAX_FRAMES,
                                            draw=cfg.VIDEO, show=cfg.SHOW, bar=bar, stoppable=source.kind == "webcam")
                if video_tmp:
                    plots.write_video(annotated, video_tmp, fps=source.fps or DEFAULT_VIDEO_FPS)
                else:
                    for _ in annotated:
                        pass
        except BaseException as e:
            if video_tmp:
                video_tmp.unlink(missing_ok=True)
            if isinstance(e, (KeyboardInterrupt, _Quit)):  # cli.run: "interrupted: <this>", exit status 130
                raise KeyboardInterrupt(f"at frame {len(tracker.boxes)}{f' of {total}' if total else ''}; nothing "
                                        f"written (earlier results in {out_dir} untouched)") from None
            raise
        wall = time.perf_counter() - wall
    finally:
        frames.close()
        if windows:
            import cv2
            cv2.destroyAllWindows()

    boxes = np.asarray(tracker.boxes, np.float64)
    result_path = write_results(out_dir, source.name, boxes, layout="pysot")
    video_path = out_dir / f"{source.name}.mp4" if video_tmp else None
    if video_path:
        try:
            video_tmp.replace(video_path)
        except OSError as e:
            raise DataError(f"cannot write {video_path}: {e.strerror or e}") from None
    json_path = out_dir / f"{source.name}.json"
    speed = dict(tracker.speed(), wall_fps=len(boxes) / wall if wall > 0 else None)
    summary = {
        "source": str(cfg.SOURCE), "name": source.name, "kind": source.kind, "frames": len(boxes),
        "init_box_xywh": box0.tolist(), "init_from": box_from, "checkpoint": str(cfg.CHECKPOINT),
        "weights": str(getattr(tracker, "weights", cfg.WEIGHTS)), "select": tracker.select, "head": tracker.head, "seq_len": tracker.seq_len,
        "detected_fraction": float(np.mean(tracker.detected[1:])) if len(boxes) > 1 else None,
        "speed": speed, "result_file": str(result_path), "video": str(video_path) if video_path else None,
        "summary_file": str(json_path),
        "settings": dict(cfg),
    }
    if source.gt is not None:
        n = min(len(source.gt), len(boxes))
        summary["metrics"] = metrics.sequence_metrics(boxes[:n], source.gt[:n])
    write_text_atomic(json_path, json.dumps(summary, indent=1))
    _print_summary(summary)
    return summary


def _show_settings(cfg, tracker) -> None:
    """Print the settings this run uses: the extraction, the rule and the input rules the
    checkpoint decides replace the script's defaults in ``cfg`` (so in the saved .json too)."""
    cfg.update(tracker.extraction, SELECT=tracker.select, REPORT_CODE=tracker.behaviour.report_scoring)
    cfg.show("tracking settings")
    followed = [k for k in (*tracker.extraction, "SELECT", "REPORT_CODE") if k not in cfg.given]
    if followed:
        print(f"  ({', '.join(followed)}: from the checkpoint)")


def _print_summary(s: dict) -> None:
    sp = s["speed"]
    print(f"{s['name']}: {s['frames']} frames tracked (rule {s['select']!r}, target detected on "
          f"{_pct(s['detected_fraction'])} of frames 2..N)")
    if sp["fps"] is not None:
        print(f"  speed: {sp['fps']:.1f} FPS per frame of YOLO + LSTM (YOLO {sp['yolo_ms']:.1f} ms, detection "
              f"choice + LSTM {sp['step_ms']:.2f} ms = {_pct(sp['step_fraction'])}); {sp['wall_fps']:.1f} FPS "
              f"including reading{' and writing the video' if s['video'] else ''}")
    m = s.get("metrics")
    if m and m["aos"] is not None:
        print(f"  vs ground truth: AOS {m['aos']:.3f}  AUC {m['auc']:.3f}  SR@0.5 {m['sr50']:.3f}  "
              f"P@20px {m['p20']:.3f}  ({m['frames']} frames)")
    files = [s["result_file"], *([s["video"]] if s["video"] else []), s["summary_file"]]
    print(f"  wrote {', '.join(files[:-1])} and {files[-1]}")


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"
