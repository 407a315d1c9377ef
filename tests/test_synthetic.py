"""The synthetic OTB-layout benchmark: deterministic, loadable, and showing what its GT says."""
import json

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from rolo.errors import ConfigError, RoloError  # noqa: E402
from rolo.otb import OTB, load_image, read_list  # noqa: E402
from rolo import synthetic  # noqa: E402

FRAMES = 24
SIZE = (160, 120)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn")
    names = synthetic.make_benchmark(root, n_sequences=6, frames=FRAMES, size=SIZE, seed=3, progress=False)
    return root, names


def warm_mask(img):
    """Pixels of the target's red/yellow checker: red far above blue (the background is desaturated)."""
    img = img.astype(np.int32)
    return img[..., 2] - img[..., 0] > 100


def cool_mask(img):
    """Pixels of the distractor's blue stripes."""
    img = img.astype(np.int32)
    return img[..., 0] - img[..., 2] > 100


def box_mask_xywh(box, shape):
    """Pixels whose square lies fully inside the box."""
    x, y, w, h = box
    m = np.zeros(shape[:2], bool)
    m[int(np.ceil(y)):int(np.floor(y + h)), int(np.ceil(x)):int(np.floor(x + w))] = True
    return m


def all_files(root):
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_otb_loader(bench):
    root, names = bench
    assert names == ["Syn01", "Syn02", "Syn03", "Syn04", "Syn05", "Syn06"]
    assert read_list(root / "list.txt") == names
    otb = OTB(root)
    for name in names:
        seq = otb[name]
        assert len(seq) == FRAMES
        assert seq.gt.shape == (FRAMES, 4)
        assert [p.name for p in seq.frames[:2]] == ["0001.jpg", "0002.jpg"]
        assert seq.image_size() == SIZE


def test_gt_inside_frame_with_positive_size(bench):
    root, names = bench
    W, H = SIZE
    for name in names:
        gt = OTB(root)[name].gt
        x, y, w, h = gt.T
        assert np.all(w >= 1) and np.all(h >= 1)
        assert np.all(x >= 0) and np.all(y >= 0)
        assert np.all(x + w <= W + 1e-9) and np.all(y + h <= H + 1e-9)
        # The target moves: not a static box.
        assert np.ptp(x + w / 2) > 5 or np.ptp(y + h / 2) > 5


def test_target_pixels_sit_at_the_gt_box(bench):
    root, names = bench
    otb = OTB(root)
    for name in names:
        seq = otb[name]
        attrs = synthetic.sequence_attributes(root)[name]
        hard = set(attrs["occlusion_frames"]) | set(attrs["blur_frames"])
        inside, outside, shifted = [], [], []
        for t, path in enumerate(seq.frames):
            img = load_image(path)
            warm = warm_mask(img)
            box = seq.gt[t]
            m = box_mask_xywh(box, img.shape)
            inside.append(warm[m].mean())
            outside.append(warm[~m].mean())
            # The same box moved by its own width (wrapped into the frame) holds much less target.
            moved = box.copy()
            moved[0] = (box[0] + box[2]) % (SIZE[0] - box[2])
            elsewhere = box_mask_xywh(moved, img.shape) & ~m
            shifted.append(warm[elsewhere].mean() if elsewhere.any() else 0.0)
            if t not in hard:
                # Sharp frames: the warm pixels span the box interior (inside the dark border).
                ys, xs = np.nonzero(warm)
                x, y, w, h = box
                assert xs.min() >= x - 1 and xs.max() + 1 <= x + w + 1, (name, t)
                assert ys.min() >= y - 1 and ys.max() + 1 <= y + h + 1, (name, t)
                assert xs.max() + 1 - xs.min() >= 0.75 * w and ys.max() + 1 - ys.min() >= 0.75 * h, (name, t)
        clear = [v for t, v in enumerate(inside) if t not in attrs["occlusion_frames"]]
        assert np.min(clear) > 0.5, name
        # The presets' thin pole always leaves some of the target.
        assert not attrs["full_occlusion_frames"] and np.min(inside) > 0.1, name
        assert np.mean(inside) > 0.6, name
        assert np.max(outside) < 0.01, name
        assert np.mean(shifted) < 0.2 * np.mean(inside), name


def test_attributes_cover_scale_occlusion_blur_distractor(bench):
    root, names = bench
    attrs = synthetic.sequence_attributes(root)
    assert list(attrs) == names
    assert max(a["scale_ratio"] for a in attrs.values()) > 1.5
    assert all(a["distractor"] for a in attrs.values())
    assert any(a["occlusion_frames"] for a in attrs.values())
    assert any(a["blur_frames"] for a in attrs.values())
    assert any(a["salient_distractor"] for a in attrs.values())
    # The attributes describe what was written: the scale ratio is the GT's.
    for name in names:
        gt = OTB(root)[name].gt
        side = np.sqrt(gt[:, 2] * gt[:, 3])
        assert attrs[name]["scale_ratio"] == pytest.approx(side.max() / side.min(), abs=2e-3)
    # Each split's sequences hold every kind of difficulty somewhere in training.
    train = synthetic.demo_split(names)["train"]
    for tag in ("SV", "OCC", "MB", "BC"):
        assert any(tag in attrs[n]["tags"] for n in train), tag


