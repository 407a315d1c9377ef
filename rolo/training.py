"""Stage 2: train the ROLO LSTM on a cached experiment's training windows.

MSE on every labelled step of each SEQ_LEN window (experiment 3 masks the
unlabelled frames out of the loss), Adam, seeded. The epoch's shuffle comes
from a generator seeded by (SEED, epoch), so a run resumed from a saved epoch
continues exactly as an uninterrupted one: on CPU the final weights are equal.

Under ``torchrun`` the same run is data-parallel (DistributedDataParallel):
BATCH_SIZE stays the global batch, each rank takes its contiguous share of
every global batch of the (SEED, epoch) shuffle, and the loss is normalised by
the labelled steps of the whole global batch, so the summed gradient is the
single-process one and 2 ranks end an epoch with one process's weights (to
float rounding). Rank 0 alone prints and writes checkpoints.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from . import cache, config, distributed, reportcode, splits
from .datasets import DATASETS
from .device import resolve_device  # noqa: F401  (re-exported: rolo.training.resolve_device)
from .errors import DataError
from .model import HEADS, INPUTS, ROLO, load_checkpoint, save_atomic
from .reportcode import SWITCHES, Behaviour
from .windows import make_store

CHECKS = {
    "EXPERIMENT": splits.check_experiment,
    "EPOCHS": config.at_least(1),
    "SEQ_LEN": config.at_least(1),
    "BATCH_SIZE": config.at_least(1),
    "LR": config.between(1e-12, 10.0),
    "HIDDEN": config.at_least(1),
    "SAVE_EVERY": config.at_least(1),
    "HEAD": config.choices(*HEADS),
    "INPUTS": config.choices(*INPUTS),
    "CACHE_MODE": config.choices("auto", "ram", "mmap"),
    "SELECT": config.choices("confidence", "target"),
    "DATASET": config.choices(*DATASETS),
}


def checkpoint_path(checkpoint_dir, experiment: int, epochs: int, head: str = "coord") -> Path:
    """The report's name ``rolo_lstm_exp{E}_{EPOCHS}.pth`` (``rolo_heatmap_...`` for the heatmap head)."""
    kind = "lstm" if head == "coord" else "heatmap"
    return Path(checkpoint_dir) / f"rolo_{kind}_exp{experiment}_{epochs}.pth"


def resume_path(final: Path) -> Path:
    return final.with_name(final.stem + ".last.pth")


def step_loss(out: torch.Tensor, y: torch.Tensor, head: str) -> torch.Tensor:
    """(B, L) per-step loss. The heatmap head outputs logits; the sigmoid is applied here, once."""
    if head == "heatmap":
        out = torch.sigmoid(out)
    return ((out - y) ** 2).mean(-1)


def masked_loss(out, y, m, head: str) -> torch.Tensor:
    """Mean of :func:`step_loss` over labelled steps; no host sync (mask used as weights)."""
    w = m.to(out.dtype)
    return (step_loss(out, y, head) * w).sum() / w.sum().clamp_min(1.0)


def load_training_videos(cfg):
    videos = cache.read_planned_split(cfg.DATA_DIR, "train", dataset=cfg.get("DATASET"))
    cache.require_experiment(videos, cfg.EXPERIMENT, f"{cfg.DATA_DIR}/train")
    return videos


def select_boxes(videos, rule: str):
    """Per-video detector boxes under a detection-choice rule (None = the cached default)."""
    if rule == "confidence":
        return None
    from .select import boxes_for_videos
    return boxes_for_videos(videos, rule)


