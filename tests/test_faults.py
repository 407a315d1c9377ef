"""Fault injection: each test breaks one thing and proves the pipeline either
recovers exactly or stops with a clear error that names the file or flag
(``error: ...``, exit status 2), never a crash deep in numpy or torch and never
a silently wrong result.

1. extraction killed (SIGKILL, mid-video and mid-write): the rerun equals an uninterrupted run;
2. training killed (SIGKILL, mid-epoch and mid-checkpoint): ``--resume true`` gives the same weights;
3. damaged OTB inputs; 4. damaged caches; 5. wrong checkpoints; 6. bad command lines;
7. no weights offline; 8. unwritable or full disks; and determinism.

Killed runs are real subprocesses of the real scripts. They are stopped at an
exact point, never after a delay: a small wrapper (:data:`STOP_AT`) runs the
script and blocks forever at the chosen point after writing a marker file; the
test waits for the marker, then sends SIGKILL.
"""
from __future__ import annotations

import errno
import json
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from rolo import cache, config, evaluation, training
from rolo.errors import DataError
from rolo.model import ROLO
from rolo.otb import load_image
from rolo.splits import SPLITS
from rolo.synthetic_cache import write_synthetic_cache

REPO = Path(__file__).resolve().parents[1]
NAMES = ("Alpha", "Bravo", "Charlie")  # not in the OTB-100 frame table: the plain rule applies
FRAMES = 20
SIZE = (64, 48)  # (W, H) of the tiny frames


# ---- helpers ------------------------------------------------------------------------

def write_frame(path: Path, rng: np.random.Generator, size=SIZE) -> None:
    """A smooth colour field (compresses like a photo, unlike noise), ``size`` = (W, H)."""
    img = cv2.resize(rng.integers(0, 256, (3, 4, 3), dtype=np.uint8), size, interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(path), img)


