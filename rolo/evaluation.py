"""Stage 3: predict every frame of a cached split and score it.

Two prediction modes (both always computed; MODE picks the one written as
the run's primary result):

``online``
    A frame's prediction is the last output of the SEQ_LEN window that ends
    at that frame: what an online tracker gives. Frames before the SEQ_LEN-th
    use the shorter window that starts at frame 1 (the LSTM is causal, so
    that is output step t of the first window). Every frame counts once.
``report``
    The report's protocol: every window's SEQ_LEN outputs are scored against
    their frames' ground truth and averaged, so a frame counts up to SEQ_LEN
    times. Use it to compare with the report's Tables 1-4.

Two protocols: ``all`` frames of the split (the report's), and ``held-out``:
only frames whose ground truth the experiment did not train on. In
experiments 2 and 3 the test videos are the training videos, and every third
frame's label was trained on; held-out drops those frames.

All windows of a video go through the LSTM in one batched forward (chunked
for very long videos), with one device-to-host transfer per chunk.
"""
from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import cache, config, distributed, metrics, splits
from .boxes import cxcywh_norm_to_xywh, xywh_to_cxcywh_norm
from .datasets import DATASETS
from .errors import DataError
from .model import given_settings, load_for_inference
from .reportcode import Behaviour
from .otb import load_image
from .toolkits import write_results
from .training import checkpoint_path, select_boxes
from .windows import frame_inputs

CHECKS = {
    "EXPERIMENT": splits.check_experiment,
    "EPOCHS": config.at_least(1),
    "SPLIT": config.choices("test", "eval", "train"),
    "MODE": config.choices("online", "report"),
    "PROTOCOL": config.choices("all", "held-out"),
    "HEAD": config.choices("coord", "heatmap"),
    # 0 would keep every cell, and the decoder needs a positive fraction of the peak.
    "HEATMAP_THRESHOLD": config.between(0.01, 1.0),
    "DATASET": config.choices(*DATASETS),
}
CHUNK_WINDOWS = 4096


def predict_windows(model, x: torch.Tensor, seq_len: int) -> torch.Tensor:
    """Outputs of every stride-1 window of one video in batched forwards.

    x (N, Din) on the model's device -> (W, L, Dout) with L = min(seq_len, N)
    and W = N - L + 1; window w covers frames w .. w+L-1. At most
    CHUNK_WINDOWS windows per forward bound the memory of long videos.
    """
    L = min(seq_len, x.shape[0])
    W = x.shape[0] - L + 1
    outs = [model.window_outputs(x[i:i + CHUNK_WINDOWS + L - 1], L) for i in range(0, W, CHUNK_WINDOWS)]
    return torch.cat(outs)


def online_from_windows(out: torch.Tensor) -> torch.Tensor:
    """(W, L, D) window outputs -> (W + L - 1, D): each frame's prediction from
    the window ending at it (frames before the L-th: the first window's step)."""
    return torch.cat([out[0, :-1], out[:, -1]]) if out.shape[1] > 1 else out[:, -1]


def decode(out: np.ndarray, head: str, threshold: float) -> np.ndarray:
    """(..., Dout) model outputs -> (..., 4) ``cxcywh_norm`` boxes.

    Heatmap logits get the one sigmoid outside the loss, then the extent
    decoder (:func:`rolo.heatmap.grid_to_box_cxcywh_norm`, rule documented there).
    """
    if head == "heatmap":
        from .heatmap import grid_to_box_cxcywh_norm, heatmap_probs
        # torch's sigmoid: numpy's 1 / (1 + exp(-x)) overflows (and warns) for logits below about -88.
        probs = heatmap_probs(torch.as_tensor(out)).numpy()
        return grid_to_box_cxcywh_norm(probs, threshold=threshold)
    return out


