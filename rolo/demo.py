"""The whole pipeline on a synthetic benchmark: no GPU, no network, no OTB.

Five stages, each through the package code that the top-level scripts run,
with a :class:`~rolo.config.Config` built from that script's own constants
(``runpy`` of the script, then :func:`rolo.config.from_script` with the
demo's overrides as flags), so the demo exercises the real pipeline:

1. :func:`rolo.synthetic.make_benchmark` writes an OTB-layout benchmark
   (moving target, scale change, partial occlusion, motion blur, a
   distractor) and :func:`rolo.synthetic.demo_split` splits it into train,
   test and eval, mapped onto the experiment's N_TRAIN / N_TEST;
2. ``finetune_yolo.py`` fine-tunes the detector on the training split
   (from ``yolov8s.pt`` when it can be had, else from FALLBACK_WEIGHTS,
   untrained, with a note);
3. ``dataloader*.py`` extracts features and boxes with the fine-tuned weights;
4. ``train*.py`` trains the ROLO LSTM;
5. ``evaluation.py`` scores the test and eval splits, prints the AOS table
   and writes the plots.

The closing summary puts the ROLO LSTM (online: one prediction per frame)
beside the raw detector boxes on the same frames and beside those boxes plus
the training split's mean offset (what a constant correction, without
memory, gets), with the time of each stage; ``<OUT_DIR>/summary.json`` holds
the same numbers.
"""
from __future__ import annotations

import json
import os
import runpy
import time
from pathlib import Path

from . import cache, config, splits, synthetic

CHECKS = {
    "N_SEQUENCES": config.at_least(3),
    "FRAMES": config.at_least(8),
    "FRAME_WIDTH": config.at_least(32),
    "FRAME_HEIGHT": config.at_least(32),
    "EXPERIMENT": splits.check_experiment,
    "FT_EPOCHS": config.at_least(1),
    "FT_IMG_SIZE": config.at_least(32),
    "FT_BATCH_SIZE": config.at_least(1),
    "FT_WARMUP_EPOCHS": config.at_least(0),
    "IMG_SIZE": config.at_least(32),
    "CONF": config.between(0.0, 1.0),
    "LSTM_EPOCHS": config.at_least(1),
    "LSTM_BATCH_SIZE": config.at_least(1),
    "LSTM_LR": config.between(1e-12, 10.0),
    "LSTM_HIDDEN": config.at_least(1),
    "LSTM_INPUTS": config.choices("feature+box", "box"),
    "THREADS": config.at_least(0),
}

#: The script of each stage, per experiment (they differ in constants only).
DATALOADER_SCRIPTS = {1: "dataloader.py", 2: "dataloader_exp2.py", 3: "dataloader_exp3.py"}
TRAIN_SCRIPTS = {1: "train.py", 2: "train.py", 3: "train_exp3.py"}
STAGES = ("benchmark", "fine-tune", "extraction", "LSTM training", "evaluation")


def main(script_globals, argv=None):
    cfg = config.from_script(script_globals, argv, checks=CHECKS)
    # Read by Ultralytics when first imported, i.e. later than here.
    os.environ.setdefault("YOLO_VERBOSE", str(cfg.VERBOSE))
    from .finetune import offline_environment

    offline_environment()
    cfg.show("demo settings")
    return run(cfg, scripts_dir=Path(script_globals.get("__file__", "demo.py")).resolve().parent)


def stage_config(scripts_dir: Path, script: str, checks: dict, flags: dict) -> config.Config:
    """The Config a top-level script would build from its constants and ``flags`` (name -> value)."""
    path = scripts_dir / script
    if not path.is_file():
        raise config.ConfigError(f"the demo runs the pipeline scripts next to it, but {path} is missing")
    consts = runpy.run_path(str(path), run_name="not_main")
    argv = [a for k, v in flags.items() for a in (f"--{k}", str(v))]
    return config.from_script(consts, argv, checks=checks)


