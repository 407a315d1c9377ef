"""OTB through the registry: every quirk stays in :mod:`rolo.otb` (the frame table,
two-target folders, shortened copies). The split is ``None`` for OTB-100's 100
targets, or a list file of names (``otb30_list.txt``, or OTB-100 minus a
training list) read with :func:`rolo.otb.read_list`.
"""
from __future__ import annotations

from pathlib import Path

from .. import otb as otb_module
from .base import Dataset, Sequence


class OTBDataset(Dataset):
    name = "otb"
    title = "OTB"
    layout = "<Seq>/img/0001.jpg, <Seq>/groundtruth_rect.txt (quirks: rolo/data/otb100_frames.tsv)"
    root_hint = "set OTB_ROOT / --otb_root"

    def __init__(self, root, split=None, strict: bool = True):
        self.root = Path(root)
        self.split = split or None
        self.otb = otb_module.OTB(root, strict=strict)

    def names(self) -> list[str]:
        self.require_root()
        if self.split is None:
            return list(otb_module.frame_table())
        return otb_module.read_list(self.split)

    def __getitem__(self, name: str) -> Sequence:
        seq = self.otb[name]
        seq.dataset = self.name
        return seq
