"""What a caller sees of each function of rolo.evaluation, in-process and fast (a few seconds).

The model is tiny and untrained but residual (its output is the detector box plus a small
learned-looking correction), so every variant scores differently and a mix-up shows. The
cache is synthetic (rolo.synthetic_cache). tests/test_evaluation.py trains a real model; this
file is the one tools/mutation.sh leans on for evaluation.py.
"""
import errno
import json
import re
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rolo import cache, config, evaluation, metrics
from rolo.boxes import NO_DETECTION_CXCYWH_NORM, cxcywh_norm_to_xywh, xywh_to_cxcywh_norm
from rolo.errors import ConfigError, DataError
from rolo.heatmap import grid_to_box_cxcywh_norm
from rolo.model import ROLO
from rolo.reportcode import Behaviour
from rolo.synthetic_cache import video_arrays, write_synthetic_cache
from rolo.training import checkpoint_path
from rolo.windows import frame_inputs

FEATURES, SEQ_LEN = 8, 4
EXTRACTION = {"WEIGHTS": "synthetic", "IMG_SIZE": 640, "CONF": 0.25, "TOP_K": 3}  # write_synthetic_cache's


def _model(head="coord", seed=0):
    """A ROLO whose output is near its input box: residual (coord) with a small random head."""
    torch.manual_seed(seed)
    model = ROLO(FEATURES, 16, head, residual=head == "coord")
    with torch.no_grad():
        model.head.weight.normal_(0, 0.05)
        model.head.bias.normal_(0, 0.02)
        if head == "heatmap":  # a peak, and a plateau beside it that only a low threshold keeps
            grid = model.head.bias.view(32, 32)
            grid -= 6
            grid[10:14, 20:26] += 10
            grid[10:14, 26:30] += 5.5  # sigmoid about 0.38 against the peak's 0.98
    return model.eval()