def evaluate_video(model, video, *, seq_len: int, head: str, device, boxes=None, init_gt: bool = False,
                   threshold: float = 0.5, behaviour: Behaviour | None = None) -> dict:
    """Predictions and per-frame data of one cached video.

    Returns ``online`` (N, 4) and ``report`` (W, L, 4) ``xywh`` pixel boxes,
    ``report_rows`` (W, L) frame index of each report sample, ``gt`` (N, 4)
    ``xywh`` pixels, ``yolo`` (N, 4) the detector boxes in ``xywh`` pixels, and
    ``held_out`` (N,) bool. ``behaviour`` (:mod:`rolo.reportcode`): how inputs are built, and
    with the report's heatmap variant the report protocol scores each window's last step only.
    """
    behaviour = behaviour or Behaviour()
    size = video.frame_sizes
    gt_norm = np.asarray(video.gt, dtype=np.float64)
    b = np.array(video.bbox_yolo if boxes is None else boxes, dtype=np.float32)
    if init_gt:
        b[0] = gt_norm[0]
    x = torch.from_numpy(frame_inputs(video, head, b, behaviour)).to(device)
    with torch.inference_mode():
        out = predict_windows(model, x, seq_len)
        online = online_from_windows(out).cpu().numpy()
        out = out.cpu().numpy()
    W, L = out.shape[:2]
    rows = np.arange(W)[:, None] + np.arange(L)
    if behaviour.last_step_only(head):
        out, rows = out[:, -1:], rows[:, -1:]
    online_n = decode(online, head, threshold)
    report_n = decode(out, head, threshold)
    if init_gt:
        online_n[0] = gt_norm[0]
    return {
        "online": cxcywh_norm_to_xywh(online_n, size),
        "report": cxcywh_norm_to_xywh(report_n, size[rows]),
        "report_rows": rows,
        "gt": cxcywh_norm_to_xywh(gt_norm, size),
        "yolo": cxcywh_norm_to_xywh(b, size),
        "held_out": ~np.asarray(video.used_in_training, bool),
    }


def score_video(p: dict) -> dict:
    """Metrics of every variant for one video's predictions (see :func:`evaluate_video`)."""
    gt, rows, ho = p["gt"], p["report_rows"], p["held_out"]
    v = {
        "online": metrics.sequence_metrics(p["online"], gt),
        "report": metrics.sequence_metrics(p["report"].reshape(-1, 4), gt[rows].reshape(-1, 4)),
        "yolo": metrics.sequence_metrics(p["yolo"], gt),
    }
    if ho.any() and not ho.all():
        keep = ho[rows]
        v["online/held-out"] = metrics.sequence_metrics(p["online"][ho], gt[ho])
        v["report/held-out"] = metrics.sequence_metrics(p["report"][keep], gt[rows][keep])
        v["yolo/held-out"] = metrics.sequence_metrics(p["yolo"][ho], gt[ho])
    return v


def detector_offset(videos, boxes=None) -> np.ndarray | None:
    """(4,) mean ``cxcywh_norm`` offset (ground truth - detector box) over the frames of ``videos``
    that have both, or None when there are none: the detector's systematic bias, the most that a
    constant correction can learn. ``boxes``: per-video detector boxes (another SELECT rule)."""
    diffs = []
    for v, b in zip(videos, boxes or [None] * len(videos)):
        det = np.asarray(v.bbox_yolo if b is None else b, np.float64)
        d = np.asarray(v.gt, np.float64) - det
        diffs.append(d[(det[:, 2] > 0) & ~np.isnan(d).any(1)])
    d = np.concatenate(diffs) if diffs else np.empty((0, 4))
    return d.mean(0) if len(d) else None


def offset_boxes_xywh(boxes_xywh: np.ndarray, offset: np.ndarray, size) -> np.ndarray:
    """(N, 4) ``xywh`` pixel detector boxes plus a ``cxcywh_norm`` offset; empty boxes (no
    detection) stay empty. ``size``: (W, H) or (N, 2) per frame."""
    b = xywh_to_cxcywh_norm(np.asarray(boxes_xywh, np.float64), size)
    return cxcywh_norm_to_xywh(np.where(b[:, 2:3] > 0, b + offset, b), size)


