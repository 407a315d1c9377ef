"""Tracking metrics (OTB one-pass evaluation), vectorised over frames.

Conventions, stated once:

* A **prediction** is *valid* when its four numbers are finite and its width
  and height are > 0. An invalid prediction (NaN, inf, zero or negative size,
  e.g. the report's "no detection" box ``[0.5, 0.5, 0, 0]``) is a tracking
  failure: IoU 0 and centre error ``inf``. It is counted, never skipped.
* A **ground-truth** row is *valid* when its four numbers are finite and its
  width and height are > 0. Frames with an invalid ground truth (OTB marks an
  absent target with zeros or NaN in a few sequences) get IoU and centre error
  NaN and are **excluded from every metric**: they count neither as success
  nor as failure. :func:`sequence_metrics` reports how many were excluded.
* **IoU** ``= |A ∩ B| / |A ∪ B|``; disjoint boxes give 0. Boxes are treated as
  continuous regions (no OTB ``+1`` pixel convention), consistently with
  :mod:`rolo.boxes`.
* **AOS** (average overlap score, the report's metric) = mean IoU over the
  valid frames.
* **Success curve**: for each threshold ``t`` in :data:`SUCCESS_THRESHOLDS`,
  the fraction of valid frames with ``IoU > t`` (strictly greater, as in the
  OTB toolkit). **AUC** = mean of the success curve (OTB convention).
  **SR50** = the curve at ``t = 0.5``, i.e. the fraction with ``IoU > 0.5``.
* **Precision curve**: for each threshold ``t`` (pixels) in
  :data:`PRECISION_THRESHOLDS`, the fraction of valid frames whose centre
  error is ``<= t``. **P20** = the curve at 20 px.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from .boxes import cxcywh_norm_to_xyxy_norm, xywh_to_xyxy

#: IoU thresholds of the success curve, (21,): 0, 0.05, ..., 1.
SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
#: Centre-error thresholds of the precision curve in pixels, (51,): 0, 1, ..., 50.
PRECISION_THRESHOLDS = np.arange(0, 51)

#: Index of 0.5 in SUCCESS_THRESHOLDS and of 20 px in PRECISION_THRESHOLDS.
_SR50_INDEX = 10
_P20_INDEX = 20

#: The scalar metrics of :func:`sequence_metrics`, in display order.
SCALAR_METRICS = ("aos", "auc", "sr50", "p20")


def _as_boxes(b, name: str) -> np.ndarray:
    b = np.asarray(b, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {b.shape}")
    return b


def _check_pair(pred, gt) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = _as_boxes(pred, "pred"), _as_boxes(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape, got {pred.shape} and {gt.shape}")
    return pred, gt


def _valid_size(b: np.ndarray) -> np.ndarray:
    """(N,) bool for (N, 4) boxes whose last two columns are width and height
    (``xywh`` and ``cxcywh_norm`` alike): all four finite and width, height > 0."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(b).all(axis=1) & (b[:, 2] > 0) & (b[:, 3] > 0)


def _iou_xyxy(p: np.ndarray, g: np.ndarray, pred_ok: np.ndarray, gt_ok: np.ndarray) -> np.ndarray:
    """IoU of corner boxes (N, 4) with the validity rules of the module docstring."""
    with np.errstate(invalid="ignore", over="ignore"):
        iw = np.clip(np.minimum(p[:, 2], g[:, 2]) - np.maximum(p[:, 0], g[:, 0]), 0, None)
        ih = np.clip(np.minimum(p[:, 3], g[:, 3]) - np.maximum(p[:, 1], g[:, 1]), 0, None)
        inter = iw * ih
        union = (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1]) + (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1]) - inter
        # A valid GT has positive area, so union > 0 wherever both are valid;
        # the inner where only keeps the division quiet on the other rows.
        iou = np.where(pred_ok & gt_ok, inter / np.where(union > 0, union, 1.0), 0.0)
    return np.where(gt_ok, np.clip(iou, 0.0, 1.0), np.nan)


