"""Options for large datasets: decode worker processes, device-side JPEG decoding (its CPU
path: torchvision's decoder on the extractor's device, here the CPU), float16 caches, and a
memory-mapped cache whose mapped pages stay bounded."""
import cv2
import numpy as np
import pytest
import torch

from rolo import cache
from rolo.errors import DataError
from rolo.extractor import YOLOv8FeatureExtractor, preprocess_bgr

SIZE = (96, 72)


def write_frames(folder, n=6, seed=0, grey_at=2):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        img = cv2.resize(rng.integers(0, 256, (3, 4, 3), dtype=np.uint8), SIZE, interpolation=cv2.INTER_CUBIC)
        if i == grey_at:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        p = folder / f"{i + 1:04d}.jpg"
        cv2.imwrite(str(p), img)
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    return write_frames(tmp_path_factory.mktemp("frames") / "img")


@pytest.fixture(scope="module")
def yolo():
    from ultralytics import YOLO

    torch.manual_seed(0)
    return YOLO("yolov8n.yaml")


def test_decode_worker_processes_give_the_threads_output(frames, yolo):
    threads = YOLOv8FeatureExtractor(yolo, device="cpu", imgsz=64, conf=1e-6)
    procs = YOLOv8FeatureExtractor(yolo, device="cpu", imgsz=64, conf=1e-6, decode_workers=2)
    try:
        a = threads.extract_paths(frames, batch_size=4, progress=False)
        b = procs.extract_paths(frames, batch_size=4, progress=False)
        c = procs.extract_paths(frames[:3], batch_size=2, progress=False)  # the pool is reused
        with pytest.raises(DataError, match="image not found: .*missing.jpg"):
            procs.extract_paths([frames[0], frames[0].with_name("missing.jpg")], batch_size=2, progress=False)
    finally:
        procs.close()
    assert procs._pool is None
    for name in ("boxes", "features", "conf", "detected", "topk"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_allclose(a.features[:3], c.features, rtol=1e-3, atol=1e-12)  # other batch size


def test_device_decode_matches_opencv_to_rounding(frames, yolo):
    """gpu_decode's code path, run on the CPU: torchvision's JPEG decoder and a bilinear stretch in
    torch against cv2.imread + cv2.resize. Both decoders are libjpeg; the resizes differ by rounding."""
    ext = YOLOv8FeatureExtractor(yolo, device="cpu", imgsz=64, conf=1e-6, gpu_decode=True)
    from rolo.extractor import read_jpeg_bytes

    got, sizes = ext._decode_on_device([read_jpeg_bytes(p) for p in frames])
    got = got.numpy().astype(int)
    assert sizes == [SIZE] * len(frames)
    want = np.stack([preprocess_bgr(cv2.imread(str(p)), 64) for p in frames]).astype(int)
    assert got.shape == want.shape == (len(frames), 64, 64, 3)
    diff = np.abs(got - want)
    assert diff.max() <= 3 and diff.mean() < 0.6, (diff.max(), diff.mean())
    # end to end through the network: the same detections' features to within that pixel noise
    d = ext.extract_paths(frames, batch_size=4, progress=False)
    ref = YOLOv8FeatureExtractor(yolo, device="cpu", imgsz=64, conf=1e-6).extract_paths(frames, batch_size=4,
                                                                                         progress=False)
    assert d.features.shape == ref.features.shape and np.isfinite(d.features).all()


def test_device_decode_names_a_bad_file(tmp_path, yolo, frames):
    bad = tmp_path / "0001.jpg"
    bad.write_bytes(b"\xff\xd8not a jpeg\xff\xd9")
    ext = YOLOv8FeatureExtractor(yolo, device="cpu", imgsz=64, conf=1e-6, gpu_decode=True)
    with pytest.raises(DataError, match=f"cannot decode image .*{bad.name}"):
        ext.extract_paths([frames[0], bad], batch_size=2, progress=False)
    cut = tmp_path / "0002.jpg"
    cut.write_bytes(frames[0].read_bytes()[:200])
    with pytest.raises(DataError, match="truncated"):
        ext.extract_paths([cut], batch_size=2, progress=False)


def test_float16_features_are_stored_half_size_and_read_as_float32(tmp_path):
    from rolo.extraction import video_arrays
    from rolo.extractor import Detections
    from rolo.splits import plan_video
    from rolo.windows import frame_inputs

    class Seq:
        gt = np.tile([[10.0, 10.0, 20.0, 16.0]], (5, 1))
        visible = np.ones(5, bool)
        frame_numbers = list(range(1, 6))

    rng = np.random.default_rng(0)
    dets = Detections(boxes=rng.random((5, 4), dtype=np.float32), features=rng.random((5, 8), dtype=np.float32),
                      conf=np.ones(5, np.float32), detected=np.ones(5, bool), topk=np.zeros((5, 2, 6), np.float32))
    plan = plan_video(1, "train", "V", 5, 3)
    for dtype in ("float32", "float16"):
        arrays = video_arrays(Seq, plan, dets, (64, 48), dtype)
        cache.write_video(tmp_path / dtype / "train" / "V", arrays, {"name": "V", "split": "train", "experiment": 1,
                                                                    "image_size": [64, 48], "settings": {}})
    a = cache.read_video(tmp_path / "float32" / "train" / "V")
    b = cache.read_video(tmp_path / "float16" / "train" / "V")
    assert a.features.dtype == np.float32 and b.features.dtype == np.float16
    assert (tmp_path / "float16/train/V/features.npy").stat().st_size < (
        tmp_path / "float32/train/V/features.npy").stat().st_size
    x = frame_inputs(b)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, frame_inputs(a), atol=1e-3)


def _rss_file_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssFile:")) / 1024


def test_mmap_store_keeps_its_mapped_pages_bounded(tmp_path):
    """Reading every window of a 66 MB cache maps all of it unless the store drops its pages as it goes."""
    from rolo.bench import scale_cache
    from rolo.windows import MmapStore

    scale_cache(tmp_path / "c", n_videos=8, frames=4000, feature_dim=1024, progress=False)

    def mapped_growth(release_rows):
        videos = cache.read_split(tmp_path / "c", "train")
        store = MmapStore(videos, 6)
        store.release_rows = release_rows
        before = _rss_file_mb()
        ids = torch.arange(0, len(store), 2)
        for i in range(0, len(ids), 200):
            x, _, _ = store.batch(ids[i:i + 200])
            assert x.shape == (len(ids[i:i + 200]), 6, 1028)
        return _rss_file_mb() - before

    kept = mapped_growth(1 << 40)
    assert kept > 40  # 8 x 4000 x 1024 float16 features = 66 MB, most of it mapped by now
    assert mapped_growth(1200) < 0.2 * kept
