"""Device selection shared by every stage."""
from __future__ import annotations

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
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device: {device!r}: CUDA is not available on this machine; use --device cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"--device: {device!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    return dev
