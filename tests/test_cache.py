"""rolo/cache.py in process: the on-disk contract a dataloader writes and training and evaluation read.

Pure numpy on ``tmp_path`` (no YOLO, no torch), so that mutation testing (tools/mutation.sh) can run
it per mutant. ``tests/test_splits_cache.py`` holds the first checks (a damaged ``.npy``, a short
array, ENOSPC, an overwrite); this file pins the rest of what a caller can see: the messages and
what they name, the files and ``meta.json`` written, the non-finite check chunk by chunk, and the
split plan.
"""
import copy
import errno
import json
import mmap
import os
import pickle
import re
import stat
from pathlib import Path

import numpy as np
import pytest

from rolo import cache
from rolo.errors import DataError

SETTINGS = {"WEIGHTS": "w.pt", "IMG_SIZE": 640, "CONF": 0.25, "TOP_K": 2}


def _arrays(n: int = 6, d: int = 3, first_frame: int = 101) -> dict:
    """One valid video: every frame labelled, frames numbered from ``first_frame``."""
    rng = np.random.default_rng(n * 100 + d)
    return {"features": rng.random((n, d), dtype=np.float32), "bbox_yolo": rng.random((n, 4), dtype=np.float32),
            "gt": rng.random((n, 4), dtype=np.float32),
            "frames": np.arange(first_frame, first_frame + n, dtype=np.int32),
            "labelled": np.ones(n, bool), "used_in_training": np.zeros(n, bool), "detected": np.ones(n, bool),
            "conf": np.full(n, 0.5, np.float32), "dets": rng.random((n, 2, 6), dtype=np.float32)}


def _write(data_dir, split: str, name: str, d: int = 3, n: int = 6, **meta):
    meta = {"name": name, "split": split, "image_size": [64, 48], "settings": dict(SETTINGS), **meta}
    return cache.write_video(cache.video_dir(data_dir, split, name), _arrays(n, d), meta)


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


# ---- write_video -------------------------------------------------------------------------------

def test_write_video_refuses_missing_arrays_and_ragged_rows_before_touching_disk(tmp_path):
    a = _arrays()
    del a["dets"], a["conf"]
    with pytest.raises(ValueError, match=r"^write_video: missing arrays \['conf', 'dets'\]$"):
        cache.write_video(tmp_path / "train" / "V", a, {"name": "V"})
    a = _arrays()
    a["conf"] = a["conf"][:4]
    with pytest.raises(ValueError, match=r"^write_video: conf has 4 rows, features has 6$"):
        cache.write_video(tmp_path / "train" / "V", a, {"name": "V"})
    a = _arrays()
    a["features"][2, 1] = np.nan
    with pytest.raises(DataError, match=r"^refusing to cache .*train/V: its features\.npy holds NaN or inf "
                                        r"\(images 103\)$"):
        cache.write_video(tmp_path / "train" / "V", a, {"name": "V"})
    assert _names(tmp_path) == []


def test_write_video_files_and_meta_json(tmp_path):
    a = _arrays(n=5, d=7)
    a["features"] = np.asfortranarray(a["features"])  # a strided array is written as its values
    meta = {"name": "V", "zeta": [1, 2], "alpha": "é", "n_frames": 99}
    path = tmp_path / "a" / "b" / "train" / "V"  # parent folders are created
    assert cache.write_video(path, a, meta) == path
    assert meta == {"name": "V", "zeta": [1, 2], "alpha": "é", "n_frames": 99}  # the caller's dict is kept
    assert _names(path) == sorted([f"{k}.npy" for k in cache.ARRAYS] + ["meta.json"])
    for k in cache.ARRAYS:
        saved = np.load(path / f"{k}.npy")
        assert saved.dtype == a[k].dtype and saved.shape == a[k].shape
        np.testing.assert_array_equal(saved, a[k])
    want = {"name": "V", "zeta": [1, 2], "alpha": "é", "n_frames": 5, "format_version": 1, "feature_dim": 7}
    assert (path / "meta.json").read_text(encoding="utf-8") == json.dumps(want, indent=1, sort_keys=True)
    assert _names(path.parent) == ["V"]
    cache.write_video(path.parent / "W", a, meta)  # a second video beside the first
    assert _names(path.parent) == ["V", "W"]


def test_write_video_syncs_every_file_and_the_folder(tmp_path, monkeypatch):
    """Data, meta.json and the renamed folder reach the disk before write_video returns (a power cut after
    it returns must not lose the video)."""
    real_fsync, synced = os.fsync, []

    def spy(fd):
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else os.fstat(fd).st_size)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    path = cache.write_video(tmp_path / "train" / "V", _arrays(), {"name": "V"})
    files = sorted(p.stat().st_size for p in path.iterdir())
    assert sorted(s for s in synced if s != "dir") == files  # every file whole when synced
    assert synced[-1] == "dir"


def test_fsync_dir_tolerates_what_a_filesystem_refuses(tmp_path, monkeypatch):
    cache._fsync_dir(tmp_path / "missing")  # cannot open: nothing to sync
    closed = []
    real_close = os.close

    def refuse(fd):
        raise OSError(errno.EINVAL, "Invalid argument")

    def close(fd):
        closed.append(fd)
        real_close(fd)

    monkeypatch.setattr(os, "fsync", refuse)
    monkeypatch.setattr(os, "close", close)
    cache._fsync_dir(tmp_path)  # some filesystems cannot fsync a folder
    assert len(closed) == 1


