"""torchrun: the scripts run as N ranks and give the single-process results.

Fast tests check the pieces in one process (the environment read, the work
plan, the sharded loss's arithmetic). The slow ones start real 2-rank runs of
the real scripts with ``python -m torch.distributed.run --standalone`` on CPU
(gloo) and compare their outputs with a 1-process run's.
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from rolo import distributed, training
from rolo.errors import ConfigError
from rolo.synthetic_cache import write_synthetic_cache
from rolo.windows import make_store

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_world_without_torchrun_is_one_process(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    w = distributed.world()
    assert (w.rank, w.world_size, w.local_rank, w.is_main, w.distributed) == (0, 1, 0, True, False)
    with distributed.session(torch.device("cpu")) as w2:
        assert w2 == w and not distributed.active()
        distributed.barrier()  # a no-op, not a hang
        assert distributed.all_gather_objects({"a": 1}) == [{"a": 1}]


def test_world_from_torchrun_environment(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    w = distributed.world()
    assert (w.rank, w.world_size, w.local_rank, w.local_world_size, w.is_main) == (3, 4, 1, 2, False)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ConfigError, match="inconsistent"):
        distributed.world()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ConfigError, match="RANK='x'"):
        distributed.world()


def test_only_rank_0_prints_and_shows_progress(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    for rank, shown in (("0", True), ("1", False)):
        monkeypatch.setenv("RANK", rank)
        with distributed.quiet_unless_main():
            print("table")
            print("problem", file=sys.stderr)
        out, err = capsys.readouterr()
        assert ("table" in out) == shown and "problem" in err  # errors from every rank
        assert distributed.show_progress(True) == shown and not distributed.show_progress(False)


def test_assign_balanced_longest_first_is_deterministic_and_complete():
    sizes = [100, 2000, 300, 300, 1500, 50, 700]
    parts = distributed.assign_balanced(sizes, 3)
    assert sorted(i for p in parts for i in p) == list(range(len(sizes)))
    loads = [sum(sizes[i] for i in p) for p in parts]
    assert max(loads) - min(loads) <= max(sizes)
    assert parts == distributed.assign_balanced(sizes, 3)
    assert parts[0] == [1] and distributed.assign_balanced(sizes, 1) == [list(range(len(sizes)))]
    # more ranks than items: some ranks get nothing, none gets an item twice
    assert sum(map(len, distributed.assign_balanced([5, 4], 4))) == 2


@pytest.mark.parametrize("batch,world", [(8, 2), (5, 2), (3, 4), (16, 3)])
def test_sharded_loss_gradients_sum_to_the_single_process_gradient(tmp_path, batch, world):
    """The ranks' shares of one global batch, each normalised by the global labelled count, add up to
    the single-process loss and gradient (DDP then sums them). Experiment 3's cache has unlabelled
    frames, so the per-rank counts differ and a per-rank mean would be wrong."""
    write_synthetic_cache(tmp_path, experiment=3, n_videos=3, frames=30, n_train=2, n_test=1)
    from rolo import cache
    from rolo.model import ROLO

    videos = cache.read_split(tmp_path, "train")
    store = make_store(videos, 6, mode="ram")
    torch.manual_seed(0)
    model = ROLO(videos[0].meta["feature_dim"], 16)
    ids = torch.randperm(len(store), generator=torch.Generator().manual_seed(1))[:batch]

    x, y, m = store.batch(ids)
    assert 0 < m.sum() < m.numel()
    full = training.masked_loss(model(x), y, m, "coord")
    want = torch.autograd.grad(full, list(model.parameters()))

    total, grads = 0.0, [torch.zeros_like(p) for p in model.parameters()]
    for rank in range(world):
        part = training.shard_loss(model, store, ids, rank, world, "coord")
        for g, d in zip(grads, torch.autograd.grad(part, list(model.parameters()))):
            g += d
        total += part.item()
    assert total == pytest.approx(full.item(), rel=1e-6)
    for g, w in zip(grads, want):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-7)


# ---- real torchrun runs (slow) -------------------------------------------------------

def torchrun(nproc: int, script: str, *args, log=None, env=None, popen=False):
    """``python -m torch.distributed.run --standalone --nproc_per_node N script args`` (gloo on CPU)."""
    cmd = distributed.launch_command(nproc, REPO / script, args)
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    if popen:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    p = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def kill_tree(proc) -> None:
    """SIGKILL the launcher and every rank it started, at once (the ranks may sit in their own sessions)."""
    import psutil

    try:
        procs = [psutil.Process(proc.pid)]
        procs += procs[0].children(recursive=True)
    except psutil.NoSuchProcess:
        procs = []
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    proc.wait()
    psutil.wait_procs(procs, timeout=30)


def plain(script: str, *args):
    p = subprocess.run([sys.executable, str(REPO / script), *map(str, args)], cwd=REPO, capture_output=True,
                       text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def weights(path):
    return torch.load(path, weights_only=True)


def max_weight_diff(a, b) -> float:
    return max((a["model"][k] - b["model"][k]).abs().max().item() for k in a["model"])


def train_args(data, ckpt, *extra):
    return ["--data_dir", data, "--checkpoint_dir", ckpt, "--device", "cpu", "--hidden", "32", "--lr", "1e-3",
            "--experiment", "3", "--cache_mode", "ram", *extra]


@pytest.fixture
def exp3_cache(tmp_path):
    write_synthetic_cache(tmp_path / "data", experiment=3, n_videos=4, frames=60, n_train=3, n_test=1)
    return tmp_path


@pytest.mark.slow
def test_two_ranks_end_an_epoch_with_the_single_process_weights(exp3_cache):
    """Global batch 7 over 2 ranks (parts of 4 and 3, a short last batch), experiment 3's masked
    loss: one epoch under torchrun equals one process at the same global batch within 1e-6."""
    data = exp3_cache / "data"
    one = plain("train.py", *train_args(data, exp3_cache / "one", "--epochs", "1", "--batch_size", "7"))
    two = torchrun(2, "train.py", *train_args(data, exp3_cache / "two", "--epochs", "1", "--batch_size", "7"))
    a = weights(exp3_cache / "one" / "rolo_lstm_exp3_1.pth")
    b = weights(exp3_cache / "two" / "rolo_lstm_exp3_1.pth")
    assert a["world_size"] == 1 and b["world_size"] == 2
    assert max_weight_diff(a, b) <= 1e-6
    assert b["loss_history"][0] == pytest.approx(a["loss_history"][0], rel=1e-6)
    # rank 0 alone prints: one settings table, one "saved" line
    assert two.stdout.count("training settings:") == 1 and two.stdout.count("saved ") == 1
    assert "DistributedDataParallel over 2 ranks" in two.stdout and one.stdout.count("saved ") == 1


@pytest.mark.slow
def test_killed_ddp_run_resumes_to_the_uninterrupted_weights(exp3_cache):
    data = exp3_cache / "data"
    args = ["--epochs", "12", "--batch_size", "2", "--save_every", "1"]
    torchrun(2, "train.py", *train_args(data, exp3_cache / "full", *args))

    part = exp3_cache / "part"
    last = part / "rolo_lstm_exp3_12.last.pth"
    with open(exp3_cache / "killed.log", "w") as log:
        proc = torchrun(2, "train.py", *train_args(data, part, *args), log=log, popen=True)
        try:
            deadline = time.monotonic() + 300
            while not last.is_file() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            kill_tree(proc)
    assert last.is_file() and not (part / "rolo_lstm_exp3_12.pth").exists(), "the run was not killed mid-way"
    saved_at = weights(last)["epoch"]
    assert 1 <= saved_at < 12
    resumed = torchrun(2, "train.py", *train_args(data, part, *args, "--resume", "true"))
    assert f"resuming from {last} at epoch {saved_at}/12" in resumed.stdout
    a = weights(exp3_cache / "full" / "rolo_lstm_exp3_12.pth")
    b = weights(part / "rolo_lstm_exp3_12.pth")
    assert max_weight_diff(a, b) == 0.0 and a["loss_history"] == b["loss_history"]


# ---- extraction under torchrun (slow) ------------------------------------------------

VIDEO_FRAMES = {"Alpha": 30, "Bravo": 70, "Charlie": 45, "Delta": 90, "Echo": 50}


@pytest.fixture(scope="module")
def fixed_weights(tmp_path_factory):
    """An untrained yolov8n saved once: YOLO("yolov8n.yaml") draws new random weights in every process."""
    from ultralytics import YOLO

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "yolov8n-fixed.pt"
    YOLO("yolov8n.yaml").save(str(path))
    return path


def make_otb(root):
    import cv2

    rng = np.random.default_rng(0)
    for name, n in VIDEO_FRAMES.items():
        (root / name / "img").mkdir(parents=True)
        for i in range(1, n + 1):
            img = cv2.resize(rng.integers(0, 256, (3, 4, 3), dtype=np.uint8), (64, 48), interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(root / name / "img" / f"{i:04d}.jpg"), img)
        xy = rng.uniform(2, 30, (n, 2))
        (root / name / "groundtruth_rect.txt").write_text("\n".join(f"{x:.1f},{y:.1f},20,16" for x, y in xy) + "\n")
    (root.parent / "list.txt").write_text("\n".join(VIDEO_FRAMES) + "\n")
    return root.parent / "list.txt"


def loader_args(otb, list_file, out, weights):
    return ["--otb_root", otb, "--list_file", list_file, "--out_dir", out, "--weights", weights, "--img_size", "64",
            "--conf", "1e-6", "--device", "cpu", "--batch_size", "8", "--n_train", "3", "--n_test", "1",
            "--experiment", "1", "--strict_frames", "false"]


def assert_same_cache(a, b):
    from rolo import cache
    from rolo.splits import SPLITS

    for split in SPLITS:
        names = sorted(p.name for p in (a / split).iterdir()) if (a / split).exists() else []
        assert names == (sorted(p.name for p in (b / split).iterdir()) if (b / split).exists() else [])
        for name in names:
            va, vb = cache.read_video(a / split / name), cache.read_video(b / split / name)
            for k in cache.ARRAYS:
                if k == "features":
                    np.testing.assert_allclose(va.features, vb.features, rtol=1e-4, atol=1e-12)
                else:
                    np.testing.assert_array_equal(va.arrays[k], vb.arrays[k], err_msg=f"{split}/{name}/{k}")


@pytest.mark.slow
def test_sharded_extraction_equals_one_process_and_a_killed_rank_loses_one_video(tmp_path, fixed_weights):
    from rolo import cache

    list_file = make_otb(tmp_path / "otb")
    args = lambda out: loader_args(tmp_path / "otb", list_file, out, fixed_weights)  # noqa: E731
    plain("dataloader.py", *args(tmp_path / "one"))
    two = torchrun(2, "dataloader.py", *args(tmp_path / "two"))
    assert_same_cache(tmp_path / "one", tmp_path / "two")
    assert two.stdout.count("dataloader settings:") == 1
    assert "2 ranks share 5 videos by frame count" in two.stdout and "wrote 5 videos" in two.stdout
    metas = {p.parent.name: cache.read_video(p.parent).meta for p in (tmp_path / "two").rglob("meta.json")}
    assert {m["world_size"] for m in metas.values()} == {2}
    # longest first, each to the least loaded: Delta 90 -> 0, Bravo 70 -> 1, Echo 50 -> 1 (120),
    # Charlie 45 -> 0 (135), Alpha 30 -> 1 (150)
    assert {n for n, m in metas.items() if m["rank"] == 0} == {"Delta", "Charlie"}

    # Killed as soon as one video is complete: the others are absent or under a temporary name.
    out = tmp_path / "killed"

    def complete_videos():
        # A temporary folder holds its meta.json a moment before it is renamed into place: not complete yet.
        return [p.parent for p in out.rglob("meta.json") if not p.parent.name.startswith(".tmp-")]

    with open(tmp_path / "killed.log", "w") as log:
        proc = torchrun(2, "dataloader.py", *args(out), log=log, popen=True)
        try:
            deadline = time.monotonic() + 300
            while proc.poll() is None and time.monotonic() < deadline and not complete_videos():
                time.sleep(0.01)
        finally:
            kill_tree(proc)
    complete = complete_videos()
    assert 1 <= len(complete) < 5, "the run was not killed mid-way"
    for p in complete:
        cache.read_video(p)  # what is there is whole
    # Rerun with another world size: only what is missing is extracted.
    rerun = plain("dataloader.py", *args(out))
    assert f"{len(complete)} videos already cached, {5 - len(complete)} to extract" in rerun.stdout
    assert not list(out.rglob(".tmp-*"))
    assert_same_cache(tmp_path / "one", out)


# ---- evaluation under torchrun (slow) ------------------------------------------------

@pytest.mark.slow
def test_sharded_evaluation_gives_the_single_process_metrics(exp3_cache):
    import json

    data, ckpt = exp3_cache / "data6", exp3_cache / "ckpt"
    write_synthetic_cache(data, experiment=3, n_videos=6, frames=45, n_train=3, n_test=3)
    plain("train.py", *train_args(data, ckpt, "--epochs", "2", "--batch_size", "8"))
    args = lambda out: ["--data_dir", data, "--checkpoint_dir", ckpt, "--experiment", "3", "--epochs", "2",  # noqa
                        "--device", "cpu", "--results_dir", out, "--plots", "false"]
    one = plain("evaluation.py", *args(exp3_cache / "one"))
    two = torchrun(2, "evaluation.py", *args(exp3_cache / "two"))
    a = json.loads((exp3_cache / "one" / "metrics.json").read_text())
    b = json.loads((exp3_cache / "two" / "metrics.json").read_text())
    assert a.pop("world_size") == 1 and b.pop("world_size") == 2
    for m in (a, b):
        m["settings"].pop("RESULTS_DIR")
    # Measured times differ from run to run; every video has one, whichever rank predicted it.
    ta, tb = a.pop("seconds_per_frame"), b.pop("seconds_per_frame")
    assert list(ta) == list(tb) == list(a["videos"]) and all(t > 0 for t in tb.values())
    assert a == b and len(a["videos"]) >= 3
    assert (exp3_cache / "one" / "metrics.csv").read_text() == (exp3_cache / "two" / "metrics.csv").read_text()
    for name in a["videos"]:
        assert (exp3_cache / "one" / f"{name}.txt").read_text() == (exp3_cache / "two" / f"{name}.txt").read_text()
    table = lambda out: out[out.index("AOS per video"):out.index("results in")]  # noqa: E731
    assert table(one.stdout) == table(two.stdout)
    assert two.stdout.count("evaluation settings:") == 1


def test_finetune_passes_a_gpu_list_to_ultralytics_ddp(monkeypatch):
    """finetune_yolo.py --device 0,1,2,3 hands the list to Ultralytics, which runs its own DDP."""
    from rolo.finetune import ultralytics_device

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert ultralytics_device("0,1,2,3") == "0,1,2,3"
    assert ultralytics_device("cuda:0, 2") == "0,2"
    assert ultralytics_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="only 4 CUDA device"):
        ultralytics_device("0,4")
    with pytest.raises(ConfigError, match="distinct indices"):
        ultralytics_device("0,0")
    with pytest.raises(ConfigError, match="distinct indices"):
        ultralytics_device("0,x")
