"""The defects a hostile new user found (issue 16), one reproduction each.

Every test ends in a clean refusal (an ``error:`` line naming the culprit,
exit status 2, no traceback) or in the correct result; none may end in a
silently wrong one. Helpers come from :mod:`test_faults`.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rolo import cache, config, evaluation, extractor, training
from rolo.errors import DataError
from rolo.extraction import sequence_size
from rolo.model import ROLO, load_checkpoint, save_atomic
from rolo.otb import OTB, list_images, read_list
from rolo.splits import SPLITS
from rolo.windows import make_store
from rolo.synthetic_cache import write_synthetic_cache
from test_faults import (assert_clean_error, call, dataloader_args, eval_config, files_under, make_otb,  # noqa: F401
                         no_model, train_config, write_frame)


# ---- 2. unpadded frame names ---------------------------------------------------------

def test_unpadded_frame_names_are_read_in_numeric_order(tmp_path):
    img = tmp_path / "otb" / "Alpha" / "img"
    img.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, 13):
        write_frame(img / f"{i}.jpg", rng)
    # Line i's x is i: a frame paired with the wrong line shows at once.
    (img.parent / "groundtruth_rect.txt").write_text("".join(f"{i},1,5,5\n" for i in range(1, 13)))
    seq = OTB(tmp_path / "otb")["Alpha"]
    assert [p.name for p in seq.frames] == [f"{i}.jpg" for i in range(1, 13)]
    assert list(seq.frame_numbers) == list(range(1, 13))
    np.testing.assert_array_equal(seq.gt[:, 0], seq.frame_numbers)
    assert [p.name for p in list_images(img)] == [f"{i}.jpg" for i in range(1, 13)]


# ---- 1, 10. a cache re-planned into the same folder ------------------------------------

def _splits_on_disk(out: Path) -> dict:
    return {s: cache.cached_names(out, s) for s in SPLITS}


def test_replanned_cache_is_refused_then_rebuilt_without_leaking(monkeypatch, capsys, tmp_path):
    otb = tmp_path / "otb"
    lst = make_otb(otb, frames=8)
    out = tmp_path / "X"
    code, _, err = call(monkeypatch, capsys, "dataloader.py", *dataloader_args(otb, lst, out))
    assert code == 0, err
    plan = json.loads((out / cache.PLAN_FILE).read_text())
    assert plan["splits"] == {"train": ["Alpha"], "test": ["Bravo"], "eval": ["Charlie"]}
    assert (plan["n_train"], plan["n_test"], plan["experiment"]) == (1, 1, 1)
    assert plan["list_sha256"] == hashlib.sha256(lst.read_bytes()).hexdigest()
    before = files_under(out)

    replan = [*dataloader_args(otb, lst, out), "--n_train", "2", "--n_test", "1"]
    with monkeypatch.context() as m:
        m.setattr(extractor, "YOLOv8FeatureExtractor", _no_model)
        code, _, err = call(monkeypatch, capsys, "dataloader.py", *replan)
    msg = assert_clean_error(code, err, r"X holds a cache planned otherwise than this run")
    assert "N_TRAIN=1 there, 2 in this run" in err and "train split: Alpha there, Alpha, Bravo in this run" in err
    assert "--overwrite true" in err, msg
    assert files_under(out) == before  # nothing written, nothing removed

    code, _, err = call(monkeypatch, capsys, "dataloader.py", *replan, "--overwrite", "true")
    assert code == 0, err
    assert _splits_on_disk(out) == {"train": ["Alpha", "Bravo"], "test": ["Charlie"], "eval": []}
    assert json.loads((out / cache.PLAN_FILE).read_text())["splits"]["test"] == ["Charlie"]


def _no_model(*args, **kwargs):
    raise AssertionError("a YOLO model was loaded; the fault should have stopped the run before")


def test_changed_label_every_is_refused(monkeypatch, capsys, tmp_path):
    otb = tmp_path / "otb"
    lst = make_otb(otb, frames=8)
    out = tmp_path / "X"
    args = [*dataloader_args(otb, lst, out), "--n_train", "2", "--n_test", "0"]
    code, _, err = call(monkeypatch, capsys, "dataloader_exp3.py", *args)
    assert code == 0, err
    labels = cache.read_video(out / "train" / "Alpha").labelled.copy()
    assert list(np.flatnonzero(labels)) == [0, 3, 6]
    with monkeypatch.context() as m:
        m.setattr(extractor, "YOLOv8FeatureExtractor", _no_model)
        code, _, err = call(monkeypatch, capsys, "dataloader_exp3.py", *args, "--label_every", "2")
    assert_clean_error(code, err, r"planned otherwise")
    assert "LABEL_EVERY=3 there, 2 in this run" in err
    # A cache from before plan.json: each video's own settings tell.
    (out / cache.PLAN_FILE).unlink()
    with monkeypatch.context() as m:
        m.setattr(extractor, "YOLOv8FeatureExtractor", _no_model)
        code, _, err = call(monkeypatch, capsys, "dataloader_exp3.py", *args, "--label_every", "2")
    assert_clean_error(code, err, r"train/Alpha was made with LABEL_EVERY=3")
    code, _, err = call(monkeypatch, capsys, "dataloader_exp3.py", *args, "--label_every", "2", "--overwrite", "true")
    assert code == 0, err
    assert list(np.flatnonzero(cache.read_video(out / "train" / "Alpha").labelled)) == [0, 2, 4, 6]


@pytest.fixture
def exp1_cache(tmp_path):
    write_synthetic_cache(tmp_path / "data", experiment=1, n_videos=4, frames=20, n_train=2, n_test=1)
    return tmp_path / "data"


def test_training_and_evaluation_read_only_the_planned_videos(exp1_cache, tmp_path):
    # What the old dataloader left after a re-plan: a training video also in the test split.
    shutil.copytree(exp1_cache / "train" / "Syn02", exp1_cache / "test" / "Syn02")
    cfg = train_config(exp1_cache, tmp_path / "ckpt", "--epochs", "1")
    ckpt = training.run(cfg, progress=False)  # train is as planned
    with pytest.raises(DataError, match=r"data/test holds Syn02, which .*plan\.json does not list for test"):
        evaluation.run(eval_config(exp1_cache, ckpt, tmp_path / "results", "--epochs", "1"), progress=False)
    shutil.rmtree(exp1_cache / "test" / "Syn02")
    shutil.copytree(exp1_cache / "test" / "Syn03", exp1_cache / "train" / "Syn03")
    with pytest.raises(DataError, match=r"data/train holds Syn03, which .*does not list for train"):
        training.run(cfg, progress=False)


def test_cache_without_a_plan_is_refused(exp1_cache, tmp_path):
    (exp1_cache / cache.PLAN_FILE).unlink()
    with pytest.raises(DataError, match=r"data has no plan\.json, the dataloader's record .* rerun the dataloader"):
        training.run(train_config(exp1_cache, tmp_path / "ckpt", "--epochs", "1"), progress=False)
    with pytest.raises(DataError, match=r"no cached split at .*nothing/train: run the dataloader first"):
        training.run(train_config(tmp_path / "nothing", tmp_path / "ckpt", "--epochs", "1"), progress=False)


# ---- 3. one video under two spellings; 11. list files in other encodings ---------------

@pytest.mark.parametrize("spelling", ["./Alpha", "Alpha/", "./Alpha//"])
def test_one_video_under_two_spellings_is_listed_twice(monkeypatch, capsys, tmp_path, no_model, spelling):
    otb = tmp_path / "otb"
    lst = make_otb(otb)
    lst.write_text(f"Alpha\nBravo\n{spelling}\nCharlie\n")
    assert read_list(lst) == ["Alpha", "Bravo", "Alpha", "Charlie"]
    code, _, err = call(monkeypatch, capsys, "dataloader.py", *dataloader_args(otb, lst, tmp_path / "out"))
    assert_clean_error(code, err, r"1 problem")
    assert "'Alpha' is listed 2 times" in err
    assert files_under(tmp_path / "out") == []


def test_list_file_in_latin1_is_named_and_utf16_is_read(monkeypatch, capsys, tmp_path):
    otb = tmp_path / "otb"
    lst = make_otb(otb)
    lst.write_bytes("Alpha\nBravo  # caf\u00e9\nCharlie\n".encode("latin-1"))
    code, _, err = call(monkeypatch, capsys, "check_otb.py", "--otb_root", otb, "--list_file", lst)
    assert_clean_error(code, err, r"otb_list\.txt, line 2: not UTF-8 text \(byte 0xe9\); save the list as UTF-8")
    for encoding in ("utf-16", "utf-8-sig"):
        lst.write_bytes("Alpha\r\nBravo  # caf\u00e9\r\nCharlie\r\n".encode(encoding))
        assert read_list(lst) == ["Alpha", "Bravo", "Charlie"]
        code, out, err = call(monkeypatch, capsys, "check_otb.py", "--otb_root", otb, "--list_file", lst)
        assert code == 0 and "3 sequences listed, 3 opened" in out, err


# ---- 6. a frame of another size -----------------------------------------------------------

def test_otb_frame_of_another_size_is_named():
    seq = SimpleNamespace(name="Alpha", frames=[Path(f"Alpha/img/{i:04d}.jpg") for i in range(1, 5)])
    assert sequence_size(seq, [(64, 48)] * 4) == (64, 48)
    with pytest.raises(DataError, match=r"Alpha: Alpha/img/0003\.jpg is 128x96 but the sequence's first frame is "
                                        r"64x48 \(and 1 more frames\); OTB frames of a sequence share one size"):
        sequence_size(seq, [(64, 48), (64, 48), (128, 96), (48, 64)])


# ---- 4. a really full disk while saving a checkpoint ----------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A real 3 MB tmpfs (root only, where the machine allows mounting); skipped otherwise."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "small-disk"
    disk.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {p.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_full_disk_while_saving_a_checkpoint_is_named_and_leaves_no_temporary(small_disk, exp1_cache, tmp_path,
                                                                               monkeypatch, capsys):
    # Where the write fails decides whether torch reports ENOSPC or a short write.
    with pytest.raises(DataError, match=r"cannot write checkpoint .*small-disk/big\.pth: (No space left on device|"
                                        r"the write stopped short, is the disk full\? \(\d+\.\d MiB free there)"):
        save_atomic({"w": torch.zeros(1_000_000)}, small_disk / "big.pth")
    assert list(small_disk.iterdir()) == []
    # The reproduction: train.py with the 3 MB disk as CHECKPOINT_DIR (a 4 MB model with its optimizer state).
    code, out, err = call(monkeypatch, capsys, "train.py", "--data_dir", exp1_cache, "--checkpoint_dir", small_disk,
                          "--device", "cpu", "--epochs", "1", "--hidden", "512", "--batch_size", "16")
    assert_clean_error(code, err, r"cannot write checkpoint .*small-disk/rolo_lstm_exp1_1\.last\.pth: (No space "
                                  r"left on device|the write stopped short, is the disk full\?)")
    assert list(small_disk.iterdir()) == []


# ---- 8. a damaged checkpoint -----------------------------------------------------------------

def _flip_bytes_inside_a_tensor(path: Path) -> None:
    with zipfile.ZipFile(path) as z:
        member = max(z.infolist(), key=lambda i: i.file_size)
    data = bytearray(path.read_bytes())
    # A stored member's data follows its 30-byte local header, name and extra field.
    name_len, extra_len = struct.unpack("<HH", data[member.header_offset + 26:member.header_offset + 30])
    start = member.header_offset + 30 + name_len + extra_len + member.file_size // 2
    data[start:start + 8] = bytes(b ^ 0x5A for b in data[start:start + 8])
    path.write_bytes(bytes(data))


def test_damaged_checkpoint_is_refused_by_its_crc(exp1_cache, tmp_path, monkeypatch, capsys):
    ckpt = training.run(train_config(exp1_cache, tmp_path / "ckpt", "--epochs", "1"), progress=False)
    good = torch.load(ckpt, weights_only=True)["model"]
    _flip_bytes_inside_a_tensor(ckpt)
    flipped = torch.load(ckpt, weights_only=True)["model"]  # what loaded silently before
    assert any(not torch.equal(good[k], flipped[k]) for k in good)
    with pytest.raises(DataError, match=r"checkpoint .*rolo_lstm_exp1_1\.pth is damaged: .* fails its CRC check"):
        load_checkpoint(ckpt)
    code, _, err = call(monkeypatch, capsys, "evaluation.py", "--data_dir", exp1_cache, "--checkpoint", ckpt,
                        "--experiment", "1", "--epochs", "1", "--device", "cpu", "--plots", "false",
                        "--results_dir", tmp_path / "results")
    assert_clean_error(code, err, r"rolo_lstm_exp1_1\.pth is damaged: .* fails its CRC check")


# ---- 9. --resume true with another --data_dir -------------------------------------------------

def test_resume_on_another_data_dir_is_refused_naming_both(exp1_cache, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(exp1_cache, other)
    training.run(train_config(exp1_cache, tmp_path / "ckpt", "--epochs", "2", "--save_every", "1"), progress=False)
    with pytest.raises(DataError, match=rf"cannot resume from .*\.last\.pth: it was trained on --data_dir "
                                        rf"{re.escape(str(exp1_cache))}, this run has --data_dir "
                                        rf"{re.escape(str(other))}"):
        training.run(train_config(other, tmp_path / "ckpt", "--epochs", "2", "--resume", "true"), progress=False)


# ---- 11. --weights that are not YOLO weights; devices that are not there ------------------------

def _rolo_checkpoint(path: Path) -> Path:
    m = ROLO(32, 16)
    save_atomic({"model": m.state_dict(), "model_info": m.describe()}, path)
    return path


@pytest.mark.parametrize("kind, pattern", [
    ("a JPEG", r"--weights .*frame\.jpg is not a YOLO weights file; pass a \.pt"),
    ("a ROLO checkpoint", r"--weights .*rolo\.pth is not a YOLO weights file \(it is a ROLO LSTM checkpoint"),
    ("a ROLO checkpoint named .pt", r"cannot load YOLO weights .*rolo\.pt: .*\(it is a ROLO LSTM checkpoint"),
])
def test_weights_that_are_not_yolo_weights_are_named(monkeypatch, capsys, tmp_path, kind, pattern):
    otb = tmp_path / "otb"
    lst = make_otb(otb, frames=4)
    weights = {"a JPEG": otb / "Alpha" / "img" / "0001.jpg",
               "a ROLO checkpoint": _rolo_checkpoint(tmp_path / "rolo.pth"),
               "a ROLO checkpoint named .pt": _rolo_checkpoint(tmp_path / "rolo.pt")}[kind]
    if kind == "a JPEG":
        weights = Path(shutil.copy(weights, tmp_path / "frame.jpg"))
    code, _, err = call(monkeypatch, capsys, "dataloader.py", *dataloader_args(otb, lst, tmp_path / "out", weights))
    assert_clean_error(code, err, pattern)
    assert cache.cached_names(tmp_path / "out", "train") == []


@pytest.mark.parametrize("device, pattern", [
    ("mps", r"--device: 'mps': this PyTorch has no usable MPS"),
    ("xpu", r"--device: 'xpu': ROLO runs on cpu, cuda or mps devices"),
    ("meta", r"--device: 'meta': ROLO runs on cpu, cuda or mps devices"),
    ("cuda:7", r"--device: 'cuda:7': (CUDA is not available|only \d+ CUDA device)"),
])
def test_absent_device_is_named(monkeypatch, capsys, tmp_path, exp1_cache, no_model, device, pattern):
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    otb = tmp_path / "otb"
    lst = make_otb(otb, frames=4)
    args = [a if a != "cpu" else device for a in dataloader_args(otb, lst, tmp_path / "out")]
    code, _, err = call(monkeypatch, capsys, "dataloader.py", *args)
    assert_clean_error(code, err, pattern)
    code, _, err = call(monkeypatch, capsys, "train.py", "--data_dir", exp1_cache, "--checkpoint_dir",
                        tmp_path / "ckpt", "--device", device, "--epochs", "1")
    assert_clean_error(code, err, pattern)


# ---- 12. untrusted weights --------------------------------------------------------------------

@pytest.mark.parametrize("script", ["dataloader.py", "dataloader_exp2.py", "dataloader_exp3.py",
                                    "YOLOv8FeatureExtractor.py", "finetune_yolo.py", "demo.py", "track.py", "bench.py"])
def test_help_warns_that_a_weights_file_runs_code(monkeypatch, capsys, script):
    code, out, _ = call(monkeypatch, capsys, script, "--help")
    assert code == 0
    line = next(x for x in out.splitlines() if x.strip().startswith("--weights "))
    assert re.search(r"\.pt \(?(can )?runs? code.*trusted only", line), line


def test_nonfinite_values_are_never_cached(tmp_path):
    """A feature beyond float16's range (FEATURE_DTYPE float16, fp16 on CUDA) becomes inf: refused at once."""
    a = {k: np.zeros((4, 3), np.float32) for k in cache.ARRAYS}
    a["labelled"], a["frames"] = np.ones(4, bool), np.arange(1, 5)
    a["features"] = a["features"].astype(np.float16)
    with np.errstate(over="ignore"):
        a["features"][1, 2] = np.float32(1e5)
    with pytest.raises(DataError, match=r"refusing to cache .*train/V: its features\.npy holds NaN or inf \(images 2\)"):
        cache.write_video(tmp_path / "train" / "V", a, {"name": "V"})
    assert not (tmp_path / "train").exists() or list((tmp_path / "train").iterdir()) == []
    a["features"][1, 2] = 0
    a["gt"][[0, 2]] = np.nan
    a["labelled"][[0, 2]] = False  # NaN ground truth marks the frames without a label
    cache.write_video(tmp_path / "train" / "V", a, {"name": "V"})
    a["labelled"][2] = True
    with pytest.raises(DataError, match=r"its gt\.npy holds NaN or inf on labelled frames \(images 3\)"):
        cache.write_video(tmp_path / "train" / "V", a, {"name": "V"})


