"""The ROLO LSTM and its checkpoints.

Input per frame: the pooled YOLO feature (D = 512 for YOLOv8s) and the
detector's box, either as 4 ``cxcywh_norm`` numbers (the coordinate head,
516 inputs) or as a 32x32 occupancy grid (the heatmap head, D + 1024 inputs).
One LSTM layer with 512 hidden units, then a linear head to 4 box numbers or
to 1024 heatmap logits. The model outputs every step of the window.

Two options beyond the report, both off by default (the report's model):
``inputs="box"`` feeds the LSTM the detector boxes alone, without the feature;
``residual=True`` (coordinate head) outputs each step's input box plus the
head's correction, the head starting at zero so that training starts from the
detector's boxes. On the demo's 16 training videos the feature let the LSTM
memorise the training videos (train AOS 0.97, test 0.85 with the residual
output), and the box-only residual LSTM was the one that beat the detector
(README, "The demo").
"""
from __future__ import annotations

import io
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import torch
from torch import nn

from . import lstm as fast_lstm
from .errors import ConfigError, DataError

HEADS = ("coord", "heatmap")
INPUTS = ("feature+box", "box")
GRID_CELLS = 32 * 32


def head_dims(head: str) -> tuple[int, int]:
    """(box input size, output size) of a head."""
    return (4, 4) if head == "coord" else (GRID_CELLS, GRID_CELLS)