def make_optimizer(model, lr: float) -> torch.optim.Adam:
    """Adam with torch's fused kernel (one pass over the weights per step, where torch supports
    it for the device), else the multi-tensor one. Batch-1 steps are short, so the optimizer's
    passes over the 2M weights are a large share of each."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except RuntimeError:  # a device without the fused kernel
        return torch.optim.Adam(model.parameters(), lr=lr, foreach=True)


def train_epoch(model, opt, store, perm: torch.Tensor, batch_size: int, head: str, progress: bool = True,
                desc: str | None = None, shard: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """One pass over the windows ``perm`` (B,) of ``store``, ``batch_size`` per step.

    Returns the mean of the steps' losses as a 0-d tensor on the device: the
    loop itself never waits for the device (no per-step ``.item()``).

    ``shard`` = (rank, world size): ``model`` is a DistributedDataParallel and this
    rank runs part ``rank`` of each global batch cut in ``world size`` contiguous
    parts (:func:`shard_loss`); the returned mean is then summed over ranks.
    On CPU the LSTM runs on torch's native kernels rather than oneDNN's RNN
    primitive, whose forward and backward are slower at ROLO's sizes
    (about 2x per batch-1 step, and 1.0-1.2x at batch 16-256; bench.py).
    """
    model.train()
    total = torch.zeros((), device=perm.device)
    batches = range(0, len(perm), batch_size)
    onednn = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = onednn and perm.device.type != "cpu"
    rank, world_size = shard
    try:
        for i in tqdm(batches, desc=desc, leave=False, disable=not progress, mininterval=1.0):
            ids = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            if world_size == 1:
                x, y, m = store.batch(ids)
                loss = masked_loss(model(x), y, m, head)
                loss.backward()
            else:
                loss = shard_loss(model, store, ids, rank, world_size, head)
                # DDP averages the ranks' gradients; each rank's share is already normalised by the
                # global count, so the sum is wanted: scale by the world size.
                (loss * world_size).backward()
            opt.step()
            total += loss.detach()
    finally:
        torch.backends.mkldnn.enabled = onednn
    if world_size > 1:
        distributed.all_reduce_sum(total)
    return total / len(batches)


def shard_loss(model, store, ids: torch.Tensor, rank: int, world_size: int, head: str) -> torch.Tensor:
    """This rank's part of :func:`masked_loss` over the global batch ``ids`` (B,).

    The rank takes part ``rank`` of ``ids`` cut into ``world_size`` contiguous parts
    and divides its masked sum by the labelled steps of ALL of ``ids``: the parts
    of all ranks add up to the single-process loss, and so do their gradients.
    A rank whose part is empty (a last batch smaller than the world) runs one
    window at weight 0, so that it still joins DDP's gradient reduction.
    """
    mine = ids.tensor_split(world_size)[rank]
    empty = len(mine) == 0
    x, y, m = store.batch(ids[:1] if empty else mine)
    w = m.to(torch.float32) * (0.0 if empty else 1.0)
    out = model(x)
    count = store.labelled_steps(ids).clamp_min(1.0)
    return (step_loss(out, y, head) * w.to(out.dtype)).sum() / count


def main(script_globals, argv=None):
    cfg = config.from_script(script_globals, argv, checks=CHECKS)
    with distributed.quiet_unless_main():
        cfg.show("training settings")
    return run(cfg)


def check_options(cfg) -> None:
    """Settings that are valid alone but not together."""
    reportcode.check_given(cfg)
    if cfg.RESIDUAL and cfg.HEAD != "coord":
        raise config.ConfigError(f"--residual true adds a correction to the detector's box, which needs "
                                 f"--head coord (this run has --head {cfg.HEAD})")


def run(cfg, progress: bool = True, on_epoch=None) -> Path:
    """Train and return the final checkpoint's path.

    ``on_epoch(epoch, model)``, when given, is called after every epoch (1-based
    count of epochs done); it may evaluate the model (bench.py's time-to-AOS
    measurement) but must not change its weights. The next epoch sets training
    mode again. Under torchrun it runs on every rank.
    """
    check_options(cfg)
    device = distributed.rank_device(cfg.DEVICE)
    with distributed.session(device) as world, distributed.quiet_unless_main():
        return _train(cfg, device, world, distributed.show_progress(progress), on_epoch)


def _train(cfg, device, world, progress, on_epoch) -> Path:
    final = checkpoint_path(cfg.CHECKPOINT_DIR, cfg.EXPERIMENT, cfg.EPOCHS, cfg.HEAD)
    last = resume_path(final)
    if not cfg.RESUME:  # before the cache is read and checked, which may take long
        # Rank 0 reads the file and every rank takes its verdict, so that all stop or all go on together.
        refusal = distributed.broadcast_object(fresh_start_refusal(last, cfg.EPOCHS) if world.is_main else None)
        if refusal:
            raise DataError(refusal)
    videos = load_training_videos(cfg)
    feature_dim = videos[0].meta["feature_dim"]
    # Each rank of a node holds its own RAM copy: "auto" shares the free memory among them.
    behaviour = Behaviour.from_settings(cfg)
    store = make_store(videos, cfg.SEQ_LEN, head=cfg.HEAD, device=device, mode=cfg.CACHE_MODE,
                       boxes=select_boxes(videos, cfg.SELECT), ram_fraction=0.5 / world.local_world_size,
                       behaviour=behaviour)
    n = len(store)
    if n == 0:
        raise DataError(f"{cfg.DATA_DIR}/train has no labelled window of SEQ_LEN={cfg.SEQ_LEN} frames")
    cache.ensure_writable(cfg.CHECKPOINT_DIR, "--checkpoint_dir")
    extraction = cache.extraction_settings(videos[0])

    torch.manual_seed(cfg.SEED)
    model = ROLO(feature_dim, cfg.HIDDEN, cfg.HEAD, cfg.INPUTS, cfg.RESIDUAL).to(device)
    opt = make_optimizer(model, cfg.LR)
    net, shard = model, (world.rank, world.world_size)
    history, start, saved = [], 0, None
    if cfg.RESUME and last.is_file():
        state = load_checkpoint(last, map_location=device)
        _check_resumable(state, cfg, feature_dim, last, extraction)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history, start = list(state["loss_history"]), int(state["epoch"])
        saved = start
        print(f"resuming from {last} at epoch {start}/{cfg.EPOCHS}"
              + (f" (saved by {state['world_size']} ranks)" if state.get("world_size", 1) != world.world_size else ""))
    elif cfg.RESUME:
        print(f"--resume true but no {last}; starting from epoch 0")
    if world.distributed:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        print(f"DistributedDataParallel over {world.world_size} ranks: global batch {cfg.BATCH_SIZE}, "
              f"about {-(-cfg.BATCH_SIZE // world.world_size)} windows per rank per step")

    print(f"{len(videos)} videos, {sum(len(v) for v in videos)} frames, {n} windows of {cfg.SEQ_LEN}; "
          f"{type(store).__name__} on {device}; {behaviour.describe()}")
    t0 = time.perf_counter()
    try:
        for epoch in range(start, cfg.EPOCHS):
            t_epoch = time.perf_counter()
            g = torch.Generator().manual_seed(cfg.SEED * 1_000_003 + epoch)
            perm = torch.randperm(n, generator=g).to(device)
            epoch_loss = train_epoch(net, opt, store, perm, cfg.BATCH_SIZE, cfg.HEAD, progress=progress,
                                     desc=f"epoch {epoch + 1}/{cfg.EPOCHS}", shard=shard).item()
            if not all(distributed.all_gather_objects(math.isfinite(epoch_loss))):  # every rank stops together
                raise DataError(nonfinite_loss_message(epoch_loss, epoch + 1, last, saved))
            history.append(epoch_loss)
            done = epoch + 1
            print(f"epoch {done:4d}/{cfg.EPOCHS}  loss {epoch_loss:.6f}  "
                  f"({epoch_timing(time.perf_counter(), t_epoch, t0, done - start, cfg.EPOCHS - done)})")
            if done % cfg.SAVE_EVERY == 0 or done == cfg.EPOCHS:
                if world.is_main:
                    save_atomic(_state(model, opt, cfg, feature_dim, history, done, extraction, world), last)
                saved = done
            if on_epoch is not None:
                on_epoch(done, model)
        if world.is_main:
            save_atomic(_state(model, None, cfg, feature_dim, history, cfg.EPOCHS, extraction, world), final)
    except KeyboardInterrupt:
        # cli.run prints the message after "interrupted": what was kept, and how to go on from it.
        raise KeyboardInterrupt(interrupted_message(last, saved, cfg.EPOCHS, cfg.SAVE_EVERY)) from None
    distributed.barrier()  # no rank returns a path that rank 0 has not written yet
    print(f"saved {final}")
    return final


def epoch_timing(now: float, t_epoch: float, t0: float, epochs_run: int, epochs_left: int) -> str:
    """"0.15 s, 4.4 s elapsed, ~3 s left": this epoch's seconds, the run's so far (this process's: a
    resumed run counts from its restart) and the rest at the mean pace of the epochs run so far."""
    elapsed = now - t0
    text = f"{now - t_epoch:.2f} s, {elapsed:.1f} s elapsed"
    if epochs_left:
        text += f", ~{duration(elapsed / epochs_run * epochs_left)} left"
    return text


def duration(seconds: float) -> str:
    """A rounded time for people: "42 s", "17 min", "2.5 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def fresh_start_refusal(last: Path, epochs: int) -> str | None:
    """Why a run without --resume must not start: ``last`` holds an unfinished run (or cannot be read),
    and starting over would overwrite it at the first save. None when nothing would be lost (no file, or
    a finished run, whose weights are also in the final checkpoint; that is said, then replaced)."""
    if not last.is_file():
        return None
    ways = "pass --resume true to continue it, or delete it or pass another --checkpoint_dir to start over"
    try:
        held = int(load_checkpoint(last)["epoch"])
    except (DataError, KeyError, TypeError, ValueError) as e:
        return f"{last} is there but cannot be resumed ({e}); delete it or pass another --checkpoint_dir"
    if held < epochs:
        return (f"{last} holds an unfinished run at epoch {held}/{epochs}, which this run would overwrite: {ways}")
    print(f"note: {last} holds a finished run ({held}/{epochs} epochs); this run starts over and replaces it")
    return None


