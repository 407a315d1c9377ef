"""The benchmarks' metrics against the got10k toolkit itself, result layouts, and ROLO run by got10k's
ExperimentGOT10k on a tiny GOT-10k tree: its performance.json equals our metrics on the same files."""
import json
import runpy

import numpy as np
import pytest

from dataset_trees import make_got10k
from rolo import metrics, toolkits
from rolo.errors import ConfigError


def _boxes(rng, n, size=(64, 48)):
    xy = rng.uniform(-10, 60, (n, 2))
    wh = rng.uniform(1, 40, (n, 2))
    return np.concatenate([xy, wh], 1)


def test_bounded_iou_equals_got10k_rect_iou():
    g10 = pytest.importorskip("got10k.utils.metrics")
    rng = np.random.default_rng(0)
    a, b = _boxes(rng, 500), _boxes(rng, 500)
    b[:50] = a[:50] + rng.normal(0, 2, (50, 4))  # some close pairs, so IoUs above 0.75 occur
    ours = metrics.bounded_iou_xywh(a, b, (64, 48))
    theirs = g10.rect_iou(a.copy(), b.copy(), bound=(64, 48))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(metrics.bounded_iou_xywh(a, b, np.tile([64, 48], (500, 1))), theirs, atol=1e-12)
    assert (ours > 0.75).any() and (ours == 0).any()


def test_got10k_scores_and_normalized_precision_by_hand():
    s = metrics.got10k_scores([0.2, 0.6, 0.8, 1.0])
    assert s["ao"] == pytest.approx(0.65) and s["sr50"] == 0.75 and s["sr75"] == 0.5
    assert len(s["success_curve"]) == 101 and s["success_curve"][0] == 1.0
    gt = np.array([[0, 0, 10, 20], [0, 0, 10, 20], [0, 0, 10, 20], [0, 0, 0, 0]], float)
    pred = np.array([[1, 2, 10, 20],    # centre off by (1, 2): normalised (0.1, 0.1), 0.141 <= 0.2
                     [3, 0, 10, 20],    # (0.3, 0): fails at 0.2
                     [np.nan] * 4,      # no prediction: a failure
                     [1, 1, 1, 1]], float)  # ground truth without a box: excluded
    err = metrics.normalized_center_error_xywh(pred, gt)
    np.testing.assert_allclose(err[:2], [np.hypot(0.1, 0.1), 0.3])
    assert np.isinf(err[2]) and np.isnan(err[3])
    assert metrics.normalized_precision(pred, gt) == pytest.approx(1 / 3)


def test_result_layouts(tmp_path):
    boxes = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], float)
    p = toolkits.write_results(tmp_path / "pt", "Seq", boxes, [0.1, 0.2], "pytracking")
    assert p.name == "Seq.txt" and np.loadtxt(p, delimiter="\t").tolist() == boxes.tolist()
    assert (tmp_path / "pt" / "Seq_time.txt").is_file()
    p = toolkits.write_results(tmp_path / "ps", "Seq", boxes, layout="pysot")
    assert np.loadtxt(p, delimiter=",").tolist() == boxes.tolist()
    p = toolkits.write_results(tmp_path / "g", "Seq", boxes, [0.1, 0.2], "got10k")
    assert p == tmp_path / "g" / "Seq" / "Seq_001.txt" and (tmp_path / "g" / "Seq" / "Seq_time.txt").is_file()
    with pytest.raises(ConfigError, match="result layout 'vot'"):
        toolkits.write_results(tmp_path, "Seq", boxes, layout="vot")


