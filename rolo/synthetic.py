"""A seeded, deterministic synthetic tracking benchmark in the OTB layout.

It lets the demo and the tests run the whole ROLO pipeline without OTB-100:
``make_benchmark(root)`` writes ``<root>/Syn01/img/0001.jpg ...`` and
``<root>/Syn01/groundtruth_rect.txt`` (one ``x,y,w,h`` line per image,
:mod:`rolo.boxes` ``xywh`` pixels: continuous top-left corner and size), which
:class:`rolo.otb.OTB` reads with its plain rule, plus ``<root>/list.txt`` (the
names in order, train first, then test, then eval, as ``otb30_list.txt``) and
``<root>/synthetic.json`` (the generator's arguments and, per sequence, its
parameters and attributes). Each sequence folder also holds
``distractor_rect.txt``, the distractor's boxes in the same format.

What a sequence shows, back to front:

* a static background: smooth low-frequency colour noise, a gradient and a few
  muted clutter shapes, desaturated so the saturated objects stand out;
* the distractor: the target's shape and border with blue/white stripes instead
  of the target's red/yellow checker. It walks on its own; in "crossing"
  sequences it is pulled next to the target around one frame; in "salient"
  sequences it is 1.6x the target's base size. It is drawn behind the target;
* the target, the one object a detector learns (class "target"): a bordered
  red/yellow checker whose aspect ratio is fixed per sequence. Its centre does a
  random walk with momentum that bounces off the frame edges; its size follows
  a sine of the log-scale, so its max/min linear size is the preset's
  ``scale_ratio``; ``burst`` frames move ``burst_gain`` times faster and are
  motion-blurred along the motion;
* an occluder (preset ``occluder``), dark and full height: a "pole" (about
  half the smallest target wide) sliding sideways, timed to pass over the
  target around one frame, so part of the target is hidden for a few frames.
  No preset uses the other kind, a "panel": wider than the target and faster,
  fitted so that it hides the whole target for :data:`PANEL_HIDDEN_FRAMES`
  consecutive frames (a detector has nothing to see there) and part of it
  just before and after; pass ``preset=dict(PRESETS[i], occluder="panel")``
  to :func:`simulate` for it;
* mild per-frame sensor noise, then JPEG at fixed quality.

The ground truth is the target's exact box, rendered with sub-pixel accuracy
and stored to 0.01 px (the box is rounded before rendering, so the file holds
the box that was drawn). Occlusion and distractor never change it.

Per-sequence parameters come from :data:`PRESETS`, cycled by sequence index;
random quantities (start points, walks, phases, colours of the background) come
from a generator seeded by ``(seed, index)``, so ``Syn03`` is the same whatever
``n_sequences`` is. Same arguments give byte-identical JPEGs and identical
ground truth (with the same OpenCV build).

The six presets, in order (``demo_split`` of six gives 4 train, 1 test, 1 eval).
"burst" is a fast, motion-blurred stretch of ``T // 6`` frames; a random walk
may still blur a frame or two elsewhere, which the attributes report:

=====  =====  =====  =====  ========  =====  ==========================
name   role   scale  speed  occluder  burst  distractor
=====  =====  =====  =====  ========  =====  ==========================
Syn01  train  2.2x   slow   no        no     wanders
Syn02  train  1.3x   mid    pole      no     wanders
Syn03  train  1.5x   mid    no        3.5x   crosses the target
Syn04  train  1.8x   mid    pole      no     1.6x larger, crosses
Syn05  test   1.8x   mid    pole      3.5x   crosses the target
Syn06  eval   2.0x   mid    pole      3.5x   1.6x larger, crosses
=====  =====  =====  =====  ========  =====  ==========================

Attributes (``sequence_attributes(root)``, 0-based frame indices):
``scale_ratio`` (max/min of sqrt(w*h)), ``occlusion_frames`` (at least
:data:`OCCLUSION_MIN_FRACTION` of the target's box behind the occluder),
``full_occlusion_frames`` (all of the box behind it; only a panel does
that: its hidden stretch and any frame next to it that it still covers),
``max_occlusion``, ``blur_frames`` (target blurred: centre moved at least
:data:`BLUR_MIN_SPEED_PX` since the previous frame), ``distractor`` (always
true here), ``distractor_near_frames`` (the boxes overlap or are closer than
a quarter of the target's width and height; in a 160x120 frame that is most
frames even when it only wanders), ``salient_distractor`` and ``tags``
(OTB-style SV, OCC, MB, BC).
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cache import write_text_atomic
from .errors import ConfigError, DataError, RoloError

#: Bumped whenever rendering changes, so an old cached benchmark is not reused.
GENERATOR_VERSION = 1
MANIFEST = "synthetic.json"
LIST_FILE = "list.txt"
GT_FILE = "groundtruth_rect.txt"
DISTRACTOR_FILE = "distractor_rect.txt"
JPEG_QUALITY = 92
#: A frame counts as occluded when at least this fraction of the target's box is hidden.
OCCLUSION_MIN_FRACTION = 0.1
#: The target is blurred when its centre moved at least this many pixels since the last frame.
BLUR_MIN_SPEED_PX = 4.0
#: A panel hides the whole target for this many consecutive frames (fewer in videos under 5x as long).
#: With the frames around it where too little shows for a detector, that stays below the LSTM's
#: SEQ_LEN of 6, so the window that ends at any hidden frame still saw the target.
PANEL_HIDDEN_FRAMES = 3
#: Target height at scale 1, as a fraction of the frame height.
TARGET_BASE_HEIGHT = 0.26
SENSOR_NOISE_STD = 2.0

#: Per-sequence parameters, cycled by index. Speeds are in frame widths per frame
#: (so a larger frame gives proportionally larger motion); ``scale_ratio`` is the
#: target's max/min linear size; ``burst_gain`` 1 means no fast segment.
PRESETS = (
    dict(scale_ratio=2.2, speed=0.008, burst_gain=1.0, occluder=None, crossing=False, distractor_scale=1.0),
    dict(scale_ratio=1.3, speed=0.013, burst_gain=1.0, occluder="pole", crossing=False, distractor_scale=1.0),
    dict(scale_ratio=1.5, speed=0.012, burst_gain=3.5, occluder=None, crossing=True, distractor_scale=1.0),
    dict(scale_ratio=1.8, speed=0.012, burst_gain=1.0, occluder="pole", crossing=True, distractor_scale=1.6),
    dict(scale_ratio=1.8, speed=0.012, burst_gain=3.5, occluder="pole", crossing=True, distractor_scale=1.0),
    dict(scale_ratio=2.0, speed=0.012, burst_gain=3.5, occluder="pole", crossing=True, distractor_scale=1.6),
)


@dataclass
class Scene:
    """Everything needed to render one synthetic sequence of ``T`` frames.

    ``target_xywh`` / ``distractor_xywh``: (T, 4) float64 boxes in pixels.
    ``target_step_px``: (T, 2) float64 centre displacement since the previous
    frame (row 0 is zero), which sets the motion blur. ``occluder_xyxy``:
    (T, 4) float64 pole rectangle per frame, or None. ``background``: HxWx3
    uint8 BGR. ``noise_seed`` seeds the per-frame sensor noise.
    """
    size: tuple
    background: np.ndarray
    target_xywh: np.ndarray
    target_step_px: np.ndarray
    distractor_xywh: np.ndarray | None
    occluder_xyxy: np.ndarray | None
    noise_seed: int
    params: dict

    def __len__(self) -> int:
        return len(self.target_xywh)

    def occlusion_fraction(self) -> np.ndarray:
        """(T,) fraction of the target's box area behind the occluder."""
        if self.occluder_xyxy is None:
            return np.zeros(len(self))
        x, y, w, h = self.target_xywh.T
        ox1, oy1, ox2, oy2 = self.occluder_xyxy.T
        ix = np.clip(np.minimum(x + w, ox2) - np.maximum(x, ox1), 0, None)
        iy = np.clip(np.minimum(y + h, oy2) - np.maximum(y, oy1), 0, None)
        return ix * iy / (w * h)

    def full_occlusion_frames(self) -> np.ndarray:
        """0-based indices of the frames whose whole target box is behind the occluder."""
        return np.flatnonzero(self.occlusion_fraction() >= 1.0 - 1e-9)

    def blur_frames(self) -> np.ndarray:
        """0-based indices of the frames whose target is motion-blurred."""
        return np.flatnonzero(np.hypot(*self.target_step_px.T) >= BLUR_MIN_SPEED_PX)

    def distractor_near_frames(self) -> np.ndarray:
        """0-based indices where the two boxes overlap or are closer than a quarter of the target's size."""
        if self.distractor_xywh is None:
            return np.zeros(0, dtype=np.int64)
        t, d = self.target_xywh, self.distractor_xywh
        gap = np.abs((t[:, :2] + t[:, 2:] / 2) - (d[:, :2] + d[:, 2:] / 2))
        return np.flatnonzero(np.all(gap <= 0.75 * t[:, 2:] + d[:, 2:] / 2, axis=1))

    def attributes(self) -> dict:
        """JSON-ready attributes; see the module docstring."""
        side = np.sqrt(self.target_xywh[:, 2] * self.target_xywh[:, 3])
        occ = self.occlusion_fraction()
        attrs = dict(
            scale_ratio=round(float(side.max() / side.min()), 3),
            occlusion_frames=np.flatnonzero(occ >= OCCLUSION_MIN_FRACTION).tolist(),
            full_occlusion_frames=self.full_occlusion_frames().tolist(),
            max_occlusion=round(float(occ.max()), 3),
            blur_frames=self.blur_frames().tolist(),
            distractor=self.distractor_xywh is not None,
            distractor_near_frames=self.distractor_near_frames().tolist(),
            salient_distractor=bool(self.params.get("distractor_scale", 1.0) > 1.2),
        )
        tags = [tag for tag, on in (("SV", attrs["scale_ratio"] >= 1.5), ("OCC", attrs["occlusion_frames"]),
                                    ("MB", attrs["blur_frames"]), ("BC", attrs["distractor_near_frames"])) if on]
        attrs["tags"] = tags
        attrs["params"] = dict(self.params)
        return attrs


