"""Every dataset end to end on its tiny tree (tests/dataset_trees.py): the dataloader extracts its
splits through the registry, train.py trains on the train side, evaluation.py scores the test side.
In process, with the untrained YOLOv8n at 64 px."""
import json
import runpy

import numpy as np
import pytest

from dataset_trees import BUILDERS, make_uav123
from rolo import cache, evaluation, extraction, toolkits, training
from rolo.errors import DataError

pytestmark = pytest.mark.slow

#: dataset -> (TRAIN_SPLIT, TEST_SPLIT)
CASES = {"lasot": ("train", "test"), "got10k": ("train", "val"), "trackingnet": ("train", "test"),
         "uav123": ("all", ""), "nfs": ("all", ""), "synthetic": ("train", "test")}


def script(repo_root, name):
    return runpy.run_path(str(repo_root / name), run_name="rolo_test")


def build(dataset, root):
    if dataset == "synthetic":
        from rolo.synthetic import make_benchmark

        make_benchmark(root, n_sequences=6, frames=10, size=(64, 48), progress=False)
    elif dataset == "uav123":
        make_uav123(root, names=("uav6",))
    else:
        BUILDERS[dataset](root)


@pytest.mark.parametrize("dataset", list(CASES))
def test_extract_train_evaluate(repo_root, tmp_path, dataset):
    root, data, ckpt, res = tmp_path / "root", tmp_path / "data", tmp_path / "ckpt", tmp_path / "res"
    build(dataset, root)
    train_split, test_split = CASES[dataset]
    common = ["--device", "cpu"]
    extraction.main(script(repo_root, "dataloader.py"), [
        "--dataset", dataset, "--dataset_root", str(root), "--train_split", train_split,
        "--test_dataset", dataset, "--test_root", str(root), "--test_split", test_split, "--out_dir", str(data),
        "--weights", "yolov8n.yaml", "--img_size", "64", "--conf", "1e-6", "--batch_size", "8", *common])
    train = cache.read_split(data, "train", dataset=dataset)
    test = cache.read_split(data, "test", dataset=dataset)
    for v in train:
        # Invisible frames are never trained on.
        assert not (v.labelled & np.isnan(v.gt).any(1)).any()
        assert v.meta["dataset"] == dataset
        assert v.meta["dataset_split"] == (None if train_split == "all" else train_split)
    if dataset == "got10k":
        hidden = next(v for v in test if v.name == "GOT-10k_Val_000001")
        assert not hidden.labelled[3:5].any() and hidden.labelled[:3].all()  # absent frames are not scored
        resized = next(v for v in test if v.name == "GOT-10k_Val_000136")
        assert resized.frame_sizes[5, 0] == 2 * resized.frame_sizes[0, 0]
        # normalised by each frame's own size: the box keeps its relative place after the resize
        assert np.isclose(resized.gt[3, 2], resized.gt[5, 2]) and resized.gt[3, 2] > 0
    if dataset == "trackingnet":
        assert all(v.labelled.sum() == 1 and v.labelled[0] for v in test)

    training.main(script(repo_root, "train.py"), [
        "--dataset", dataset, "--data_dir", str(data), "--checkpoint_dir", str(ckpt), "--epochs", "2",
        "--batch_size", "4", "--hidden", "16", *common])
    result = evaluation.main(script(repo_root, "evaluation.py"), [
        "--dataset", dataset, "--experiment", "1", "--epochs", "2", "--data_dir", str(data), "--checkpoint_dir",
        str(ckpt), "--results_dir", str(res), "--split", "test", *common])
    assert set(result["videos"]) == {v.name for v in test}
    bench = result["benchmark"]
    if dataset == "got10k":
        assert 0 <= bench["ao"] <= 1 and bench["sr75"] <= bench["sr50"]
    if dataset in ("lasot", "trackingnet"):
        assert 0 <= bench["norm_precision"] <= 1
    assert json.loads((res / "metrics.json").read_text())["mean"]["aos"] == result["mean"]["aos"]
    assert (res / "montage.png").stat().st_size > 1000  # frames found through the cache's dataset_root
    for v in test:
        assert np.loadtxt(res / f"{v.name}.txt", delimiter=",", ndmin=2).shape == (len(v), 4)
        assert np.loadtxt(res / f"{v.name}_time.txt", ndmin=1).shape == (len(v),)
    if dataset == "got10k":
        # got10k's layout too, and the toolkit's rule on those files gives the AO evaluation printed
        for v in test:
            box = np.loadtxt(res / "got10k" / v.name / f"{v.name}_001.txt", delimiter=",")
            np.testing.assert_allclose(box, np.loadtxt(res / f"{v.name}.txt", delimiter=","))
            assert (res / "got10k" / v.name / f"{v.name}_time.txt").is_file()
        perf = toolkits.got10k_performance(res / "got10k", root, "val")["overall"]
        assert perf["ao"] == pytest.approx(bench["ao"], abs=2e-3) and perf["sr50"] == pytest.approx(bench["sr50"])
    else:
        assert not (res / "got10k").exists()

    # A cache of another dataset is refused.
    with pytest.raises(DataError, match=f"holds videos of dataset '{dataset}'.*expects 'otb'"):
        training.main(script(repo_root, "train.py"), ["--data_dir", str(data), "--checkpoint_dir", str(ckpt),
                                                       "--epochs", "1", *common])
