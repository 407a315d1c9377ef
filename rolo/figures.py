"""Figure 7 of the report: ROLO-heatmap's predicted heatmaps on consecutive frames.

For ``COUNT`` consecutive frames of one cached video (first frame ``START``,
an OTB image number as in ``frames.npy``) the heatmap model runs in **online**
mode, exactly as :mod:`rolo.evaluation` scores it: a frame's heatmap is the
last output of the SEQ_LEN window ending at that frame
(:func:`rolo.evaluation.predict_windows`,
:func:`rolo.evaluation.online_from_windows`). Each frame shows

* ``sigmoid(logits)`` as a JET colour map (:func:`rolo.heatmap.overlay_heatmap`;
  blue 0, red 1, the same scale in every frame);
* the ground truth in green and the decoded box
  (:func:`rolo.heatmap.grid_to_box_cxcywh_norm`, the rule evaluation uses) in
  red (:func:`rolo.plots.draw_boxes`);

titled with its frame number and the decoded box's IoU, laid out ``COLS``
frames per row (:func:`rolo.plots.montage`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import cache, config, metrics, plots
from .boxes import cxcywh_norm_to_xywh
from .errors import DataError
from .evaluation import CHECKS as EVALUATION_CHECKS
from .evaluation import check_extraction, online_from_windows, predict_windows
from .heatmap import grid_to_box_cxcywh_norm, heatmap_probs, overlay_heatmap
from .model import load_for_inference
from .reportcode import Behaviour
from .otb import load_image
from .training import resolve_device, select_boxes
from .windows import frame_inputs

CHECKS = {
    "SPLIT": config.choices("test", "eval", "train"),
    "START": config.at_least(0),
    "COUNT": config.at_least(1),
    "COLS": config.at_least(1),
    "TILE_WIDTH": config.at_least(16),
    "HEATMAP_THRESHOLD": EVALUATION_CHECKS["HEATMAP_THRESHOLD"],
    "ALPHA": config.between(0.0, 1.0),
}


def load_heatmap_model(path, feature_dim: int, device):
    """The ROLO-heatmap checkpoint ``path`` for inference (:func:`rolo.model.load_for_inference`).

    Raises :class:`DataError` when the checkpoint has the coordinate head or
    expects features of another size than the cache's ``feature_dim``.
    """
    inference = load_for_inference(path, device=device, feature_dim=feature_dim, features_from="the cached video")
    head = inference.settings["HEAD"]
    if head != "heatmap":
        raise DataError(f"Figure 7 needs a heatmap checkpoint, but {path} has the {head!r} head "
                        f"(train one with --head heatmap; it is saved as rolo_heatmap_exp{{E}}_{{EPOCHS}}.pth)")
    return inference


def online_heatmaps(model, video, *, seq_len: int, end: int, device, boxes=None,
                    threshold: float = 0.5, behaviour: Behaviour | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Online heatmaps and decoded boxes of the first ``end`` rows of a cached video.

    Returns ``probs`` (end, GRID*GRID) = sigmoid of the head's logits and
    ``boxes`` (end, 4) ``cxcywh_norm``. The LSTM is causal, so the rows after
    ``end`` are not needed: the result equals the first ``end`` rows of a run
    over the whole video. ``boxes`` (N, 4) overrides the cached detector boxes
    (the checkpoint's detection-choice rule).
    """
    x = torch.from_numpy(frame_inputs(video, "heatmap", boxes, behaviour)[:end]).to(device)
    with torch.inference_mode():
        probs = heatmap_probs(online_from_windows(predict_windows(model, x, seq_len))).cpu().numpy()
    return probs, grid_to_box_cxcywh_norm(probs, threshold=threshold)


def frame_rows(video, start: int, count: int) -> np.ndarray:
    """Row indices of the ``count`` cached frames from OTB frame number ``start`` on."""
    numbers = np.asarray(video.frames)
    hit = np.flatnonzero(numbers == start)
    if not len(hit):
        raise DataError(f"{video.name}: frame {start} is not in the cache (it holds frames "
                        f"{numbers[0]}..{numbers[-1]}); set START / --start")
    first = int(hit[0])
    if first + count > len(numbers):
        raise DataError(f"{video.name}: {count} frames from frame {numbers[first]} run past its last cached frame "
                        f"{numbers[-1]}; lower COUNT / --count or START / --start")
    return np.arange(first, first + count)


def image_paths(otb_root, strict: bool, video) -> list[Path]:
    """The image of every cached row of ``video``, matched by its dataset's frame number (OTB's
    under ``otb_root``; another dataset's under the folder the cache was extracted from)."""
    from .datasets import get_dataset

    if video.dataset == "otb":
        seq = get_dataset("otb", otb_root, strict=strict)[video.name]
    else:
        otb_root = video.meta.get("dataset_root", "")
        seq = get_dataset(video.dataset, otb_root, video.meta.get("dataset_split"))[video.name]
    numbers = np.asarray(seq.frame_numbers)
    wanted = np.asarray(video.frames)
    pos = np.searchsorted(numbers, wanted)
    found = (pos < len(numbers)) & (numbers[np.minimum(pos, len(numbers) - 1)] == wanted)
    if not found.all():
        raise DataError(f"{video.name}: cached frame {wanted[~found][0]} has no image under {otb_root} "
                        f"(images {numbers[0]}..{numbers[-1]}); is OTB_ROOT the folder the cache was made from?")
    return [seq.frames[i] for i in pos]


