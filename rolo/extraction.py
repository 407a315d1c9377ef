"""Stage 1: run YOLOv8 over the experiment's videos and fill the per-video cache.

Each video is read from disk and passed through the network once, even when
several splits hold it (experiments 2 and 3 use the 30 videos for both train
and test); every split's folder is then cut from that one pass.

Under ``torchrun`` the videos still to extract are shared among the ranks,
balanced by frame count (:func:`rolo.distributed.assign_balanced`); each rank
writes whole videos atomically, so a killed rank loses only the video it was
on, and a rerun with any number of ranks extracts only what is missing. After
a final barrier rank 0 checks that every planned video is there and complete.

The videos come from the report's OTB list plan (:mod:`rolo.splits`), or from
whole dataset splits (:func:`rolo.splits.dataset_sides`: DATASET/TRAIN_SPLIT
fill ``train``, TEST_DATASET/TEST_SPLIT fill ``test``; see docs/datasets.md).
Frames whose target is not visible are stored unlabelled in ``train``; in
``test`` the benchmark's protocol decides (:attr:`Dataset.score_hidden`).
"""
from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cache, config, distributed, splits
from .boxes import xywh_to_cxcywh_norm
from .datasets import DATASETS, get_dataset
from .datasets.base import box_present
from .errors import ConfigError, DataError
from .otb import read_list

CHECKS = {
    "EXPERIMENT": splits.check_experiment,
    "IMG_SIZE": config.multiple_of(32),  # the YOLOv8 stride
    "CONF": config.between(0.0, 1.0),
    "BATCH_SIZE": config.at_least(1),
    "TOP_K": config.at_least(1),
    "N_TRAIN": config.at_least(1),
    "N_TEST": config.at_least(0),
    "LABEL_EVERY": config.at_least(1),
    "FEATURE_DTYPE": config.choices("float32", "float16"),
    "DECODE_WORKERS": config.at_least(0),
    "DATASET": config.choices(*DATASETS),
    "TEST_DATASET": config.choices("", *DATASETS),
}


@dataclass
class Source:
    """The opened sequences of one side of a run: the OTB list plan (``side`` None) or one dataset split."""
    dataset: object
    names: list
    sequences: dict
    side: splits.Side | None = None

    def meta(self) -> dict:
        """What ``meta.json`` records of the video's dataset."""
        return {"dataset": self.side.dataset if self.side else "otb",
                "dataset_split": self.side.split if self.side else None,
                "dataset_root": str(self.dataset.root.resolve())}


def main(script_globals, argv=None):
    cfg = config.from_script(script_globals, argv, checks=CHECKS)
    with distributed.quiet_unless_main():
        cfg.show("dataloader settings")
    return run(cfg)


def _plan(cfg, plan: dict, sequences: dict) -> list[splits.VideoPlan]:
    return [splits.plan_video(cfg.EXPERIMENT, split, name, len(sequences[name]), cfg.LABEL_EVERY)
            for split in splits.SPLITS for name in plan["splits"][split]]


def split_plan(cfg, names, sources: list[Source] | None = None) -> dict:
    """This run's :func:`rolo.splits.make_plan`, with the list file it came from; over whole dataset
    splits, :func:`rolo.splits.make_dataset_plan`."""
    if sources and sources[0].side is not None:
        return splits.make_dataset_plan(cfg.EXPERIMENT, [s.side for s in sources],
                                        {s.side.cache_split: s.names for s in sources}, cfg.LABEL_EVERY)
    plan = splits.make_plan(cfg.EXPERIMENT, names, cfg.N_TRAIN, cfg.N_TEST, cfg.LABEL_EVERY)
    digest = hashlib.sha256(Path(cfg.LIST_FILE).read_bytes()).hexdigest()
    return dict(plan, list_file=str(cfg.LIST_FILE), list_sha256=digest)


def replan_problems(cfg, plan: dict) -> list[str]:
    """How the cache already in OUT_DIR was planned otherwise than ``plan``: its ``plan.json``,
    videos the plan does not list, and videos made with another experiment or LABEL_EVERY
    (a cache from before ``plan.json``, or a killed ``--overwrite`` run)."""
    old = cache.read_plan(cfg.OUT_DIR)
    out = splits.plan_differences(old, plan) if old is not None else []
    out += [f"{p} is cached but not in this plan's {p.parent.name} split" for p in cache.unplanned(cfg.OUT_DIR, plan)]
    for split, names in plan["splits"].items():
        for name in names:
            path = cache.video_dir(cfg.OUT_DIR, split, name)
            if not cache.is_complete(path):
                continue
            try:
                meta = cache.read_meta(path)
            except DataError:
                continue  # a damaged video is named when it is read, or redone by --overwrite
            made = meta.get("settings", {}).get("LABEL_EVERY")
            if meta.get("experiment") != cfg.EXPERIMENT:
                out.append(f"{path} was made for experiment {meta.get('experiment')}")
            elif plan["label_every"] is not None and made is not None and made != plan["label_every"]:
                out.append(f"{path} was made with LABEL_EVERY={made}")
    return out


