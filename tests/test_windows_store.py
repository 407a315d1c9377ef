"""rolo.windows by hand: the LSTM's input and target rows, which windows exist, and the two stores
giving the same batches as slicing the videos directly."""
from pathlib import Path

import numpy as np
import pytest
import torch

from rolo import windows
from rolo.cache import VideoCache
from rolo.heatmap import box_to_grid
from rolo.reportcode import Behaviour


def _video(n, seed, d=3, labelled=None, name="V"):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0.2, 0.8, (n, 4)).astype(np.float32)
    lab = np.ones(n, bool) if labelled is None else np.asarray(labelled, bool)
    gt[~lab] = np.nan
    arrays = {"features": rng.normal(size=(n, d)).astype(np.float32),
              "bbox_yolo": rng.uniform(0.2, 0.8, (n, 4)).astype(np.float32), "gt": gt, "labelled": lab,
              "detected": rng.random(n) > 0.3}
    return VideoCache(Path(name), {"name": name, "feature_dim": d, "image_size": [64, 48]}, arrays)


def test_inputs_and_targets_by_hand():
    v = _video(5, 0, labelled=[1, 0, 1, 1, 0])
    x = windows.frame_inputs(v)
    assert x.dtype == np.float32 and x.shape == (5, 7)
    np.testing.assert_array_equal(x, np.concatenate([v.features, v.bbox_yolo], axis=1))
    other = np.full((5, 4), 0.25, np.float32)
    np.testing.assert_array_equal(windows.frame_inputs(v, boxes=other)[:, 3:], other)
    zeroed = windows.frame_inputs(v, behaviour=Behaviour(zero_undetected=True))
    miss = ~v.detected
    np.testing.assert_array_equal(zeroed[miss], np.tile([0, 0, 0, 0.5, 0.5, 0, 0], (miss.sum(), 1)))
    np.testing.assert_array_equal(zeroed[~miss], x[~miss])
    heat = windows.frame_inputs(v, head="heatmap")
    np.testing.assert_array_equal(heat, np.concatenate([v.features, box_to_grid(v.bbox_yolo, "soft")], axis=1))
    y = windows.frame_targets(v)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.where(v.labelled[:, None], v.gt, 0))
    np.testing.assert_array_equal(windows.frame_targets(v, head="heatmap", grid="report"),
                                  box_to_grid(np.nan_to_num(v.gt), "report"))
    np.testing.assert_array_equal(windows.lstm_inputs([[1.0]], [[0.1, 0.2, 0.3, 0.4]]),
                                  np.array([[1.0, 0.1, 0.2, 0.3, 0.4]], np.float32))


def test_window_starts_by_hand():
    lengths = [3, 8, 6]            # rows 0-2, 3-10, 11-16; SEQ_LEN 6: the first video is too short
    np.testing.assert_array_equal(windows.window_starts(lengths, 6), [3, 4, 5, 11])
    np.testing.assert_array_equal(windows.window_starts(lengths, 6, drop_last=True), [3, 4])
    np.testing.assert_array_equal(windows.window_starts([6], 6, drop_last=True), np.zeros(0))
    np.testing.assert_array_equal(windows.window_starts([2], 6), np.zeros(0))
    labelled = np.zeros(17, bool)
    labelled[[8, 16]] = True       # windows 3 (rows 3-8), 11 (rows 11-16) end on a label; 4, 5 contain row 8
    np.testing.assert_array_equal(windows.window_starts(lengths, 6, labelled), [3, 4, 5, 11])
    np.testing.assert_array_equal(windows.window_starts(lengths, 6, labelled, last_labelled=True), [3, 11])
    labelled[:] = False
    labelled[3] = True             # only the first row of window 3: the others carry no loss
    np.testing.assert_array_equal(windows.window_starts(lengths, 6, labelled), [3])
    np.testing.assert_array_equal(windows.window_label_counts(np.array([3, 4]), 6, labelled), [1, 0])
    assert windows.window_starts([], 6).shape == (0,)


