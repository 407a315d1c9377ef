"""demo.py: the whole pipeline on the synthetic benchmark, through the scripts' own code."""
import json
import os
import re
import subprocess
import sys

import pytest

from rolo import demo, finetune, training
from rolo.config import ConfigError
from rolo.extractor import WeightsError


def test_stage_config_is_the_scripts_config_with_overrides(repo_root):
    cfg = demo.stage_config(repo_root, "train.py", training.CHECKS, {"epochs": 3, "data_dir": "somewhere"})
    assert cfg.EPOCHS == 3 and cfg.DATA_DIR == "somewhere"
    assert cfg.HIDDEN == 512 and cfg.SEQ_LEN == 6  # everything else: train.py's constants
    with pytest.raises(ConfigError, match="--epochs"):
        demo.stage_config(repo_root, "train.py", training.CHECKS, {"epochs": 0})
    with pytest.raises(ConfigError, match="missing"):
        demo.stage_config(repo_root / "nowhere", "train.py", training.CHECKS, {})


def test_fine_tune_falls_back_to_the_yaml_and_says_so(repo_root, tmp_path, monkeypatch, capsys):
    tried = []

    def fake_run(cfg):
        tried.append(cfg.WEIGHTS)
        if cfg.WEIGHTS == "yolov8s.pt":
            raise WeightsError("YOLO weights 'yolov8s.pt' are not on this machine\nhow to get them")
        return {"weights": tmp_path / "ft.pt", "trained": True}

    monkeypatch.setattr(finetune, "run", fake_run)
    cfg = {"OUT_DIR": str(tmp_path), "WEIGHTS": "yolov8s.pt", "FALLBACK_WEIGHTS": "yolov8n.yaml", "FT_EPOCHS": 1,
           "FT_IMG_SIZE": 64, "FT_BATCH_SIZE": 4, "FT_WARMUP_EPOCHS": 0.0, "SEED": 0}
    weights, base = demo.fine_tune(demo.config.Config(cfg), repo_root, {"experiment": 1})
    assert tried == ["yolov8s.pt", "yolov8n.yaml"] and base == "yolov8n.yaml" and weights == tmp_path / "ft.pt"
    assert "NOTE: starting instead from yolov8n.yaml" in capsys.readouterr().out

    monkeypatch.setattr(finetune, "run", lambda cfg: (_ for _ in ()).throw(WeightsError("no yaml either")))
    with pytest.raises(WeightsError, match="no yaml either"):  # the fallback failing is not hidden
        demo.fine_tune(demo.config.Config(cfg), repo_root, {"experiment": 1})


def test_verdict_says_how_much_of_the_gain_a_constant_gives():
    def s(rolo, yolo, offset):
        return {"splits": {"test": {"rolo_aos": rolo, "yolo_aos": yolo, "offset_aos": offset}}}

    assert "+0.010 AOS" in demo.verdict(s(0.895, 0.885, 0.890)) and "+0.005 comes from" in demo.verdict(
        s(0.895, 0.885, 0.890))
    assert "systematic bias" in demo.verdict(s(0.895, 0.885, 0.896))
    assert "0.100 AOS better than the ROLO LSTM" in demo.verdict(s(0.785, 0.885, 0.890))
    assert "same AOS" in demo.verdict(s(0.885, 0.885, 0.890))


SUMMARY_ROW = re.compile(r"^(test|eval)\s+(\d+)\s+(\d\.\d{3})\s+(\d\.\d{3})\s+([+-]\d\.\d{3})\s+(\d\.\d{3})$", re.M)


@pytest.mark.slow
def test_demo_end_to_end_prints_what_it_writes(repo_root, tmp_path):
    out = tmp_path / "demo_out"
    path = [str(repo_root), *filter(None, [os.environ.get("PYTHONPATH")])]  # keep the caller's entries
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    # a weights path that does not exist takes the fallback path without trying the network;
    # CONF 1e-6 lets the barely trained detector give boxes, so the numbers compared are not all zero
    cmd = [sys.executable, str(repo_root / "demo.py"), "--out_dir", str(out), "--n_sequences", "3", "--frames", "12",
           "--frame_width", "96", "--frame_height", "72", "--ft_epochs", "1", "--ft_img_size", "64",
           "--img_size", "64", "--conf", "1e-6", "--lstm_epochs", "20", "--lstm_lr", "1e-2", "--lstm_hidden", "16",
           "--device", "cpu",
           "--weights", str(tmp_path / "no" / "yolov8s.pt")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout
    assert "NOTE: starting instead from yolov8n.yaml" in text
    for n in range(1, 6):
        assert f"=== [{n}/5]" in text
    assert "YOLO boxes" in text and "use it with: python dataloader.py --weights" in text

    rows = {m[0]: m for m in SUMMARY_ROW.findall(text)}
    assert set(rows) == {"test", "eval"}
    assert any(float(r[2]) > 0 for r in rows.values()) and any(float(r[3]) > 0 for r in rows.values())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["base_weights"] == "yolov8n.yaml"
    for part, (_, frames, rolo, yolo, diff, offset) in rows.items():
        saved = json.loads((out / "results" / part / "metrics.json").read_text())
        assert saved["split"] == part and saved["mode"] == "online" and saved["protocol"] == "all"
        assert int(frames) == saved["mean"]["frames"] == 12
        assert float(rolo) == pytest.approx(saved["mean"]["aos"], abs=5e-4)
        assert float(yolo) == pytest.approx(saved["variants"]["yolo"]["mean"]["aos"], abs=5e-4)
        assert float(diff) == pytest.approx(float(rolo) - float(yolo), abs=1.5e-3)
        assert summary["splits"][part]["rolo_aos"] == saved["mean"]["aos"]
        assert float(offset) == pytest.approx(summary["splits"][part]["offset_aos"], abs=5e-4)
        assert (out / "results" / part / "success.png").stat().st_size > 0
        assert (out / "results" / part / "montage.png").stat().st_size > 0
    # the demo used the fine-tuned single-class detector it printed
    weights = summary["fine_tuned_weights"]
    assert weights in text and os.path.isfile(weights)
    meta = json.loads(next((out / "data" / "test").glob("*/meta.json")).read_text())
    assert meta["settings"]["WEIGHTS"] == weights
    assert set(summary["seconds"]) == set(demo.STAGES)
