"""ROLO's two options beyond the report: box-only inputs and the residual output."""
import pytest
import torch

from rolo import evaluation
from rolo.model import ROLO, build_from_checkpoint, load_checkpoint, save_atomic

D = 7


def _model(**kw):
    torch.manual_seed(0)
    return ROLO(D, 5, **kw).double()


def _randomise_head(model):
    with torch.no_grad():
        model.head.weight.normal_()
        model.head.bias.normal_()
    return model


@pytest.mark.parametrize("inputs,residual", [("feature+box", False), ("box", False), ("feature+box", True),
                                             ("box", True)])
def test_fast_paths_equal_nn_lstm_on_stacked_windows(inputs, residual):
    model = _randomise_head(_model(inputs=inputs, residual=residual))
    frames = torch.randn(11, D + 4, dtype=torch.double)
    windows = frames.unfold(0, 6, 1).transpose(1, 2)  # (6, 6, D + 4)
    z = windows if inputs == "feature+box" else windows[..., D:]
    ref = model.head(model.lstm(z)[0]) + (windows[..., D:] if residual else 0)
    torch.testing.assert_close(model(windows), ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(model.window_outputs(frames, 6), ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(evaluation.predict_windows(model, frames, 6), ref, rtol=0, atol=1e-12)
    zero = torch.zeros(1, 6, 5, dtype=torch.double)
    y, _ = model(windows, (zero, zero))  # the nn.LSTM path with a state
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-12)


def test_options_are_checked():
    with pytest.raises(ValueError, match="coordinate head"):
        ROLO(D, 5, "heatmap", residual=True)
    with pytest.raises(ValueError, match="inputs"):
        ROLO(D, 5, inputs="boxes")


def test_box_inputs_ignore_the_feature():
    model = _randomise_head(_model(inputs="box"))
    assert model.lstm.input_size == 4
    x = torch.randn(2, 6, D + 4, dtype=torch.double)
    y = x.clone()
    y[..., :D] = torch.randn(2, 6, D, dtype=torch.double)
    torch.testing.assert_close(model(x), model(y), rtol=0, atol=0)
    y[..., D] += 0.1
    assert not torch.equal(model(x), model(y))


def test_residual_starts_as_the_detector_boxes():
    model = _model(residual=True)
    frames = torch.randn(9, D + 4, dtype=torch.double)
    out = evaluation.online_from_windows(model.window_outputs(frames, 6))
    torch.testing.assert_close(out, frames[:, D:], rtol=0, atol=0)


def test_options_travel_in_checkpoints_and_old_ones_load_as_the_report_model(tmp_path):
    model = _randomise_head(ROLO(D, 5, inputs="box", residual=True))
    path = tmp_path / "c.pth"
    save_atomic({"model": model.state_dict(), "model_info": model.describe()}, path)
    back = build_from_checkpoint(load_checkpoint(path), path)
    assert (back.inputs, back.residual) == ("box", True)
    x = torch.randn(3, 6, D + 4)
    torch.testing.assert_close(back(x), model(x), rtol=0, atol=0)
    old = ROLO(D, 5)
    info = {"feature_dim": D, "hidden": 5, "head": "coord"}  # written before the options existed
    save_atomic({"model": old.state_dict(), "model_info": info}, path)
    back = build_from_checkpoint(load_checkpoint(path), path)
    assert (back.inputs, back.residual) == ("feature+box", False)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("inputs,residual", [("box", True), ("feature+box", True), ("box", False)])
def test_cuda_matches_cpu(inputs, residual):
    model = _randomise_head(_model(inputs=inputs, residual=residual)).float()
    frames = torch.randn(20, D + 4)
    windows = frames.unfold(0, 6, 1).transpose(1, 2).contiguous()
    with torch.inference_mode():
        cpu, cpu_w = model(windows), evaluation.predict_windows(model, frames, 6)
        model.cuda()
        gpu, gpu_w = model(windows.cuda()).cpu(), evaluation.predict_windows(model, frames.cuda(), 6).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(gpu_w, cpu_w, rtol=1e-4, atol=1e-5)
