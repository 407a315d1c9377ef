"""Validate a dataset copy (OTB against a sequence list, or any registered dataset's split,
see :mod:`rolo.datasets`) before hours of GPU time are spent.

:func:`open_sequences` opens every listed sequence and collects every problem
at once instead of stopping at the first; the dataloaders use it before any
model loads, and ``check_otb.py`` (or a dataloader's ``--check true``) runs it
with ``decode=True`` to read every image as well.

*Problems* make a run fail, or make it silently wrong:

* a name listed twice (in experiment 1 a video could land in train and test);
* a missing folder, image or ground-truth file; a ground-truth line that is
  not four finite numbers (every bad line is named); a line count that
  disagrees with the OTB-100 frame table or with the images (see :mod:`rolo.otb`);
* an empty image file; with ``decode``, an image that does not decode, a JPEG
  cut short, or a frame whose size differs from the sequence's first frame
  (boxes are normalised by the first frame's size).

*Warnings* are legal data the pipeline handles in a documented way:

* a ground-truth box with zero or negative width or height (OTB's way of
  marking an absent target): the frame is neither trained on nor scored
  (:mod:`rolo.metrics`, :func:`rolo.extraction.video_arrays`);
* a ground-truth box entirely outside the frame;
* videos of an official split that are not under the root (LaSOT and UAV123
  are often downloaded in part);
* frames where the target is not visible (absent, fully occluded, out of
  view, no box): never trained on, scored as the benchmark's protocol says.

``check_dataset.py`` runs it for any dataset; ``check_otb.py`` is its OTB face.
"""
from __future__ import annotations

import os
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import config
from .errors import DataError, DataErrors
from .datasets import Sequence, get_dataset
from .otb import load_image, read_list

#: Frames named per message before "and N more".
SHOW = 5


@dataclass
class Report:
    """What :func:`open_sequences` found. ``sequences`` holds those that opened (name -> Sequence)."""
    root: Path
    names: list
    sequences: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    decoded: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def frames(self) -> int:
        return sum(len(s) for s in self.sequences.values())

    def summary(self) -> str:
        what = "decoded" if self.decoded else "found"
        return (f"{len(self.names)} sequences listed, {len(self.sequences)} opened, {self.frames} frames {what}; "
                f"{len(self.problems)} problem(s), {len(self.warnings)} warning(s)")


def _some(labels) -> str:
    labels = [str(x) for x in labels]
    more = f" and {len(labels) - SHOW} more" if len(labels) > SHOW else ""
    return ", ".join(labels[:SHOW]) + more


def duplicate_problems(names) -> list[str]:
    """A name listed more than once."""
    return [f"{n!r} is listed {c} times" for n, c in Counter(names).items() if c > 1]


def empty_image_problems(seq: Sequence) -> list[str]:
    """Zero-byte or unreadable frames (a broken link): a stat per frame, no decoding."""
    out = []
    for p in seq.frames:
        try:
            size = p.stat().st_size
        except OSError as e:
            out.append(f"{seq.name}: cannot read image {p}: {e.strerror or e}")
            continue
        if size == 0:
            out.append(f"{seq.name}: image is empty (0 bytes): {p}")
    return out


def groundtruth_warnings(seq: Sequence, size) -> list[str]:
    """Boxes with no area, and boxes entirely outside a ``size`` = (W, H) frame (``xywh`` pixels)."""
    x, y, w, h = seq.gt.T
    out = []
    with np.errstate(invalid="ignore"):
        empty = np.isfinite(seq.gt).all(1) & ~((w > 0) & (h > 0))
    if empty.any():
        out.append(f"{seq.name}: {int(empty.sum())} ground-truth box(es) with zero or negative width or height "
                   f"(images {_some(seq.frame_numbers[empty])}) in {seq.gt_path}; those frames are not trained "
                   f"on and not scored")
    if size is not None:
        width, height = size
        with np.errstate(invalid="ignore"):
            outside = ~empty & ((x >= width) | (y >= height) | (x + w <= 0) | (y + h <= 0))
        if outside.any():
            out.append(f"{seq.name}: {int(outside.sum())} ground-truth box(es) entirely outside the "
                       f"{width}x{height} frame (images {_some(seq.frame_numbers[outside])}) in {seq.gt_path}")
    return out


def decode_problems(seq: Sequence, size, pool: ThreadPoolExecutor, bar=None) -> list[str]:
    """``size`` None: frames may differ in size (GOT-10k; boxes are normalised per frame)."""
    """Decode every frame (in ``pool``): undecodable or truncated images, and sizes unlike ``size`` = (W, H)."""

    def one(path):
        try:
            h, w = load_image(path).shape[:2]
        except DataError as e:
            return f"{seq.name}: {e}"
        finally:
            if bar is not None:
                bar.update()
        if size is not None and (w, h) != tuple(size):
            return (f"{seq.name}: {path} is {w}x{h} but the sequence's first frame is {size[0]}x{size[1]} "
                    f"(boxes are normalised by the first frame's size)")
        return None

    return [m for m in pool.map(one, seq.frames) if m]


