"""ROLO inside the field's toolkits: got10k's experiments, and result files that pytracking's and
pysot-toolkit's analyses read.

got10k (``pip install got10k six shapely fire wget``; a test dependency, not a runtime one)::

    from got10k.experiments import ExperimentGOT10k
    from rolo.toolkits import Got10kTracker
    ExperimentGOT10k("/data/GOT-10k", subset="val").run(Got10kTracker("checkpoints/rolo_lstm_exp1_100.pth"))

``Got10kTracker`` is a real ``got10k.trackers.Tracker`` subclass, built on first use so that
importing :mod:`rolo.toolkits` never imports got10k. got10k 0.1.3's LaSOT and TrackingNet dataset
classes are broken; use :mod:`rolo.datasets` for those and got10k for experiments, metrics and
reports.

Result layouts (:func:`write_results`), ``boxes`` always ``xywh`` pixels, one row per frame:

``pytracking``  ``<dir>/<seq>.txt`` tab-separated (pytracking's own; its analysis reads tabs or commas)
``pysot``       ``<dir>/<seq>.txt`` comma-separated (pysot-toolkit's OTB/UAV/LaSOT/NfS layout)
``got10k``      ``<dir>/<seq>/<seq>_001.txt`` comma-separated

Given seconds per frame, every layout adds ``<seq>_time.txt`` beside the box file (one line per
frame; pysot-toolkit does not read it, pytracking and got10k do).

Offline: got10k's ExperimentOTB downloads every OTB-100 folder missing under its root. Hand it
our loader's sequences instead, which reads only what is there and downloads nothing::

    exp = offline_experiment(ExperimentOTB, Got10kSequences("otb", "/data/OTB100", "otb30_list.txt"))
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .cache import write_text_atomic
from .errors import ConfigError, DataError

LAYOUTS = ("pytracking", "pysot", "got10k")
INSTALL = "pip install got10k six shapely fire wget"


def require_got10k():
    """The got10k package, or an ImportError that says how to install it."""
    try:
        import got10k.trackers
    except ImportError as e:
        raise ImportError(f"rolo.toolkits.Got10kTracker needs the got10k toolkit, which is not installed "
                          f"({e}); install it with: {INSTALL}") from None
    return got10k


def _make_tracker_class():
    from .tracker import RoloTracker

    Tracker = require_got10k().trackers.Tracker

    class Got10kTracker(Tracker):
        """ROLO as a got10k tracker: got10k hands over PIL RGB images and the first frame's ``xywh``
        box; :meth:`update` returns the (4,) ``xywh`` pixel box. Deterministic: one run per
        sequence. Arguments after ``checkpoint`` go to :meth:`rolo.tracker.RoloTracker.from_checkpoint`
        (``weights``, ``imgsz``, ``conf`` default to the checkpoint's extraction settings)."""

        def __init__(self, checkpoint, weights=None, *, name: str = "ROLO", device="auto", **kwargs):
            super().__init__(name=name, is_deterministic=True)
            self.rolo = RoloTracker.from_checkpoint(checkpoint, weights, device=device, **kwargs)

        @staticmethod
        def _bgr(image) -> np.ndarray:
            if getattr(image, "mode", "RGB") != "RGB":
                image = image.convert("RGB")
            return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])

        def init(self, image, box):
            self.rolo.init(self._bgr(image), np.asarray(box, dtype=np.float64))

        def update(self, image):
            return self.rolo.update(self._bgr(image))

    return Got10kTracker


_CLASSES: dict = {}


def __getattr__(name: str):
    # PEP 562: ``from rolo.toolkits import Got10kTracker`` builds the class (and imports got10k) here.
    if name == "Got10kTracker":
        if name not in _CLASSES:
            _CLASSES[name] = _make_tracker_class()
        return _CLASSES[name]
    raise AttributeError(f"module 'rolo.toolkits' has no attribute {name!r}")