def length_problems(cfg, plans) -> list[str]:
    """Cached videos whose frame count is not what the dataset now gives their split (a shortened
    copy replaced by the full one, or the other way round): skipping them as cached would train
    and score the old frames."""
    out = []
    for p in plans:
        path = cache.video_dir(cfg.OUT_DIR, p.split, p.name)
        if not cache.is_complete(path):
            continue
        try:
            cached = cache.read_meta(path).get("n_frames")
        except DataError:
            continue  # named when it is read, or redone by --overwrite
        if cached is not None and cached != len(p.keep):
            out.append(f"{path} holds {cached} frames, but {p.name} now gives its {p.split} split {len(p.keep)} "
                       f"(the dataset changed since it was cached)")
    return out


def _open(dataset, names, what: str, cfg) -> dict:
    """Open ``names``, reporting all problems at once before any model loads (see :mod:`rolo.check`;
    with CHECK every image is decoded too)."""
    from .check import open_sequences, problems_error

    report = open_sequences(dataset, names, decode=bool(cfg.get("CHECK")))
    for w in report.warnings:
        print(f"warning: {w}")
    if not report.ok:
        raise problems_error(report, what)
    if cfg.get("CHECK"):
        print(f"check passed: {report.summary()}")
    return report.sequences


def load_sources(cfg) -> list[Source]:
    """The run's sources: the OTB list plan, or one per dataset side (:func:`rolo.splits.dataset_sides`)."""
    sides = splits.dataset_sides(cfg)
    if sides is None:
        names = read_list(cfg.LIST_FILE)
        otb = get_dataset("otb", cfg.OTB_ROOT, cfg.LIST_FILE, strict=cfg.STRICT_FRAMES)
        return [Source(otb, names, _open(otb, names, f"OTB_ROOT={cfg.OTB_ROOT} and LIST_FILE={cfg.LIST_FILE}", cfg))]
    out = []
    for side in sides:
        options = {"strict": cfg.STRICT_FRAMES} if side.dataset == "otb" else {}
        try:
            ds = get_dataset(side.dataset, side.root, side.split, **options)
        except ConfigError as e:  # the dataset cannot tell which flag gave its split
            flag = "--train_split" if side.cache_split == "train" else "--test_split"
            given = f"{flag} {cfg.get(flag[2:].upper(), '')!r}"
            if flag == "--train_split" and DATASETS[side.dataset].splits == (None,):
                raise ConfigError(f"{given}: dataset {side.dataset!r} has no splits; --train_split {splits.ALL} "
                                  f"trains on all of it") from None
            raise ConfigError(f"{given}: {e}") from None
        names = ds.names()
        what = f"dataset {side.dataset} at {side.root}" + (f", split {side.split}" if side.split else "")
        out.append(Source(ds, names, _open(ds, names, what, cfg), side))
    return out


def load_sequences(cfg, sources: list[Source] | None = None) -> tuple[list[str], dict]:
    """Names (in plan order) and opened sequences of every source of the run (:func:`load_sources`).
    Two sides may share a video only when it is the same one (same dataset, root and split)."""
    sources = load_sources(cfg) if sources is None else sources
    names, sequences, origin = [], {}, {}
    for s in sources:
        for n in s.names:
            if n in origin and origin[n] != s.meta():
                raise ConfigError(f"video {n!r} is in both {origin[n]} and {s.meta()}; two datasets of one cache "
                                  f"must not share a name")
            if n not in origin:
                names.append(n)
            origin[n] = s.meta()
            sequences[n] = s.sequences[n]
    return names, sequences


