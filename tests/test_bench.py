"""bench.py's stages on tiny inputs: the report-style baselines and our code give the same outputs.

Only outputs are checked here, never speed: timings live in ``bench.py``.
"""
from __future__ import annotations

import runpy

import numpy as np
import pytest
import torch

from rolo import bench, cache, config, training
from rolo.errors import ConfigError
from rolo.windows import make_store

pytest.importorskip("ultralytics")

S = 64  # detector input size: tiny, a multiple of the stride


@pytest.fixture(autouse=True)
def keep_threads():
    """Ultralytics' predict() sets torch to cpu_count - 1 threads for the whole process; undo it."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    return bench.frame_paths("", 3, tmp_path_factory.mktemp("frames"))


@pytest.fixture(scope="module")
def yolo(frames):
    return bench.bench_yolo("yolov8n.yaml", frames, S)


@pytest.fixture
def data(tmp_path):
    from rolo.synthetic_cache import write_synthetic_cache

    write_synthetic_cache(tmp_path / "data", experiment=1, n_videos=6, frames=30, feature_dim=16, n_train=3,
                          n_test=2)
    return tmp_path / "data"


def test_report_extractor_gives_our_boxes_and_features(yolo, frames):
    from rolo.extractor import YOLOv8FeatureExtractor

    ours = YOLOv8FeatureExtractor(yolo, device="cpu", imgsz=S, conf=bench.CHECK_CONF)
    base = bench.ReportStyleExtractor(yolo, imgsz=S, conf=bench.CHECK_CONF, layer=ours.feature_layer_index,
                                      device="cpu")
    b = base.extract_paths(frames)
    d = ours.extract_paths(frames, batch_size=2, progress=False)
    assert d.detected.all()
    np.testing.assert_allclose(d.boxes, b["boxes"], atol=1e-4)
    np.testing.assert_allclose(d.conf, b["conf"], rtol=1e-3)
    # calibrated, the untrained network's features are of unit scale, not ~0
    assert np.abs(b["features"]).max() > 1e-3
    np.testing.assert_allclose(d.features, b["features"], rtol=1e-4, atol=1e-4 * np.abs(b["features"]).max())
    assert bench.compare_extraction(b, d)["same"]
    # and the comparison can fail
    assert not bench.compare_extraction(dict(b, boxes=b["boxes"] + 0.01), d)["same"]
    assert not bench.compare_extraction(dict(b, features=b["features"] * 1.01), d)["same"]
    assert not bench.compare_extraction(dict(b, conf=b["conf"] * 1.01), d)["same"]


def test_extraction_stage(frames):
    threads = torch.get_num_threads()
    # a fresh detector: Ultralytics' predictor set-up changes torch's thread count, the stage puts it back
    rows = bench.bench_extraction(frames, weights="yolov8n.yaml", imgsz=S, batch=2, device="cpu", conf=0.25,
                                  repeats=1, check_frames=2)
    assert torch.get_num_threads() == threads
    assert len(rows) == 2 and rows[0].same is True
    assert all(r.baseline > 0 and r.ours > 0 and r.ratio > 0 for r in rows)
    assert "2/2 boxes at conf" in rows[0].note
    bound = float(rows[0].note.split("the bare forward itself is ")[1].split("x")[0])
    assert bound == pytest.approx(rows[1].baseline / rows[0].baseline, abs=0.01)


def test_report_windows_are_the_store_windows(tmp_path):
    from rolo.synthetic_cache import write_synthetic_cache

    # experiment 3 labels every third frame: windows without a label are dropped by both
    write_synthetic_cache(tmp_path, experiment=3, n_videos=4, frames=20, feature_dim=8, n_train=2, n_test=1)
    videos = cache.read_split(tmp_path, "train")
    store = make_store(videos, 6, mode="ram", behaviour=bench.REPORT_BEHAVIOUR)
    windows = bench.ReportWindows(videos, 6)
    assert len(windows) == len(store) > 0
    # the one difference in count: our default makes N - 5 windows per video, their training loop N - 6
    assert len(make_store(videos, 6, mode="ram")) == len(windows) + len(videos)
    assert not all(v.detected.all() for v in videos)  # the zeros on missed frames are exercised
    for i in range(len(store)):
        x, y, m = store.batch(torch.tensor([i]))
        wx, wy = windows[i]
        assert wx.dtype == wy.dtype == np.float64
        np.testing.assert_array_equal(x[0].numpy(), wx.astype(np.float32))
        wm = (wy != -1).all(axis=1)
        np.testing.assert_array_equal(m[0].numpy(), wm)
        np.testing.assert_array_equal(y[0].numpy()[wm], wy[wm].astype(np.float32))


def test_report_epoch_and_ours_train_the_same_weights(data):
    videos = cache.read_split(data, "train")
    store = make_store(videos, 6, behaviour=bench.REPORT_BEHAVIOUR)
    perm = torch.randperm(len(store), generator=torch.Generator().manual_seed(1))
    models = []
    for ours in (False, True):
        torch.manual_seed(0)
        model = bench.ROLO(16, 16)
        if ours:
            training.train_epoch(model, training.make_optimizer(model, 1e-3), store, perm, 1, "coord", progress=False)
        else:
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            bench.report_style_epoch(model, opt, bench.ReportWindows(videos, 6), perm.tolist(), torch.device("cpu"))
        models.append(model.state_dict())
    torch.manual_seed(0)
    init = bench.ROLO(16, 16).state_dict()
    for k in init:
        torch.testing.assert_close(models[0][k], models[1][k], rtol=1e-5, atol=1e-6)
        assert not torch.equal(init[k], models[1][k])


def test_training_and_evaluation_stages(data):
    (train,) = bench.bench_training(data, device="cpu", repeats=1, hidden=16)
    (ev,) = bench.bench_evaluation(data, device="cpu", repeats=1, hidden=16)
    assert train.same is True and ev.same is True
    assert train.baseline > 0 and train.ours > 0 and ev.baseline > 0 and ev.ours > 0
    assert "windows" in ev.note


def test_report_loss_equals_our_masked_loss():
    torch.manual_seed(0)
    out, y = torch.rand(1, 6, 4), torch.rand(1, 6, 4)
    m = torch.tensor([[True, False, False, True, False, False]])
    y_padded = torch.where(m[..., None], y, torch.tensor(-1.0))
    torch.testing.assert_close(bench.report_loss(out, y_padded), training.masked_loss(out, y, m, "coord"))


def test_report_style_predict_equals_batched_windows(data):
    from rolo.evaluation import predict_windows
    from rolo.windows import frame_inputs

    video = cache.read_split(data, "test")[0]
    torch.manual_seed(0)
    model = bench.ROLO(16, 16).eval()
    base = bench.report_style_predict(model, bench.ReportWindows([video], 6, training=False), "cpu")
    with torch.inference_mode():
        ours = predict_windows(model, torch.from_numpy(frame_inputs(video, behaviour=bench.REPORT_BEHAVIOUR)), 6).numpy()
    assert base.shape == ours.shape == (len(video) - 5, 6, 4)
    np.testing.assert_allclose(base, ours, rtol=1e-5, atol=1e-6)


def test_batched_stage_times_the_fast_run_to_the_batch1_aos(data, tmp_path):
    (row,) = bench.bench_batched(data, tmp_path / "work", device="cpu", hidden=16, batch1_epochs=1, fast_batch=4,
                                 fast_lr=1e-3, fast_epochs=2)
    assert row.baseline > 0 and row.ours > 0 and isinstance(row.same, bool)
    assert "BATCH_SIZE 4, LR 0.001" in row.note
    curve = row.note.split("test AOS per epoch: ")[1].split(";")[0].split()
    assert len(curve) == 2 and all(0 <= float(a) <= 1 for a in curve)


def test_epoch_log_aos_is_what_evaluation_reports(data, tmp_path):
    log = bench.train_logged(data, tmp_path / "run", batch_size=8, lr=1e-3, epochs=2, hidden=16, device="cpu")
    assert [r[0] for r in log.rows] == [1, 2] and 0 < log.rows[0][1] < log.rows[1][1]
    cfg = bench.script_config("evaluation.py", EXPERIMENT=1, EPOCHS=2, SPLIT="test", DATA_DIR=str(data),
                              CHECKPOINT=str(tmp_path / "run" / "ckpt" / "rolo_lstm_exp1_2.pth"),
                              RESULTS_DIR=str(tmp_path / "res"), PLOTS=False, MODE="online", PROTOCOL="all",
                              DEVICE="cpu")
    result = bench.evaluation.run(cfg, progress=False)
    assert log.rows[-1][2] == pytest.approx(result["mean"]["aos"], abs=1e-9)
    assert log.first_reaching(2.0) is None and log.first_reaching(0.0) == log.rows[0]


@pytest.mark.slow  # fresh interpreters importing torch
def test_memory_stage_measures_children(tmp_path):
    rows = bench.bench_memory(tmp_path, n_videos=2, frames=40, feature_dim=16, hidden=8, batch=8, baseline_steps=5)
    assert [r.stage for r in rows] == ["training peak RSS, CACHE_MODE auto", "training peak RSS, CACHE_MODE mmap"]
    assert all(r.baseline > 10 and r.ours > 10 for r in rows)  # MB: at least the interpreter


def test_online_stage_times_the_tracker_step(yolo):
    (row,) = bench.bench_online(yolo, device="cpu", imgsz=S, hidden=16, feature_dim=16, steps=3, forwards=1)
    assert row.baseline > 0 and row.ours > 0 and row.ratio == pytest.approx(row.ours / row.baseline)


@pytest.mark.slow  # every quick stage end to end
def test_quick_run_prints_the_table(repo_root, tmp_path, monkeypatch, capsys):
    tiny = dict(bench.PRESETS["quick"], frames=2, img_size=S, extract_batch=2, repeats=1, check_frames=1,
                hidden=16, feature_dim=16, train_videos=3, test_videos=2, train_frames=20, epoch_windows=20,
                eval_videos=1, eval_frames=30, online_img_size=S, online_steps=2, online_forwards=1)
    monkeypatch.setitem(bench.PRESETS, "quick", tiny)
    consts = runpy.run_path(str(repo_root / "bench.py"), run_name="not_main")
    out_json = tmp_path / "rows.json"
    rows = bench.main(consts, ["--quick", "true", "--weights", "yolov8n.yaml", "--device", "cpu", "--stages",
                               "extraction,training,evaluation,online", "--work_dir", str(tmp_path),
                               "--json", str(out_json)])
    text = capsys.readouterr().out
    assert "stage" in text and "baseline" in text and "ratio" in text
    measured = [r for r in rows if not r.stage.startswith("GPU:")]
    assert [r.same for r in measured] == [True, None, True, True, None]
    # Without CUDA the GPU targets stay in the table as rows that say they were not measured.
    gpu = [r for r in rows if r.stage.startswith("GPU:")]
    assert len(gpu) == 2 and all("not measured" in r.note for r in gpu)
    assert out_json.is_file() and '"rows"' in out_json.read_text()


def test_quick_all_leaves_out_the_slow_stages_unless_named():
    assert "batched" not in bench.selected_stages("all", quick=True)
    assert bench.selected_stages("all") == list(bench.STAGES)
    assert bench.selected_stages("batched, memory", quick=True) == ["batched", "memory"]


def test_unknown_stage_is_a_config_error(repo_root):
    consts = runpy.run_path(str(repo_root / "bench.py"), run_name="not_main")
    cfg = config.from_script(consts, ["--stages", "extraction,speed"], checks=bench.CHECKS)
    with pytest.raises(ConfigError, match="--stages: unknown stage"):
        bench.run(cfg)


@pytest.mark.slow  # three fresh interpreters
def test_scale_stage_builds_its_cache_once_and_reports_speed_and_memory(tmp_path):
    kw = dict(n_videos=3, frames=120, feature_dim=16, hidden=16, batch=4, steps=3, repeats=1, progress=False,
              ram_frames=240)
    rows = bench.bench_scale(tmp_path, tmp_path / "scale", **kw)
    feats = tmp_path / "scale" / "train" / "Big00000" / "features.npy"
    assert np.load(feats).dtype == np.float16 and np.load(feats).shape == (120, 16)
    stamp = feats.stat().st_mtime_ns
    assert [r.unit for r in rows] == ["steps/s", "MB"]
    assert all(r.baseline > 0 and r.ours > 0 for r in rows)
    assert "360 frames x 16 float16 on disk" in rows[0].note and "240 frames in RAM" in rows[0].note
    assert rows[1].ok == (rows[1].ours <= rows[1].baseline + (1 << 30) / 1e6)
    bench.bench_scale(tmp_path, tmp_path / "scale", **kw)
    assert feats.stat().st_mtime_ns == stamp  # reused, not rewritten


def test_gpu_targets_say_not_measured_without_cuda():
    rows = bench.gpu_targets("cpu")
    assert rows and all(r.ok is None for r in rows) and all("not measured" in r.note for r in rows)
    table = bench.render(rows)
    assert "not measured" in table.splitlines()[2]


@pytest.mark.slow
def test_distributed_stage_compares_one_and_two_ranks(tmp_path):
    rows = bench.bench_distributed(tmp_path, weights="yolov8n.yaml", ranks=2, device="cpu", videos=3, frames=8,
                                   img_size=64, train_videos=4, epochs=1, hidden=16)
    assert [r.same for r in rows] == [True, True]
    assert all(r.baseline > 0 and r.ours > 0 for r in rows)
