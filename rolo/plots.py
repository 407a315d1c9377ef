"""Pictures of results: OTB-style success/precision plots, boxes on frames,
montages of sample frames and mp4 videos.

The plots draw on a :class:`matplotlib.figure.Figure` with the Agg canvas
directly, never through ``pyplot``: no global backend is chosen or changed, no
display is needed, and no figure is left open.

Images are OpenCV BGR ``uint8`` arrays (H, W, 3); boxes are ``xywh`` pixels
(see :mod:`rolo.boxes`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .errors import DataError, RoloError
from .metrics import PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS

GT_COLOR_BGR = (0, 255, 0)
PRED_COLOR_BGR = (0, 0, 255)


def _curves(runs: Mapping[str, Sequence[float]], n: int, kind: str) -> dict[str, np.ndarray]:
    out = {}
    for label, curve in runs.items():
        c = np.asarray(curve, dtype=np.float64).reshape(-1)
        if c.shape != (n,):
            raise ValueError(f"{kind} curve of {label!r} must have {n} values, got {c.size}")
        out[label] = c
    return out


def _sorted_series(scored: list[tuple[str, float, np.ndarray]], x: np.ndarray, tag: str):
    """``[(run label, legend label, x, y), ...]``, best first as OTB plots list trackers; NaN scores last."""
    scored.sort(key=lambda t: (np.isnan(t[1]), -np.nan_to_num(t[1])))
    return [(label, f"{label} [{tag} {score:.3f}]", x, y) for label, score, y in scored]


def _success(runs):
    curves = _curves(runs, len(SUCCESS_THRESHOLDS), "success")
    return _sorted_series([(label, float(np.mean(c)), c) for label, c in curves.items()], SUCCESS_THRESHOLDS, "AUC")


def _precision(runs):
    curves = _curves(runs, len(PRECISION_THRESHOLDS), "precision")
    return _sorted_series([(label, float(c[20]), c) for label, c in curves.items()],
                          PRECISION_THRESHOLDS.astype(np.float64), "P@20")


def success_series(runs: Mapping[str, Sequence[float]]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``[(legend label, x, y), ...]`` of success curves (21 values each), best AUC first.

    The legend label is ``"<label> [AUC 0.xyz]"`` with AUC = mean of the curve.
    """
    return [s[1:] for s in _success(runs)]


