"""The report's code, where it does what the report's text does not say: switches that reproduce it.

The authors' released scripts (github.com/StefannyAC/ROLO-PyTorch: ``train.py``,
``train_exp3.py``, ``evaluation.py``, ``Heatmap/``) make the report's Tables 1-4, and in
five places they behave otherwise than our defaults (docs/reproduction.md tabulates them):

``ZERO_UNDETECTED``
    Their extractor stores an all-zero feature with the ``[0.5, 0.5, 0, 0]`` box on a frame
    without a detection; ours keeps the frame's real feature. Applied when the LSTM inputs are
    built, from ``detected.npy``, so a cache serves both modes.
``DROP_LAST_WINDOW``
    Their coordinate training loop cuts ``range(0, N - SEQ_LEN)`` windows per video: N - 6,
    the last window of every video never trains. Their evaluation and heatmap training cut
    ``N - SEQ_LEN + 1`` (N - 5), as we do everywhere.
``REPORT_HEATMAP``
    Section VI as coded: binary grids whose cell edges are truncated to integers
    (:func:`rolo.heatmap.box_to_grid_report_cxcywh_norm`), the loss on the last step only,
    windows whose last frame has no label dropped, and evaluation scoring each window's last
    step only.
``REPORT_CODE``
    All of the above, and evaluation's primary result scored as their ``evaluation.py`` does:
    every window's SEQ_LEN outputs against their frames (``MODE report``). Their loss already
    is ours: MSE on every labelled step of the window (the text says: the last frame's).

Each switch is a constant of the scripts whose numbers it moves; ``REPORT_CODE`` turns them
all on. A checkpoint records the resolved switches, and evaluation and tracking follow them
unless told otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

#: The switches, in the order docs/reproduction.md lists them; REPORT_CODE implies the others.
SWITCHES = ("REPORT_CODE", "ZERO_UNDETECTED", "DROP_LAST_WINDOW", "REPORT_HEATMAP")
#: The input box of a frame without a detection, in the cache and in the report's code.
NO_DETECTION_BOX = (0.5, 0.5, 0.0, 0.0)


@dataclass(frozen=True)
class Behaviour:
    """The resolved switches of one run (all False: our defaults)."""

    zero_undetected: bool = False
    drop_last_window: bool = False
    report_heatmap: bool = False
    report_scoring: bool = False

    @classmethod
    def from_settings(cls, settings: Mapping) -> "Behaviour":
        """From a script's constants or a checkpoint's settings; missing names are False."""
        everything = bool(settings.get("REPORT_CODE", False))
        return cls(zero_undetected=everything or bool(settings.get("ZERO_UNDETECTED", False)),
                   drop_last_window=everything or bool(settings.get("DROP_LAST_WINDOW", False)),
                   report_heatmap=everything or bool(settings.get("REPORT_HEATMAP", False)),
                   report_scoring=everything)

    @property
    def grid(self) -> str:
        """How boxes become heatmap grids: "soft" (exact cell overlap, ours) or "report"."""
        return "report" if self.report_heatmap else "soft"

    def last_step_only(self, head: str) -> bool:
        """Whether the loss and the score use each window's last step alone (their heatmap code)."""
        return head == "heatmap" and self.report_heatmap

    def drop_last(self, head: str) -> bool:
        """Whether training drops each video's last window (their coordinate loop; their heatmap one does not)."""
        return head == "coord" and self.drop_last_window

    def describe(self) -> str:
        on = [name for name, value in (("zero features without a detection", self.zero_undetected),
                                       ("N - SEQ_LEN training windows", self.drop_last_window),
                                       ("the report's heatmap variant", self.report_heatmap),
                                       ("every window output scored", self.report_scoring)) if value]
        return "report's code: " + ", ".join(on) if on else "our defaults"


def check_given(cfg) -> None:
    """Refuse ``--report_code true`` beside a switch it implies given as false: one of the two
    would be silently overruled (REPORT_CODE turns every switch on)."""
    from .errors import ConfigError

    given = getattr(cfg, "given", frozenset())
    if "REPORT_CODE" not in given or not cfg.get("REPORT_CODE"):
        return
    off = [f"--{name.lower()} false" for name in SWITCHES[1:] if name in given and name in cfg and not cfg[name]]
    if off:
        raise ConfigError(f"--report_code true turns on every switch of the report's code, but {', '.join(off)} "
                          f"{'turns one' if len(off) == 1 else 'turn some'} off; drop --report_code and give the "
                          f"switches you want one by one")


def resolved(settings: Mapping) -> dict:
    """The switches as a checkpoint records them: each one's effective value."""
    b = Behaviour.from_settings(settings)
    return {"REPORT_CODE": b.report_scoring, "ZERO_UNDETECTED": b.zero_undetected,
            "DROP_LAST_WINDOW": b.drop_last_window, "REPORT_HEATMAP": b.report_heatmap}


def folder_first_image(spec) -> int:
    """The number of the first image in a sequence's ``img`` folder, from OTB-100's frame table
    (:func:`rolo.otb.frame_table`): the note names the folder's range where it differs from the
    annotated frames ("img dir has 0001-0770", "image files numbered 0247-0988"); otherwise the
    folder starts at the first annotated image."""
    import re

    m = re.search(r"(?:img dir has|image files numbered) (\d+)-(\d+)", spec.note or "")
    return int(m.group(1)) if m else spec.start_frame


def report_pairing_shift(spec) -> int:
    """How many images the report's pairing is off by on a sequence: it pairs the i-th sorted image
    of the folder with ground-truth line i (both truncated to the shorter), whereas line i belongs to
    image ``start_frame + i - 1``. 0 means the two pairings are the same; extra images at the end of
    a folder (Diving) are cut by the truncation and shift nothing."""
    return spec.start_frame - folder_first_image(spec)