def make_otb(root: Path, names=NAMES, frames: int = FRAMES, seed: int = 0) -> Path:
    """A tiny OTB tree under ``root``; returns its list file (next to ``root``)."""
    rng = np.random.default_rng(seed)
    for name in names:
        img = root / name / "img"
        img.mkdir(parents=True)
        for i in range(1, frames + 1):
            write_frame(img / f"{i:04d}.jpg", rng)
        xy = rng.uniform(2, 30, (frames, 2))
        lines = [f"{x:.1f},{y:.1f},20,16" for x, y in xy]
        (root / name / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    list_file = root.parent / f"{root.name}_list.txt"
    list_file.write_text("\n".join(names) + "\n")
    return list_file


def dataloader_args(otb, list_file, out, weights="yolov8n.yaml", *extra) -> list[str]:
    return ["--otb_root", str(otb), "--list_file", str(list_file), "--out_dir", str(out), "--weights", str(weights),
            "--img_size", "64", "--conf", "1e-6", "--device", "cpu", "--batch_size", "8", "--n_train", "1",
            "--n_test", "1", *map(str, extra)]


def call(monkeypatch, capsys, script: str, *argv) -> tuple[int, str, str]:
    """Run a top-level script as ``__main__`` in this process: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", [str(REPO / script), *map(str, argv)])
    code = 0
    try:
        runpy.run_path(str(REPO / script), run_name="__main__")
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_error(code, err, pattern) -> str:
    """Exit status 2, no traceback, and an ``error:`` message matching ``pattern``; returns the message."""
    assert code == 2, err
    assert "Traceback" not in err
    found = re.search(r"(?:^|[\r\n])(error: .*)", err, re.S)  # progress bars may come first
    assert found, err
    assert re.search(pattern, found.group(1)), f"{pattern!r} not in {found.group(1)!r}"
    return found.group(1)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*") if p.is_file()) if Path(folder).exists() else []


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if a YOLO model is built: the fault must be caught before."""
    from rolo import extractor

    def refuse(*args, **kwargs):
        raise AssertionError("a YOLO model was loaded; the fault should have stopped the run before")

    monkeypatch.setattr(extractor, "YOLOv8FeatureExtractor", refuse)


def script_env(tmp_path: Path, **extra) -> dict:
    env = dict(os.environ, YOLO_OFFLINE="1", YOLO_VERBOSE="False", MPLBACKEND="Agg",
               YOLO_CONFIG_DIR=str(tmp_path / "yolo-config"), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_script(tmp_path, script, args, log_name, cwd=REPO, **kwargs) -> subprocess.CompletedProcess:
    with open(tmp_path / log_name, "w") as log:
        p = subprocess.run([sys.executable, str(REPO / script), *map(str, args)], cwd=cwd,
                           env=kwargs.pop("env", None) or script_env(tmp_path), stdout=log, stderr=subprocess.STDOUT,
                           timeout=900, **kwargs)
    p.output = (tmp_path / log_name).read_text()
    return p


#: Runs ``spec["script"]`` as ``__main__`` and blocks forever at ``spec["where"]``, after writing ``spec["marker"]``.
STOP_AT = r'''
import io, json, os, runpy, sys, time
spec = json.loads(os.environ["ROLO_STOP_AT"])

def stop():
    with open(spec["marker"], "w") as f:
        f.write("stopped")
    while True:
        time.sleep(3600)

where = spec["where"]
if where == "decode":        # while one frame is being read: the video is half through YOLO
    from rolo import otb
    real_load = otb.load_image
    def load_image(path):
        if str(path).endswith(spec["frame"]):
            stop()
        return real_load(path)
    otb.load_image = load_image
elif where == "write":       # inside the cache writer, some .npy files of the video written
    import numpy as np
    real_save, seen = np.save, []
    def save(file, arr, *args, **kwargs):
        folder = os.path.basename(os.path.dirname(getattr(file, "name", str(file))))
        if folder.startswith(".tmp-" + spec["video"]):
            seen.append(folder)
            if len(seen) > spec["after"]:
                stop()
        return real_save(file, arr, *args, **kwargs)
    np.save = save
elif where == "epoch":       # the second step of the epoch after checkpoint spec["epoch"] was saved
    from rolo import training
    real_save, real_loss, state = training.save_atomic, training.masked_loss, {"saved": 0, "steps": 0}
    def save_atomic(obj, path):
        real_save(obj, path)
        state["saved"] = obj["epoch"]
    def masked_loss(*args, **kwargs):
        if state["saved"] >= spec["epoch"]:
            state["steps"] += 1
            if state["steps"] == 2:
                stop()
        return real_loss(*args, **kwargs)
    training.save_atomic, training.masked_loss = save_atomic, masked_loss
elif where == "checkpoint":  # halfway through writing checkpoint spec["epoch"] to its temporary file
    import torch
    real_torch_save = torch.save
    def save(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("epoch") == spec["epoch"] and str(getattr(f, "name", "")).endswith(".tmp"):
            buf = io.BytesIO()
            real_torch_save(obj, buf, *args, **kwargs)
            f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            f.flush()
            stop()
        return real_torch_save(obj, f, *args, **kwargs)
    torch.save = save
sys.argv = [spec["script"]] + spec["args"]
runpy.run_path(spec["script"], run_name="__main__")
'''


def kill_at(tmp_path, script, args, where, log_name, **spec) -> str:
    """Run ``script`` until it reaches ``where`` (see :data:`STOP_AT`), SIGKILL it there; returns its output."""
    marker = tmp_path / f"{log_name}.stopped"
    spec = dict(spec, where=where, marker=str(marker), script=script, args=list(map(str, args)))
    env = script_env(tmp_path, ROLO_STOP_AT=json.dumps(spec))
    with open(tmp_path / log_name, "w") as log:
        proc = subprocess.Popen([sys.executable, "-c", STOP_AT], cwd=REPO, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 900  # a safety net only: the kill point is the marker, not a delay
            while not marker.exists():
                assert proc.poll() is None, (f"{script} exited ({proc.returncode}) before reaching {where}:\n"
                                             + (tmp_path / log_name).read_text()[-3000:])
                assert time.monotonic() < deadline, f"{script} never reached {where}"
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return (tmp_path / log_name).read_text()


def cached_videos(out: Path) -> dict:
    """(split, video) -> (arrays, meta without the run's own OUT_DIR) of every complete video."""
    found = {}
    for split in SPLITS:
        for d in sorted((out / split).glob("*")) if (out / split).is_dir() else []:
            v = cache.read_video(d, mmap=False)
            meta = dict(v.meta, settings={k: x for k, x in v.meta["settings"].items() if k != "OUT_DIR"})
            found[(split, d.name)] = (v.arrays, meta)
    return found


def assert_same_cache(a: Path, b: Path) -> None:
    va, vb = cached_videos(a), cached_videos(b)
    assert sorted(va) == sorted(vb)
    for key in va:
        (arr_a, meta_a), (arr_b, meta_b) = va[key], vb[key]
        assert meta_a == meta_b, key
        for k in cache.ARRAYS:
            assert arr_a[k].dtype == arr_b[k].dtype and arr_a[k].shape == arr_b[k].shape, (key, k)
            np.testing.assert_array_equal(arr_a[k], arr_b[k], err_msg=f"{key} {k}")


@pytest.fixture(scope="module")
def fixed_weights(tmp_path_factory) -> Path:
    """An untrained yolov8n saved once: YOLO("yolov8n.yaml") draws new random weights in every process."""
    from ultralytics import YOLO

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "yolov8n-fixed.pt"
    YOLO("yolov8n.yaml").save(str(path))
    return path


# ---- 1. extraction killed -----------------------------------------------------------

@pytest.mark.slow
def test_killed_extraction_reruns_to_the_uninterrupted_cache(tmp_path, fixed_weights):
    otb = tmp_path / "otb"
    list_file = make_otb(otb)
    args = lambda out: dataloader_args(otb, list_file, out, fixed_weights)  # noqa: E731
    ref = run_script(tmp_path, "dataloader.py", args(tmp_path / "ref"), "ref.log")
    assert ref.returncode == 0, ref.output

    out = tmp_path / "out"
    # Killed while Bravo (the test video) is half through YOLO: Alpha is complete, nothing of Bravo is.
    kill_at(tmp_path, "dataloader.py", args(out), "decode", "kill1.log", frame=os.path.join("Bravo", "img", "0013.jpg"))
    assert cache.is_complete(out / "train" / "Alpha")
    assert not (out / "test").exists() or not any((out / "test").iterdir())
    with pytest.raises(DataError, match="test"):
        cache.read_split(out, "test")

    # The rerun skips Alpha and is killed while writing Bravo: a partial folder under a temporary name.
    log = kill_at(tmp_path, "dataloader.py", args(out), "write", "kill2.log", video="Bravo", after=2)
    assert "1 videos already cached, 2 to extract" in log
    (partial,) = (out / "test").glob(".tmp-Bravo-*")
    written = sorted(f.stat().st_size > 0 for f in partial.glob("*.npy"))
    assert written == [False, True, True] and not (partial / "meta.json").exists()  # the third was just opened
    assert not (out / "test" / "Bravo").exists()
    with pytest.raises(DataError, match="holds no cached videos"):
        cache.read_split(out, "test")  # the partial video is never read as complete
    with pytest.raises(DataError, match="meta.json missing"):
        cache.read_video(partial)

    done = run_script(tmp_path, "dataloader.py", args(out), "rerun.log")
    assert done.returncode == 0, done.output
    assert "1 videos already cached, 2 to extract" in done.output
    assert not [p for p in out.rglob(".tmp-*")]
    assert_same_cache(tmp_path / "ref", out)


# ---- 2. training killed -------------------------------------------------------------

@pytest.mark.slow
def test_killed_training_resumes_to_the_uninterrupted_weights(tmp_path):
    write_synthetic_cache(tmp_path / "data", experiment=1, n_videos=4, frames=40, n_train=2, n_test=1)
    args = lambda ckpt, *more: ["--data_dir", tmp_path / "data", "--checkpoint_dir", ckpt, "--device", "cpu",  # noqa
                                "--hidden", "32", "--epochs", "6", "--batch_size", "8", "--lr", "1e-3",
                                "--save_every", "1", *more]
    ref = run_script(tmp_path, "train.py", args(tmp_path / "ref"), "ref.log")
    assert ref.returncode == 0, ref.output

    ck = tmp_path / "ckpt"
    last, final = ck / "rolo_lstm_exp1_6.last.pth", ck / "rolo_lstm_exp1_6.pth"
    kill_at(tmp_path, "train.py", args(ck), "epoch", "kill1.log", epoch=2)  # mid-epoch 3
    assert torch.load(last, weights_only=True)["epoch"] == 2 and not final.exists()

    log = kill_at(tmp_path, "train.py", args(ck, "--resume", "true"), "checkpoint", "kill2.log", epoch=4)
    assert "at epoch 2/6" in log
    # Killed halfway through writing epoch 4's checkpoint: the last complete one is untouched.
    assert torch.load(last, weights_only=True)["epoch"] == 3
    half = last.with_name(last.name + ".tmp")
    assert half.stat().st_size > 0
    with pytest.raises(Exception):
        torch.load(half, weights_only=True)

    done = run_script(tmp_path, "train.py", args(ck, "--resume", "true"), "resume.log")
    assert done.returncode == 0, done.output
    assert "at epoch 3/6" in done.output and not half.exists()
    a = torch.load(tmp_path / "ref" / final.name, weights_only=True)
    b = torch.load(final, weights_only=True)
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["loss_history"] == b["loss_history"] and len(b["loss_history"]) == 6


# ---- 3. damaged inputs --------------------------------------------------------------

def _rewrite_gt(otb, name, edit):
    p = otb / name / "groundtruth_rect.txt"
    lines = p.read_text().splitlines()
    p.write_text("\n".join(edit(lines)) + "\n")


def _frame(otb, name="Bravo", i=5) -> Path:
    return otb / name / "img" / f"{i:04d}.jpg"


def _cut(path: Path, frac: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * frac)])


def _set_line(i, text):
    def edit(lines):
        lines[i - 1] = text
        return lines
    return edit


def _odd_size(otb, lst):
    write_frame(_frame(otb), np.random.default_rng(1), size=(80, 60))


#: kind -> (damage(otb, list_file), message pattern, found by: "open" (no decoding) or "decode").
DAMAGE = {
    "truncated JPEG": (lambda otb, lst: _cut(_frame(otb), 0.6),
                       r"(truncated|cannot decode).*Bravo/img/0005\.jpg", "decode"),
    "corrupt JPEG": (lambda otb, lst: _frame(otb).write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4),
                     r"cannot decode image .*Bravo/img/0005\.jpg", "decode"),
    "zero-byte image": (lambda otb, lst: _frame(otb).write_bytes(b""),
                        r"image is empty \(0 bytes\): .*Bravo/img/0005\.jpg", "open"),
    "frame of another size": (_odd_size, r"Bravo/img/0005\.jpg is 80x60 but the sequence's first frame is 64x48",
                              "decode-only"),
    "ground truth: unparsable line": (lambda otb, lst: _rewrite_gt(otb, "Bravo", _set_line(3, "12,8,x,16")),
                                      r"Bravo/groundtruth_rect\.txt, line 3: cannot parse", "open"),
    "ground truth: NaN": (lambda otb, lst: _rewrite_gt(otb, "Bravo", _set_line(4, "12,NaN,20,16")),
                          r"Bravo/groundtruth_rect\.txt, line 4: non-finite", "open"),
    "ground truth: three numbers": (lambda otb, lst: _rewrite_gt(otb, "Bravo", _set_line(2, "12,8,20")),
                                    r"Bravo/groundtruth_rect\.txt, line 2: expected 4 numbers", "open"),
    "ground truth: too few lines": (lambda otb, lst: _rewrite_gt(otb, "Bravo", lambda lines: lines[:-1]),
                                    r"Bravo/groundtruth_rect\.txt: 19 ground-truth lines for 20 images", "open"),
    "ground truth: too many lines": (lambda otb, lst: _rewrite_gt(otb, "Bravo", lambda lines: lines + lines[:1]),
                                     r"Bravo/groundtruth_rect\.txt: 21 ground-truth lines for 20 images", "open"),
    "ground truth: empty file": (lambda otb, lst: (otb / "Bravo" / "groundtruth_rect.txt").write_text("\n"),
                                 r"Bravo/groundtruth_rect\.txt: no ground-truth boxes", "open"),
    "ground truth: file missing": (lambda otb, lst: (otb / "Bravo" / "groundtruth_rect.txt").unlink(),
                                   r"ground-truth file not found: .*Bravo/groundtruth_rect\.txt", "open"),
    "image folder missing": (lambda otb, lst: shutil.rmtree(otb / "Bravo" / "img"),
                             r"Bravo: image folder not found: .*Bravo/img", "open"),
    "listed name without a sequence": (lambda otb, lst: lst.write_text("Alpha\nBravoo\nCharlie\n"),
                                       r"sequence folder not found: .*Bravoo \('Bravoo' is not an OTB-100 sequence; "
                                       r"did you mean 'Bravo'\?\)", "open"),
    "name listed twice": (lambda otb, lst: lst.write_text("Alpha\nBravo\nAlpha\nCharlie\n"),
                          r"'Alpha' is listed 2 times", "open"),
    "list file missing": (lambda otb, lst: lst.unlink(), r"sequence list not found: .*otb_list\.txt", "open"),
    "OTB root missing": (lambda otb, lst: shutil.rmtree(otb), r"OTB root folder not found: .*otb", "open"),
}


