import numpy as np

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