def training_offset(cfg, select: str):
    """:func:`detector_offset` of DATA_DIR/train under the checkpoint's SELECT rule; None, with a
    note, when that split is not in the cache."""
    try:
        train = cache.read_planned_split(cfg.DATA_DIR, "train")
    except DataError:
        print(f"note: no readable train split in {cfg.DATA_DIR}: no 'YOLO + offset' column")
        return None
    return detector_offset(train, select_boxes(train, select))


def variant_name(mode: str, protocol: str) -> str:
    return mode if protocol == "all" else f"{mode}/held-out"


def write_result_files(results_dir: Path, name: str, dataset: str, boxes_xywh: np.ndarray,
                       seconds_per_frame: float) -> None:
    """One video's (N, 4) ``xywh`` pixel boxes in the toolkits' layouts (:func:`rolo.toolkits.write_results`):
    ``<name>.txt`` (comma-separated: pysot-toolkit's OTB/UAV/LaSOT/NfS layout, which pytracking's
    analysis reads too) and ``<name>_time.txt``; for GOT-10k also ``got10k/<name>/<name>_001.txt`` and
    ``_time.txt``, got10k's layout. The time is the same for every frame: the video's batched
    prediction divided by its frames (docs/datasets.md)."""
    seconds = np.full(len(boxes_xywh), seconds_per_frame)
    write_results(results_dir, name, boxes_xywh, seconds, layout="pysot")
    if dataset == "got10k":
        write_results(results_dir / "got10k", name, boxes_xywh, seconds, layout="got10k")


def main(script_globals, argv=None):
    cfg = config.from_script(script_globals, argv, checks=CHECKS)
    with distributed.quiet_unless_main():
        cfg.show("evaluation settings")
    return run(cfg)


def resolve_paths(cfg) -> tuple[Path, Path]:
    ckpt = Path(cfg.CHECKPOINT) if cfg.CHECKPOINT else checkpoint_path(cfg.CHECKPOINT_DIR, cfg.EXPERIMENT,
                                                                           cfg.EPOCHS, cfg.HEAD)
    # Named after the checkpoint, so that evaluating another one never replaces these results.
    results = Path(cfg.RESULTS_DIR) if cfg.RESULTS_DIR else Path("results") / (
        f"{ckpt.stem}_{cfg.SPLIT}" if cfg.CHECKPOINT else
        f"exp{cfg.EXPERIMENT}_{cfg.EPOCHS}_{cfg.SPLIT}" + ("_heatmap" if cfg.HEAD == "heatmap" else ""))
    return ckpt, results


def stage_results_dir(results_dir: Path) -> Path:
    """An empty folder ``<parent>/.tmp-<name>-<id>/<name>`` for this run's results; :func:`publish_results_dir`
    then swaps it in for ``results_dir``.

    A run owns its results folder: an earlier run's ``<Seq>.txt`` files must not stay beside this
    run's, where an OTB toolkit would read a mix. A folder that holds files but no ``metrics.json``
    was not written by an evaluation, and is refused rather than replaced.
    """
    if results_dir.name in ("", ".", ".."):  # the folder is swapped in by name: "." has none to swap
        raise DataError(f"RESULTS_DIR {results_dir}: name the results folder itself (e.g. results/run1), "
                        f"which a run replaces whole (--results_dir)")
    if results_dir.exists() and not results_dir.is_dir():
        raise DataError(f"RESULTS_DIR {results_dir} is a file, not a folder; a run would replace it with its "
                        f"results folder, so give an empty or new one (--results_dir)")
    if results_dir.is_dir() and any(results_dir.iterdir()) and not (results_dir / "metrics.json").is_file():
        raise DataError(f"RESULTS_DIR {results_dir} holds files that no evaluation wrote (it has no metrics.json); "
                        f"a run replaces its whole results folder, so give an empty or new one (--results_dir)")
    # A killed run leaves its staging folder behind; the next run into the same folder clears it.
    stale = re.compile(rf"\.tmp-{re.escape(results_dir.name)}-[0-9a-f]{{8}}")
    if results_dir.parent.is_dir():
        for p in results_dir.parent.iterdir():
            if p.is_dir() and stale.fullmatch(p.name):
                shutil.rmtree(p, ignore_errors=True)
    stage = results_dir.parent / f".tmp-{results_dir.name}-{uuid.uuid4().hex[:8]}" / results_dir.name
    try:
        stage.mkdir(parents=True)
    except OSError as e:
        raise DataError(f"cannot create RESULTS_DIR {results_dir}: {e.strerror or e}") from None
    return stage


