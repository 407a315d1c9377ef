"""The dataset registry and each loader, on tiny trees in each dataset's exact layout (tests/dataset_trees.py)."""
import re

import numpy as np
import pytest

from dataset_trees import BUILDERS, box_matches_frame, make_got10k, make_lasot, make_nfs, make_trackingnet, \
    make_uav123
from rolo.datasets import DATASETS, get_dataset, open_dataset
from rolo.datasets.base import read_boxes, read_labels
from rolo.errors import ConfigError, DataError

SPLITS = {"lasot": ("train", "test"), "got10k": ("train", "val", "test"), "trackingnet": ("train", "test"),
          "uav123": (None,), "nfs": (None,)}


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    out = {}
    for name, build in BUILDERS.items():
        root = tmp_path_factory.mktemp(name)
        out[name] = (root, build(root))
    return out


def test_registry_names_every_dataset():
    assert set(DATASETS) == {"otb", "lasot", "got10k", "trackingnet", "uav123", "nfs", "synthetic"}
    with pytest.raises(ConfigError, match="unknown dataset 'lasotx'; choose one of otb, lasot"):
        get_dataset("lasotx", "x")
    with pytest.raises(ConfigError, match="dataset 'lasot' has no split 'val'; choose one of 'train', 'test'"):
        get_dataset("lasot", "x", "val")


@pytest.mark.parametrize("dataset", list(SPLITS))
def test_loader_matches_the_tree(trees, dataset):
    """Every split's sequences equal the tree's truth (boxes, visible), and each visible frame shows its box."""
    root, truth = trees[dataset]
    seen = set()
    for split in SPLITS[dataset]:
        for seq in open_dataset(dataset, root, split):
            t = truth[seq.name]
            assert t["split"] == split, seq.name
            seen.add(seq.name)
            np.testing.assert_array_equal(seq.visible, t["visible"], err_msg=seq.name)
            np.testing.assert_array_equal(seq.boxes_xywh, t["boxes"], err_msg=seq.name)
            assert seq.gt is seq.boxes_xywh and seq.dataset == dataset
            drawn = t.get("drawn", t["boxes"])
            for i in np.flatnonzero(t["visible"]):
                assert box_matches_frame(seq.frames[i], drawn[i]), (seq.name, i, seq.frames[i])
                # The check can fail: the neighbouring frame's box is elsewhere.
                j = i + 1 if i + 1 < len(drawn) else i - 1
                assert not box_matches_frame(seq.frames[i], drawn[j]), (seq.name, i)
    assert seen == set(truth)


def test_lasot_split_and_extra_images(trees):
    from rolo.datasets.lasot import test_names, train_names

    assert len(test_names()) == 280 and len(train_names()) == 1120 and not set(test_names()) & set(train_names())
    assert "airplane-1" in test_names() and "airplane-2" in train_names()
    root, _ = trees["lasot"]
    ds = get_dataset("lasot", root, "train")
    seq = ds["airplane-2"]
    assert len(seq) == 8 and seq.attributes["unread_images"] == 2
    assert len(ds.missing()) == 1119


def test_got10k_test_split_has_first_box_only_and_sizes_change(trees):
    root, truth = trees["got10k"]
    seq = get_dataset("got10k", root, "test")["GOT-10k_Test_000001"]
    assert np.isfinite(seq.boxes_xywh[0]).all() and np.isnan(seq.boxes_xywh[1:]).all()
    val = get_dataset("got10k", root, "val")["GOT-10k_Val_000136"]
    np.testing.assert_array_equal(val.frame_sizes(), truth["GOT-10k_Val_000136"]["sizes"])


def test_trackingnet_numeric_order(trees):
    root, _ = trees["trackingnet"]
    seq = get_dataset("trackingnet", root, "train")["a1b2c3_0"]
    assert [p.name for p in seq.frames][:3] == ["0.jpg", "1.jpg", "2.jpg"] and seq.frames[10].name == "10.jpg"
    assert list(seq.frame_numbers) == list(range(12))


def test_uav123_shared_folder(trees):
    root, _ = trees["uav123"]
    ds = get_dataset("uav123", root)
    a, b = ds["car1_1"], ds["car1_2"]
    assert a.frames[-1] == b.frames[0] and a.frames[-1].name == "000751.jpg"
    assert ds.names() == ["car1_1", "car1_2"] and len(ds.missing()) == 121


