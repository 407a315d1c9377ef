"""finetune_yolo.py: the YOLO dataset holds exactly the experiment's training labels, offline."""
import runpy

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from rolo import config, finetune, splits, synthetic  # noqa: E402
from rolo.extractor import preprocess_bgr  # noqa: E402


def ft_cfg(repo_root, root, work, *argv):
    consts = runpy.run_path(str(repo_root / "finetune_yolo.py"), run_name="not_main")
    base = ["--otb_root", str(root), "--list_file", str(root / "list.txt"), "--work_dir", str(work),
            "--img_size", "64", "--device", "cpu"]
    return config.from_script(consts, base + list(argv), checks=finetune.CHECKS)


def write_sequence(root, name, boxes_xywh, size=(100, 50)):
    """A plain OTB-layout sequence of flat frames whose colour encodes the frame number."""
    (root / name / "img").mkdir(parents=True)
    for i in range(len(boxes_xywh)):
        img = np.full((size[1], size[0], 3), 10 * (i + 1), np.uint8)
        img[:, : size[0] // 2, 2] = 200  # left half red: shows whether the stretch kept the layout
        cv2.imwrite(str(root / name / "img" / f"{i + 1:04d}.jpg"), img)
    (root / name / "groundtruth_rect.txt").write_text("".join(",".join(map(str, b)) + "\n" for b in boxes_xywh))


def labels(dataset_root, split="train"):
    """{(video, frame stem): [class, cx, cy, w, h]} of a built dataset."""
    out = {}
    for p in sorted((dataset_root / "labels" / split).glob("*/*.txt")):
        rows = np.loadtxt(p, ndmin=2)
        assert rows.shape == (1, 5)
        out[(p.parent.name, p.stem)] = rows[0]
    return out


def test_label_boxes_hand_checked():
    gt = np.array([[10, 5, 30, 20],      # inside a 100x50 frame
                   [90, 40, 20, 20],     # leaves the frame: clipped to [90, 40, 100, 50]
                   [120, 10, 5, 5]])     # wholly outside: no label
    boxes, inside = finetune.label_boxes_cxcywh_norm(gt, (100, 50))
    np.testing.assert_allclose(boxes[:2], [[0.25, 0.3, 0.3, 0.4], [0.95, 0.9, 0.1, 0.2]])
    assert inside.tolist() == [True, True, False]


def test_dataset_of_a_known_box(tmp_path, repo_root):
    root = tmp_path / "otb"
    write_sequence(root, "MyTrain", [[10, 5, 30, 20], [90, 40, 20, 20], [120, 10, 5, 5]])
    write_sequence(root, "MyTest", [[1, 1, 10, 10]] * 2)
    write_sequence(root, "MyEval", [[2, 2, 10, 10]] * 2)
    (root / "list.txt").write_text("MyTrain\nMyTest\nMyEval\n")
    cfg = ft_cfg(repo_root, root, tmp_path / "work", "--n_train", "1", "--n_test", "1", "--val_every", "2")
    ds = finetune.build_dataset(cfg)

    got = labels(ds.root)
    # frame 3's box lies outside the frame: left out, not shown as background
    assert set(got) == {("MyTrain", "0001"), ("MyTrain", "0002")}
    np.testing.assert_allclose(got[("MyTrain", "0001")], [0, 0.25, 0.3, 0.3, 0.4])
    np.testing.assert_allclose(got[("MyTrain", "0002")], [0, 0.95, 0.9, 0.1, 0.2])
    # the image is the frame stretched to IMG_SIZE x IMG_SIZE, as the extractor shows it
    img = cv2.imread(str(ds.root / "images" / "train" / "MyTrain" / "0002.jpg"))
    want = preprocess_bgr(cv2.imread(str(root / "MyTrain" / "img" / "0002.jpg")), 64)[..., ::-1]
    assert img.shape == (64, 64, 3)
    assert np.abs(img.astype(int) - want).mean() < 2  # JPEG rings a little at the sharp edge
    assert img[:, :30, 2].min() > 150 and img[:, 34:, 2].max() < 60  # the red half still fills the left half
    # val: every 2nd training image, training data only
    assert set(labels(ds.root, "val")) == {("MyTrain", "0001")}
    assert (ds.root / "images" / "val" / "MyTrain" / "0001.jpg").is_file()
    text = (ds.root / "data.yaml").read_text()
    assert "target" in text and str(ds.root.resolve()) in text
    assert ds.n_train == 2 and ds.n_val == 1 and not ds.reused


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn")
    names = synthetic.make_benchmark(root, n_sequences=6, frames=10, size=(64, 48), seed=1, progress=False)
    return root, names


def test_experiment_1_uses_only_the_training_videos(bench, repo_root, tmp_path):
    root, names = bench
    ds = finetune.build_dataset(ft_cfg(repo_root, root, tmp_path, "--n_train", "4", "--n_test", "1"))
    got = labels(ds.root)
    assert {v for v, _ in got} == set(names[:4])
    assert len(got) == 4 * 10 and len(list((ds.root / "images" / "train").glob("*/*.jpg"))) == 40
    # every label is that frame's ground truth
    gt = np.loadtxt(root / "Syn03" / "groundtruth_rect.txt", delimiter=",")
    x, y, w, h = gt[6]
    np.testing.assert_allclose(got[("Syn03", "0007")][1:], [(x + w / 2) / 64, (y + h / 2) / 48, w / 64, h / 48],
                               atol=1e-6)


def test_experiment_3_writes_only_the_labels_it_trains_on(bench, repo_root, tmp_path):
    root, names = bench
    cfg = ft_cfg(repo_root, root, tmp_path, "--experiment", "3", "--n_train", "4", "--n_test", "1")
    ds = finetune.build_dataset(cfg)
    got = labels(ds.root)
    # frames 1, 4, 7, 10 of the five train+test videos; nothing of the eval video
    assert set(got) == {(n, f"{f:04d}") for n in names[:5] for f in (1, 4, 7, 10)}
    # no label that only the test split holds: every written frame is one that experiment 3 trains on
    by_split = splits.video_names(3, names, 4, 1)
    for video, stem in got:
        plan = splits.plan_video(3, "train", video, 10)
        assert video in by_split["train"] and plan.labelled[int(stem) - 1]
    images = {(p.parent.name, p.stem) for p in (ds.root / "images").glob("*/*/*.jpg")}
    assert {v for v, _ in images} <= set(names[:5]) and {int(s) % 3 for _, s in images} == {1}


def test_rerun_reuses_the_dataset_and_rebuilds_on_new_settings(bench, repo_root, tmp_path):
    root, _ = bench
    first = finetune.build_dataset(ft_cfg(repo_root, root, tmp_path, "--n_train", "4", "--n_test", "1"))
    img = first.root / "images" / "train" / "Syn01" / "0001.jpg"
    stamp = img.stat().st_mtime_ns
    again = finetune.build_dataset(ft_cfg(repo_root, root, tmp_path, "--n_train", "4", "--n_test", "1"))
    assert again.reused and again.digest == first.digest and img.stat().st_mtime_ns == stamp
    other = finetune.build_dataset(ft_cfg(repo_root, root, tmp_path, "--n_train", "3", "--n_test", "1"))
    assert not other.reused and other.digest != first.digest
    assert {v for v, _ in labels(other.root)} == {"Syn01", "Syn02", "Syn03"}
    assert not list(tmp_path.glob(".dataset.*"))  # no temporary folder left behind


def test_dataset_check_makes_no_font_download(bench, repo_root, tmp_path, monkeypatch):
    """Ultralytics' dataset check looks for Arial.ttf online; under offline_checks it must not."""
    from ultralytics.data.utils import check_det_dataset
    from ultralytics.utils import downloads

    root, _ = bench
    ds = finetune.build_dataset(ft_cfg(repo_root, root, tmp_path, "--n_train", "4", "--n_test", "1"))
    calls = []
    monkeypatch.setattr(downloads, "is_url", lambda url, check=False: calls.append(url) or False)
    with finetune.offline_checks():
        data = check_det_dataset(str(ds.data_yaml))
    assert data["names"] == {0: "target"} and data["nc"] == 1
    assert calls == []
    check_det_dataset(str(ds.data_yaml))  # without the patch Ultralytics does try (the test can fail)
    assert any("Arial" in u for u in calls)


@pytest.mark.slow
def test_finetune_script_trains_a_target_detector_and_reuses_it(bench, repo_root, tmp_path):
    import os
    import subprocess
    import sys

    from rolo.extractor import YOLOv8FeatureExtractor

    root, names = bench
    cmd = [sys.executable, str(repo_root / "finetune_yolo.py"), "--otb_root", str(root),
           "--list_file", str(root / "list.txt"), "--work_dir", str(tmp_path / "work"), "--weights", "yolov8n.yaml",
           "--epochs", "1", "--img_size", "64", "--batch_size", "8", "--workers", "0", "--val", "false",
           "--warmup_epochs", "0", "--n_train", "4", "--n_test", "1", "--device", "cpu"]
    path = [str(repo_root), *filter(None, [os.environ.get("PYTHONPATH")])]  # keep the caller's entries
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    first = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    weights = tmp_path / "work" / "yolov8n_target_exp1_1ep_64.pt"
    assert f"use it with: python dataloader.py --weights {weights}" in first.stdout
    assert "fine-tune epoch 1/1" in first.stdout

    # the dataloaders' extractor loads it: one class, "target", and every detection is of it
    ex = YOLOv8FeatureExtractor(weights, device="cpu", imgsz=64, conf=1e-6, top_k=3)
    assert ex.names == {0: "target"}
    d = ex.extract_paths(sorted((root / names[4] / "img").glob("*.jpg")), progress=False)
    filled = d.topk[..., 4] >= 0
    assert filled.any() and (d.topk[..., 5][filled] == 0).all()

    stamp = weights.stat().st_mtime_ns
    again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "reusing fine-tuned weights" in again.stdout
    assert "reusing the YOLO dataset" in again.stdout and weights.stat().st_mtime_ns == stamp