def test_rewrite_replaces_the_folder_and_leaves_no_temporaries(tmp_path):
    path = tmp_path / "train" / "V"
    cache.write_video(path, _arrays(n=6), {"name": "V", "old": True})
    (path / "stale.txt").write_text("from the old video")
    cache.write_video(path, _arrays(n=4), {"name": "V"})
    assert "stale.txt" not in _names(path) and "old" not in cache.read_meta(path)
    assert len(cache.read_video(path)) == 4
    assert _names(path.parent) == ["V"]


def test_rewrite_succeeds_when_the_old_copy_cannot_be_deleted(tmp_path, monkeypatch):
    """The new video is already in place; a leftover old copy (e.g. NFS's busy files) is not an error."""
    path = tmp_path / "train" / "V"
    cache.write_video(path, _arrays(n=6), {"name": "V"})
    real_rmtree = cache.shutil.rmtree

    def undeletable(p, ignore_errors=False, *args, **kwargs):
        if not ignore_errors:
            raise OSError(errno.EBUSY, "Device or resource busy", str(p))

    monkeypatch.setattr(cache.shutil, "rmtree", undeletable)
    cache.write_video(path, _arrays(n=4), {"name": "V"})
    monkeypatch.setattr(cache.shutil, "rmtree", real_rmtree)
    assert len(cache.read_video(path)) == 4
    left = [p for p in _names(path.parent) if p != "V"]
    assert len(left) == 1 and left[0].startswith(".tmp-old-V-")  # a temporary that readers skip
    assert cache.cached_names(tmp_path, "train") == ["V"]


