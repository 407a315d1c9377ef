"""Stage 1: run YOLOv8 over the experiment's videos and fill the per-video cache.

Each video is read from disk and passed through the network once, even when
several splits hold it (experiments 2 and 3 use the 30 videos for both train
and test); every split's folder is then cut from that one pass.
"""
from __future__ import annotations

import time

import numpy as np

from . import cache, config, splits
from .boxes import xywh_to_cxcywh_norm
from .otb import OTB, read_list

CHECKS = {
    "EXPERIMENT": config.choices(1, 2, 3),
    "IMG_SIZE": config.multiple_of(32),  # the YOLOv8 stride
    "CONF": config.between(0.0, 1.0),
    "BATCH_SIZE": config.at_least(1),
    "TOP_K": config.at_least(1),
    "N_TRAIN": config.at_least(1),
    "N_TEST": config.at_least(0),
    "LABEL_EVERY": config.at_least(1),
}


def main(script_globals, argv=None):
    cfg = config.from_script(script_globals, argv, checks=CHECKS)
    cfg.show("dataloader settings")
    return run(cfg)


def _plan(cfg, sequences: dict) -> list[splits.VideoPlan]:
    names = read_list(cfg.LIST_FILE)
    by_split = splits.video_names(cfg.EXPERIMENT, names, cfg.N_TRAIN, cfg.N_TEST)
    plans = []
    for split in splits.SPLITS:
        for name in by_split[split]:
            plans.append(splits.plan_video(cfg.EXPERIMENT, split, name, len(sequences[name]), cfg.LABEL_EVERY))
    return plans


def load_sequences(cfg) -> tuple[list[str], dict]:
    """Open every listed sequence, reporting all problems at once before any model loads
    (see :mod:`rolo.check`; with CHECK every image is decoded too)."""
    from .check import open_sequences, problems_error

    names = read_list(cfg.LIST_FILE)
    report = open_sequences(OTB(cfg.OTB_ROOT, strict=cfg.STRICT_FRAMES), names, decode=bool(cfg.get("CHECK")))
    for w in report.warnings:
        print(f"warning: {w}")
    if not report.ok:
        raise problems_error(report, f"OTB_ROOT={cfg.OTB_ROOT} and LIST_FILE={cfg.LIST_FILE}")
    if cfg.get("CHECK"):
        print(f"check passed: {report.summary()}")
    return names, report.sequences


def video_arrays(seq, plan: splits.VideoPlan, dets, size) -> dict:
    """Cut one split's arrays from a whole-video detector pass; ``size`` = (W, H).

    A frame whose ground truth has no area (OTB's mark of an absent target) is
    stored unlabelled: it carries no loss, and the metrics skip it anyway.
    """
    k = plan.keep
    has_box = (seq.gt[k, 2] > 0) & (seq.gt[k, 3] > 0)
    labelled = plan.labelled & has_box
    gt = xywh_to_cxcywh_norm(seq.gt[k], size).astype(np.float32)
    gt[~labelled] = np.nan
    return {
        "features": dets.features[k].astype(np.float32),
        "bbox_yolo": dets.boxes[k].astype(np.float32),
        "gt": gt,
        "frames": np.asarray(seq.frame_numbers)[k].astype(np.int32),
        "labelled": labelled,
        "used_in_training": plan.used_in_training & has_box,
        "detected": dets.detected[k],
        "conf": dets.conf[k].astype(np.float32),
        "dets": dets.topk[k].astype(np.float32),
    }


def run(cfg) -> dict:
    """Fill ``cfg.OUT_DIR``; returns counts of videos written and skipped."""
    names, sequences = load_sequences(cfg)
    if cfg.get("CHECK"):
        return {"written": 0, "skipped": 0, "checked": len(sequences)}
    plans = _plan(cfg, sequences)
    order = {n: i for i, n in enumerate(names)}
    settings = {k: cfg[k] for k in cache.EXTRACTION_KEYS}

    todo = []
    for p in plans:
        out = cache.video_dir(cfg.OUT_DIR, p.split, p.name)
        cache.remove_stale_temporaries(out.parent)
        if cache.is_complete(out) and not cfg.OVERWRITE:
            # A complete video made with other settings must not be mixed in silently.
            cache.read_video(out, expect=settings)
            continue
        todo.append(p)
    skipped = len(plans) - len(todo)
    if not todo:
        print(f"all {len(plans)} videos already cached in {cfg.OUT_DIR} (use --overwrite true to redo)")
        return {"written": 0, "skipped": skipped}
    if skipped:
        print(f"{skipped} videos already cached, {len(todo)} to extract")

    from .device import resolve_device
    from .extractor import YOLOv8FeatureExtractor

    # Both fail in seconds here rather than after the first video's extraction.
    cache.ensure_writable(cfg.OUT_DIR, "--out_dir")
    resolve_device(cfg.DEVICE)
    extractor = YOLOv8FeatureExtractor(weights=cfg.WEIGHTS, device=cfg.DEVICE, imgsz=cfg.IMG_SIZE,
                                       conf=cfg.CONF, top_k=cfg.TOP_K)
    by_video: dict[str, list] = {}
    for p in todo:
        by_video.setdefault(p.name, []).append(p)
    written, t0, n_frames = 0, time.perf_counter(), 0
    for name, video_plans in by_video.items():
        seq = sequences[name]
        size = seq.image_size()
        dets = extractor.extract_paths(seq.frames, batch_size=cfg.BATCH_SIZE, desc=name)
        n_frames += len(seq)
        for p in video_plans:
            meta = {"name": name, "split": p.split, "experiment": cfg.EXPERIMENT, "order": order[name],
                    "image_size": list(size), "settings": dict(cfg)}
            cache.write_video(cache.video_dir(cfg.OUT_DIR, p.split, name), video_arrays(seq, p, dets, size), meta)
            written += 1
    dt = time.perf_counter() - t0
    print(f"wrote {written} videos ({n_frames} frames through YOLO, {n_frames / max(dt, 1e-9):.1f} frames/s) "
          f"to {cfg.OUT_DIR}")
    return {"written": written, "skipped": skipped}