def interrupted_message(last: Path, saved: int | None, epochs: int, save_every: int) -> str:
    if saved is None:
        return (f"no resumable checkpoint of this run was saved yet (one every --save_every {save_every} epochs), "
                f"so nothing of it is kept")
    return f"{last} holds epoch {saved}/{epochs}; the same command with --resume true continues from epoch {saved}"


def nonfinite_loss_message(loss: float, epoch: int, last: Path, saved: int | None) -> str:
    """Why training stopped at a NaN or infinite loss, and what is still good."""
    kept = (f"{last} still holds epoch {saved}, the last good state (--resume true continues from it)"
            if saved is not None else "no checkpoint was saved before it")
    return (f"the training loss became {loss} in epoch {epoch}: the weights are no longer numbers, so training "
            f"stopped without saving them; {kept}. Try a lower --lr; the cache itself was checked for NaN and inf "
            f"when it was read")


def _state(model, opt, cfg, feature_dim, history, epoch, extraction, world=None) -> dict:
    """``extraction``: the cache's extraction settings, so that evaluation and resuming can refuse features
    made another way (same dimension, other weights or image size). ``world_size``: the ranks that trained
    it (informative: a run resumes with any number, BATCH_SIZE being the global batch)."""
    s = {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
         "model_info": model.describe(), "settings": dict(cfg), "experiment": cfg.EXPERIMENT,
         "seq_len": cfg.SEQ_LEN, "feature_dim": feature_dim, "loss_history": list(history), "epoch": epoch,
         "extraction": extraction, "world_size": world.world_size if world is not None else 1}
    if opt is not None:
        s["optimizer"] = opt.state_dict()
    return s


