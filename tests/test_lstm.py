"""rolo.lstm computes exactly what nn.LSTM does: outputs and every gradient, in float64."""
import pytest
import torch

from rolo import lstm as fast_lstm
from rolo.evaluation import predict_windows
from rolo.model import ROLO


def _model(feature_dim=7, hidden=5, head="coord", seed=0):
    torch.manual_seed(seed)
    return ROLO(feature_dim, hidden, head).double()


@pytest.mark.parametrize("batch,length", [(1, 6), (3, 6), (2, 1), (4, 2)])
def test_outputs_and_gradients_match_nn_lstm(batch, length):
    model = _model()
    x = torch.randn(batch, length, 11, dtype=torch.double, requires_grad=True)
    w = torch.randn(batch, length, 5, dtype=torch.double)  # a loss that weighs every step differently

    ref = model.lstm(x)[0]
    (ref * w).sum().backward()
    ref_grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    ref_dx = x.grad.clone()
    model.zero_grad()
    x.grad = None

    out = fast_lstm.hidden_states(model.lstm, x)
    (out * w).sum().backward()
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(x.grad, ref_dx, rtol=0, atol=1e-12)
    for k, g in ref_grads.items():
        torch.testing.assert_close(dict(model.named_parameters())[k].grad, g, rtol=0, atol=1e-12, msg=k)


def test_passes_torch_gradcheck():
    model = _model(feature_dim=3, hidden=2)
    x = torch.randn(2, 4, 7, dtype=torch.double)
    xw = fast_lstm.input_projection(model.lstm, x).detach().requires_grad_(True)
    w_hh = model.lstm.weight_hh_l0.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(fast_lstm._Recurrence.apply, (xw, w_hh))


def test_model_forward_on_cpu_equals_nn_lstm_path():
    model = _model(head="heatmap", feature_dim=4, hidden=3)
    x = torch.randn(2, 6, 4 + 1024, dtype=torch.double)
    fast = model(x)
    slow = model.head(model.lstm(x)[0])
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)


def test_state_argument_still_uses_nn_lstm():
    model = _model()
    x = torch.randn(1, 3, 11, dtype=torch.double)
    zero = torch.zeros(1, 1, 5, dtype=torch.double)
    y, (h, c) = model(x, (zero, zero))
    torch.testing.assert_close(y, model(x), rtol=0, atol=1e-12)
    assert h.shape == (1, 1, 5) and c.shape == (1, 1, 5)


def test_window_outputs_equal_one_forward_per_window():
    model = _model()
    frames = torch.randn(20, 11, dtype=torch.double)
    with torch.inference_mode():
        batched = predict_windows(model, frames, 6)
        one_by_one = torch.stack([model.head(model.lstm(frames[s:s + 6][None])[0])[0] for s in range(15)])
    assert batched.shape == (15, 6, 4)
    torch.testing.assert_close(batched, one_by_one, rtol=0, atol=1e-12)


def test_long_videos_are_chunked_without_changing_outputs(monkeypatch):
    from rolo import evaluation

    model = _model()
    frames = torch.randn(30, 11, dtype=torch.double)
    with torch.inference_mode():
        whole = predict_windows(model, frames, 6)
        monkeypatch.setattr(evaluation, "CHUNK_WINDOWS", 7)
        chunked = predict_windows(model, frames, 6)
    assert chunked.shape == whole.shape == (25, 6, 4)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-12)


def test_window_outputs_are_differentiable_when_asked():
    model = _model()
    frames = torch.randn(9, 11, dtype=torch.double)
    model.window_outputs(frames, 6).sum().backward()
    fast = {k: p.grad.clone() for k, p in model.named_parameters()}
    model.zero_grad()
    windows = frames[torch.arange(4)[:, None] + torch.arange(6)]
    model.head(model.lstm(windows)[0]).sum().backward()
    for k, p in model.named_parameters():
        torch.testing.assert_close(fast[k], p.grad, rtol=0, atol=1e-12, msg=k)


def test_short_video_gives_one_shorter_window():
    model = _model()
    frames = torch.randn(3, 11, dtype=torch.double)
    with torch.inference_mode():
        out = predict_windows(model, frames, 6)
    assert out.shape == (1, 3, 4)
    torch.testing.assert_close(out[0], model.head(model.lstm(frames[None])[0])[0], rtol=0, atol=1e-12)


def test_only_rolo_shaped_lstms_are_supported():
    assert fast_lstm.supported(torch.nn.LSTM(4, 3, batch_first=True))
    assert not fast_lstm.supported(torch.nn.LSTM(4, 3, batch_first=True, num_layers=2))
    assert not fast_lstm.supported(torch.nn.LSTM(4, 3, batch_first=True, bidirectional=True))
    assert not fast_lstm.supported(torch.nn.LSTM(4, 3))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_windows_and_training_step_match_cpu():
    model = _model(feature_dim=16, hidden=32).float()
    frames = torch.randn(40, 20)
    with torch.inference_mode():
        cpu = predict_windows(model, frames, 6)
        gpu = predict_windows(model.cuda(), frames.cuda(), 6).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-4, atol=1e-5)
    x = torch.randn(4, 6, 20)
    model.cpu()(x).sum().backward()
    cpu_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.cuda()(x.cuda()).sum().backward()  # cuDNN's LSTM on CUDA
    for g_cpu, p in zip(cpu_grads, model.parameters()):
        torch.testing.assert_close(p.grad.cpu(), g_cpu, rtol=1e-3, atol=1e-4)


def test_inference_path_keeps_nothing_and_matches():
    model = _model()
    x = torch.randn(3, 6, 11, dtype=torch.double)
    with torch.no_grad():
        lean = fast_lstm.hidden_states(model.lstm, x)
    assert lean.grad_fn is None
    torch.testing.assert_close(lean, model.lstm(x)[0].detach(), rtol=0, atol=1e-12)