@pytest.mark.parametrize("where", ["meta", "rename"])
def test_a_failed_write_removes_its_temporary_and_keeps_the_old_video(tmp_path, monkeypatch, where):
    path = tmp_path / "train" / "V"
    cache.write_video(path, _arrays(n=6), {"name": "V"})
    if where == "meta":
        monkeypatch.setattr(json, "dump", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    else:
        real_replace = os.replace
        # the new folder's rename into place fails; moving the old one aside and back works
        monkeypatch.setattr(os, "replace", lambda a, b: real_replace(a, b) if not Path(a).name.startswith(".tmp-V-")
                            else (_ for _ in ()).throw(OSError(errno.EXDEV, "Cross-device link")))
    with pytest.raises(DataError, match=r"^cannot write cache .*train/V: (I/O error|Cross-device link)$"):
        cache.write_video(path, _arrays(n=4), {"name": "V"})
    monkeypatch.undo()
    # no temporary is left, and the old video is whole and in place
    assert _names(path.parent) == ["V"]
    assert len(cache.read_video(path)) == 6


def test_a_short_write_without_errno_says_the_disk_may_be_full(tmp_path, monkeypatch):
    """numpy reports a short write as a bare OSError; the message must still say what to check."""
    def short(f, a):
        raise OSError("0 bytes written")

    monkeypatch.setattr(np, "save", short)
    with pytest.raises(DataError, match=r"^cannot write cache .*train/V: 0 bytes written \(is the disk full\?\)$"):
        cache.write_video(tmp_path / "train" / "V", _arrays(), {"name": "V"})
    assert _names(tmp_path / "train") == []


def test_an_unexpected_error_still_removes_the_temporary(tmp_path, monkeypatch):
    def broken(f, a):
        raise RuntimeError("unexpected pos")

    monkeypatch.setattr(np, "save", broken)
    with pytest.raises(RuntimeError, match="^unexpected pos$"):
        cache.write_video(tmp_path / "train" / "V", _arrays(), {"name": "V"})
    assert _names(tmp_path / "train") == []


def test_ctrl_c_before_the_temporary_exists_stays_ctrl_c(tmp_path, monkeypatch):
    """Cleaning up a temporary folder not made yet must not turn a Ctrl-C into a FileNotFoundError."""
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache.Path, "mkdir", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.write_video(tmp_path / "train" / "V", _arrays(), {"name": "V"})


def test_write_video_names_the_path_when_its_folder_cannot_be_made(tmp_path):
    (tmp_path / "train").write_text("a file in the way")
    with pytest.raises(DataError, match=r"^cannot write cache .*train/V: (File exists|Not a directory)$"):
        cache.write_video(tmp_path / "train" / "V", _arrays(), {"name": "V"})


# ---- write_text_atomic, ensure_writable, remove_stale_temporaries ------------------------------

@pytest.mark.parametrize("name, problem", [
    ("", "is not a folder name"), (".", "is not a folder name"), ("..", "is not a folder name"),
    ("/tmp/otb/Crossing", "is a path, not a single folder name"), ("../../otb/Crossing", "is a path, not a single "
                                                                   "folder name"),
    ("a/b", "is a path, not a single folder name"), ("..\\x", "is a path, not a single folder name")])
def test_video_dir_refuses_a_name_that_is_not_one_folder_below_the_split(tmp_path, name, problem):
    # An absolute name would make <out>/train/<name> the dataset's own sequence folder, which write_video replaced.
    assert cache.name_problem(name) == problem
    with pytest.raises(DataError, match=rf"^video name {re.escape(repr(name))} {problem}; refusing to use it as a "
                                        rf"cache folder under {re.escape(str(tmp_path / 'train'))}$"):
        cache.video_dir(tmp_path, "train", name)
    assert _names(tmp_path) == []


@pytest.mark.parametrize("name", ["Crossing", "Jogging-1", "airplane-1", "GOT-10k_Train_000001", "..x", "a.b",
                                  "Größe"])
def test_video_dir_keeps_every_real_name(tmp_path, name):
    assert cache.name_problem(name) == ""
    assert cache.video_dir(str(tmp_path), "test", name) == tmp_path / "test" / name


def test_write_video_never_replaces_what_is_not_a_cached_video(tmp_path):
    seq = tmp_path / "train" / "Crossing"  # a dataset's sequence folder where the video would go
    (seq / "img").mkdir(parents=True)
    (seq / "groundtruth_rect.txt").write_text("1,2,3,4\n")
    with pytest.raises(DataError, match=rf"^refusing to replace {re.escape(str(seq))}: it exists and is not a cached "
                                        r"video \(no meta\.json\); move it away or choose another output folder$"):
        _write(tmp_path, "train", "Crossing")
    assert _names(seq) == ["groundtruth_rect.txt", "img"] and _names(tmp_path / "train") == ["Crossing"]
    (tmp_path / "train" / "File").write_text("x")
    with pytest.raises(DataError, match=r"^refusing to replace .*/train/File: it exists"):
        _write(tmp_path, "train", "File")
    assert (tmp_path / "train" / "File").read_text() == "x"


def test_write_text_atomic(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("old")
    cache.write_text_atomic(path, "größe\n")
    assert path.read_bytes() == "größe\n".encode("utf-8") and _names(tmp_path) == ["notes.txt"]
    with pytest.raises(DataError, match=r"^cannot write .*missing/notes\.txt: No such file or directory$"):
        cache.write_text_atomic(tmp_path / "missing" / "notes.txt", "x")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "f").write_text("")
    with pytest.raises(DataError, match=r"^cannot write .*/folder: .+"):
        cache.write_text_atomic(tmp_path / "folder", "x")  # the rename fails: its temporary is removed
    assert _names(tmp_path) == ["folder", "notes.txt"]


def test_cache_text_is_utf8_whatever_the_locale(tmp_path, monkeypatch):
    """A cache made on Linux is read on a Windows (cp1252) machine and the other way round: the text files
    are UTF-8, not the locale's encoding. pathlib asks io.text_encoding for the default; make it Latin-1."""
    import io

    real = io.text_encoding
    monkeypatch.setattr(io, "text_encoding", lambda encoding, *a: "latin-1" if encoding is None else real(encoding))
    cache.write_text_atomic(tmp_path / "notes.txt", "größe")
    assert (tmp_path / "notes.txt").read_bytes() == "größe".encode("utf-8")
    (tmp_path / "V").mkdir()
    (tmp_path / "V" / "meta.json").write_bytes('{"name": "Größe"}'.encode("utf-8"))
    assert cache.read_meta(tmp_path / "V") == {"name": "Größe"}
    (tmp_path / "plan.json").write_bytes('{"splits": {"train": ["Größe"]}}'.encode("utf-8"))
    assert cache.read_plan(tmp_path) == {"splits": {"train": ["Größe"]}}


def test_ensure_writable(tmp_path, monkeypatch):
    folder = tmp_path / "a" / "b"
    assert cache.ensure_writable(folder, "--out_dir") == folder
    assert folder.is_dir() and _names(folder) == []  # the probe is removed
    assert cache.ensure_writable(str(folder), "--out_dir") == folder  # existing is fine; a Path comes back
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match=rf"^--results_dir .*/file/sub/dir cannot be made: {tmp_path / 'file'} is a file, "
                                        r"not a folder$"):
        cache.ensure_writable(tmp_path / "file" / "sub" / "dir", "--results_dir")
    with pytest.raises(DataError, match=r"^--out_dir .*/file is a file, not a folder; give a folder \(new or "
                                        r"existing\)$"):
        cache.ensure_writable(tmp_path / "file", "--out_dir")
    assert (tmp_path / "file").is_file()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(cache, "open", read_only, raising=False)
    with pytest.raises(DataError, match=r"^--data_dir .*/a/b is not writable: Read-only file system$"):
        cache.ensure_writable(folder, "--data_dir")


def test_remove_stale_temporaries(tmp_path):
    split = tmp_path / "train"
    for d in (".tmp-V-1234abcd", ".tmp-old-W-99", "V", "tmp-X"):
        (split / d).mkdir(parents=True)
        (split / d / "features.npy").write_text("")
    (split / ".tmp-note").write_text("a file, not a temporary folder")
    cache.remove_stale_temporaries(split)
    assert _names(split) == [".tmp-note", "V", "tmp-X"]
    cache.remove_stale_temporaries(tmp_path / "absent")  # nothing cached yet
    cache.remove_stale_temporaries(str(split))


def test_remove_stale_temporaries_goes_on_past_one_it_cannot_delete(tmp_path, monkeypatch):
    """Another run removing the same leftovers, or a busy file: not a reason to stop this run."""
    for d in (".tmp-A-1", ".tmp-B-2"):
        (tmp_path / d).mkdir()
    removed = []

    def busy_first(p, ignore_errors=False, *args, **kwargs):
        if p.name == ".tmp-A-1":
            if not ignore_errors:
                raise OSError(errno.EBUSY, "Device or resource busy", str(p))
            return
        removed.append(p.name)
        os.rmdir(p)

    monkeypatch.setattr(cache.shutil, "rmtree", busy_first)
    cache.remove_stale_temporaries(tmp_path)
    assert removed == [".tmp-B-2"] and _names(tmp_path) == [".tmp-A-1"]


# ---- read_meta, read_video -------------------------------------------------------------------

