"""OTB-100 as distributed: every quirk of the benchmark lives in this module.

Layout: ``<root>/<Seq>/img/0001.jpg ...`` and ``<root>/<Seq>/groundtruth_rect.txt``
(boxes in ``xywh`` pixels, see :mod:`rolo.boxes`).

The frame table ``data/otb100_frames.tsv`` (from the OTB authors' sequence
configuration, cross-checked against pytracking and got10k) gives, per
sequence, the image folder, the first and last image number that have ground
truth, the ground-truth file, the digits in file names and the extension. It
covers the quirks: David's ground truth starts at image 300; Diving, Football1,
Freeman3 and Freeman4 have more images than ground truth; BlurCar1/3/4 start at
image 0247/0003/0018; Board uses 5-digit names; Jogging and Skating2 hold two
targets (``Jogging-1``/``Jogging-2``); Human4 uses ``groundtruth_rect.2.txt``.

Ground-truth line ``i`` (1-based) always belongs to image ``start_frame + i - 1``.
A count that disagrees with the table is an error, never a silent truncation.
Names not in the table use the plain rule: all images of ``<Seq>/img`` in
natural order (``2.jpg`` before ``10.jpg``, see :func:`natural_key`), one
ground-truth line each.
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from .cache import name_problem
from .datasets.base import Sequence, read_boxes  # Sequence: its old home; the name stays importable
from .errors import DataError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
#: Names users type for the sequences the table knows under a suffixed name.
ALIASES = {"Human4": "Human4-2"}
#: Folders that hold two targets: the bare name is ambiguous.
TWO_TARGETS = {"Jogging": ("Jogging-1", "Jogging-2"), "Skating2": ("Skating2-1", "Skating2-2")}


@dataclass(frozen=True)
class FrameSpec:
    """One row of the OTB-100 frame table."""
    name: str
    img_dir: str
    start_frame: int
    end_frame: int
    gt_file: str
    nz: int
    ext: str
    init_omit: int = 0
    note: str = ""

    @property
    def length(self) -> int:
        return self.end_frame - self.start_frame + 1


@lru_cache(maxsize=1)
def frame_table() -> dict[str, FrameSpec]:
    """The 100 OTB-100 targets (98 image folders: Jogging and Skating2 hold two), keyed by name."""
    text = resources.files("rolo").joinpath("data/otb100_frames.tsv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    table = {}
    for r in rows:
        table[r["name"]] = FrameSpec(
            name=r["name"], img_dir=r["img_dir"], start_frame=int(r["start_frame"]),
            end_frame=int(r["end_frame"]), gt_file=r["gt_file"], nz=int(r["nz"]), ext=r["ext"],
            init_omit=int(r["init_omit"] or 0), note=r.get("note") or "")
    return table


_DIGITS = re.compile(r"(\d+)")


def natural_key(path) -> list:
    """Sort key that orders file names by their numbers: ``2.jpg`` before ``10.jpg``.

    Text order would pair ground-truth line 2 with ``10.jpg`` when names are not
    zero-padded; every place that lists frames sorts with this key.
    """
    return [int(t) if t.isdigit() else t.lower() for t in _DIGITS.split(Path(path).name)]


def list_images(folder) -> list[Path]:
    """The image files of ``folder`` (:data:`IMAGE_EXTS`) in :func:`natural_key` order."""
    return sorted((p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_EXTS), key=natural_key)


def parse_groundtruth(path) -> np.ndarray:
    """Read an OTB ground-truth file into an (N, 4) float64 ``xywh`` array.

    Accepts comma, tab or whitespace delimiters (mixed too), CRLF line ends,
    a missing final newline and blank lines. A line that is not four numbers,
    or holds NaN/inf, raises :class:`DataError` naming the file and line;
    every bad line of the file is named in the one error.
    Non-positive widths or heights are kept (OTB has a few); the metrics
    exclude those frames, see :mod:`rolo.metrics`.
    """
    return read_boxes(path)


def read_list(path) -> list[str]:
    """Sequence names from a list file, one per line; blank lines and ``#`` comments skipped.

    The file is UTF-8 (a BOM is allowed) or UTF-16 with its BOM; other bytes are an
    error naming the line. Names are normalised as paths (``./Alpha`` and ``Alpha/``
    are ``Alpha``), so one video listed under two spellings is seen as listed twice. A name must be
    one folder name (:func:`rolo.cache.name_problem`): an absolute path, ``..`` or ``a/b`` is an
    error naming the line, as the cache folder ``<OUT_DIR>/<split>/<name>`` would lie elsewhere.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"sequence list {path} is a folder, not a list file (one sequence name per line)")
    if not path.is_file():
        raise DataError(f"sequence list not found: {path}")
    data = path.read_bytes()
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: not {encoding.upper().replace('-SIG', '')} text (byte "
                        f"0x{data[e.start]:02x}); save the list as UTF-8") from None
    names = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.split("#", 1)[0].strip()
        if s:
            name = os.path.normpath(s)
            problem = name_problem(name)
            if problem:  # a path would be joined as given: <out_dir>/train/<absolute> IS the sequence folder
                raise DataError(f"{path}, line {lineno}: {s!r} {problem}; list each sequence by its folder "
                                f"name under the OTB root (e.g. 'Crossing')")
            names.append(name)
    if not names:
        raise DataError(f"{path}: the sequence list is empty")
    return names