@pytest.fixture
def otb_tree(tmp_path):
    otb = tmp_path / "otb"
    return otb, make_otb(otb)


@pytest.fixture
def short_otb_tree(tmp_path):
    """For the tests that run YOLO: 8 frames a video."""
    otb = tmp_path / "otb"
    return otb, make_otb(otb, frames=8)


def test_check_passes_an_intact_copy(monkeypatch, capsys, otb_tree):
    otb, lst = otb_tree
    code, out, err = call(monkeypatch, capsys, "check_otb.py", "--otb_root", otb, "--list_file", lst,
                          "--decode", "true")
    assert code == 0, err
    assert "3 sequences listed, 3 opened, 60 frames decoded; 0 problem(s), 0 warning(s)" in out


@pytest.mark.parametrize("kind", DAMAGE)
def test_check_names_each_damage(monkeypatch, capsys, otb_tree, kind):
    otb, lst = otb_tree
    damage, pattern, found_by = DAMAGE[kind]
    damage(otb, lst)
    for decode in ("true", "false"):
        code, out, err = call(monkeypatch, capsys, "check_otb.py", "--otb_root", otb, "--list_file", lst,
                              "--decode", decode)
        if decode == "false" and found_by != "open":
            assert code == 0 and "0 problem(s)" in out  # the quick check does not decode frames
            continue
        assert_clean_error(code, err, r"1 problem\(s\)|sequence list not found")
        assert re.search(pattern, out + err), out + err