def test_read_meta_errors(tmp_path):
    with pytest.raises(DataError, match=r"^no complete cache at .*/V \(meta\.json missing\): run the dataloader"):
        cache.read_meta(tmp_path / "V")
    (tmp_path / "V").mkdir()
    meta = tmp_path / "V" / "meta.json"
    for text in (b"{\"name\": ", b"\xff\xfe{}"):
        meta.write_bytes(text)
        with pytest.raises(DataError, match=r"^.*/V/meta\.json: corrupt metadata \(.+\)$"):
            cache.read_meta(tmp_path / "V")
    meta.write_text("[1, 2]")
    with pytest.raises(DataError, match=r"^.*/V/meta\.json: corrupt metadata \(not a JSON object\)$"):
        cache.read_meta(tmp_path / "V")
    meta.write_text('{"name": "V", "größe": 1}', encoding="utf-8")
    assert cache.read_meta(str(tmp_path / "V")) == {"name": "V", "größe": 1}


def test_read_video_memory_maps_or_loads(tmp_path):
    path = _write(tmp_path, "train", "V")
    v = cache.read_video(path)
    assert all(isinstance(v.arrays[k], np.memmap) and not v.arrays[k].flags.writeable for k in cache.ARRAYS)
    loaded = cache.read_video(str(path), mmap=False)
    assert loaded.path == path and not any(isinstance(a, np.memmap) for a in loaded.arrays.values())
    assert list(loaded.arrays) == list(cache.ARRAYS)
    for k, a in _arrays().items():
        np.testing.assert_array_equal(loaded.arrays[k], a)
    assert loaded.meta == cache.read_meta(path)


def test_read_video_file_errors(tmp_path):
    path = _write(tmp_path, "train", "V")
    (path / "detected.npy").unlink()
    with pytest.raises(DataError, match=r"^cache file missing: .*/V/detected\.npy$"):
        cache.read_video(path)
    np.save(path / "detected.npy", np.array([{"a": 1}] * 6, dtype=object))  # a pickle is never loaded
    with pytest.raises(DataError, match=r"^cache file damaged \(truncated or not a \.npy\): .*/V/detected\.npy "):
        cache.read_video(path, mmap=False)
    (path / "detected.npy").write_bytes(b"")
    with pytest.raises(DataError, match=r"damaged .*detected\.npy"):
        cache.read_video(path, mmap=False)


def test_read_video_checks_the_feature_dimension(tmp_path):
    path = _write(tmp_path, "train", "V", d=3)
    meta = cache.read_meta(path)
    (path / "meta.json").write_text(json.dumps(dict(meta, feature_dim=5)))
    with pytest.raises(DataError, match=r"^cache .*/V: features\.npy has dimension 3, meta\.json says 5$"):
        cache.read_video(path)
    (path / "meta.json").write_text(json.dumps(meta))
    np.save(path / "features.npy", np.zeros(6, np.float32))
    with pytest.raises(DataError, match=r"^cache .*/V: features\.npy has dimension None, meta\.json says 3$"):
        cache.read_video(path)
    np.save(path / "features.npy", np.zeros((6, 3, 1), np.float32))
    with pytest.raises(DataError, match=r"has dimension None, meta\.json says 3$"):
        cache.read_video(path)


def test_read_video_refuses_nonfinite_values_naming_the_file(tmp_path):
    path = _write(tmp_path, "train", "V")
    dets = np.load(path / "dets.npy")
    dets[[1, 4], 1, 5] = np.inf
    np.save(path / "dets.npy", dets)
    with pytest.raises(DataError, match=r"^cache file .*/V/dets\.npy holds NaN or inf \(images 102, 105\); "
                                        r"re-extract the video with --overwrite true$"):
        cache.read_video(path)


@pytest.mark.parametrize("key, meta, ok, refused", [
    ("feature_dim", {}, 3, 4),
    ("dataset", {}, "otb", "got10k"),
    ("dataset", {"dataset": "got10k"}, "got10k", "otb"),
    ("DETECTOR", {}, "yolov8", "yolo11"),  # a cache from before DETECTOR existed was made by YOLOv8
    ("DETECTOR", {"settings": dict(SETTINGS, DETECTOR="yolo11")}, "yolo11", "yolov8"),
    ("CONF", {}, 0.25, 0.1),
    ("WEIGHTS", {}, "w.pt", None),
])
def test_read_video_expect(tmp_path, key, meta, ok, refused):
    path = _write(tmp_path, "train", "V", **meta)
    assert cache.read_video(path, expect={key: ok, "IMG_SIZE": 640}).name == "V"
    with pytest.raises(DataError, match=rf"^cache .*/V was made with {key}={ok!r}, this run needs {refused!r}; "
                                        r"re-extract with --overwrite true or point to another folder$"):
        cache.read_video(path, expect={"IMG_SIZE": 640, key: refused})


def test_read_video_without_expect_checks_no_setting(tmp_path):
    path = _write(tmp_path, "train", "V", settings={})
    for expect in (None, {}):
        assert cache.read_video(path, expect=expect).meta["settings"] == {}
    assert cache.read_video(path, expect={"TOP_K": None}).name == "V"  # a setting the cache never had
    meta = cache.read_meta(path)
    del meta["settings"]  # a cache written before settings were recorded
    (path / "meta.json").write_text(json.dumps(meta))
    assert cache.read_video(path, expect={"DETECTOR": "yolov8", "CONF": None}).name == "V"
    with pytest.raises(DataError, match=r"made with CONF=None, this run needs 0\.25"):
        cache.read_video(path, expect={"CONF": 0.25})


