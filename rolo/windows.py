"""Windows of SEQ_LEN consecutive frames over cached videos, as index views.

A window is never copied out ahead of time: the store keeps one row per frame
(``[feature, detector box]`` inputs, ``cxcywh_norm`` targets and a label mask)
and a window is the pair (first row, SEQ_LEN). A batch is gathered from the
rows when it is needed.

Two stores share one interface, ``batch(starts) -> (x, y, mask)``:

* :class:`RamStore` copies the rows into one tensor (on the training device),
  so gathering a batch is one indexing op with no host round trip;
* :class:`MmapStore` reads rows from the memory-mapped cache files, so a cache
  larger than RAM trains.
"""
from __future__ import annotations

import numpy as np
import torch

from .cache import VideoCache, drop_mapped_pages
from .reportcode import NO_DETECTION_BOX, Behaviour


def frame_inputs(video: VideoCache, head: str = "coord", boxes: np.ndarray | None = None,
                 behaviour: Behaviour | None = None) -> np.ndarray:
    """(N, D + 4) or, for the heatmap head, (N, D + GRID*GRID) float32 LSTM inputs.

    ``boxes`` (N, 4) ``cxcywh_norm`` overrides the cached detector box (another
    detection-choice rule); by default the report's most confident box.
    ``behaviour`` (:mod:`rolo.reportcode`): with ``zero_undetected`` a frame without a
    detection (``detected.npy``) gets an all-zero feature and the ``[0.5, 0.5, 0, 0]`` box, as
    in the report's code; ``grid`` picks how the heatmap head draws boxes.
    """
    features = video.features
    b = video.bbox_yolo if boxes is None else boxes
    behaviour = behaviour or Behaviour()
    if behaviour.zero_undetected:
        missed = ~np.asarray(video.detected, bool)[:, None]
        features = np.where(missed, np.float32(0), features)
        b = np.where(missed, np.asarray(NO_DETECTION_BOX, np.float32), b)
    return lstm_inputs(features, b, head, behaviour.grid)


def lstm_inputs(features: np.ndarray, boxes_cxcywh_norm: np.ndarray, head: str = "coord",
                grid: str = "soft") -> np.ndarray:
    """LSTM input rows from (N, D) features and (N, 4) ``cxcywh_norm`` boxes (also the online tracker's).

    ``grid``: the heatmap head's box drawing, "soft" (ours) or "report" (:mod:`rolo.reportcode`)."""
    b = np.asarray(boxes_cxcywh_norm, dtype=np.float32)
    if head == "heatmap":
        from .heatmap import box_to_grid
        b = box_to_grid(b, grid).astype(np.float32)
    return np.concatenate([np.asarray(features, dtype=np.float32), b], axis=1)


def frame_targets(video: VideoCache, head: str = "coord", grid: str = "soft") -> np.ndarray:
    """(N, 4) ``cxcywh_norm`` or (N, GRID*GRID) grid targets; rows of unlabelled frames are 0."""
    gt = np.nan_to_num(np.asarray(video.gt, dtype=np.float32), nan=0.0)
    if head == "heatmap":
        from .heatmap import box_to_grid
        gt = box_to_grid(gt, grid).astype(np.float32)
    return gt


def window_label_counts(starts: np.ndarray, seq_len: int, labelled: np.ndarray) -> np.ndarray:
    """(W,) number of labelled frames in each window that starts at global row ``starts`` (W,)."""
    c = np.concatenate([[0], np.cumsum(np.asarray(labelled, bool).astype(np.int64))])
    return c[starts + seq_len] - c[starts]


def window_starts(lengths, seq_len: int, labelled=None, drop_last: bool = False,
                  last_labelled: bool = False) -> np.ndarray:
    """Global first-row index of every stride-1 window that fits inside one video.

    ``lengths``: frames per video, in store order. ``labelled``: optional (total,)
    bool; windows without a single labelled frame are dropped (they carry no loss).
    Videos shorter than ``seq_len`` give no window. The report's code (:mod:`rolo.reportcode`):
    ``drop_last`` cuts N - seq_len windows per video instead of N - seq_len + 1 (the last one
    never trains); ``last_labelled`` keeps only windows whose last frame is labelled.
    """
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    extra = 0 if drop_last else 1
    starts = [off + np.arange(n - seq_len + extra) for off, n in zip(offsets, lengths) if n >= seq_len + 1 - extra]
    starts = np.concatenate(starts) if starts else np.zeros(0, np.int64)
    if labelled is not None and len(starts):
        starts = starts[window_label_counts(starts, seq_len, labelled) > 0]
        if last_labelled:
            starts = starts[np.asarray(labelled, bool)[starts + seq_len - 1]]
    return starts