def video_arrays(seq, plan: splits.VideoPlan, dets, size, feature_dtype: str = "float32",
                 score_hidden: bool = True) -> dict:
    """Cut one split's arrays from a whole-video detector pass; ``size`` = (W, H), or (N, 2) per frame.

    ``feature_dtype``: "float16" halves the features on disk (they are read back as
    float32; docs/scaling.md gives its effect on AOS).

    A frame whose target is not visible (OTB: a box with no area; other datasets: their absence,
    occlusion and out-of-view labels, see :mod:`rolo.datasets`) is stored unlabelled in ``train``:
    it carries no loss. In ``test`` and ``eval`` a hidden frame that has a box stays labelled, and
    is scored, when the benchmark's protocol scores it (``score_hidden``).
    """
    k = plan.keep
    has_box = box_present(seq.gt[k])
    visible = getattr(seq, "visible", None)  # a sequence without labels: visible where it has a box
    hidden_ok = (score_hidden and plan.split != "train") or visible is None
    usable = has_box if hidden_ok else has_box & np.asarray(visible)[k]
    labelled = plan.labelled & usable
    size = np.asarray(size, dtype=np.float64)
    gt = xywh_to_cxcywh_norm(seq.gt[k], size[k] if size.ndim == 2 else size).astype(np.float32)
    gt[~labelled] = np.nan
    return {
        "features": dets.features[k].astype(feature_dtype),
        "bbox_yolo": dets.boxes[k].astype(np.float32),
        "gt": gt,
        "frames": np.asarray(seq.frame_numbers)[k].astype(np.int32),
        "labelled": labelled,
        "used_in_training": plan.used_in_training & usable,
        "detected": dets.detected[k],
        "conf": dets.conf[k].astype(np.float32),
        "dets": dets.topk[k].astype(np.float32),
    }


def sequence_size(seq, sizes) -> tuple[int, int]:
    """The one (W, H) of an OTB sequence's frames, from ``sizes`` (N, 2), each frame's (W, H) as
    the extractor decoded it; a frame of another size is an error naming it.

    OTB frames of a sequence share one size and the cache records one ``image_size`` per video.
    A dataset whose resolution changes mid-video needs each frame normalised by its own size
    instead (``xywh_to_cxcywh_norm`` takes (N, 2) sizes) and a per-frame size in the cache.
    """
    sizes = np.asarray(sizes)
    odd = np.flatnonzero((sizes != sizes[0]).any(axis=1))
    if len(odd):
        (w, h), (w0, h0) = sizes[odd[0]], sizes[0]
        more = f" (and {len(odd) - 1} more frames)" if len(odd) > 1 else ""
        raise DataError(f"{seq.name}: {seq.frames[odd[0]]} is {w}x{h} but the sequence's first frame is "
                        f"{w0}x{h0}{more}; OTB frames of a sequence share one size, by which the boxes are "
                        f"normalised")
    return int(sizes[0][0]), int(sizes[0][1])


def run(cfg, detect=None) -> dict:
    """Fill ``cfg.OUT_DIR``; returns counts of videos written (by this rank) and skipped.

    ``detect(extractor, seq) -> (Detections, reused)``, when given, supplies a video's detector pass
    (reproduce.py passes a store shared by the experiments, so a video is run once; ``reused``: no
    YOLO pass was needed)."""
    with distributed.quiet_unless_main():
        sources = load_sources(cfg)
        names, sequences = load_sequences(cfg, sources)
    if cfg.get("CHECK"):
        return {"written": 0, "skipped": 0, "checked": len(sequences)}
    plan = split_plan(cfg, names, sources)
    plans = _plan(cfg, plan, sequences)
    problems = replan_problems(cfg, plan) + length_problems(cfg, plans)
    if problems and not cfg.OVERWRITE:
        raise DataError(f"{cfg.OUT_DIR} holds a cache planned otherwise than this run:\n  " + "\n  ".join(problems)
                        + "\nuse another --out_dir, or --overwrite true to rebuild it (videos this plan does not "
                          "list are removed)")
    # Fails in seconds here rather than after the first video's extraction.
    device = distributed.rank_device(cfg.DEVICE)
    with distributed.session(device) as world, distributed.quiet_unless_main():
        return _extract(cfg, names, sequences, plan, plans, device, world, sources, detect)