def load_image(path) -> np.ndarray:
    """Read a frame as an HxWx3 BGR uint8 array; greyscale JPEGs become 3 channels.

    Raises :class:`DataError` naming the file when it is missing, empty, not
    a decodable image, or a JPEG cut short (no end-of-image marker near its
    end: some OpenCV builds decode such a file, greying out the missing rows).
    """
    import cv2

    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DataError(f"image not found: {path}") from None
    if size == 0:
        raise DataError(f"image is empty (0 bytes): {path}")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"cannot decode image (corrupt or not an image): {path}")
    if path.suffix.lower() in (".jpg", ".jpeg") and not _jpeg_complete(path, size):
        raise DataError(f"image is truncated (JPEG without its end-of-image marker): {path}")
    return img


def _jpeg_complete(path: Path, size: int) -> bool:
    """True when the JPEG's end-of-image marker FFD9 lies in its last KiB.

    Entropy-coded data never holds FFD9 (0xFF bytes are stuffed), so a file
    cut short ends without it; the KiB allows for the padding some cameras append.
    """
    with open(path, "rb") as f:
        f.seek(max(0, size - 1024))
        return b"\xff\xd9" in f.read()


def _name_hint(root: Path, name: str) -> str:
    """For a name with no folder: it is not an OTB-100 name, and the closest one, for a typo."""
    import difflib

    known = set(frame_table()) | set(ALIASES) | set(TWO_TARGETS)
    known |= {p.name for p in root.iterdir() if p.is_dir()}
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" ({name!r} is not an OTB-100 sequence" + (f"; did you mean {close[0]!r}?)" if close else ")")


class OTB:
    """An OTB-100 root folder. ``OTB(root)["Car4"]`` gives a :class:`Sequence`.

    ``strict`` (default) requires each table sequence to have exactly the
    table's number of ground-truth lines. ``strict=False`` accepts a shortened
    copy (the first N frames, as in ``shared/otb_sample``), still pairing line
    ``i`` with image ``start_frame + i - 1`` and still requiring every image.
    """

    def __init__(self, root, strict: bool = True):
        self.root = Path(root)
        self.strict = strict

    def resolve_name(self, name: str) -> str:
        if name in TWO_TARGETS:
            a, b = TWO_TARGETS[name]
            raise DataError(f"sequence {name!r} has two targets; list it as {a!r} or {b!r}")
        return ALIASES.get(name, name)

    def __getitem__(self, name: str) -> Sequence:
        if not self.root.is_dir():
            raise DataError(f"OTB root folder not found: {self.root} (set OTB_ROOT / --otb_root)")
        key = self.resolve_name(name)
        spec = frame_table().get(key)
        if spec is None:
            return self._plain(name)
        return self._from_spec(name, spec)

    def _from_spec(self, name: str, spec: FrameSpec) -> Sequence:
        img_dir = self.root / spec.img_dir
        gt_path = self.root / spec.gt_file
        if not img_dir.is_dir():
            raise DataError(f"{name}: image folder not found: {img_dir}")
        gt = parse_groundtruth(gt_path)
        n = len(gt)
        counts = (f"{gt_path}: {n} ground-truth lines, but OTB-100's {spec.name} has {spec.length} "
                  f"(images {spec.start_frame}-{spec.end_frame})")
        if n > spec.length:
            raise DataError(counts)
        if n < spec.length and self.strict:
            raise DataError(f"{counts}; a shortened copy (its first frames) is read with --strict_frames false")
        numbers = np.arange(spec.start_frame, spec.start_frame + n)
        exts = [spec.ext] + [e.lstrip(".") for e in IMAGE_EXTS if e.lstrip(".") != spec.ext]
        frames = []
        for num in numbers:
            stem = f"{num:0{spec.nz}d}"
            for ext in exts:
                p = img_dir / f"{stem}.{ext}"
                if p.is_file():
                    break
            else:
                raise DataError(f"{name}: image for ground-truth line {num - spec.start_frame + 1} "
                                f"not found: {img_dir / f'{stem}.{spec.ext}'}")
            frames.append(p)
        return Sequence(name=name, frames=frames, boxes_xywh=gt, frame_numbers=numbers, gt_path=gt_path, spec=spec)

    def _plain(self, name: str) -> Sequence:
        seq_dir = self.root / name
        img_dir = seq_dir / "img"
        gt_path = seq_dir / "groundtruth_rect.txt"
        if not seq_dir.is_dir():
            raise DataError(f"sequence folder not found: {seq_dir}{_name_hint(self.root, name)}")
        if not img_dir.is_dir():
            raise DataError(f"{name}: image folder not found: {img_dir}")
        frames = list_images(img_dir)
        if not frames:
            raise DataError(f"{name}: no images in {img_dir}")
        gt = parse_groundtruth(gt_path)
        if len(gt) != len(frames):
            raise DataError(f"{gt_path}: {len(gt)} ground-truth lines for {len(frames)} images in {img_dir}")
        numbers = []
        for i, p in enumerate(frames):
            digits = re.sub(r"\D", "", p.stem)
            numbers.append(int(digits) if digits else i + 1)
        return Sequence(name=name, frames=frames, boxes_xywh=gt, frame_numbers=np.asarray(numbers), gt_path=gt_path)

    def check(self, names) -> list[str]:
        """Every problem with ``names`` under this root, at once (no images decoded)."""
        problems = []
        for name in names:
            try:
                seq = self[name]
                for p in seq.frames:
                    if p.stat().st_size == 0:
                        problems.append(f"{name}: image is empty (0 bytes): {p}")
            except DataError as e:
                problems.append(str(e))
        return problems
