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
    assert sorted(f.name for f in (tmp_path / "ps").iterdir()) == ["Seq.txt"]  # no times given, no time file
    toolkits.write_results(tmp_path / "ps", "Seq", boxes, [0.1, 0.25], layout="pysot")
    assert np.loadtxt(tmp_path / "ps" / "Seq_time.txt").tolist() == [0.1, 0.25]
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


@pytest.fixture(scope="module")
def got10k_trained(tmp_path_factory, repo_root):
    """A tiny GOT-10k tree and a ROLO checkpoint trained on its train split (untrained YOLOv8n, 64 px)."""
    pytest.importorskip("got10k")
    from rolo import extraction, training

    tmp = tmp_path_factory.mktemp("got10k_trained")
    root = tmp / "GOT-10k"
    make_got10k(root)
    g = runpy.run_path(str(repo_root / "dataloader.py"), run_name="rolo_test")
    extraction.main(g, ["--dataset", "got10k", "--dataset_root", str(root), "--train_split", "train",
                        "--out_dir", str(tmp / "data"), "--weights", "yolov8n.yaml", "--img_size", "64",
                        "--conf", "1e-6", "--device", "cpu"])
    ckpt = training.main(runpy.run_path(str(repo_root / "train.py"), run_name="rolo_test"), [
        "--dataset", "got10k", "--data_dir", str(tmp / "data"), "--checkpoint_dir", str(tmp / "ckpt"),
        "--epochs", "2", "--batch_size", "4", "--hidden", "16", "--device", "cpu"])
    return root, ckpt


@pytest.mark.slow
def test_experiment_got10k_runs_rolo_and_matches_our_metrics(got10k_trained, tmp_path):
    from got10k.experiments import ExperimentGOT10k
    from got10k.trackers import Tracker

    from rolo.toolkits import Got10kTracker

    root, ckpt = got10k_trained
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


def _otb_style_scores_match(exp, result_dir, sequences, rng) -> None:
    """got10k's OTB-style report (ExperimentOTB, UAV123, NfS) equals rolo.metrics on the same result files
    (the report puts the ground truth in frame 1 and skips rows without a box): first on ROLO's own files,
    success only (an untrained ROLO gives boxes of negative height, whose centre error rolo.metrics
    counts as a failure and got10k measures), then on noisy ground truth written with
    rolo.toolkits.write_results, where the IoUs span (0, 1) and precision must agree too."""
    for noisy in (False, True):
        if noisy:
            for name, (_, gt) in zip(sequences.seq_names, sequences):
                toolkits.write_results(result_dir, name, gt + rng.normal(0, 3, gt.shape), layout="pysot")
        perf = exp.report(["ROLO"])["ROLO"]
        for name, (_, gt) in zip(sequences.seq_names, sequences):
            pred = np.loadtxt(result_dir / f"{name}.txt", delimiter=",")
            pred[0] = gt[0]
            ours = metrics.sequence_metrics(pred, gt)
            theirs = perf["seq_wise"][name]
            assert ours["auc"] == pytest.approx(theirs["success_score"], abs=1e-12)
            assert ours["sr50"] == pytest.approx(theirs["success_rate"], abs=1e-12)
            assert theirs["speed_fps"] > 0  # got10k read the times file it wrote
            if noisy:
                assert ours["p20"] == pytest.approx(theirs["precision_score"], abs=1e-12)
                assert 0.1 < ours["auc"] < 0.95 and 0 < ours["sr50"] < 1


@pytest.mark.slow
def test_experiments_uav123_and_nfs_run_rolo_offline(got10k_trained, tmp_path, monkeypatch):
    """ROLO (trained on GOT-10k) through got10k's ExperimentUAV123 and ExperimentNfS on tiny trees in the
    datasets' own layouts, with nothing downloaded."""
    from unittest import mock

    from got10k.datasets import NfS, UAV123
    from got10k.experiments import ExperimentNfS, ExperimentUAV123

    from dataset_trees import make_nfs, make_uav123
    from rolo.toolkits import Got10kSequences, Got10kTracker, offline_experiment

    def no_network(*args, **kwargs):
        raise AssertionError("got10k tried to download")

    for module in ("got10k.utils.ioutils", "got10k.datasets.otb"):  # UAV123 and NfS import no downloader
        monkeypatch.setattr(f"{module}.download", no_network)
    trk = Got10kTracker(got10k_trained[1], device="cpu")

    # UAV123: uav6 (109 images) with NaN rows at frames 6-8.
    uav = tmp_path / "UAV123"
    truth = make_uav123(uav, names=("uav6",))
    # got10k 0.1.3 refuses a root that holds only anno/ and data_seq/ (its check wants more than 3 entries) ...
    with pytest.raises(Exception, match="Dataset not found or corrupted"):
        ExperimentUAV123(str(uav))
    # ... and, past that check, reads the same frames and rows as our loader (NaN kept: the toolkit skips them).
    seqs = Got10kSequences("uav123", uav)
    with mock.patch.object(UAV123, "_check_integrity"):
        theirs = UAV123(str(uav))
    assert theirs.seq_names == seqs.seq_names == ["uav6"]
    assert theirs[0][0] == seqs[0][0]
    np.testing.assert_array_equal(theirs[0][1], seqs[0][1])
    assert np.isnan(seqs[0][1][5:8]).all() and np.array_equal(seqs[0][1][:5], truth["uav6"]["boxes"][:5])
    exp = offline_experiment(ExperimentUAV123, seqs, result_dir=str(tmp_path / "r"), report_dir=str(tmp_path / "rep"))
    exp.run(trk)
    result_dir = tmp_path / "r" / "UAV123" / "ROLO"
    assert np.loadtxt(result_dir / "uav6.txt", delimiter=",").shape == (109, 4)
    assert np.loadtxt(result_dir / "times" / "uav6_time.txt").shape == (109,)
    rng = np.random.default_rng(2)
    _otb_style_scores_match(exp, result_dir, seqs, rng)

    # NfS at 30 fps: got10k's own NfS class reads the tree as distributed (240 fps rows in a 30 fps file,
    # one extra row), the same frames and boxes as ours.
    nfs = tmp_path / "NfS"
    make_nfs(nfs)
    exp = ExperimentNfS(str(nfs), fps=30, result_dir=str(tmp_path / "r"), report_dir=str(tmp_path / "rep"))
    ours = Got10kSequences("nfs", nfs)
    assert exp.dataset.seq_names == ours.seq_names == ["Bee", "Car"]
    for (f_theirs, a_theirs), (f_ours, a_ours) in zip(exp.dataset, ours):
        assert f_theirs == f_ours
        np.testing.assert_array_equal(a_theirs, a_ours)
    exp.run(trk)
    result_dir = tmp_path / "r" / "NfS" / "30" / "ROLO"
    assert np.loadtxt(result_dir / "Car.txt", delimiter=",").shape == (8, 4)
    _otb_style_scores_match(exp, result_dir, ours, rng)