def open_sequences(otb, names, decode: bool = False, progress: bool = True) -> Report:
    """Open every sequence of ``names`` under ``otb`` (an :class:`~rolo.otb.OTB` or any
    :class:`~rolo.datasets.base.Dataset`); collect every problem and warning at once.

    Without ``decode`` only each sequence's first frame is read (for its
    size); with it every frame is decoded, in threads.
    """
    names = list(names)
    report = Report(root=otb.root, names=names, decoded=decode)
    report.problems += duplicate_problems(names)
    if not otb.root.is_dir():
        title = getattr(otb, "title", "OTB")
        hint = getattr(otb, "root_hint", "set OTB_ROOT / --otb_root")
        report.problems.append(f"{title} root folder not found: {otb.root} ({hint})")
        return report
    sizes = {}
    for name in tqdm(list(dict.fromkeys(names)), desc="opening sequences", unit="seq", disable=not progress,
                     leave=False):
        try:
            seq = otb[name]
        except DataErrors as e:
            report.problems += e.messages
            continue
        except DataError as e:
            report.problems.append(str(e))
            continue
        report.sequences[name] = seq
        empty = empty_image_problems(seq)
        report.problems += empty
        sizes[name] = None
        if not empty:
            try:
                sizes[name] = seq.image_size()
            except DataError as e:
                report.problems.append(f"{name}: {e}")
        report.warnings += groundtruth_warnings(seq, sizes[name])
    hidden = {n: int((~s.visible).sum()) for n, s in report.sequences.items() if not s.visible.all()}
    if hidden and getattr(otb, "name", "otb") != "otb":
        report.warnings.append(f"{sum(hidden.values())} frame(s) of {len(hidden)} sequence(s) with the target not "
                               f"visible (absent, occluded, out of view or no box): not trained on")
    varying = getattr(otb, "varying_sizes", False)
    if decode:
        todo = [s for s in report.sequences.values() if sizes[s.name] is not None]
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1), thread_name_prefix="rolo-check") as pool, \
                tqdm(total=sum(len(s) for s in todo), desc="decoding frames", unit="frame",
                     disable=not progress, leave=False) as bar:
            for seq in todo:
                report.problems += decode_problems(seq, None if varying else sizes[seq.name], pool, bar)
    return report


def check_otb(root, list_file, strict: bool = True, decode: bool = False, progress: bool = True) -> Report:
    """:func:`open_sequences` for the names in ``list_file`` under ``root``."""
    return open_sequences(get_dataset("otb", root, list_file, strict=strict), read_list(list_file), decode=decode,
                          progress=progress)


def check_dataset(dataset: str, root, split=None, decode: bool = False, progress: bool = True,
                  **options) -> Report:
    """:func:`open_sequences` for every sequence of a registered dataset's split; a split's official
    videos that are absent are a warning (datasets downloaded in part)."""
    ds = get_dataset(dataset, root, split, **options)
    try:
        names = ds.names()
    except DataError as e:
        return Report(root=ds.root, names=[], problems=[str(e)], decoded=decode)
    report = open_sequences(ds, names, decode=decode, progress=progress)
    missing = ds.missing() if hasattr(ds, "missing") else []
    if missing:
        report.warnings.append(f"{len(missing)} of the {len(missing) + len(names)} videos of {ds.title}'s "
                               f"{split or 'sequence'} list are not under {ds.root} (e.g. {missing[0]})")
    return report


def print_report(report: Report, file=None) -> None:
    file = file or sys.stdout
    for p in report.problems:
        print(f"PROBLEM  {p}", file=file)
    for w in report.warnings:
        print(f"warning  {w}", file=file)
    print(report.summary(), file=file)


def problems_error(report: Report, what: str) -> DataError:
    """One :class:`DataError` listing every problem of ``report``; ``what`` names the inputs."""
    return DataError(f"{len(report.problems)} problem(s) with {what}:\n  " + "\n  ".join(report.problems))


def dataset_main(script_globals, argv=None) -> Report:
    """``check_dataset.py``: every problem of one dataset split at once."""
    from .datasets import DATASETS

    cfg = config.from_script(script_globals, argv, checks={"DATASET": config.choices(*DATASETS)})
    cfg.show("check settings")
    options = {"strict": cfg.STRICT_FRAMES} if cfg.DATASET == "otb" else {}
    report = check_dataset(cfg.DATASET, cfg.ROOT, cfg.SPLIT or None, decode=cfg.DECODE, **options)
    print_report(report)
    what = f"--dataset {cfg.DATASET} --root {cfg.ROOT}" + (f" --split {cfg.SPLIT}" if cfg.SPLIT else "")
    if not report.ok:
        raise DataError(f"{len(report.problems)} problem(s) with {what}, listed above")
    print(f"OK: {what} is ready for the dataloaders"
          + ("" if cfg.DECODE else " (images not decoded; --decode true reads every frame)"))
    return report


def main(script_globals, argv=None) -> Report:
    cfg = config.from_script(script_globals, argv)
    cfg.show("check settings")
    report = check_otb(cfg.OTB_ROOT, cfg.LIST_FILE, strict=cfg.STRICT_FRAMES, decode=cfg.DECODE)
    print_report(report)
    if not report.ok:
        raise DataError(f"{len(report.problems)} problem(s) with OTB_ROOT={cfg.OTB_ROOT} and "
                        f"LIST_FILE={cfg.LIST_FILE}, listed above")
    print(f"OK: {cfg.OTB_ROOT} is ready for the dataloaders"
          + ("" if cfg.DECODE else " (images not decoded; --decode true reads every frame)"))
    return report

