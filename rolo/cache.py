"""The per-video feature cache: ``<DATA_DIR>/<split>/<Seq>/``.

Files (N frames, D feature channels, K cached detections):

================== ============ ==============================================
``features.npy``   (N, D) f32   pooled SPPF feature (the report's name)
``bbox_yolo.npy``  (N, 4) f32   most confident detection, ``cxcywh_norm``;
                                [0.5, 0.5, 0, 0] when nothing was detected
``gt.npy``         (N, 4) f32   ground truth, ``cxcywh_norm``; NaN on frames
                                whose label this split does not hold
``frames.npy``     (N,) i32     OTB image number of each row
``labelled.npy``   (N,) bool    ground truth given to this split
``used_in_training.npy`` (N,)   this frame's label trains the experiment
``detected.npy``   (N,) bool    the detector found something
``conf.npy``       (N,) f32     its confidence (0 when not detected)
``dets.npy``       (N, K, 6)    top-K detections [cx, cy, w, h, conf, cls],
                                padded with conf = -1
``meta.json``                   name, split, experiment, image size, feature
                                dimension and the settings that made it;
                                the dataset (``dataset``, ``dataset_split``,
                                ``dataset_root``; caches from before read as
                                OTB) and, where the frames' sizes vary,
                                ``frame_sizes`` (N rows of width, height)
================== ============ ==============================================

A split of the cache holds one dataset's videos; a run that expects another
dataset's is refused (:func:`read_split`'s ``dataset``).

A video folder is written under a temporary name and renamed into place, so
a crash never leaves a partial folder that passes as complete: a folder
without ``meta.json`` or under a temporary name is never read.

``<DATA_DIR>/plan.json`` is the dataloader's split plan (experiment,
N_TRAIN, N_TEST, LABEL_EVERY, the videos of each split, and the list file's
path and SHA-256). Training and evaluation read exactly the videos it lists
(:func:`read_planned_split`), so a cache re-planned into the same folder can
never put one video in both train and test.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError

ARRAYS = ("features", "bbox_yolo", "gt", "frames", "labelled", "used_in_training", "detected", "conf", "dets")
FORMAT_VERSION = 1
#: Settings that change what the extractor writes: a cache made with other values is refused.
EXTRACTION_KEYS = ("WEIGHTS", "IMG_SIZE", "CONF", "TOP_K", "DETECTOR")
#: The value of a setting for caches made before the setting existed.
SETTING_DEFAULTS = {"DETECTOR": "yolov8"}
_TMP_PREFIX = ".tmp-"
PLAN_FILE = "plan.json"


@dataclass
class VideoCache:
    """One cached video; arrays are memory-mapped (read-only) unless loaded."""
    path: Path
    meta: dict
    arrays: dict

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def image_size(self) -> tuple[int, int]:
        w, h = self.meta["image_size"]
        return int(w), int(h)

    @property
    def dataset(self) -> str:
        return self.meta.get("dataset", "otb")

    @property
    def frame_sizes(self) -> np.ndarray:
        """(N, 2) float64 (width, height) of each frame: what its ``cxcywh_norm`` boxes are relative to."""
        sizes = self.meta.get("frame_sizes")
        if sizes is not None:
            return np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
        return np.tile(np.asarray(self.image_size, dtype=np.float64), (len(self), 1))

    def __getattr__(self, key):
        arrays = self.__dict__.get("arrays", {})
        if key in arrays:
            return arrays[key]
        raise AttributeError(key)

    def __len__(self) -> int:
        return len(self.arrays["features"])


def name_problem(name: str) -> str:
    """Why ``name`` cannot be a video's folder directly under ``<DATA_DIR>/<split>`` ('' when it can).

    A video name joined to a folder must stay one folder name: an absolute name replaces the
    folder it is joined to (``<out>/train/<abs>`` is the dataset's own sequence folder), and
    ``..`` climbs out of it, so extraction would overwrite or delete what lies there. No
    dataset's video names hold a separator (LaSOT's ``airplane-1`` lives under ``airplane/``,
    but its name does not).
    """
    if name in ("", ".", ".."):
        return "is not a folder name"
    if "/" in name or "\\" in name:  # an absolute name starts with "/"
        return "is a path, not a single folder name"
    return ""


def video_dir(data_dir, split: str, name: str) -> Path:
    """``<data_dir>/<split>/<name>``; a name that would not be a direct child there (see
    :func:`name_problem`) raises :class:`DataError` before anything is written or deleted."""
    problem = name_problem(name)
    if problem:
        raise DataError(f"video name {name!r} {problem}; refusing to use it as a cache folder under "
                        f"{Path(data_dir) / split}")
    return Path(data_dir) / split / name


def is_complete(path) -> bool:
    return (Path(path) / "meta.json").is_file()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_video(path, arrays: dict, meta: dict) -> Path:
    """Write one video's arrays and ``meta.json`` atomically to ``path``.

    Everything goes to a sibling temporary folder first; ``meta.json`` is
    written last and the folder is renamed into place, replacing an older
    complete one only after the new one is whole; anything else already at ``path`` (a
    file, a folder without ``meta.json``) is refused, not replaced. On any error (disk full,
    permission) the temporary folder is removed and a :class:`DataError`
    names the path.
    """
    path = Path(path)
    missing = [k for k in ARRAYS if k not in arrays]
    if missing:
        raise ValueError(f"write_video: missing arrays {missing}")
    n = len(arrays["features"])
    for k in ARRAYS:
        if len(arrays[k]) != n:
            raise ValueError(f"write_video: {k} has {len(arrays[k])} rows, features has {n}")
    problem = nonfinite(arrays)
    if problem:  # e.g. a feature beyond float16's range (FEATURE_DTYPE float16, fp16 on CUDA)
        raise DataError(f"refusing to cache {path}: its {problem}")
    if path.exists() and not is_complete(path):  # only a cached video is ever replaced, never a user's folder
        raise DataError(f"refusing to replace {path}: it exists and is not a cached video (no meta.json); "
                        f"move it away or choose another output folder")
    tmp = path.parent / f"{_TMP_PREFIX}{path.name}-{uuid.uuid4().hex[:8]}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        for k in ARRAYS:
            with open(tmp / f"{k}.npy", "wb") as f:
                np.save(f, np.ascontiguousarray(arrays[k]))
                f.flush()
                os.fsync(f.fileno())
        meta = dict(meta, n_frames=n, format_version=FORMAT_VERSION,
                    feature_dim=int(np.asarray(arrays["features"]).shape[1]))
        with open(tmp / "meta.json", "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        old = path.parent / f"{_TMP_PREFIX}old-{path.name}-{uuid.uuid4().hex[:8]}"
        replace_dir(tmp, path, old)
        shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(path.parent)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        reason = e.strerror or f"{e} (is the disk full?)"  # numpy reports a short write without an errno
        raise DataError(f"cannot write cache {path}: {reason}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def replace_dir(new: Path, dest: Path, aside: Path) -> None:
    """Put the complete folder ``new`` in place of ``dest`` by renames alone (same filesystem).

    An existing ``dest`` is first renamed to ``aside`` (the caller deletes it afterwards), and
    renamed back if ``new`` then cannot take its place, so a failure leaves ``dest`` as it was.
    Raises the :class:`OSError` of the failed rename.
    """
    moved = dest.exists()
    if moved:
        os.replace(dest, aside)
    try:
        os.replace(new, dest)
    except OSError:
        if moved:
            os.replace(aside, dest)
        raise


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so a reader never sees
    half a file; a failure raises :class:`DataError` naming ``path``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise DataError(f"cannot write {path}: {e.strerror or e}") from None


def ensure_writable(folder, flag: str) -> Path:
    """Create ``folder`` and prove a file can be written there, before any long computation.

    Raises :class:`DataError` naming ``flag`` and the folder (a file in the way,
    a read-only mount, no permission, no space).
    """
    folder = Path(folder)
    # mkdir would say only "File exists" or "Not a directory": name the file in the way
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise DataError(f"{flag} {folder} is a file, not a folder; give a folder (new or existing)" if existing == folder
                        else f"{flag} {folder} cannot be made: {existing} is a file, not a folder")
    probe = folder / f"{_TMP_PREFIX}probe-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as f:
            f.write(b"\0")
        probe.unlink()
    except OSError as e:
        raise DataError(f"{flag} {folder} is not writable: {e.strerror or e}") from None
    return folder


def extraction_settings(video: VideoCache) -> dict:
    """The settings of :data:`EXTRACTION_KEYS` a cached video was made with."""
    settings = video.meta.get("settings", {})
    return {k: settings.get(k, SETTING_DEFAULTS.get(k)) for k in EXTRACTION_KEYS}


def remove_stale_temporaries(split_dir) -> None:
    """Delete temporary folders a killed run left in ``split_dir``."""
    split_dir = Path(split_dir)
    if split_dir.is_dir():
        for p in split_dir.iterdir():
            if p.name.startswith(_TMP_PREFIX) and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)


def read_meta(path) -> dict:
    """The ``meta.json`` of the cached video folder ``path``; :class:`DataError` when missing or corrupt."""
    meta_path = Path(path) / "meta.json"
    if not meta_path.is_file():
        raise DataError(f"no complete cache at {path} (meta.json missing): run the dataloader for this experiment")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{meta_path}: corrupt metadata ({e})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{meta_path}: corrupt metadata (not a JSON object)")
    return meta


def read_video(path, expect: dict | None = None, mmap: bool = True) -> VideoCache:
    """Open a complete cached video and validate it.

    ``expect`` maps setting names (see :data:`EXTRACTION_KEYS`), ``feature_dim`` or ``dataset``
    to the values this run needs; a mismatch raises :class:`DataError` naming
    the folder. Truncated ``.npy`` files and arrays of mismatched lengths are
    detected here, before any training or evaluation starts.
    """
    path = Path(path)
    meta = read_meta(path)
    arrays = {}
    for k in ARRAYS:
        f = path / f"{k}.npy"
        if not f.is_file():
            raise DataError(f"cache file missing: {f}")
        try:
            arrays[k] = np.load(f, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise DataError(f"cache file damaged (truncated or not a .npy): {f} ({e})") from None
    n = meta.get("n_frames")
    for k, a in arrays.items():
        if len(a) != n:
            raise DataError(f"cache {path}: {k}.npy has {len(a)} rows but meta.json says {n} frames")
    d = arrays["features"].shape[1] if arrays["features"].ndim == 2 else None
    if d != meta.get("feature_dim"):
        raise DataError(f"cache {path}: features.npy has dimension {d}, meta.json says {meta.get('feature_dim')}")
    check_finite(path, arrays)
    drop_mapped_pages(arrays)  # the check read every page; a cache larger than RAM must not stay resident
    if expect:
        settings = meta.get("settings", {})
        for key, want in expect.items():
            have = meta.get(key) if key == "feature_dim" else meta.get(key, "otb") if key == "dataset" \
                else settings.get(key, SETTING_DEFAULTS.get(key))
            if have != want:
                raise DataError(f"cache {path} was made with {key}={have!r}, this run needs {want!r}; "
                                f"re-extract with --overwrite true or point to another folder")
    return VideoCache(path=path, meta=meta, arrays=arrays)


#: Arrays that must hold numbers only; ``gt`` may also hold NaN, on the frames without a label.
FINITE_ARRAYS = ("features", "bbox_yolo", "conf", "dets")
#: Rows checked at a time, so that a memory-mapped cache is not read into memory whole.
_CHECK_ROWS = 1 << 15


def _bad_rows(a, allowed_nan=None) -> np.ndarray:
    """Indices of the rows of ``a`` holding inf, or NaN outside the rows ``allowed_nan`` marks."""
    bad = []
    for i in range(0, len(a), _CHECK_ROWS):
        chunk = np.asarray(a[i:i + _CHECK_ROWS])
        if not np.issubdtype(chunk.dtype, np.floating):
            break
        rows = chunk.reshape(len(chunk), -1)
        nan, inf = np.isnan(rows).any(1), np.isinf(rows).any(1)
        if allowed_nan is not None:
            nan &= ~np.asarray(allowed_nan[i:i + _CHECK_ROWS], bool)
        bad.append(np.flatnonzero(nan | inf) + i)
    return np.concatenate(bad) if bad else np.empty(0, np.int64)


def drop_mapped_pages(arrays: dict) -> None:
    """Drop the pages of the memory-mapped arrays in ``arrays`` from this process's resident set.

    Mapped file pages count in the resident set while mapped; the OS keeps them in its file
    cache, so a later read is still fast. Arrays that are not memory-mapped are left alone.
    """
    import mmap

    for a in arrays.values():
        mapping = getattr(a, "_mmap", None)  # numpy.memmap's mmap.mmap
        if mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
            mapping.madvise(mmap.MADV_DONTNEED)


def nonfinite(arrays: dict) -> str | None:
    """Where a video's arrays hold NaN or inf, as ``"features.npy holds NaN or inf (images 4, 9)"``, or None.

    ``gt`` holds NaN on purpose on the frames this split has no label for (``labelled`` False);
    anywhere else a non-finite number trains to NaN weights and scores 0, silently.
    """
    unlabelled = ~np.asarray(arrays["labelled"], bool).reshape(len(arrays["labelled"]), -1).any(1)
    for k in (*FINITE_ARRAYS, "gt"):
        rows = _bad_rows(arrays[k], unlabelled if k == "gt" else None)
        if len(rows):
            images = np.asarray(arrays["frames"])[rows[:5]]
            where = ", ".join(str(int(i)) for i in images) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")
            return f"{k}.npy holds {'NaN or inf on labelled frames' if k == 'gt' else 'NaN or inf'} (images {where})"
    return None


def check_finite(path, arrays: dict) -> None:
    """:func:`nonfinite` as a :class:`DataError` naming the cached file."""
    problem = nonfinite(arrays)
    if problem:
        raise DataError(f"cache file {Path(path) / problem}; re-extract the video with --overwrite true")


def read_split(data_dir, split: str, names: list[str] | None = None, expect: dict | None = None,
               mmap: bool = True, dataset: str | None = None) -> list[VideoCache]:
    """All cached videos of ``split`` (in ``names`` order when given), validated.

    Every video is opened (and so checked) before the first is used; all
    videos must share one feature dimension and one set of extraction settings,
    and, when ``dataset`` is given, come from that dataset.
    """
    split_dir = Path(data_dir) / split
    if names is None:
        if not split_dir.is_dir():
            raise DataError(f"no cached split at {split_dir}: run the dataloader first (DATA_DIR / --data_dir)")
        names = [p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(_TMP_PREFIX)]
    if not names:
        raise DataError(f"{split_dir} holds no cached videos")
    # video_dir: a hand-edited plan.json naming '../x' cannot have a video read from outside the split
    videos = [read_video(video_dir(data_dir, split, n), expect=expect, mmap=mmap) for n in names]
    # The list file's order, so tables read like the report's.
    videos.sort(key=lambda v: v.meta.get("order", 0))
    if dataset is not None:
        other = [v for v in videos if v.dataset != dataset]
        if other:
            raise DataError(f"{split_dir} holds videos of dataset {other[0].dataset!r} ({other[0].path.name}), "
                            f"but this run expects {dataset!r}; point --data_dir at that dataset's cache or set "
                            f"--dataset {other[0].dataset}")
    dims = {v.meta["feature_dim"] for v in videos}
    if len(dims) > 1:
        raise DataError(f"{split_dir}: videos have different feature dimensions {sorted(dims)}; "
                        f"they were extracted with different weights")
    first = extraction_settings(videos[0])
    for v in videos[1:]:
        other = extraction_settings(v)
        if other != first:
            key = next(k for k in EXTRACTION_KEYS if other[k] != first[k])
            raise DataError(f"{split_dir}: {v.path.name} was extracted with {key}={other[key]!r} but "
                            f"{videos[0].path.name} with {first[key]!r}; re-extract with one setting "
                            f"(--overwrite true)")
    return videos


def write_plan(data_dir, plan: dict) -> Path:
    """Save the split plan (:func:`rolo.splits.make_plan`, with provenance) as ``<data_dir>/plan.json``."""
    path = Path(data_dir) / PLAN_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create {path.parent}: {e.strerror or e}") from None
    write_text_atomic(path, json.dumps(dict(plan, format_version=FORMAT_VERSION), indent=1, sort_keys=True))
    return path


def read_plan(data_dir) -> dict | None:
    """The split plan saved by :func:`write_plan`, or None when ``data_dir`` has none."""
    path = Path(data_dir) / PLAN_FILE
    if not path.is_file():
        return None
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: corrupt split plan ({e})") from None
    if not isinstance(plan, dict) or not isinstance(plan.get("splits"), dict):
        raise DataError(f"{path}: corrupt split plan (no 'splits' table)")
    return plan


def cached_names(data_dir, split: str) -> list[str]:
    """Names of the complete videos in ``<data_dir>/<split>`` (temporary folders excluded)."""
    split_dir = Path(data_dir) / split
    if not split_dir.is_dir():
        return []
    return sorted(p.name for p in split_dir.iterdir() if not p.name.startswith(_TMP_PREFIX) and is_complete(p))


def unplanned(data_dir, plan: dict) -> list[Path]:
    """Complete video folders under ``data_dir`` that ``plan`` does not list in their split."""
    return [video_dir(data_dir, split, name) for split in plan["splits"] for name in cached_names(data_dir, split)
            if name not in plan["splits"][split]]


def require_experiment(videos: list[VideoCache], experiment: int, where) -> None:
    """Refuse ``videos`` (read from the folder ``where``) unless all were extracted for ``experiment``:
    another experiment's cache labels other frames. The message names the experiments found as numbers."""
    found = {v.meta.get("experiment") for v in videos}
    if found != {experiment}:
        # str keys: a cache from before the experiment was recorded gives None, which does not sort among ints
        names = ", ".join(str(e) for e in sorted(found, key=str))
        raise DataError(f"{where} was extracted for experiment{'s' if len(found) > 1 else ''} {names}, but "
                        f"--experiment is {experiment}; point --data_dir at that experiment's folder")


