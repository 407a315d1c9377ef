"""Feature caches synthesised from smooth box tracks, with no images and no YOLO.

For tests and ``bench.py``: the same files the dataloaders write, at any size
(an OTB-30-sized cache is about 20,000 frames x 512 features). Tracking is
learnable: each frame's feature is a fixed random projection of its true box
plus noise, and the "detector" box is the true box plus noise, missing on a
fraction of frames (the report's [0.5, 0.5, 0, 0] sentinel).
"""
from __future__ import annotations

import numpy as np

from . import cache, splits
from .boxes import NO_DETECTION_CXCYWH_NORM


def box_track_cxcywh_norm(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 4) a smooth random walk of a box inside the unit frame."""
    centre = np.cumsum(rng.normal(0, 0.01, (n, 2)), axis=0) + rng.uniform(0.3, 0.7, 2)
    centre = 0.5 + 0.35 * np.tanh((centre - 0.5) / 0.35)  # stay inside the frame without hard clipping
    size = rng.uniform(0.1, 0.3, 2) * np.exp(np.cumsum(rng.normal(0, 0.01, (n, 2)), axis=0).clip(-0.5, 0.5))
    return np.concatenate([centre, size], axis=1)


def video_arrays(n: int, feature_dim: int, rng: np.random.Generator, proj: np.ndarray,
                 noise: float = 0.05, miss_rate: float = 0.1, top_k: int = 3) -> tuple[dict, np.ndarray]:
    """One video's cache arrays (all frames labelled) and its true boxes."""
    gt = box_track_cxcywh_norm(n, rng).astype(np.float32)
    features = (np.tanh(gt @ proj) + rng.normal(0, noise, (n, feature_dim))).astype(np.float32)
    detected = rng.random(n) >= miss_rate
    det = (gt + rng.normal(0, noise / 2, gt.shape)).astype(np.float32)
    det[~detected] = NO_DETECTION_CXCYWH_NORM
    conf = np.where(detected, rng.uniform(0.3, 0.9, n), 0).astype(np.float32)
    dets = np.tile(np.array([0.5, 0.5, 0, 0, -1, -1], np.float32), (n, top_k, 1))
    dets[detected, 0, :4] = det[detected]
    dets[detected, 0, 4] = conf[detected]
    dets[detected, 0, 5] = 0
    arrays = {"features": features, "bbox_yolo": det, "gt": gt, "frames": np.arange(1, n + 1, dtype=np.int32),
              "labelled": np.ones(n, bool), "used_in_training": np.zeros(n, bool), "detected": detected,
              "conf": conf, "dets": dets}
    return arrays, gt


def write_synthetic_cache(data_dir, experiment: int = 1, n_videos: int = 6, frames=60, feature_dim: int = 32,
                          n_train: int | None = None, n_test: int | None = None, label_every: int = 3,
                          seed: int = 0, image_size=(320, 240)) -> list[str]:
    """Write a cache for ``experiment`` under ``data_dir``; returns the video names.

    ``frames`` is one length for all videos or a list. The default split is
    half train, a third test, the rest eval, as the experiment's rules cut it.
    """
    rng = np.random.default_rng(seed)
    names = [f"Syn{i + 1:02d}" for i in range(n_videos)]
    lengths = [frames] * n_videos if np.isscalar(frames) else list(frames)
    n_train = n_videos // 2 if n_train is None else n_train
    n_test = max(1, n_videos // 3) if n_test is None else n_test
    proj = rng.normal(0, 2.0, (4, feature_dim)).astype(np.float32)
    whole = {name: video_arrays(n, feature_dim, rng, proj)[0] for name, n in zip(names, lengths)}
    plan = splits.make_plan(experiment, names, n_train, n_test, label_every)
    by_split = plan["splits"]
    cache.write_plan(data_dir, dict(plan, list_file=None, list_sha256=None))
    settings = {"WEIGHTS": "synthetic", "IMG_SIZE": 640, "CONF": 0.25, "TOP_K": 3}
    for split in splits.SPLITS:
        for name in by_split[split]:
            a = whole[name]
            plan = splits.plan_video(experiment, split, name, len(a["features"]), label_every)
            cut = {k: v[plan.keep] for k, v in a.items()}
            cut["gt"] = cut["gt"].copy()
            cut["gt"][~plan.labelled] = np.nan
            cut["labelled"], cut["used_in_training"] = plan.labelled, plan.used_in_training
            meta = {"name": name, "split": split, "experiment": experiment, "order": names.index(name),
                    "image_size": list(image_size), "settings": settings}
            cache.write_video(cache.video_dir(data_dir, split, name), cut, meta)
    return names
