"""ROLO-heatmap: boxes as 32x32 occupancy grids, the loss, and the decoder.

In ROLO-heatmap (report, section VI) the LSTM reads ``[feature, grid]`` where
``grid`` is the detector's box drawn on a ``GRID x GRID`` (32x32) grid, and its
head predicts a 1024-d heatmap trained against the ground-truth box's grid.

Grid layout
-----------
A heatmap has shape ``(..., GRID*GRID)``, row-major: cell ``(row, col)`` is
index ``row * GRID + col``, ``row`` along y (down), ``col`` along x. Cell
``(r, c)`` covers ``[c/G, (c+1)/G] x [r/G, (r+1)/G]`` of the normalised frame.
Boxes are ``cxcywh_norm`` (see :mod:`rolo.boxes`) and are clipped to [0, 1]
before drawing. Below, coordinates are in *cell units* (normalised * G).

Encoding (:func:`box_to_grid_cxcywh_norm`)
------------------------------------------
``soft=True``: each cell holds the fraction of its area covered by the box.
Because a box is a product of two intervals this is separable,
``H[r, c] = fy[r] * fx[c]`` with ``fx[c] = |[x1, x2] & [c, c+1]|`` (the
fraction of column ``c`` covered along x; likewise ``fy``), so box edges and
sub-cell boxes are represented. ``soft=False``: 1 where the cell centre
``(c + 1/2, r + 1/2)`` lies in the half-open box ``[x1, x2) x [y1, y2)``, else 0.
A zero-size box (the "no detection" sentinel ``[0.5, 0.5, 0, 0]``) gives zeros.

Loss and sigmoid (applied exactly once)
---------------------------------------
The model's head outputs **logits**. :func:`heatmap_loss` is the ROLO loss,
the mean squared error between ``sigmoid(logits)`` and the target grid; the
sigmoid lives inside the loss, so the head must not apply one (applying it
twice squeezes every prediction into [0.5, 0.73] and the map can never reach
0). MSE rather than BCE-with-logits follows the report and ROLO, and keeps a
soft target's fractional cells and the LSTM's input grid on the same scale.
:func:`heatmap_probs` (the same sigmoid) turns logits into the probabilities
that :func:`grid_to_box_cxcywh_norm` and :func:`overlay_heatmap` take.

Decoding (:func:`grid_to_box_cxcywh_norm`)
------------------------------------------
The usual decoder (the arg-max cell with a fixed 0.1 x 0.1 box) caps the IoU;
this one reads the box's extent:

1. **Peak.** ``p`` = the largest value, at the first arg-max cell. A map with
   no peak (all values equal -- all zeros, but also a constant map and the
   all-ones map of a box covering the whole frame) or ``p <= 0`` decodes to
   the sentinel ``[0.5, 0.5, 0, 0]``.
2. **Region.** ``R`` = the 4-connected component of the cells with value
   ``>= threshold * p`` that contains the peak cell. Its bounding box in
   cells is columns ``c0..c1`` and rows ``r0..r1`` (the *core*).
3. **Profiles.** With ``N`` = ``R`` grown by one cell in all 8 directions
   (so the border columns/rows just outside the core count, but a second blob
   two or more cells away does not), the column sums ``S[c] = sum_r H[r,c]``
   and row sums ``T[r]`` over ``N`` give relative profiles
   ``u = S / max S`` and ``v = T / max T``. For a perfect soft map
   ``S[c] = fx[c] * sum(fy)``, so ``u = fx / Fx`` with ``Fx = max fx``.
4. **Scale.** Only ``Fx * Fy = p`` is known, so the split needs a rule: a
   dimension whose profile has at least 3 entries ``>= SUPPORT_EPS`` has a
   fully covered middle column (row), so its ``F = 1``; if exactly one
   dimension is so determined the other gets ``F = p``; if neither,
   ``Fx = Fy = sqrt(p)`` (square prior). ``p`` is capped at 1. Occupancy
   fractions are then ``gx = clip(Fx * u, 0, 1)``, ``gy`` likewise.
5. **Edges, sub-cell.** Along x, with ``l = gx[c0-1]``, ``r = gx[c1+1]``
   (0 outside the frame): if the core spans several columns a box entering the
   border column ``c0`` from the right covers ``gx[c0]`` of it and, if it goes
   on into ``c0 - 1``, covers ``c0`` fully and ``l`` of ``c0 - 1``, so in both
   cases ``x1 = c0 + (1 - gx[c0]) - l``; symmetrically
   ``x2 = c1 + gx[c1] + r``. A one-column core ``c`` with ``m = gx[c]`` gives
   the width ``l + m + r``; the uncovered ``1 - m`` of column ``c`` lies on
   the side away from the spill-over:
   ``x1 = c - l + (1 - m) * r / (l + r)`` (``r / (l + r) := 1/2`` when both
   are 0, i.e. a box inside one column is centred in it), ``x2 = x1 + l + m + r``.
   Rows give ``y1, y2`` the same way.

Exactness (soft)
    Steps 3-5 invert the encoding whenever step 4 recovers ``Fx`` and ``Fy``
    and no single-line case of step 5 has to guess. A perfect soft map
    decodes back exactly (up to float error) for every box that, after
    clipping, (a) touches at least two columns and two rows, i.e. crosses a
    grid line both ways, and (b) is at least ``2 + 2 * SUPPORT_EPS`` = 2.1
    cells wide or tall (6.6% of the frame on a 32 grid), or covers a whole
    cell (peak 1). The other boxes are ambiguous *in the encoding itself*, so
    no decoder can recover them: along a dimension where the box stays inside
    one row (column) the map holds its height (width) but not where it sits
    in that row, and when both sides are under ~2 cells only the product
    ``Fx * Fy`` is known -- e.g. the cell boxes ``[0, 2] x [0, 0.5]`` and
    ``[0.5, 1.5] x [0, 1]`` have identical maps. For those the decoded box
    keeps the exact area, lies in the occupied cells, is centred in a single
    occupied row/column and follows the square prior.

Bound (binary)
    A perfect binary map is decoded to the union of its cells: every edge
    moves to the nearest grid line, i.e. by ``s`` in ``[-1/2, 1/2)`` cells.
    Per dimension with true length ``L``, decoded length ``D`` and overlap
    ``I``, moving an edge outwards raises ``D``, moving it inwards lowers
    ``I`` and ``D`` together; either way the IoU falls as ``|s|`` grows, so
    the worst cases have ``|s| = 1/2``. With ``L >= k`` (``k`` a whole number of cells) and
    ``D`` a whole number of cells, the candidates per dimension are: shift
    (both edges 1/2 the same way; ``L = D = k``, ``I = k - 1/2``), grow
    (``L = k``, ``I = k``, ``D = k + 1``) and shrink (``L -> k + 1``,
    ``I = D = k``: ``L = k`` would need ``D = k - 1``, i.e. ``s = +1/2``,
    which the half-open rule excludes). Of the nine combinations, shifting
    both dimensions is the worst for every ``k``, and IoU grows with ``L``
    past these minima; the bound is attained by a ``k x k`` box whose edges lie on cell centres::

        IoU >= (k - 1/2)^2 / (2 k^2 - (k - 1/2)^2) = (2k - 1)^2 / (4k^2 + 4k - 1)

    for boxes at least ``k >= 1`` cells wide and tall (:func:`binary_iou_lower_bound`;
    k = 1, 2, 4, 8: 0.143, 0.391, 0.620, 0.790). A box at least ``m`` cells
    (``m`` not whole) obeys the bound of ``floor(m)``.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from .boxes import NO_DETECTION_CXCYWH_NORM, cxcywh_norm_to_xyxy_norm, xyxy_norm_to_cxcywh_norm

#: Cells per side of the heatmap grid (32 x 32 = 1024 values, as in ROLO).
GRID = 32
#: Region rule of the decoder: cells >= DEFAULT_THRESHOLD * peak (step 2).
DEFAULT_THRESHOLD = 0.5
#: Relative profile value above which a row/column counts as occupied (step 4).
SUPPORT_EPS = 0.05


def _unwrap(x):
    """Return ``(numpy float64 array, function giving results back as x's kind)``."""
    if isinstance(x, torch.Tensor):
        device = x.device
        return x.detach().cpu().double().numpy(), lambda a: torch.from_numpy(a).to(device)
    return np.asarray(x, dtype=np.float64), lambda a: a


def binary_iou_lower_bound(k):
    """Worst IoU of a perfect binary heatmap's decoded box, boxes >= ``k`` cells per side.

    ``(2k - 1)^2 / (4k^2 + 4k - 1)`` for whole ``k >= 1`` (derived in the
    module docstring); attained by a ``k x k`` box with its edges on cell centres.
    """
    k = np.asarray(k, dtype=np.float64)
    return (2 * k - 1) ** 2 / (4 * k**2 + 4 * k - 1)


def box_to_grid_cxcywh_norm(boxes, grid=GRID, soft=True):
    """Draw ``cxcywh_norm`` boxes ``(..., 4)`` on a grid -> ``(..., grid*grid)`` float32.

    ``soft=True``: fraction of each cell's area inside the box (exact overlap).
    ``soft=False``: 1 where the cell centre is inside the half-open box.
    Boxes are clipped to the frame [0, 1]; zero-size boxes give all zeros.
    Row-major, ``index = row * grid + col`` with ``row`` along y. Accepts numpy
    arrays, lists or torch tensors and returns the same kind.
    """
    b, back = _unwrap(boxes)
    if not np.isfinite(b).all():
        raise ValueError("boxes must be finite")
    x1, y1, x2, y2 = np.moveaxis(np.clip(cxcywh_norm_to_xyxy_norm(b), 0.0, 1.0) * grid, -1, 0)
    lines = np.arange(grid, dtype=np.float64)

    def occupancy(lo, hi):  # (...) x2 -> (..., grid) coverage of each cell along one axis
        lo, hi = lo[..., None], hi[..., None]
        if soft:
            return np.clip(np.minimum(hi, lines + 1) - np.maximum(lo, lines), 0.0, 1.0)
        centres = lines + 0.5
        return ((centres >= lo) & (centres < hi)).astype(np.float64)

    fx, fy = occupancy(x1, x2), occupancy(y1, y2)
    occ = fy[..., :, None] * fx[..., None, :]
    return back(occ.reshape(*b.shape[:-1], grid * grid).astype(np.float32))


def box_to_grid_report_cxcywh_norm(boxes, grid=GRID):
    """The report's code's grid (``Heatmap/utils_heatmap.py``): ``cxcywh_norm`` ``(..., 4)`` ->
    ``(..., grid*grid)`` float32 of 0/1.

    Edges ``c*grid -/+ s*grid/2`` are truncated toward zero to whole cells, clipped to
    ``[0, grid-1]``, and every cell from the first to the last edge, both included, is 1. A box
    with a negative centre (their mark of a missing label) is all zeros; a zero-size box, such
    as the no-detection box ``[0.5, 0.5, 0, 0]``, is the one cell holding its centre.
    """
    b, back = _unwrap(boxes)
    if not np.isfinite(b).all():
        raise ValueError("boxes must be finite")
    scaled = b * grid
    lo = np.trunc(scaled[..., :2] - scaled[..., 2:] / 2)
    hi = np.trunc(scaled[..., :2] + scaled[..., 2:] / 2)
    lo, hi = np.maximum(lo, 0), np.minimum(hi, grid - 1)
    cells = np.arange(grid)
    inside = [(cells >= lo[..., k, None]) & (cells <= hi[..., k, None]) for k in (0, 1)]  # (..., grid) x, y
    occ = inside[1][..., :, None] & inside[0][..., None, :]
    occ &= ~((b[..., 0] < 0) | (b[..., 1] < 0))[..., None, None]
    return back(occ.reshape(*b.shape[:-1], grid * grid).astype(np.float32))


def box_to_grid(boxes, kind: str = "soft", grid=GRID):
    """:func:`box_to_grid_cxcywh_norm` (``kind="soft"``, ours) or :func:`box_to_grid_report_cxcywh_norm`
    (``kind="report"``)."""
    return box_to_grid_report_cxcywh_norm(boxes, grid) if kind == "report" else box_to_grid_cxcywh_norm(boxes, grid)


def _component(seed_idx, mask):
    """4-connected component of ``mask`` (n, G, G) holding the flat cell ``seed_idx`` (n,).

    All maps are stacked into one tall image with a background row under each
    map, so a single ``cv2.connectedComponents`` call labels every map and no
    component crosses from one map into the next.
    """
    n, g, _ = mask.shape
    tall = np.zeros((n, g + 1, g), dtype=np.uint8)
    tall[:, :g] = mask
    _, labels = cv2.connectedComponents(tall.reshape(n * (g + 1), g), connectivity=4, ltype=cv2.CV_32S)
    labels = labels.reshape(n, g + 1, g)[:, :g]
    seed_label = labels.reshape(n, -1)[np.arange(n), seed_idx]
    return labels == seed_label[:, None, None]


def _dilate8(region):
    """3x3 binary dilation of (n, G, G) maps (separable: rows, then columns)."""
    d = region.copy()
    d[:, 1:, :] |= region[:, :-1, :]
    d[:, :-1, :] |= region[:, 1:, :]
    e = d.copy()
    e[:, :, 1:] |= d[:, :, :-1]
    e[:, :, :-1] |= d[:, :, 1:]
    return e


def _extent(any_cells):
    """First and last True index along the last axis of (n, G) -> two (n,) int arrays."""
    g = any_cells.shape[-1]
    return any_cells.argmax(-1), g - 1 - any_cells[:, ::-1].argmax(-1)


def _edges_1d(g, lo, hi):
    """Sub-cell edges (cell units) from occupancy fractions ``g`` (n, G) and core ``lo..hi`` (step 5)."""
    n = len(g)
    gp = np.pad(g, ((0, 0), (1, 1)))  # gp[:, i + 1] == g[:, i]; zeros outside the frame
    rows = np.arange(n)
    left, m_lo, m_hi, right = gp[rows, lo], gp[rows, lo + 1], gp[rows, hi + 1], gp[rows, hi + 2]
    multi_lo = lo + (1.0 - m_lo) - left
    multi_hi = hi + m_hi + right
    spill = left + right
    toward_right = np.divide(right, spill, out=np.full(n, 0.5), where=spill > 0)
    single_lo = lo - left + (1.0 - m_lo) * toward_right
    single_hi = single_lo + left + m_lo + right
    single = lo == hi
    return np.where(single, single_lo, multi_lo), np.where(single, single_hi, multi_hi)


def _decode_xyxy_cells(maps, threshold):
    """Steps 1-5 for (n, G, G) maps whose peaks are positive and above their minimum."""
    n, g, _ = maps.shape
    flat = maps.reshape(n, -1)
    peak_idx = flat.argmax(1)
    p = flat[np.arange(n), peak_idx]
    mask = maps >= threshold * p[:, None, None]
    region = _component(peak_idx, mask)
    r0, r1 = _extent(region.any(axis=2))
    c0, c1 = _extent(region.any(axis=1))

    # Negative values (noise) would cancel real occupancy in the sums.
    near = np.maximum(maps, 0.0) * _dilate8(region)
    col, row = near.sum(axis=1), near.sum(axis=2)
    u = col / col.max(axis=1, keepdims=True)
    v = row / row.max(axis=1, keepdims=True)

    det_x = (u >= SUPPORT_EPS).sum(1) >= 3
    det_y = (v >= SUPPORT_EPS).sum(1) >= 3
    pc = np.minimum(p, 1.0)
    prior = np.sqrt(pc)
    fx = np.where(det_x, 1.0, np.where(det_y, pc, prior))
    fy = np.where(det_y, 1.0, np.where(det_x, pc, prior))
    gx = np.clip(fx[:, None] * u, 0.0, 1.0)
    gy = np.clip(fy[:, None] * v, 0.0, 1.0)
    x1, x2 = _edges_1d(gx, c0, c1)
    y1, y2 = _edges_1d(gy, r0, r1)
    return np.clip(np.stack([x1, y1, x2, y2], axis=-1), 0.0, g)


def grid_to_box_cxcywh_norm(heatmaps, threshold=DEFAULT_THRESHOLD, grid=GRID):
    """Decode heatmaps ``(..., grid*grid)`` (probabilities) -> ``cxcywh_norm`` boxes ``(..., 4)`` float32.

    Reads the box's extent with sub-cell precision (rule and guarantees in the
    module docstring): the region is the 4-connected component of cells
    ``>= threshold * peak`` containing the peak. Maps without a peak (all
    values equal) give ``NO_DETECTION_CXCYWH_NORM``. Pass probabilities
    (:func:`heatmap_probs`), not logits. Accepts numpy arrays or torch tensors
    and returns the same kind.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    h, back = _unwrap(heatmaps)
    if h.ndim == 0 or h.shape[-1] != grid * grid:
        raise ValueError(f"heatmaps must have shape (..., {grid * grid}), got {h.shape}")
    if not np.isfinite(h).all():
        raise ValueError("heatmaps must be finite")
    lead = h.shape[:-1]
    flat = h.reshape(-1, grid * grid)
    out = np.tile(NO_DETECTION_CXCYWH_NORM.astype(np.float64), (len(flat), 1))
    peak = flat.max(axis=1, initial=-np.inf)
    has_peak = (peak > 0) & (peak > flat.min(axis=1, initial=np.inf))
    if has_peak.any():
        cells = _decode_xyxy_cells(flat[has_peak].reshape(-1, grid, grid), threshold)
        out[has_peak] = xyxy_norm_to_cxcywh_norm(cells / grid)
    return back(out.reshape(*lead, 4).astype(np.float32))


def heatmap_probs(logits):
    """The head's logits -> heatmap probabilities (the one sigmoid outside the loss)."""
    return torch.sigmoid(logits)


def heatmap_loss(logits, target_grid):
    """ROLO heatmap loss: mean of ``(sigmoid(logits) - target_grid)^2`` over all cells.

    ``logits`` and ``target_grid`` (from :func:`box_to_grid_cxcywh_norm`) have
    the same shape ``(..., GRID*GRID)``; the sigmoid is applied here, once, so
    the head must output raw logits.
    """
    target_grid = torch.as_tensor(target_grid, dtype=logits.dtype, device=logits.device)
    if target_grid.shape != logits.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target_grid.shape)} differ")
    return torch.mean((heatmap_probs(logits) - target_grid) ** 2)