class RamStore:
    """All rows in one tensor per field on ``device``; batches gather by index."""

    def __init__(self, videos, seq_len: int, head: str = "coord", device="cpu", boxes=None,
                 behaviour: Behaviour | None = None):
        self.seq_len = seq_len
        self.lengths = [len(v) for v in videos]
        boxes = boxes or [None] * len(videos)
        b = behaviour or Behaviour()
        total = sum(self.lengths)
        self.x = _fill_rows((frame_inputs(v, head, bx, b) for v, bx in _releasing(zip(videos, boxes))), total, device)
        self.y = _fill_rows((frame_targets(v, head, b.grid) for v, in _releasing(zip(videos))), total, device)
        labelled = np.concatenate([np.asarray(v.labelled, bool) for v in videos])
        self.m = torch.from_numpy(labelled).to(device)
        starts = _starts(self.lengths, seq_len, labelled, head, b)
        self.starts = torch.from_numpy(starts).to(device)
        self.label_counts = torch.from_numpy(_label_counts(starts, seq_len, labelled, head, b)).to(device)
        self._steps = torch.arange(seq_len, device=device)
        self._last_only = _last_step_mask(seq_len, head, b, device)

    def __len__(self) -> int:
        return len(self.starts)

    def labelled_steps(self, window_ids: torch.Tensor) -> torch.Tensor:
        """0-d float tensor on the store's device: labelled frames in the windows ``window_ids``."""
        return self.label_counts[window_ids].sum().float()

    def batch(self, window_ids: torch.Tensor):
        """``window_ids`` (B,) -> x (B, L, Din), y (B, L, Dout), mask (B, L)."""
        rows = self.starts[window_ids][:, None] + self._steps
        m = self.m[rows]
        return self.x[rows], self.y[rows], m if self._last_only is None else m & self._last_only


def _starts(lengths, seq_len, labelled, head, behaviour: Behaviour) -> np.ndarray:
    return window_starts(lengths, seq_len, labelled, drop_last=behaviour.drop_last(head),
                         last_labelled=behaviour.last_step_only(head))


def _label_counts(starts, seq_len, labelled, head, behaviour: Behaviour) -> np.ndarray:
    """(W,) labelled steps the loss sees in each window (the last one alone in the report's heatmap)."""
    if behaviour.last_step_only(head):
        return np.ones(len(starts), np.int64)
    return window_label_counts(starts, seq_len, labelled)


def _last_step_mask(seq_len, head, behaviour: Behaviour, device):
    """(L,) bool, True at the last step: the report's heatmap loss; None for every labelled step."""
    if not behaviour.last_step_only(head):
        return None
    return torch.arange(seq_len, device=device) == seq_len - 1


def _fill_rows(per_video, total: int, device) -> torch.Tensor:
    """(total, D): the (N_i, D) arrays that ``per_video`` yields one video at a time, copied into
    one preallocated tensor on ``device``. Peak memory is the result plus one video, not the
    two full copies of ``np.concatenate`` over a list."""
    out, offset = None, 0
    for rows in per_video:
        rows = torch.from_numpy(rows)
        if out is None:
            out = torch.empty((total, rows.shape[1]), dtype=rows.dtype, device=device)
        out[offset:offset + len(rows)] = rows
        offset += len(rows)
    return out if out is not None else torch.zeros((0, 0), device=device)


def _releasing(items):
    """Yield ``items`` (tuples starting with a video); once the caller is done with one, drop
    that video's memory-mapped pages from this process (the OS keeps them cached), so that a
    RAM copy never holds the cache twice. Arrays that are not memory-mapped are left alone."""
    for item in items:
        yield item
        _release_pages(item[0])


def _release_pages(video) -> None:
    """Drop ``video``'s memory-mapped pages from this process (see :func:`rolo.cache.drop_mapped_pages`)."""
    drop_mapped_pages(getattr(video, "arrays", {}))