def test_read_video_drops_the_pages_it_checked(tmp_path, monkeypatch):
    """After the finite check has read every page, a memory-mapped cache must not stay resident."""
    path = _write(tmp_path, "train", "V")
    seen = []
    monkeypatch.setattr(cache, "drop_mapped_pages", lambda arrays: seen.append(dict(arrays)))
    v = cache.read_video(path)
    assert len(seen) == 1 and seen[0].keys() == v.arrays.keys()
    assert all(seen[0][k] is v.arrays[k] for k in cache.ARRAYS)


# ---- drop_mapped_pages ---------------------------------------------------------------------------

class _Mapping:
    """Stands in for a memmap's mmap.mmap, recording madvise."""

    def __init__(self, real=None):
        self.real, self.advice = real, []

    def madvise(self, *args):
        self.advice.append(args)
        if self.real is not None:
            self.real.madvise(*args)


@pytest.mark.skipif(not hasattr(mmap, "MADV_DONTNEED"), reason="no madvise here")
def test_drop_mapped_pages_advises_only_mapped_arrays(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(5000, dtype=np.float64))
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    spy = _Mapping(mapped._mmap)
    mapped._mmap = spy
    in_memory = np.arange(3.0)
    cache.drop_mapped_pages({"a": mapped, "b": in_memory, "c": np.load(tmp_path / "a.npy")})
    assert spy.advice == [(mmap.MADV_DONTNEED,)]
    np.testing.assert_array_equal(mapped, np.arange(5000))  # the pages come back from the file when read
    fakes = [_Mapping(), _Mapping()]
    cache.drop_mapped_pages({"x": type("M", (), {"_mmap": fakes[0]})(), "y": in_memory,
                             "z": type("M", (), {"_mmap": fakes[1]})()})
    assert [f.advice for f in fakes] == [[(mmap.MADV_DONTNEED,)]] * 2


def test_drop_mapped_pages_without_madvise(monkeypatch):
    """Where the OS has no MADV_DONTNEED (macOS before Python 3.8, Windows) the pages stay; nothing fails."""
    monkeypatch.delattr(mmap, "MADV_DONTNEED", raising=False)
    fake = _Mapping()
    cache.drop_mapped_pages({"x": type("M", (), {"_mmap": fake})()})
    assert fake.advice == []


# ---- the non-finite check ------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["features", "bbox_yolo", "conf", "dets", "gt"])
def test_nonfinite_names_each_float_array(key):
    a = _arrays(n=8)
    a[key] = a[key].copy()
    a[key].reshape(8, -1)[[2, 7], -1] = [np.nan, -np.inf]
    what = "NaN or inf on labelled frames" if key == "gt" else "NaN or inf"
    assert cache.nonfinite(a) == f"{key}.npy holds {what} (images 103, 108)"
    assert cache.nonfinite(_arrays(n=8)) is None


def test_nonfinite_lists_five_images_then_a_count(monkeypatch):
    a = _arrays(n=20, first_frame=1)
    a["bbox_yolo"][[1, 3, 5, 7, 9]] = np.nan
    assert cache.nonfinite(a) == "bbox_yolo.npy holds NaN or inf (images 2, 4, 6, 8, 10)"
    a["bbox_yolo"][[11, 19]] = np.inf
    assert cache.nonfinite(a) == "bbox_yolo.npy holds NaN or inf (images 2, 4, 6, 8, 10 and 2 more)"
    a["features"][0] = np.nan  # the first array checked is the one named
    assert cache.nonfinite(a) == "features.npy holds NaN or inf (images 1)"


@pytest.mark.parametrize("rows", [1, 3, 4, 1 << 15])
def test_nonfinite_chunks_agree_across_boundaries(monkeypatch, rows):
    """The check reads CHECK_ROWS rows at a time; bad rows and allowed NaN either side of a boundary."""
    monkeypatch.setattr(cache, "_CHECK_ROWS", rows)
    a = _arrays(n=11, first_frame=1)
    a["labelled"][[2, 3, 4, 8]] = False
    a["gt"][[2, 3, 4, 8]] = np.nan  # the frames without a label
    assert cache.nonfinite(a) is None
    a["gt"][3, 0] = np.inf  # inf is never a missing label
    a["gt"][[5, 10], 1] = np.nan
    assert cache.nonfinite(a) == "gt.npy holds NaN or inf on labelled frames (images 4, 6, 11)"
    a["dets"][[3, 4, 7, 9, 10], 1, 2] = np.nan
    a["dets"][0, 0, 0] = np.inf
    assert cache.nonfinite(a) == "dets.npy holds NaN or inf (images 1, 4, 5, 8, 10 and 1 more)"
    np.testing.assert_array_equal(cache._bad_rows(a["dets"]), [0, 3, 4, 7, 9, 10])
    np.testing.assert_array_equal(cache._bad_rows(a["gt"], ~a["labelled"]), [3, 5, 10])
    np.testing.assert_array_equal(cache._bad_rows(a["gt"]), [2, 3, 4, 5, 8, 10])


