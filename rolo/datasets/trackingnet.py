"""TrackingNet (Müller et al., ECCV 2018) as distributed, in chunks.

Layout under the root (the folder holding ``TRAIN_0`` .. ``TRAIN_11`` and ``TEST``)::

    TRAIN_<k>/frames/<video>/0.jpg, 1.jpg, ...   numbered from 0, without zero padding
    TRAIN_<k>/anno/<video>.txt                   x,y,w,h per frame
    TEST/frames/<video>/0.jpg ...
    TEST/anno/<video>.txt                        the first frame's box only

Frames are read in numeric order (``10.jpg`` after ``9.jpg``, not after
``1.jpg`` as alphabetical order would have it). The ``train`` split holds the
chunks present under the root (they are downloaded one by one); ``test`` is
``TEST``. Test videos carry frame 0's box, the rest NaN and not visible.
"""
from __future__ import annotations

from ..errors import DataError
from .base import Dataset, Problems, Sequence, first_box_only, numbered_images, read_boxes

TRAIN_CHUNKS = tuple(f"TRAIN_{k}" for k in range(12))


class TrackingNet(Dataset):
    name = "trackingnet"
    title = "TrackingNet"
    splits = ("train", "test")
    layout = "TRAIN_<k>/frames/<video>/0.jpg, TRAIN_<k>/anno/<video>.txt; TEST/..."
    root_hint = "the folder holding TRAIN_0 .. TRAIN_11 and TEST"

    def chunks(self) -> list[str]:
        self.require_root()
        wanted = TRAIN_CHUNKS if self.split == "train" else ("TEST",)
        present = [c for c in wanted if (self.root / c / "anno").is_dir()]
        if not present:
            raise DataError(f"no TrackingNet {self.split} chunk under {self.root} "
                            f"(expected {self.root / wanted[0] / 'anno'})")
        return present

    def _index(self) -> dict:
        if "_where" not in self.__dict__:
            where = {}
            for c in self.chunks():
                for p in sorted((self.root / c / "anno").glob("*.txt")):
                    where[p.stem] = c
            self.__dict__["_where"] = where
        return self.__dict__["_where"]

    def names(self) -> list[str]:
        names = list(self._index())
        if not names:
            raise DataError(f"no annotation files in the TrackingNet {self.split} chunks under {self.root}")
        return names

    def __getitem__(self, name: str) -> Sequence:
        chunk = self._index().get(name)
        if chunk is None:
            raise DataError(f"TrackingNet {self.split} video {name!r} not found under {self.root} (no anno/{name}.txt)")
        gt_path = self.root / chunk / "anno" / f"{name}.txt"
        problems = Problems()
        frames = rows = None
        with problems.check():
            frames, numbers = numbered_images(self.root / chunk / "frames" / name, start=0)
        with problems.check():
            rows = read_boxes(gt_path)
        if frames is not None and rows is not None:
            if self.split == "test":
                with problems.check():
                    boxes, visible = first_box_only(rows, len(frames), gt_path, "TrackingNet")
            elif len(rows) != len(frames):
                problems.messages.append(f"{gt_path}: {len(rows)} rows for {len(frames)} images in "
                                         f"{self.root / chunk / 'frames' / name}")
            else:
                boxes, visible = rows, None
        problems.raise_any()
        return Sequence(name=name, frames=frames, boxes_xywh=boxes, visible=visible, frame_numbers=numbers,
                        gt_path=gt_path, dataset=self.name,
                        attributes={"chunk": chunk, "first_box_only": self.split == "test"})
