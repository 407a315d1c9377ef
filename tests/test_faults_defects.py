"""The defects a hostile new user found (issue 16), one reproduction each.

Every test ends in a clean refusal (an ``error:`` line naming the culprit,
exit status 2, no traceback) or in the correct result; none may end in a
silently wrong one. Helpers come from :mod:`test_faults`.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rolo import cache, evaluation, extractor, training
from rolo.errors import DataError
from rolo.extraction import sequence_size
from rolo.otb import OTB, list_images, read_list
from rolo.splits import SPLITS
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
