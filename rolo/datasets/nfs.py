"""Need for Speed, NfS (Kiani Galoogahi et al., ICCV 2017), its 30 fps version, as distributed.

Layout under the root (the folder of sequence folders)::

    <seq>/30/<seq>/00001.jpg ...     the 30 fps frames
    <seq>/30/<seq>.txt               one row per annotated frame:
                                     id xmin ymin xmax ymax frame lost occluded generated "label"

Quirk, as the official files are: many 30 fps annotation files hold the
240 fps rows (eight per 30 fps frame); then every eighth row, from the first,
belongs to the 30 fps frames. A file one row longer or shorter than the
frames is paired from the start and cut to the shorter (the toolkits' rule,
recorded in ``attributes["trimmed"]``); any other mismatch is an error.
Boxes are converted from corners to ``xywh``. Visible: ``lost`` is 0.
One split (``None``): every sequence folder with a 30 fps annotation, sorted.
"""
from __future__ import annotations

import numpy as np

from ..errors import DataError
from .base import Dataset, Sequence, numbered_images

FPS = 30
#: 240 fps rows per 30 fps frame.
SUBSAMPLE = 8


def read_nfs_annotation(path) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4) ``xywh`` boxes and (N,) bool ``lost`` from an NfS annotation file; bad lines name file and line."""
    if not path.is_file():
        raise DataError(f"annotation file not found: {path}")
    boxes, lost, bad = [], [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            x1, y1, x2, y2 = (float(v) for v in parts[1:5])
            flag = int(parts[6])
        except (ValueError, IndexError):
            bad.append(f"{path}, line {lineno}: expected 'id xmin ymin xmax ymax frame lost ...', got {line.strip()!r}")
            continue
        if not np.isfinite([x1, y1, x2, y2]).all():
            bad.append(f"{path}, line {lineno}: non-finite corner in {line.strip()!r}")
            continue
        boxes.append((x1, y1, x2 - x1, y2 - y1))
        lost.append(flag != 0)
    if bad:
        raise DataError("\n".join(bad[:10]) + (f"\n... and {len(bad) - 10} more bad lines" if len(bad) > 10 else ""))
    if not boxes:
        raise DataError(f"{path}: no boxes in file")
    return np.asarray(boxes, dtype=np.float64), np.asarray(lost, dtype=bool)


class NfS(Dataset):
    name = "nfs"
    title = "NfS"
    layout = "<seq>/30/<seq>/00001.jpg, <seq>/30/<seq>.txt"
    root_hint = "the folder of sequence folders: <root>/Gymnastics/30/Gymnastics.txt"

    def names(self) -> list[str]:
        self.require_root()
        names = sorted(p.name for p in self.root.iterdir() if (p / str(FPS) / f"{p.name}.txt").is_file())
        if not names:
            raise DataError(f"no NfS sequence with a {FPS} fps annotation under {self.root} "
                            f"(expected <seq>/{FPS}/<seq>.txt)")
        return names

    def __getitem__(self, name: str) -> Sequence:
        d = self.root / name / str(FPS)
        gt_path = d / f"{name}.txt"
        frames, numbers = numbered_images(d / name)
        boxes, lost = read_nfs_annotation(gt_path)
        n, trimmed = len(frames), 0
        if len(boxes) != n and abs(len(boxes) / n - SUBSAMPLE) < 1:
            boxes, lost = boxes[::SUBSAMPLE], lost[::SUBSAMPLE]
        if abs(len(boxes) - n) == 1:
            trimmed = len(boxes) - n
            m = min(n, len(boxes))
            boxes, lost, frames, numbers = boxes[:m], lost[:m], frames[:m], numbers[:m]
        elif len(boxes) != n:
            raise DataError(f"{gt_path}: {len(boxes)} annotation rows (after taking every {SUBSAMPLE}th of 240 fps "
                            f"rows where they are) for {n} images in {d / name}")
        return Sequence(name=name, frames=frames, boxes_xywh=boxes, visible=~lost, frame_numbers=numbers,
                        gt_path=gt_path, dataset=self.name, attributes={"trimmed": trimmed})