def overlay_heatmap(image_bgr, heatmap_1024, alpha=0.5):
    """Blend a heatmap (probabilities, ``(GRID*GRID,)`` or ``(GRID, GRID)``) over a BGR image.

    The map is clipped to [0, 1] (not rescaled per frame, so colours mean the
    same probability in every frame), coloured with ``cv2.COLORMAP_JET``,
    resized to the image with nearest-neighbour (one flat block per cell) and
    mixed as ``(1 - alpha) * image + alpha * colour``. Greyscale ``(H, W)``
    images are converted to BGR. Returns ``(H, W, 3)`` uint8.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if isinstance(heatmap_1024, torch.Tensor):
        heatmap_1024 = heatmap_1024.detach().cpu().numpy()
    h = np.asarray(heatmap_1024, dtype=np.float64)
    side = int(round(np.sqrt(h.size)))
    if side * side != h.size or h.ndim not in (1, 2):
        raise ValueError(f"heatmap must be (n*n,) or (n, n), got {h.shape}")
    image = np.asarray(image_bgr)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be BGR uint8 (H, W, 3), got {image.dtype} {image.shape}")
    levels = np.round(np.clip(h.reshape(side, side), 0.0, 1.0) * 255).astype(np.uint8)
    colour = cv2.applyColorMap(levels, cv2.COLORMAP_JET)
    colour = cv2.resize(colour, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
    return cv2.addWeighted(image, 1.0 - alpha, colour, alpha, 0.0)