def _extract(cfg, names, sequences, plan, plans, device, world, sources, detect=None) -> dict:
    order = {n: i for s in sources for i, n in enumerate(s.names)}
    source = {n: s for s in sources for n in s.names}
    settings = {k: cfg.get(k, cache.SETTING_DEFAULTS.get(k)) for k in cache.EXTRACTION_KEYS}

    if world.is_main:  # another rank's temporary folder is its video in progress, not stale
        for split_dir in sorted({cache.video_dir(cfg.OUT_DIR, p.split, p.name).parent for p in plans}):
            cache.remove_stale_temporaries(split_dir)
    distributed.barrier()
    todo = []
    for p in plans:
        out = cache.video_dir(cfg.OUT_DIR, p.split, p.name)
        if cache.is_complete(out) and not cfg.OVERWRITE:
            # A complete video made with other settings, or of another dataset, must not be mixed in silently.
            cache.read_video(out, expect=dict(settings, dataset=source[p.name].meta()["dataset"]))
            continue
        todo.append(p)
    skipped = len(plans) - len(todo)
    # Every rank has listed the same folders before any rank writes into them.
    distributed.barrier()
    if not todo:
        if world.is_main and cache.read_plan(cfg.OUT_DIR) is None:  # a cache from before plan.json gets one
            cache.write_plan(cfg.OUT_DIR, plan)
        print(f"all {len(plans)} videos already cached in {cfg.OUT_DIR} (use --overwrite true to redo)")
        return {"written": 0, "skipped": skipped}
    if skipped:
        print(f"{skipped} videos already cached, {len(todo)} to extract")

    from .extractor import build_extractor

    cache.ensure_writable(cfg.OUT_DIR, "--out_dir")
    extractor = build_extractor(dict(cfg, DEVICE=device))
    if world.is_main:
        for path in cache.unplanned(cfg.OUT_DIR, plan):  # only with --overwrite: refused above otherwise
            shutil.rmtree(path)
        # Before any video is written: a killed run leaves the plan its videos belong to.
        cache.write_plan(cfg.OUT_DIR, plan)
    distributed.barrier()
    by_video: dict[str, list] = {}
    for p in todo:
        by_video.setdefault(p.name, []).append(p)
    mine = distributed.my_share(list(by_video), [len(sequences[n]) for n in by_video], world)
    if world.distributed:
        print(f"{world.world_size} ranks share {len(by_video)} videos by frame count; rank 0 has {len(mine)}")
    written, t0, n_frames, n_reused = 0, time.perf_counter(), 0, 0
    try:
        for name in mine:
            seq = sequences[name]
            if detect:
                dets, reused = detect(extractor, seq)
            else:
                dets, reused = extractor.extract_paths(seq.frames, batch_size=cfg.BATCH_SIZE, desc=name,
                                                       progress=world.is_main), False
            src = source[name]
            varying = src.dataset.varying_sizes
            size = np.asarray(dets.sizes) if varying else sequence_size(seq, dets.sizes)
            n_frames += 0 if reused else len(seq)
            n_reused += len(seq) if reused else 0
            for p in by_video[name]:
                meta = {"name": name, "split": p.split, "experiment": cfg.EXPERIMENT, "order": order[name],
                        "image_size": [int(v) for v in (size[0] if varying else size)], "settings": dict(cfg),
                        "rank": world.rank, "world_size": world.world_size, **src.meta()}
                if varying and (size != size[0]).any():
                    meta["frame_sizes"] = size[p.keep].tolist()
                arrays = video_arrays(seq, p, dets, size, cfg.get("FEATURE_DTYPE", "float32"),
                                      src.dataset.score_hidden)
                cache.write_video(cache.video_dir(cfg.OUT_DIR, p.split, name), arrays, meta)
                written += 1
    finally:
        extractor.close()
    dt = time.perf_counter() - t0
    counts = distributed.all_gather_objects((written, n_frames, dt, n_reused))
    distributed.barrier()
    if world.is_main:
        verify(cfg, plans, settings)
    done = sum(c[0] for c in counts)
    frames = sum(c[1] for c in counts)
    reused = sum(c[3] for c in counts)
    rate = sum(c[1] / max(c[2], 1e-9) for c in counts)
    speed = (f", {rate:.1f} frames/s" + (f" summed over {world.world_size} ranks" if world.distributed else "")
             if frames else "")
    print(f"wrote {done} videos ({frames} frames through YOLO{speed}"
          + (f"; {reused} frames' detections reused from the shared store" if reused else "") + f") to {cfg.OUT_DIR}")
    return {"written": written, "skipped": skipped}


def verify(cfg, plans, settings) -> None:
    """Every planned video is complete in OUT_DIR, with this run's settings and its planned frames."""
    missing = []
    for p in plans:
        path = cache.video_dir(cfg.OUT_DIR, p.split, p.name)
        if not cache.is_complete(path):
            missing.append(f"{p.split}/{p.name}")
            continue
        n = cache.read_video(path, expect=settings).meta.get("n_frames")
        if n != len(p.keep):
            missing.append(f"{p.split}/{p.name} ({n} frames, planned {len(p.keep)})")
    if missing:
        raise DataError(f"{cfg.OUT_DIR}: after extraction {len(missing)} planned videos are missing or incomplete: "
                        f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}; run the dataloader again")
