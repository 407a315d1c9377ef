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

from ..errors import DataError
from .base import Dataset, Sequence, first_box_only, numbered_images, read_boxes, read_labels

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
        names = [s.strip() for s in list_file.read_text(encoding="utf-8").splitlines() if s.strip()]
        if not names:
            raise DataError(f"{list_file}: the list is empty")
        return names

    def __getitem__(self, name: str) -> Sequence:
        d = self.root / self.split / name
        if not d.is_dir():
            raise DataError(f"GOT-10k sequence folder not found: {d} (listed in {d.parent / 'list.txt'})")
        frames, numbers = numbered_images(d, start=1)
        gt_path = d / "groundtruth.txt"
        rows = read_boxes(gt_path)
        meta = read_meta_info(d / "meta_info.ini")
        if self.split == "test":
            boxes, visible = first_box_only(rows, len(frames), gt_path, "GOT-10k")
            return Sequence(name=name, frames=frames, boxes_xywh=boxes, visible=visible, frame_numbers=numbers,
                            gt_path=gt_path, dataset=self.name, attributes={"meta": meta, "first_box_only": True})
        if len(rows) != len(frames):
            raise DataError(f"{gt_path}: {len(rows)} rows for {len(frames)} images in {d}")
        absent = read_labels(d / "absence.label", len(rows))
        cover = read_labels(d / "cover.label", len(rows), high=COVER_MAX)
        boxes = np.where((rows == -1).all(axis=1, keepdims=True), np.nan, rows)
        return Sequence(name=name, frames=frames, boxes_xywh=boxes, visible=(absent == 0) & (cover > 0),
                        frame_numbers=numbers, gt_path=gt_path, dataset=self.name,
                        attributes={"meta": meta, "absence": absent.astype(bool), "cover": cover})
