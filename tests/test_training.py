import runpy

import numpy as np
import pytest
import torch

from rolo import cache, config, evaluation, training
from rolo.errors import DataError
from rolo.model import load_for_inference
from rolo.synthetic_cache import write_synthetic_cache


def train_cfg(repo_root, tmp_path, *argv):
    consts = runpy.run_path(str(repo_root / "train.py"), run_name="not_main")
    # a small LSTM keeps the tests fast; the architecture is the same
    base = ["--data_dir", str(tmp_path / "data"), "--checkpoint_dir", str(tmp_path / "ckpt"), "--device", "cpu",
            "--hidden", "48"]
    return config.from_script(consts, base + list(argv), checks=training.CHECKS)


@pytest.fixture
def synth(tmp_path):
    write_synthetic_cache(tmp_path / "data", experiment=1, n_videos=6, frames=40, n_train=3, n_test=2)
    return tmp_path


def test_loss_falls_on_learnable_data(repo_root, synth):
    cfg = train_cfg(repo_root, synth, "--epochs", "8", "--batch_size", "8", "--lr", "1e-3")
    path = training.run(cfg, progress=False)
    ckpt = torch.load(path, weights_only=True)
    h = ckpt["loss_history"]
    assert len(h) == 8 and h[-1] < 0.3 * h[0]
    assert path.name == "rolo_lstm_exp1_8.pth"
    assert ckpt["settings"]["BATCH_SIZE"] == 8 and ckpt["feature_dim"] == 32


def test_same_seed_same_weights(repo_root, synth):
    a = training.run(train_cfg(repo_root, synth, "--epochs", "2", "--batch_size", "4",
                               "--checkpoint_dir", str(synth / "a")), progress=False)
    b = training.run(train_cfg(repo_root, synth, "--epochs", "2", "--batch_size", "4",
                               "--checkpoint_dir", str(synth / "b")), progress=False)
    wa, wb = torch.load(a, weights_only=True)["model"], torch.load(b, weights_only=True)["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_resume_equals_uninterrupted(repo_root, synth, monkeypatch):
    args = ["--epochs", "4", "--batch_size", "4", "--save_every", "2"]
    full = training.run(train_cfg(repo_root, synth, *args, "--checkpoint_dir", str(synth / "full")), progress=False)

    real_save = training.save_atomic

    def save_then_die(state, path):
        real_save(state, path)
        if state["epoch"] == 2:
            raise KeyboardInterrupt  # the run dies right after its epoch-2 checkpoint

    monkeypatch.setattr(training, "save_atomic", save_then_die)
    cfg = train_cfg(repo_root, synth, *args, "--checkpoint_dir", str(synth / "part"))
    with pytest.raises(KeyboardInterrupt):
        training.run(cfg, progress=False)
    monkeypatch.setattr(training, "save_atomic", real_save)
    resumed = training.run(train_cfg(repo_root, synth, *args, "--checkpoint_dir", str(synth / "part"),
                                     "--resume", "true"), progress=False)
    a, b = torch.load(full, weights_only=True), torch.load(resumed, weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["loss_history"] == b["loss_history"] and len(b["loss_history"]) == 4


def test_resume_refuses_other_settings(repo_root, synth):
    training.run(train_cfg(repo_root, synth, "--epochs", "2", "--batch_size", "4"), progress=False)
    with pytest.raises(DataError, match="trained with LR=0.0001, this run has 0.001"):
        training.run(train_cfg(repo_root, synth, "--epochs", "2", "--batch_size", "4", "--lr", "1e-3",
                               "--resume", "true"), progress=False)


def test_wrong_experiment_cache_is_refused(repo_root, synth):
    cfg = train_cfg(repo_root, synth, "--experiment", "3")
    with pytest.raises(DataError, match="extracted for experiment 1, but --experiment is 3"):
        training.run(cfg, progress=False)


def test_missing_cache_named(repo_root, tmp_path):
    cfg = train_cfg(repo_root, tmp_path)
    with pytest.raises(DataError, match="no cached split at .*data/train"):
        training.run(cfg, progress=False)


def test_masked_loss_ignores_unlabelled_steps():
    out = torch.zeros(1, 3, 4)
    y = torch.tensor([[[1.0] * 4, [100.0] * 4, [1.0] * 4]])
    m = torch.tensor([[True, False, True]])
    assert training.masked_loss(out, y, m, "coord").item() == pytest.approx(1.0)
    assert np.isclose(training.masked_loss(out, y, torch.zeros_like(m), "coord").item(), 0.0)


def test_residual_needs_the_coordinate_head_and_inputs_are_checked(repo_root, synth):
    cfg = train_cfg(repo_root, synth, "--head", "heatmap", "--residual", "true")
    with pytest.raises(config.ConfigError, match="--residual true .* needs --head coord"):
        training.run(cfg, progress=False)
    with pytest.raises(config.ConfigError, match="--inputs"):
        train_cfg(repo_root, synth, "--inputs", "boxes")


def test_box_only_residual_training_and_evaluation_end_to_end(repo_root, synth):
    cfg = train_cfg(repo_root, synth, "--epochs", "3", "--batch_size", "8", "--lr", "1e-3", "--inputs", "box",
                    "--residual", "true")
    path = training.run(cfg, progress=False)
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["model_info"]["inputs"] == "box" and ckpt["model_info"]["residual"] is True
    assert ckpt["model"]["lstm.weight_ih_l0"].shape == (4 * 48, 4)
    inference = load_for_inference(path, feature_dim=32)
    model, seq_len = inference.model, inference.seq_len
    video = cache.read_split(cfg.DATA_DIR, "test")[0]
    p = evaluation.evaluate_video(model, video, seq_len=seq_len, head="coord", device="cpu")
    assert np.isfinite(p["online"]).all() and p["online"].shape == p["gt"].shape