class _Clock:
    """Stage banners and wall-clock seconds per stage."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.seconds: dict[str, float] = {}
        self._start = None

    def start(self, stage: str) -> None:
        self._start = (stage, time.perf_counter())
        n = STAGES.index(stage) + 1
        print(f"\n=== [{n}/{len(STAGES)}] {stage} ({time.perf_counter() - self.t0:.0f}s elapsed) ===", flush=True)

    def stop(self) -> None:
        stage, t = self._start
        self.seconds[stage] = time.perf_counter() - t

    @property
    def total(self) -> float:
        return time.perf_counter() - self.t0


def make_split(cfg, out: Path) -> tuple[Path, dict]:
    root = out / "otb"
    names = synthetic.make_benchmark(root, n_sequences=cfg.N_SEQUENCES, frames=cfg.FRAMES,
                                     size=(cfg.FRAME_WIDTH, cfg.FRAME_HEIGHT), seed=cfg.SEED, overwrite=True)
    split = synthetic.demo_split(names)
    attrs = synthetic.sequence_attributes(root)
    print(f"synthetic benchmark {root}: {len(names)} sequences of {cfg.FRAMES} frames, "
          f"{cfg.FRAME_WIDTH}x{cfg.FRAME_HEIGHT}")
    for part, members in split.items():
        print(f"  {part:5s} " + ", ".join(f"{n} ({' '.join(attrs[n]['tags'])})" for n in members))
    return root, split


def fine_tune(cfg, scripts_dir: Path, common: dict) -> tuple[Path, str]:
    """Fine-tune from WEIGHTS, or from FALLBACK_WEIGHTS when WEIGHTS cannot be had; (weights, base used)."""
    from . import finetune
    from .extractor import WeightsError

    flags = dict(common, work_dir=Path(cfg.OUT_DIR) / "yolo", epochs=cfg.FT_EPOCHS, img_size=cfg.FT_IMG_SIZE,
                 batch_size=cfg.FT_BATCH_SIZE, warmup_epochs=cfg.FT_WARMUP_EPOCHS, seed=cfg.SEED,
                 workers=0, cache="ram", val="false")
    for base in dict.fromkeys([cfg.WEIGHTS, cfg.FALLBACK_WEIGHTS]):
        ft = stage_config(scripts_dir, "finetune_yolo.py", finetune.CHECKS, dict(flags, weights=base))
        try:
            return finetune.run(ft)["weights"], base
        except WeightsError as e:
            if base == cfg.FALLBACK_WEIGHTS:
                raise
            first = str(e).splitlines()[0]
            print(f"\nNOTE: {first}\nNOTE: starting instead from {cfg.FALLBACK_WEIGHTS}, an untrained network: "
                  f"the demo still works, since fine-tuning on its training split teaches the target from scratch.\n")
    raise AssertionError("unreachable")


def set_threads(threads: int) -> int:
    """Give torch ``threads`` CPU threads (0: CPU count - 1, at least 1) for every stage.

    Ultralytics' CPU trainer sets CPU count - 1 anyway, and leaves it so for
    whatever runs after it; the demo picks that number up front so that all
    stages run alike. On a busy 2-core machine it matters: two threads that
    wait for each other at every operation ran the LSTM stage 20-40x slower
    than one thread did.
    """
    import torch

    n = threads or max(1, (os.cpu_count() or 1) - 1)
    torch.set_num_threads(n)
    return n


def run(cfg, scripts_dir) -> dict:
    """Run the five stages; return the summary also written to ``<OUT_DIR>/summary.json``."""
    from . import evaluation, extraction, training

    scripts_dir = Path(scripts_dir)
    out = Path(cfg.OUT_DIR)
    print(f"torch CPU threads: {set_threads(cfg.THREADS)}")
    clock = _Clock()

    clock.start("benchmark")
    root, split = make_split(cfg, out)
    clock.stop()
    common = dict(otb_root=root, list_file=root / synthetic.LIST_FILE, experiment=cfg.EXPERIMENT,
                  n_train=len(split["train"]), n_test=len(split["test"]), device=cfg.DEVICE)

    clock.start("fine-tune")
    weights, base = fine_tune(cfg, scripts_dir, common)
    clock.stop()

    clock.start("extraction")
    data_dir = out / "data"
    # Always re-extracted: cheap here, and the weights file may have been retrained in place.
    ex = stage_config(scripts_dir, DATALOADER_SCRIPTS[cfg.EXPERIMENT], extraction.CHECKS,
                      dict(common, out_dir=data_dir, weights=weights, img_size=cfg.IMG_SIZE, conf=cfg.CONF,
                           overwrite="true"))
    extraction.run(ex)
    clock.stop()

    clock.start("LSTM training")
    ckpt_dir = out / "checkpoints"
    tr = stage_config(scripts_dir, TRAIN_SCRIPTS[cfg.EXPERIMENT], training.CHECKS,
                      dict(experiment=cfg.EXPERIMENT, data_dir=data_dir, checkpoint_dir=ckpt_dir,
                           epochs=cfg.LSTM_EPOCHS, batch_size=cfg.LSTM_BATCH_SIZE, lr=cfg.LSTM_LR,
                           hidden=cfg.LSTM_HIDDEN, inputs=cfg.LSTM_INPUTS, residual=cfg.LSTM_RESIDUAL,
                           seed=cfg.SEED, device=cfg.DEVICE, cache_mode="ram"))
    # The demo trains afresh on the cache it has just cut: a killed demo's resumable state is another run's,
    # and training refuses to overwrite it unasked.
    training.resume_path(training.checkpoint_path(ckpt_dir, tr.EXPERIMENT, tr.EPOCHS, tr.HEAD)).unlink(missing_ok=True)
    checkpoint = training.run(tr)
    clock.stop()

    clock.start("evaluation")
    results = {}
    for part in ("test", "eval"):
        ev = stage_config(scripts_dir, "evaluation.py", evaluation.CHECKS,
                          dict(experiment=cfg.EXPERIMENT, epochs=cfg.LSTM_EPOCHS, split=part, data_dir=data_dir,
                               checkpoint=checkpoint, results_dir=out / "results" / part, otb_root=root,
                               plots=cfg.PLOTS, device=cfg.DEVICE))
        print(f"\n--- {part} split ---")
        results[part] = evaluation.run(ev)
    clock.stop()

    summary = summarize(cfg, results, base, weights, checkpoint, clock)
    cache.write_text_atomic(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    print_summary(summary)
    return summary


def summarize(cfg, results: dict, base: str, weights: Path, checkpoint: Path, clock: _Clock) -> dict:
    out = Path(cfg.OUT_DIR)
    splits = {}
    for part, r in results.items():
        yolo = r["variants"]["yolo"]["mean"]
        splits[part] = {"rolo_aos": r["mean"]["aos"], "yolo_aos": yolo["aos"],
                        "offset_aos": r["variants"]["yolo+offset"]["mean"]["aos"], "frames": r["mean"]["frames"],
                        "videos": list(r["videos"]), "metrics": str(out / "results" / part / "metrics.json")}
    plots = sorted(str(p) for p in (out / "results").glob("*/*.png"))
    return {"base_weights": base, "fine_tuned_weights": str(weights), "checkpoint": str(checkpoint),
            "splits": splits, "seconds": {k: round(v, 1) for k, v in clock.seconds.items()},
            "total_seconds": round(clock.total, 1), "plots": plots}


def verdict(s: dict) -> str:
    """What the LSTM added on the test split, whichever way it went, and how much of it a constant
    correction of the detector's boxes also gives."""
    m = s["splits"]["test"]
    gain, constant = m["rolo_aos"] - m["yolo_aos"], m["offset_aos"] - m["yolo_aos"]
    if gain <= -0.0005:
        return (f"On the test split the detector's own boxes are {-gain:.3f} AOS better than the ROLO LSTM's: "
                f"the LSTM adds no accuracy over this detector (README, 'The demo').")
    if gain < 0.0005:
        return "On the test split the ROLO LSTM and the detector's own boxes score the same AOS."
    text = (f"On the test split the ROLO LSTM improves on the detector's own boxes by {gain:+.3f} AOS; a "
            f"constant correction learned on the same training frames gives {constant:+.3f}")
    if gain - constant >= 0.0005:
        return text + f", so {gain - constant:+.3f} comes from the LSTM's window of earlier frames."
    return text + (", so here the LSTM's gain is the detector's systematic bias, which it learned, "
                   "not its memory of earlier frames.")