def test_check_reports_every_problem_at_once(monkeypatch, capsys, tmp_path):
    otb = tmp_path / "otb"
    names = ("Alpha", "Bravo", "Charlie", "Delta", "Echo")
    lst = make_otb(otb, names)
    _cut(_frame(otb, "Alpha", 3), 0.5)
    _frame(otb, "Bravo", 7).write_bytes(b"")
    _rewrite_gt(otb, "Charlie", lambda lines: [*lines[:2], "1,2,3", *lines[3:5], "a,b,c,d", *lines[6:]])
    shutil.rmtree(otb / "Delta" / "img")
    _rewrite_gt(otb, "Echo", _set_line(2, "5,5,-20,16"))  # a warning, not a problem
    lst.write_text(lst.read_text() + "Foxtrot\n")
    code, out, err = call(monkeypatch, capsys, "check_otb.py", "--otb_root", otb, "--list_file", lst,
                          "--decode", "true")
    assert_clean_error(code, err, r"5 problem\(s\) with OTB_ROOT=.*, listed above")
    problems = [line for line in out.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 5, out
    for pattern in (r"Alpha/img/0003\.jpg", r"empty .*Bravo/img/0007\.jpg", r"Charlie/groundtruth_rect\.txt, line 3",
                    r"Charlie/groundtruth_rect\.txt, line 6", r"Delta: image folder not found", r"Foxtrot"):
        assert re.search(pattern, out), pattern
    assert re.search(r"warning  Echo: 1 ground-truth box\(es\) with zero or negative width .*images 2\b", out)


@pytest.mark.parametrize("kind", [k for k, (_, _, found_by) in DAMAGE.items() if found_by == "open"])
def test_dataloader_stops_before_the_model(monkeypatch, capsys, otb_tree, no_model, tmp_path, kind):
    otb, lst = otb_tree
    damage, pattern, _ = DAMAGE[kind]
    damage(otb, lst)
    code, out, err = call(monkeypatch, capsys, "dataloader.py", *dataloader_args(otb, lst, tmp_path / "out"))
    assert_clean_error(code, err, pattern)
    assert files_under(tmp_path / "out") == []


@pytest.mark.parametrize("kind", ["truncated JPEG", "corrupt JPEG", "frame of another size"])
def test_dataloader_names_an_undecodable_frame_and_keeps_finished_videos(monkeypatch, capsys, short_otb_tree,
                                                                          tmp_path, kind):
    otb, lst = short_otb_tree
    damage, pattern, _ = DAMAGE[kind]
    damage(otb, lst)
    out = tmp_path / "out"
    code, _, err = call(monkeypatch, capsys, "dataloader.py", *dataloader_args(otb, lst, out))
    assert_clean_error(code, err, pattern)
    assert cache.is_complete(out / "train" / "Alpha")  # the video before the bad frame is kept
    assert not (out / "test").exists() or list((out / "test").iterdir()) == []
    write_frame(_frame(otb), np.random.default_rng(2))  # repaired: the rerun finishes the job
    code, stdout, err = call(monkeypatch, capsys, "dataloader.py", *dataloader_args(otb, lst, out))
    assert code == 0, err
    assert "1 videos already cached, 2 to extract" in stdout
    assert sorted(cached_videos(out)) == [("eval", "Charlie"), ("test", "Bravo"), ("train", "Alpha")]


@pytest.mark.parametrize("kind", ["truncated JPEG", "corrupt JPEG", "frame of another size", "zero-byte image"])
def test_dataloader_check_mode_decodes_every_frame(monkeypatch, capsys, otb_tree, no_model, tmp_path, kind):
    otb, lst = otb_tree
    code, out, err = call(monkeypatch, capsys, "dataloader.py", *dataloader_args(otb, lst, tmp_path / "out"),
                          "--check", "true")
    assert code == 0 and "check passed: 3 sequences listed, 3 opened, 60 frames decoded" in out, err
    damage, pattern, _ = DAMAGE[kind]
    damage(otb, lst)
    code, out, err = call(monkeypatch, capsys, "dataloader.py", *dataloader_args(otb, lst, tmp_path / "out"),
                          "--check", "true")
    assert_clean_error(code, err, pattern)
    assert not (tmp_path / "out").exists()


def test_lenient_decoder_cannot_pass_a_truncated_jpeg(monkeypatch, tmp_path):
    """Some OpenCV builds decode a JPEG cut short, greying out the missing rows; load_image refuses it anyway."""
    path = tmp_path / "0001.jpg"
    write_frame(path, np.random.default_rng(0))
    grey = np.full((SIZE[1], SIZE[0], 3), 128, np.uint8)
    monkeypatch.setattr(cv2, "imread", lambda *args, **kwargs: grey.copy())
    assert load_image(path).shape == grey.shape  # intact: ends with its end-of-image marker
    _cut(path, 0.7)
    with pytest.raises(DataError, match=r"truncated .*0001\.jpg"):
        load_image(path)


def test_box_without_area_is_a_documented_skip(monkeypatch, capsys, short_otb_tree, tmp_path):
    """OTB marks an absent target with a zero or negative size: a warning, and the frame is neither trained
    on nor scored."""
    otb, lst = short_otb_tree
    _rewrite_gt(otb, "Alpha", _set_line(3, "10,8,-5,16"))
    _rewrite_gt(otb, "Alpha", _set_line(4, "10,8,20,0"))
    out = tmp_path / "out"
    code, stdout, err = call(monkeypatch, capsys, "dataloader.py", *dataloader_args(otb, lst, out))
    assert code == 0, err
    assert re.search(r"warning: Alpha: 2 ground-truth box\(es\) with zero or negative width or height "
                     r"\(images 3, 4\) in .*Alpha/groundtruth_rect\.txt", stdout)
    v = cache.read_video(out / "train" / "Alpha")
    assert list(np.flatnonzero(~v.labelled)) == [2, 3] and not v.used_in_training[2:4].any()
    assert np.isnan(v.gt[2:4]).all() and np.isfinite(v.gt[np.r_[0:2, 4:8]]).all()


# ---- 4. damaged cache ---------------------------------------------------------------

def _truncate_npy(name, keep=None):
    def damage(d):
        data = (d / name).read_bytes()
        (d / name).write_bytes(data[:keep] if keep else data[:-7])
    return damage


def _edit_meta(d, **settings):
    meta = json.loads((d / "meta.json").read_text())
    meta["settings"].update(settings)
    (d / "meta.json").write_text(json.dumps(meta))


def _other_dim(d):
    a = {k: np.load(d / f"{k}.npy") for k in cache.ARRAYS}
    a["features"] = a["features"][:, :16]
    meta = json.loads((d / "meta.json").read_text())
    cache.write_video(d, a, meta)


def _set_values(name, rows, value):
    def damage(d):
        a = np.load(d / name)
        a[rows, 0] = value
        np.save(d / name, a)
    return damage


#: kind -> (damage(video folder), message pattern); the damaged video is the split's second.
CACHE_DAMAGE = {
    "NaN in features": (_set_values("features.npy", [3], np.nan), r"{v}/features\.npy holds NaN or inf \(images 4\)"),
    "inf in detector boxes": (_set_values("bbox_yolo.npy", [0, 9], np.inf),
                              r"{v}/bbox_yolo\.npy holds NaN or inf \(images 1, 10\)"),
    "NaN in ground truth": (_set_values("gt.npy", [4], np.nan), r"{v}/gt\.npy holds NaN or inf on labelled frames"),
    "inf in confidences": (lambda d: np.save(d / "conf.npy", np.full(40, np.inf, np.float32)),
                           r"{v}/conf\.npy holds NaN or inf \(images 1, 2, 3, 4, 5 and 35 more\)"),
    "truncated .npy": (_truncate_npy("features.npy"), r"damaged .*/{v}/features\.npy"),
    "truncated .npy header": (_truncate_npy("gt.npy", keep=30), r"damaged .*/{v}/gt\.npy"),
    "object array in .npy": (lambda d: np.save(d / "conf.npy", np.array([None] * 40), allow_pickle=True),
                             r"damaged .*/{v}/conf\.npy"),
    "arrays of mismatched lengths": (lambda d: np.save(d / "labelled.npy", np.ones(5, bool)),
                                     r"{v}: labelled\.npy has 5 rows but meta\.json says 40 frames"),
    "array file missing": (lambda d: (d / "dets.npy").unlink(), r"cache file missing: .*/{v}/dets\.npy"),
    "corrupt meta.json": (lambda d: (d / "meta.json").write_text('{"name": '), r"{v}/meta\.json: corrupt metadata"),
    "meta.json missing": (lambda d: (d / "meta.json").unlink(), r"no complete cache at .*/{v} \(meta\.json missing\)"),
    "another feature dimension in the split": (_other_dim, r"different feature dimensions \[16, 32\]"),
    "other extraction settings in the split": (lambda d: _edit_meta(d, IMG_SIZE=320),
                                               r"{v} was extracted with IMG_SIZE=320 but .* with 640"),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A pristine experiment-1 cache (train Syn01-02, test Syn03-04, eval Syn05) and a checkpoint trained on it."""
    tmp = tmp_path_factory.mktemp("trained")
    write_synthetic_cache(tmp / "data", experiment=1, n_videos=5, frames=40, n_train=2, n_test=2)
    cfg = train_config(tmp / "data", tmp / "ckpt", "--epochs", "2")
    return {"data": tmp / "data", "ckpt": training.run(cfg, progress=False)}


def train_config(data, ckpt_dir, *argv):
    consts = runpy.run_path(str(REPO / "train.py"), run_name="not_main")
    base = ["--data_dir", str(data), "--checkpoint_dir", str(ckpt_dir), "--device", "cpu", "--hidden", "32",
            "--batch_size", "8", "--lr", "1e-3"]
    return config.from_script(consts, base + list(map(str, argv)), checks=training.CHECKS)


def eval_config(data, ckpt, results, *argv):
    consts = runpy.run_path(str(REPO / "evaluation.py"), run_name="not_main")
    base = ["--data_dir", str(data), "--checkpoint", str(ckpt), "--experiment", "1", "--epochs", "2",
            "--device", "cpu", "--results_dir", str(results), "--otb_root", str(results / "no-otb"),
            "--plots", "false"]
    return config.from_script(consts, base + list(map(str, argv)), checks=evaluation.CHECKS)


@pytest.fixture
def data_copy(trained, tmp_path):
    shutil.copytree(trained["data"], tmp_path / "data")
    return tmp_path / "data"


@pytest.mark.parametrize("kind", CACHE_DAMAGE)
def test_damaged_cache_stops_training_before_it_starts(data_copy, tmp_path, capsys, kind):
    damage, pattern = CACHE_DAMAGE[kind]
    damage(data_copy / "train" / "Syn02")
    with pytest.raises(DataError, match=pattern.format(v="Syn02")):
        training.run(train_config(data_copy, tmp_path / "ckpt", "--epochs", "2"), progress=False)
    assert "epoch" not in capsys.readouterr().out and files_under(tmp_path / "ckpt") == []


@pytest.mark.parametrize("kind", CACHE_DAMAGE)
def test_damaged_cache_stops_evaluation_before_it_starts(trained, data_copy, tmp_path, kind):
    damage, pattern = CACHE_DAMAGE[kind]
    damage(data_copy / "test" / "Syn04")
    with pytest.raises(DataError, match=pattern.format(v="Syn04")):
        evaluation.run(eval_config(data_copy, trained["ckpt"], tmp_path / "results"), progress=False)
    assert not (tmp_path / "results").exists()


def test_leftover_temporary_video_is_never_read(data_copy, tmp_path):
    """A run killed between writing meta.json and the rename leaves a whole folder under a temporary name."""
    test = data_copy / "test"
    os.replace(test / "Syn04", test / ".tmp-Syn04-0badc0de")
    assert [v.name for v in cache.read_split(data_copy, "test")] == ["Syn03"]


def test_dataloader_refuses_a_cache_made_with_other_settings(monkeypatch, capsys, tmp_path, no_model):
    names = ("Syn01", "Syn02", "Syn03")
    lst = make_otb(tmp_path / "otb", names)
    write_synthetic_cache(tmp_path / "out", experiment=1, n_videos=3, frames=FRAMES, n_train=1, n_test=1)
    code, _, err = call(monkeypatch, capsys, "dataloader.py", *dataloader_args(tmp_path / "otb", lst, tmp_path / "out"))
    assert_clean_error(code, err, r"cache .*train/Syn01 was made with WEIGHTS='synthetic', this run needs "
                                  r"'yolov8n\.yaml'; re-extract with --overwrite true")


def test_evaluation_refuses_a_cache_made_otherwise_than_the_training_one(trained, data_copy, tmp_path):
    for d in (data_copy / "test").iterdir():
        _edit_meta(d, IMG_SIZE=320)  # same feature dimension, other features
    with pytest.raises(DataError, match=r"trained on features extracted with IMG_SIZE=640, but the cache "
                                        r".*test/Syn03 was made with IMG_SIZE=320"):
        evaluation.run(eval_config(data_copy, trained["ckpt"], tmp_path / "results"), progress=False)


def test_evaluation_refuses_another_experiments_cache(trained, tmp_path):
    write_synthetic_cache(tmp_path / "exp3", experiment=3, n_videos=5, frames=40, n_train=2, n_test=2)
    with pytest.raises(DataError, match=r"exp3/test was extracted for experiment 3, but --experiment is 1"):
        evaluation.run(eval_config(tmp_path / "exp3", trained["ckpt"], tmp_path / "results"), progress=False)


def test_resume_refuses_a_cache_made_otherwise(data_copy, tmp_path):
    training.run(train_config(data_copy, tmp_path / "ckpt", "--epochs", "2", "--save_every", "1"), progress=False)
    for d in (data_copy / "train").iterdir():
        _edit_meta(d, WEIGHTS="yolov8m.pt")
    with pytest.raises(DataError, match=r"cannot resume from .*rolo_lstm_exp1_2\.last\.pth: it was trained on a "
                                        r"cache extracted with WEIGHTS='synthetic', but .* with 'yolov8m\.pt'"):
        training.run(train_config(data_copy, tmp_path / "ckpt", "--epochs", "2", "--resume", "true"),
                     progress=False)


# ---- 5. wrong or absent checkpoint ----------------------------------------------------

def _ckpt_variant(**changes):
    def make(ckpt, path):
        c = dict(ckpt, **changes)
        if "model_info" in changes:
            info = changes["model_info"]
            c["model"] = ROLO(info["feature_dim"], info["hidden"], info["head"]).state_dict()
        torch.save(c, path)
    return make


def _misfit(ckpt, path):
    c = dict(ckpt, model=ROLO(32, 48).state_dict())  # model_info still says hidden 32
    torch.save(c, path)


#: kind -> (write(trained checkpoint dict, path), message pattern).
CHECKPOINT_FAULTS = {
    "truncated file": (lambda ckpt, path: (torch.save(ckpt, path), _cut(path, 0.5)),
                       r"checkpoint .*bad\.pth is corrupt or not a PyTorch file"),
    "empty file": (lambda ckpt, path: path.write_bytes(b""), r"checkpoint .*bad\.pth is corrupt"),
    "text file": (lambda ckpt, path: path.write_text("weights\n"), r"checkpoint .*bad\.pth is corrupt"),
    "another experiment": (_ckpt_variant(experiment=3),
                           r"checkpoint .*bad\.pth was trained for experiment 3, but --experiment is 1"),
    "another feature dimension": (_ckpt_variant(model_info={"feature_dim": 512, "hidden": 32, "head": "coord"}),
                                  r"checkpoint .*bad\.pth expects 512-d features, but the cache .* has 32-d"),
    "weights that do not fit": (_misfit, r"checkpoint .*bad\.pth: weights do not fit a ROLO model"),
    "a whole pickled model": (lambda ckpt, path: torch.save(ROLO(32, 32), path),
                              r"checkpoint .*bad\.pth holds pickled Python objects .* save model\.state_dict\(\)"),
    "another network's state dict": (lambda ckpt, path: torch.save({"conv1.weight": torch.zeros(8, 3, 3, 3)}, path),
                                     r"checkpoint .*bad\.pth: a state dict without the ROLO LSTM weights"),
    "not a dict": (lambda ckpt, path: torch.save([torch.zeros(3)], path),
                   r"checkpoint .*bad\.pth is not a ROLO checkpoint"),
}


@pytest.mark.parametrize("kind", CHECKPOINT_FAULTS)
def test_wrong_checkpoint_is_named(trained, tmp_path, kind):
    write, pattern = CHECKPOINT_FAULTS[kind]
    bad = tmp_path / "bad.pth"
    write(torch.load(trained["ckpt"], weights_only=True), bad)
    with pytest.raises(DataError, match=pattern):
        evaluation.run(eval_config(trained["data"], bad, tmp_path / "results"), progress=False)
    assert not (tmp_path / "results").exists()


def test_reports_plain_state_dict_loads_and_scores_the_same(trained, tmp_path):
    """The report's code saves ``model.state_dict()`` with the linear layer named ``fc``."""
    full = evaluation.run(eval_config(trained["data"], trained["ckpt"], tmp_path / "full"), progress=False)
    sd = torch.load(trained["ckpt"], weights_only=True)["model"]
    plain = tmp_path / "report.pth"
    torch.save({k.replace("head.", "fc."): v for k, v in sd.items()}, plain)
    res = evaluation.run(eval_config(trained["data"], plain, tmp_path / "plain"), progress=False)
    assert json.dumps(res["videos"]) == json.dumps(full["videos"]) and res["mean"] == full["mean"]


@pytest.mark.parametrize("kind, pattern", [
    ("corrupt", r"checkpoint .*rolo_lstm_exp1_3\.last\.pth is corrupt"),
    ("feature dimension",
     r"cannot resume from .*rolo_lstm_exp1_3\.last\.pth: feature dimension 16 but the cache has 32"),
])
def test_resume_never_silently_restarts_from_a_bad_checkpoint(data_copy, tmp_path, capsys, kind, pattern):
    last = tmp_path / "ckpt" / "rolo_lstm_exp1_3.last.pth"
    last.parent.mkdir()
    if kind == "corrupt":
        last.write_bytes(b"PK\x03\x04 half a zip")
    else:
        torch.save({"model": ROLO(16, 32).state_dict(), "model_info": {"feature_dim": 16, "hidden": 32,
                    "head": "coord"}, "feature_dim": 16, "epoch": 1, "settings": {}}, last)
    with pytest.raises(DataError, match=pattern):
        training.run(train_config(data_copy, tmp_path / "ckpt", "--epochs", "3", "--resume", "true"),
                     progress=False)
    assert "loss" not in capsys.readouterr().out  # not one epoch ran


# ---- 6. command line ----------------------------------------------------------------

BAD_FLAGS = [
    ("train.py", ["--seq_len", "0"], r"--seq_len: must be >= 1, got 0"),
    ("train.py", ["--epochs", "-5"], r"--epochs: must be >= 1, got -5"),
    ("train.py", ["--epochs", "ten"], r"--epochs: expected an integer, got 'ten'"),
    ("train.py", ["--epochs", "2.5"], r"--epochs: expected an integer, got '2\.5'"),
    ("train.py", ["--lr", "fast"], r"--lr: expected a number, got 'fast'"),
    ("train.py", ["--lr", "0"], r"--lr: must be between 1e-12 and 10\.0, got 0\.0"),
    ("train.py", ["--lr", "nan"], r"--lr: must be between"),
    ("train.py", ["--batch_size", "0"], r"--batch_size: must be >= 1, got 0"),
    ("train.py", ["--head", "box"], r"--head: 'box' is not allowed; choose one of 'coord', 'heatmap'"),
    ("train.py", ["--resume", "maybe"], r"--resume: expected true or false, got 'maybe'"),
    ("train.py", ["--seq_length", "6"], r"unknown flag --seq_length; known flags: .*--seq_len"),
    ("train.py", ["--device", "gpu0"], r"--device: 'gpu0' is not a torch device; use auto, cpu, cuda or cuda:N"),
    ("train_exp3.py", ["--experiment", "4"], r"--experiment: 4 is not allowed; choose one of 1, 2, 3"),
    ("train_exp3.py", ["--save_every", "0"], r"--save_every: must be >= 1, got 0"),
    ("evaluation.py", ["--split", "tset"], r"--split: 'tset' is not allowed; choose one of 'test', 'eval', 'train'"),
    ("evaluation.py", ["--mode", "offline"], r"--mode: 'offline' is not allowed; choose one of 'online', 'report'"),
    ("evaluation.py", ["--protocol", "heldout"], r"--protocol: 'heldout' is not allowed; choose one of 'all', "
                                                 r"'held-out'"),
    ("evaluation.py", ["--epochs", "0"], r"--epochs: must be >= 1, got 0"),
    ("evaluation.py", ["--heatmap_threshold", "1.5"],
     r"--heatmap_threshold: must be between [0-9.]+ and 1\.0, got 1\.5"),
    ("dataloader.py", ["--conf", "2"], r"--conf: must be between 0\.0 and 1\.0, got 2\.0"),
    ("dataloader.py", ["--img_size", "100"], r"--img_size: must be a positive multiple of 32, got 100"),
    ("dataloader.py", ["--epochs", "3"], r"unknown flag --epochs; known flags: --otb_root"),
    ("dataloader.py", ["--otb_root"], r"--otb_root: missing value"),
    ("dataloader.py", ["OTB100"], r"unexpected argument 'OTB100'; flags look like --name value"),
    ("dataloader_exp2.py", ["--label_every", "0"], r"--label_every: must be >= 1, got 0"),
    ("dataloader_exp3.py", ["--top_k", "0"], r"--top_k: must be >= 1, got 0"),
    ("dataloader_exp3.py", ["--strict_frames", "strict"], r"--strict_frames: expected true or false"),
    ("check_otb.py", ["--decode", "sometimes"], r"--decode: expected true or false, got 'sometimes'"),
]


@pytest.mark.parametrize("script, argv, pattern", BAD_FLAGS, ids=[f"{s}:{' '.join(a)}" for s, a, _ in BAD_FLAGS])
def test_bad_flag_is_named(monkeypatch, capsys, script, argv, pattern):
    code, _, err = call(monkeypatch, capsys, script, *argv)
    assert_clean_error(code, err, pattern)
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_dataloader_bad_device_is_named_before_the_model(monkeypatch, capsys, otb_tree, no_model, tmp_path):
    otb, lst = otb_tree
    argv = [*dataloader_args(otb, lst, tmp_path / "out")]
    argv[argv.index("--device") + 1] = "gpu0"
    code, _, err = call(monkeypatch, capsys, "dataloader.py", *argv)
    assert_clean_error(code, err, r"--device: .*'gpu0' is not a torch device")


@pytest.mark.parametrize("script, argv, pattern", [
    ("dataloader.py", ["--epochs", "3"], r"unknown flag --epochs"),
    ("evaluation.py", ["--split", "tset"], r"--split: 'tset' is not allowed"),
])
def test_bad_flag_in_a_real_process(tmp_path, script, argv, pattern):
    p = subprocess.run([sys.executable, script, *argv], cwd=REPO, env=script_env(tmp_path), capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 2 and p.stdout == ""
    assert_clean_error(p.returncode, p.stderr, pattern)


# ---- 7. no weights offline ------------------------------------------------------------

def test_missing_weights_offline_explain_how_to_get_them(tmp_path):
    """yolov8s.pt absent, its download pointed at a closed local port: no network is touched."""
    otb = tmp_path / "otb"
    lst = make_otb(otb, ("Alpha",), frames=3)
    work = tmp_path / "work"  # the script's working folder, where Ultralytics would put the download
    work.mkdir()
    unreachable = "http://127.0.0.1:9"
    env = script_env(tmp_path, HTTPS_PROXY=unreachable, HTTP_PROXY=unreachable, https_proxy=unreachable,
                     http_proxy=unreachable, ALL_PROXY=unreachable, NO_PROXY="", no_proxy="")
    p = run_script(tmp_path, "dataloader.py", [*dataloader_args(otb, lst, tmp_path / "out", "yolov8s.pt"),
                                               "--n_test", "0"], "offline.log", cwd=work, env=env)
    assert p.returncode == 2, p.output
    assert "Traceback" not in p.output
    assert "error: YOLO weights 'yolov8s.pt' are not on this machine and could not be downloaded" in p.output
    assert "https://github.com/ultralytics/assets/releases/download/" in p.output
    assert "--weights /path/to/yolov8s.pt" in p.output and "yolov8s.yaml" in p.output
    assert files_under(work) == []  # no partial download left behind
    assert files_under(tmp_path / "out") == []


# ---- 8. disk full, unwritable output ------------------------------------------------------

def test_unwritable_out_dir_is_named_before_the_model(monkeypatch, capsys, otb_tree, no_model, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    code, _, err = call(monkeypatch, capsys, "dataloader.py", *dataloader_args(*otb_tree, blocker / "cache"))
    assert_clean_error(code, err, r"--out_dir .*a-file/cache cannot be made: .*a-file is a file, not a folder")


@pytest.mark.slow
def test_disk_full_while_caching_names_the_path_and_leaves_nothing(tmp_path, fixed_weights):
    """A file-size limit makes the first big write fail as a full disk would (EFBIG instead of ENOSPC)."""
    import resource

    otb = tmp_path / "otb"
    lst = make_otb(otb)
    limit = 12 * 1024  # features.npy of one video is 20 x 256 x 4 bytes

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    # Output goes to pipes: a log file would be cut by the same limit.
    p = subprocess.run([sys.executable, "dataloader.py", *dataloader_args(otb, lst, tmp_path / "out", fixed_weights)],
                       cwd=REPO, env=script_env(tmp_path), capture_output=True, text=True, timeout=900,
                       preexec_fn=small_files)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    # numpy reports a short write without errno ("5120 requested and 3040 written")
    assert re.search(r"error: cannot write cache .*out/train/Alpha: (File too large|.*is the disk full\?)", p.stderr)
    # no partial cache, no temporary folder: only the split plan, written before the first video
    assert files_under(tmp_path / "out") == [tmp_path / "out" / cache.PLAN_FILE]


def test_unwritable_checkpoint_dir_is_named_before_training(data_copy, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    with pytest.raises(DataError, match=r"--checkpoint_dir .*a-file/ckpt cannot be made: .*a-file is a file, "
                                        r"not a folder"):
        training.run(train_config(data_copy, blocker / "ckpt", "--epochs", "2"), progress=False)
    assert "epoch" not in capsys.readouterr().out


def test_disk_full_while_saving_a_checkpoint_then_resume(data_copy, tmp_path, monkeypatch):
    args = ("--epochs", "3", "--save_every", "1")
    ref = training.run(train_config(data_copy, tmp_path / "ref", *args), progress=False)
    real_save = torch.save

    def disk_full_at_epoch_2(obj, f, *a, **k):
        if isinstance(obj, dict) and obj.get("epoch") == 2:
            f.write(b"PK\x03\x04 partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", disk_full_at_epoch_2)
    ck = tmp_path / "ckpt"
    with pytest.raises(DataError, match=r"cannot write checkpoint .*rolo_lstm_exp1_3\.last\.pth: No space left"):
        training.run(train_config(data_copy, ck, *args), progress=False)
    monkeypatch.setattr(torch, "save", real_save)
    assert sorted(p.name for p in ck.iterdir()) == ["rolo_lstm_exp1_3.last.pth"]  # no partial file
    assert torch.load(ck / "rolo_lstm_exp1_3.last.pth", weights_only=True)["epoch"] == 1
    resumed = training.run(train_config(data_copy, ck, *args, "--resume", "true"), progress=False)
    a, b = torch.load(ref, weights_only=True)["model"], torch.load(resumed, weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_unwritable_or_full_results_dir_is_named(trained, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    with pytest.raises(DataError, match=r"cannot create RESULTS_DIR .*a-file/results: Not a directory"):
        evaluation.run(eval_config(trained["data"], trained["ckpt"], blocker / "results"), progress=False)
    real_write = Path.write_text

    def disk_full(self, text, *a, **k):
        if self.name == "metrics.json.tmp":
            real_write(self, text[:10], *a, **k)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, text, *a, **k)

    monkeypatch.setattr(Path, "write_text", disk_full)
    results = tmp_path / "results"
    with pytest.raises(DataError, match=r"cannot write .*results/metrics\.json: No space left on device"):
        evaluation.run(eval_config(trained["data"], trained["ckpt"], results), progress=False)
    assert not list(results.glob("metrics.json*"))


# ---- determinism ----------------------------------------------------------------------

def _scores(result: dict) -> str:
    """A result without the run's own paths and timings, as JSON (so that NaN equals NaN)."""
    return json.dumps({k: v for k, v in result.items() if k not in ("settings", "checkpoint", "seconds_per_frame")},
                      sort_keys=True)


def test_same_seed_same_metrics_and_other_seed_differs(trained, tmp_path):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        ckpt = training.run(train_config(trained["data"], tmp_path / name, "--epochs", "2", "--seed", seed),
                            progress=False)
        runs[name] = evaluation.run(eval_config(trained["data"], ckpt, tmp_path / f"results-{name}"), progress=False)
    again = evaluation.run(eval_config(trained["data"], tmp_path / "a" / "rolo_lstm_exp1_2.pth",
                                       tmp_path / "results-a2"), progress=False)
    assert _scores(runs["a"]) == _scores(runs["b"]) == _scores(again)
    assert (tmp_path / "results-a" / "metrics.csv").read_text() == (tmp_path / "results-b" / "metrics.csv").read_text()
    assert runs["a"]["videos"] != runs["c"]["videos"]  # the seed matters, so the equality above is not vacuous


def test_ram_and_mmap_caches_train_the_same_weights(trained, tmp_path):
    paths = [training.run(train_config(trained["data"], tmp_path / mode, "--epochs", "2", "--cache_mode", mode),
                          progress=False) for mode in ("ram", "mmap")]
    a, b = (torch.load(p, weights_only=True) for p in paths)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["loss_history"] == b["loss_history"]
