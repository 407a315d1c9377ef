"""Running the same scripts under ``torchrun``: rank, world size, process group, rank-0 output.

``torchrun`` (``python -m torch.distributed.run``) starts one process per rank and
tells each its place through the environment: ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` (and ``MASTER_ADDR``/``MASTER_PORT`` for the rendezvous). Without
those variables a script is one process of a world of one, and nothing here does
anything: no process group, no barrier, every print shown.

Inside :func:`session` a world of several ranks has a process group: NCCL when
the run's device is CUDA (each rank on ``cuda:LOCAL_RANK``), gloo on CPU. The
group is torn down when the block ends, even on an error.

Work is split by :func:`assign_balanced` (longest-first greedy): deterministic,
so every rank computes the same plan from the same list without talking.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of a run (a world of one without torchrun)."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"environment variable {name}={text!r} is not an integer (set by torchrun)") from None


def world() -> World:
    """This process's :class:`World`, read from torchrun's environment variables."""
    w = World(rank=_env_int("RANK", 0), world_size=_env_int("WORLD_SIZE", 1), local_rank=_env_int("LOCAL_RANK", 0),
              local_world_size=_env_int("LOCAL_WORLD_SIZE", 1))
    if w.world_size < 1 or not 0 <= w.rank < w.world_size:
        raise ConfigError(f"RANK={w.rank} and WORLD_SIZE={w.world_size} from the environment are inconsistent")
    return w


def is_main() -> bool:
    """True on rank 0, and always without torchrun."""
    return world().is_main


def rank_device(device):
    """The torch device this rank runs on: ``device`` as resolved by :func:`rolo.device.resolve_device`,
    with CUDA pinned to ``cuda:LOCAL_RANK`` when several ranks run (each GPU one rank)."""
    import torch

    from .device import resolve_device

    dev = resolve_device(device)
    w = world()
    if w.distributed and dev.type == "cuda":
        if w.local_rank >= torch.cuda.device_count():
            raise ConfigError(f"LOCAL_RANK {w.local_rank} but only {torch.cuda.device_count()} CUDA device(s) on "
                              f"this node: start at most that many processes per node (--nproc_per_node)")
        dev = torch.device("cuda", w.local_rank)
        torch.cuda.set_device(dev)
    return dev


@contextlib.contextmanager
def session(device):
    """Yield :class:`World`; with several ranks, a process group for the block (NCCL on CUDA, else gloo).

    ``device`` is the resolved torch device of this rank (:func:`rank_device`). A
    group that is already initialised (a caller's) is used and left alone.
    """
    w = world()
    if not w.distributed:
        yield w
        return
    import torch.distributed as dist

    if dist.is_initialized():
        yield w
        return
    if device.type == "cuda":
        try:  # binding the group to this rank's GPU (torch >= 2.3) lets NCCL set up its communicator at once
            dist.init_process_group(backend="nccl", device_id=device)
        except TypeError:
            dist.init_process_group(backend="nccl")
    else:
        dist.init_process_group(backend="gloo")
    try:
        yield w
    finally:
        dist.destroy_process_group()


def active() -> bool:
    """A process group of several ranks is up."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    """Wait for every rank (nothing without a process group)."""
    if active():
        import torch.distributed as dist

        dist.barrier()


def all_gather_objects(obj) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` (``[obj]`` without a process group). Objects are pickled."""
    if not active():
        return [obj]
    import torch.distributed as dist

    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, src: int = 0):
    """Rank ``src``'s ``obj`` on every rank."""
    if not active():
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_reduce_sum(tensor):
    """Sum ``tensor`` over ranks, in place; returns it."""
    if active():
        import torch.distributed as dist

        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


@contextlib.contextmanager
def quiet_unless_main():
    """Within the block, stdout of ranks other than 0 is discarded (settings tables, summaries);
    stderr, where errors go, is kept on every rank."""
    if is_main():
        yield
        return
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


def show_progress(progress: bool = True) -> bool:
    """Progress bars on rank 0 only (each rank's bar would overwrite the others')."""
    return progress and is_main()


def assign_balanced(sizes, world_size: int) -> list[list[int]]:
    """Indices of ``sizes`` split into ``world_size`` lists of nearly equal total size.

    Longest first, each to the rank with the least so far (ties: the lower index,
    then the lower rank), so the plan depends only on ``sizes``: every rank computes
    the same one. Each rank's list is returned in ascending index order.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    loads = [0] * world_size
    parts: list[list[int]] = [[] for _ in range(world_size)]
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        r = min(range(world_size), key=lambda r: (loads[r], r))
        parts[r].append(i)
        loads[r] += sizes[i]
    return [sorted(p) for p in parts]


def my_share(items, sizes, w: World | None = None) -> list:
    """The items of ``items`` this rank handles under :func:`assign_balanced`."""
    w = w or world()
    return [items[i] for i in assign_balanced(list(sizes), w.world_size)[w.rank]]


def launch_command(nproc: int, script, args=()) -> list[str]:
    """The command line that runs ``script`` as ``nproc`` ranks on this machine:
    ``python -m torch.distributed.run --standalone --nproc_per_node N script args``
    (what the ``torchrun`` executable runs; the module form needs no PATH entry)."""
    import sys

    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
            str(script), *map(str, args)]