def publish_results_dir(stage: Path, results_dir: Path) -> None:
    """Replace ``results_dir`` (and every file an earlier run left there) by the complete ``stage``;
    on failure the earlier results stay in place."""
    try:
        cache.replace_dir(stage, results_dir, stage.parent / "previous")
    except OSError as e:
        raise DataError(f"cannot replace RESULTS_DIR {results_dir}: {e.strerror or e}") from None


def load_inference(ckpt_path, cfg, video, device):
    """The checkpoint's model (:func:`rolo.model.load_for_inference`): flags given on the command line
    must agree with it, the rest follows it; its experiment and extraction must be the cache's."""
    inference = load_for_inference(ckpt_path, given_settings(cfg), device=device, feature_dim=video.meta["feature_dim"],
                                   features_from=f"the cache in {cfg.DATA_DIR}")
    exp = inference.ckpt.get("experiment")
    if exp is not None and exp != cfg.EXPERIMENT:
        raise DataError(f"checkpoint {ckpt_path} was trained for experiment {exp}, but --experiment is "
                        f"{cfg.EXPERIMENT}")
    check_extraction(inference.ckpt, ckpt_path, video)
    return inference


def inference_behaviour(cfg, checkpoint_settings: dict) -> Behaviour:
    """The report-code switches of an inference run: the checkpoint's, unless --report_code was given."""
    if "REPORT_CODE" in cfg.given:
        return Behaviour.from_settings({"REPORT_CODE": cfg.REPORT_CODE})
    return Behaviour.from_settings(checkpoint_settings)


#: Extraction settings that change the LSTM's inputs: a checkpoint is only evaluated on a cache made like its own.
INPUT_SETTINGS = ("WEIGHTS", "IMG_SIZE", "CONF")


def check_extraction(ckpt: dict, ckpt_path, video) -> None:
    """Refuse a cache whose features or boxes were made otherwise than the training cache's
    (same dimension, other weights, image size or threshold). Plain state dicts record nothing."""
    want = ckpt.get("extraction") or {}
    have = cache.extraction_settings(video)
    for key in INPUT_SETTINGS:
        if key in want and have[key] != want[key]:
            raise DataError(f"checkpoint {ckpt_path} was trained on features extracted with {key}={want[key]!r}, "
                            f"but the cache {video.path} was made with {key}={have[key]!r}; evaluate on a cache "
                            f"extracted like the training one")


def run(cfg, progress: bool = True) -> dict:
    """Evaluate; write RESULTS_DIR; return the metrics dict also saved as metrics.json.

    Under torchrun the videos are shared among the ranks (balanced by frame count); each
    rank writes its videos' result files, and rank 0 merges the scores in the split's
    order into the same metrics.json, tables and pictures as one process's.
    """
    device = distributed.rank_device(cfg.DEVICE)
    with distributed.session(device) as world, distributed.quiet_unless_main():
        return _evaluate(cfg, device, world, distributed.show_progress(progress))