def iou_xywh(pred, gt) -> np.ndarray:
    """(N,) IoU of ``pred`` and ``gt``, both (N, 4) ``xywh`` pixel boxes.

    Invalid predictions give 0, invalid ground-truth rows give NaN (excluded).
    """
    pred, gt = _check_pair(pred, gt)
    return _iou_xyxy(xywh_to_xyxy(pred), xywh_to_xyxy(gt), _valid_size(pred), _valid_size(gt))


def iou_cxcywh_norm(pred, gt) -> np.ndarray:
    """(N,) IoU of ``pred`` and ``gt``, both (N, 4) ``cxcywh_norm`` boxes.

    Same rules as :func:`iou_xywh`. IoU does not change when both boxes are
    scaled by the frame size, so this equals the IoU of the pixel boxes.
    """
    pred, gt = _check_pair(pred, gt)
    return _iou_xyxy(cxcywh_norm_to_xyxy_norm(pred), cxcywh_norm_to_xyxy_norm(gt),
                     _valid_size(pred), _valid_size(gt))


def center_error_xywh(pred, gt) -> np.ndarray:
    """(N,) Euclidean distance in pixels between the centres of (N, 4) ``xywh`` boxes.

    Invalid predictions give ``inf`` (a failure at every threshold); invalid
    ground-truth rows give NaN (excluded).
    """
    pred, gt = _check_pair(pred, gt)
    pred_ok, gt_ok = _valid_size(pred), _valid_size(gt)
    with np.errstate(invalid="ignore", over="ignore"):
        d = (pred[:, :2] + pred[:, 2:] / 2) - (gt[:, :2] + gt[:, 2:] / 2)
        err = np.hypot(d[:, 0], d[:, 1])
    err = np.where(pred_ok, err, np.inf)
    return np.where(gt_ok, err, np.nan)


