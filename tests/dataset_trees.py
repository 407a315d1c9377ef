"""Tiny trees in each dataset's exact layout, for the loader and end-to-end tests.

Every frame is dark with the target drawn as a bright rectangle exactly at its
box, and the box moves every frame: a loader that pairs a frame with the wrong
row fails :func:`box_matches_frame`. Each builder returns the truth it wrote:
``{name: {"boxes": (N, 4) xywh with NaN where no box, "visible": (N,) bool,
"split": split, ...}}``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = (64, 48)


def moving_boxes(n: int, seed: int, size=SIZE) -> np.ndarray:
    """(n, 4) integer ``xywh`` boxes inside ``size`` that move 2-4 px sideways every frame."""
    rng = np.random.default_rng(seed)
    w, h = 14 + seed % 5, 10 + seed % 3
    W, H = size
    x, y = rng.integers(0, W - w), rng.integers(0, H - h)
    out = []
    for _ in range(n):
        out.append((x, y, w, h))
        x = (x + rng.integers(2, 5)) % (W - w)
        y = (y + rng.integers(1, 3)) % (H - h)
    return np.asarray(out, dtype=np.float64)


def write_frame(path: Path, box, size=SIZE, draw: bool = True) -> None:
    import cv2

    img = np.full((size[1], size[0], 3), 20, np.uint8)
    if draw and np.isfinite(box).all():
        x, y, w, h = (int(v) for v in box)
        img[y:y + h, x:x + w] = 235
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 95])


def box_matches_frame(path, box) -> bool:
    """True when the bright region of the frame at ``path`` is ``box`` (to a pixel)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    ys, xs = np.nonzero(img > 128)
    if len(xs) == 0:
        return False
    x, y, w, h = box
    return abs(xs.min() - x) <= 1 and abs(ys.min() - y) <= 1 and abs(xs.max() + 1 - (x + w)) <= 1 \
        and abs(ys.max() + 1 - (y + h)) <= 1


def _rows(boxes, fmt="{:.0f},{:.0f},{:.0f},{:.0f}") -> str:
    return "".join((fmt.format(*b) if np.isfinite(b).all() else "NaN,NaN,NaN,NaN") + "\n" for b in boxes)


def make_lasot(root: Path, n: int = 8) -> dict:
    """airplane-1 (test: occluded frame 3, out of view frame 5) and airplane-2 (train, 2 images past its rows)."""
    truth = {}
    for name, split, seed, extra in (("airplane-1", "test", 1, 0), ("airplane-2", "train", 2, 2)):
        d = root / "airplane" / name
        boxes = moving_boxes(n + extra, seed)
        occ = np.zeros(n, int)
        oov = np.zeros(n, int)
        occ[2], oov[4] = 1, 1
        for i, b in enumerate(boxes):
            write_frame(d / "img" / f"{i + 1:08d}.jpg", b)
        (d / "groundtruth.txt").write_text(_rows(boxes[:n]))
        (d / "full_occlusion.txt").write_text(",".join(map(str, occ)) + "\n")
        (d / "out_of_view.txt").write_text(",".join(map(str, oov)) + "\n")
        truth[name] = {"boxes": boxes[:n], "visible": (occ == 0) & (oov == 0), "split": split}
    return truth


def make_got10k(root: Path, n: int = 8) -> dict:
    """train: 1 video; val: 2 (one absent at frames 4-5 written as -1 rows, one whose frames
    from 5 on are twice the size); test: 1 with the first box only."""
    truth = {}
    specs = (("train", "GOT-10k_Train_000001", 1, False), ("val", "GOT-10k_Val_000001", 3, False),
             ("val", "GOT-10k_Val_000136", 4, True), ("test", "GOT-10k_Test_000001", 5, False))
    for split, name, seed, resize in specs:
        d = root / split / name
        boxes = moving_boxes(n, seed)
        sizes = np.tile(SIZE, (n, 1))
        if resize:
            sizes[4:] *= 2
            boxes[4:] *= 2
        absent = np.zeros(n, int)
        cover = np.full(n, 8)
        if seed == 3:
            absent[3:5], cover[3:5] = 1, 0
            cover[6] = 3
        for i, b in enumerate(boxes):
            write_frame(d / f"{i + 1:08d}.jpg", b, size=tuple(sizes[i]), draw=not absent[i])
        rows = np.where(absent[:, None] == 1, -1.0, boxes)
        (d / "groundtruth.txt").write_text(_rows(rows if split != "test" else rows[:1]))
        if split != "test":
            (d / "absence.label").write_text("".join(f"{a}\n" for a in absent))
            (d / "cover.label").write_text("".join(f"{c}\n" for c in cover))
            (d / "cut_by_image.label").write_text("0\n" * n)
            (d / "meta_info.ini").write_text(f"[METAINFO]\nobject_class: thing\nresolution: ({SIZE[0]}, {SIZE[1]})\n")
        with open(root / split / "list.txt", "a") as f:
            f.write(name + "\n")
        vis = (absent == 0) & (cover > 0)
        gt = np.where(vis[:, None], boxes, np.nan)
        if split == "test":
            gt[1:], vis = np.nan, np.arange(n) == 0
        truth[name] = {"boxes": gt, "visible": vis, "split": split, "sizes": sizes, "drawn": boxes,
                       "cover": cover}
    return truth