@pytest.mark.parametrize("head, behaviour", [("coord", Behaviour()), ("heatmap", Behaviour()),
                                             ("coord", Behaviour(zero_undetected=True, drop_last_window=True)),
                                             ("heatmap", Behaviour(report_heatmap=True))])
def test_both_stores_give_the_windows_of_the_videos(head, behaviour):
    videos = [_video(9, 1, labelled=[1, 0, 0] * 3, name="A"), _video(4, 2, name="B"), _video(7, 3, name="C")]
    boxes = [None, None, np.full((7, 4), 0.3, np.float32)]
    seq_len = 4
    ram = windows.RamStore(videos, seq_len, head=head, boxes=boxes, behaviour=behaviour)
    mm = windows.MmapStore(videos, seq_len, head=head, boxes=boxes, behaviour=behaviour)
    offsets = [0, 9, 13]
    want = []                      # (video, first frame) of every window, as the rules define them
    for i, v in enumerate(videos):
        n_win = len(v) - seq_len + (0 if behaviour.drop_last(head) else 1)
        for s in range(max(n_win, 0)):
            lab = v.labelled[s:s + seq_len]
            if lab.any() and (not behaviour.last_step_only(head) or lab[-1]):
                want.append((i, s))
    assert len(ram) == len(mm) == len(want)
    np.testing.assert_array_equal(ram.starts.numpy(), [offsets[i] + s for i, s in want])
    ids = torch.arange(len(want))
    for store in (ram, mm):
        x, y, m = store.batch(ids)
        for k, (i, s) in enumerate(want):
            v, sl = videos[i], slice(s, s + seq_len)
            xi = windows.frame_inputs(v, head, boxes[i], behaviour)[sl]
            np.testing.assert_array_equal(x[k].numpy(), xi)
            np.testing.assert_array_equal(y[k].numpy(), windows.frame_targets(v, head, behaviour.grid)[sl])
            mask = v.labelled[sl] & (np.arange(seq_len) == seq_len - 1 if behaviour.last_step_only(head) else True)
            np.testing.assert_array_equal(m[k].numpy(), mask)
        assert float(store.labelled_steps(ids)) == float(m.sum())
        assert float(store.labelled_steps(ids[:1])) == float(m[0].sum())


def test_make_store_picks_ram_or_mmap():
    videos = [_video(8, 4)]
    assert isinstance(windows.make_store(videos, 4, mode="ram"), windows.RamStore)
    assert isinstance(windows.make_store(videos, 4, mode="mmap"), windows.MmapStore)
    assert isinstance(windows.make_store(videos, 4, mode="auto", ram_fraction=0.5), windows.RamStore)
    assert isinstance(windows.make_store(videos, 4, mode="auto", ram_fraction=0.0), windows.MmapStore)
    assert windows._available_memory() > 1 << 20


def test_mmap_store_releases_pages_as_it_reads(monkeypatch):
    videos = [_video(8, 5, name="A"), _video(8, 6, name="B")]
    released = []
    monkeypatch.setattr(windows, "_release_pages", lambda v: released.append(v.name))
    store = windows.MmapStore(videos, 4)
    store.release_rows = 8
    store.batch(torch.tensor([0]))                 # 4 rows read: nothing released yet
    assert released == []
    store.batch(torch.tensor([5]))                 # 8 rows: the videos touched so far are released first
    assert released == ["A"]
    store.batch(torch.tensor([6, 7]))
    assert released == ["A", "B"]


def test_make_store_passes_every_setting_on():
    videos = [_video(8, 7, labelled=[1, 0] * 4)]
    boxes = [np.full((8, 4), 0.25, np.float32)]
    behaviour = Behaviour(zero_undetected=True, report_heatmap=True)
    ids = torch.arange(2)
    want = windows.RamStore(videos, 4, head="heatmap", boxes=boxes, behaviour=behaviour).batch(ids)
    for mode in ("ram", "mmap", "auto"):
        store = windows.make_store(videos, 4, head="heatmap", device="cpu", mode=mode, boxes=boxes,
                                   behaviour=behaviour)
        for got, ref in zip(store.batch(ids), want):
            np.testing.assert_array_equal(got.numpy(), ref.numpy())