def _evaluate(cfg, device, world, progress: bool) -> dict:
    ckpt_path, results_dir = resolve_paths(cfg)
    videos = cache.read_planned_split(cfg.DATA_DIR, cfg.SPLIT, dataset=cfg.get("DATASET"))
    cache.require_experiment(videos, cfg.EXPERIMENT, f"{cfg.DATA_DIR}/{cfg.SPLIT}")
    inference = load_inference(ckpt_path, cfg, videos[0], device)
    model, seq_len, select = inference.model, inference.seq_len, inference.settings["SELECT"]
    cfg["HEAD"] = inference.settings["HEAD"]
    behaviour = inference_behaviour(cfg, inference.settings)
    if behaviour.report_scoring and "MODE" not in cfg.given:
        cfg["MODE"] = "report"
    ckpt_path, results_dir = resolve_paths(cfg)
    print(f"checkpoint {ckpt_path}: head {cfg.HEAD}, SEQ_LEN {seq_len}, SELECT {select}; {behaviour.describe()}")
    boxes = select_boxes(videos, select) or [None] * len(videos)
    # Every rank writes its videos' files into the folder rank 0 stages; a refusal reaches every rank.
    staged = None
    if world.is_main:
        try:
            staged = stage_results_dir(results_dir)
        except DataError as e:
            staged = e
    staged = distributed.broadcast_object(staged)
    if isinstance(staged, DataError):
        raise staged
    final_dir, results_dir = results_dir, staged
    try:
        done = {}
        mine = distributed.my_share(list(range(len(videos))), [len(v) for v in videos], world)
        for i in tqdm(mine, desc="evaluating", disable=not progress):
            video = videos[i]
            # evaluate_video ends with a device-to-host copy, so the clock stops after the device's work.
            start = time.perf_counter()
            p = evaluate_video(model, video, seq_len=seq_len, head=cfg.HEAD, device=device, boxes=boxes[i],
                               init_gt=cfg.INIT_GT, threshold=cfg.HEATMAP_THRESHOLD, behaviour=behaviour)
            p["seconds_per_frame"] = (time.perf_counter() - start) / len(p["online"])
            done[video.name] = (p, score_video(p))
            write_result_files(results_dir, video.name, video.dataset, p["online"], p["seconds_per_frame"])
        for part in distributed.all_gather_objects(done):
            done.update(part)
        per_variant: dict[str, dict] = {}
        preds = {}
        for video in videos:  # the split's order, whichever rank scored each video
            preds[video.name], scores = done[video.name]
            for name, m in scores.items():
                per_variant.setdefault(name, {})[video.name] = m

        offset = training_offset(cfg, select)
        if offset is not None:
            per_variant["yolo+offset"] = {
                v.name: metrics.sequence_metrics(offset_boxes_xywh(preds[v.name]["yolo"], offset, v.frame_sizes),
                                                 preds[v.name]["gt"])
                for v in videos}

        primary = variant_name(cfg.MODE, cfg.PROTOCOL)
        if primary not in per_variant:
            raise DataError(f"--protocol held-out: no frame of split {cfg.SPLIT!r} in {cfg.DATA_DIR} was used in "
                            f"training, so held-out equals all; use --protocol all")
        result = {
            "settings": dict(cfg), "checkpoint": str(ckpt_path), "experiment": cfg.EXPERIMENT, "epochs": cfg.EPOCHS,
            "split": cfg.SPLIT, "mode": cfg.MODE, "protocol": cfg.PROTOCOL, "init_gt": cfg.INIT_GT,
            "head": cfg.HEAD, "select": select, "seq_len": seq_len, "report_code": behaviour.describe(),
            "world_size": world.world_size,
            "yolo_offset_cxcywh_norm": None if offset is None else [float(v) for v in offset],
            "videos": per_variant[primary], **metrics.summarize(per_variant[primary]),
            "variants": {name: {"aos": {k: m["aos"] for k, m in vids.items()}, **_means(metrics.summarize(vids))}
                         for name, vids in per_variant.items()},
            "seconds_per_frame": {v.name: preds[v.name]["seconds_per_frame"] for v in videos},
            "benchmark": benchmark_scores(videos[0].dataset, [preds[v.name] for v in videos], videos),
        }
        if world.is_main:
            cache.write_text_atomic(results_dir / "metrics.json", json.dumps(result, indent=1))
            cache.write_text_atomic(results_dir / "metrics.csv", metrics_csv(result))
            print_summary(result, per_variant)
            if cfg.PLOTS:
                make_pictures(cfg, result, per_variant, preds, results_dir, videos)
        distributed.barrier()  # every rank's files are in the staging folder
        if world.is_main:
            publish_results_dir(results_dir, final_dir)
    finally:
        if world.is_main:
            shutil.rmtree(results_dir.parent, ignore_errors=True)
    distributed.barrier()  # no rank returns before the results folder is in place
    print(f"results in {final_dir}")
    return result


