"""Device selection shared by every stage."""
from __future__ import annotations

import contextlib

from .errors import ConfigError


def resolve_device(device=None):
    """``None``/``""``/``"auto"`` -> CUDA when available, else CPU; otherwise ``torch.device(device)``.

    Errors name ``--device`` and the allowed values.
    """
    import torch

    if device is None or (isinstance(device, str) and device.strip().lower() in ("", "auto")):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device.strip() if isinstance(device, str) else device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"--device: {device!r} is not a torch device; use auto, cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"--device: {device!r}: ROLO runs on cpu, cuda or mps devices")
    if dev.type == "mps" and not (torch.backends.mps.is_built() and torch.backends.mps.is_available()):
        raise ConfigError(f"--device: {device!r}: this PyTorch has no usable MPS (Apple GPU) support; use "
                          f"--device cpu or auto")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device: {device!r}: CUDA is not available on this machine; use --device cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"--device: {device!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    return dev


@contextlib.contextmanager
def exact_math():
    """Within the block, CUDA convolutions, matrix products and cuDNN's LSTM use full fp32
    instead of TF32 (PyTorch's default for cuDNN on Ampere and later).

    TF32 keeps 10 mantissa bits: fine for tracking, but a comparison of CUDA against CPU
    output to 1e-4 would then measure TF32 rather than the code. Equality checks (the tests,
    ``bench.py``'s "same" column) run inside this; timed runs keep the defaults.
    """
    import torch

    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