# ---- 5. a non-finite loss -----------------------------------------------------------------------

def test_nonfinite_loss_stops_training_and_keeps_the_last_good_checkpoint(exp1_cache, tmp_path, monkeypatch):
    """NaN in a cache is refused when read (test_faults.CACHE_DAMAGE); a loss can still diverge (fp16, a huge LR)."""
    real_loss, steps = training.masked_loss, []

    def diverges_in_epoch_3(out, *args, **kwargs):
        steps.append(1)
        loss = real_loss(out, *args, **kwargs)
        return loss * float("nan") if len(steps) > 2 * steps_per_epoch else loss

    cfg = train_config(exp1_cache, tmp_path / "ckpt", "--epochs", "4", "--save_every", "1", "--batch_size", "8")
    steps_per_epoch = -(-len(make_store(cache.read_planned_split(exp1_cache, "train"), cfg.SEQ_LEN)) // 8)
    monkeypatch.setattr(training, "masked_loss", diverges_in_epoch_3)
    with pytest.raises(DataError, match=r"the training loss became nan in epoch 3: .* stopped without saving them; "
                                        r".*rolo_lstm_exp1_4\.last\.pth still holds epoch 2, the last good state"):
        training.run(cfg, progress=False)
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["rolo_lstm_exp1_4.last.pth"]
    state = load_checkpoint(tmp_path / "ckpt" / "rolo_lstm_exp1_4.last.pth")
    assert state["epoch"] == 2 and all(torch.isfinite(v).all() for v in state["model"].values())


# ---- 7. a reused results folder ---------------------------------------------------------------

def test_a_killed_evaluations_staging_folder_is_cleared_by_the_next_run(tmp_path):
    """A SIGKILLed evaluation leaves ``.tmp-<name>-<id>``; the next run into that folder removes it, and only it."""
    results = tmp_path / "results"
    killed = tmp_path / ".tmp-results-0123abcd" / "results"
    killed.mkdir(parents=True)
    other = tmp_path / ".tmp-results2-0123abcd"
    other.mkdir()
    stage = evaluation.stage_results_dir(results)
    assert not killed.parent.exists() and other.is_dir()
    assert stage.name == "results" and stage.parent.parent == tmp_path and stage.is_dir()


def test_a_run_owns_its_results_folder(exp1_cache, tmp_path):
    ckpt = training.run(train_config(exp1_cache, tmp_path / "ckpt", "--epochs", "1"), progress=False)
    results = tmp_path / "results"
    evaluation.run(eval_config(exp1_cache, ckpt, results, "--epochs", "1"), progress=False)
    assert sorted(p.name for p in results.iterdir()) == ["Syn03.txt", "Syn03_time.txt", "metrics.csv", "metrics.json"]
    # Other videos into the same folder: the test split's file must not stay beside the eval split's.
    result = evaluation.run(eval_config(exp1_cache, ckpt, results, "--epochs", "1", "--split", "eval"),
                            progress=False)
    assert sorted(p.name for p in results.iterdir()) == ["Syn04.txt", "Syn04_time.txt", "metrics.csv", "metrics.json"]
    assert list(json.loads((results / "metrics.json").read_text())["videos"]) == list(result["videos"]) == ["Syn04"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")) == []
    # A folder no evaluation wrote is refused, never emptied.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match=r"RESULTS_DIR .*mine holds files that no evaluation wrote"):
        evaluation.run(eval_config(exp1_cache, ckpt, mine, "--epochs", "1"), progress=False)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    # A failed run leaves the earlier results as they were, and no staging folder.
    with pytest.raises(DataError, match=r"--protocol held-out: no frame"):
        evaluation.run(eval_config(exp1_cache, ckpt, results, "--epochs", "1", "--protocol", "held-out"),
                       progress=False)
    assert sorted(p.name for p in results.iterdir()) == ["Syn04.txt", "Syn04_time.txt", "metrics.csv", "metrics.json"]
    assert not any(p.name.startswith(".tmp") for p in tmp_path.iterdir())


def test_default_results_folder_is_named_after_the_checkpoint(exp1_cache, tmp_path):
    cfg = eval_config(exp1_cache, tmp_path / "ckpt" / "my_run.pth", tmp_path / "unused")
    assert evaluation.resolve_paths(config.Config(cfg, RESULTS_DIR=""))[1] == Path("results") / "my_run_test"
    assert evaluation.resolve_paths(config.Config(cfg, RESULTS_DIR="", CHECKPOINT=""))[1] == Path("results/exp1_2_test")