def test_bad_rows_skips_integer_arrays_and_empty_ones(monkeypatch):
    monkeypatch.setattr(cache, "_CHECK_ROWS", 2)
    for a in (np.arange(7), np.ones((5, 2), bool), np.zeros((0, 4), np.float32), np.zeros(0, np.int64)):
        rows = cache._bad_rows(a)
        assert rows.dtype == np.int64 and len(rows) == 0
    a = _arrays(n=5)
    a["conf"] = np.ones(5, np.int32)  # an integer array cannot hold NaN: not read at all
    a["labelled"] = np.ones((5, 1), bool)
    assert cache.nonfinite(a) is None
    rows = cache._bad_rows(np.array([np.nan, 1.0, np.inf, 2.0, np.nan], np.float16))
    assert rows.tolist() == [0, 2, 4]


def test_bad_rows_reads_no_further_than_the_first_chunk_of_an_integer_array(monkeypatch):
    """A memory-mapped integer array (frame numbers, flags) cannot hold NaN: its pages are not read."""
    monkeypatch.setattr(cache, "_CHECK_ROWS", 3)

    class Reads:
        def __init__(self, a):
            self.a, self.slices = a, []

        def __len__(self):
            return len(self.a)

        def __getitem__(self, s):
            self.slices.append((s.start, s.stop))
            return self.a[s]

    ints, floats = Reads(np.arange(10)), Reads(np.zeros(10))
    assert len(cache._bad_rows(ints)) == 0 and ints.slices == [(0, 3)]
    assert len(cache._bad_rows(floats)) == 0 and floats.slices == [(0, 3), (3, 6), (6, 9), (9, 12)]


def test_check_finite_names_the_file(tmp_path):
    a = _arrays()
    cache.check_finite(tmp_path, a)
    a["conf"][5] = np.nan
    with pytest.raises(DataError, match=rf"^cache file {tmp_path}/conf\.npy holds NaN or inf \(images 106\); "
                                        r"re-extract the video with --overwrite true$"):
        cache.check_finite(str(tmp_path), a)


# ---- VideoCache ---------------------------------------------------------------------------------

def test_video_cache_properties(tmp_path):
    v = cache.read_video(_write(tmp_path, "train", "V", n=3, image_size=[64.0, 48]))
    assert v.name == "V" and v.image_size == (64, 48) and type(v.image_size[0]) is int
    assert v.dataset == "otb" and len(v) == 3
    np.testing.assert_array_equal(v.frame_sizes, [[64, 48]] * 3)
    assert v.frame_sizes.dtype == np.float64
    assert v.gt is v.arrays["gt"]
    with pytest.raises(AttributeError, match="^boxes$"):
        v.boxes
    v = cache.read_video(_write(tmp_path, "train", "W", n=3, dataset="got10k",
                                frame_sizes=[[64, 48], [64, 48], [128, 96]]))
    assert v.dataset == "got10k"
    np.testing.assert_array_equal(v.frame_sizes, [[64, 48], [64, 48], [128, 96]])
    assert v.frame_sizes.dtype == np.float64


def test_video_cache_copies_and_pickles(tmp_path):
    """DataLoader workers pickle the videos they read; copying must not go through __getattr__ into a loop."""
    v = cache.read_video(_write(tmp_path, "train", "V"), mmap=False)
    c = copy.copy(v)
    assert c.arrays is v.arrays and c.name == "V"
    p = pickle.loads(pickle.dumps(v))
    assert p.name == "V" and p.path == v.path
    np.testing.assert_array_equal(p.features, v.features)


# ---- read_split -----------------------------------------------------------------------------------

def test_read_split_errors_for_missing_or_empty(tmp_path):
    with pytest.raises(DataError, match=r"^no cached split at .*/train: run the dataloader first \(DATA_DIR / "
                                        r"--data_dir\)$"):
        cache.read_split(tmp_path, "train")
    (tmp_path / "train" / ".tmp-V-12345678").mkdir(parents=True)
    (tmp_path / "train" / "notes.txt").write_text("")
    with pytest.raises(DataError, match=r"^.*/train holds no cached videos$"):
        cache.read_split(tmp_path, "train")
    with pytest.raises(DataError, match=r"^.*/test holds no cached videos$"):
        cache.read_split(tmp_path, "test", names=[])


def test_read_split_reads_no_video_outside_the_split(tmp_path):
    _write(tmp_path, "elsewhere", "V")  # a complete video, but not in train/
    with pytest.raises(DataError, match=r"^video name '\.\./elsewhere/V' is a path, not a single folder name; "):
        cache.read_split(tmp_path, "train", names=["../elsewhere/V"])


def test_read_split_reads_in_the_list_files_order(tmp_path):
    for name, order in (("A", 2), ("B", 0), ("C", 1)):
        _write(tmp_path, "train", name, order=order)
    (tmp_path / "train" / ".tmp-D-12345678").mkdir()  # a killed write: skipped
    (tmp_path / "train" / "notes.txt").write_text("")
    assert [v.name for v in cache.read_split(tmp_path, "train")] == ["B", "C", "A"]
    assert [v.name for v in cache.read_split(str(tmp_path), "train", names=["A", "C"])] == ["C", "A"]
    _write(tmp_path, "test", "X")  # no "order": read as 0, in the names' order
    _write(tmp_path, "test", "Y", order=0)
    _write(tmp_path, "test", "Z", order=1)
    assert [v.name for v in cache.read_split(tmp_path, "test", names=["Z", "X", "Y"])] == ["X", "Y", "Z"]
    assert [v.name for v in cache.read_split(tmp_path, "test", names=["Z", "Y", "X"])] == ["Y", "X", "Z"]