def make_trackingnet(root: Path, n: int = 12) -> dict:
    """TRAIN_0 and TRAIN_3 with one video each (12 frames: 10.jpg sorts before 2.jpg alphabetically);
    TEST with one video whose annotation holds the first box only."""
    truth = {}
    for chunk, name, seed in (("TRAIN_0", "a1b2c3_0", 1), ("TRAIN_3", "zz-9_1", 2), ("TEST", "tst_0", 3)):
        boxes = moving_boxes(n, seed)
        for i, b in enumerate(boxes):
            write_frame(root / chunk / "frames" / name / f"{i}.jpg", b)
        (root / chunk / "anno").mkdir(parents=True, exist_ok=True)
        test = chunk == "TEST"
        (root / chunk / "anno" / f"{name}.txt").write_text(_rows(boxes[:1] if test else boxes))
        gt = boxes.copy()
        vis = np.ones(n, bool)
        if test:
            gt[1:], vis = np.nan, np.arange(n) == 0
        truth[name] = {"boxes": gt, "visible": vis, "split": "test" if test else "train", "drawn": boxes}
    return truth


def make_uav123(root: Path, names=("car1_1", "car1_2")) -> dict:
    """The named sequences (defaults: two cut from data_seq/UAV123/car1, sharing image 751), with
    NaN rows where the target is out of view."""
    from rolo.datasets.uav123 import frame_table

    truth = {}
    for k, name in enumerate(names):
        folder, start, end = frame_table()[name]
        # One walk over the folder's image numbers, so shared images agree between sequences.
        walk = moving_boxes(end + 1, seed=7)
        boxes = walk[start:end + 1].copy()
        boxes[5:8] = np.nan
        for i, num in enumerate(range(start, end + 1)):
            p = root / "data_seq" / "UAV123" / folder / f"{num:06d}.jpg"
            if not p.is_file():
                write_frame(p, walk[num], draw=not (5 <= i < 8))
        (root / "anno" / "UAV123").mkdir(parents=True, exist_ok=True)
        (root / "anno" / "UAV123" / f"{name}.txt").write_text(_rows(boxes))
        truth[name] = {"boxes": boxes, "visible": np.isfinite(boxes).all(1), "split": None}
    return truth


def make_nfs(root: Path, n: int = 8) -> dict:
    """Two sequences: 'Bee' with 240 fps rows (8 per frame, lost on frame 4) and 'Car' with one row per
    frame plus one extra row."""
    truth = {}
    for name, seed, per, extra in (("Bee", 1, 8, 0), ("Car", 2, 1, 1)):
        d = root / name / "30"
        boxes = moving_boxes(n, seed)
        lost = np.zeros(n, bool)
        lost[3] = True
        for i, b in enumerate(boxes):
            write_frame(d / name / f"{i + 1:05d}.jpg", b)
        lines = []
        for i in range(n * per + extra):
            j = min(i // per, n - 1)
            x, y, w, h = boxes[j] + (0 if i % per == 0 else 50)  # off-frame rows are not the 30 fps ones
            lines.append(f'1 {x:.0f} {y:.0f} {x + w:.0f} {y + h:.0f} {i + 1} {int(lost[j])} 0 0 "thing"')
        (d / f"{name}.txt").write_text("\n".join(lines) + "\n")
        truth[name] = {"boxes": boxes, "visible": ~lost, "split": None}
    return truth


BUILDERS = {"lasot": make_lasot, "got10k": make_got10k, "trackingnet": make_trackingnet, "uav123": make_uav123,
            "nfs": make_nfs}