def test_occluded_frames_hide_part_of_the_target(bench):
    root, names = bench
    attrs = synthetic.sequence_attributes(root)
    otb = OTB(root)
    checked = 0
    for name in names:
        occ = attrs[name]["occlusion_frames"]
        if not occ:
            continue
        seq = otb[name]
        warm_in = []
        for t, path in enumerate(seq.frames):
            img = load_image(path)
            warm_in.append(warm_mask(img)[box_mask_xywh(seq.gt[t], img.shape)].mean())
        clear = [w for t, w in enumerate(warm_in) if t not in occ]
        worst = min(warm_in[t] for t in occ)
        assert worst < 0.8 * np.median(clear), name
        checked += 1
    assert checked >= 2


def test_fast_frames_are_motion_blurred():
    scene = synthetic.simulate(4, frames=40, size=SIZE, seed=0)
    fast = scene.blur_frames()
    assert len(fast) > 0
    t = int(fast[0])
    sharp_scene = synthetic.Scene(**{**scene.__dict__, "target_step_px": np.zeros_like(scene.target_step_px)})

    def detail(img):
        lap = cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32), cv2.CV_32F)
        return np.abs(lap[box_mask_xywh(scene.target_xywh[t], img.shape)]).mean()

    assert detail(synthetic.render_frame(scene, t)) < 0.7 * detail(synthetic.render_frame(sharp_scene, t))


def test_same_seed_gives_identical_files_and_sequences_do_not_depend_on_count(tmp_path):
    a = synthetic.make_benchmark(tmp_path / "a", n_sequences=3, frames=8, seed=5, progress=False)
    synthetic.make_benchmark(tmp_path / "b", n_sequences=3, frames=8, seed=5, progress=False)
    synthetic.make_benchmark(tmp_path / "c", n_sequences=2, frames=8, seed=5, progress=False)
    synthetic.make_benchmark(tmp_path / "d", n_sequences=3, frames=8, seed=6, progress=False)
    fa, fb = all_files(tmp_path / "a"), all_files(tmp_path / "b")
    assert list(fa) == list(fb)
    assert len([k for k in fa if k.endswith(".jpg")]) == 3 * 8
    for rel in fa:
        assert fa[rel].read_bytes() == fb[rel].read_bytes(), rel
    fc = all_files(tmp_path / "c")
    for rel in fc:
        if rel.startswith(("Syn01/", "Syn02/")):
            assert fc[rel].read_bytes() == fa[rel].read_bytes(), rel
    assert (tmp_path / "d" / "Syn01" / "groundtruth_rect.txt").read_text() != \
        (tmp_path / "a" / "Syn01" / "groundtruth_rect.txt").read_text()
    assert a == ["Syn01", "Syn02", "Syn03"]


def test_rerun_is_a_no_op_and_fills_in_missing_sequences(tmp_path):
    root = tmp_path / "syn"
    synthetic.make_benchmark(root, n_sequences=3, frames=6, progress=False)
    before = {rel: (p.stat().st_mtime_ns, p.read_bytes()) for rel, p in all_files(root).items()}
    assert synthetic.make_benchmark(root, n_sequences=3, frames=6, progress=False) == ["Syn01", "Syn02", "Syn03"]
    after = {rel: (p.stat().st_mtime_ns, p.read_bytes()) for rel, p in all_files(root).items()}
    assert after == before

    # A sequence lost (or never renamed into place) is made again, identically; the others stay untouched.
    import shutil
    shutil.rmtree(root / "Syn02")
    (root / ".Syn02.tmp-999").mkdir()  # debris of an interrupted run
    synthetic.make_benchmark(root, n_sequences=3, frames=6, progress=False)
    again = {rel: (p.stat().st_mtime_ns, p.read_bytes()) for rel, p in all_files(root).items()}
    assert set(again) == set(before)
    for rel, (mtime, data) in before.items():
        assert again[rel][1] == data, rel
        if rel.startswith("Syn01/"):
            assert again[rel][0] == mtime, rel
    assert not (root / ".Syn02.tmp-999").exists()


def test_other_args_refuse_without_overwrite_and_replace_with_it(tmp_path):
    root = tmp_path / "syn"
    synthetic.make_benchmark(root, n_sequences=4, frames=5, progress=False)
    with pytest.raises(RoloError, match=str(root)):
        synthetic.make_benchmark(root, n_sequences=4, frames=5, seed=1, progress=False)
    names = synthetic.make_benchmark(root, n_sequences=3, frames=7, seed=1, overwrite=True, progress=False)
    assert names == ["Syn01", "Syn02", "Syn03"]
    assert not (root / "Syn04").exists()
    assert len(OTB(root)["Syn01"]) == 7
    manifest = json.loads((root / "synthetic.json").read_text())
    assert manifest["args"]["seed"] == 1 and manifest["args"]["frames"] == 7
    assert read_list(root / "list.txt") == names


