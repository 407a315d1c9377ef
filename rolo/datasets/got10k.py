"""GOT-10k (Huang et al., TPAMI 2019) as distributed.

Layout under the root (the folder holding ``train/``, ``val/`` and ``test/``)::

    <split>/list.txt                       the split's sequence names, in order
    <split>/<seq>/00000001.jpg ...
    <split>/<seq>/groundtruth.txt          x,y,w,h per frame; test: the first frame's only
    <split>/<seq>/absence.label            1 where the target is absent (train, val)
    <split>/<seq>/cover.label              visible fraction 0..8 (0: fully hidden) (train, val)
    <split>/<seq>/meta_info.ini            object class, motion, resolution (optional here)

Visible: not absent and cover > 0 (and a box with area); a ``-1,-1,-1,-1``
row (how some absent frames are written) becomes NaN. Test sequences carry
one box: frame 1's, the rest NaN and not visible (results go to the server).
Some videos change resolution mid-video (``GOT-10k_Val_000136``): boxes are
normalised by each frame's own size (:meth:`Sequence.frame_sizes`).
"""
from __future__ import annotations

import numpy as np

from ..cache import name_problem
from ..errors import DataError
from .base import Dataset, Problems, Sequence, first_box_only, numbered_images, read_boxes, read_labels

#: cover.label's scale: 0 (fully occluded) .. 8 (fully visible).
COVER_MAX = 8


def read_meta_info(path) -> dict:
    """``key: value`` lines of a ``meta_info.ini`` (its first line is a section header)."""
    out = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[1:]:
            if ": " in line:
                k, v = line.split(": ", 1)
                out[k.strip()] = v.strip()
    return out


class GOT10k(Dataset):
    name = "got10k"
    title = "GOT-10k"
    splits = ("train", "val", "test")
    varying_sizes = True
    # Huang et al. (TPAMI 2019) section 5 and the toolkit's report(): only frames with cover > 0 count.
    score_hidden = False
    layout = "<split>/list.txt, <split>/<seq>/00000001.jpg, groundtruth.txt, absence.label, cover.label"
    root_hint = "the folder holding train/, val/ and test/"

    def names(self) -> list[str]:
        self.require_root()
        list_file = self.root / self.split / "list.txt"
        if not list_file.is_file():
            raise DataError(f"GOT-10k split list not found: {list_file}")
        names = []
        for lineno, line in enumerate(list_file.read_text(encoding="utf-8").splitlines(), start=1):
            name = line.strip()
            if not name:
                continue
            problem = name_problem(name)
            if problem:  # joined as given, a path would put the cache folder outside DATA_DIR/<split>
                raise DataError(f"{list_file}, line {lineno}: {name!r} {problem}; list each video by its folder name")
            names.append(name)
        if not names:
            raise DataError(f"{list_file}: the list is empty")
        return names

    def __getitem__(self, name: str) -> Sequence:
        d = self.root / self.split / name
        if not d.is_dir():
            raise DataError(f"GOT-10k sequence folder not found: {d} (listed in {d.parent / 'list.txt'})")
        gt_path = d / "groundtruth.txt"
        problems = Problems()
        frames = rows = meta = None
        with problems.check():
            frames, numbers = numbered_images(d, start=1)
        with problems.check():
            rows = read_boxes(gt_path)
        with problems.check():
            meta = read_meta_info(d / "meta_info.ini")
        if self.split == "test":
            if frames is not None and rows is not None:
                with problems.check():
                    boxes, visible = first_box_only(rows, len(frames), gt_path, "GOT-10k")
            problems.raise_any()
            return Sequence(name=name, frames=frames, boxes_xywh=boxes, visible=visible, frame_numbers=numbers,
                            gt_path=gt_path, dataset=self.name, attributes={"meta": meta, "first_box_only": True})
        if frames is not None and rows is not None and len(rows) != len(frames):
            problems.messages.append(f"{gt_path}: {len(rows)} rows for {len(frames)} images in {d}")
        n = None if rows is None else len(rows)
        labels = {}
        for key, high in (("absence", 1), ("cover", COVER_MAX)):
            with problems.check():
                labels[key] = read_labels(d / f"{key}.label", n, high=high)
        problems.raise_any()
        absent, cover = labels["absence"], labels["cover"]
        boxes = np.where((rows == -1).all(axis=1, keepdims=True), np.nan, rows)
        return Sequence(name=name, frames=frames, boxes_xywh=boxes, visible=(absent == 0) & (cover > 0),
                        frame_numbers=numbers, gt_path=gt_path, dataset=self.name,
                        attributes={"meta": meta, "absence": absent.astype(bool), "cover": cover})