def test_read_split_passes_its_options_to_each_video(tmp_path):
    _write(tmp_path, "train", "A", order=0)
    _write(tmp_path, "train", "B", order=1)
    assert all(isinstance(v.features, np.memmap) for v in cache.read_split(tmp_path, "train"))
    assert not any(isinstance(v.features, np.memmap) for v in cache.read_split(tmp_path, "train", mmap=False))
    with pytest.raises(DataError, match=r"/train/[AB] was made with CONF=0\.25, this run needs 0\.5"):
        cache.read_split(tmp_path, "train", expect={"CONF": 0.5})
    assert len(cache.read_split(tmp_path, "train", expect={"CONF": 0.25}, dataset="otb")) == 2


def test_read_split_refuses_another_dataset(tmp_path):
    _write(tmp_path, "train", "A", order=0, dataset="got10k")
    _write(tmp_path, "train", "B", order=1)
    _write(tmp_path, "train", "C", order=2)
    with pytest.raises(DataError, match=r"^.*/train holds videos of dataset 'otb' \(B\), but this run expects "
                                        r"'got10k'; point --data_dir at that dataset's cache or set --dataset otb$"):
        cache.read_split(tmp_path, "train", dataset="got10k")
    with pytest.raises(DataError, match=r"dataset 'got10k' \(A\), but this run expects 'otb'; .* --dataset got10k$"):
        cache.read_split(tmp_path, "train", dataset="otb")
    assert [v.name for v in cache.read_split(tmp_path, "train", names=["B", "C"], dataset="otb")] == ["B", "C"]
    assert len(cache.read_split(tmp_path, "train")) == 3  # no dataset asked: none checked


def test_read_split_refuses_mixed_dimensions(tmp_path):
    _write(tmp_path, "train", "A", d=3, order=0)
    _write(tmp_path, "train", "B", d=3, order=1)
    _write(tmp_path, "train", "C", d=5, order=2)
    with pytest.raises(DataError, match=r"^.*/train: videos have different feature dimensions \[3, 5\]; "
                                        r"they were extracted with different weights$"):
        cache.read_split(tmp_path, "train")


def test_read_split_refuses_mixed_extraction_settings_naming_the_key(tmp_path):
    _write(tmp_path, "train", "A", order=0)
    _write(tmp_path, "train", "B", order=1, settings=dict(SETTINGS, DETECTOR="yolov8", DEVICE="cuda"))
    assert len(cache.read_split(tmp_path, "train")) == 2  # DETECTOR's default; DEVICE changes no feature
    _write(tmp_path, "train", "C", order=2, settings=dict(SETTINGS, CONF=0.1, TOP_K=5))
    with pytest.raises(DataError, match=r"^.*/train: C was extracted with CONF=0\.1 but A with 0\.25; "
                                        r"re-extract with one setting \(--overwrite true\)$"):
        cache.read_split(tmp_path, "train")
    _write(tmp_path, "train", "C", order=2, settings=dict(SETTINGS, DETECTOR="yolo11"))
    with pytest.raises(DataError, match=r"C was extracted with DETECTOR='yolo11' but A with 'yolov8'"):
        cache.read_split(tmp_path, "train")
    with pytest.raises(DataError, match=r"C was extracted with DETECTOR='yolo11' but A with 'yolov8'"):
        cache.read_split(tmp_path, "train", names=["A", "C"])  # the second video differs


def test_extraction_settings():
    v = cache.VideoCache(path=None, meta={}, arrays={})
    assert cache.extraction_settings(v) == {"WEIGHTS": None, "IMG_SIZE": None, "CONF": None, "TOP_K": None,
                                            "DETECTOR": "yolov8"}
    v.meta["settings"] = dict(SETTINGS, DETECTOR="yolo11", EPOCHS=3)
    assert cache.extraction_settings(v) == dict(SETTINGS, DETECTOR="yolo11")
    assert list(cache.extraction_settings(v)) == list(cache.EXTRACTION_KEYS)


# ---- the split plan ---------------------------------------------------------------------------------

PLAN = {"experiment": 1, "splits": {"train": ["A", "B"], "test": ["C"]}, "list_sha256": "ab"}


def test_write_and_read_plan(tmp_path):
    data_dir = tmp_path / "a" / "b"
    path = cache.write_plan(data_dir, PLAN)
    assert path == data_dir / "plan.json" and _names(data_dir) == ["plan.json"]
    assert path.read_text(encoding="utf-8") == json.dumps(dict(PLAN, format_version=1), indent=1, sort_keys=True)
    assert cache.read_plan(str(data_dir)) == dict(PLAN, format_version=1)
    assert "format_version" not in PLAN
    assert cache.read_plan(tmp_path) is None


def test_write_plan_names_the_folder_it_cannot_make(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match=r"^cannot create .*/file/sub: (File exists|Not a directory)$"):
        cache.write_plan(tmp_path / "file" / "sub", PLAN)


@pytest.mark.parametrize("text", [b'{"splits": ', b"\xff\xfe\x00", b"[]", b'{"experiment": 1}',
                                  b'{"splits": ["train"]}'])
def test_read_plan_refuses_a_corrupt_plan(tmp_path, text):
    (tmp_path / "plan.json").write_bytes(text)
    with pytest.raises(DataError, match=r"^.*/plan\.json: corrupt split plan \(.+\)$") as e:
        cache.read_plan(tmp_path)
    if text.startswith(b"[") or b"experiment" in text or b"[\"" in text:
        assert str(e.value).endswith("(no 'splits' table)")