def test_unclaimed_sequence_folder_is_not_clobbered(tmp_path):
    (tmp_path / "Syn01").mkdir()
    (tmp_path / "Syn01" / "mine.txt").write_text("user data")
    with pytest.raises(RoloError, match="Syn01"):
        synthetic.make_benchmark(tmp_path, n_sequences=2, frames=4, progress=False)
    assert (tmp_path / "Syn01" / "mine.txt").read_text() == "user data"


def test_bad_arguments_name_themselves(tmp_path):
    with pytest.raises(ConfigError, match="frames"):
        synthetic.make_benchmark(tmp_path, frames=1, progress=False)
    with pytest.raises(ConfigError, match="size"):
        synthetic.make_benchmark(tmp_path, size=(10, 120), progress=False)
    with pytest.raises(RoloError, match="synthetic.json"):
        synthetic.sequence_attributes(tmp_path)


def test_demo_split_keeps_list_order():
    names = synthetic.sequence_names(6)
    split = synthetic.demo_split(names)
    assert split == dict(train=names[:4], test=["Syn05"], eval=["Syn06"])
    assert split["train"] + split["test"] + split["eval"] == names
    big = synthetic.demo_split(synthetic.sequence_names(12))
    assert [len(big[k]) for k in ("train", "test", "eval")] == [8, 2, 2]
    with pytest.raises(ConfigError):
        synthetic.demo_split(["Syn01", "Syn02"])


def test_video_has_every_frame_and_matches_the_sequence_renderer(tmp_path):
    path = tmp_path / "clip.mp4"
    gt = synthetic.make_video(path, frames=40, size=SIZE, seed=2, fps=20)
    assert gt.shape == (40, 4)
    np.testing.assert_array_equal(gt, synthetic.simulate(4, frames=40, size=SIZE, seed=2).target_xywh)
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened()
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    assert len(frames) == 40
    assert frames[0].shape == (SIZE[1], SIZE[0], 3)
    # mp4v is lossy but the target is still where the GT says.
    for t in (0, 20, 39):
        m = box_mask_xywh(gt[t], frames[t].shape)
        assert warm_mask(frames[t])[m].mean() > 0.25
        assert warm_mask(frames[t])[~m].mean() < 0.01


def test_distractor_scene_puts_a_larger_look_alike_beside_the_target():
    scene = synthetic.make_distractor_scene(frames=30, size=SIZE, seed=1)
    near = scene.distractor_near_frames()
    assert len(near) > 0
    t = int(near[len(near) // 2])
    tgt, dis = scene.target_xywh[t], scene.distractor_xywh[t]
    assert dis[3] > 1.3 * np.median(scene.target_xywh[:, 3])
    img = synthetic.render_frame(scene, t)
    centre_gap = np.hypot(*((tgt[:2] + tgt[2:] / 2) - (dis[:2] + dis[2:] / 2)))
    assert centre_gap < tgt[2] + dis[2]
    # Both objects are drawn where their boxes say; the target stays on top and whole.
    assert warm_mask(img)[box_mask_xywh(tgt, img.shape)].mean() > 0.6
    assert cool_mask(img)[box_mask_xywh(dis, img.shape) & ~box_mask_xywh(tgt, img.shape)].mean() > 0.2
    assert not warm_mask(img)[~box_mask_xywh(tgt, img.shape)].any()


def test_panel_hides_the_whole_target_on_its_full_occlusion_frames():
    # On a slow target, and on presets 4 and 5 whose fast burst blurs the target.
    checked = 0
    for index in (0, 4, 5):
        preset = dict(synthetic.PRESETS[index], occluder="panel")
        scene = synthetic.simulate(index, frames=40, size=SIZE, seed=7, preset=preset)
        full = scene.full_occlusion_frames()
        # One stretch of about PANEL_HIDDEN_FRAMES: the panel passes over the target rather than sitting on it.
        assert synthetic.PANEL_HIDDEN_FRAMES <= len(full) <= synthetic.PANEL_HIDDEN_FRAMES + 2, index
        assert np.all(np.diff(full) == 1), index
        assert scene.occlusion_fraction()[full] == pytest.approx(1.0)
        assert scene.occlusion_fraction().min() < 0.5, index
        assert full.tolist() == scene.attributes()["full_occlusion_frames"]
        for t in full:
            img = synthetic.render_frame(scene, int(t))
            # Nothing of the target is left anywhere in the frame, blur included.
            assert not warm_mask(img).any(), (index, int(t))
        clear = int(np.argmin(scene.occlusion_fraction()))
        img = synthetic.render_frame(scene, clear)
        assert warm_mask(img)[box_mask_xywh(scene.target_xywh[clear], img.shape)].mean() > 0.5
        checked += 1
    assert checked == 3
    # The thin pole never hides the whole target.
    pole = synthetic.simulate(1, frames=40, size=SIZE, seed=7)
    assert len(pole.full_occlusion_frames()) == 0 and pole.occlusion_fraction().max() > 0.1
    with pytest.raises(ConfigError, match="occluder"):
        synthetic.simulate(0, frames=10, size=SIZE, seed=0, preset=dict(synthetic.PRESETS[0], occluder="wall"))
