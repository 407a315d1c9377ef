"""Shared fixtures. Tests need no GPU, no network and no OTB-100.

Ultralytics is kept offline (no hub checks, no font downloads) before anything
imports it. ``../shared/otb_sample`` (three real OTB sequences) is used when
present and skipped cleanly when absent, as in a user's clone.
"""
import os
import tempfile
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="rolo-yolo-cfg-"))

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OTB_SAMPLE = REPO.parent / "shared" / "otb_sample"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def otb_sample() -> Path:
    """The real OTB sequences (Crossing, Car4[:100], Human3[:199]), or skip."""
    if not (OTB_SAMPLE / "Crossing" / "groundtruth_rect.txt").is_file():
        pytest.skip("../shared/otb_sample not present")
    return OTB_SAMPLE


@pytest.fixture
def failing_rename(monkeypatch):
    """``failing_rename(path, err)``: from then on, ``os.replace`` of ``path`` fails with ``OSError(err)``
    (a full disk, an I/O error) while every other rename works, for testing what a failed swap leaves."""
    import errno

    real_replace = os.replace

    def arm(path, err=errno.EIO):
        def replace(src, dst):
            if Path(src) == Path(path):
                raise OSError(err, os.strerror(err))
            real_replace(src, dst)
        monkeypatch.setattr(os, "replace", replace)
    return arm


@pytest.fixture(scope="session", autouse=True)
def _exact_cuda_math():
    """Where a GPU is present, tests compare CUDA with CPU to tight tolerances: no TF32 (see
    rolo.device.exact_math). Without CUDA this changes nothing."""
    from rolo.device import exact_math

    with exact_math():
        yield