def _fraction_per_threshold(hit: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Column means of ``hit`` (N, T) over the rows where ``valid`` (N,); NaN if none."""
    n = int(valid.sum())
    if n == 0:
        return np.full(hit.shape[1], np.nan)
    return hit[valid].sum(axis=0) / n


def success_curve(ious) -> np.ndarray:
    """(21,) fraction of valid frames with ``IoU > t`` for t in :data:`SUCCESS_THRESHOLDS`.

    ``ious`` is (N,); NaN entries are excluded frames. All NaN if no frame is valid.
    """
    ious = np.asarray(ious, dtype=np.float64).reshape(-1)
    valid = ~np.isnan(ious)
    with np.errstate(invalid="ignore"):
        hit = ious[:, None] > SUCCESS_THRESHOLDS[None, :]
    return _fraction_per_threshold(hit, valid)


def precision_curve(errors) -> np.ndarray:
    """(51,) fraction of valid frames with centre error ``<= t`` px for t in :data:`PRECISION_THRESHOLDS`.

    ``errors`` is (N,) pixels; NaN entries are excluded frames, ``inf`` is a
    failure. All NaN if no frame is valid.
    """
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    valid = ~np.isnan(errors)
    with np.errstate(invalid="ignore"):
        hit = errors[:, None] <= PRECISION_THRESHOLDS[None, :]
    return _fraction_per_threshold(hit, valid)


def auc(curve) -> float:
    """Area under a success curve, OTB convention: the mean of its 21 values."""
    return float(np.mean(curve))


def sequence_metrics(pred_xywh, gt_xywh) -> dict:
    """Metrics of one video from (N, 4) ``xywh`` predictions and ground truth.

    Returns a JSON-ready dict of plain Python numbers::

        frames            number of valid (evaluated) frames
        excluded          number of frames excluded for an invalid ground truth
        aos, auc, sr50, p20
        success_curve     list of 21 floats
        precision_curve   list of 51 floats

    When no frame is valid the metrics and curves are ``None``.
    """
    pred, gt = _check_pair(pred_xywh, gt_xywh)
    ious = iou_xywh(pred, gt)
    valid = ~np.isnan(ious)
    n = int(valid.sum())
    out = {"frames": n, "excluded": int(len(ious) - n)}
    if n == 0:
        out.update({k: None for k in SCALAR_METRICS}, success_curve=None, precision_curve=None)
        return out
    succ = success_curve(ious)
    prec = precision_curve(center_error_xywh(pred, gt))
    out.update(
        aos=float(ious[valid].mean()),
        auc=auc(succ),
        sr50=float(succ[_SR50_INDEX]),
        p20=float(prec[_P20_INDEX]),
        success_curve=succ.tolist(),
        precision_curve=prec.tolist(),
    )
    return out


def _weighted(per_video: list[Mapping], weights: np.ndarray) -> dict:
    w = weights / weights.sum()
    succ = np.asarray([v["success_curve"] for v in per_video], dtype=np.float64).T @ w
    prec = np.asarray([v["precision_curve"] for v in per_video], dtype=np.float64).T @ w
    aos = float(np.asarray([v["aos"] for v in per_video], dtype=np.float64) @ w)
    return {
        "videos": len(per_video),
        "frames": int(sum(v["frames"] for v in per_video)),
        "aos": aos,
        "auc": auc(succ),
        "sr50": float(succ[_SR50_INDEX]),
        "p20": float(prec[_P20_INDEX]),
        "success_curve": succ.tolist(),
        "precision_curve": prec.tolist(),
    }


def summarize(per_video: Mapping[str, Mapping]) -> dict:
    """Combine :func:`sequence_metrics` results of several videos.

    ``per_video`` maps a video name to its :func:`sequence_metrics` dict (as
    returned, or read back from JSON). Videos without a valid frame are left
    out of both summaries. Returns::

        {"mean": ..., "frame_weighted": ...}

    * ``mean`` -- **video mean**: every video counts once; each of aos, auc,
      sr50, p20 and each point of the two curves is the unweighted mean over
      videos. This is how the report averages its tables (e.g. "AOS 0.6781").
    * ``frame_weighted`` -- **frame-weighted mean** (OTB-toolkit convention):
      every valid frame counts once, so long videos weigh more. Equal to the
      metrics of all videos' frames pooled into one sequence.

    Both hold ``videos`` and ``frames`` (totals over the videos used), the four
    scalars and the two curves (lists).
    """
    used = [v for v in per_video.values() if v.get("frames", 0) > 0]
    if not used:
        raise ValueError("summarize: no video with a valid frame")
    frames = np.asarray([v["frames"] for v in used], dtype=np.float64)
    mean = _weighted(used, np.ones_like(frames))
    # The video mean of auc, sr50, p20 is the same number whether taken from
    # the per-video scalars or from the mean curve (they are linear in it).
    return {"mean": mean, "frame_weighted": _weighted(used, frames)}


# ---- the benchmarks' own headline metrics ------------------------------------------------
#
# LaSOT (Fan et al., CVPR 2019) and TrackingNet (Müller et al., ECCV 2018) add *normalised
# precision*: the centre error divided by the ground-truth box's width and height, so that
# it does not grow with the target's size; the value reported is the fraction of frames
# within 0.2 (pytracking's analysis; thresholds 0, 0.01, ..., 0.5). GOT-10k (Huang et al.,
# TPAMI 2019) reports AO (mean IoU), SR@0.5 and SR@0.75 over the frames after the first
# whose target is visible (cover > 0), boxes clipped to the sequence's resolution, pooled
# over all frames of all sequences: the got10k toolkit's ExperimentGOT10k.report.

#: Normalised centre-error thresholds (51,): 0, 0.01, ..., 0.5.
NORM_PRECISION_THRESHOLDS = np.arange(0, 51) / 100
_NP20_INDEX = 20
#: IoU thresholds of GOT-10k's success curve (101,): 0, 0.01, ..., 1.
GOT10K_THRESHOLDS = np.linspace(0.0, 1.0, 101)


def normalized_center_error_xywh(pred, gt) -> np.ndarray:
    """(N,) centre distance of (N, 4) ``xywh`` boxes in units of the ground truth's size:
    ``|| (c_pred - c_gt) / (w_gt, h_gt) ||``. Invalid predictions give ``inf``, invalid
    ground-truth rows NaN (excluded), as :func:`center_error_xywh`."""
    pred, gt = _check_pair(pred, gt)
    pred_ok, gt_ok = _valid_size(pred), _valid_size(gt)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        d = ((pred[:, :2] + pred[:, 2:] / 2) - (gt[:, :2] + gt[:, 2:] / 2)) / gt[:, 2:]
        err = np.hypot(d[:, 0], d[:, 1])
    return np.where(gt_ok, np.where(pred_ok, err, np.inf), np.nan)


def normalized_precision_curve(errors) -> np.ndarray:
    """(51,) fraction of valid frames with normalised centre error ``<= t`` for t in
    :data:`NORM_PRECISION_THRESHOLDS`; ``errors`` (N,) from :func:`normalized_center_error_xywh`."""
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    with np.errstate(invalid="ignore"):
        hit = errors[:, None] <= NORM_PRECISION_THRESHOLDS[None, :]
    return _fraction_per_threshold(hit, ~np.isnan(errors))


def normalized_precision(pred_xywh, gt_xywh) -> float | None:
    """Normalised precision at 0.2 of one video's (N, 4) ``xywh`` boxes (None without a valid frame)."""
    curve = normalized_precision_curve(normalized_center_error_xywh(pred_xywh, gt_xywh))
    return None if np.isnan(curve[0]) else float(curve[_NP20_INDEX])


def bounded_iou_xywh(pred, gt, bound) -> np.ndarray:
    """(N,) IoU of (N, 4) ``xywh`` boxes after clipping both to the frame ``bound`` = (W, H), or (N, 2)
    per frame, as the got10k toolkit's ``rect_iou(..., bound)`` does (a box outside the frame is cut to it)."""
    pred, gt = _check_pair(pred, gt)
    W, H = np.broadcast_to(np.asarray(bound, dtype=np.float64), (len(pred), 2)).T

    def clip(b):
        x = np.clip(b[:, 0], 0, W)
        y = np.clip(b[:, 1], 0, H)
        return np.stack([x, y, np.clip(b[:, 2], 0, W - x), np.clip(b[:, 3], 0, H - y)], axis=1)

    p, g = clip(pred), clip(gt)
    with np.errstate(invalid="ignore"):
        iw = np.maximum(np.minimum(p[:, 0] + p[:, 2], g[:, 0] + g[:, 2]) - np.maximum(p[:, 0], g[:, 0]), 0)
        ih = np.maximum(np.minimum(p[:, 1] + p[:, 3], g[:, 1] + g[:, 3]) - np.maximum(p[:, 1], g[:, 1]), 0)
        inter = iw * ih
        union = p[:, 2] * p[:, 3] + g[:, 2] * g[:, 3] - inter
        return np.clip(inter / (union + np.finfo(float).eps), 0.0, 1.0)


def got10k_frame_ious(pred_xywh, gt_xywh, cover, bound) -> np.ndarray:
    """(M,) IoUs GOT-10k scores in one sequence: frames 2..N whose ``cover`` (N,) is > 0, boxes
    (N, 4) ``xywh`` clipped to the sequence's ``bound`` = (W, H) (its ``meta_info.ini`` resolution)."""
    ious = bounded_iou_xywh(np.asarray(pred_xywh, np.float64)[1:], np.asarray(gt_xywh, np.float64)[1:], bound)
    return ious[np.asarray(cover)[1:] > 0]


def got10k_scores(ious) -> dict:
    """GOT-10k's AO, SR@0.5, SR@0.75 (``IoU >`` the threshold) and 101-point success curve of
    (M,) IoUs (one sequence's, or all sequences' pooled: the toolkit's overall score)."""
    ious = np.asarray(ious, dtype=np.float64).reshape(-1)
    if not len(ious):
        return {"ao": None, "sr50": None, "sr75": None, "success_curve": None}
    return {"ao": float(ious.mean()), "sr50": float(np.mean(ious > 0.5)), "sr75": float(np.mean(ious > 0.75)),
            "success_curve": np.mean(ious[:, None] > GOT10K_THRESHOLDS[None, :], axis=0).tolist()}