def test_available_memory_is_the_kernels_figure():
    meminfo = Path("/proc/meminfo")
    if not meminfo.is_file():
        pytest.skip("no /proc/meminfo here")
    line = next(ln for ln in meminfo.read_text().splitlines() if ln.startswith("MemAvailable:"))
    assert abs(windows._available_memory() - int(line.split()[1]) * 1024) < 256 << 20   # it moves a little


def test_every_tensor_of_both_stores_is_on_the_training_device():
    # "meta" stands in for a GPU here: a tensor left on the CPU would be a host round trip per
    # batch (or a device mismatch) on CUDA, and nothing on a CPU-only machine would notice.
    videos = [_video(9, 8, labelled=[1, 0, 0] * 3, name="A"), _video(7, 9, name="B")]
    behaviour = Behaviour(report_heatmap=True)          # the last-step mask exists only then
    ids = torch.arange(2)
    for mode in ("ram", "mmap"):
        store = windows.make_store(videos, 4, head="heatmap", device="meta", mode=mode, behaviour=behaviour)
        assert store.seq_len == 4
        assert all(t.device.type == "meta" for t in store.batch(ids)), mode
        assert store.labelled_steps(ids).device.type == "meta", mode
    ram = windows.RamStore(videos, 4, device="meta")
    assert {t.device.type for t in (ram.x, ram.y, ram.m, ram.starts, ram.label_counts)} == {"meta"}
    empty = windows._fill_rows(iter(()), 0, "meta")      # a split with no rows
    assert empty.shape == (0, 0) and empty.device.type == "meta"


def test_inputs_and_targets_are_float32_whatever_the_cache_holds():
    v = _video(6, 10)
    v.arrays["gt"] = v.gt.astype(np.float64)
    for head in ("coord", "heatmap"):
        assert windows.frame_inputs(v, head).dtype == np.float32
        assert windows.frame_targets(v, head).dtype == np.float32
        assert windows.lstm_inputs(np.ones((2, 3)), np.full((2, 4), 0.5), head).dtype == np.float32


def test_heatmap_inputs_follow_the_behaviours_grid():
    v = _video(6, 11)
    report = Behaviour(report_heatmap=True)
    got = windows.frame_inputs(v, "heatmap", behaviour=report)
    np.testing.assert_array_equal(got[:, 3:], box_to_grid(v.bbox_yolo, "report"))
    assert not np.array_equal(got, windows.frame_inputs(v, "heatmap"))   # the soft grid differs


def test_integer_masks_act_as_booleans():
    # A cache written by other code may hold 0/1 integers for labelled/detected; as indices
    # they would pick rows 0 and 1 instead of masking.
    labelled = np.array([1, 0, 0, 1, 0, 1, 1, 0, 1])
    v_int = _video(9, 12, labelled=labelled)
    v_int.arrays["labelled"] = labelled.astype(np.uint8)
    v_int.arrays["detected"] = v_int.detected.astype(np.uint8)
    v_bool = _video(9, 12, labelled=labelled)
    zero = Behaviour(zero_undetected=True)
    np.testing.assert_array_equal(windows.frame_inputs(v_int, behaviour=zero), windows.frame_inputs(v_bool, behaviour=zero))
    np.testing.assert_array_equal(windows.window_starts([9], 4, labelled, last_labelled=True),
                                  windows.window_starts([9], 4, labelled.astype(bool), last_labelled=True))
    behaviour = Behaviour(report_heatmap=True)
    for cls in (windows.RamStore, windows.MmapStore):
        got, want = (cls([v], 4, head="heatmap", behaviour=behaviour) for v in (v_int, v_bool))
        assert len(got) == len(want)
        ids = torch.arange(len(want))
        m_got, m_want = got.batch(ids)[2], want.batch(ids)[2]
        assert m_got.dtype == torch.bool
        np.testing.assert_array_equal(m_got.numpy(), m_want.numpy())