def _means(summary: dict) -> dict:
    """Drop the curves: the variants block keeps only the scalar means."""
    return {k: {m: v for m, v in s.items() if not m.endswith("_curve")} for k, s in summary.items()}


def metrics_csv(result: dict) -> str:
    cols = ("frames", "aos", "auc", "sr50", "p20")
    lines = ["video," + ",".join(cols)]
    for name, m in result["videos"].items():
        lines.append(name + "," + ",".join(_fmt(m[c]) for c in cols))
    for label, key in (("mean (videos)", "mean"), ("mean (frames)", "frame_weighted")):
        m = result[key]
        lines.append(label + "," + ",".join(_fmt(m.get(c, "")) for c in cols))
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def print_summary(result: dict, per_variant: dict) -> None:
    from .tables import aos_table, render_text

    columns = {label: {n: m["aos"] for n, m in per_variant[key].items()}
               for key, label in (("online", "online"), ("online/held-out", "online held-out"),
                                  ("report", "report protocol"), ("yolo", "YOLO boxes"),
                                ("yolo+offset", "YOLO + offset")) if key in per_variant}
    title = (f"AOS per video: experiment {result['experiment']}, {result['epochs']} epochs, split "
             f"{result['split']}, head {result['head']}, SEQ_LEN {result['seq_len']}, "
             f"frame 1 from GT: {result['init_gt']}")
    table = aos_table(columns["online"], result["experiment"], result["epochs"], ours=columns, title=title)
    print()
    print(render_text(table))
    print("  online: one prediction per frame, from the window ending at it (what a tracker outputs)")
    print("  report protocol: every window's outputs averaged, a frame counted up to SEQ_LEN times")
    if "online/held-out" in per_variant:
        print("  held-out: only frames whose ground truth was not used in training")
    print("  YOLO boxes: the detector's own box on each frame, no LSTM; * marks the best in a row")
    if "yolo+offset" in per_variant:
        print("  YOLO + offset: those boxes plus the training frames' mean (ground truth - detector) offset,")
        print("  a constant correction without memory: the yardstick for what the LSTM's window adds")
    print()
    print(f"primary result: mode {result['mode']}, protocol {result['protocol']}")
    for label, key in (("mean over videos", "mean"), ("all frames pooled", "frame_weighted")):
        m = result[key]
        print(f"  {label:18s} AOS {m['aos']:.3f}  AUC {m['auc']:.3f}  SR@0.5 {m['sr50']:.3f}  P@20px {m['p20']:.3f}")
    b = result.get("benchmark") or {}
    if b.get("ao") is not None:
        print(f"  GOT-10k protocol   AO {b['ao']:.3f}  SR@0.5 {b['sr50']:.3f}  SR@0.75 {b['sr75']:.3f}  "
              f"(frames after the first with the target visible, pooled)")
    if b.get("norm_precision") is not None:
        print(f"  normalised precision @0.2 {b['norm_precision']:.3f} (LaSOT/TrackingNet, mean over videos)")


