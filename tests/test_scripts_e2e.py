"""Every script end to end, as a user runs them: real subprocesses from the
repository root, on a tiny OTB-layout tree, with the untrained YOLOv8n."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from rolo import cache
from rolo.synthetic import make_benchmark

pytestmark = pytest.mark.slow


def run_script(repo_root, tmp, script, *args, check=True):
    env = dict(os.environ, YOLO_OFFLINE="1", YOLO_CONFIG_DIR=str(tmp / "yolo_cfg"), MPLBACKEND="Agg")
    p = subprocess.run([sys.executable, script, *args], cwd=repo_root, env=env, capture_output=True, text=True,
                       timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"{script} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    names = make_benchmark(tmp / "otb", n_sequences=4, frames=16, size=(96, 72), seed=3, progress=False)
    return tmp, names


@pytest.mark.parametrize("experiment", [1, 2, 3])
def test_extract_train_evaluate(repo_root, tree, experiment):
    tmp, names = tree
    loader = "dataloader.py" if experiment == 1 else f"dataloader_exp{experiment}.py"
    trainer = "train_exp3.py" if experiment == 3 else "train.py"
    data, ckpt, res = tmp / f"data{experiment}", tmp / f"ckpt{experiment}", tmp / f"res{experiment}"
    common = ["--device", "cpu"]
    p = run_script(repo_root, tmp, loader, "--otb_root", str(tmp / "otb"), "--list_file", str(tmp / "otb/list.txt"),
                   "--out_dir", str(data), "--weights", "yolov8n.yaml", "--img_size", "64", "--conf", "1e-6",
                   "--n_train", "2", "--n_test", "1", *common)
    assert re.search(rf"EXPERIMENT +=\s{experiment}\b", p.stdout) and "wrote" in p.stdout  # any column width
    assert json.loads((data / "train" / names[0] / "meta.json").read_text())["settings"]["IMG_SIZE"] == 64
    # a rerun skips every complete video
    p = run_script(repo_root, tmp, loader, "--otb_root", str(tmp / "otb"), "--list_file", str(tmp / "otb/list.txt"),
                   "--out_dir", str(data), "--weights", "yolov8n.yaml", "--img_size", "64", "--conf", "1e-6",
                   "--n_train", "2", "--n_test", "1", *common)
    assert "already cached" in p.stdout
    train_videos = cache.read_split(data, "train")
    assert [v.name for v in train_videos] == (names[:2] if experiment == 1 else names[:3])
    # experiment 2 trains on every third frame (1, 4, ..., 16), each labelled
    assert train_videos[0].features.shape == ((6, 256) if experiment == 2 else (16, 256))
    if experiment == 2:
        assert list(train_videos[0].frames) == [1, 4, 7, 10, 13, 16] and train_videos[0].labelled.all()
    if experiment == 3:
        assert list(np.flatnonzero(train_videos[0].labelled)) == [0, 3, 6, 9, 12, 15]

    p = run_script(repo_root, tmp, trainer, "--experiment", str(experiment), "--data_dir", str(data),
                   "--checkpoint_dir", str(ckpt), "--epochs", "2", "--batch_size", "4", "--hidden", "32", *common)
    assert "epoch    2/2" in p.stdout and (ckpt / f"rolo_lstm_exp{experiment}_2.pth").is_file()

    p = run_script(repo_root, tmp, "evaluation.py", "--experiment", str(experiment), "--epochs", "2",
                   "--data_dir", str(data), "--checkpoint_dir", str(ckpt), "--results_dir", str(res),
                   "--otb_root", str(tmp / "otb"), *common)
    m = json.loads((res / "metrics.json").read_text())
    assert list(m["videos"]) == ([names[2]] if experiment == 1 else names[:3])  # exps 2, 3 test on the main 3
    test_name = names[2]
    assert f"{m['videos'][test_name]['aos']:.3f}" in p.stdout
    assert len(np.loadtxt(res / f"{test_name}.txt", delimiter=",")) == 16
    for png in ("success.png", "precision.png", "montage.png"):
        assert (res / png).stat().st_size > 1000
    assert ("online held-out" in p.stdout) == (experiment in (2, 3))


def test_script_errors_are_one_line(repo_root, tree):
    tmp, _ = tree
    p = run_script(repo_root, tmp, "train.py", "--epochs", "-1", check=False)
    assert p.returncode == 2 and p.stderr.strip() == "error: --epochs: must be >= 1, got -1"
    p = run_script(repo_root, tmp, "evaluation.py", "--split", "tset", check=False)
    assert p.returncode == 2 and "--split: 'tset' is not allowed; choose one of 'test', 'eval'" in p.stderr
    p = run_script(repo_root, tmp, "dataloader.py", "--otb_root", str(tmp / "nowhere"), check=False)
    assert p.returncode == 2 and "OTB root folder not found" in p.stderr and "Traceback" not in p.stderr