def test_index_arrays_are_integers():
    assert windows.window_starts([2], 6).dtype == np.int64        # no window at all
    assert windows.window_label_counts(np.array([0]), 2, np.ones(3, bool)).dtype.kind == "i"


class _DeviceIds(torch.Tensor):
    """Window ids as a CUDA tensor behaves: numpy cannot read it until it is copied to the host."""

    def __array__(self, *args, **kwargs):
        raise TypeError("can't convert a device tensor to numpy; use .cpu() first")


def test_mmap_store_takes_window_ids_as_a_list_array_or_device_tensor():
    videos = [_video(8, 13)]
    store = windows.MmapStore(videos, 4)
    want = store.batch(torch.tensor([0, 2]))
    on_device = torch.tensor([0, 2]).as_subclass(_DeviceIds)
    for got, ref in zip(store.batch(on_device), want):
        np.testing.assert_array_equal(got.numpy(), ref.numpy())
    assert float(store.labelled_steps(on_device)) == float(store.labelled_steps(torch.tensor([0, 2])))
    for ids in ([0, 2], np.array([0, 2])):
        for got, ref in zip(store.batch(ids), want):
            np.testing.assert_array_equal(got.numpy(), ref.numpy())
        assert float(store.labelled_steps(ids)) == float(store.labelled_steps(torch.tensor([0, 2])))


def test_mmap_store_releases_after_exactly_release_rows(monkeypatch):
    videos = [_video(8, 14, name="A"), _video(8, 15, name="B")]
    released = []
    monkeypatch.setattr(windows, "_release_pages", lambda v: released.append(v.name))
    store = windows.MmapStore(videos, 4)
    store.release_rows = 5                              # one window reads 4 rows
    expected = [[], ["A"], ["A"], ["A", "A"]]           # windows 0, 1, 2 of A, then 0 of B
    for ids, want in zip(([0], [1], [2], [5]), expected):
        store.batch(ids)
        assert released == want


def test_ram_store_drops_each_videos_mapped_pages_once_copied(monkeypatch):
    videos = [_video(6, 16, name="A"), _video(6, 17, name="B")]
    dropped = []
    monkeypatch.setattr(windows, "drop_mapped_pages", lambda arrays: dropped.append(arrays))
    windows.RamStore(videos, 4)
    assert [id(a) for a in dropped] == [id(v.arrays) for v in videos] * 2   # after the inputs, after the targets
    windows._release_pages(object())                   # a video-like object without arrays: nothing to drop
    assert dropped[-1] == {}


def _avail(monkeypatch, value):
    monkeypatch.setattr(windows, "_available_memory", lambda: value)


def test_make_store_auto_compares_the_rows_bytes_with_half_the_free_memory(monkeypatch):
    videos = [_video(8, 18)]                            # feature_dim 3
    for head, row_values in (("coord", 3 + 4 * 2 + 1), ("heatmap", 3 + 1024 * 2 + 1)):
        need = 8 * row_values * 4                       # float32 inputs, targets and mask of 8 frames
        _avail(monkeypatch, 2 * need)                   # exactly half: not below it
        assert isinstance(windows.make_store(videos, 4, head=head), windows.MmapStore), head
        _avail(monkeypatch, 2 * need + 2)
        assert isinstance(windows.make_store(videos, 4, head=head), windows.RamStore), head


def test_available_memory_parses_meminfo_and_falls_back_to_8_gib(monkeypatch):
    import io

    text = "MemTotal:       16000 kB\nMemFree:  100 kB\nMemAvailable:    123456 kB\n"
    monkeypatch.setattr(windows, "open", lambda *a, **k: io.StringIO(text), raising=False)
    assert windows._available_memory() == 123456 * 1024

    def no_proc(*a, **k):
        raise OSError("no /proc")
    monkeypatch.setattr(windows, "open", no_proc, raising=False)
    assert windows._available_memory() == 8 << 30