class MmapStore:
    """Rows stay in the memory-mapped cache files; a batch reads only its windows.

    The pages a batch touches are the OS's file cache, but they count in this
    process's resident set while mapped; every ``release_rows`` rows read, the
    store drops its mappings' pages (:func:`_release_pages`), so the resident
    set stays bounded however large the cache (bench.py's ``scale`` stage).
    """

    #: Rows read between two releases of the mapped pages. A window's first read of a file
    #: page maps its neighbours too (Linux's fault-around, 64 KB), so each window can hold
    #: ~64 KB of features plus its video's small arrays (~0.1 MB at 2,500 frames): this
    #: bounds the mapped pages to about 0.25 GB (bench.py's scale stage measures it).
    release_rows = 1 << 13

    def __init__(self, videos, seq_len: int, head: str = "coord", device="cpu", boxes=None,
                 behaviour: Behaviour | None = None):
        self.videos, self.seq_len, self.head, self.device = videos, seq_len, head, device
        self.boxes = boxes or [None] * len(videos)
        self.behaviour = behaviour or Behaviour()
        self.lengths = np.array([len(v) for v in videos])
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        labelled = np.concatenate([np.asarray(v.labelled, bool) for v in videos])
        self.starts = _starts(self.lengths, seq_len, labelled, head, self.behaviour)
        self.label_counts = _label_counts(self.starts, seq_len, labelled, head, self.behaviour)
        self._rows_since_release, self._touched = 0, set()
        self._last_only = _last_step_mask(seq_len, head, self.behaviour, "cpu")

    def __len__(self) -> int:
        return len(self.starts)

    def labelled_steps(self, window_ids) -> torch.Tensor:
        """0-d float tensor on the store's device: labelled frames in the windows ``window_ids``."""
        ids = window_ids.cpu().numpy() if torch.is_tensor(window_ids) else np.asarray(window_ids)
        return torch.tensor(float(self.label_counts[ids].sum()), device=self.device)

    def batch(self, window_ids):
        ids = window_ids.cpu().numpy() if torch.is_tensor(window_ids) else np.asarray(window_ids)
        self._rows_since_release += len(ids) * self.seq_len
        if self._rows_since_release >= self.release_rows:
            for v in self._touched:
                _release_pages(self.videos[v])
            self._rows_since_release, self._touched = 0, set()
        g = self.starts[ids]
        vid = np.searchsorted(self.offsets, g, side="right") - 1
        self._touched.update(vid.tolist())
        xs, ys, ms = [], [], []
        for v, s in zip(vid, g - self.offsets[vid]):
            video, sl = self.videos[v], slice(s, s + self.seq_len)
            b = self.boxes[v]
            part = _Slice(video, sl, None if b is None else b[sl])
            xs.append(frame_inputs(part, self.head, part.box_override, self.behaviour))
            ys.append(frame_targets(part, self.head, self.behaviour.grid))
            ms.append(np.asarray(video.labelled[sl], bool))
        to = lambda a: torch.from_numpy(np.stack(a)).to(self.device, non_blocking=True)  # noqa: E731
        m = torch.from_numpy(np.stack(ms))
        return to(xs), to(ys), (m if self._last_only is None else m & self._last_only).to(self.device)


class _Slice:
    """A window of a :class:`VideoCache` with the same attribute names."""

    def __init__(self, video, sl, box_override):
        self.features = video.features[sl]
        self.bbox_yolo = video.bbox_yolo[sl]
        self.gt = video.gt[sl]
        self.detected = video.detected[sl]
        self.box_override = box_override


def make_store(videos, seq_len: int, head: str = "coord", device="cpu", mode: str = "auto", boxes=None,
               ram_fraction: float = 0.5, behaviour: Behaviour | None = None):
    """A :class:`RamStore` when the rows fit in ``ram_fraction`` of free memory
    (``mode="auto"``) or ``mode="ram"``; otherwise a :class:`MmapStore`."""
    if mode == "auto":
        need = sum(len(v) * (v.meta["feature_dim"] + (1024 if head == "heatmap" else 4) * 2 + 1) * 4 for v in videos)
        mode = "ram" if need < ram_fraction * _available_memory() else "mmap"
    cls = RamStore if mode == "ram" else MmapStore
    return cls(videos, seq_len, head=head, device=device, boxes=boxes, behaviour=behaviour)


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 << 30