def _save_checkpoint(path, model, *, experiment=3, seq_len=SEQ_LEN, extraction=EXTRACTION, **settings):
    torch.save({"model": model.state_dict(), "model_info": model.describe(), "experiment": experiment,
                "settings": {"SEQ_LEN": seq_len, "SELECT": "confidence", **settings}, "seq_len": seq_len,
                "feature_dim": FEATURES, "extraction": dict(extraction)}, path)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Experiment 3: test = Syn01-03 (13, 9, 11 frames; every third frame trained on), eval = Syn04."""
    tmp = tmp_path_factory.mktemp("evalu")
    write_synthetic_cache(tmp / "data", experiment=3, n_videos=4, frames=[13, 9, 11, 7], feature_dim=FEATURES,
                          n_train=2, n_test=1)
    ckpt = _save_checkpoint(tmp / "tiny.pth", _model())
    return SimpleNamespace(tmp=tmp, data=tmp / "data", ckpt=ckpt, model=_model())


_CONSTS = {}


def _cfg(data, ckpt, results, *argv):
    if not _CONSTS:
        _CONSTS.update(runpy.run_path(str(Path(__file__).resolve().parents[1] / "evaluation.py"), run_name="x"))
    base = ["--data_dir", str(data), "--device", "cpu", "--results_dir", str(results), "--plots", "false"]
    if ckpt is not None:
        base += ["--checkpoint", str(ckpt)]
    return config.from_script(_CONSTS, base + [str(a) for a in argv], checks=evaluation.CHECKS)


def _plain_windows(model, x, L):
    """(W, L, D) reference: each window through the model alone, from a zero state."""
    with torch.inference_mode():
        return torch.stack([model(x[None, w:w + L])[0] for w in range(len(x) - L + 1)])


# ---- predict_windows, online_from_windows, decode ------------------------------------------------

@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 8, 4096])
def test_chunked_windows_equal_each_window_run_alone(monkeypatch, chunk):
    """11 frames, windows of 4: 8 windows, cut into chunks of ``chunk`` windows (7: a short last chunk)."""
    model = _model()
    x = torch.randn(11, FEATURES + 4)
    monkeypatch.setattr(evaluation, "CHUNK_WINDOWS", chunk)
    with torch.inference_mode():
        out = evaluation.predict_windows(model, x, SEQ_LEN)
    torch.testing.assert_close(out, _plain_windows(model, x, SEQ_LEN), rtol=1e-5, atol=1e-6)
    # a video shorter than SEQ_LEN: one window of all its frames
    with torch.inference_mode():
        short = evaluation.predict_windows(model, x[:3], SEQ_LEN)
    torch.testing.assert_close(short, _plain_windows(model, x[:3], 3), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("L", [1, 2, 3, 5])
def test_online_prediction_of_each_frame_comes_from_the_window_ending_at_it(L):
    W = 7
    w, s = torch.meshgrid(torch.arange(W), torch.arange(L), indexing="ij")
    out = torch.stack([w, s, w + s], -1).float()  # each output says which window, step and frame it is
    online = evaluation.online_from_windows(out)
    frames = torch.arange(W + L - 1)
    assert online.shape == (W + L - 1, 3)
    assert torch.equal(online[:, 2], frames.float())  # frame t's own prediction
    assert torch.equal(online[:, 0], (frames - L + 1).clamp(min=0).float())  # the window ending at t (or the first)


def test_decode_keeps_coordinates_and_decodes_heatmap_logits_with_the_threshold():
    coord = np.random.default_rng(0).uniform(0, 1, (3, 5, 4)).astype(np.float32)
    np.testing.assert_array_equal(evaluation.decode(coord, "coord", 0.5), coord)
    g = np.full((2, 32, 32), -200.0, np.float32)  # far below where numpy's sigmoid overflows
    g[:, 10:14, 20:26] = 4.0
    g[:, 10:14, 26:30] = 0.0  # sigmoid 0.5 against the peak's 0.98: inside at 0.3, outside at 0.6
    g = g.reshape(2, -1)
    probs = torch.sigmoid(torch.from_numpy(g)).numpy()
    with np.errstate(all="raise"):
        low, high = evaluation.decode(g, "heatmap", 0.3), evaluation.decode(g, "heatmap", 0.6)
    np.testing.assert_array_equal(low, grid_to_box_cxcywh_norm(probs, threshold=0.3))
    np.testing.assert_array_equal(high, grid_to_box_cxcywh_norm(probs, threshold=0.6))
    assert low.shape == (2, 4) and low[0, 2] > high[0, 2]  # the wider region at the lower threshold


# ---- evaluate_video --------------------------------------------------------------------------------

def _video(n=10, sizes=None, seed=1):
    """A cached video in memory, its frames of two sizes (a GOT-10k sequence can change resolution)."""
    rng = np.random.default_rng(seed)
    arrays, _ = video_arrays(n, FEATURES, rng, rng.normal(0, 2.0, (4, FEATURES)).astype(np.float32))
    arrays["used_in_training"] = np.arange(n) % 3 == 0
    arrays["gt"][[2, 7]] = np.nan  # unlabelled frames
    sizes = sizes if sizes is not None else [[320, 240]] * (n // 2) + [[160, 100]] * (n - n // 2)
    meta = {"name": "Vid", "image_size": [320, 240], "frame_sizes": sizes}
    return cache.VideoCache(Path("Vid"), meta, arrays)


def test_evaluate_video_gives_pixels_of_each_frames_own_size():
    video, model = _video(), _model()
    size = video.frame_sizes
    p = evaluation.evaluate_video(model, video, seq_len=SEQ_LEN, head="coord", device="cpu")
    ref = _plain_windows(model, torch.from_numpy(frame_inputs(video)), SEQ_LEN).numpy()  # (7, 4, 4)
    rows = np.arange(7)[:, None] + np.arange(4)
    np.testing.assert_array_equal(p["report_rows"], rows)
    np.testing.assert_allclose(p["report"], cxcywh_norm_to_xywh(ref, size[rows]), rtol=1e-5)
    online = np.concatenate([ref[0, :-1], ref[:, -1]])
    np.testing.assert_allclose(p["online"], cxcywh_norm_to_xywh(online, size), rtol=1e-5)
    np.testing.assert_array_equal(p["gt"], cxcywh_norm_to_xywh(np.asarray(video.gt, float), size))  # in float64
    assert np.isnan(p["gt"][[2, 7]]).all()
    np.testing.assert_allclose(p["yolo"], cxcywh_norm_to_xywh(np.asarray(video.bbox_yolo, float), size), rtol=1e-6)
    np.testing.assert_array_equal(p["held_out"], np.arange(10) % 3 != 0)
    assert p["online"].shape == (10, 4) and p["report"].shape == (7, 4, 4)


def test_evaluate_video_uses_the_given_boxes_and_frame_1_ground_truth():
    video, model = _video(), _model()
    size = video.frame_sizes
    other = np.asarray(video.bbox_yolo, float) + 0.03  # float64, as another SELECT rule may give
    before = other.copy()
    p = evaluation.evaluate_video(model, video, seq_len=SEQ_LEN, head="coord", device="cpu", boxes=other,
                                  init_gt=True)
    np.testing.assert_array_equal(other, before)  # the caller's boxes are not written to
    given = other.astype(np.float32)  # the LSTM's float32 input boxes are the detector column
    given[0] = video.gt[0]
    x = torch.from_numpy(frame_inputs(video, boxes=given))
    ref = _plain_windows(model, x, SEQ_LEN).numpy()
    np.testing.assert_array_equal(p["yolo"], cxcywh_norm_to_xywh(given, size))
    np.testing.assert_allclose(p["online"][1:], cxcywh_norm_to_xywh(np.concatenate([ref[0, 1:-1], ref[:, -1]]),
                                                                     size[1:]), rtol=1e-5)
    np.testing.assert_allclose(p["online"][0], p["gt"][0], rtol=1e-6)  # frame 1 is given, as in OPE
    np.testing.assert_allclose(p["report"], cxcywh_norm_to_xywh(ref, size[p["report_rows"]]), rtol=1e-5)
    assert not np.allclose(p["report"][0, 0], p["gt"][0])  # the report protocol scores the LSTM's own output
    plain = evaluation.evaluate_video(model, video, seq_len=SEQ_LEN, head="coord", device="cpu")
    assert not np.allclose(plain["online"][0], p["online"][0])


def test_report_heatmap_scores_each_windows_last_step_only():
    video, model = _video(sizes=[[64, 48]] * 10), _model("heatmap")
    theirs = Behaviour(report_heatmap=True)
    p = evaluation.evaluate_video(model, video, seq_len=SEQ_LEN, head="heatmap", device="cpu", behaviour=theirs,
                                  threshold=0.3)
    assert p["report"].shape == (7, 1, 4)
    np.testing.assert_array_equal(p["report_rows"], np.arange(3, 10)[:, None])
    np.testing.assert_allclose(p["report"][:, 0], p["online"][3:], rtol=1e-6)
    x = torch.from_numpy(frame_inputs(video, "heatmap", behaviour=theirs))
    logits = _plain_windows(model, x, SEQ_LEN).numpy()
    online = evaluation.decode(np.concatenate([logits[0, :-1], logits[:, -1]]), "heatmap", 0.3)
    np.testing.assert_allclose(p["online"], cxcywh_norm_to_xywh(online, video.frame_sizes), atol=1e-3)
    at_half = evaluation.evaluate_video(model, video, seq_len=SEQ_LEN, head="heatmap", device="cpu",
                                        behaviour=theirs)
    assert not np.allclose(at_half["online"], p["online"])  # the threshold reaches the decoder
    np.testing.assert_array_equal(at_half["online"], evaluation.evaluate_video(
        model, video, seq_len=SEQ_LEN, head="heatmap", device="cpu", behaviour=theirs, threshold=0.5)["online"])
    # our heatmap behaviour, and the coordinate head under theirs, score every step
    assert evaluation.evaluate_video(model, video, seq_len=SEQ_LEN, head="heatmap", device="cpu")["report"].shape \
        == (7, 4, 4)
    coord = evaluation.evaluate_video(_model(), video, seq_len=SEQ_LEN, head="coord", device="cpu", behaviour=theirs)
    assert coord["report"].shape == (7, 4, 4)


# ---- score_video, detector_offset, offset_boxes_xywh ---------------------------------------------

def _predictions(held_out):
    rng = np.random.default_rng(2)
    gt = np.column_stack([rng.uniform(20, 60, (6, 2)), rng.uniform(10, 30, (6, 2))])
    jitter = lambda s: gt + rng.normal(0, s, gt.shape)  # noqa: E731
    rows = np.arange(4)[:, None] + np.arange(3)
    return {"online": jitter(3), "report": np.stack([jitter(6)[r] for r in rows]), "report_rows": rows,
            "gt": gt, "yolo": jitter(9), "held_out": np.asarray(held_out, bool)}


def test_score_video_adds_held_out_variants_only_when_some_frames_are_held_out():
    ho = [False, True, True, False, True, True]
    p = _predictions(ho)
    s = evaluation.score_video(p)
    gt, rows, keep = p["gt"], p["report_rows"], np.asarray(ho)
    want = {
        "online": metrics.sequence_metrics(p["online"], gt),
        "report": metrics.sequence_metrics(p["report"].reshape(-1, 4), gt[rows].reshape(-1, 4)),
        "yolo": metrics.sequence_metrics(p["yolo"], gt),
        "online/held-out": metrics.sequence_metrics(p["online"][keep], gt[keep]),
        "report/held-out": metrics.sequence_metrics(p["report"][keep[rows]], gt[rows][keep[rows]]),
        "yolo/held-out": metrics.sequence_metrics(p["yolo"][keep], gt[keep]),
    }
    assert s == want
    assert s["report"]["frames"] == 12 and s["report/held-out"]["frames"] == 8 and s["online/held-out"]["frames"] == 4
    assert len({m["aos"] for m in s.values()}) == 6  # six different numbers: no variant scored on another's data
    for every in ([True] * 6, [False] * 6):  # all held out or none: held-out would repeat "all"
        assert list(evaluation.score_video(_predictions(every))) == ["online", "report", "yolo"]


class _Video:  # what detector_offset reads from a cached video
    def __init__(self, gt, det):
        self.gt, self.bbox_yolo = np.asarray(gt, float), np.asarray(det, float)


def test_detector_offset_pools_frames_of_all_videos_and_skips_partial_labels():
    gt_a, det_a = np.full((3, 4), 0.5), np.full((3, 4), 0.4)  # offset 0.1 on 3 frames
    gt_b, det_b = np.full((1, 4), 0.5), np.full((1, 4), 0.1)  # offset 0.4 on 1 frame
    gt_b = np.vstack([gt_b, [[0.5, np.nan, 0.2, 0.2]]])  # a row with one missing value counts nowhere
    det_b = np.vstack([det_b, [[0.2, 0.2, 0.2, 0.2]]])
    off = evaluation.detector_offset([_Video(gt_a, det_a), _Video(gt_b, det_b)])
    np.testing.assert_allclose(off, np.full(4, (3 * 0.1 + 0.4) / 4))  # frame-weighted, not a mean of videos
    assert evaluation.detector_offset([]) is None


def test_offset_boxes_per_frame_size_and_misses_stay_empty():
    size = np.array([[100, 80], [200, 160], [100, 80]], float)
    norm = np.array([[0.5, 0.5, 0.2, 0.25], NO_DETECTION_CXCYWH_NORM, [0.4, 0.6, 0.1, 0.1]])
    offset = np.array([0.01, -0.02, 0.03, 0.04])
    out = evaluation.offset_boxes_xywh(cxcywh_norm_to_xywh(norm, size), offset, size)
    np.testing.assert_allclose(xywh_to_cxcywh_norm(out, size), norm + offset * [[1], [0], [1]], atol=1e-12)
    assert out[1, 2] == 0 and out[1, 3] == 0


def test_training_offset_of_the_train_split_or_none_with_a_note(world, tmp_path, capsys):
    train = cache.read_planned_split(world.data, "train")
    got = evaluation.training_offset(SimpleNamespace(DATA_DIR=world.data), "confidence")
    np.testing.assert_array_equal(got, evaluation.detector_offset(train))
    from rolo.select import boxes_for_videos
    np.testing.assert_array_equal(evaluation.training_offset(SimpleNamespace(DATA_DIR=world.data), "target"),
                                  evaluation.detector_offset(train, boxes_for_videos(train, "target")))
    assert capsys.readouterr().out == ""
    assert evaluation.training_offset(SimpleNamespace(DATA_DIR=tmp_path), "confidence") is None
    assert capsys.readouterr().out == f"note: no readable train split in {tmp_path}: no 'YOLO + offset' column\n"


# ---- names, result files, results folder ------------------------------------------------------------

def test_variant_names():
    assert evaluation.variant_name("online", "all") == "online"
    assert evaluation.variant_name("report", "held-out") == "report/held-out"


@pytest.mark.parametrize("dataset", ["otb", "got10k"])
def test_result_files_in_the_toolkits_layouts(tmp_path, dataset):
    boxes = np.array([[1.0, 2.0, 3.0, 4.0], [5.5, 6.25, 7.0, 8.125]])
    evaluation.write_result_files(tmp_path, "Seq", dataset, boxes, 0.0125)
    assert (tmp_path / "Seq.txt").read_text() == "1.000,2.000,3.000,4.000\n5.500,6.250,7.000,8.125\n"
    assert (tmp_path / "Seq_time.txt").read_text() == "0.01250000\n0.01250000\n"
    got = tmp_path / "got10k" / "Seq"
    if dataset == "got10k":
        assert (got / "Seq_001.txt").read_text() == (tmp_path / "Seq.txt").read_text()
        assert (got / "Seq_time.txt").read_text() == "0.01250000\n0.01250000\n"
    else:
        assert not (tmp_path / "got10k").exists()


def test_default_paths_name_the_checkpoint_and_the_head(tmp_path):
    cfg = _cfg(tmp_path, None, "", "--checkpoint_dir", tmp_path / "ck", "--experiment", 2, "--epochs", 30,
               "--split", "eval")
    assert evaluation.resolve_paths(cfg) == (checkpoint_path(tmp_path / "ck", 2, 30), Path("results/exp2_30_eval"))
    heat = config.Config(cfg, HEAD="heatmap")
    assert evaluation.resolve_paths(heat) == (tmp_path / "ck" / "rolo_heatmap_exp2_30.pth",
                                              Path("results/exp2_30_eval_heatmap"))
    given = config.Config(heat, CHECKPOINT=str(tmp_path / "x" / "best.v2.pth"), RESULTS_DIR="")
    assert evaluation.resolve_paths(given) == (tmp_path / "x" / "best.v2.pth", Path("results/best.v2_eval"))
    chosen = config.Config(given, RESULTS_DIR=str(tmp_path / "mine"))
    assert evaluation.resolve_paths(chosen)[1] == tmp_path / "mine"


def test_staging_refuses_what_it_must_not_replace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for bad in (Path("."), Path(".."), Path("")):
        with pytest.raises(DataError, match=r"^RESULTS_DIR .*: name the results folder itself \(e\.g\. results/run1\)"
                                            r", which a run replaces whole \(--results_dir\)$"):
            evaluation.stage_results_dir(bad)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match=r"^RESULTS_DIR afile is a file, not a folder; a run would replace it with "
                                        r"its results folder, so give an empty or new one \(--results_dir\)$"):
        evaluation.stage_results_dir(Path("afile"))
    foreign = tmp_path / "foreign"
    (foreign / "sub").mkdir(parents=True)
    with pytest.raises(DataError, match=r"^RESULTS_DIR .*foreign holds files that no evaluation wrote \(it has no "
                                        r"metrics\.json\); a run replaces its whole results folder, so give an empty "
                                        r"or new one \(--results_dir\)$"):
        evaluation.stage_results_dir(foreign)
    (foreign / "metrics.json").mkdir()  # a folder named metrics.json is no evaluation's
    with pytest.raises(DataError, match="holds files that no evaluation wrote"):
        evaluation.stage_results_dir(foreign)
    (foreign / "afile").symlink_to(tmp_path / "afile")
    with pytest.raises(DataError, match=r"^cannot create RESULTS_DIR afile/results: Not a directory$"):
        evaluation.stage_results_dir(Path("afile") / "results")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "foreign"]


def test_staging_accepts_new_empty_and_earlier_results_folders(tmp_path):
    for name in ("new", "empty", "earlier"):
        if name != "new":
            (tmp_path / name).mkdir()
        if name == "earlier":
            (tmp_path / name / "metrics.json").write_text("{}")
            (tmp_path / name / "Seq.txt").write_text("1,2,3,4\n")
        stage = evaluation.stage_results_dir(tmp_path / name)
        assert stage.name == name and stage.is_dir() and not any(stage.iterdir())
        assert stage.parent.parent == tmp_path
        assert (tmp_path / name / "Seq.txt").exists() == (name == "earlier")  # nothing replaced before publishing
    deep = evaluation.stage_results_dir(tmp_path / "a" / "b" / "run")  # parents made as needed
    assert deep.is_dir() and deep.parent.parent == tmp_path / "a" / "b"


def test_a_killed_runs_staging_folder_and_only_it_is_cleared(tmp_path):
    results = tmp_path / "res.v1"
    first = evaluation.stage_results_dir(results)  # then the run is killed
    (first / "Seq.txt").write_text("partial")
    keep = [".tmp-res.v1-0123abc", ".tmp-res.v1-0123abcde", ".tmp-res.v1-0123ABCD", ".tmp-resXv1-0123abcd",
            ".tmp-res.v12-0123abcd", "tmp-res.v1-0123abcd", "x.tmp-res.v1-0123abcd"]
    for name in keep:
        (tmp_path / name).mkdir()
    (tmp_path / ".tmp-res.v1-89abcdef").write_text("a file of that name is not ours")
    (tmp_path / ".tmp-res.v1-00000000").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "keep.txt").write_text("not a run's")
    (tmp_path / ".tmp-res.v1-0a0a0a0a").symlink_to(tmp_path / "data")  # never followed, and no reason to stop
    keep.append(".tmp-res.v1-0a0a0a0a")
    second = evaluation.stage_results_dir(results)
    assert (tmp_path / "data" / "keep.txt").read_text() == "not a run's"
    assert not first.parent.exists() and not (tmp_path / ".tmp-res.v1-00000000").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep + [".tmp-res.v1-89abcdef", second.parent.name,
                                                                       "data"])


def test_publishing_swaps_the_staged_folder_in_whole(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "metrics.json").write_text("{}")
    (results / "Old.txt").write_text("old")
    stage = evaluation.stage_results_dir(results)
    (stage / "New.txt").write_text("new")
    evaluation.publish_results_dir(stage, results)
    assert [p.name for p in results.iterdir()] == ["New.txt"]
    assert (stage.parent / "previous" / "Old.txt").read_text() == "old"  # removed with the staging folder
    fresh = evaluation.stage_results_dir(tmp_path / "fresh")
    evaluation.publish_results_dir(fresh, tmp_path / "fresh")
    assert (tmp_path / "fresh").is_dir() and not (fresh.parent / "previous").exists()
    with pytest.raises(DataError, match=r"^cannot replace RESULTS_DIR .*results: No such file or directory$"):
        evaluation.publish_results_dir(tmp_path / "gone" / "results", results)


def test_a_failed_publish_keeps_the_earlier_results(tmp_path, failing_rename):
    results = tmp_path / "results"
    results.mkdir()
    (results / "metrics.json").write_text('{"old": 1}')
    stage = evaluation.stage_results_dir(results)
    (stage / "metrics.json").write_text('{"new": 1}')
    failing_rename(stage, errno.ENOSPC)
    with pytest.raises(DataError, match=r"^cannot replace RESULTS_DIR .*results: No space left on device$"):
        evaluation.publish_results_dir(stage, results)
    assert (results / "metrics.json").read_text() == '{"old": 1}'


# ---- checkpoint and cache checks -----------------------------------------------------------------------

@pytest.mark.parametrize("key,theirs", [("WEIGHTS", "yolov8n.pt"), ("IMG_SIZE", 320), ("CONF", 0.1)])
def test_a_cache_extracted_otherwise_is_refused_per_setting(world, key, theirs):
    video = cache.read_planned_split(world.data, "test")[0]
    ckpt = {"extraction": dict(EXTRACTION, **{key: theirs})}
    with pytest.raises(DataError, match=rf"^checkpoint c\.pth was trained on features extracted with "
                                        rf"{key}={theirs!r}, but the cache {video.path} was made with "
                                        rf"{key}={EXTRACTION[key]!r}; evaluate on a cache extracted like the "
                                        rf"training one$"):
        evaluation.check_extraction(ckpt, "c.pth", video)


def test_what_a_checkpoint_does_not_record_is_not_checked(world):
    video = cache.read_planned_split(world.data, "test")[0]
    for ckpt in ({}, {"extraction": None}, {"extraction": {"TOP_K": 10}}, {"extraction": dict(EXTRACTION)},
                 {"extraction": {"IMG_SIZE": 640}}):
        evaluation.check_extraction(ckpt, "c.pth", video)


def test_report_code_follows_the_checkpoint_unless_given(tmp_path):
    theirs = {"REPORT_CODE": True}
    default = _cfg(tmp_path, None, tmp_path / "r")
    assert evaluation.inference_behaviour(default, theirs) == Behaviour.from_settings(theirs)
    assert evaluation.inference_behaviour(default, {"ZERO_UNDETECTED": True}) == Behaviour(zero_undetected=True)
    told_no = _cfg(tmp_path, None, tmp_path / "r", "--report_code", "false")
    assert evaluation.inference_behaviour(told_no, theirs) == Behaviour()
    told_yes = _cfg(tmp_path, None, tmp_path / "r", "--report_code", "true")
    assert evaluation.inference_behaviour(told_yes, {}) == Behaviour.from_settings(theirs)


def test_another_experiments_cache_or_checkpoint_is_refused(world, tmp_path):
    with pytest.raises(DataError, match=rf"^{world.data}/test was extracted for experiment 3, but --experiment "
                                        rf"is 2; point --data_dir at that experiment's folder$"):
        evaluation.run(_cfg(world.data, world.ckpt, tmp_path / "r", "--experiment", 2), progress=False)
    exp2 = _save_checkpoint(tmp_path / "exp2.pth", _model(), experiment=2)
    with pytest.raises(DataError, match=rf"^checkpoint {exp2} was trained for experiment 2, but --experiment is 3$"):
        evaluation.run(_cfg(world.data, exp2, tmp_path / "r"), progress=False)
    other = _save_checkpoint(tmp_path / "other.pth", _model(), extraction=dict(EXTRACTION, CONF=0.5))
    with pytest.raises(DataError, match=rf"^checkpoint {other} was trained on features extracted with CONF=0\.5, but the "
                                        rf"cache .*Syn01 was made with CONF=0\.25"):
        evaluation.run(_cfg(world.data, other, tmp_path / "r"), progress=False)
    with pytest.raises(ConfigError, match=rf"^--head heatmap conflicts with checkpoint {world.ckpt}, which was trained "
                                          rf"with HEAD='coord'"):
        evaluation.run(_cfg(world.data, world.ckpt, tmp_path / "r", "--head", "heatmap"), progress=False)
    with pytest.raises(DataError, match=r"holds videos of dataset 'otb' \(Syn01\), but this run expects 'got10k'"):
        evaluation.run(_cfg(world.data, world.ckpt, tmp_path / "r", "--dataset", "got10k"), progress=False)
    assert not (tmp_path / "r").exists()


def test_held_out_of_a_split_never_trained_on_is_refused(world, tmp_path):
    with pytest.raises(DataError, match=rf"^--protocol held-out: no frame of split 'eval' in {world.data} was used "
                                        rf"in training, so held-out equals all; use --protocol all$"):
        evaluation.run(_cfg(world.data, world.ckpt, tmp_path / "r", "--split", "eval", "--protocol", "held-out"),
                       progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither results nor a staging folder


# ---- a whole run ----------------------------------------------------------------------------------------

def _clock(monkeypatch, ticks):
    """evaluation's clock reads ``ticks`` in turn: each video is timed by two reads."""
    ticks = iter(ticks)
    monkeypatch.setattr(evaluation, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))


