"""Tests for four realistic bugs that the fast tests let through (issue 16).

Each was applied to ``rolo/`` by hand, seen to fail the test below, and reverted:

a. a window whose only labelled frame is its last one is dropped (wrong when SEQ_LEN <= LABEL_EVERY);
b. a cache video rewritten in place instead of through a temporary folder;
c. the held-out mask inverted (the held-out score taken over the trained-on frames);
d. the checkpoint's SEQ_LEN ignored at evaluation.

The tests pin exact frames and exact values, computed independently of the code under test,
so that a bug cannot cancel out by being read the same way on both sides.
"""
from __future__ import annotations

import errno
import json

import numpy as np
import pytest
import torch

from rolo import cache, evaluation, metrics, training
from rolo.errors import DataError
from rolo.model import ROLO
from rolo.synthetic_cache import write_synthetic_cache
from rolo.windows import MmapStore, RamStore, window_label_counts, window_starts
from test_faults import eval_config, train_config

LABEL_EVERY = 3


# ---- a. a window labelled only on its last frame ------------------------------------------

def test_window_labelled_only_on_its_last_frame_is_kept():
    lab = np.zeros(10, bool)
    lab[::LABEL_EVERY] = True  # frames 0, 3, 6, 9
    # SEQ_LEN == LABEL_EVERY: every window holds exactly one label; [1, 2, 3], [4, 5, 6], [7, 8, 9] at their end.
    np.testing.assert_array_equal(window_starts([10], 3, lab), np.arange(8))
    np.testing.assert_array_equal(window_label_counts(np.arange(8), 3, lab), np.ones(8))
    # SEQ_LEN < LABEL_EVERY: [1, 2] has no label and goes; [2, 3], [5, 6], [8, 9] have it last and stay.
    np.testing.assert_array_equal(window_starts([10], 2, lab), [0, 2, 3, 5, 6, 8])


def test_stores_train_on_windows_labelled_only_at_their_end(tmp_path):
    write_synthetic_cache(tmp_path, experiment=3, n_videos=3, frames=10, n_train=2, n_test=0,
                          label_every=LABEL_EVERY)
    videos = cache.read_planned_split(tmp_path, "train")
    for store in (RamStore(videos, 3), MmapStore(videos, 3)):
        assert len(store) == 2 * 8
        _, _, m = store.batch(torch.tensor([1, 4, 7]))  # windows [1..3], [4..6], [7..9] of the first video
        assert m.tolist() == [[False, False, True]] * 3


# ---- b. a cache video rewritten in place ---------------------------------------------------

