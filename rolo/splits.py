"""The report's three experiments (section III) as data: which videos, frames
and labels each split holds.

With the 33 names of ``otb30_list.txt`` (``n_train=22, n_test=8``):

1. train on list entries 1-22, test on 23-30, eval on 31-33; all frames, all labels.
2. train on every third frame (frames 1, 4, 7, ...) of the first 30 videos;
   test on those 30 full videos; eval on the last 3.
3. train on all frames of the 30, ground truth kept on every third frame only
   (the loss is masked elsewhere); test and eval as in 2.

In experiments 2 and 3 the test frames include the training frames; each
planned video therefore records ``used_in_training``, the frames whose ground
truth the experiment trains on, so that evaluation can also report the
held-out score over the other frames.

:func:`make_plan` records the whole split plan as data; the dataloader saves
it beside the cache (``plan.json``, see :mod:`rolo.cache`) and every later
stage reads exactly the videos it lists.

Beyond the report, the same experiments run on any registered dataset
(:mod:`rolo.datasets`): :func:`dataset_sides` reads the dataloader's
DATASET / TRAIN_SPLIT / TEST_DATASET / TEST_SPLIT constants, and a dataset's
whole split becomes the cache's ``train`` or ``test`` split
(:func:`make_dataset_plan`), every video planned by :func:`plan_video`
(experiments 2 and 3 thin the training frames or labels as above).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import config
from .errors import ConfigError

SPLITS = ("train", "test", "eval")
#: The report's three experiments; every script's EXPERIMENT constant is checked against them here.
EXPERIMENTS = (1, 2, 3)
check_experiment = config.choices(*EXPERIMENTS)
#: TRAIN_SPLIT of a dataset with one split (UAV123, NfS, OTB-100).
ALL = "all"


@dataclass(frozen=True)
class VideoPlan:
    """One video of one split. Arrays index the sequence's frames (0-based)."""
    name: str
    split: str
    keep: np.ndarray               # (M,) indices of the frames this split holds
    labelled: np.ndarray           # (M,) bool: ground truth given to this split
    used_in_training: np.ndarray   # (M,) bool: this frame's ground truth trains the model


def training_label_frames(n_frames: int, experiment: int, label_every: int) -> np.ndarray:
    """(n_frames,) bool: frames whose ground truth trains experiment 2 or 3 (1, 4, 7, ...)."""
    mask = np.zeros(n_frames, dtype=bool)
    if experiment in (2, 3):
        mask[::label_every] = True
    elif experiment == 1:
        mask[:] = True
    return mask


def video_names(experiment: int, names: list[str], n_train: int, n_test: int) -> dict[str, list[str]]:
    """Video names per split. ``names`` is the list file's order."""
    check_experiment("--experiment", experiment)
    main = n_train + n_test
    if len(names) < main:
        raise ConfigError(f"the list has {len(names)} names but N_TRAIN + N_TEST = {main}")
    if experiment == 1:
        return {"train": names[:n_train], "test": names[n_train:main], "eval": names[main:]}
    return {"train": names[:main], "test": names[:main], "eval": names[main:]}


def plan_video(experiment: int, split: str, name: str, n_frames: int, label_every: int = 3) -> VideoPlan:
    """Frames and labels of video ``name`` (``n_frames`` long) in ``split``."""
    all_idx = np.arange(n_frames)
    trained = training_label_frames(n_frames, experiment, label_every)
    if split == "train":
        if experiment == 2:
            keep = all_idx[::label_every]
            return VideoPlan(name, split, keep, np.ones(len(keep), bool), np.ones(len(keep), bool))
        labelled = trained if experiment == 3 else np.ones(n_frames, bool)
        return VideoPlan(name, split, all_idx, labelled.copy(), labelled.copy())
    if split == "test":
        used = trained if experiment in (2, 3) else np.zeros(n_frames, bool)
        return VideoPlan(name, split, all_idx, np.ones(n_frames, bool), used)
    if split == "eval":
        return VideoPlan(name, split, all_idx, np.ones(n_frames, bool), np.zeros(n_frames, bool))
    raise ConfigError(f"split {split!r} is not one of {', '.join(SPLITS)}")


#: What decides which video holds which frames and labels: two caches planned with different values differ.
PLAN_KEYS = ("experiment", "n_train", "n_test", "label_every", "sides", "splits")


def make_plan(experiment: int, names: list[str], n_train: int, n_test: int, label_every: int) -> dict:
    """The split plan of a cache as JSON-ready data: the keys of :data:`PLAN_KEYS`.

    ``label_every`` is None for experiment 1, where every frame is labelled and it changes nothing.
    """
    return {"experiment": experiment, "n_train": n_train, "n_test": n_test,
            "label_every": label_every if experiment in (2, 3) else None,
            "sides": None, "splits": video_names(experiment, list(names), n_train, n_test)}


@dataclass(frozen=True)
class Side:
    """One dataset split that fills one split of the cache (``cache_split``)."""
    cache_split: str
    dataset: str
    root: str
    split: str | None


def dataset_sides(cfg) -> list[Side] | None:
    """The cache splits a dataloader run fills from whole dataset splits, or None for the report's
    OTB list plan (DATASET "otb", no TRAIN_SPLIT, no TEST_DATASET: experiments 1-3 over LIST_FILE).

    TRAIN_SPLIT of DATASET (under DATASET_ROOT, default OTB_ROOT) becomes ``train`` (``"all"``: a
    dataset's only split, UAV123's or NfS's); TEST_SPLIT of TEST_DATASET (under TEST_ROOT, default
    OTB_ROOT) becomes ``test``. For OTB a split is a list file.
    """
    dataset, train_split = cfg.get("DATASET", "otb"), cfg.get("TRAIN_SPLIT", "")
    test_dataset = cfg.get("TEST_DATASET", "")
    if dataset == "otb" and not train_split and not test_dataset:
        return None
    sides = []
    if train_split:
        split = None if train_split == ALL else train_split
        sides.append(Side("train", dataset, cfg.get("DATASET_ROOT") or cfg.OTB_ROOT, split))
    if test_dataset:
        sides.append(Side("test", test_dataset, cfg.get("TEST_ROOT") or cfg.OTB_ROOT, cfg.get("TEST_SPLIT") or None))
    if not sides:
        raise ConfigError(f"--dataset {dataset}: give --train_split (the split that trains) and/or --test_dataset "
                          f"(the benchmark to test on); only OTB has the report's list plan")
    return sides


def make_dataset_plan(experiment: int, sides: list[Side], names: dict, label_every: int) -> dict:
    """:func:`make_plan`'s record for a run over whole dataset splits: ``names`` maps each side's
    cache split to its sequence names; N_TRAIN and N_TEST do not apply."""
    return {"experiment": experiment, "n_train": None, "n_test": None,
            "label_every": label_every if experiment in (2, 3) else None,
            "sides": [{"cache_split": s.cache_split, "dataset": s.dataset, "split": s.split} for s in sides],
            "splits": {split: list(names.get(split, [])) for split in SPLITS}}


def plan_differences(old: dict, new: dict) -> list[str]:
    """How plan ``new`` differs from ``old`` (both from :func:`make_plan`), one line per difference."""
    out = [f"{key.upper()}={old.get(key)!r} there, {new[key]!r} in this run"
           for key in PLAN_KEYS if key != "splits" and old.get(key) != new[key]]
    for split in SPLITS:
        have, want = list((old.get("splits") or {}).get(split, [])), list(new["splits"][split])
        if have != want:
            out.append(f"{split} split: {', '.join(have) or 'no videos'} there, {', '.join(want) or 'no videos'} "
                       f"in this run")
    return out
