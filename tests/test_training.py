import re
import runpy

import numpy as np
import pytest
import torch

from rolo import cache, cli, config, evaluation, training
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


def interrupt_after(epoch: int):
    """``on_epoch`` that stops the run like Ctrl-C once ``epoch`` epochs are done."""
    def on_epoch(done, model):
        if done == epoch:
            raise KeyboardInterrupt
    return on_epoch


def test_a_rerun_without_resume_refuses_to_overwrite_an_unfinished_run(repo_root, synth, capsys):
    args = ["--epochs", "4", "--batch_size", "8", "--save_every", "2"]
    with pytest.raises(KeyboardInterrupt) as stop:
        training.run(train_cfg(repo_root, synth, *args), progress=False, on_epoch=interrupt_after(3))
    last = synth / "ckpt" / "rolo_lstm_exp1_4.last.pth"
    assert str(stop.value) == f"{last} holds epoch 2/4; the same command with --resume true continues from epoch 2"
    kept = last.read_bytes()
    capsys.readouterr()
    with pytest.raises(DataError, match=f"{last} holds an unfinished run at epoch 2/4, which this run would "
                                        "overwrite: pass --resume true to continue it, or delete it or pass "
                                        "another --checkpoint_dir to start over"):
        training.run(train_cfg(repo_root, synth, *args), progress=False)
    assert last.read_bytes() == kept and "loss" not in capsys.readouterr().out  # nothing trained, nothing written
    training.run(train_cfg(repo_root, synth, *args, "--resume", "true"), progress=False)
    # A finished run is in its final checkpoint too: a rerun starts over, and says what it replaces.
    training.run(train_cfg(repo_root, synth, *args), progress=False)
    out = capsys.readouterr().out
    assert f"note: {last} holds a finished run (4/4 epochs); this run starts over and replaces it" in out
    assert "epoch    1/4" in out


def test_an_unreadable_resumable_checkpoint_is_named_not_overwritten(repo_root, synth):
    last = synth / "ckpt" / "rolo_lstm_exp1_2.last.pth"
    last.parent.mkdir()
    last.write_bytes(b"half a zip")
    with pytest.raises(DataError, match=f"{last} is there but cannot be resumed \\(checkpoint .* is corrupt.*\\); "
                                        "delete it or pass another --checkpoint_dir"):
        training.run(train_cfg(repo_root, synth, "--epochs", "2"), progress=False)
    assert last.read_bytes() == b"half a zip"


def test_an_interrupt_before_the_first_checkpoint_says_nothing_is_kept(repo_root, synth):
    with pytest.raises(KeyboardInterrupt, match="no resumable checkpoint of this run was saved yet \\(one every "
                                                "--save_every 5 epochs\\), so nothing of it is kept"):
        training.run(train_cfg(repo_root, synth, "--epochs", "6", "--batch_size", "8"), progress=False,
                     on_epoch=interrupt_after(1))


def test_the_epoch_line_gives_the_epochs_time_the_elapsed_time_and_what_is_left(repo_root, synth, capsys):
    assert training.epoch_timing(10.0, 9.5, 0.0, 4, 6) == "0.50 s, 10.0 s elapsed, ~15 s left"
    assert training.epoch_timing(400.0, 399.0, 0.0, 2, 1) == "1.00 s, 400.0 s elapsed, ~3 min left"
    assert training.epoch_timing(10.0, 9.5, 0.0, 4, 0) == "0.50 s, 10.0 s elapsed"  # the last epoch
    training.run(train_cfg(repo_root, synth, "--epochs", "2", "--batch_size", "8"), progress=False)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch ")]
    assert len(lines) == 2
    assert re.fullmatch(r"epoch    1/2  loss \d+\.\d{6}  \(\d+\.\d\d s, \d+\.\d s elapsed, ~\d+ s left\)", lines[0])
    assert re.fullmatch(r"epoch    2/2  loss \d+\.\d{6}  \(\d+\.\d\d s, \d+\.\d s elapsed\)", lines[1])


def test_cli_says_what_an_interrupted_stage_kept(capsys):
    def stopped(script_globals, argv):
        raise KeyboardInterrupt("x.last.pth holds epoch 6/40")

    with pytest.raises(SystemExit) as exit_:
        cli.run(stopped, {})
    assert exit_.value.code == 130 and capsys.readouterr().err == "interrupted: x.last.pth holds epoch 6/40\n"