def heatmap_tiles(video, frames: list[Path], rows: np.ndarray, probs: np.ndarray, boxes_cxcywh_norm: np.ndarray,
                  tile_size: tuple[int, int], alpha: float = 0.5) -> tuple[list[tuple[str, np.ndarray]], np.ndarray]:
    """Montage items ``[(title, image), ...]`` of ``rows`` and their (len(rows),) IoUs.

    Each image is the frame under its heatmap, scaled to ``tile_size`` =
    (width, height), with the ground truth in green and the decoded box in red
    drawn at that size (so the outlines stay sharp) on a black border (so the
    red box shows on the red of a confident heatmap). The title holds the
    frame number and the IoU ("-" where the frame has no ground truth).
    ``frames``: one image path per cached row; ``probs`` (N', GRID*GRID) and
    ``boxes_cxcywh_norm`` (N', 4): per cached row, ``N' > rows.max()``.
    """
    import cv2

    size = video.image_size
    gt = cxcywh_norm_to_xywh(np.asarray(video.gt, dtype=np.float64)[rows], size)
    pred = cxcywh_norm_to_xywh(np.asarray(boxes_cxcywh_norm, dtype=np.float64)[rows], size)
    ious = metrics.iou_xywh(pred, gt)
    scale = np.tile(np.asarray(tile_size, np.float64) / size, 2)  # xywh pixels of the frame -> of the tile
    numbers = np.asarray(video.frames)[rows]
    items = []
    for k, r in enumerate(rows):
        image = load_image(frames[r])
        if (image.shape[1], image.shape[0]) != tuple(size):
            raise DataError(f"{frames[r]} is {image.shape[1]}x{image.shape[0]}, but the cache of {video.name} "
                            f"was made from {size[0]}x{size[1]} frames")
        tile = cv2.resize(overlay_heatmap(image, probs[r], alpha), tuple(tile_size), interpolation=cv2.INTER_AREA)
        for box in (gt[k], pred[k]):
            plots._draw_xywh(cv2, tile, box * scale, (0, 0, 0), 3)
        items.append((f"#{numbers[k]}  " + ("IoU -" if np.isnan(ious[k]) else f"IoU {ious[k]:.2f}"),
                      plots.draw_boxes(tile, gt[k] * scale, pred[k] * scale)))
    return items, ious


def main(script_globals, argv=None):
    cfg = config.from_script(script_globals, argv, checks=CHECKS)
    cfg.show("figure 7 settings")
    return run(cfg)


def run(cfg) -> Path:
    """Draw Figure 7 for ``cfg`` (heatmap_figure.py's constants) and return the PNG's path."""
    device = resolve_device(cfg.DEVICE)
    video = read_cached_video(cfg.DATA_DIR, cfg.SPLIT, cfg.SEQUENCE)
    inference = load_heatmap_model(cfg.CHECKPOINT, video.meta["feature_dim"], device)
    model, ckpt = inference.model, inference.ckpt
    check_extraction(ckpt, cfg.CHECKPOINT, video)
    rows = frame_rows(video, cfg.START, cfg.COUNT)
    frames = image_paths(cfg.OTB_ROOT, cfg.STRICT_FRAMES, video)
    boxes = select_boxes([video], inference.settings["SELECT"])
    probs, decoded = online_heatmaps(model, video, seq_len=inference.seq_len, end=int(rows[-1]) + 1,
                                     device=device, boxes=None if boxes is None else boxes[0],
                                     threshold=cfg.HEATMAP_THRESHOLD,
                                     behaviour=Behaviour.from_settings(inference.settings))
    w, h = video.image_size
    # Tiles keep the frame's aspect ratio, so portrait videos are not letterboxed into landscape tiles.
    tile = (cfg.TILE_WIDTH, max(1, round(cfg.TILE_WIDTH * h / w)))
    items, ious = heatmap_tiles(video, frames, rows, probs, decoded, tile, cfg.ALPHA)
    out = plots.montage(items, cfg.OUT, cols=cfg.COLS, tile_size=tile)
    span = f"{video.name} frames {video.frames[rows[0]]}..{video.frames[rows[-1]]}"
    if np.isfinite(ious).any():
        print(f"{span}: mean IoU of the decoded boxes {np.nanmean(ious):.3f}")
    print(f"wrote {out} (heatmap = sigmoid of the logits, blue 0 to red 1; ground truth green, decoded box red)")
    return out


def read_cached_video(data_dir, split: str, name: str):
    """One video of a cached split; a missing one names the videos that are there."""
    path = cache.video_dir(data_dir, split, name)
    if not path.is_dir() and path.parent.is_dir():
        there = sorted(p.name for p in path.parent.iterdir() if p.is_dir() and not p.name.startswith("."))
        raise DataError(f"no video {name!r} in {path.parent} (it holds: {', '.join(there) or 'nothing'}); "
                        f"set SEQUENCE / --sequence or SPLIT / --split")
    return cache.read_video(path)
