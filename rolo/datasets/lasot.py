"""LaSOT (Fan et al., CVPR 2019) as distributed, one zip per class.

Layout under the root (the folder of class folders)::

    <class>/<class>-<n>/img/00000001.jpg ...
    <class>/<class>-<n>/groundtruth.txt      x,y,w,h per frame (comma-separated)
    <class>/<class>-<n>/full_occlusion.txt   one line: 0/1 per frame, comma-separated
    <class>/<class>-<n>/out_of_view.txt      likewise

Splits: ``test`` is Protocol II's testing set, 280 videos (4 of each of the 70
classes), shipped as ``rolo/data/lasot_test.txt``; ``train`` is the other 1,120
videos (``<class>-1`` .. ``<class>-20`` of the same classes). LaSOT is
downloaded class by class, so a split holds the videos of its list that are
present under the root; :meth:`LaSOT.missing` names the others.

Visible: not fully occluded and not out of view (and a box with area).
Quirk: some videos hold more images than ground-truth rows; as the official
toolkit does, row ``i`` pairs with image ``i`` and the images past the last
row are not read. Fewer images than rows is an error.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

from ..errors import DataError
from .base import Dataset, Problems, Sequence, read_boxes, read_labels

VIDEOS_PER_CLASS = 20


@lru_cache(maxsize=1)
def test_names() -> tuple[str, ...]:
    text = resources.files("rolo").joinpath("data/lasot_test.txt").read_text(encoding="utf-8")
    return tuple(s for s in (line.split("#", 1)[0].strip() for line in text.splitlines()) if s)


@lru_cache(maxsize=1)
def train_names() -> tuple[str, ...]:
    test = set(test_names())
    classes = dict.fromkeys(n.rsplit("-", 1)[0] for n in test_names())
    return tuple(f"{c}-{i}" for c in classes for i in range(1, VIDEOS_PER_CLASS + 1) if f"{c}-{i}" not in test)


class LaSOT(Dataset):
    name = "lasot"
    title = "LaSOT"
    splits = ("train", "test")
    layout = "<class>/<class>-<n>/img/00000001.jpg, groundtruth.txt, full_occlusion.txt, out_of_view.txt"
    root_hint = "the folder of class folders: <root>/airplane/airplane-1/img"

    def official(self) -> tuple[str, ...]:
        return test_names() if self.split == "test" else train_names()

    def _dir(self, name: str):
        return self.root / name.rsplit("-", 1)[0] / name

    def names(self) -> list[str]:
        self.require_root()
        present = [n for n in self.official() if self._dir(n).is_dir()]
        if not present:
            raise DataError(f"no video of LaSOT's {self.split} split under {self.root} "
                            f"(expected e.g. {self._dir(self.official()[0])})")
        return present

    def missing(self) -> list[str]:
        return [n for n in self.official() if not self._dir(n).is_dir()]

    def __getitem__(self, name: str) -> Sequence:
        d = self._dir(name)
        if not d.is_dir():
            raise DataError(f"LaSOT video folder not found: {d}")
        problems = Problems()
        boxes = None
        with problems.check():
            boxes = read_boxes(d / "groundtruth.txt")
        # Without the boxes there is no frame count to hold the label files and images to.
        n = None if boxes is None else len(boxes)
        labels = {}
        for key in ("full_occlusion", "out_of_view"):
            with problems.check():
                labels[key] = read_labels(d / f"{key}.txt", n)
        frames = [] if n is None else [d / "img" / f"{i:08d}.jpg" for i in range(1, n + 1)]
        absent = [p for p in frames if not p.is_file()]
        if absent:
            problems.messages.append(f"{name}: {len(absent)} of the {n} images that groundtruth.txt has rows for "
                                     f"are missing, first {absent[0]}")
        problems.raise_any()
        occluded, out_of_view = labels["full_occlusion"], labels["out_of_view"]
        extra = sum(1 for p in (d / "img").glob("*.jpg")) - n
        return Sequence(name=name, frames=frames, boxes_xywh=boxes, visible=(occluded == 0) & (out_of_view == 0),
                        gt_path=d / "groundtruth.txt", dataset=self.name,
                        attributes={"class": name.rsplit("-", 1)[0], "unread_images": max(extra, 0),
                                    "full_occlusion": occluded.astype(bool), "out_of_view": out_of_view.astype(bool)})