def _arrays(value: float, n: int = 5) -> dict:
    a = {k: np.full((n, 2), value, np.float32) for k in cache.ARRAYS}
    a["labelled"] = np.ones(n, bool)
    return a


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_failed_rewrite_leaves_the_old_video_whole(tmp_path, monkeypatch, failure):
    """A rewrite (--overwrite true) that stops after some files must leave the complete old video, unmixed."""
    path = tmp_path / "train" / "V"
    cache.write_video(path, _arrays(1.0), {"name": "V"})
    real_save, calls = np.save, []

    def stops_at_the_third_file(f, a, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise failure
        return real_save(f, a, *args, **kwargs)

    monkeypatch.setattr(np, "save", stops_at_the_third_file)
    with pytest.raises((DataError, KeyboardInterrupt)):
        cache.write_video(path, _arrays(2.0, n=7), {"name": "V"})
    monkeypatch.setattr(np, "save", real_save)
    v = cache.read_video(path, mmap=False)
    assert len(v) == 5 and all(np.all(v.arrays[k] == 1) for k in cache.ARRAYS)
    assert json.loads((path / "meta.json").read_text())["n_frames"] == 5
    assert sorted(p.name for p in path.parent.iterdir()) == ["V"]  # no temporary folder left


# ---- c. the held-out mask ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def exp3(tmp_path_factory):
    """An experiment-3 cache (test videos = training videos, labels of frames 1, 4, 7, ... trained on)
    and a checkpoint trained on it with SEQ_LEN 3."""
    tmp = tmp_path_factory.mktemp("exp3")
    write_synthetic_cache(tmp / "data", experiment=3, n_videos=3, frames=[20, 16, 12], n_train=2, n_test=0,
                          label_every=LABEL_EVERY)
    ckpts = {}
    for kind, extra in (("plain", ()), ("residual", ("--inputs", "box", "--residual", "true"))):
        cfg = train_config(tmp / "data", tmp / kind, "--experiment", "3", "--epochs", "2", "--seq_len", "3", *extra)
        ckpts[kind] = training.run(cfg, progress=False)
    return tmp, ckpts


def _evaluate(exp3, tmp_path, kind):
    tmp, ckpts = exp3
    cfg = eval_config(tmp / "data", ckpts[kind], tmp_path / "results", "--experiment", "3")
    return evaluation.run(cfg, progress=False), tmp_path / "results"


def _xywh(gt_cxcywh_norm, size):
    w, h = size
    cx, cy, bw, bh = np.asarray(gt_cxcywh_norm, np.float64).T * np.array([[w], [h], [w], [h]])
    return np.stack([cx - bw / 2, cy - bh / 2, bw, bh], axis=1)


def test_held_out_score_is_over_exactly_the_frames_not_trained_on(exp3, tmp_path):
    """The residual box-only model starts from the detector's boxes, so its IoUs differ from frame to frame
    and a score over the wrong frames shows."""
    result, results = _evaluate(exp3, tmp_path, "residual")
    tmp, _ = exp3
    for name, n in (("Syn01", 20), ("Syn02", 16)):
        held = np.arange(n) % LABEL_EVERY != 0  # frames 2, 3, 5, 6, ...: never trained on
        v = cache.read_video(tmp / "data" / "test" / name)
        gt = _xywh(v.gt, v.image_size)
        for variant, boxes in (("online", np.loadtxt(results / f"{name}.txt", delimiter=",")),
                               ("yolo", _xywh(v.bbox_yolo, v.image_size))):
            iou = metrics.iou_xywh(boxes, gt)
            assert abs(iou[held].mean() - iou[~held].mean()) > 1e-3  # the two sets score apart
            assert result["variants"][f"{variant}/held-out"]["aos"][name] == pytest.approx(iou[held].mean(), abs=1e-4)
            assert result["variants"][variant]["aos"][name] == pytest.approx(iou.mean(), abs=1e-4)
    frames = sum(int((np.arange(n) % LABEL_EVERY != 0).sum()) for n in (20, 16))
    assert result["variants"]["online/held-out"]["mean"]["frames"] == frames == 13 + 10


# ---- d. the checkpoint's SEQ_LEN at evaluation ---------------------------------------------------

def test_evaluation_windows_are_the_checkpoints_seq_len(exp3, tmp_path):
    """Predictions are recomputed here from the weights alone, with the 3 the checkpoint was trained with
    written out, not read back: evaluating with another window length changes every frame after the third."""
    result, results = _evaluate(exp3, tmp_path, "plain")
    assert result["seq_len"] == 3
    tmp, ckpts = exp3
    ckpt = ckpts["plain"]
    state = torch.load(ckpt, weights_only=True)
    info = state["model_info"]
    model = ROLO(info["feature_dim"], info["hidden"], info["head"], info["inputs"], info["residual"])
    model.load_state_dict(state["model"])
    model.eval()
    v = cache.read_video(tmp / "data" / "test" / "Syn01")
    x = torch.from_numpy(np.concatenate([v.features, v.bbox_yolo], axis=1).astype(np.float32))
    with torch.no_grad():
        online = torch.stack([model(x[None, max(0, t - 2):t + 1])[0, -1] for t in range(len(x))]).numpy()
    pred = np.loadtxt(results / "Syn01.txt", delimiter=",")
    np.testing.assert_allclose(pred, _xywh(online, v.image_size), atol=0.02)  # the file has 2 decimals