class ROLO(nn.Module):
    def __init__(self, feature_dim: int = 512, hidden: int = 512, head: str = "coord",
                 inputs: str = "feature+box", residual: bool = False):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        if inputs not in INPUTS:
            raise ValueError(f"inputs must be one of {INPUTS}, got {inputs!r}")
        if residual and head != "coord":
            raise ValueError("a residual output needs the coordinate head (it adds to the input box)")
        box_in, out = head_dims(head)
        self.feature_dim, self.hidden, self.head_type = feature_dim, hidden, head
        self.inputs, self.residual = inputs, bool(residual)
        self.lstm = nn.LSTM(box_in + (feature_dim if inputs == "feature+box" else 0), hidden, num_layers=1,
                            batch_first=True)
        self.head = nn.Linear(hidden, out)
        if self.residual:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def _boxes(self, x: torch.Tensor) -> torch.Tensor:
        """The box part of input rows, which are always feature + box (the caches' layout)."""
        return x[..., self.feature_dim:]

    def _lstm_input(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.inputs == "feature+box" else self._boxes(x)

    def forward(self, x: torch.Tensor, state=None):
        """x (B, L, D + box_in) -> (B, L, out). With ``state`` also returns the new state."""
        z = self._lstm_input(x)
        if state is None and x.device.type == "cpu" and fast_lstm.supported(self.lstm):
            # On CPU torch's LSTM is bound by memory traffic at ROLO's sizes (rolo.lstm); cuDNN is not.
            h, new_state = fast_lstm.hidden_states(self.lstm, z), None
        else:
            h, new_state = self.lstm(z, state)
        y = self.head(h)
        if self.residual:
            y = y + self._boxes(x)
        return y if state is None else (y, new_state)

    def window_outputs(self, x: torch.Tensor, seq_len: int) -> torch.Tensor:
        """Outputs of every stride-1 window of one video's frames, each from a zero state.

        x (N, D + box_in) one row per frame -> (W, L, out) with L = min(seq_len, N),
        W = N - L + 1; window w covers frames w .. w+L-1. Equal to ``self`` on the
        stacked windows, with every frame's input projection computed once.
        """
        if not fast_lstm.supported(self.lstm):
            # Another LSTM shape (e.g. two layers): the stacked windows through forward, which
            # runs torch's LSTM on it, rather than the one-layer recurrence scoring layer 0 alone.
            L = min(seq_len, x.shape[0])
            return self(x.unfold(0, L, 1).transpose(1, 2))
        y = self.head(fast_lstm.window_hidden(self.lstm, self._lstm_input(x), seq_len))
        if self.residual:
            y = y + self._boxes(x).unfold(0, y.shape[1], 1).transpose(1, 2)
        return y

    def describe(self) -> dict:
        return {"feature_dim": self.feature_dim, "hidden": self.hidden, "head": self.head_type,
                "inputs": self.inputs, "residual": self.residual}


def save_atomic(obj, path) -> None:
    """torch.save through a temporary file so a crash never leaves a half-written checkpoint."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:
        # A full disk reaches torch.save's zip writer as a RuntimeError ("unexpected pos ...").
        tmp.unlink(missing_ok=True)
        reason = e.strerror if isinstance(e, OSError) and e.strerror else _short_write_reason(path, e)
        raise DataError(f"cannot write checkpoint {path}: {reason}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _short_write_reason(path: Path, e: Exception) -> str:
    try:
        free = f"{shutil.disk_usage(path.parent).free / 2**20:.1f} MiB free there"
    except OSError:
        free = "free space unknown"
    return f"the write stopped short, is the disk full? ({free}; torch said: {e})"


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read a checkpoint written by :mod:`rolo.training`.

    A plain state dict (the report's ``torch.save(model.state_dict())``) is
    wrapped with its shape read off the weights, so it loads when compatible.
    Missing, corrupt or foreign files raise :class:`DataError` naming the path.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint not found: {path} (train first, or set CHECKPOINT / --checkpoint)")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DataError(f"cannot read checkpoint {path}: {e.strerror or e}") from None
    _check_crc(path, data)
    try:
        ckpt = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for a damaged file
        if isinstance(e, pickle.UnpicklingError) and "Unsupported global" in str(e):
            # A sound file whose pickle holds objects other than tensors, e.g. torch.save(model).
            raise DataError(f"checkpoint {path} holds pickled Python objects (a whole model saved with "
                            f"torch.save(model)?), which are not loaded, for safety; save model.state_dict() "
                            f"instead") from None
        if isinstance(e, pickle.UnpicklingError):  # torch's text here advises weights_only=False: unsafe, not ours
            raise DataError(f"checkpoint {path} is corrupt or not a PyTorch file (it does not unpickle)") from None
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise DataError(f"checkpoint {path} is corrupt or not a PyTorch file ({type(e).__name__}: {first})") from None
    if isinstance(ckpt, dict) and "model" in ckpt and "model_info" in ckpt:
        return ckpt
    if isinstance(ckpt, dict) and all(torch.is_tensor(v) for v in ckpt.values()):
        return _wrap_state_dict(path, ckpt)
    raise DataError(f"checkpoint {path} is not a ROLO checkpoint (no model weights found)")


def _check_crc(path, data: bytes) -> None:
    """Refuse a checkpoint whose bytes changed after it was written.

    torch.save writes a zip archive; flipped bytes inside a tensor still load (as other
    weights), but its members' CRC-32s no longer match. Old-format (non-zip) files have no
    checksum and pass to torch.load as they are.
    """
    buf = io.BytesIO(data)
    if not zipfile.is_zipfile(buf):
        return
    try:
        with zipfile.ZipFile(buf) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise DataError(f"checkpoint {path} is damaged (its zip structure does not read: {e})") from None
    if bad is not None:
        raise DataError(f"checkpoint {path} is damaged: {bad} fails its CRC check (the file changed after it was "
                        f"written); retrain or restore it")


def _wrap_state_dict(path, sd: dict) -> dict:
    w = sd.get("lstm.weight_ih_l0")
    head_w = next((v for k, v in sd.items() if k.endswith("weight") and v.ndim == 2 and not k.startswith("lstm")), None)
    if w is None or head_w is None:
        raise DataError(f"checkpoint {path}: a state dict without the ROLO LSTM weights "
                        f"(keys: {', '.join(list(sd)[:6])}...)")
    hidden = w.shape[0] // 4
    out = head_w.shape[0]
    head = "coord" if out == 4 else "heatmap"
    feature_dim = w.shape[1] - head_dims(head)[0]
    # The report's code names the linear layer "fc"; ours is "head".
    renamed = {("head." + k.split(".", 1)[1]) if not k.startswith("lstm") else k: v for k, v in sd.items()}
    return {"model": renamed, "model_info": {"feature_dim": feature_dim, "hidden": hidden, "head": head},
            "settings": {}, "plain_state_dict": True}


#: SEQ_LEN of the report, assumed for a plain state dict that does not record it.
DEFAULT_SEQ_LEN = 6


def checkpoint_seq_len(ckpt: dict) -> int:
    """The window length the checkpoint was trained with."""
    return int(ckpt.get("seq_len") or ckpt.get("settings", {}).get("SEQ_LEN") or DEFAULT_SEQ_LEN)


def checkpoint_select(ckpt: dict) -> str:
    """The detection-choice rule the checkpoint was trained with (see :mod:`rolo.select`)."""
    return ckpt.get("settings", {}).get("SELECT", "confidence")


def build_from_checkpoint(ckpt: dict, path="checkpoint") -> ROLO:
    info = ckpt["model_info"]
    # Checkpoints from before the two options hold the report's model.
    model = ROLO(info["feature_dim"], info["hidden"], info["head"], info.get("inputs", "feature+box"),
                 bool(info.get("residual", False)))
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise DataError(f"checkpoint {path}: weights do not fit a ROLO model with {info} ({e})") from None
    return model


#: What an inference run (evaluation, Figure 7, the tracker) takes from its checkpoint: the model's
#: options, its window and detection rule, the extraction settings of the cache it was trained on,
#: and the report-code behaviours (:mod:`rolo.reportcode`).
INFERENCE_SETTINGS = ("HEAD", "SEQ_LEN", "SELECT", "INPUTS", "RESIDUAL", "IMG_SIZE", "CONF", "WEIGHTS")


def checkpoint_settings(ckpt: dict) -> dict:
    """The :data:`INFERENCE_SETTINGS` (and report-code switches) a checkpoint records.

    Extraction settings a checkpoint does not record (a plain state dict) are absent, so
    that the caller's value stands."""
    from .reportcode import SWITCHES

    info = ckpt["model_info"]
    out = {"HEAD": info["head"], "SEQ_LEN": checkpoint_seq_len(ckpt), "SELECT": checkpoint_select(ckpt),
           "INPUTS": info.get("inputs", "feature+box"), "RESIDUAL": bool(info.get("residual", False))}
    extraction = ckpt.get("extraction") or {}
    out.update({k: extraction[k] for k in ("IMG_SIZE", "CONF", "WEIGHTS", "DETECTOR") if extraction.get(k) is not None})
    settings = ckpt.get("settings", {})
    out.update({k: settings[k] for k in SWITCHES if k in settings})
    return out


def _same_setting(key: str, have, want) -> bool:
    if key == "WEIGHTS":  # the same file may sit elsewhere on the machine that runs the checkpoint
        return Path(str(have)).name == Path(str(want)).name
    if isinstance(have, float) or isinstance(want, float):
        return float(have) == float(want)
    return have == want


class Inference:
    """A checkpoint ready for inference: ``model`` (eval mode, on the device), ``ckpt`` (the dict),
    ``settings`` (:func:`checkpoint_settings`, with what the caller passed in ``expect`` where the
    checkpoint records nothing) and ``path``."""

    def __init__(self, model: ROLO, ckpt: dict, settings: dict, path: Path):
        self.model, self.ckpt, self.settings, self.path = model, ckpt, settings, path

    @property
    def seq_len(self) -> int:
        return self.settings["SEQ_LEN"]


def load_for_inference(path, expect: dict | None = None, *, device="cpu", feature_dim: int | None = None,
                       features_from: str = "the cache") -> Inference:
    """Rebuild the model of checkpoint ``path`` for inference, with every check in one place.

    ``expect``: settings the user set explicitly (flag name -> value, e.g. ``{"IMG_SIZE": 320}``);
    one that the checkpoint records otherwise raises :class:`ConfigError` naming both values.
    Settings left out of ``expect`` follow the checkpoint. ``feature_dim``: the feature size of
    the inputs at hand (``features_from`` names them in the error) -- a checkpoint trained on
    another size is refused with :class:`DataError`.
    """
    path = Path(path)
    ckpt = load_checkpoint(path)
    settings = checkpoint_settings(ckpt)
    for key, want in (expect or {}).items():
        if key in settings and not _same_setting(key, settings[key], want):
            raise ConfigError(f"--{key.lower()} {want} conflicts with checkpoint {path}, which was trained with "
                              f"{key}={settings[key]!r}; drop the flag to follow the checkpoint, or use a "
                              f"checkpoint trained with {key}={want!r}")
        settings.setdefault(key, want)
    have = ckpt["model_info"]["feature_dim"]
    if feature_dim is not None and have != feature_dim:
        raise DataError(f"checkpoint {path} expects {have}-d features, but {features_from} has {feature_dim}-d "
                        f"ones (extracted with other weights; yolov8s: 512, yolov8n: 256)")
    model = build_from_checkpoint(ckpt, path).to(device).eval()
    return Inference(model, ckpt, settings, path)


def given_settings(cfg, keys=INFERENCE_SETTINGS) -> dict:
    """The settings among ``keys`` that ``cfg`` (a :class:`rolo.config.Config`) got on the command line."""
    return {k: cfg[k] for k in keys if k in getattr(cfg, "given", ())}