def read_planned_split(data_dir, split: str, expect: dict | None = None, mmap: bool = True,
                       dataset: str | None = None) -> list[VideoCache]:
    """:func:`read_split` of exactly the videos ``<data_dir>/plan.json`` lists for ``split``.

    Training and evaluation read caches through this: a folder without the
    dataloader's plan, or holding videos of another plan (a video in train and
    test after a re-plan), is refused rather than read as found.
    """
    data_dir = Path(data_dir)
    plan = read_plan(data_dir)
    if plan is None:
        if not (data_dir / split).is_dir():
            raise DataError(f"no cached split at {data_dir / split}: run the dataloader first (DATA_DIR / --data_dir)")
        raise DataError(f"{data_dir} has no {PLAN_FILE}, the dataloader's record of which video is in which split; "
                        f"rerun the dataloader that made it with the same settings (it writes the plan without "
                        f"extracting again)")
    if split not in plan["splits"]:
        raise DataError(f"{data_dir / PLAN_FILE} has no {split!r} split")
    extra = [p for p in unplanned(data_dir, plan) if p.parent.name == split]
    if extra:
        raise DataError(f"{data_dir / split} holds {', '.join(p.name for p in extra)}, which {data_dir / PLAN_FILE} "
                        f"does not list for {split}: left by another plan; rerun the dataloader with "
                        f"--overwrite true, or use another folder")
    return read_split(data_dir, split, names=list(plan["splits"][split]), expect=expect, mmap=mmap, dataset=dataset)