def print_summary(s: dict) -> None:
    print("\n=== demo summary ===")
    print(f"detector: {s['base_weights']} fine-tuned on the training split -> {s['fine_tuned_weights']}")
    print(f"{'split':6s} {'frames':>6s}  {'ROLO LSTM AOS':>13s}  {'YOLO boxes AOS':>14s}  {'ROLO - YOLO':>11s}  "
          f"{'YOLO + offset':>13s}")
    for part, m in s["splits"].items():
        print(f"{part:6s} {m['frames']:6d}  {m['rolo_aos']:13.3f}  {m['yolo_aos']:14.3f}  "
              f"{m['rolo_aos'] - m['yolo_aos']:+11.3f}  {m['offset_aos']:13.3f}")
    print("  ROLO LSTM: the tracker's online box on each frame; YOLO boxes: the fine-tuned detector's most")
    print("  confident box on the same frames, no LSTM; YOLO + offset: those boxes plus the training frames'")
    print("  mean (ground truth - detector) offset, a constant correction without memory. AOS = mean IoU.")
    print(verdict(s))
    times = ", ".join(f"{k} {v:.0f}s" for k, v in s["seconds"].items())
    print(f"time: {times}; total {s['total_seconds']:.0f}s")
    if s["plots"]:
        print("plots: " + ", ".join(s["plots"]))
    print("next: README, 'On OTB in three steps' (the same stages on OTB-100)")