def benchmark_scores(dataset: str, preds: list, videos) -> dict:
    """The evaluated dataset's own headline numbers of the online predictions (:mod:`rolo.metrics`):
    GOT-10k's AO, SR@0.5, SR@0.75 (its protocol: frames after the first whose target is visible,
    here the labelled ones, pooled); normalised precision for LaSOT and TrackingNet."""
    if dataset == "got10k":
        ious = [metrics.bounded_iou_xywh(p["online"][1:], p["gt"][1:], v.frame_sizes[1:])
                [~np.isnan(p["gt"][1:]).any(axis=1)] for p, v in zip(preds, videos)]
        scores = metrics.got10k_scores(np.concatenate(ious))
        return {"protocol": "got10k", "ao": scores["ao"], "sr50": scores["sr50"], "sr75": scores["sr75"]}
    if dataset in ("lasot", "trackingnet"):
        values = [metrics.normalized_precision(p["online"], p["gt"]) for p in preds]
        values = [x for x in values if x is not None]
        return {"protocol": dataset, "norm_precision": float(np.mean(values)) if values else None}
    return {}


def make_pictures(cfg, result, per_variant, preds, results_dir, videos) -> None:
    from . import plots

    runs = {label: per_variant[key] for key, label in (("online", "ROLO online"),
                                                        ("online/held-out", "ROLO online, held-out"),
                                                        ("yolo", "YOLO boxes")) if key in per_variant}
    curves = {label: metrics.summarize(v)["mean"] for label, v in runs.items()}
    plots.plot_success({k: c["success_curve"] for k, c in curves.items()}, results_dir / "success.png")
    plots.plot_precision({k: c["precision_curve"] for k, c in curves.items()}, results_dir / "precision.png")
    print("wrote success.png and precision.png")
    try:
        frames = frame_paths(cfg, videos, preds)
    except DataError as e:
        print(f"no montage: {e}")
        return
    order = sorted(preds, key=lambda n: result["videos"][n]["aos"] or 0.0)
    items = []
    for name in order:
        p, i = preds[name], len(preds[name]["online"]) // 2
        img = plots.draw_boxes(load_image(frames[name][i]), p["gt"][i], p["online"][i], frame_number=i + 1)
        aos = result["videos"][name]["aos"]  # None for a video without a labelled frame, as "-" in the table
        items.append((f"{name} AOS {'-' if aos is None else f'{aos:.2f}'}", img))
    plots.montage(items, results_dir / "montage.png", cols=min(4, len(items)))
    print("wrote montage.png (middle frame of each video, lowest AOS first; "
          "ground truth green, prediction red)")
    if cfg.VIDEOS:
        for name in tqdm(order, desc="videos"):
            p = preds[name]
            annotated = (plots.draw_boxes(load_image(f), p["gt"][i], p["online"][i], frame_number=i + 1)
                         for i, f in enumerate(frames[name]))
            plots.write_video(annotated, results_dir / f"{name}.mp4", fps=25)


def frame_paths(cfg, videos, preds: dict) -> dict:
    """Image paths of the evaluated frames of each video: OTB's under OTB_ROOT, other datasets'
    under the folder the cache was extracted from (its ``dataset_root``), through :mod:`rolo.datasets`."""
    from .datasets import get_dataset

    out = {}
    for v in videos:
        if v.dataset == "otb":
            root, split, options = cfg.OTB_ROOT, None, {"strict": cfg.STRICT_FRAMES}
            if not (root and Path(root).is_dir()):
                raise DataError(f"OTB_ROOT {root!r} not found")
        else:
            root, split, options = v.meta.get("dataset_root", ""), v.meta.get("dataset_split"), {}
        seq = get_dataset(v.dataset, root, split, **options)[v.name]
        n = len(preds[v.name]["online"])
        if len(seq) != n:
            raise DataError(f"{v.name} has {len(seq)} frames under {root} but {n} in the cache")
        out[v.name] = seq.frames
    return out