# ---------------------------------------------------------------- appearance

def _checker(colors, cells: int, side: int, stripes: bool) -> np.ndarray:
    """side x side x 3 float32 pattern of ``cells`` alternating ``colors`` with a dark border."""
    idx = np.arange(side) * cells // side
    parity = (idx[:, None] if stripes else (idx[:, None] + idx[None, :])) % 2
    img = np.asarray(colors, np.float32)[np.broadcast_to(parity, (side, side))]
    border = max(2, side // 14)
    img[:border], img[-border:], img[:, :border], img[:, -border:] = 25, 25, 25, 25
    return img


def target_template(side: int = 32) -> np.ndarray:
    """The target's appearance, side x side x 3 float32 BGR: a red/yellow checker, dark border."""
    return _checker([(40, 40, 225), (40, 215, 245)], cells=4, side=side, stripes=False)


def distractor_template(side: int = 32) -> np.ndarray:
    """The distractor's appearance: same shape and border, blue/white horizontal stripes."""
    return _checker([(215, 110, 30), (235, 235, 235)], cells=5, side=side, stripes=True)


def make_background(size, rng: np.random.Generator) -> np.ndarray:
    """HxWx3 uint8 BGR: smooth colour noise, a gradient and muted clutter shapes."""
    import cv2

    W, H = size
    coarse = rng.uniform(60, 190, size=(4, 5, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (W, H), interpolation=cv2.INTER_CUBIC)
    ramp = np.linspace(-1, 1, W, dtype=np.float32)[None, :, None] * rng.uniform(-25, 25, 3).astype(np.float32)
    bg = smooth + ramp
    for _ in range(int(rng.integers(6, 11))):
        color = tuple(float(c) for c in rng.uniform(50, 200, 3))
        cx, cy = int(rng.integers(0, W)), int(rng.integers(0, H))
        r = int(rng.integers(3, max(4, min(W, H) // 7)))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            cv2.circle(bg, (cx, cy), r, color, -1, cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(bg, (cx - r, cy - r // 2), (cx + r, cy + r // 2), color, -1)
        else:
            end = (int(rng.integers(0, W)), int(rng.integers(0, H)))
            cv2.line(bg, (cx, cy), end, color, int(rng.integers(1, 4)), cv2.LINE_AA)
    # Desaturate so the saturated target and distractor stand out from the clutter.
    grey = bg.mean(axis=2, keepdims=True)
    bg = 0.45 * bg + 0.55 * grey
    return np.clip(bg, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- motion

def _momentum_walk_px(rng, T: int, speed_px: float, momentum: float = 0.9) -> np.ndarray:
    """(T, 2) smooth velocities in px/frame with mean speed ``speed_px``.

    v_t = momentum * v_{t-1} + noise_t, written as a convolution with the
    geometric kernel so it is one vectorised call.
    """
    noise = rng.normal(size=(T + 20, 2))
    kernel = momentum ** np.arange(T + 20)
    v = np.stack([np.convolve(noise[:, k], kernel)[:T + 20] for k in range(2)], axis=1)[20:]
    return v * speed_px / np.hypot(*v.T).mean()


def _bounce_unit(p: np.ndarray) -> np.ndarray:
    """Fold an unbounded coordinate into [0, 1] as a ball bouncing between walls."""
    return 1.0 - np.abs(np.mod(p, 2.0) - 1.0)


def _walk_xywh(rng, T: int, size, wh: np.ndarray, speed_px: float, gain: np.ndarray) -> np.ndarray:
    """(T, 4) boxes of sizes ``wh`` (T, 2) whose centres random-walk and bounce inside the frame."""
    W, H = size
    room = np.maximum(np.array([W, H], float) - wh.max(axis=0), 1.0)
    v = _momentum_walk_px(rng, T, speed_px) * gain[:, None]
    u = _bounce_unit(rng.uniform(0.15, 0.85, 2) + np.cumsum(v, axis=0) / room)
    xy = u * (np.array([W, H], float) - wh)
    return np.concatenate([xy, wh], axis=1)


def _quantize_inside(xywh: np.ndarray, size) -> np.ndarray:
    """Round boxes to 0.01 px and keep them inside the frame (sizes at least 1 px)."""
    q = np.round(xywh, 2)
    q[:, 2:] = np.maximum(q[:, 2:], 1.0)
    q[:, :2] = np.clip(q[:, :2], 0.0, np.array(size, float) - q[:, 2:])
    return q


def simulate(index: int, *, frames: int, size, seed: int, preset: dict | None = None) -> Scene:
    """The :class:`Scene` of sequence ``index`` (0-based): trajectories and background.

    ``preset`` defaults to ``PRESETS[index % len(PRESETS)]``. Randomness comes
    from ``SeedSequence([seed, index])``, so a sequence does not depend on how
    many others are generated.
    """
    p = dict(PRESETS[index % len(PRESETS)] if preset is None else preset)
    W, H = size
    T = frames
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    background = make_background(size, rng)
    t = np.arange(T, dtype=np.float64)

    # Size: the log-scale follows a sine over 1-1.5 cycles, so the whole
    # [1/sqrt(r), sqrt(r)] range is visited and max/min is the preset's ratio.
    aspect = rng.uniform(0.75, 1.3)
    cycles, phase = rng.uniform(1.0, 1.5), rng.uniform(0, 2 * np.pi)
    scale = np.exp(0.5 * np.log(p["scale_ratio"]) * np.sin(2 * np.pi * cycles * t / max(T - 1, 1) + phase))
    h0 = TARGET_BASE_HEIGHT * H
    wh = np.stack([h0 * aspect * scale, h0 * scale], axis=1)

    gain = np.ones(T)
    if p["burst_gain"] > 1:
        start = int(rng.integers(int(0.2 * T), max(int(0.6 * T), int(0.2 * T) + 1)))
        gain[start:start + max(3, T // 6)] = p["burst_gain"]
    target = _quantize_inside(_walk_xywh(rng, T, size, wh, p["speed"] * W, gain), size)
    centre = target[:, :2] + target[:, 2:] / 2
    step = np.diff(centre, axis=0, prepend=centre[:1])

    dwh = np.broadcast_to(h0 * p["distractor_scale"] * np.array([rng.uniform(0.75, 1.3), 1.0]), (T, 2))
    distractor = _walk_xywh(rng, T, size, np.array(dwh), p["speed"] * W, np.ones(T))
    if p["crossing"]:
        # Pull the distractor beside the target around frame tc, slightly overlapping it.
        tc = rng.uniform(0.35, 0.65) * (T - 1)
        pull = np.exp(-0.5 * ((t - tc) / max(T / 10, 1.0)) ** 2)[:, None]
        side = rng.choice([-1.0, 1.0])
        beside = centre + np.stack([side * 0.8 * (target[:, 2] + dwh[:, 0]) / 2, 0.2 * target[:, 3]], axis=1)
        dc = (1 - pull) * (distractor[:, :2] + dwh / 2) + pull * beside
        distractor = np.concatenate([dc - dwh / 2, dwh], axis=1)
    distractor = _quantize_inside(distractor, size)

    occluder = None
    if p["occluder"] == "pole":
        # A pole of 0.35 base target widths (about half the smallest target at most),
        # sliding sideways so that it passes over the target at frame tm.
        tm = int(rng.integers(int(0.3 * T), max(int(0.7 * T), int(0.3 * T) + 1)))
        bar_w = round(0.35 * h0 * aspect)
        vx = rng.choice([-1.0, 1.0]) * rng.uniform(0.02, 0.035) * W
        x1 = np.round(centre[tm, 0] - bar_w / 2 + vx * (t - tm))
        occluder = np.stack([x1, np.zeros(T), x1 + bar_w, np.full(T, float(H))], axis=1)
    elif p["occluder"] == "panel":
        occluder = _panel_xyxy(rng, target, step, gain, size)
    elif p["occluder"] is not None:
        raise ConfigError(f"preset occluder must be None, 'pole' or 'panel', got {p['occluder']!r}")

    return Scene(size=(W, H), background=background, target_xywh=target, target_step_px=step,
                 distractor_xywh=distractor, occluder_xyxy=occluder,
                 noise_seed=int(rng.integers(2 ** 31)), params=p)


def _panel_xyxy(rng, target_xywh: np.ndarray, step_px: np.ndarray, gain: np.ndarray, size) -> np.ndarray:
    """(T, 4) rectangles of a wide panel that hides the whole target for :data:`PANEL_HIDDEN_FRAMES` frames.

    The panel slides sideways (whole pixels, full frame height). Its
    position and width are fitted to the target's boxes over the hidden
    stretch, with a margin for rounding and motion blur, so every pixel of the
    target is behind it there; before and after, it covers the target partly
    as the two separate. The stretch starts in the middle half of the video
    and avoids the burst when it can, so a short window still sees the target
    before it disappears.
    """
    W, H = size
    T = len(target_xywh)
    k = int(min(PANEL_HIDDEN_FRAMES, max(1, T // 5)))
    starts = np.arange(T - k + 1)
    calm = np.convolve(gain == 1, np.ones(k), "valid") == k
    middle = (starts >= 0.25 * T) & (starts + k <= 0.75 * T)
    pool = next((c for c in (starts[calm & middle], starts[middle], starts) if len(c)))
    t0 = int(rng.choice(pool))
    # Faster than the target walks (about 0.01 W per frame), so it passes over it rather than along with it.
    vx = rng.choice([-1.0, 1.0]) * rng.uniform(0.05, 0.065) * W
    t = np.arange(T, dtype=np.float64)
    hide = slice(t0, t0 + k)
    drift = vx * (t[hide] - t0)
    # Blur spreads the target by half its step each way; 1.5 px more absorbs rounding the edges to pixels.
    margin = 1.5 + np.hypot(*step_px[hide].T).max() / 2
    left = np.min(target_xywh[hide, 0] - drift) - margin
    width = np.ceil(np.max(target_xywh[hide, 0] + target_xywh[hide, 2] - drift) + margin - left) + 1
    x1 = np.floor(left + vx * (t - t0))
    return np.stack([x1, np.zeros(T), x1 + width, np.full(T, float(H))], axis=1)


def make_distractor_scene(*, frames: int = 30, size=(160, 120), seed: int = 0) -> Scene:
    """A scene whose larger (1.6x, more salient) distractor passes beside the target mid-way.

    For tests of target-aware detection choice: ``scene.distractor_near_frames()``
    lists the frames where the two are close; render with :func:`render_frame`.
    """
    _check_args(frames=frames, size=size)
    preset = dict(PRESETS[5], occluder=None, burst_gain=1.0)
    return simulate(0, frames=frames, size=tuple(size), seed=seed, preset=preset)


# ---------------------------------------------------------------- rendering

def _object_layer(template: np.ndarray, xywh, size):
    """Warp ``template`` onto box ``xywh`` (sub-pixel): premultiplied BGR (H,W,3) and alpha (H,W), float32."""
    import cv2

    th, tw = template.shape[:2]
    x, y, w, h = (float(v) for v in xywh)
    sx, sy = w / tw, h / th
    # Template pixel centres u map to x + (u + 0.5) * sx - 0.5, so the box spans exactly [x, x + w).
    M = np.array([[sx, 0, x + 0.5 * sx - 0.5], [0, sy, y + 0.5 * sy - 0.5]], np.float32)
    rgba = np.concatenate([template, np.ones((th, tw, 1), np.float32)], axis=2)
    layer = cv2.warpAffine(rgba, M, tuple(size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return layer[..., :3] * layer[..., 3:], layer[..., 3]


def _motion_kernel(step_px) -> np.ndarray:
    """Normalised line kernel along ``step_px`` (dx, dy) for linear motion blur."""
    import cv2

    length = float(np.hypot(*step_px))
    k = 2 * int(np.ceil(length / 2)) + 1
    kernel = np.zeros((k, k), np.float32)
    c = k // 2
    dx, dy = step_px[0] / 2, step_px[1] / 2
    # Sub-pixel endpoints (shift=4 bits) keep the blur direction exact.
    p1 = (int(round((c - dx) * 16)), int(round((c - dy) * 16)))
    p2 = (int(round((c + dx) * 16)), int(round((c + dy) * 16)))
    cv2.line(kernel, p1, p2, 1.0, 1, cv2.LINE_AA, shift=4)
    return kernel / kernel.sum()


def _composite(frame: np.ndarray, premult: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return frame * (1.0 - alpha[..., None]) + premult


def render_frame(scene: Scene, t: int) -> np.ndarray:
    """Frame ``t`` (0-based) of ``scene`` as HxWx3 uint8 BGR.

    Draws background, distractor, target (motion-blurred on fast frames),
    occluder and sensor noise. Noise is seeded by ``(scene.noise_seed, t)``, so
    any frame renders alone and identically.
    """
    import cv2

    size = scene.size
    frame = scene.background.astype(np.float32)
    if scene.distractor_xywh is not None:
        frame = _composite(frame, *_object_layer(distractor_template(), scene.distractor_xywh[t], size))
    premult, alpha = _object_layer(target_template(), scene.target_xywh[t], size)
    step = scene.target_step_px[t]
    if np.hypot(*step) >= BLUR_MIN_SPEED_PX:
        kernel = _motion_kernel(step)
        premult = cv2.filter2D(premult, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        alpha = cv2.filter2D(alpha, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    frame = _composite(frame, premult, alpha)
    if scene.occluder_xyxy is not None:
        x1, y1, x2, y2 = scene.occluder_xyxy[t].astype(int)
        x1, x2 = max(x1, 0), min(x2, size[0])
        if x2 > x1:
            # A dark pole with a lighter edge stripe, so it reads as an object, not a shadow.
            frame[y1:y2, x1:x2] = (55, 65, 75)
            frame[y1:y2, x1:min(x1 + 2, x2)] = (95, 105, 115)
    noise = np.random.default_rng([scene.noise_seed, t]).normal(0, SENSOR_NOISE_STD, frame.shape)
    return np.clip(np.rint(frame + noise), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- files

def _check_args(*, frames: int, size, n_sequences: int = 1) -> None:
    if int(n_sequences) != n_sequences or n_sequences < 1:
        raise ConfigError(f"n_sequences must be a positive integer, got {n_sequences!r}")
    if int(frames) != frames or frames < 2:
        raise ConfigError(f"frames must be an integer >= 2, got {frames!r}")
    if len(size) != 2 or min(size) < 32 or any(int(s) != s for s in size):
        raise ConfigError(f"size must be (width, height) in whole pixels, each >= 32, got {size!r}")


def sequence_names(n_sequences: int) -> list[str]:
    """``Syn01 .. SynNN`` (wider numbers past 99)."""
    width = max(2, len(str(n_sequences)))
    return [f"Syn{i:0{width}d}" for i in range(1, n_sequences + 1)]


def _write_boxes_xywh(path: Path, boxes: np.ndarray) -> None:
    path.write_text("".join(f"{x:.2f},{y:.2f},{w:.2f},{h:.2f}\n" for x, y, w, h in boxes), encoding="utf-8")


def _write_text_if_changed(path: Path, text: str) -> None:
    """Write ``text`` (atomically) unless the file already holds it."""
    if not (path.is_file() and path.read_text(encoding="utf-8") == text):
        write_text_atomic(path, text)


def _is_complete(seq_dir: Path, frames: int) -> bool:
    img = seq_dir / "img"
    gt = seq_dir / GT_FILE
    if not (img.is_dir() and gt.is_file()):
        return False
    n_img = sum(1 for p in img.iterdir() if p.suffix == ".jpg")
    n_gt = sum(1 for line in gt.read_text(encoding="utf-8").splitlines() if line.strip())
    return n_img == frames and n_gt == frames


def _write_sequence(root: Path, name: str, scene: Scene, progress) -> None:
    """Render ``scene`` into ``root/name`` atomically: a hidden temp folder, then one rename."""
    import cv2

    tmp = root / f".{name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "img").mkdir(parents=True)
    for t in range(len(scene)):
        path = tmp / "img" / f"{t + 1:04d}.jpg"
        if not cv2.imwrite(str(path), render_frame(scene, t), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise DataError(f"cannot write image {path}")
        progress.update(1)
    _write_boxes_xywh(tmp / GT_FILE, scene.target_xywh)
    if scene.distractor_xywh is not None:
        _write_boxes_xywh(tmp / DISTRACTOR_FILE, scene.distractor_xywh)
    final = root / name
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def _read_manifest(root: Path) -> dict | None:
    path = root / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not a valid synthetic-benchmark manifest ({e}); delete the folder {root}") from None


def make_benchmark(root, *, n_sequences: int = 6, frames: int = 60, size=(160, 120), seed: int = 0,
                   overwrite: bool = False, progress: bool = True) -> list[str]:
    """Write the synthetic benchmark under ``root`` and return its sequence names.

    Layout: ``root/SynNN/img/0001.jpg ...``, ``root/SynNN/groundtruth_rect.txt``
    (``xywh`` pixels), ``root/SynNN/distractor_rect.txt``, ``root/list.txt``,
    ``root/synthetic.json``. ``size`` is (width, height).

    Idempotent: with the arguments of the existing manifest, complete sequences
    are left untouched (nothing is rewritten) and missing ones are made. Each
    sequence appears atomically. A folder made with other arguments, or
    holding a ``SynNN`` folder that no manifest claims, raises
    :class:`RoloError` naming it unless ``overwrite=True``, which first deletes
    the sequences that the old manifest lists (and only those, plus the names
    about to be written).
    """
    from tqdm import tqdm

    _check_args(frames=frames, size=size, n_sequences=n_sequences)
    root = Path(root)
    size = (int(size[0]), int(size[1]))
    args = dict(generator_version=GENERATOR_VERSION, n_sequences=int(n_sequences), frames=int(frames),
                size=list(size), seed=int(seed))
    names = sequence_names(n_sequences)
    if root.exists() and not root.is_dir():
        raise DataError(f"{root} exists and is not a folder; choose another place for the synthetic benchmark")
    root.mkdir(parents=True, exist_ok=True)

    old = _read_manifest(root)
    if old is not None and old.get("args") != args:
        if not overwrite:
            raise RoloError(f"{root}: holds a synthetic benchmark made with {old.get('args')}, not {args}; "
                            f"pass overwrite=True or use another folder")
        for name in list(old.get("sequences", {})) + names:
            if (root / name).is_dir():
                shutil.rmtree(root / name)
        (root / MANIFEST).unlink()
        old = None
    if old is None:
        foreign = [root / n for n in names if (root / n).exists()]
        if foreign and not overwrite:
            raise RoloError(f"{foreign[0]} exists but {root / MANIFEST} does not claim it; "
                            f"pass overwrite=True or use another folder")
        for path in foreign:
            shutil.rmtree(path)

    scenes = [simulate(i, frames=frames, size=size, seed=seed) for i in range(n_sequences)]
    manifest = dict(args=args, order="train, test, eval (see rolo.synthetic.demo_split)",
                    sequences={n: s.attributes() for n, s in zip(names, scenes)})
    _write_text_if_changed(root / MANIFEST, json.dumps(manifest, indent=1) + "\n")

    todo = [(n, s) for n, s in zip(names, scenes) if not _is_complete(root / n, frames)]
    for stale in root.glob(".Syn*.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    with tqdm(total=len(todo) * frames, desc=f"synthetic benchmark {root}", unit="frame",
              disable=not progress or not todo, leave=False) as bar:
        for name, scene in todo:
            _write_sequence(root, name, scene, bar)
    _write_text_if_changed(root / LIST_FILE, "".join(n + "\n" for n in names))
    return names


def sequence_attributes(root) -> dict:
    """Per-sequence attributes from ``root/synthetic.json`` (see the module docstring)."""
    root = Path(root)
    manifest = _read_manifest(root)
    if manifest is None:
        raise DataError(f"{root / MANIFEST} not found: {root} is not a synthetic benchmark (run make_benchmark)")
    return manifest["sequences"]


def demo_split(names) -> dict:
    """Split names, in list order, into train, test and eval like the paper's experiments.

    ``round(n / 6)`` names (at least one) go to test and as many to eval, the
    last ones of the list; the rest, first, train. Six names give 4 / 1 / 1,
    matching the preset table, so train covers every attribute and test and
    eval each hold occlusion, blur and a crossing distractor.
    """
    names = list(names)
    if len(names) < 3:
        raise ConfigError(f"demo_split needs at least 3 sequences (train, test, eval), got {len(names)}")
    k = max(1, round(len(names) / 6))
    return dict(train=names[:-2 * k], test=names[-2 * k:-k], eval=names[-k:])


def make_video(path, *, frames: int = 40, size=(160, 120), seed: int = 0, fps: float = 20) -> np.ndarray:
    """Write one synthetic sequence (the test preset, Syn05's) as an mp4; return its (N, 4) ``xywh`` GT."""
    import cv2

    _check_args(frames=frames, size=size)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scene = simulate(4, frames=frames, size=tuple(size), seed=seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), tuple(int(s) for s in size))
    if not writer.isOpened():
        raise DataError(f"cannot open a video writer for {path} (OpenCV lacks the mp4v codec?)")
    try:
        for t in range(frames):
            writer.write(render_frame(scene, t))
    finally:
        writer.release()
    return scene.target_xywh.copy()