def test_got10k_tracker_needs_got10k_only_when_used(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_got10k(name, globals=None, locals=None, fromlist=(), level=0):
        if name.startswith("got10k") and level == 0:  # not rolo.datasets.got10k
            raise ImportError("No module named 'got10k'")
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", no_got10k)
    monkeypatch.setattr(toolkits, "_CLASSES", {})
    with pytest.raises(ImportError, match="pip install got10k six shapely fire wget"):
        toolkits.Got10kTracker  # noqa: B018


@pytest.mark.slow
def test_experiment_got10k_runs_rolo_and_matches_our_metrics(repo_root, tmp_path):
    pytest.importorskip("got10k")
    from got10k.experiments import ExperimentGOT10k
    from got10k.trackers import Tracker

    from rolo import extraction, training
    from rolo.toolkits import Got10kTracker

    root = tmp_path / "GOT-10k"
    make_got10k(root)
    g = runpy.run_path(str(repo_root / "dataloader.py"), run_name="rolo_test")
    extraction.main(g, ["--dataset", "got10k", "--dataset_root", str(root), "--train_split", "train",
                        "--out_dir", str(tmp_path / "data"), "--weights", "yolov8n.yaml", "--img_size", "64",
                        "--conf", "1e-6", "--device", "cpu"])
    ckpt = training.main(runpy.run_path(str(repo_root / "train.py"), run_name="rolo_test"), [
        "--dataset", "got10k", "--data_dir", str(tmp_path / "data"), "--checkpoint_dir", str(tmp_path / "ckpt"),
        "--epochs", "2", "--batch_size", "4", "--hidden", "16", "--device", "cpu"])

    trk = Got10kTracker(ckpt, device="cpu")
    assert isinstance(trk, Tracker) and trk.is_deterministic and trk.name == "ROLO"
    exp = ExperimentGOT10k(str(root), subset="val", result_dir=str(tmp_path / "results"),
                           report_dir=str(tmp_path / "reports"))
    exp.run(trk)
    exp.report([trk.name])
    result_dir = tmp_path / "results" / "GOT-10k" / "ROLO"

    def compare():
        perf = json.loads((tmp_path / "reports" / "GOT-10k" / "ROLO" / "performance.json").read_text())["ROLO"]
        ours = toolkits.got10k_performance(result_dir, root, "val")
        assert ours["overall"]["ao"] == pytest.approx(perf["overall"]["ao"], abs=1e-12)
        assert ours["overall"]["sr50"] == pytest.approx(perf["overall"]["sr"], abs=1e-12)
        np.testing.assert_allclose(ours["overall"]["success_curve"], perf["overall"]["succ_curve"], atol=1e-12)
        for name, m in perf["seq_wise"].items():
            assert ours["seq_wise"][name]["ao"] == pytest.approx(m["ao"], abs=1e-12)
            assert ours["seq_wise"][name]["length"] == m["length"]
        return ours

    # The toolkit's result file holds one box per frame, the first the given box.
    first = np.loadtxt(tmp_path / "results/GOT-10k/ROLO/GOT-10k_Val_000001/GOT-10k_Val_000001_001.txt",
                       delimiter=",")
    assert first.shape == (8, 4) and np.isfinite(first).all()
    compare()
    # An untrained ROLO scores about 0: score noisy ground truth too, so the IoUs span (0, 1).
    rng = np.random.default_rng(1)
    for name in ("GOT-10k_Val_000001", "GOT-10k_Val_000136"):
        gt = np.loadtxt(root / "val" / name / "groundtruth.txt", delimiter=",")
        toolkits.write_results(result_dir, name, gt + rng.normal(0, 3, gt.shape), layout="got10k")
    exp.report([trk.name])
    ours = compare()
    assert 0.2 < ours["overall"]["ao"] < 0.95 and 0 < ours["overall"]["sr75"] < ours["overall"]["sr50"] < 1


def test_experiment_otb_offline_reads_our_loader(tmp_path, monkeypatch):
    pytest.importorskip("got10k")
    from got10k.experiments import ExperimentOTB
    from got10k.trackers import IdentityTracker

    from rolo.synthetic import make_benchmark
    from rolo.toolkits import Got10kSequences, offline_experiment

    root = tmp_path / "otb"
    names = make_benchmark(root, n_sequences=3, frames=6, size=(64, 48), progress=False)

    def no_network(*args, **kwargs):
        raise AssertionError("got10k tried to download")

    monkeypatch.setattr("got10k.datasets.otb.download", no_network)
    seqs = Got10kSequences("otb", root, str(root / "list.txt"))
    exp = offline_experiment(ExperimentOTB, seqs, result_dir=str(tmp_path / "r"), report_dir=str(tmp_path / "rep"))
    assert exp.dataset is seqs and exp.dataset.seq_names == names
    exp.run(IdentityTracker())
    perf = exp.report(["IdentityTracker"])["IdentityTracker"]
    assert set(perf["seq_wise"]) == set(names) and 0 < perf["overall"]["success_score"] <= 1
    assert len(np.loadtxt(tmp_path / "r" / "OTB2015" / "IdentityTracker" / f"{names[0]}.txt", delimiter=",")) == 6
