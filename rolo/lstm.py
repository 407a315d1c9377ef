"""A one-layer LSTM recurrence with the weights of an ``nn.LSTM``, faster at ROLO's sizes.

Same parameters, same gate order (i, f, g, o) and the same arithmetic as
``torch.nn.LSTM`` (outputs and gradients agree to float rounding; tests check
it in float64), but arranged for the two things ROLO does most:

* training with batch 1 on a CPU, where every step is bound by reading the
  4H x H recurrent matrix from memory: the first step starts from a zero state,
  so its recurrent product is skipped, and the backward pass forms the
  recurrent weight gradient in one matrix product over all steps instead of
  accumulating one product per step (:class:`_Recurrence`);
* evaluating every stride-1 window of a video: each frame appears in up to
  SEQ_LEN windows, so its input projection is computed once per frame, and
  the windows are a strided view of those projections, never copied
  (:func:`window_hidden`).

Only a single unidirectional layer without projections, ``batch_first``, from
a zero initial state: exactly :class:`rolo.model.ROLO`'s LSTM. Anything else
goes through ``nn.LSTM``.
"""
from __future__ import annotations

import torch
from torch import nn


def supported(lstm: nn.LSTM) -> bool:
    """Whether ``lstm`` has the one shape this module implements."""
    return (lstm.num_layers == 1 and not lstm.bidirectional and lstm.batch_first and lstm.bias
            and getattr(lstm, "proj_size", 0) == 0)


def input_projection(lstm: nn.LSTM, x: torch.Tensor) -> torch.Tensor:
    """(..., I) inputs -> (..., 4H) ``x W_ih^T + b_ih + b_hh``: everything that does not depend on the state."""
    flat = torch.addmm(lstm.bias_ih_l0 + lstm.bias_hh_l0, x.reshape(-1, x.shape[-1]), lstm.weight_ih_l0.t())
    return flat.view(*x.shape[:-1], flat.shape[-1])


def _run(xw: torch.Tensor, w_hh: torch.Tensor, keep: bool):
    """The forward recurrence over (B, L, 4H) projected inputs (any strides) from a zero state.

    Returns (B, L, H) hidden states and, when ``keep``, the cells and gate
    activations that the backward pass needs (else ``None``: inference writes
    each step's activations into one scratch buffer).
    """
    B, L, G = xw.shape
    H = G // 4
    hs = xw.new_empty(B, L, H)
    cs = xw.new_empty(B, L, H) if keep else None
    acts = xw.new_empty(B, L, G) if keep else None  # sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
    scratch = None if keep else xw.new_empty(B, G)
    h = c = None
    for t in range(L):
        pre = xw[:, t] if h is None else torch.addmm(xw[:, t], h, w_hh.t())
        a = acts[:, t] if keep else scratch
        torch.sigmoid(pre[:, :2 * H], out=a[:, :2 * H])
        torch.tanh(pre[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
        torch.sigmoid(pre[:, 3 * H:], out=a[:, 3 * H:])
        i, f, g, o = a.split(H, 1)
        c = i * g if c is None else torch.addcmul(i * g, f, c)
        h = o * torch.tanh(c)
        hs[:, t] = h
        if keep:
            cs[:, t] = c
    return hs, cs, acts


class _Recurrence(torch.autograd.Function):
    """(B, L, 4H) projected inputs and the (4H, H) recurrent weights -> (B, L, H) hidden states."""

    @staticmethod
    def forward(ctx, xw: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
        hs, cs, acts = _run(xw, w_hh, keep=True)
        ctx.save_for_backward(w_hh, hs, cs, acts)
        return hs

    @staticmethod
    def backward(ctx, d_hs: torch.Tensor):
        w_hh, hs, cs, acts = ctx.saved_tensors
        B, L, H = hs.shape
        d_pre = torch.empty_like(acts)
        dh_next = dc_next = None
        for t in reversed(range(L)):
            i, f, g, o = acts[:, t].split(H, 1)
            tc = torch.tanh(cs[:, t])
            dh = d_hs[:, t] if dh_next is None else d_hs[:, t] + dh_next
            dc = dh * o * (1 - tc * tc)
            if dc_next is not None:
                dc = dc + dc_next
            d = d_pre[:, t]
            torch.mul(dc * g, i * (1 - i), out=d[:, :H])
            if t > 0:
                torch.mul(dc * cs[:, t - 1], f * (1 - f), out=d[:, H:2 * H])
            else:
                d[:, H:2 * H].zero_()  # the forget gate multiplies a zero initial cell
            torch.mul(dc * i, 1 - g * g, out=d[:, 2 * H:3 * H])
            torch.mul(dh * tc, o * (1 - o), out=d[:, 3 * H:])
            dc_next = dc * f
            if t > 0:
                dh_next = d @ w_hh
        d_w = None
        if ctx.needs_input_grad[1]:
            # One product over every step that had a recurrent term (t >= 1).
            d_w = (d_pre[:, 1:].reshape(-1, 4 * H).t() @ hs[:, :-1].reshape(-1, H)) if L > 1 \
                else torch.zeros_like(w_hh)
        return d_pre, d_w


def hidden_states(lstm: nn.LSTM, x: torch.Tensor) -> torch.Tensor:
    """(B, L, I) -> (B, L, H): ``lstm(x)[0]`` from a zero state."""
    return _recur(lstm, x, input_projection(lstm, x))


def _recur(lstm: nn.LSTM, x: torch.Tensor, xw: torch.Tensor) -> torch.Tensor:
    # Without gradients nothing needs keeping for a backward pass.
    if torch.is_grad_enabled() and (x.requires_grad or lstm.weight_hh_l0.requires_grad):
        return _Recurrence.apply(xw, lstm.weight_hh_l0)
    return _run(xw, lstm.weight_hh_l0, keep=False)[0]


def window_hidden(lstm: nn.LSTM, x: torch.Tensor, seq_len: int) -> torch.Tensor:
    """Hidden states of every stride-1 window of ``seq_len`` frames, each from a zero state.

    x (N, I) one row per frame -> (W, L, H) with L = min(seq_len, N) and
    W = N - L + 1, equal to ``lstm(windows)[0]``. Each frame is projected once,
    and the windows are a strided view of the projections, never copied.
    Differentiable when grad is enabled; without it, nothing is kept for backward.
    """
    L = min(seq_len, x.shape[0])
    return _recur(lstm, x, input_projection(lstm, x).unfold(0, L, 1).transpose(1, 2))  # (W, L, 4H) view
