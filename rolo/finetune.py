"""Fine-tune YOLOv8 on one experiment's training data, so that the detector sees the target.

The report blames its weakest sequences on an off-the-shelf detector that
misses the target for many frames; the original ROLO fine-tuned its YOLO. This
stage turns an experiment's training split into a one-class YOLO dataset
(class 0, :data:`CLASS_NAME`) and trains it with Ultralytics' own trainer.

Which frames: exactly the ground truth that the experiment's LSTM trains on,
from :mod:`rolo.splits` (the plan the dataloaders use): experiment 1, every
frame of the N_TRAIN training videos; experiments 2 and 3, frames 1,
1+LABEL_EVERY, ... of the first N_TRAIN+N_TEST videos. A frame without a
training label is left out rather than shown as background, which would teach
the detector that the target is absent. No test-only frame and no eval video
is ever written.

Images are stretched to IMG_SIZE x IMG_SIZE exactly as the extractor shows
frames to the network (:func:`rolo.extractor.preprocess_bgr`, the report's
resize without keeping the aspect ratio). Ultralytics' trainer letterboxes,
keeping the aspect ratio; a detector trained on letterboxed frames and run on
stretched ones returns boxes of the wrong shape (on 4:3 frames, about 11% too
wide and 15% too short). Normalised labels are the same in both.

Dataset layout under ``<WORK_DIR>/dataset``::

    images/train/<Seq>/<frame>.jpg    the frame stretched to IMG_SIZE x IMG_SIZE (JPEG quality 95)
    labels/train/<Seq>/<frame>.txt    "0 cx cy w h", the GT as cxcywh_norm (rolo.boxes), clipped to the frame
    images/val/..., labels/val/...    every VAL_EVERY-th training image, as symlinks (copies where links
                                      fail): Ultralytics needs a val set; training data only, it
                                      measures fit, not generalisation
    data.yaml                         the Ultralytics data file
    manifest.json                     a digest of the settings, the source frames and every label line

A rerun whose digest matches reuses the folder as it is; anything else
rebuilds it (atomically: a temporary folder renamed into place). The trained
weights are copied to ``<WORK_DIR>/<base>_target_exp<E>_<EPOCHS>ep_<IMG_SIZE>.pt``
with a ``.json`` sidecar; a rerun with the same settings and dataset reuses
them (OVERWRITE retrains). Pass that file to a dataloader as ``--weights``.

Offline: Ultralytics is asked for no plots, its analytics and hub checks are
off (``YOLO_OFFLINE=1`` unless set), and two of its checks that download are
bypassed while the trainer runs: the Arial font lookup (only local fonts are
used; nothing is drawn with plots off) and, on CUDA with AMP on, the AMP
self-test, which downloads a model (AMP stays on; ``--amp false`` turns it
off). The base weights themselves are the one download: ``yolov8s.pt`` is
fetched when missing and the network allows it, else :class:`WeightsError`
says how to get it.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import config, splits
from .boxes import xywh_to_xyxy, xyxy_to_cxcywh_norm
from .errors import ConfigError, DataError
from .datasets import DATASETS
from .extraction import load_sequences, load_sources

#: The single class of the fine-tuned detector.
CLASS_NAME = "target"
#: Bumped whenever the dataset layout changes, so an old folder is rebuilt.
DATASET_VERSION = 1
DATASET_DIR = "dataset"
MANIFEST = "manifest.json"
JPEG_QUALITY = 95

CHECKS = {
    "EXPERIMENT": splits.check_experiment,
    "EPOCHS": config.at_least(1),
    "IMG_SIZE": config.at_least(32),
    "BATCH_SIZE": config.at_least(1),
    "WORKERS": config.at_least(0),
    "N_TRAIN": config.at_least(1),
    "N_TEST": config.at_least(0),
    "LABEL_EVERY": config.at_least(1),
    "VAL_EVERY": config.at_least(1),
    "WARMUP_EPOCHS": config.at_least(0),
    "CACHE": config.choices("", "ram", "disk"),
    "DATASET": config.choices(*DATASETS),
}


def offline_environment() -> None:
    """Keep Ultralytics' analytics and hub checks off unless the user chose otherwise.

    Must run before the first ``import ultralytics``: it reads the variable then.
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")