def test_cached_names_and_unplanned(tmp_path):
    assert cache.cached_names(tmp_path, "train") == []
    for name in ("B", "A", "D"):
        _write(tmp_path, "train", name)
    _write(tmp_path, "test", "C")
    _write(tmp_path, "test", "A")
    _write(tmp_path, "eval", "E")  # a split the plan does not have: not this plan's business
    (tmp_path / "train" / "half").mkdir()  # no meta.json: a crash before renaming, never read
    (tmp_path / "train" / ".tmp-Z-12345678").mkdir()
    (tmp_path / "train" / ".tmp-Y-12345678").mkdir()
    (tmp_path / "train" / ".tmp-Y-12345678" / "meta.json").write_text("{}")
    assert cache.cached_names(str(tmp_path), "train") == ["A", "B", "D"]
    assert cache.unplanned(tmp_path, PLAN) == [tmp_path / "train" / "D", tmp_path / "test" / "A"]
    assert cache.unplanned(str(tmp_path), {"splits": {"train": ["A", "B", "D"]}}) == []


def test_require_experiment_names_the_experiments_found_as_numbers():
    def videos(*exps):
        return [cache.VideoCache(Path(f"V{i}"), {} if e is None else {"experiment": e}, {}) for i, e in enumerate(exps)]

    cache.require_experiment(videos(2, 2), 2, "d/test")
    with pytest.raises(DataError, match=r"^d/test was extracted for experiment 2, but --experiment is 3; point "
                                        r"--data_dir at that experiment's folder$"):
        cache.require_experiment(videos(2), 3, "d/test")
    with pytest.raises(DataError, match=r"^d/train was extracted for experiments 2, 3, but --experiment is 3;"):
        cache.require_experiment(videos(3, 2, 3), 3, "d/train")
    with pytest.raises(DataError, match=r"^d/train was extracted for experiments 1, None, but --experiment is 1;"):
        cache.require_experiment(videos(None, 1), 1, "d/train")  # a cache from before the experiment was recorded


def test_read_planned_split(tmp_path):
    with pytest.raises(DataError, match=r"^no cached split at .*/train: run the dataloader first"):
        cache.read_planned_split(tmp_path, "train")
    _write(tmp_path, "train", "A", order=1)
    _write(tmp_path, "train", "B", order=0)
    with pytest.raises(DataError, match=rf"^{tmp_path} has no plan\.json, the dataloader's record of which video "
                                        r"is in which split; rerun the dataloader"):
        cache.read_planned_split(tmp_path, "train")
    cache.write_plan(tmp_path, PLAN)
    with pytest.raises(DataError, match=r"^.*/plan\.json has no 'eval' split$"):
        cache.read_planned_split(tmp_path, "eval")
    with pytest.raises(DataError, match=r"/test/C \(meta\.json missing\)"):  # listed but never cached
        cache.read_planned_split(tmp_path, "test")
    _write(tmp_path, "test", "D")  # another plan's video in test does not stop reading train
    assert [v.name for v in cache.read_planned_split(str(tmp_path), "train")] == ["B", "A"]
    _write(tmp_path, "train", "E")
    _write(tmp_path, "train", "F")
    with pytest.raises(DataError, match=rf"^{tmp_path}/train holds E, F, which {tmp_path}/plan\.json does not "
                                        r"list for train: left by another plan; rerun the dataloader with "
                                        r"--overwrite true, or use another folder$"):
        cache.read_planned_split(tmp_path, "train")


def test_read_planned_split_passes_its_options(tmp_path):
    _write(tmp_path, "train", "A", order=0)
    cache.write_plan(tmp_path, {"splits": {"train": ["A"]}})
    (v,) = cache.read_planned_split(tmp_path, "train", expect={"CONF": 0.25}, mmap=False, dataset="otb")
    assert not isinstance(v.features, np.memmap)
    assert isinstance(cache.read_planned_split(tmp_path, "train")[0].features, np.memmap)
    with pytest.raises(DataError, match="made with CONF=0.25, this run needs 0.5"):
        cache.read_planned_split(tmp_path, "train", expect={"CONF": 0.5})
    with pytest.raises(DataError, match="this run expects 'got10k'"):
        cache.read_planned_split(tmp_path, "train", dataset="got10k")


def test_replace_dir_puts_the_old_folder_back_when_the_new_one_cannot_take_its_place(tmp_path, monkeypatch,
                                                                                      failing_rename):
    dest, new, aside = tmp_path / "dest", tmp_path / "new", tmp_path / "aside"
    for folder, text in ((dest, "old"), (new, "new")):
        folder.mkdir()
        (folder / "f.txt").write_text(text)
    failing_rename(new)
    with pytest.raises(OSError, match="Input/output error"):
        cache.replace_dir(new, dest, aside)
    assert (dest / "f.txt").read_text() == "old" and not aside.exists() and (new / "f.txt").read_text() == "new"
    with pytest.raises(OSError, match="Input/output error"):          # nothing to move aside or back
        cache.replace_dir(new, tmp_path / "absent", aside)
    assert not (tmp_path / "absent").exists() and not aside.exists()
    monkeypatch.undo()
    cache.replace_dir(new, dest, aside)
    assert (dest / "f.txt").read_text() == "new" and (aside / "f.txt").read_text() == "old" and not new.exists()
    cache.replace_dir(aside, tmp_path / "absent", tmp_path / "unused")   # no folder in the way: one rename
    assert (tmp_path / "absent" / "f.txt").read_text() == "old" and not (tmp_path / "unused").exists()
