"""The defects a hostile new user found (issue 16), one reproduction each.

Every test ends in a clean refusal (an ``error:`` line naming the culprit,
exit status 2, no traceback) or in the correct result; none may end in a
silently wrong one. Helpers come from :mod:`test_faults`.
"""
from __future__ import annotations

import numpy as np

from rolo.otb import OTB, list_images
from test_faults import write_frame


# ---- 2. unpadded frame names ---------------------------------------------------------

def test_unpadded_frame_names_are_read_in_numeric_order(tmp_path):
    img = tmp_path / "otb" / "Alpha" / "img"
    img.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, 13):
        write_frame(img / f"{i}.jpg", rng)
    # Line i's x is i: a frame paired with the wrong line shows at once.
    (img.parent / "groundtruth_rect.txt").write_text("".join(f"{i},1,5,5\n" for i in range(1, 13)))
    seq = OTB(tmp_path / "otb")["Alpha"]
    assert [p.name for p in seq.frames] == [f"{i}.jpg" for i in range(1, 13)]
    assert list(seq.frame_numbers) == list(range(1, 13))
    np.testing.assert_array_equal(seq.gt[:, 0], seq.frame_numbers)
    assert [p.name for p in list_images(img)] == [f"{i}.jpg" for i in range(1, 13)]