def test_nfs_240fps_rows_and_one_extra_row(trees):
    root, _ = trees["nfs"]
    ds = get_dataset("nfs", root)
    assert ds.names() == ["Bee", "Car"]
    assert ds["Car"].attributes["trimmed"] == 1 and ds["Bee"].attributes["trimmed"] == 0


# ---- bad input: errors name the file and line --------------------------------------------

def test_read_boxes_nan_only_where_allowed(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("1,2,3,4\nNaN,NaN,NaN,NaN\n")
    assert np.isnan(read_boxes(p, allow_nan=True)[1]).all()
    with pytest.raises(DataError, match=r"a.txt, line 2: non-finite value"):
        read_boxes(p)


def test_read_labels_count_and_values(tmp_path):
    p = tmp_path / "absence.label"
    p.write_text("0\n1\n2\n")
    with pytest.raises(DataError, match=r"absence.label, line 3: '2' is not an integer label in 0..1"):
        read_labels(p, 3)
    p.write_text("0,1,0\n")
    with pytest.raises(DataError, match=r"absence.label: 3 labels for 4 frames"):
        read_labels(p, 4)
    with pytest.raises(DataError, match="label file not found: .*cover.label"):
        read_labels(tmp_path / "cover.label", 3)


def test_bad_trees(tmp_path):
    make_lasot(tmp_path / "l")
    (tmp_path / "l/airplane/airplane-1/img/00000004.jpg").unlink()
    with pytest.raises(DataError, match=r"airplane-1: 1 of the 8 images .* missing, first .*00000004.jpg"):
        get_dataset("lasot", tmp_path / "l", "test")["airplane-1"]
    (tmp_path / "l/airplane/airplane-2/out_of_view.txt").unlink()
    with pytest.raises(DataError, match=r"label file not found: .*airplane-2/out_of_view.txt"):
        get_dataset("lasot", tmp_path / "l", "train")["airplane-2"]

    make_got10k(tmp_path / "g")
    gt = tmp_path / "g/val/GOT-10k_Val_000001/groundtruth.txt"
    gt.write_text("\n".join(gt.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(DataError, match=r"groundtruth.txt: 7 rows for 8 images"):
        get_dataset("got10k", tmp_path / "g", "val")["GOT-10k_Val_000001"]
    (tmp_path / "g/test/GOT-10k_Test_000001/groundtruth.txt").write_text("1,2,3,4\n1,2,3,4\n")
    with pytest.raises(DataError, match=r"first frame's box only, found 2 rows"):
        get_dataset("got10k", tmp_path / "g", "test")["GOT-10k_Test_000001"]

    # a list.txt line that is a path would make the cache folder <DATA_DIR>/<split>/<path> lie elsewhere
    lst = tmp_path / "g/val/list.txt"
    for line in ("/data/GOT-10k/val/GOT-10k_Val_000001", "../train/GOT-10k_Train_000001", ".."):
        lst.write_text(f"GOT-10k_Val_000001\n\n{line}\n")
        with pytest.raises(DataError, match=rf"^{lst}, line 3: {re.escape(repr(line))} is (a path|not a folder name)"):
            get_dataset("got10k", tmp_path / "g", "val").names()

    make_trackingnet(tmp_path / "t")
    (tmp_path / "t/TRAIN_0/frames/a1b2c3_0/5.jpg").unlink()
    with pytest.raises(DataError, match=r"numbered from 0 without gaps; image 5 is missing"):
        get_dataset("trackingnet", tmp_path / "t", "train")["a1b2c3_0"]

    make_uav123(tmp_path / "u", names=("uav6",))
    anno = tmp_path / "u/anno/UAV123/uav6.txt"
    anno.write_text(anno.read_text() + "1,2,3,4\n")
    with pytest.raises(DataError, match=r"uav6.txt: 110 rows, but UAV123's uav6 spans images 1-109"):
        get_dataset("uav123", tmp_path / "u")["uav6"]

    make_nfs(tmp_path / "n")
    (tmp_path / "n/Bee/30/Bee.txt").write_text("1 2 3 4 5 6 0 0 0\n" * 3)
    with pytest.raises(DataError, match=r"Bee.txt: 3 annotation rows .* for 8 images"):
        get_dataset("nfs", tmp_path / "n")["Bee"]
    with pytest.raises(DataError, match="NfS root folder not found"):
        get_dataset("nfs", tmp_path / "nothing").names()


def test_otb_through_the_registry(otb_sample):
    ds = get_dataset("otb", otb_sample, strict=False)
    car = ds["Car4"]
    assert len(car) == 100 and car.visible.all() and car.dataset == "otb" and car.spec.name == "Car4"


def test_synthetic_splits(tmp_path):
    from rolo import synthetic

    synthetic.make_benchmark(tmp_path, n_sequences=6, frames=4, size=(64, 48), progress=False)
    assert get_dataset("synthetic", tmp_path, "test").names() == ["Syn05"]
    seqs = open_dataset("synthetic", tmp_path, "train")
    assert [s.name for s in seqs] == ["Syn01", "Syn02", "Syn03", "Syn04"] and seqs[0].attributes


def test_check_dataset_reports_every_problem_at_once(repo_root, tmp_path, capsys):
    import runpy

    from rolo import check

    make_got10k(tmp_path)
    d = tmp_path / "val"
    (d / "GOT-10k_Val_000001" / "cover.label").unlink()
    (d / "GOT-10k_Val_000136" / "00000003.jpg").write_bytes(b"")
    with open(d / "list.txt", "a") as f:
        f.write("GOT-10k_Val_000999\n")
    g = runpy.run_path(str(repo_root / "check_dataset.py"), run_name="rolo_test")
    with pytest.raises(DataError, match=r"3 problem\(s\) with --dataset got10k"):
        check.dataset_main(g, ["--dataset", "got10k", "--root", str(tmp_path), "--split", "val"])
    out = capsys.readouterr().out
    assert "label file not found: " in out and "cover.label" in out
    assert "image is empty (0 bytes)" in out and "00000003.jpg" in out
    assert "GOT-10k sequence folder not found" in out and "GOT-10k_Val_000999" in out
    make_lasot(tmp_path / "lasot")
    report = check.check_dataset("lasot", tmp_path / "lasot", "test", progress=False)
    assert report.ok and any("279 of the 280 videos" in w for w in report.warnings)
    assert any("not visible" in w for w in report.warnings)


def test_dataset_sides_from_the_dataloader_constants():
    from rolo.config import Config
    from rolo.splits import Side, dataset_sides

    base = dict(OTB_ROOT="OTB100", DATASET="otb", DATASET_ROOT="", TRAIN_SPLIT="", TEST_DATASET="", TEST_ROOT="",
                TEST_SPLIT="")
    assert dataset_sides(Config(base)) is None  # the report's OTB list plan
    cfg = Config(dict(base, DATASET="lasot", DATASET_ROOT="/d/LaSOT", TRAIN_SPLIT="train", TEST_DATASET="otb",
                      TEST_SPLIT="list.txt"))
    assert dataset_sides(cfg) == [Side("train", "lasot", "/d/LaSOT", "train"), Side("test", "otb", "OTB100", "list.txt")]
    assert dataset_sides(Config(dict(base, DATASET="nfs", TRAIN_SPLIT="all")))[0].split is None
    with pytest.raises(ConfigError, match="--dataset lasot: give --train_split"):
        dataset_sides(Config(dict(base, DATASET="lasot")))


def test_dataloader_refuses_an_unknown_dataset(repo_root):
    import runpy

    from rolo import extraction

    g = runpy.run_path(str(repo_root / "dataloader.py"), run_name="rolo_test")
    with pytest.raises(ConfigError, match="--test_dataset: 'otb2' is not allowed"):
        extraction.main(g, ["--test_dataset", "otb2"])


def test_finetune_labels_come_from_a_dataset_split_and_skip_hidden_frames(repo_root, tmp_path):
    import runpy

    from rolo import config, finetune

    truth = make_got10k(tmp_path / "g")
    g = runpy.run_path(str(repo_root / "finetune_yolo.py"), run_name="rolo_test")
    cfg = config.from_script(g, ["--dataset", "got10k", "--dataset_root", str(tmp_path / "g"), "--train_split", "val",
                                 "--val_every", "100"], checks=finetune.CHECKS)
    items, counts = finetune.dataset_items(cfg)
    train = [it for it in items if it.split == "train"]
    assert counts["GOT-10k_Val_000001"]["images"] == truth["GOT-10k_Val_000001"]["visible"].sum() == 6
    # A label is the box in its own frame's size: frames 5.. of Val_000136 are twice as large.
    t = truth["GOT-10k_Val_000136"]
    label = [it.label for it in train if it.video == "GOT-10k_Val_000136" and it.source.name == "00000006.jpg"][0]
    x, y, w, h = t["drawn"][5]
    W, H = t["sizes"][5]
    np.testing.assert_allclose([float(v) for v in label.split()[1:]], [(x + w / 2) / W, (y + h / 2) / H, w / W, h / H],
                               atol=1e-6)


def test_a_new_detector_is_one_class_and_one_registry_line(repo_root, tmp_path, monkeypatch):
    """A detector registered in EXTRACTORS is built by the dataloader for --detector NAME."""
    import runpy

    from rolo import cache, extraction, extractor

    class Centre:
        """Every frame: its centre, a 3-d feature holding the frame's index."""
        feature_dim = 3

        def __init__(self, weights, device="cpu", **kwargs):
            import torch

            self.device = torch.device(device)

        def extract_paths(self, paths, batch_size=16, desc=None, progress=True):
            n = len(paths)
            box = np.tile(np.float32([0.5, 0.5, 0.2, 0.2]), (n, 1))
            topk = np.concatenate([box, np.ones((n, 2), np.float32)], 1)[:, None]
            return extractor.Detections(boxes=box, features=np.repeat(np.arange(n, dtype=np.float32)[:, None], 3, 1),
                                        conf=np.ones(n, np.float32), detected=np.ones(n, bool), topk=topk,
                                        sizes=np.tile([64, 48], (n, 1)))

        def close(self):
            pass

    monkeypatch.setitem(extractor.EXTRACTORS, "centre", Centre)
    make_lasot(tmp_path / "l")
    g = runpy.run_path(str(repo_root / "dataloader.py"), run_name="rolo_test")
    extraction.main(g, ["--detector", "centre", "--dataset", "lasot", "--dataset_root", str(tmp_path / "l"),
                        "--train_split", "train", "--out_dir", str(tmp_path / "data"), "--device", "cpu"])
    v = cache.read_video(tmp_path / "data" / "train" / "airplane-2")
    assert v.features.shape == (8, 3) and list(v.features[:, 0]) == list(range(8))
    assert v.meta["settings"]["DETECTOR"] == "centre"
    # The checkpoint records the detector, and the tracker builds it again.
    from rolo import training
    from rolo.tracker import RoloTracker

    ckpt = training.main(runpy.run_path(str(repo_root / "train.py"), run_name="rolo_test"), [
        "--dataset", "lasot", "--data_dir", str(tmp_path / "data"), "--checkpoint_dir", str(tmp_path / "ckpt"),
        "--epochs", "1", "--hidden", "8", "--device", "cpu"])
    assert isinstance(RoloTracker.from_checkpoint(ckpt, device="cpu").extractor, Centre)
    with pytest.raises(ConfigError, match="--detector: 'nope' is not allowed; choose one of 'yolov8', 'centre'"):
        extractor.build_extractor({"DETECTOR": "nope", "WEIGHTS": "x"})


def test_check_dataset_names_every_problem_of_one_video(tmp_path):
    """A video damaged in several independent ways is reported once per problem, not at its first."""
    from rolo import check

    make_lasot(tmp_path / "lasot")
    d = tmp_path / "lasot" / "airplane" / "airplane-1"
    (d / "out_of_view.txt").unlink()
    (d / "full_occlusion.txt").write_text("0\n2\n" + "0\n" * 6)
    (d / "img" / "00000004.jpg").unlink()
    report = check.check_dataset("lasot", tmp_path / "lasot", "test", progress=False)
    assert len(report.problems) == 3, report.problems
    text = "\n".join(report.problems)
    assert "out_of_view.txt" in text and "full_occlusion.txt, line 2" in text and "00000004.jpg" in text

    make_got10k(tmp_path / "got")
    v = tmp_path / "got" / "val" / "GOT-10k_Val_000001"
    (v / "cover.label").unlink()
    (v / "absence.label").unlink()
    (v / "groundtruth.txt").write_text((v / "groundtruth.txt").read_text() + "1,2,3,4\n")
    report = check.check_dataset("got10k", tmp_path / "got", "val", progress=False)
    text = "\n".join(report.problems)
    assert len(report.problems) == 3, report.problems
    assert "cover.label" in text and "absence.label" in text and "rows for" in text
    # Loading the video for extraction still stops, naming every problem in one error.
    with pytest.raises(DataError, match=r"(?s)cover\.label.*absence\.label|absence\.label.*cover\.label"):
        get_dataset("got10k", tmp_path / "got", "val")["GOT-10k_Val_000001"]