def _check_resumable(state, cfg, feature_dim, path, extraction):
    s = state.get("settings", {})
    for key in ("EXPERIMENT", "SEQ_LEN", "BATCH_SIZE", "LR", "SEED", "HEAD", "HIDDEN", "EPOCHS", "SELECT", "INPUTS",
                "RESIDUAL", *SWITCHES):
        if key in s and key in cfg and s[key] != cfg[key]:
            raise DataError(f"cannot resume from {path}: it was trained with {key}={s[key]!r}, "
                            f"this run has {cfg[key]!r} (use the same settings or --resume false)")
    made_on = s.get("DATA_DIR")
    if made_on is not None and Path(made_on).resolve() != Path(cfg.DATA_DIR).resolve():
        raise DataError(f"cannot resume from {path}: it was trained on --data_dir {made_on}, this run has "
                        f"--data_dir {cfg.DATA_DIR} (resume on the same cache, or --resume false)")
    if state.get("feature_dim") != feature_dim:
        raise DataError(f"cannot resume from {path}: feature dimension {state.get('feature_dim')} "
                        f"but the cache has {feature_dim}")
    for key, have in (state.get("extraction") or {}).items():
        if extraction.get(key) != have:
            raise DataError(f"cannot resume from {path}: it was trained on a cache extracted with {key}={have!r}, "
                            f"but {cfg.DATA_DIR}/train was extracted with {extraction.get(key)!r}")