def precision_series(runs: Mapping[str, Sequence[float]]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``[(legend label, x, y), ...]`` of precision curves (51 values each), best P@20 first.

    The legend label is ``"<label> [P@20 0.xyz]"``.
    """
    return [s[1:] for s in _precision(runs)]


def _curve_figure(series, labels: list, *, xlim: tuple[float, float], xlabel: str, ylabel: str, title: str,
                  legend_loc: str):
    """``series`` from :func:`_sorted_series`; ``labels``: the runs in their given order. A run's
    colour and line style follow its place there, not its rank, so that it looks the same in the
    success and the precision plot."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.5), dpi=100)
    ax = fig.add_subplot()
    styles = ["-", "--", "-.", ":"]
    place = {label: i for i, label in enumerate(labels)}
    for label, legend, x, y in series:
        i = place[label]
        ax.plot(x, y, color=f"C{i % 10}", linestyle=styles[(i // 10) % len(styles)], linewidth=2, label=legend)
    ax.set_xlim(*xlim)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if series:
        ax.legend(loc=legend_loc, fontsize="small")
    fig.tight_layout()
    return fig


def success_figure(runs: Mapping[str, Sequence[float]], title: str = "Success plot of OPE"):
    """A :class:`~matplotlib.figure.Figure` with one success curve per run (see :func:`success_series`)."""
    return _curve_figure(_success(runs), list(runs), xlim=(0, 1), xlabel="Overlap threshold",
                         ylabel="Success rate", title=title, legend_loc="lower left")


def precision_figure(runs: Mapping[str, Sequence[float]], title: str = "Precision plot of OPE"):
    """A :class:`~matplotlib.figure.Figure` with one precision curve per run (see :func:`precision_series`)."""
    return _curve_figure(_precision(runs), list(runs), xlim=(0, PRECISION_THRESHOLDS[-1]),
                         xlabel="Location error threshold (px)", ylabel="Precision", title=title,
                         legend_loc="lower right")


def _save_figure(fig, path) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    except OSError as e:
        raise DataError(f"{path}: cannot write the plot ({e})") from None
    return path


def plot_success(runs: Mapping[str, Sequence[float]], path, title: str = "Success plot of OPE") -> Path:
    """Save the success plot of ``runs`` (label -> 21-value success curve) to ``path``; returns ``path``."""
    return _save_figure(success_figure(runs, title), path)


def plot_precision(runs: Mapping[str, Sequence[float]], path, title: str = "Precision plot of OPE") -> Path:
    """Save the precision plot of ``runs`` (label -> 51-value precision curve) to ``path``; returns ``path``."""
    return _save_figure(precision_figure(runs, title), path)


# ---- frames -----------------------------------------------------------------

def _as_bgr(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a BGR image (H, W, 3) or greyscale (H, W), got {image.shape}")
    return np.ascontiguousarray(image, dtype=np.uint8)


def _draw_xywh(cv2, img: np.ndarray, box, color, thickness: int) -> None:
    if box is None:
        return
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    # A failed prediction (NaN, no size) has nothing to draw.
    if b.shape != (4,) or not np.isfinite(b).all() or b[2] <= 0 or b[3] <= 0:
        return
    h, w = img.shape[:2]
    # cv2 needs int32 coordinates; far-off boxes are clipped, still drawn as their visible part.
    x1, y1, x2, y2 = np.clip(np.round([b[0], b[1], b[0] + b[2], b[1] + b[3]]), -4 * max(h, w), 5 * max(h, w))
    cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), color, thickness)


def draw_boxes(image_bgr, gt_xywh=None, pred_xywh=None, frame_number: int | None = None) -> np.ndarray:
    """A copy of ``image_bgr`` with the ground truth in green, the prediction in red.

    ``gt_xywh`` and ``pred_xywh`` are (4,) pixel boxes or None; an invalid box
    (NaN, zero size) is not drawn. ``frame_number`` is written top-left as ``#N``.
    """
    import cv2

    img = _as_bgr(image_bgr).copy()
    thickness = max(1, round(min(img.shape[:2]) / 200))
    _draw_xywh(cv2, img, gt_xywh, GT_COLOR_BGR, thickness)
    _draw_xywh(cv2, img, pred_xywh, PRED_COLOR_BGR, thickness)
    if frame_number is not None:
        scale = max(0.4, min(img.shape[:2]) / 400)
        org = (5, int(5 + 22 * scale))
        # A dark outline keeps the yellow text readable on any background.
        cv2.putText(img, f"#{frame_number}", org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        cv2.putText(img, f"#{frame_number}", org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 255, 255), thickness, cv2.LINE_AA)
    return img


def _letterbox(cv2, image: np.ndarray, tile_w: int, tile_h: int) -> np.ndarray:
    h, w = image.shape[:2]
    s = min(tile_w / w, tile_h / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    tile = np.zeros((tile_h, tile_w, 3), np.uint8)
    y0, x0 = (tile_h - nh) // 2, (tile_w - nw) // 2
    tile[y0:y0 + nh, x0:x0 + nw] = resized
    return tile


#: Height in pixels of the title strip above each montage tile.
TITLE_HEIGHT = 28


def montage_image(items: Sequence[tuple[str, np.ndarray]], cols: int = 3,
                  tile_size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """Lay out ``items`` = ``[(title, image_bgr), ...]`` in a grid, row by row.

    Each image is scaled, keeping its aspect ratio, into a ``tile_size`` =
    (width, height) tile with its title on a white strip above it. Items are
    kept in the given order (the caller sorts, e.g. by AOS as in the report's
    figures). Returns a BGR image of ``rows * (height + TITLE_HEIGHT)`` by
    ``cols * width`` pixels, ``cols`` reduced to ``len(items)`` if larger.
    """
    import cv2

    if not items:
        raise ValueError("montage needs at least one (title, image) item")
    if cols < 1:
        raise ValueError(f"cols must be >= 1, got {cols}")
    cols = min(cols, len(items))
    tile_w, tile_h = tile_size
    cell_h = tile_h + TITLE_HEIGHT
    n_rows = -(-len(items) // cols)
    canvas = np.full((n_rows * cell_h, cols * tile_w, 3), 255, np.uint8)
    for i, (title, image) in enumerate(items):
        r, c = divmod(i, cols)
        y, x = r * cell_h, c * tile_w
        canvas[y:y + TITLE_HEIGHT, x:x + tile_w] = _title_strip(cv2, str(title), tile_w)
        canvas[y + TITLE_HEIGHT:y + cell_h, x:x + tile_w] = _letterbox(cv2, _as_bgr(image), tile_w, tile_h)
    return canvas


def _title_strip(cv2, title: str, width: int) -> np.ndarray:
    """A white (TITLE_HEIGHT, width) strip with ``title`` shrunk to fit, clipped if still too long."""
    strip = np.full((TITLE_HEIGHT, width, 3), 255, np.uint8)
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.6
    text_w = cv2.getTextSize(title, font, scale, 1)[0][0]
    scale = max(0.35, scale * min(1.0, (width - 8) / max(text_w, 1)))
    # Drawn on its own strip so a long title cannot spill into the next tile.
    cv2.putText(strip, title, (4, TITLE_HEIGHT - 9), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def montage(items: Sequence[tuple[str, np.ndarray]], path, cols: int = 3,
            tile_size: tuple[int, int] = (320, 240)) -> Path:
    """Write :func:`montage_image` of ``items`` to ``path`` (PNG or JPEG by suffix); returns ``path``."""
    import cv2

    path = Path(path)
    image = montage_image(items, cols, tile_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise DataError(f"{path}: cannot write the montage (is the suffix an image type, the folder writable?)")
    return path


def write_video(frames: Iterable[np.ndarray], path, fps: float = 30.0, *, progress: bool = False) -> Path:
    """Write BGR frames (all the size of the first) to an mp4 file (codec mp4v); returns ``path``.

    Raises :class:`RoloError` naming ``path`` when the file cannot be opened
    for writing or there is no frame; ``ValueError`` when a frame's size
    differs from the first's.
    """
    import cv2
    from tqdm import tqdm

    path = Path(path)
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise RoloError(f"{path}: no frames to write")
    first = _as_bgr(first)
    h, w = first.shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
    if not writer.isOpened():
        raise RoloError(f"{path}: cannot open for writing an mp4 video (codec mp4v, {w}x{h} at {fps} fps)")
    try:
        writer.write(first)
        for i, frame in enumerate(tqdm(it, desc=f"writing {path.name}", unit="frame", disable=not progress), 1):
            frame = _as_bgr(frame)
            if frame.shape[:2] != (h, w):
                raise ValueError(f"{path}: frame {i} is {frame.shape[1]}x{frame.shape[0]}, the first was {w}x{h}")
            writer.write(frame)
    finally:
        writer.release()
    return path
