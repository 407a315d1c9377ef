"""UAV123 (Mueller et al., ECCV 2016) as distributed.

Layout under the root (the folder holding ``data_seq/`` and ``anno/``)::

    data_seq/UAV123/<folder>/000001.jpg ...
    anno/UAV123/<seq>.txt                x,y,w,h per frame; NaN,NaN,NaN,NaN where the target is out of view

Several sequences are cut from one image folder (``bird1_1``, ``bird1_2``,
``bird1_3`` all read ``data_seq/UAV123/bird1``; ``car1_1`` ends on the frame
``car1_2`` starts on). The authors' frame table (their ``configSeqs.m``; also
in pytracking's ``uavdataset.py`` and got10k's ``uav123.json``) is shipped as
``rolo/data/uav123_frames.tsv``: name, image folder, first and last image.
One split (``None``): the table's sequences whose annotation file is present, in
the table's order (:meth:`UAV123.missing` names the others).
Visible: a finite box with area (NaN rows are absent frames).
"""
from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from ..errors import DataError
from .base import Dataset, Problems, Sequence, read_boxes

NZ = 6


@lru_cache(maxsize=1)
def frame_table() -> dict[str, tuple[str, int, int]]:
    """name -> (image folder, first image, last image), the 123 UAV123 sequences in order."""
    text = resources.files("rolo").joinpath("data/uav123_frames.tsv").read_text(encoding="utf-8")
    return {r["name"]: (r["img_dir"], int(r["start_frame"]), int(r["end_frame"]))
            for r in csv.DictReader(text.splitlines(), delimiter="\t")}


class UAV123(Dataset):
    name = "uav123"
    title = "UAV123"
    layout = ("data_seq/UAV123/<folder>/000001.jpg, anno/UAV123/<seq>.txt "
              "(start/end frames: rolo/data/uav123_frames.tsv)")
    root_hint = "the folder holding data_seq/ and anno/"

    def names(self) -> list[str]:
        self.require_root()
        present = [n for n in frame_table() if self._anno(n).is_file()]
        if not present:
            raise DataError(f"no UAV123 annotation under {self.root} (expected e.g. {self._anno('bike1')})")
        return present

    def missing(self) -> list[str]:
        return [n for n in frame_table() if not self._anno(n).is_file()]

    def _anno(self, name: str):
        return self.root / "anno" / "UAV123" / f"{name}.txt"

    def __getitem__(self, name: str) -> Sequence:
        if name not in frame_table():
            raise DataError(f"{name!r} is not a UAV123 sequence (see rolo/data/uav123_frames.tsv)")
        folder, start, end = frame_table()[name]
        gt_path = self._anno(name)
        problems = Problems()
        with problems.check():
            boxes = read_boxes(gt_path, allow_nan=True)
            if len(boxes) != end - start + 1:
                raise DataError(f"{gt_path}: {len(boxes)} rows, but UAV123's {name} spans images {start}-{end} "
                                f"({end - start + 1} frames) of data_seq/UAV123/{folder}")
        img_dir = self.root / "data_seq" / "UAV123" / folder
        frames = [img_dir / f"{i:0{NZ}d}.jpg" for i in range(start, end + 1)]
        absent = [p for p in frames if not p.is_file()]
        if absent:
            problems.messages.append(f"{name}: {len(absent)} of its {len(frames)} images are missing, "
                                     f"first {absent[0]}")
        problems.raise_any()
        return Sequence(name=name, frames=frames, boxes_xywh=boxes, frame_numbers=range(start, end + 1),
                        gt_path=gt_path, dataset=self.name, attributes={"folder": folder})