class Got10kSequences:
    """A registered dataset's split (:mod:`rolo.datasets`) in the shape got10k's experiments read:
    ``seq_names``, ``len()``, and ``[i or name] -> (image paths, (N, 4) xywh boxes)``. A box the
    dataset does not give is what got10k's own class for it returns: ``-1`` rows for GOT-10k (its
    files' spelling), NaN elsewhere (ExperimentUAV123 skips NaN rows; a ``-1`` row would count as a
    missed frame)."""

    def __init__(self, dataset: str, root, split=None, **options):
        from .datasets import get_dataset

        self.dataset = get_dataset(dataset, root, split, **options)
        self.seq_names = self.dataset.names()
        self.return_meta = False  # ExperimentGOT10k sets it

    def __len__(self) -> int:
        return len(self.seq_names)

    def __getitem__(self, index):
        name = index if isinstance(index, str) else self.seq_names[index]
        seq = self.dataset[name]
        boxes = seq.boxes_xywh
        if self.dataset.name == "got10k":
            boxes = np.where(np.isnan(boxes), -1.0, boxes)
        return [str(p) for p in seq.frames], boxes


def offline_experiment(experiment_cls, sequences, *args, **kwargs):
    """``experiment_cls(*args, **kwargs)`` (a got10k ``Experiment*``) reading ``sequences`` (e.g.
    :class:`Got10kSequences`) instead of building its own dataset, which for OTB downloads what is
    missing. ``root_dir`` may be omitted: it is not read."""
    import sys
    from unittest import mock

    module = sys.modules[experiment_cls.__module__]
    datasets = {n: (lambda *a, **k: sequences) for n in dir(module)
                if isinstance(getattr(module, n), type) and getattr(module, n).__module__.startswith("got10k.datasets")}
    with mock.patch.multiple(module, **datasets):
        return experiment_cls(*(args or (str(getattr(sequences.dataset, "root", "")),)), **kwargs)


def write_results(out_dir, seq_name: str, boxes_xywh, seconds=None, layout: str = "pytracking") -> Path:
    """Write one sequence's (N, 4) ``xywh`` boxes (and (N,) seconds per frame) in ``layout``; returns the box file."""
    if layout not in LAYOUTS:
        raise ConfigError(f"result layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    out = Path(out_dir) / seq_name if layout == "got10k" else Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create {out}: {e.strerror or e}") from None
    sep = "\t" if layout == "pytracking" else ","
    box_file = out / (f"{seq_name}_001.txt" if layout == "got10k" else f"{seq_name}.txt")
    write_text_atomic(box_file, "".join(sep.join(f"{v:.3f}" for v in row) + "\n" for row in boxes))
    if seconds is not None:
        write_text_atomic(out / f"{seq_name}_time.txt", "".join(f"{t:.8f}\n" for t in np.asarray(seconds).ravel()))
    return box_file


def got10k_performance(result_dir, root, split: str = "val") -> dict:
    """Our metrics (:func:`rolo.metrics.got10k_scores`) of got10k-layout result files
    ``<result_dir>/<seq>/<seq>_001.txt`` for GOT-10k's ``split`` under ``root``: ``overall`` (all
    sequences' frames pooled, as the toolkit's performance.json) and ``seq_wise``."""
    from .datasets import get_dataset
    from .metrics import got10k_frame_ious, got10k_scores

    ds = get_dataset("got10k", root, split)
    pooled, seq_wise = [], {}
    for name in ds.names():
        seq = ds[name]
        path = Path(result_dir) / name / f"{name}_001.txt"
        if not path.is_file():
            raise DataError(f"no result file for {name}: {path}")
        pred = np.loadtxt(path, delimiter=",", ndmin=2)
        gt = np.where(np.isnan(seq.boxes_xywh), -1.0, seq.boxes_xywh)  # the toolkit reads absent rows as -1
        resolution = seq.attributes["meta"].get("resolution")
        bound = tuple(int(v) for v in resolution.strip("()").split(",")) if resolution else seq.frame_sizes()[0]
        ious = got10k_frame_ious(pred, gt, seq.attributes["cover"], bound)
        pooled.append(ious)
        seq_wise[name] = dict(got10k_scores(ious), length=len(seq) - 1)
    return {"overall": got10k_scores(np.concatenate(pooled)), "seq_wise": seq_wise}
