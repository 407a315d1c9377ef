"""Tracking datasets by name: ``DATASETS[name](root, split)`` gives a :class:`~rolo.datasets.base.Dataset`,
``open_dataset(name, root, split)`` its sequences.

Each dataset's layout and quirks live in its own module; :mod:`rolo.datasets.base`
holds the :class:`Sequence` they all give. To add a dataset: write one module
with a :class:`~rolo.datasets.base.Dataset` subclass and add one line here.
"""
from __future__ import annotations

from ..errors import ConfigError
from .base import Dataset, Sequence
from .got10k import GOT10k
from .lasot import LaSOT
from .nfs import NfS
from .otb import OTBDataset
from .synthetic import Synthetic
from .trackingnet import TrackingNet
from .uav123 import UAV123

DATASETS = {
    "otb": OTBDataset,
    "lasot": LaSOT,
    "got10k": GOT10k,
    "trackingnet": TrackingNet,
    "uav123": UAV123,
    "nfs": NfS,
    "synthetic": Synthetic,
}


def get_dataset(name: str, root, split=None, **options) -> Dataset:
    """The dataset ``name`` at ``root`` (its folder as distributed), split ``split``; lazy: nothing is read yet."""
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name](root, split, **options)


def open_dataset(name: str, root, split=None, **options) -> list[Sequence]:
    """Every sequence of ``name``'s ``split`` under ``root``, opened (annotations parsed, images not decoded)."""
    return get_dataset(name, root, split, **options).sequences()


__all__ = ["DATASETS", "Dataset", "Sequence", "get_dataset", "open_dataset"]
