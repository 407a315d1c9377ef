"""Every table of the report from one command: ``reproduce.py``.

Stages, in order, each skipped (and said so) when a finished run of it with the same settings
is on disk, so a killed run started again picks up where it stopped:

1. ``extract E`` for each experiment: the dataloader of experiment E (:func:`rolo.extraction.run`)
   with its videos' detector passes taken from one shared store (:class:`DetectionStore`): a
   video is run through YOLO once, however many experiments hold it;
2. ``train E``: one run to the largest epoch count, saving the report's 10- and 30-epoch
   checkpoints on the way (the shuffle of epoch e depends on (SEED, e) alone, so they are the
   checkpoints a 10- or 30-epoch run would save); a killed run resumes from its last epoch;
3. ``heatmap``: ROLO-heatmap on experiment 3 (report section VI);
4. ``evaluate E/epochs/split``: every checkpoint on the test and eval videos;
5. ``tables``: REPRODUCTION.md and REPRODUCTION.csv, Tables 1-4 laid out as the report does,
   ours beside the report's (:mod:`rolo.reference`), means and differences underneath.

Caches do not depend on REPORT_CODE (it applies when windows are built), so both modes share
them; checkpoints and results live in one folder per mode. Before starting, the plan and an
estimated time (frame and window counts times a short timing of this machine) are printed.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from . import cache, config, evaluation, extraction, training
from .errors import ConfigError, DataError
from .reportcode import Behaviour

CHECKS = {
    "IMG_SIZE": config.multiple_of(32),
    "CONF": config.between(0.0, 1.0),
    "TOP_K": config.at_least(1),
    "BATCH_SIZE": config.at_least(1),
    "N_TRAIN": config.at_least(1),
    "N_TEST": config.at_least(1),
    "LABEL_EVERY": config.at_least(1),
    "SEQ_LEN": config.at_least(1),
    "TRAIN_BATCH_SIZE": config.at_least(1),
    "LR": config.between(1e-12, 10.0),
    "HIDDEN": config.at_least(1),
    "QUICK_FRAMES": config.at_least(2),
}
SCRIPTS = {1: ("dataloader.py", "train.py"), 2: ("dataloader_exp2.py", "train.py"),
           3: ("dataloader_exp3.py", "train_exp3.py")}
#: Which report table each experiment fills (Table 4 is experiment 3 at 100 epochs beside the original ROLO).
TABLE_OF_EXPERIMENT = {1: 1, 2: 2, 3: 3}


def main(script_globals, argv=None):
    from .distributed import world

    if world().world_size > 1:  # every rank would run every stage and race on its files
        raise ConfigError("reproduce.py runs as one process (python reproduce.py ...), not under torchrun: its stages "
                          "write shared files in turn; the dataloaders, train.py and evaluation.py take torchrun "
                          "themselves (docs/scaling.md)")
    cfg = config.from_script(script_globals, argv, checks=CHECKS)
    cfg.show("reproduction settings")
    return run(cfg, scripts_dir=Path(script_globals.get("__file__", "reproduce.py")).resolve().parent)


def int_list(flag: str, text: str) -> list[int]:
    try:
        values = [int(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"{flag}: expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise ConfigError(f"{flag}: expected positive integers, got {text!r}")
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:  # "1,1" is more likely a typo for "1,2" than a wish to run 1 once
        raise ConfigError(f"{flag}: {', '.join(map(str, twice))} given more than once in {text!r}; give each once")
    return sorted(values)


# ---- the shared detector passes ----------------------------------------------

class DetectionStore:
    """One YOLO pass per video, kept on disk and shared by every experiment's cache.

    ``folder/<key>/<name>.npz``, the key a digest of the extraction settings; a stored pass
    is reused only for the same frame files. Written through a temporary file, so a killed
    run never leaves a half-written pass that would be read later.
    """

    def __init__(self, folder, settings: dict, batch_size: int):
        key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
        self.folder = Path(folder) / key
        self.settings, self.batch_size = settings, batch_size
        self.runs = 0

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.npz"

    @staticmethod
    def _frames_digest(seq) -> str:
        return hashlib.sha1("\n".join(str(Path(f).resolve()) for f in seq.frames).encode()).hexdigest()

    def has(self, seq) -> bool:
        return self._load(seq) is not None

    def _load(self, seq, members=()) -> dict | None:
        """``members`` of the stored pass of ``seq`` (those it holds), or None when none is stored for
        its frames. An .npz reads only the members asked for, so a check reads the digest alone."""
        p = self.path(seq.name)
        if not p.is_file():
            return None
        try:
            with np.load(p, allow_pickle=False) as z:
                if str(z["frames_digest"]) != self._frames_digest(seq):
                    return None
                return {k: z[k] for k in members if k in z.files}
        except (OSError, ValueError, KeyError):
            return None

    def __call__(self, extractor, seq):
        """``(Detections, reused)``: the stored pass of ``seq`` when there is one, else a YOLO pass, stored."""
        from .extractor import Detections

        stored = self._load(seq, ("boxes", "features", "conf", "detected", "topk", "sizes"))
        if stored is not None:
            return Detections(stored["boxes"], stored["features"], stored["conf"], stored["detected"],
                              stored["topk"], stored.get("sizes")), True
        dets = extractor.extract_paths(seq.frames, batch_size=self.batch_size, desc=seq.name)
        self.runs += 1
        arrays = {k: getattr(dets, k) for k in ("boxes", "features", "conf", "detected", "topk")}
        if dets.sizes is not None:
            arrays["sizes"] = dets.sizes
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".tmp-{seq.name}-{os.getpid()}.npz"
        try:
            np.savez(tmp, frames_digest=np.array(self._frames_digest(seq)), **arrays)
            os.replace(tmp, self.path(seq.name))
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise DataError(f"cannot write {self.path(seq.name)}: {e.strerror or e}") from None
        return dets, False


# ---- the quick tree ---------------------------------------------------------

def quick_tree(otb_root, names, frames: int, out: Path, strict: bool) -> Path:
    """A shortened copy of the listed sequences: the first ``frames`` ground-truth lines, and
    links to their images (OTB's own numbering kept, so the frame table still pairs them)."""
    from .datasets import get_dataset

    otb = get_dataset("otb", otb_root, strict=strict)
    for name in names:
        seq = otb[name]
        spec = getattr(seq, "spec", None)
        img_dir = out / (spec.img_dir if spec else f"{name}/img")
        gt_path = out / (spec.gt_file if spec else f"{name}/groundtruth_rect.txt")
        img_dir.mkdir(parents=True, exist_ok=True)
        wanted = {Path(f).name: Path(f).resolve() for f in seq.frames[:frames]}
        # A tree left by a run with another OTB_ROOT or QUICK_FRAMES: its links must not outlive it.
        for old in img_dir.iterdir():
            if old.is_symlink() and (old.name not in wanted or old.resolve() != wanted[old.name]):
                old.unlink()
        for link_name, target in wanted.items():
            link = img_dir / link_name
            if not link.is_symlink():
                link.symlink_to(target)
        lines = [ln for ln in Path(seq.gt_path).read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        cache.write_text_atomic(gt_path, "\n".join(lines[:frames]) + "\n")
    return out


# ---- stages -----------------------------------------------------------------

class Stages:
    """Markers of finished stages: ``<folder>/<name>.json`` holding the stage's settings. ``shared``:
    a second instance for another folder that reports into the same lists (the caches' stages are
    shared by both modes, the others are per mode)."""

    def __init__(self, folder: Path, shared: "Stages | None" = None):
        self.folder = folder
        self.skipped: list[str] = shared.skipped if shared else []
        self.ran: list[str] = shared.ran if shared else []

    def _path(self, name: str) -> Path:
        return self.folder / (name.replace(" ", "_").replace("/", "-") + ".json")

    def done(self, name: str, settings: dict) -> bool:
        p = self._path(name)
        try:
            same = p.is_file() and json.loads(p.read_text(encoding="utf-8")) == json.loads(json.dumps(settings))
        except (OSError, json.JSONDecodeError):
            same = False
        if same:
            self.skipped.append(name)
            print(f"[skip] {name}: finished earlier with the same settings ({p})")
        return same

    def started(self, name: str, settings: dict) -> bool:
        """Record that ``name`` starts with ``settings``; True when the last start (finished or
        killed) had other settings, so its leftovers belong to another run."""
        p = self._path(name).with_suffix(".started.json")
        before = None
        for q in (p, self._path(name)):  # a run older than the start markers left only its finish marker
            try:
                before = json.loads(q.read_text(encoding="utf-8"))
                break
            except (OSError, json.JSONDecodeError):
                continue
        self.folder.mkdir(parents=True, exist_ok=True)
        cache.write_text_atomic(p, json.dumps(settings, indent=1, sort_keys=True))
        return before is not None and before != json.loads(json.dumps(settings))

    def finish(self, name: str, settings: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        cache.write_text_atomic(self._path(name), json.dumps(settings, indent=1, sort_keys=True))
        self.ran.append(name)


def _stage_config(scripts_dir: Path, script: str, checks: dict, flags: dict) -> config.Config:
    from .demo import stage_config

    return stage_config(scripts_dir, script, checks, flags)


class Plan:
    """Folders, sequences and work of one reproduction run."""

    def __init__(self, cfg, scripts_dir: Path, scratch: Path | None = None):
        """``scratch``: a folder for the quick run's shortened tree instead of OUT_DIR, which is then
        neither created nor written (--plan_only)."""
        from .otb import read_list

        self.cfg, self.scripts_dir = cfg, scripts_dir
        self.experiments = int_list("--experiments", cfg.EXPERIMENTS)
        if set(self.experiments) - {1, 2, 3}:
            raise ConfigError(f"--experiments: choose among 1, 2, 3, got {cfg.EXPERIMENTS!r}")
        full_epochs = int_list("--epochs", cfg.EPOCHS)  # checked in a quick run too: the next full run uses it
        self.epochs = int_list("--quick_epochs", cfg.QUICK_EPOCHS) if cfg.QUICK else full_epochs
        self.root = Path(cfg.OUT_DIR) / ("quick" if cfg.QUICK else "")
        self.mode = "report_code" if cfg.REPORT_CODE else "default"
        self.mode_dir = self.root / self.mode
        need = cfg.LABEL_EVERY * cfg.SEQ_LEN + 1  # the report's code's N - SEQ_LEN windows need SEQ_LEN + 1 rows
        if cfg.QUICK and 2 in self.experiments and cfg.QUICK_FRAMES < need:
            raise ConfigError(f"--quick_frames {cfg.QUICK_FRAMES}: experiment 2 trains on one frame in "
                              f"{cfg.LABEL_EVERY}, so its training windows (SEQ_LEN={cfg.SEQ_LEN}) need at least {need} frames")
        self.names = read_list(cfg.LIST_FILE)
        if scratch is None:
            cache.ensure_writable(self.root, "--out_dir")
        self.otb_root, self.strict = Path(cfg.OTB_ROOT), cfg.STRICT_FRAMES
        if cfg.QUICK:
            self.otb_root = quick_tree(cfg.OTB_ROOT, self.names, cfg.QUICK_FRAMES, (scratch or self.root) / "otb",
                                       cfg.STRICT_FRAMES)
            self.strict = False
        self.settings = {k: cfg.get(k, cache.SETTING_DEFAULTS.get(k)) for k in cache.EXTRACTION_KEYS}
        self.data_digest = data_digest(self.otb_root, self.names, self.strict)

    def data_dir(self, e: int) -> Path:
        return self.root / "data" / f"exp{e}"

    def checkpoint(self, e: int, epochs: int, head: str = "coord") -> Path:
        return training.checkpoint_path(self.mode_dir / "checkpoints", e, epochs, head)

    def results(self, e: int, epochs: int, split: str, head: str = "coord") -> Path:
        return self.mode_dir / "eval" / (f"exp{e}_{epochs}_{split}" + ("_heatmap" if head == "heatmap" else ""))

    def splits(self, e: int) -> dict:
        from .splits import video_names

        return video_names(e, self.names, self.cfg.N_TRAIN, self.cfg.N_TEST)

    def evaluations(self) -> list[tuple[int, int, str, str]]:
        """(experiment, epochs, split, head) of every evaluation run."""
        runs = [(e, n, split, "coord") for e in self.experiments for n in self.epochs for split in ("test", "eval")
                if self.splits(e)[split]]
        if self.cfg.HEATMAP and 3 in self.experiments:
            runs += [(3, self.epochs[-1], split, "heatmap") for split in ("test", "eval") if self.splits(3)[split]]
        return runs


def data_digest(otb_root, names, strict: bool) -> str:
    """A fingerprint of the listed videos as they are now: their frames' files and ground truth.

    Stage markers hold it, so that a video cut shorter or longer (another QUICK_FRAMES), a
    corrected ground-truth file or another OTB copy behind the same path reruns the stages that
    read it instead of being skipped as finished."""
    from .datasets import get_dataset

    otb = get_dataset("otb", otb_root, strict=strict)
    h = hashlib.sha1()
    for name in names:
        seq = otb[name]
        h.update(name.encode() + b"\0" + "\n".join(str(Path(f).resolve()) for f in seq.frames).encode() + b"\0")
        h.update(np.ascontiguousarray(seq.boxes_xywh, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def extraction_flags(plan: Plan, e: int) -> dict:
    cfg = plan.cfg
    return {"otb_root": plan.otb_root, "list_file": cfg.LIST_FILE, "out_dir": plan.data_dir(e), "experiment": e,
            "weights": cfg.WEIGHTS, "img_size": cfg.IMG_SIZE, "conf": cfg.CONF, "top_k": cfg.TOP_K,
            "device": cfg.DEVICE, "batch_size": cfg.BATCH_SIZE, "n_train": cfg.N_TRAIN, "n_test": cfg.N_TEST,
            "label_every": cfg.LABEL_EVERY, "strict_frames": plan.strict}


def training_flags(plan: Plan, e: int, head: str = "coord") -> dict:
    cfg = plan.cfg
    every = math.gcd(*plan.epochs)
    return {"experiment": e, "data_dir": plan.data_dir(e), "epochs": plan.epochs[-1], "seq_len": cfg.SEQ_LEN,
            "batch_size": cfg.TRAIN_BATCH_SIZE, "lr": cfg.LR, "hidden": cfg.HIDDEN, "head": head,
            "report_code": cfg.REPORT_CODE, "seed": cfg.SEED, "device": cfg.DEVICE, "save_every": every,
            "resume": True, "checkpoint_dir": plan.mode_dir / "checkpoints"}


def _jsonable(flags: dict) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in flags.items()}


def cache_marker(plan: Plan, e: int) -> dict:
    """What experiment ``e``'s cache is made from. The training and evaluation markers hold it too:
    a cache cut again (another N_TRAIN, LABEL_EVERY, CONF, ... or other data) reruns both. The
    device and YOLO batch size change how fast it is made, not what it holds."""
    made_from = {k: v for k, v in extraction_flags(plan, e).items() if k not in ("device", "batch_size")}
    return dict(_jsonable(made_from), data_digest=plan.data_digest)


def run_extraction(plan: Plan, stages: Stages, store: DetectionStore, e: int) -> None:
    flags = extraction_flags(plan, e)
    name = f"extract {e}"
    marker = dict(_jsonable(flags), data_digest=plan.data_digest)
    if stages.done(name, marker):
        return
    print(f"\n=== {name}: experiment {e}'s cache in {plan.data_dir(e)} ===", flush=True)
    dl = SCRIPTS[e][0]
    # Unfinished (killed, or its data or settings changed): every video is cut again from the shared
    # store, which costs no YOLO pass, so no cache of another run is kept or refused.
    extraction.run(_stage_config(plan.scripts_dir, dl, extraction.CHECKS, dict(flags, overwrite=True)), detect=store)
    stages.finish(name, marker)


def run_training(plan: Plan, stages: Stages, e: int, head: str = "coord") -> None:
    flags = training_flags(plan, e, head)
    name = f"train {e}" + (" heatmap" if head == "heatmap" else "")
    milestones = plan.epochs if head == "coord" else plan.epochs[-1:]
    marker = dict(_jsonable(flags), cache=cache_marker(plan, e))
    # Outputs first: a stage whose checkpoint was deleted runs again, and is not reported as skipped.
    if all(plan.checkpoint(e, n, head).is_file() for n in milestones) and stages.done(name, marker):
        return
    print(f"\n=== {name}: {plan.epochs[-1]} epochs, checkpoints at {', '.join(map(str, milestones))} ===",
          flush=True)
    tcfg = _stage_config(plan.scripts_dir, SCRIPTS[e][1], training.CHECKS, flags)
    final = training.checkpoint_path(tcfg.CHECKPOINT_DIR, e, tcfg.EPOCHS, head)
    if stages.started(name, marker):
        # Another run's resumable state (other settings or data): resuming it would mix the two runs.
        training.resume_path(final).unlink(missing_ok=True)
        print(f"{name}: settings or data changed since the last run; training from epoch 0")

    def keep_milestone(done: int, model) -> None:
        if done in milestones and done != tcfg.EPOCHS:
            save_milestone(training.resume_path(final), plan.checkpoint(e, done, head), done)

    training.run(tcfg, on_epoch=keep_milestone)
    missing = [str(plan.checkpoint(e, n, head)) for n in milestones if not plan.checkpoint(e, n, head).is_file()]
    if missing:
        raise DataError(f"{name}: the run resumed past {', '.join(missing)}; delete {training.resume_path(final)} "
                        f"and {final} and run again to make them")
    stages.finish(name, marker)


def save_milestone(last: Path, path: Path, epoch: int) -> None:
    """The resumable checkpoint just saved at ``epoch``, as the final checkpoint of a run of that many epochs."""
    from .model import load_checkpoint, save_atomic

    state = load_checkpoint(last)
    if int(state.get("epoch", -1)) != epoch:
        raise DataError(f"{last} holds epoch {state.get('epoch')}, not {epoch}: SAVE_EVERY must divide {epoch}")
    state.pop("optimizer", None)
    state["settings"] = dict(state["settings"], EPOCHS=epoch)
    save_atomic(state, path)
    print(f"saved {path} (the {epoch}-epoch checkpoint, on the way)")


def run_evaluation(plan: Plan, stages: Stages, e: int, epochs: int, split: str, head: str) -> None:
    cfg = plan.cfg
    ckpt = plan.checkpoint(e, epochs, head)
    flags = {"experiment": e, "epochs": epochs, "split": split, "data_dir": plan.data_dir(e), "checkpoint": ckpt,
             "results_dir": plan.results(e, epochs, split, head), "plots": False, "otb_root": plan.otb_root,
             "device": cfg.DEVICE}
    name = f"evaluate {e}/{epochs}/{split}" + ("/heatmap" if head == "heatmap" else "")
    marker = dict(_jsonable(flags), checkpoint_mtime=ckpt.stat().st_mtime if ckpt.is_file() else None,
                  cache=cache_marker(plan, e))
    if (plan.results(e, epochs, split, head) / "metrics.json").is_file() and stages.done(name, marker):
        return
    print(f"\n=== {name} ===", flush=True)
    evaluation.run(_stage_config(plan.scripts_dir, "evaluation.py", evaluation.CHECKS, flags))
    stages.finish(name, marker)


# ---- the estimate -----------------------------------------------------------

def window_counts(plan: Plan) -> dict[int, int]:
    """Training windows per experiment, from the OTB frame counts and the split rules."""
    from .datasets import get_dataset
    from .splits import plan_video

    otb = get_dataset("otb", plan.otb_root, strict=plan.strict)
    lengths = {n: len(otb[n]) for n in plan.names}
    drop = 1 if Behaviour.from_settings(plan.cfg).drop_last("coord") else 0
    out = {}
    for e in plan.experiments:
        frames = [len(plan_video(e, "train", n, lengths[n], plan.cfg.LABEL_EVERY).keep) for n in plan.splits(e)["train"]]
        out[e] = sum(max(0, n - plan.cfg.SEQ_LEN + 1 - drop) for n in frames)
    return out | {"frames": lengths}


TIMING_ROUNDS, TIMING_STEPS = 5, 10  # the estimate's training speed: the median of 5 timings of 10 steps


def time_training_step(feature_dim: int, cfg, head: str, device, rounds: int = TIMING_ROUNDS,
                       steps: int = TIMING_STEPS) -> float:
    """Seconds per training window on this machine now: the median of ``rounds`` timings of ``steps``
    Adam steps of the run's model size. The median steadies it against a moment of other work on the
    machine (one timing of 20 steps on a shared CPU swung from 7 to 95 ms), not against lasting load."""
    import torch

    from .model import ROLO, head_dims
    from .training import make_optimizer, masked_loss

    model = ROLO(feature_dim, cfg.HIDDEN, head).to(device)
    opt = make_optimizer(model, cfg.LR)
    box_in, out = head_dims(head)
    b = cfg.TRAIN_BATCH_SIZE
    x = torch.rand(b, cfg.SEQ_LEN, feature_dim + box_in, device=device)
    y = torch.rand(b, cfg.SEQ_LEN, out, device=device)
    m = torch.ones(b, cfg.SEQ_LEN, dtype=torch.bool, device=device)

    def step_seconds(n: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(n):
            loss = masked_loss(model(x), y, m, head)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - t0) / n

    step_seconds(3)  # warm-up: first-call allocations and kernel choices
    return float(np.median([step_seconds(steps) for _ in range(rounds)])) / b


def estimate(plan: Plan, store: DetectionStore) -> dict:
    """Frames to extract, windows to train and the seconds they should take here, measured on
    the first video's first batch and a few training steps; printed before any work starts."""
    from .device import resolve_device
    from .extractor import YOLOv8FeatureExtractor
    from .datasets import get_dataset

    cfg = plan.cfg
    counts = window_counts(plan)
    otb = get_dataset("otb", plan.otb_root, strict=plan.strict)
    todo = [otb[n] for n in plan.names if not store.has(otb[n])]
    frames_todo = sum(len(s) for s in todo)
    device = resolve_device(cfg.DEVICE)
    extractor = YOLOv8FeatureExtractor(cfg.WEIGHTS, device=device, imgsz=cfg.IMG_SIZE, conf=cfg.CONF, top_k=cfg.TOP_K)
    try:
        per_frame = 0.0
        if todo:
            sample = todo[0].frames[:cfg.BATCH_SIZE]
            extractor.extract_paths(sample, batch_size=cfg.BATCH_SIZE, progress=False)  # warm-up
            t0 = time.perf_counter()
            extractor.extract_paths(sample, batch_size=cfg.BATCH_SIZE, progress=False)
            per_frame = (time.perf_counter() - t0) / len(sample)
        feature_dim = extractor.feature_dim
    finally:
        getattr(extractor, "close", lambda: None)()
    per_window = time_training_step(feature_dim, cfg, "coord", device)
    epochs = plan.epochs[-1]
    train_windows = sum(counts[e] for e in plan.experiments)
    heat_windows = counts.get(3, 0) if cfg.HEATMAP and 3 in plan.experiments else 0
    per_window_heat = time_training_step(feature_dim, cfg, "heatmap", device) if heat_windows else 0.0
    # Evaluation: one forward per window, about a third of a training step, per checkpoint and split.
    eval_frames = sum(len(plan.splits(e)[s]) and sum(counts["frames"][n] for n in plan.splits(e)[s])
                      for e in plan.experiments for s in ("test", "eval"))
    seconds = {"extraction": frames_todo * per_frame,
               "training": train_windows * epochs * per_window + heat_windows * epochs * per_window_heat,
               "evaluation": eval_frames * len(plan.epochs) * per_window / 3}
    return {"frames_total": sum(counts["frames"].values()), "frames_to_extract": frames_todo,
            "seconds_per_frame": per_frame, "windows": {e: counts[e] for e in plan.experiments},
            "heatmap_windows": heat_windows, "seconds_per_window": per_window,
            "seconds_per_heatmap_window": per_window_heat, "epochs": epochs, "seconds": seconds,
            "device": str(device), "feature_dim": feature_dim}


def print_plan(plan: Plan, est: dict) -> None:
    cfg = plan.cfg
    print(f"\nplan ({plan.mode} mode: {Behaviour.from_settings(cfg).describe()}), results in {plan.root}:")
    print(f"  extract {len(plan.names)} videos once ({est['frames_total']} frames; {est['frames_to_extract']} not "
          f"yet in the shared store), then cut the caches of experiments {', '.join(map(str, plan.experiments))}")
    for e in plan.experiments:
        print(f"  train experiment {e}: {est['windows'][e]} windows x {est['epochs']} epochs, checkpoints at "
              f"{', '.join(map(str, plan.epochs))}")
    if est["heatmap_windows"]:
        print(f"  train ROLO-heatmap (experiment 3): {est['heatmap_windows']} windows x {est['epochs']} epochs")
    print(f"  evaluate {len(plan.evaluations())} checkpoint/split pairs, then write REPRODUCTION.md and .csv")
    s = est["seconds"]
    t = {k: training.duration(v) for k, v in s.items()}
    print(f"estimated time on {est['device']}: {training.duration(sum(s.values()))} (extraction {t['extraction']} "
          f"at {1000 * est['seconds_per_frame']:.1f} ms/frame, training {t['training']} at "
          f"{1000 * est['seconds_per_window']:.2f} ms/window, evaluation {t['evaluation']})\n"
          f"  measured on this machine just now (the first batch of frames; the median of {TIMING_ROUNDS} timings "
          f"of {TIMING_STEPS} training steps): other work running on it now or later moves it", flush=True)


# ---- the run ----------------------------------------------------------------

def plan_and_estimate(plan: Plan) -> tuple[DetectionStore, dict]:
    """The shared detection store (nothing written yet) and the estimate, printed with the plan."""
    store = DetectionStore(plan.root / "detections", plan.settings, plan.cfg.BATCH_SIZE)
    est = estimate(plan, store)
    print_plan(plan, est)
    return store, est


def run(cfg, scripts_dir: Path) -> dict:
    """Run (or resume) every stage; returns the tables' data, also written as REPRODUCTION.md/.csv."""
    t0 = time.perf_counter()
    if cfg.PLAN_ONLY:
        # Nothing is written under OUT_DIR; a quick run's shortened tree lives in a scratch folder meanwhile.
        with tempfile.TemporaryDirectory(prefix="rolo-plan-") as scratch:
            return {"plan": plan_and_estimate(Plan(cfg, scripts_dir, scratch=Path(scratch)))[1]}
    plan = Plan(cfg, scripts_dir)
    store, est = plan_and_estimate(plan)
    stages = Stages(plan.mode_dir / "stages")
    cache_stages = Stages(plan.root / "stages", shared=stages)
    clock = {}
    for e in plan.experiments:
        t = time.perf_counter()
        run_extraction(plan, cache_stages, store, e)
        clock[f"extract {e}"] = time.perf_counter() - t
    for e in plan.experiments:
        t = time.perf_counter()
        run_training(plan, stages, e)
        clock[f"train {e}"] = time.perf_counter() - t
    if cfg.HEATMAP and 3 in plan.experiments:
        t = time.perf_counter()
        run_training(plan, stages, 3, "heatmap")
        clock["train 3 heatmap"] = time.perf_counter() - t
    t = time.perf_counter()
    for e, n, split, head in plan.evaluations():
        run_evaluation(plan, stages, e, n, split, head)
    clock["evaluate"] = time.perf_counter() - t
    from .reproduction_tables import write_reproduction

    result = write_reproduction(plan, est, clock, store.runs, stages)
    print(f"\nstages run: {len(stages.ran)}, skipped as finished: {len(stages.skipped)}"
          + (f" ({', '.join(stages.skipped)})" if stages.skipped else "")
          + f"; YOLO passes this run: {store.runs}; {time.perf_counter() - t0:.0f} s")
    return result