def _expected(world, split="test", **kwargs):
    videos = cache.read_planned_split(world.data, split)
    preds = {v.name: evaluation.evaluate_video(world.model, v, seq_len=SEQ_LEN, head="coord", device="cpu", **kwargs)
             for v in videos}
    return videos, preds, {n: evaluation.score_video(p) for n, p in preds.items()}


def test_a_run_writes_what_it_scored(world, tmp_path, monkeypatch, capsys):
    _clock(monkeypatch, [0.0, 2.6, 5.0, 5.9, 7.0, 9.2])  # Syn01 13 frames, Syn02 9, Syn03 11
    results = tmp_path / "res"
    res = evaluation.run(_cfg(world.data, world.ckpt, results), progress=False)
    out, err = capsys.readouterr()
    assert "evaluating" not in err  # no progress bar when asked for none
    saved = json.loads((results / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(res))
    videos, preds, scores = _expected(world)
    names = ["Syn01", "Syn02", "Syn03"]
    assert list(res["videos"]) == names and res["videos"] == {n: scores[n]["online"] for n in names}
    assert res["seconds_per_frame"] == pytest.approx({"Syn01": 0.2, "Syn02": 0.1, "Syn03": 0.2}, rel=1e-12)
    for n in names:
        np.testing.assert_allclose(np.loadtxt(results / f"{n}.txt", delimiter=","), preds[n]["online"], atol=5e-4)
        np.testing.assert_allclose(np.loadtxt(results / f"{n}_time.txt"), res["seconds_per_frame"][n], rtol=1e-7)
    assert sorted(p.name for p in results.iterdir()) == sorted(
        ["metrics.csv", "metrics.json"] + [f"{n}{s}.txt" for n in names for s in ("", "_time")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]  # the staging folder is gone
    summary = metrics.summarize(res["videos"])
    assert res["mean"] == summary["mean"] and res["frame_weighted"] == summary["frame_weighted"]
    offset = evaluation.detector_offset(cache.read_planned_split(world.data, "train"))
    assert res["yolo_offset_cxcywh_norm"] == [float(x) for x in offset]
    want = {k: {n: scores[n][k] for n in names} for k in scores["Syn01"]}
    want["yolo+offset"] = {v.name: metrics.sequence_metrics(
        evaluation.offset_boxes_xywh(preds[v.name]["yolo"], offset, v.frame_sizes), preds[v.name]["gt"])
        for v in videos}
    assert list(res["variants"]) == ["online", "report", "yolo", "online/held-out", "report/held-out",
                                     "yolo/held-out", "yolo+offset"]
    for name, vids in want.items():
        s = metrics.summarize(vids)
        assert res["variants"][name] == {"aos": {n: m["aos"] for n, m in vids.items()},
                                         "mean": {k: v for k, v in s["mean"].items() if not k.endswith("_curve")},
                                         "frame_weighted": {k: v for k, v in s["frame_weighted"].items()
                                                            if not k.endswith("_curve")}}
    assert len({v["mean"]["aos"] for v in res["variants"].values()}) == 7
    fields = {"checkpoint": str(world.ckpt), "experiment": 3, "epochs": 100, "split": "test", "mode": "online",
              "protocol": "all", "init_gt": False, "head": "coord", "select": "confidence", "seq_len": SEQ_LEN,
              "report_code": "our defaults", "world_size": 1, "benchmark": {}}
    assert {k: res[k] for k in fields} == fields
    assert res["settings"]["RESULTS_DIR"] == str(results) and res["settings"]["HEAD"] == "coord"
    assert (results / "metrics.csv").read_text() == evaluation.metrics_csv(res)
    assert f"checkpoint {world.ckpt}: head coord, SEQ_LEN 4, SELECT confidence; our defaults\n" in out
    assert out.endswith(f"results in {results}\n")


def test_the_primary_variant_follows_mode_and_protocol(world, tmp_path):
    res = evaluation.run(_cfg(world.data, world.ckpt, tmp_path / "r", "--mode", "report", "--protocol", "held-out",
                              "--init_gt", "true"), progress=False)
    _, preds, scores = _expected(world, init_gt=True)
    assert res["videos"] == {n: s["report/held-out"] for n, s in scores.items()}
    assert (res["mode"], res["protocol"], res["init_gt"]) == ("report", "held-out", True)
    # the result files are the online boxes whatever the primary variant
    np.testing.assert_allclose(np.loadtxt(tmp_path / "r" / "Syn02.txt", delimiter=","), preds["Syn02"]["online"],
                               atol=5e-4)


def test_a_report_code_heatmap_checkpoint_sets_head_mode_and_folder(world, tmp_path, monkeypatch, capsys):
    ckpt = _save_checkpoint(tmp_path / "h.pth", _model("heatmap"), REPORT_CODE=True)
    monkeypatch.chdir(tmp_path)
    cfg = _cfg(world.data, ckpt, "", "--heatmap_threshold", 0.3)
    res = evaluation.run(cfg, progress=False)
    assert (res["head"], res["mode"], cfg.HEAD, cfg.MODE) == ("heatmap", "report", "heatmap", "report")
    assert res["report_code"] == Behaviour(True, True, True, True).describe()
    assert (tmp_path / "results" / "h_test" / "metrics.json").is_file()
    assert f"checkpoint {ckpt}: head heatmap, SEQ_LEN 4, SELECT confidence; report's code: " in capsys.readouterr().out
    videos = cache.read_planned_split(world.data, "test")
    p = evaluation.evaluate_video(_model("heatmap"), videos[0], seq_len=SEQ_LEN, head="heatmap", device="cpu",
                                  threshold=0.3, behaviour=Behaviour(True, True, True, True))
    assert res["videos"]["Syn01"] == evaluation.score_video(p)["report"]
    at_half = evaluation.evaluate_video(_model("heatmap"), videos[0], seq_len=SEQ_LEN, head="heatmap", device="cpu",
                                        threshold=0.5, behaviour=Behaviour(True, True, True, True))
    boxes = np.loadtxt(tmp_path / "results" / "h_test" / "Syn01.txt", delimiter=",")
    np.testing.assert_allclose(boxes, p["online"], atol=5e-4)
    assert not np.allclose(boxes, at_half["online"], atol=5e-4)  # --heatmap_threshold reached the decoder
    told = evaluation.run(_cfg(world.data, ckpt, tmp_path / "o", "--mode", "online"), progress=False)
    assert told["mode"] == "online"


def test_without_a_train_split_the_offset_column_is_left_out(world, tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(world.data, data)
    shutil.rmtree(data / "train")
    res = evaluation.run(_cfg(data, world.ckpt, tmp_path / "r"), progress=False)
    out = capsys.readouterr().out
    assert res["yolo_offset_cxcywh_norm"] is None and "yolo+offset" not in res["variants"]
    assert f"note: no readable train split in {data}: no 'YOLO + offset' column\n" in out
    assert "YOLO + offset:" not in out and "yardstick" not in out


def test_main_checks_the_flags_and_shows_the_settings(world, tmp_path, capsys):
    if not _CONSTS:
        _cfg(world.data, None, "")
    with pytest.raises(ConfigError, match="--mode: 'offline' is not allowed"):
        evaluation.main(_CONSTS, ["--mode", "offline"])
    res = evaluation.main(_CONSTS, ["--data_dir", str(world.data), "--checkpoint", str(world.ckpt), "--device", "cpu",
                                    "--results_dir", str(tmp_path / "r"), "--plots", "false", "--split", "eval"])
    captured = capsys.readouterr()
    assert captured.out.startswith("evaluation settings:\n") and res["split"] == "eval"
    assert re.search(r"(^|\r)evaluating: 100%", captured.err)  # the progress bar is on by default


# ---- tables and text ---------------------------------------------------------------------------------------

def _result(**extra):
    mean = {"videos": 2, "frames": 30, "aos": 0.51234, "auc": 0.4, "sr50": 0.625, "p20": 0.75}
    pooled = {"videos": 2, "frames": 30, "aos": 0.5, "auc": 0.39, "sr50": 0.6, "p20": 0.7}
    return {"experiment": 3, "epochs": 30, "split": "test", "head": "coord", "seq_len": 6, "init_gt": True,
            "mode": "online", "protocol": "held-out", "mean": mean, "frame_weighted": pooled,
            "videos": {"Alpha": {"frames": 10, "aos": 0.25, "auc": 0.2, "sr50": 0, "p20": 1.0},
                       "Bravo": {"frames": 20, "aos": None, "auc": None, "sr50": None, "p20": None}}, **extra}


def test_metrics_csv_text():
    assert evaluation.metrics_csv(_result()) == (
        "video,frames,aos,auc,sr50,p20\n"
        "Alpha,10,0.2500,0.2000,0,1.0000\n"
        "Bravo,20,None,None,None,None\n"
        "mean (videos),30,0.5123,0.4000,0.6250,0.7500\n"
        "mean (frames),30,0.5000,0.3900,0.6000,0.7000\n")
    assert evaluation._fmt(0.123456) == "0.1235" and evaluation._fmt(3) == "3" and evaluation._fmt(None) == "None"
    old = _result()
    del old["frame_weighted"]["frames"]  # a summary without a column leaves its cell empty
    assert evaluation.metrics_csv(old).endswith("\nmean (frames),,0.5000,0.3900,0.6000,0.7000\n")


def _per_variant(*keys):
    return {k: {"Human9": {"aos": 0.15 + i / 10}, "Human2": {"aos": 0.1 + i / 10}} for i, k in enumerate(keys)}


def _row(out, name):
    line = next(line for line in out.splitlines() if line.startswith(name + " "))
    return [float(t.rstrip("*")) for t in line.split()[1:] if t != "-"]


def test_summary_shows_each_variant_and_its_legend_only_when_scored(capsys):
    every = ("online", "online/held-out", "report", "yolo", "yolo+offset")
    evaluation.print_summary(_result(benchmark={"protocol": "got10k", "ao": 0.5, "sr50": 0.6, "sr75": 0.125}),
                             _per_variant(*every))
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "AOS per video: experiment 3, 30 epochs, split test, head coord, SEQ_LEN 6, frame 1 from GT: True" in lines
    header = next(line for line in lines if line.startswith("sequence"))
    labels = ["online", "online held-out", "report protocol", "YOLO boxes", "YOLO + offset"]
    assert [header.index(label + " ") for label in labels] == sorted(header.index(label + " ") for label in labels)
    # the report's experiment-3, 30-epoch column and the original ROLO's beside ours, in the report's row order
    assert header.index("YOLO + offset") < header.index("report (exp 3, 30 ep)") < header.index("original ROLO")
    assert _row(out, "Human2") == [0.1, 0.2, 0.3, 0.4, 0.5, 0.698, 0.545]
    assert _row(out, "Human9") == [0.15, 0.25, 0.35, 0.45, 0.55, 0.519, 0.352]
    assert lines.index(next(line for line in lines if line.startswith("Human2"))) < \
        lines.index(next(line for line in lines if line.startswith("Human9")))
    legend = [
        "  online: one prediction per frame, from the window ending at it (what a tracker outputs)",
        "  report protocol: every window's outputs averaged, a frame counted up to SEQ_LEN times",
        "  held-out: only frames whose ground truth was not used in training",
        "  YOLO boxes: the detector's own box on each frame, no LSTM; * marks the best in a row",
        "  YOLO + offset: those boxes plus the training frames' mean (ground truth - detector) offset,",
        "  a constant correction without memory: the yardstick for what the LSTM's window adds",
        "",
        "primary result: mode online, protocol held-out",
        "  mean over videos   AOS 0.512  AUC 0.400  SR@0.5 0.625  P@20px 0.750",
        "  all frames pooled  AOS 0.500  AUC 0.390  SR@0.5 0.600  P@20px 0.700",
        "  GOT-10k protocol   AO 0.500  SR@0.5 0.600  SR@0.75 0.125  (frames after the first with the target "
        "visible, pooled)",
    ]
    start = lines.index(legend[0])
    assert lines[start:] == legend and lines[0] == "" and lines[start - 2:start] == ["* best in row", ""]

    evaluation.print_summary(_result(benchmark={"protocol": "lasot", "norm_precision": 0.25}),
                             _per_variant("online", "report", "yolo"))
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("sequence"))
    assert "held-out" not in header and "offset" not in header
    assert not any("held-out:" in line or "YOLO + offset" in line or "yardstick" in line for line in lines)
    assert lines[-1] == "  normalised precision @0.2 0.250 (LaSOT/TrackingNet, mean over videos)"
    assert lines[-2].startswith("  all frames pooled")
    for quiet in ({}, {"benchmark": {}}, {"benchmark": {"protocol": "got10k", "ao": None}},
                  {"benchmark": {"protocol": "lasot", "norm_precision": None}}):
        evaluation.print_summary(_result(**quiet), _per_variant("online", "report", "yolo"))
        assert capsys.readouterr().out.splitlines()[-1].startswith("  all frames pooled")


class _Sized:
    def __init__(self, n, size=(100, 80)):
        self.frame_sizes = np.tile(np.asarray(size, float), (n, 1))


def test_benchmark_scores_follow_each_datasets_protocol():
    gt = np.array([[10, 10, 20, 20], [10, 10, 20, 20], [np.nan] * 4, [70, 50, 40, 40], [0, 0, 10, 10]], float)
    pred = np.array([[60, 60, 5, 5], [10, 10, 20, 10], [0, 0, 5, 5], [70, 50, 20, 40], [0, 0, 10, 10]], float)
    p1 = {"online": pred, "gt": gt}
    p2 = {"online": gt[[1, 0, 1]] + [5, 0, 0, 0], "gt": gt[[1, 0, 1]]}
    g = evaluation.benchmark_scores("got10k", [p1, p2], [_Sized(5), _Sized(3)])
    # frames after the first, labelled, pooled: IoU 0.5, 2/3 (the box cut to the 100 x 80 frame), 1; 0.6, 0.6
    assert g == {"protocol": "got10k", "ao": pytest.approx((0.5 + 2 / 3 + 1 + 1.2) / 5), "sr50": 0.8, "sr75": 0.2}
    for name in ("lasot", "trackingnet"):
        want = np.mean([metrics.normalized_precision(p["online"], p["gt"]) for p in (p1, p2)])
        assert evaluation.benchmark_scores(name, [p1, p2], None) == {"protocol": name, "norm_precision": want}
        blank = {"online": pred[:1], "gt": gt[2:3]}  # a video without a labelled frame counts nowhere
        assert evaluation.benchmark_scores(name, [p1, blank], None)["norm_precision"] == \
            metrics.normalized_precision(pred, gt)
        assert evaluation.benchmark_scores(name, [blank], None) == {"protocol": name, "norm_precision": None}
    assert evaluation.benchmark_scores("otb", [p1], [_Sized(5)]) == {}


def test_frame_paths_name_a_missing_root_or_a_frame_count_mismatch(world, tmp_path):
    videos = cache.read_planned_split(world.data, "test")[:1]  # Syn01, 13 frames
    preds = {"Syn01": {"online": np.zeros((13, 4))}}
    cfg = _cfg(world.data, world.ckpt, tmp_path / "r", "--otb_root", tmp_path / "otb")
    with pytest.raises(DataError, match=rf"^OTB_ROOT '{tmp_path}/otb' not found$"):
        evaluation.frame_paths(cfg, videos, preds)
    seq = tmp_path / "otb" / "Syn01"
    (seq / "img").mkdir(parents=True)
    for i in range(12):
        (seq / "img" / f"{i + 1:04d}.jpg").write_bytes(b"")
    (seq / "groundtruth_rect.txt").write_text("1,1,2,2\n" * 12)
    with pytest.raises(DataError, match=rf"^Syn01 has 12 frames under {tmp_path}/otb but 13 in the cache$"):
        evaluation.frame_paths(cfg, videos, preds)
    (seq / "img" / "0013.jpg").write_bytes(b"")
    (seq / "groundtruth_rect.txt").write_text("1,1,2,2\n" * 13)
    assert evaluation.frame_paths(cfg, videos, preds) == {"Syn01": [seq / "img" / f"{i:04d}.jpg" for i in range(1, 14)]}


# ---- pictures ------------------------------------------------------------------------------------------------

class _Drawing:
    """Stands in for rolo.plots: records what each picture is drawn from (matplotlib and OpenCV are not at stake)."""

    def __init__(self):
        self.calls = []

    def __call__(self, kind):
        def record(*args, **kwargs):
            if kind == "write_video":
                args = (list(args[0]),) + args[1:]  # the frames are a generator: draw them now
            self.calls.append((kind, args, kwargs))
            return ("drawn",) + args[1:] + tuple(sorted(kwargs.items())) if kind == "draw_boxes" else None
        return record

    def of(self, kind):
        return [(args, kwargs) for k, args, kwargs in self.calls if k == kind]


@pytest.fixture
def drawing(monkeypatch):
    from rolo import plots

    d = _Drawing()
    for kind in ("plot_success", "plot_precision", "draw_boxes", "montage", "write_video"):
        monkeypatch.setattr(plots, kind, d(kind))
    monkeypatch.setattr(evaluation, "load_image", lambda path: f"image {path}")
    return d


def _scored(lengths, aos_none="Echo"):
    """Predictions, per-variant scores and the result of five videos; ``aos_none`` has no labelled frame."""
    rng = np.random.default_rng(3)
    preds, per_variant = {}, {k: {} for k in ("online", "online/held-out", "report", "yolo")}
    for name, n in lengths.items():
        gt = np.column_stack([rng.uniform(20, 60, (n, 2)), rng.uniform(10, 30, (n, 2))])
        if name == aos_none:
            gt[:] = np.nan
        preds[name] = {"online": gt + rng.normal(0, 4, gt.shape), "gt": gt, "yolo": gt + rng.normal(0, 8, gt.shape)}
        per_variant["online"][name] = metrics.sequence_metrics(preds[name]["online"], gt)
        per_variant["online/held-out"][name] = metrics.sequence_metrics(preds[name]["online"][::2], gt[::2])
        per_variant["report"][name] = metrics.sequence_metrics(preds[name]["online"][1:], gt[1:])
        per_variant["yolo"][name] = metrics.sequence_metrics(preds[name]["yolo"], gt)
    return preds, per_variant, {"videos": per_variant["online"]}


def test_pictures_show_the_curves_and_each_videos_middle_frame_lowest_aos_first(drawing, tmp_path, monkeypatch,
                                                                                capsys):
    lengths = {"Alpha": 5, "Bravo": 6, "Charlie": 7, "Delta": 4, "Echo": 3}
    preds, per_variant, result = _scored(lengths)
    frames = {name: [f"{name}/{i:04d}.jpg" for i in range(1, n + 1)] for name, n in lengths.items()}
    seen = []
    monkeypatch.setattr(evaluation, "frame_paths", lambda cfg, videos, p: seen.append((cfg, videos, p)) or frames)
    cfg = SimpleNamespace(VIDEOS=True)
    evaluation.make_pictures(cfg, result, per_variant, preds, tmp_path, ["videos"])
    captured = capsys.readouterr()
    assert seen == [(cfg, ["videos"], preds)]
    labels = {"ROLO online": "online", "ROLO online, held-out": "online/held-out", "YOLO boxes": "yolo"}
    for kind, curve, png in (("plot_success", "success_curve", "success.png"),
                             ("plot_precision", "precision_curve", "precision.png")):
        [(args, kwargs)] = drawing.of(kind)
        assert args == ({label: metrics.summarize(per_variant[key])["mean"][curve] for label, key in labels.items()},
                        tmp_path / png) and kwargs == {}
        assert list(args[0]) == list(labels)
    aos = {name: m["aos"] for name, m in per_variant["online"].items()}
    order = sorted(lengths, key=lambda n: aos[n] or 0.0)
    assert order[0] == "Echo" and aos["Echo"] is None
    [(args, kwargs)] = drawing.of("montage")
    tiles = [(f"{name} AOS {aos[name]:.2f}" if aos[name] is not None else f"{name} AOS -",
              ("drawn", preds[name]["gt"][lengths[name] // 2], preds[name]["online"][lengths[name] // 2],
               ("frame_number", lengths[name] // 2 + 1)))
             for name in order]
    assert _same(args, (tiles, tmp_path / "montage.png")) and kwargs == {"cols": 4}
    middle = [args for args, _ in drawing.of("draw_boxes")][:5]
    assert [a[0] for a in middle] == [f"image {frames[n][lengths[n] // 2]}" for n in order]
    videos = drawing.of("write_video")
    assert [(args[1], kwargs) for args, kwargs in videos] == [(tmp_path / f"{n}.mp4", {"fps": 25}) for n in order]
    for (args, _), name in zip(videos, order):
        p = preds[name]
        assert _same(args[0], [("drawn", p["gt"][i], p["online"][i], ("frame_number", i + 1))
                               for i in range(lengths[name])])
    assert [a[0] for a in [args for args, _ in drawing.of("draw_boxes")][5:]] == \
        [f"image {f}" for n in order for f in frames[n]]
    assert captured.out == ("wrote success.png and precision.png\nwrote montage.png (middle frame of each video, "
                            "lowest AOS first; ground truth green, prediction red)\n")
    assert re.search(r"(^|\r)videos: 100%", captured.err)  # a progress bar over the videos


def test_pictures_without_frames_or_held_out_frames(drawing, tmp_path, monkeypatch, capsys):
    preds, per_variant, result = _scored({"Alpha": 5, "Bravo": 6}, aos_none=None)
    del per_variant["online/held-out"]

    def no_frames(cfg, videos, p):
        raise DataError("OTB_ROOT 'x' not found")

    monkeypatch.setattr(evaluation, "frame_paths", no_frames)
    evaluation.make_pictures(SimpleNamespace(VIDEOS=True), result, per_variant, preds, tmp_path, [])
    assert [list(args[0]) for args, _ in drawing.of("plot_success")] == [["ROLO online", "YOLO boxes"]]
    assert [k for k, _, _ in drawing.calls] == ["plot_success", "plot_precision"]
    assert capsys.readouterr().out == "wrote success.png and precision.png\nno montage: OTB_ROOT 'x' not found\n"
    monkeypatch.setattr(evaluation, "frame_paths", lambda *a: {n: ["f"] * len(p["online"]) for n, p in preds.items()})
    evaluation.make_pictures(SimpleNamespace(VIDEOS=False), result, per_variant, preds, tmp_path, [])
    [(args, kwargs)] = drawing.of("montage")
    assert len(args[0]) == 2 and kwargs == {"cols": 2} and not drawing.of("write_video")


def _same(a, b):
    """Equal, comparing arrays by value, inside tuples and lists."""
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b, equal_nan=True)
    return a == b


# ---- runs that reach the other branches ----------------------------------------------------------------------

def test_a_run_into_a_foreign_folder_is_refused_and_the_folder_kept(world, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match=r"^RESULTS_DIR .*mine holds files that no evaluation wrote"):
        evaluation.run(_cfg(world.data, world.ckpt, mine), progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["mine"] and [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_the_checkpoints_detection_rule_picks_the_boxes(world, tmp_path):
    from rolo.select import boxes_for_videos

    ckpt = _save_checkpoint(tmp_path / "t.pth", _model(), SELECT="target")
    res = evaluation.run(_cfg(world.data, ckpt, tmp_path / "r"), progress=False)
    videos = cache.read_planned_split(world.data, "test")
    boxes = boxes_for_videos(videos, "target")
    assert res["select"] == "target"
    for v, b in zip(videos, boxes):
        p = evaluation.evaluate_video(world.model, v, seq_len=SEQ_LEN, head="coord", device="cpu", boxes=b)
        assert res["videos"][v.name] == evaluation.score_video(p)["online"]
        assert res["variants"]["yolo"]["aos"][v.name] == evaluation.score_video(p)["yolo"]["aos"]
    train = cache.read_planned_split(world.data, "train")
    assert res["yolo_offset_cxcywh_norm"] == [float(x) for x in evaluation.detector_offset(
        train, boxes_for_videos(train, "target"))]


def _as_dataset(data, dataset):
    """The synthetic cache relabelled as another dataset's."""
    for meta in data.glob("*/*/meta.json"):
        m = json.loads(meta.read_text())
        meta.write_text(json.dumps(dict(m, dataset=dataset)))
    return data


def test_a_got10k_cache_gets_got10ks_files_and_headline(world, tmp_path, capsys):
    import shutil

    data = _as_dataset(shutil.copytree(world.data, tmp_path / "data"), "got10k")
    res = evaluation.run(_cfg(data, world.ckpt, tmp_path / "r", "--dataset", "got10k"), progress=False)
    out = capsys.readouterr().out
    videos, preds, _ = _expected(SimpleNamespace(data=data, model=world.model))
    assert res["benchmark"] == evaluation.benchmark_scores("got10k", [preds[v.name] for v in videos], videos)
    assert res["benchmark"]["protocol"] == "got10k" and 0 < res["benchmark"]["ao"] < 1
    assert f"  GOT-10k protocol   AO {res['benchmark']['ao']:.3f}" in out
    for v in videos:
        txt = (tmp_path / "r" / "got10k" / v.name / f"{v.name}_001.txt").read_text()
        assert txt == (tmp_path / "r" / f"{v.name}.txt").read_text()
        assert (tmp_path / "r" / "got10k" / v.name / f"{v.name}_time.txt").is_file()


def test_a_run_with_pictures_draws_the_scored_videos(world, tmp_path, drawing, capsys):
    otb = tmp_path / "otb"
    for name, n in (("Syn01", 13), ("Syn02", 9), ("Syn03", 11)):
        (otb / name / "img").mkdir(parents=True)
        for i in range(1, n + 1):
            (otb / name / "img" / f"{i:04d}.jpg").write_bytes(b"")
        (otb / name / "groundtruth_rect.txt").write_text("1,1,2,2\n" * n)
    res = evaluation.run(_cfg(world.data, world.ckpt, tmp_path / "r", "--plots", "true", "--otb_root", otb),
                         progress=False)
    _, preds, _ = _expected(world)
    [(args, kwargs)] = drawing.of("montage")
    order = sorted(preds, key=lambda n: res["videos"][n]["aos"])
    assert [label for label, _ in args[0]] == [f"{n} AOS {res['videos'][n]['aos']:.2f}" for n in order]
    assert args[1].parts[-2:] == ("r", "montage.png") and kwargs == {"cols": 3}  # in the staging folder
    for (_, tile), n in zip(args[0], order):
        i = len(preds[n]["online"]) // 2
        assert _same(tile, ("drawn", preds[n]["gt"][i], preds[n]["online"][i], ("frame_number", i + 1)))
    [(curves, _)] = drawing.of("plot_success")
    assert curves[0]["ROLO online"] == res["mean"]["success_curve"]
    assert "wrote montage.png" in capsys.readouterr().out


def test_frame_paths_of_another_dataset_come_from_the_caches_dataset_root(world, tmp_path):
    import shutil

    data = _as_dataset(shutil.copytree(world.data, tmp_path / "data"), "got10k")
    root = tmp_path / "GOT-10k"
    seq = root / "test" / "Syn02"
    seq.mkdir(parents=True)
    for i in range(1, 10):
        (seq / f"{i:08d}.jpg").write_bytes(b"")
    (seq / "groundtruth.txt").write_text("1,1,2,2\n")
    meta = data / "test" / "Syn02" / "meta.json"
    meta.write_text(json.dumps(dict(json.loads(meta.read_text()), dataset_root=str(root), dataset_split="test")))
    [video] = [v for v in cache.read_planned_split(data, "test") if v.name == "Syn02"]
    cfg = _cfg(data, world.ckpt, tmp_path / "r", "--otb_root", tmp_path / "no-otb")  # not needed for GOT-10k
    paths = evaluation.frame_paths(cfg, [video], {"Syn02": {"online": np.zeros((9, 4))}})
    assert paths == {"Syn02": [seq / f"{i:08d}.jpg" for i in range(1, 10)]}
    meta = data / "test" / "Syn01" / "meta.json"
    meta.write_text(json.dumps(dict(json.loads(meta.read_text()), dataset_split="test")))  # no dataset_root
    bare = [v for v in cache.read_planned_split(data, "test") if v.name == "Syn01"]
    with pytest.raises(DataError, match=r"^GOT-10k sequence folder not found: test/Syn01 \(listed in test/list\.txt\)$"):
        evaluation.frame_paths(cfg, bare, {"Syn01": {"online": np.zeros((13, 4))}})



def test_frame_paths_follow_strict_frames_for_a_shortened_otb_sequence(world, tmp_path):
    """Crossing has 120 frames in OTB-100; a shortened copy of 13 is read only with --strict_frames false."""
    seq = tmp_path / "otb" / "Crossing"
    (seq / "img").mkdir(parents=True)
    for i in range(1, 14):
        (seq / "img" / f"{i:04d}.jpg").write_bytes(b"")
    (seq / "groundtruth_rect.txt").write_text("1,1,2,2\n" * 13)
    video = SimpleNamespace(dataset="otb", name="Crossing", meta={})
    preds = {"Crossing": {"online": np.zeros((13, 4))}}
    loose = _cfg(world.data, world.ckpt, tmp_path / "r", "--otb_root", tmp_path / "otb", "--strict_frames", "false")
    assert evaluation.frame_paths(loose, [video], preds) == {"Crossing": [seq / "img" / f"{i:04d}.jpg"
                                                                          for i in range(1, 14)]}
    strict = _cfg(world.data, world.ckpt, tmp_path / "r", "--otb_root", tmp_path / "otb")
    with pytest.raises(DataError, match=r"13 ground-truth lines, but OTB-100's Crossing has 120"):
        evaluation.frame_paths(strict, [video], preds)
