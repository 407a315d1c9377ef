"""The demo's synthetic benchmark (:mod:`rolo.synthetic`) through the registry.

The root is a folder written by :func:`rolo.synthetic.make_benchmark` (OTB
layout, read with :class:`rolo.otb.OTB`'s plain rule, names in ``list.txt``).
Splits: ``None`` for every sequence, or ``train``/``test``/``eval`` as
:func:`rolo.synthetic.demo_split` cuts the list. Attributes come from
``synthetic.json``.
"""
from __future__ import annotations

from .. import otb as otb_module
from .. import synthetic
from .base import Dataset, Sequence


class Synthetic(Dataset):
    name = "synthetic"
    title = "synthetic"
    splits = (None, "train", "test", "eval")
    layout = "SynNN/img/0001.jpg, SynNN/groundtruth_rect.txt, list.txt, synthetic.json (rolo.synthetic)"
    root_hint = "made by rolo.synthetic.make_benchmark / demo.py"

    def names(self) -> list[str]:
        self.require_root()
        names = otb_module.read_list(self.root / synthetic.LIST_FILE)
        return names if self.split is None else synthetic.demo_split(names)[self.split]

    def __getitem__(self, name: str) -> Sequence:
        seq = otb_module.OTB(self.root)[name]
        seq.dataset = self.name
        seq.attributes = dict(synthetic.sequence_attributes(self.root).get(name, {}))
        return seq
