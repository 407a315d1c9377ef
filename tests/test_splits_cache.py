import json

import numpy as np
import pytest

from rolo import cache, splits
from rolo.errors import ConfigError, DataError
from rolo.synthetic_cache import write_synthetic_cache
from rolo.windows import RamStore, MmapStore, window_starts

NAMES = [f"V{i}" for i in range(33)]


def test_experiment_video_splits():
    s1 = splits.video_names(1, NAMES, 22, 8)
    assert s1["train"] == NAMES[:22] and s1["test"] == NAMES[22:30] and s1["eval"] == NAMES[30:]
    for e in (2, 3):
        s = splits.video_names(e, NAMES, 22, 8)
        assert s["train"] == NAMES[:30] and s["test"] == NAMES[:30] and s["eval"] == NAMES[30:]
    with pytest.raises(ConfigError, match="--experiment"):
        splits.video_names(4, NAMES, 22, 8)


def test_frame_counts_and_masks():
    p = splits.plan_video(2, "train", "V0", 10)
    np.testing.assert_array_equal(p.keep, [0, 3, 6, 9])  # frames 1, 4, 7, 10
    assert p.labelled.all() and p.used_in_training.all()
    p = splits.plan_video(3, "train", "V0", 10)
    assert len(p.keep) == 10 and list(np.flatnonzero(p.labelled)) == [0, 3, 6, 9]
    p = splits.plan_video(3, "test", "V0", 10)
    assert p.labelled.all() and list(np.flatnonzero(p.used_in_training)) == [0, 3, 6, 9]
    p = splits.plan_video(1, "test", "V0", 10)
    assert p.labelled.all() and not p.used_in_training.any()
    assert not splits.plan_video(2, "eval", "V0", 10).used_in_training.any()


def test_exp3_cache_hides_untrained_labels(tmp_path):
    write_synthetic_cache(tmp_path, experiment=3, n_videos=4, frames=12, n_train=2, n_test=1)
    v = cache.read_split(tmp_path, "train")[0]
    assert np.isnan(v.gt[1]).all() and np.isfinite(v.gt[0]).all()  # no label outside frames 1, 4, 7
    assert list(np.flatnonzero(v.labelled)) == [0, 3, 6, 9]


def test_window_starts_stay_inside_videos_and_skip_unlabelled():
    starts = window_starts([8, 3, 6], 6)
    np.testing.assert_array_equal(starts, [0, 1, 2, 11])
    lab = np.zeros(17, bool)
    lab[13] = True
    np.testing.assert_array_equal(window_starts([8, 3, 6], 6, lab), [11])


def test_stores_agree_and_are_views(tmp_path):
    write_synthetic_cache(tmp_path, experiment=3, n_videos=4, frames=[9, 12, 7, 10], n_train=2, n_test=1)
    videos = cache.read_split(tmp_path, "train")
    ram, mm = RamStore(videos, 6), MmapStore(videos, 6)
    assert len(ram) == len(mm) == (9 - 5) + (12 - 5) + (7 - 5)  # exp 3 trains on the 3 main videos
    import torch
    ids = torch.tensor([0, 3, 4, len(ram) - 1])
    for a, b in zip(ram.batch(ids), mm.batch(ids)):
        assert torch.equal(a, b)
    x, y, m = ram.batch(torch.tensor([4]))  # first window of the second video
    np.testing.assert_array_equal(x[0, :, :-4].numpy(), videos[1].features[:6])
    np.testing.assert_array_equal(m[0].numpy(), videos[1].labelled[:6])
    assert isinstance(videos[0].features, np.memmap)


def test_atomic_write_and_damage_detection(tmp_path):
    write_synthetic_cache(tmp_path, experiment=1, n_videos=3, frames=10, n_train=1, n_test=1)
    d = cache.video_dir(tmp_path, "train", "Syn01")
    assert not any(p.name.startswith(".tmp") for p in d.parent.iterdir())
    cache.read_video(d, expect={"feature_dim": 32, "IMG_SIZE": 640})
    with pytest.raises(DataError, match=r"made with IMG_SIZE=640, this run needs 320"):
        cache.read_video(d, expect={"IMG_SIZE": 320})
    with pytest.raises(DataError, match="made with feature_dim=32"):
        cache.read_video(d, expect={"feature_dim": 512})
    f = d / "bbox_yolo.npy"
    f.write_bytes(f.read_bytes()[:-7])
    with pytest.raises(DataError, match=r"damaged .*bbox_yolo.npy"):
        cache.read_video(d)
    d2 = cache.video_dir(tmp_path, "test", "Syn02")
    np.save(d2 / "conf.npy", np.zeros(4, np.float32))
    with pytest.raises(DataError, match=r"conf.npy has 4 rows but meta.json says 10"):
        cache.read_video(d2)
    (d2 / "meta.json").unlink()
    with pytest.raises(DataError, match="meta.json missing"):
        cache.read_video(d2)


def test_disk_full_leaves_nothing_and_names_path(tmp_path, monkeypatch):
    import errno
    real_save, calls = np.save, []

    def failing_save(f, a):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(f, a)

    monkeypatch.setattr(np, "save", failing_save)
    arrays = {k: np.zeros((3, 2), np.float32) for k in cache.ARRAYS}
    with pytest.raises(DataError, match=r"cannot write cache .*train/X: No space left on device"):
        cache.write_video(tmp_path / "train" / "X", arrays, {"name": "X"})
    assert list((tmp_path / "train").iterdir()) == []


def test_overwrite_replaces_whole_folder(tmp_path):
    a = {k: np.zeros((3, 2), np.float32) for k in cache.ARRAYS}
    cache.write_video(tmp_path / "V", a, {"name": "V"})
    a2 = {k: np.ones((5, 2), np.float32) for k in cache.ARRAYS}
    cache.write_video(tmp_path / "V", a2, {"name": "V"})
    v = cache.read_video(tmp_path / "V")
    assert len(v) == 5 and json.loads((tmp_path / "V/meta.json").read_text())["n_frames"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["V"]
