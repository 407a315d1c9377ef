"""What every dataset loader gives, and the readers they share.

A loader turns a dataset folder *as distributed* into :class:`Sequence` objects;
each dataset's quirks live in its own module (see :mod:`rolo.datasets`).
Boxes are ``xywh`` pixels (:mod:`rolo.boxes`) in the dataset's own convention;
a frame the dataset gives no box for holds NaN. ``visible`` is False where the
dataset marks the target absent, fully occluded or out of view, or gives a
NaN or empty box: those frames are never trained on, and each benchmark's
protocol decides whether they are scored (:mod:`rolo.metrics`).
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError, DataErrors

#: Messages named per error before "and N more".
SHOW = 10


@dataclass
class Sequence:
    """One tracking target: ``frames[i]`` is paired with ``boxes_xywh[i]`` and ``visible[i]``.

    ``frame_numbers`` are the dataset's own image numbers (OTB's 0001.jpg is 1,
    TrackingNet's 0.jpg is 0); ``attributes`` holds whatever else the dataset
    says about the sequence (class, per-frame labels). ``gt`` is the old name of
    ``boxes_xywh``.
    """
    name: str
    frames: list
    boxes_xywh: np.ndarray
    visible: np.ndarray | None = None
    frame_numbers: np.ndarray | None = None
    gt_path: Path | None = None
    spec: object = field(default=None, repr=False)
    attributes: dict = field(default_factory=dict, repr=False)
    dataset: str = ""

    def __post_init__(self):
        self.frames = [Path(p) for p in self.frames]
        self.boxes_xywh = np.asarray(self.boxes_xywh, dtype=np.float64).reshape(-1, 4)
        n = len(self.frames)
        if len(self.boxes_xywh) != n:
            raise DataError(f"{self.name}: {len(self.boxes_xywh)} boxes for {n} frames"
                            + (f" ({self.gt_path})" if self.gt_path else ""))
        has_box = box_present(self.boxes_xywh)
        self.visible = has_box if self.visible is None else np.asarray(self.visible, bool) & has_box
        if self.frame_numbers is None:
            self.frame_numbers = np.arange(1, n + 1)
        self.frame_numbers = np.asarray(self.frame_numbers)

    @property
    def gt(self) -> np.ndarray:
        return self.boxes_xywh

    def __len__(self) -> int:
        return len(self.frames)

    def image_size(self) -> tuple[int, int]:
        """(width, height) of the first frame, decoded (a damaged first frame raises DataError)."""
        from ..otb import load_image

        h, w = load_image(self.frames[0]).shape[:2]
        return w, h

    def frame_sizes(self) -> np.ndarray:
        """(N, 2) int (width, height) of every frame, read from the image headers (no decoding).

        GOT-10k has videos whose resolution changes mid-video; boxes are
        normalised by each frame's own size.
        """
        cached = self.__dict__.get("_sizes")
        if cached is None:
            from PIL import Image

            sizes = []
            for p in self.frames:
                try:
                    with Image.open(p) as im:
                        sizes.append(im.size)
                except (OSError, ValueError) as e:
                    raise DataError(f"{self.name}: cannot read the size of image {p}: {e}") from None
            cached = self.__dict__["_sizes"] = np.asarray(sizes, dtype=np.int64).reshape(-1, 2)
        return cached


def box_present(boxes_xywh: np.ndarray) -> np.ndarray:
    """(N,) bool for (N, 4) ``xywh`` boxes: all four finite and width, height > 0."""
    b = np.asarray(boxes_xywh, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(b).all(axis=1) & (b[:, 2] > 0) & (b[:, 3] > 0)


class Problems:
    """The independent checks of one sequence, run to the end: each ``with problems.check():``
    block that raises a :class:`DataError` is recorded, and :meth:`raise_any` raises them together
    (:class:`DataErrors`), so that ``check_dataset.py`` names every problem of a damaged video."""

    def __init__(self):
        self.messages: list[str] = []

    @contextmanager
    def check(self):
        try:
            yield
        except DataErrors as e:
            self.messages += e.messages
        except DataError as e:
            self.messages.append(str(e))

    def raise_any(self) -> None:
        if len(self.messages) == 1:
            raise DataError(self.messages[0])
        if self.messages:
            raise DataErrors(self.messages)


_SPLIT = re.compile(r"[,\t ]+")


def _raise_bad(path: Path, bad: list[str]) -> None:
    if bad:
        more = f"\n... and {len(bad) - SHOW} more bad lines in {path}" if len(bad) > SHOW else ""
        raise DataError("\n".join(bad[:SHOW]) + more)


def read_boxes(path, *, allow_nan: bool = False, what: str = "x,y,w,h") -> np.ndarray:
    """Read a box file (one ``x,y,w,h`` line per frame; comma, tab or space delimited) as (N, 4) float64.

    ``allow_nan``: the dataset writes ``NaN`` rows for frames without a box
    (UAV123); elsewhere a NaN is an error. Also OTB's reader
    (:func:`rolo.otb.parse_groundtruth`); non-positive sizes are kept. Every bad line is named, with the
    file and line, in one :class:`DataError`. Blank lines are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"ground-truth file not found: {path}")
    text = path.read_text(encoding="utf-8", errors="replace")
    rows, bad = [], []
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        parts = [p for p in _SPLIT.split(s) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            bad.append(f"{path}, line {lineno}: cannot parse {s!r} as {what}")
            continue
        if len(values) != 4:
            bad.append(f"{path}, line {lineno}: expected 4 numbers ({what}), got {len(values)}: {s!r}")
        elif np.isinf(values).any() or (np.isnan(values).any() and not allow_nan):
            bad.append(f"{path}, line {lineno}: non-finite value in {s!r}")
        else:
            rows.append(values)
    _raise_bad(path, bad)
    if not rows:
        raise DataError(f"{path}: no ground-truth boxes in file")
    return np.asarray(rows, dtype=np.float64)


def first_box_only(rows: np.ndarray, n: int, gt_path, what: str) -> tuple[np.ndarray, np.ndarray]:
    """A test split's annotation (frame 1's box only) as (n, 4) boxes, NaN after frame 1, and (n,) visible."""
    if len(rows) != 1:
        raise DataError(f"{gt_path}: a {what} test sequence has the first frame's box only, found {len(rows)} rows")
    boxes = np.full((n, 4), np.nan)
    boxes[0] = rows[0]
    return boxes, np.arange(n) == 0


def read_labels(path, n: int | None, *, low: int = 0, high: int = 1) -> np.ndarray:
    """Per-frame integer labels (one per line, or comma-separated on one line) as (n,) int64.

    A missing file, a value that is not an integer in ``[low, high]`` or a
    count other than ``n`` raises :class:`DataError` naming the file (and line).
    ``n=None`` checks the file alone (its frame count is not known: the boxes did not read).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"label file not found: {path}")
    values, bad = [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        for part in (p for p in _SPLIT.split(line.strip()) if p):
            try:
                v = float(part)
            except ValueError:
                v = float("nan")
            if not (v == int(v) if np.isfinite(v) else False) or not low <= v <= high:
                bad.append(f"{path}, line {lineno}: {part!r} is not an integer label in {low}..{high}")
                continue
            values.append(int(v))
    _raise_bad(path, bad)
    if n is not None and len(values) != n:
        raise DataError(f"{path}: {len(values)} labels for {n} frames")
    return np.asarray(values, dtype=np.int64)


def numbered_images(folder, *, ext: str = ".jpg", start: int | None = None) -> tuple[list[Path], np.ndarray]:
    """The ``<number><ext>`` images of ``folder`` in numeric order, and their numbers.

    ``start``: the number the dataset's first image has (0 or 1); the numbers
    must then run ``start, start+1, ...`` without a gap, else :class:`DataError`
    names the first missing image. Alphabetical order is never used:
    ``10.jpg`` sorts after ``9.jpg``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"image folder not found: {folder}")
    found = {}
    for p in folder.iterdir():
        if p.suffix.lower() == ext and p.stem.isdigit():
            found[int(p.stem)] = p
    if not found:
        raise DataError(f"no {ext} images in {folder}")
    numbers = np.array(sorted(found))
    if start is not None:
        expected = np.arange(start, start + len(numbers))
        if not np.array_equal(numbers, expected):
            missing = np.setdiff1d(expected, numbers)
            first = missing[0] if len(missing) else numbers[numbers != expected][0]
            raise DataError(f"{folder}: images must be numbered from {start} without gaps; "
                            f"image {first} is missing ({len(numbers)} images, last {numbers[-1]})")
    return [found[i] for i in numbers], numbers


