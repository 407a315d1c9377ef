"""Box formats, documented once for the whole package.

Every function name says which format it takes and gives. All functions take
array-likes of shape (..., 4) and broadcast over the leading dimensions.

``xywh``
    OTB ground-truth and result-file format: top-left corner ``x, y`` and size
    ``w, h`` in pixels of the original frame. OTB's coordinates are 1-based
    (MATLAB); we keep them as continuous coordinates and never add or subtract
    1, so a round trip through any other format returns the file's numbers.
``xyxy``
    Corners ``x1, y1, x2, y2`` in pixels (what Ultralytics returns).
``cxcywh_norm``
    YOLO format: centre and size divided by the frame's width and height, so
    every value lies in [0, 1] for a box inside the frame. This is what the
    LSTM reads and predicts. Because frames are resized to IMG_SIZE x IMG_SIZE
    without keeping the aspect ratio (as in the report), normalising by the
    original frame size is the same as normalising in the resized frame.

``size`` arguments are ``(width, height)`` in pixels, broadcastable to (..., 2). Results are float64
whatever the input's type, so integer pixel boxes divide exactly.
"""
from __future__ import annotations

import numpy as np

#: The report's "no detection" box: the frame centre with zero size.
NO_DETECTION_CXCYWH_NORM = np.array([0.5, 0.5, 0.0, 0.0], dtype=np.float32)


def _split(b):
    b = np.asarray(b, dtype=np.float64)
    if b.shape[-1] != 4:
        raise ValueError(f"boxes must have shape (..., 4), got {b.shape}")
    return b[..., 0], b[..., 1], b[..., 2], b[..., 3]


def _wh(size):
    size = np.asarray(size, dtype=np.float64)
    if size.shape[-1] != 2:
        raise ValueError(f"size must be (..., 2) = (width, height), got {size.shape}")
    return size[..., 0], size[..., 1]


def xywh_to_xyxy(b):
    x, y, w, h = _split(b)
    return np.stack([x, y, x + w, y + h], axis=-1)


def xyxy_to_xywh(b):
    x1, y1, x2, y2 = _split(b)
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=-1)


def xywh_to_cxcywh_norm(b, size):
    x, y, w, h = _split(b)
    W, H = _wh(size)
    return np.stack([(x + w / 2) / W, (y + h / 2) / H, w / W, h / H], axis=-1)


def cxcywh_norm_to_xywh(b, size):
    cx, cy, w, h = _split(b)
    W, H = _wh(size)
    return np.stack([(cx - w / 2) * W, (cy - h / 2) * H, w * W, h * H], axis=-1)


def cxcywh_norm_to_xyxy_norm(b):
    cx, cy, w, h = _split(b)
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def xyxy_norm_to_cxcywh_norm(b):
    x1, y1, x2, y2 = _split(b)
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=-1)


def xyxy_to_cxcywh_norm(b, size):
    return xywh_to_cxcywh_norm(xyxy_to_xywh(b), size)
