import numpy as np
import pytest

from rolo import boxes


def test_normalisation_by_hand():
    # a 100x50 box at (20, 30) in a 400x200 frame: centre (70, 55)
    b = boxes.xywh_to_cxcywh_norm([20, 30, 100, 50], (400, 200))
    np.testing.assert_allclose(b, [70 / 400, 55 / 200, 100 / 400, 50 / 200])


def test_round_trips_broadcast():
    rng = np.random.default_rng(0)
    b = rng.uniform(1, 300, (5, 7, 4))
    size = np.array([[640, 480]])
    np.testing.assert_allclose(boxes.cxcywh_norm_to_xywh(boxes.xywh_to_cxcywh_norm(b, size), size), b)
    np.testing.assert_allclose(boxes.xyxy_to_xywh(boxes.xywh_to_xyxy(b)), b)
    n = rng.uniform(0, 1, (9, 4))
    np.testing.assert_allclose(boxes.xyxy_norm_to_cxcywh_norm(boxes.cxcywh_norm_to_xyxy_norm(n)), n)


def test_portrait_frame_uses_width_for_x():
    # Human3 is 480 wide, 640 high
    b = boxes.xywh_to_cxcywh_norm([264, 311, 37, 69], (480, 640))
    np.testing.assert_allclose(b, [(264 + 18.5) / 480, (311 + 34.5) / 640, 37 / 480, 69 / 640])


def test_every_conversion_broadcasts_over_leading_dimensions():
    """(W, L, 4) arrays, as evaluation's report-protocol boxes: each box converts as it would alone."""
    rng = np.random.default_rng(1)
    b = rng.uniform(0.1, 0.9, (2, 3, 4))
    size = (640, 480)
    for convert, args in [(boxes.xywh_to_xyxy, ()), (boxes.xyxy_to_xywh, ()), (boxes.cxcywh_norm_to_xyxy_norm, ()),
                          (boxes.xyxy_norm_to_cxcywh_norm, ()), (boxes.xywh_to_cxcywh_norm, (size,)),
                          (boxes.cxcywh_norm_to_xywh, (size,)), (boxes.xyxy_to_cxcywh_norm, (size,))]:
        out = convert(b, *args)
        assert out.shape == b.shape, convert.__name__
        np.testing.assert_allclose(out[1, 2], convert(b[1, 2], *args), err_msg=convert.__name__)


def test_xyxy_to_cxcywh_norm_by_hand():
    # corners (20, 30)-(120, 80) in a 400x200 frame: centre (70, 55), size 100x50
    np.testing.assert_allclose(boxes.xyxy_to_cxcywh_norm([20, 30, 120, 80], (400, 200)),
                               [70 / 400, 55 / 200, 100 / 400, 50 / 200])
    np.testing.assert_allclose(boxes.cxcywh_norm_to_xyxy_norm([0.5, 0.4, 0.2, 0.4]), [0.4, 0.2, 0.6, 0.6])


def test_results_are_float64_for_integer_and_float32_input():
    assert boxes.xywh_to_xyxy(np.array([1, 2, 3, 4])).dtype == np.float64
    assert boxes.xyxy_to_xywh(np.array([1, 2, 3, 4], np.int32)).dtype == np.float64
    assert boxes.cxcywh_norm_to_xyxy_norm(np.array([0.5, 0.5, 0.1, 0.1], np.float32)).dtype == np.float64
    assert boxes.cxcywh_norm_to_xywh(np.array([0.5, 0.5, 0.1, 0.1], np.float32), np.array([3, 7], np.float32)).dtype \
        == np.float64


def test_wrong_shapes_are_named():
    with pytest.raises(ValueError, match=r"boxes must have shape \(\.\.\., 4\), got \(3,\)"):
        boxes.xywh_to_xyxy([1, 2, 3])
    with pytest.raises(ValueError, match=r"size must be \(\.\.\., 2\) = \(width, height\), got \(3,\)"):
        boxes.xywh_to_cxcywh_norm([1, 2, 3, 4], (1, 2, 3))