class Dataset:
    """A dataset split on disk. ``names()`` in the dataset's order; ``ds[name]`` a :class:`Sequence`.

    Subclasses set ``name``, ``title``, ``splits`` (``None`` for a dataset with
    one split) and ``layout``, and implement :meth:`names` and :meth:`__getitem__`.
    """
    name = ""
    title = ""
    splits: tuple = (None,)
    layout = ""
    root_hint = ""
    #: Frames of one video may differ in size: boxes are normalised by each frame's own.
    varying_sizes = False
    #: The benchmark scores frames whose target is hidden but annotated (OTB, LaSOT, TrackingNet,
    #: UAV123, NfS: every frame with a box); False: only visible frames (GOT-10k).
    score_hidden = True

    def __init__(self, root, split=None):
        split = split or None
        if split not in self.splits:
            named = [repr(s) for s in self.splits if s is not None]
            if not named:
                raise ConfigError(f"dataset {self.name!r} has no splits, so no split {split!r}; leave the split empty")
            if split is None:
                raise ConfigError(f"dataset {self.name!r} needs a split: choose one of {', '.join(named)}")
            raise ConfigError(f"dataset {self.name!r} has no split {split!r}; choose one of {', '.join(named)}"
                              + (", or leave it empty" if None in self.splits else ""))
        self.root = Path(root)
        self.split = split

    def require_root(self) -> Path:
        if not self.root.is_dir():
            raise DataError(f"{self.title} root folder not found: {self.root} ({self.root_hint})")
        return self.root

    def names(self) -> list[str]:
        raise NotImplementedError

    def __getitem__(self, name: str) -> Sequence:
        raise NotImplementedError

    def sequences(self) -> list[Sequence]:
        return [self[n] for n in self.names()]