def main(script_globals, argv=None):
    offline_environment()
    cfg = config.from_script(script_globals, argv, checks=CHECKS)
    cfg.show("fine-tuning settings")
    return run(cfg)


# ---------------------------------------------------------------- dataset

def label_boxes_cxcywh_norm(gt_xywh: np.ndarray, size) -> tuple[np.ndarray, np.ndarray]:
    """YOLO label boxes of (N, 4) ``xywh`` ground truth in a frame of ``size`` = (W, H), or (N, 2) per frame.

    Returns (N, 4) ``cxcywh_norm`` boxes clipped to the frame (Ultralytics drops
    an image whose label leaves [0, 1]) and (N,) bool: True where something of
    the box is left inside the frame.
    """
    wh = np.asarray(size, dtype=np.float64)
    xyxy = np.clip(xywh_to_xyxy(gt_xywh), 0.0, np.concatenate([wh, wh], axis=-1))
    boxes = xyxy_to_cxcywh_norm(xyxy, size)
    return boxes, (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


def training_frames(experiment: int, names: list[str], n_frames: dict, n_train: int, n_test: int,
                    label_every: int) -> dict[str, np.ndarray]:
    """0-based indices of the frames whose ground truth trains ``experiment``, per training video.

    ``names``: the list file's order; ``n_frames``: name -> frame count. The
    same plan as the dataloaders (:func:`rolo.splits.plan_video`), so the
    detector learns from exactly the labels the LSTM learns from.
    """
    by_split = splits.video_names(experiment, names, n_train, n_test)
    out = {}
    for name in by_split["train"]:
        plan = splits.plan_video(experiment, "train", name, n_frames[name], label_every)
        out[name] = plan.keep[plan.labelled]
    return out


@dataclass
class Item:
    """One image of the YOLO dataset: where it comes from and its label line."""
    split: str      # "train" or "val"
    video: str
    source: Path    # the OTB frame (absolute)
    label: str      # "0 cx cy w h"

    @property
    def image_rel(self) -> str:
        return f"images/{self.split}/{self.video}/{self.source.stem}.jpg"

    @property
    def label_rel(self) -> str:
        return f"labels/{self.split}/{self.video}/{self.source.stem}.txt"


def dataset_items(cfg) -> tuple[list[Item], dict]:
    """The dataset's images and labels for ``cfg`` (OTB_ROOT, LIST_FILE, EXPERIMENT, N_TRAIN,
    N_TEST, LABEL_EVERY, STRICT_FRAMES, VAL_EVERY; or DATASET, DATASET_ROOT and TRAIN_SPLIT: a
    dataset's whole split, see :mod:`rolo.datasets`), and per-video counts. Frames whose target
    is not visible are never labels."""
    sources = load_sources(cfg)
    names, sequences = load_sequences(cfg, sources)
    if sources[0].side is None:
        frames = training_frames(cfg.EXPERIMENT, names, {n: len(s) for n, s in sequences.items()},
                                 cfg.N_TRAIN, cfg.N_TEST, cfg.LABEL_EVERY)
    else:
        frames = {n: splits.plan_video(cfg.EXPERIMENT, "train", n, len(sequences[n]), cfg.LABEL_EVERY).keep
                  for s in sources if s.side.cache_split == "train" for n in s.names}
    varying = {n: s.dataset.varying_sizes for s in sources for n in s.names}
    train, counts = [], {}
    for name, idx in frames.items():
        seq = sequences[name]
        idx = idx[seq.visible[idx]]
        size = seq.frame_sizes()[idx] if varying[name] else seq.image_size()
        boxes, inside = label_boxes_cxcywh_norm(seq.gt[idx], size)
        kept = idx[inside]
        counts[name] = {"frames": len(seq), "labelled": len(idx), "images": len(kept)}
        train += [Item("train", name, Path(seq.frames[i]).resolve(), "0 " + " ".join(f"{v:.6f}" for v in b))
                  for i, b in zip(kept, boxes[inside])]
    if not train:
        raise DataError(f"experiment {cfg.EXPERIMENT} has no labelled training frame in {cfg.LIST_FILE} "
                        f"(N_TRAIN={cfg.N_TRAIN}, N_TEST={cfg.N_TEST})")
    val = [Item("val", it.video, it.source, it.label) for it in train[::cfg.VAL_EVERY]]
    return train + val, counts


def _digest(items: list[Item], settings: dict) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for it in items:
        h.update(f"{it.image_rel}\t{it.source}\t{it.label}\n".encode())
    return h.hexdigest()


def _link_or_copy(source: Path, dest: Path, state: dict) -> None:
    """Relative symlink ``dest`` -> ``source``; after the first failure (no permission on Windows,
    a filesystem without links) copy this and every later file instead."""
    if not state.get("copy"):
        try:
            os.symlink(os.path.relpath(source, dest.parent), dest)
            return
        except OSError:
            state["copy"] = True
    shutil.copyfile(source, dest)


def write_stretched(source: Path, dest: Path, imgsz: int) -> None:
    """``source`` resized to imgsz x imgsz as the extractor does, saved as JPEG to ``dest``."""
    import cv2

    from .extractor import preprocess_bgr
    from .otb import load_image

    rgb = preprocess_bgr(load_image(source), imgsz)
    if not cv2.imwrite(str(dest), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise DataError(f"cannot write image {dest}")


@dataclass
class Dataset:
    root: Path
    data_yaml: Path
    digest: str
    n_train: int
    n_val: int
    reused: bool


def _write_dataset(tmp: Path, items: list[Item], manifest: dict, final: Path, imgsz: int) -> None:
    import yaml
    from tqdm import tqdm

    for folder in sorted({str(Path(it.image_rel).parent) for it in items}
                         | {str(Path(it.label_rel).parent) for it in items}):
        (tmp / folder).mkdir(parents=True, exist_ok=True)
    train = [it for it in items if it.split == "train"]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        # OpenCV releases the GIL while decoding, resizing and encoding.
        jobs = [pool.submit(write_stretched, it.source, tmp / it.image_rel, imgsz) for it in train]
        for job in tqdm(jobs, desc="YOLO dataset", unit="image", mininterval=1.0):
            job.result()
    by_source = {it.source: it for it in train}
    state: dict = {}
    for it in items:
        if it.split != "train":
            _link_or_copy(tmp / by_source[it.source].image_rel, tmp / it.image_rel, state)
        (tmp / it.label_rel).write_text(it.label + "\n", encoding="utf-8")
    manifest["val_images"] = "copies" if state.get("copy") else "symlinks"
    data = {"path": str(final.resolve()), "train": "images/train", "val": "images/val", "names": {0: CLASS_NAME}}
    (tmp / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    # The manifest goes last: a folder with a manifest is complete.
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def _fix_yaml_path(root: Path) -> Path:
    """data.yaml with ``path`` set to the folder's absolute location (WORK_DIR may have moved)."""
    import yaml

    path = root / "data.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data.get("path") != str(root.resolve()):
        data["path"] = str(root.resolve())
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def build_dataset(cfg) -> Dataset:
    """Write (or reuse) the YOLO dataset of ``cfg``'s experiment under ``cfg.WORK_DIR/dataset``."""
    items, counts = dataset_items(cfg)
    settings = {"version": DATASET_VERSION, "experiment": cfg.EXPERIMENT, "n_train": cfg.N_TRAIN,
                "n_test": cfg.N_TEST, "label_every": cfg.LABEL_EVERY, "val_every": cfg.VAL_EVERY,
                "img_size": cfg.IMG_SIZE, "class": CLASS_NAME}
    digest = _digest(items, settings)
    n_train = sum(it.split == "train" for it in items)
    root = Path(cfg.WORK_DIR) / DATASET_DIR
    old = _read_json(root / MANIFEST)  # None when missing or damaged: rebuilt
    if old is not None and old.get("digest") == digest and all((root / it.image_rel).is_file() for it in items):
        print(f"reusing the YOLO dataset in {root} ({n_train} training images)")
        return Dataset(root, _fix_yaml_path(root), digest, n_train, len(items) - n_train, reused=True)

    manifest = {"digest": digest, "settings": settings, "otb_root": str(Path(cfg.OTB_ROOT).resolve()),
                "list_file": str(cfg.LIST_FILE), "videos": counts, "n_train_images": n_train,
                "n_val_images": len(items) - n_train}
    tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        _write_dataset(tmp, items, manifest, root, cfg.IMG_SIZE)
        if root.exists():
            stale = root.with_name(f".{root.name}.old-{os.getpid()}")
            os.replace(root, stale)
            os.replace(tmp, root)
            shutil.rmtree(stale, ignore_errors=True)
        else:
            os.replace(tmp, root)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"cannot write the YOLO dataset under WORK_DIR={cfg.WORK_DIR}: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"wrote the YOLO dataset {root}: {n_train} training images from {len(counts)} videos, "
          f"stretched to {cfg.IMG_SIZE}x{cfg.IMG_SIZE}; {len(items) - n_train} val images")
    return Dataset(root, root / "data.yaml", digest, n_train, len(items) - n_train, reused=False)


# ---------------------------------------------------------------- training

def output_path(cfg) -> Path:
    """``<WORK_DIR>/<base>_target_exp<E>_<EPOCHS>ep_<IMG_SIZE>.pt``: other settings, another file, so a
    dataloader cache made with one is never mistaken for the other's."""
    stem = Path(str(cfg.WEIGHTS)).stem
    return Path(cfg.WORK_DIR) / f"{stem}_{CLASS_NAME}_exp{cfg.EXPERIMENT}_{cfg.EPOCHS}ep_{cfg.IMG_SIZE}.pt"


#: Settings that change the trained weights; the sidecar records them.
TRAIN_KEYS = ("WEIGHTS", "EXPERIMENT", "EPOCHS", "IMG_SIZE", "BATCH_SIZE", "SEED", "WARMUP_EPOCHS", "AMP",
              "N_TRAIN", "N_TEST", "LABEL_EVERY")


def ultralytics_device(device) -> str:
    """Our ``auto``/``cpu``/``cuda:N`` as Ultralytics' ``cpu``/``N``.

    A list of GPU indices (``0,1,2,3`` or ``cuda:0,1``) passes through as ``0,1,2,3``:
    Ultralytics then trains with its own DistributedDataParallel, launching one
    process per GPU itself (docs/scaling.md); BATCH_SIZE is the total over the GPUs.
    """
    from .extractor import resolve_device

    text = str(device).strip().lower()
    if "," in text:
        import torch

        indices = [i.strip() for i in text.removeprefix("cuda:").split(",")]
        if not all(i.isdigit() for i in indices) or len(set(indices)) != len(indices):
            raise ConfigError(f"--device {device!r}: a list of GPUs is distinct indices such as 0,1,2,3")
        count = torch.cuda.device_count()
        if max(int(i) for i in indices) >= count:
            raise ConfigError(f"--device {device!r}: only {count} CUDA device(s) on this machine")
        return ",".join(str(int(i)) for i in indices)
    dev = resolve_device(device)
    return "cpu" if dev.type == "cpu" else str(dev.index or 0)


def _local_font(font="Arial.ttf"):
    """Ultralytics' font lookup without its download: the user config folder, then matplotlib's fonts."""
    from ultralytics.utils import USER_CONFIG_DIR

    path = USER_CONFIG_DIR / Path(font).name
    if path.exists():
        return path
    from matplotlib import font_manager

    matches = [f.fname for f in font_manager.fontManager.ttflist if font in f.fname and os.path.exists(f.fname)]
    return matches[0] if matches else None


def _amp_without_download(model) -> bool:
    # Ultralytics' AMP self-test downloads a model to compare fp32 and fp16 outputs. We keep
    # AMP on where Ultralytics would (CUDA) and say so; --amp false is the way out.
    on = next(model.parameters()).device.type == "cuda"
    if on:
        print("AMP on without Ultralytics' AMP self-test (it downloads a model); "
              "if the loss turns NaN, rerun with --amp false")
    return on


@contextlib.contextmanager
def offline_checks():
    """While Ultralytics trains: local fonts only, and no AMP self-test download."""
    from unittest import mock

    import ultralytics.data.utils
    import ultralytics.engine.trainer
    import ultralytics.utils.plotting

    with mock.patch.object(ultralytics.data.utils, "check_font", _local_font), \
            mock.patch.object(ultralytics.utils.plotting, "check_font", _local_font), \
            mock.patch.object(ultralytics.engine.trainer, "check_amp", _amp_without_download):
        yield


def _epoch_printer(t0: float):
    """An ``on_fit_epoch_end`` callback printing one line per epoch (Ultralytics' bars stay quiet
    with YOLO_VERBOSE=False); the trainer calls it once more after its final check of best.pt."""
    done = set()

    def on_fit_epoch_end(trainer):
        m = trainer.metrics or {}
        mAP = m.get("metrics/mAP50(B)")
        epoch = trainer.epoch + 1
        if epoch in done or epoch > trainer.epochs:
            if mAP is not None:
                print(f"fine-tune: best weights reach val mAP50 {mAP:.3f} on the val images (training data)")
            return
        done.add(epoch)
        items = trainer.label_loss_items(trainer.tloss, prefix="train") if trainer.tloss is not None else {}
        losses = "  ".join(f"{n.removeprefix('train/')} {float(v):.3f}" for n, v in items.items())
        validated = mAP is not None and (trainer.args.val or epoch >= trainer.epochs)
        fit = f"  val mAP50 {mAP:.3f}" if validated else ""
        print(f"fine-tune epoch {epoch}/{trainer.epochs}  {losses}{fit}  ({time.perf_counter() - t0:.0f}s)",
              flush=True)
    return on_fit_epoch_end


def train_detector(cfg, dataset: Dataset) -> Path:
    """Fine-tune ``cfg.WEIGHTS`` on ``dataset`` with Ultralytics' trainer; return the best weights' path."""
    offline_environment()
    from .extractor import WeightsError, load_yolo

    yolo = load_yolo(cfg.WEIGHTS)
    if yolo.task != "detect":
        raise WeightsError(f"--weights {cfg.WEIGHTS!r} is a {yolo.task!r} model; fine-tuning needs a detection model")
    project = (Path(cfg.WORK_DIR) / "runs").resolve()
    yolo.add_callback("on_fit_epoch_end", _epoch_printer(time.perf_counter()))
    print(f"fine-tuning {cfg.WEIGHTS} on {dataset.n_train} images for {cfg.EPOCHS} epochs at {cfg.IMG_SIZE}px "
          f"(Ultralytics run folder {project / f'exp{cfg.EXPERIMENT}'})")
    with offline_checks():
        yolo.train(data=str(dataset.data_yaml), epochs=cfg.EPOCHS, imgsz=cfg.IMG_SIZE, batch=cfg.BATCH_SIZE,
                   device=ultralytics_device(cfg.DEVICE), workers=cfg.WORKERS, seed=cfg.SEED, deterministic=True,
                   warmup_epochs=cfg.WARMUP_EPOCHS, amp=cfg.AMP, val=cfg.VAL, cache=cfg.CACHE or False,
                   plots=False, project=str(project), name=f"exp{cfg.EXPERIMENT}", exist_ok=True)
    trainer = yolo.trainer
    best = Path(trainer.best) if Path(trainer.best).is_file() else Path(trainer.last)
    if not best.is_file():
        raise DataError(f"Ultralytics finished but wrote no weights under {trainer.save_dir}")
    return best


def run(cfg) -> dict:
    """Build the dataset, fine-tune, copy the weights to :func:`output_path`.

    Returns ``{"weights": Path, "trained": bool, "dataset": Dataset}``;
    ``trained`` is False when matching weights from an earlier run were reused.
    """
    from .cache import ensure_writable

    ensure_writable(cfg.WORK_DIR, "--work_dir")
    out = output_path(cfg)
    dataset = build_dataset(cfg)
    sidecar = {"settings": {k: cfg[k] for k in TRAIN_KEYS}, "dataset_digest": dataset.digest}
    meta = out.with_suffix(".json")
    if not cfg.OVERWRITE and out.is_file() and meta.is_file() and _read_json(meta) == sidecar:
        print(f"reusing fine-tuned weights {out} (same settings and dataset; --overwrite true retrains)")
        trained = False
    else:
        best = train_detector(cfg, dataset)
        tmp = out.with_name(out.name + ".tmp")
        shutil.copyfile(best, tmp)
        os.replace(tmp, out)
        meta.write_text(json.dumps(sidecar, indent=1) + "\n", encoding="utf-8")
        trained = True
        print(f"fine-tuned weights: {out} (Ultralytics' best epoch, from {best})")
    script = "dataloader.py" if cfg.EXPERIMENT == 1 else f"dataloader_exp{cfg.EXPERIMENT}.py"
    print(f"use it with: python {script} --weights {out}")
    return {"weights": out, "trained": trained, "dataset": dataset}


def _read_json(path: Path):
    """The JSON in ``path``, or None when it is missing or damaged."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
