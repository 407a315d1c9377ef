"""ROLO-heatmap encoding, decoding, loss and overlay (rolo/heatmap.py)."""
import cv2
import numpy as np
import pytest
import torch

from rolo.boxes import NO_DETECTION_CXCYWH_NORM, cxcywh_norm_to_xyxy_norm, xyxy_norm_to_cxcywh_norm
from rolo.heatmap import (
    DEFAULT_THRESHOLD,
    GRID,
    SUPPORT_EPS,
    binary_iou_lower_bound,
    box_to_grid_cxcywh_norm,
    grid_to_box_cxcywh_norm,
    heatmap_loss,
    heatmap_probs,
    overlay_heatmap,
)

G = GRID


def cells_box(x1, y1, x2, y2):
    """A cxcywh_norm box from corners given in cell units."""
    return xyxy_norm_to_cxcywh_norm(np.array([x1, y1, x2, y2], dtype=np.float64) / G)


def in_cells(boxes):
    """cxcywh_norm (..., 4) -> xyxy in cell units."""
    return cxcywh_norm_to_xyxy_norm(boxes) * G


def iou_cxcywh_norm(a, b):
    a, b = cxcywh_norm_to_xyxy_norm(a), cxcywh_norm_to_xyxy_norm(b)
    ix = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    iy = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = ix * iy
    area = lambda q: (q[..., 2] - q[..., 0]) * (q[..., 3] - q[..., 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def clipped(boxes):
    return xyxy_norm_to_cxcywh_norm(np.clip(cxcywh_norm_to_xyxy_norm(boxes), 0.0, 1.0))


def random_boxes(rng, n):
    """Boxes of all sizes (log-uniform 0.1..40 cells), many at or beyond the frame edges."""
    size = np.exp(rng.uniform(np.log(0.1), np.log(40.0), (n, 2)))
    lo = rng.uniform(-0.3 * size, G - 0.7 * size)
    xyxy = np.concatenate([lo, lo + size], axis=1)
    # A quarter of the edges snapped exactly onto the frame borders 0 and 1.
    snap = rng.random((n, 4)) < 0.25
    xyxy[:, :2] = np.where(snap[:, :2], 0.0, xyxy[:, :2])
    xyxy[:, 2:] = np.where(snap[:, 2:], G, xyxy[:, 2:])
    return xyxy_norm_to_cxcywh_norm(xyxy / G)


# ---------------------------------------------------------------- encoding


def test_box_exactly_covering_four_cells():
    for soft in (True, False):
        grid = box_to_grid_cxcywh_norm(cells_box(0, 0, 2, 2), soft=soft)
        assert grid.shape == (G * G,) and grid.dtype == np.float32
        ones = np.flatnonzero(grid)
        assert ones.tolist() == [0, 1, G, G + 1]
        assert np.all(grid[ones] == 1.0)


def test_half_cell_boxes_give_half_occupancy():
    row, col = 3, 5
    grid = box_to_grid_cxcywh_norm(cells_box(col, row, col + 0.5, row + 1))
    assert np.flatnonzero(grid).tolist() == [row * G + col]
    assert grid[row * G + col] == pytest.approx(0.5)
    # Straddling a grid line: half of each of two cells.
    grid = box_to_grid_cxcywh_norm(cells_box(col - 0.5, row, col + 0.5, row + 1))
    assert np.flatnonzero(grid).tolist() == [row * G + col - 1, row * G + col]
    np.testing.assert_allclose(grid[[row * G + col - 1, row * G + col]], 0.5)
    # A quarter-cell box in a corner of the cell.
    grid = box_to_grid_cxcywh_norm(cells_box(col, row, col + 0.5, row + 0.5))
    assert grid[row * G + col] == pytest.approx(0.25) and grid.sum() == pytest.approx(0.25)


def test_grid_is_row_major_with_row_along_y():
    grid = box_to_grid_cxcywh_norm(cells_box(7, 2, 8, 6)).reshape(G, G)
    rows, cols = np.nonzero(grid)
    assert set(cols) == {7} and sorted(rows) == [2, 3, 4, 5]


def test_soft_total_is_the_area_in_cells():
    rng = np.random.default_rng(0)
    boxes = clipped(random_boxes(rng, 500))
    grids = box_to_grid_cxcywh_norm(boxes)
    np.testing.assert_allclose(grids.sum(-1), boxes[:, 2] * boxes[:, 3] * G * G, rtol=1e-5, atol=1e-5)


def test_binary_uses_cell_centres_half_open():
    # Left/top edges on a cell centre include that cell, right/bottom edges on one exclude it.
    grid = box_to_grid_cxcywh_norm(cells_box(2.5, 1.5, 5.5, 3.5), soft=False).reshape(G, G)
    rows, cols = np.nonzero(grid)
    assert sorted(set(cols)) == [2, 3, 4] and sorted(set(rows)) == [1, 2]
    assert set(np.unique(grid)) == {0.0, 1.0}
    # A box holding no cell centre draws nothing.
    assert not box_to_grid_cxcywh_norm(cells_box(2.6, 1.6, 3.4, 2.4), soft=False).any()


def test_boxes_outside_the_frame_are_clipped():
    outside = cells_box(-3, 30, 4, 36)
    inside = cells_box(0, 30, 4, 32)
    for soft in (True, False):
        np.testing.assert_array_equal(
            box_to_grid_cxcywh_norm(outside, soft=soft), box_to_grid_cxcywh_norm(inside, soft=soft)
        )
    assert not box_to_grid_cxcywh_norm(cells_box(-5, -5, -1, -1)).any()


def test_no_detection_sentinel_round_trip():
    assert not box_to_grid_cxcywh_norm(NO_DETECTION_CXCYWH_NORM).any()
    assert not box_to_grid_cxcywh_norm(NO_DETECTION_CXCYWH_NORM, soft=False).any()
    maps = np.stack([np.zeros(G * G), np.full(G * G, 0.3), np.ones(G * G)])
    np.testing.assert_array_equal(grid_to_box_cxcywh_norm(maps), np.tile(NO_DETECTION_CXCYWH_NORM, (3, 1)))


def test_leading_dimensions_are_kept():
    boxes = random_boxes(np.random.default_rng(1), 6).reshape(2, 3, 4)
    grids = box_to_grid_cxcywh_norm(boxes)
    assert grids.shape == (2, 3, G * G)
    decoded = grid_to_box_cxcywh_norm(grids)
    assert decoded.shape == (2, 3, 4) and decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded[1, 2], grid_to_box_cxcywh_norm(grids[1, 2]))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="1024"):
        grid_to_box_cxcywh_norm(np.zeros(100))
    with pytest.raises(ValueError, match="threshold"):
        grid_to_box_cxcywh_norm(np.zeros(G * G), threshold=0.0)
    with pytest.raises(ValueError, match="finite"):
        box_to_grid_cxcywh_norm([np.nan, 0.5, 0.1, 0.1])
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        box_to_grid_cxcywh_norm([0.5, 0.5, 0.1])


# ---------------------------------------------------------------- decoding


def test_soft_round_trip_is_exact_where_the_map_determines_the_box():
    rng = np.random.default_rng(2)
    boxes = random_boxes(rng, 4000)
    truth = clipped(boxes)
    decoded = grid_to_box_cxcywh_norm(box_to_grid_cxcywh_norm(boxes)).astype(np.float64)

    x1, y1, x2, y2 = np.moveaxis(in_cells(truth), -1, 0)
    crosses = (np.ceil(x2) - np.floor(x1) >= 2) & (np.ceil(y2) - np.floor(y1) >= 2)
    long_side = np.maximum(x2 - x1, y2 - y1) >= 2 + 2 * SUPPORT_EPS
    whole_frame = (x1 == 0) & (y1 == 0) & (x2 == G) & (y2 == G)  # all-ones map: no peak
    sel = crosses & long_side & ~whole_frame
    # The sample must hold the hard cases: frame borders, boxes cut by them, thin sides.
    assert sel.sum() > 2000
    assert (sel & ((x1 == 0) | (y1 == 0))).sum() > 100 and (sel & ((x2 == G) | (y2 == G))).sum() > 100
    cut = np.any(np.abs(in_cells(boxes) - in_cells(truth)) > 0.1, axis=-1)
    assert (sel & cut).sum() > 100
    assert (sel & (np.minimum(x2 - x1, y2 - y1) < 1)).sum() > 50

    assert iou_cxcywh_norm(decoded[sel], truth[sel]).min() > 0.99
    np.testing.assert_allclose(in_cells(decoded[sel]), in_cells(truth[sel]), atol=1e-4)


def test_thin_sub_cell_boxes_crossing_a_grid_line_decode_exactly():
    # Sides of 0.3-0.6 cells across a grid line (one box on the frame border); the long side fixes the scale.
    for xyxy in [(10.85, 4.2, 11.15, 12.7), (3.3, 20.8, 17.9, 21.2), (0.0, 7.6, 9.0, 8.2)]:
        box = cells_box(*xyxy)
        decoded = grid_to_box_cxcywh_norm(box_to_grid_cxcywh_norm(box))
        np.testing.assert_allclose(in_cells(decoded.astype(np.float64)), xyxy, atol=1e-4)


def test_small_boxes_are_ambiguous_in_the_encoding_and_keep_area_and_cells():
    # Two different boxes, one map: no decoder can tell them apart.
    a, b = cells_box(0, 0, 2, 0.5), cells_box(0.5, 0, 1.5, 1)
    np.testing.assert_array_equal(box_to_grid_cxcywh_norm(a), box_to_grid_cxcywh_norm(b))
    assert iou_cxcywh_norm(a, b) < 0.5

    rng = np.random.default_rng(3)
    size = rng.uniform(0.05, 2.0, (3000, 2))
    lo = rng.uniform(1, G - 3, (3000, 2))
    boxes = xyxy_norm_to_cxcywh_norm(np.concatenate([lo, lo + size], axis=1) / G)
    grids = box_to_grid_cxcywh_norm(boxes)
    decoded = grid_to_box_cxcywh_norm(grids).astype(np.float64)
    np.testing.assert_allclose(decoded[:, 2] * decoded[:, 3], boxes[:, 2] * boxes[:, 3], rtol=1e-5)
    cells = grids.reshape(-1, G, G) > 0
    cols, rows = cells.any(axis=1), cells.any(axis=2)
    first = lambda a: a.argmax(1)  # noqa: E731
    last = lambda a: G - a[:, ::-1].argmax(1)  # noqa: E731  (one past the last)
    occupied = np.stack([first(cols), first(rows), last(cols), last(rows)], axis=1)
    dec = in_cells(decoded)
    assert np.all(dec[:, :2] >= occupied[:, :2] - 1e-4) and np.all(dec[:, 2:] <= occupied[:, 2:] + 1e-4)


def test_box_inside_one_cell_decodes_centred_with_its_area():
    decoded = grid_to_box_cxcywh_norm(box_to_grid_cxcywh_norm(cells_box(7.0, 3.1, 7.5, 3.3)))
    cx, cy, w, h = decoded * G
    assert (cx, cy) == pytest.approx((7.5, 3.5), abs=1e-5)
    assert (w, h) == pytest.approx((0.1**0.5, 0.1**0.5), abs=1e-5)  # square prior, area 0.1 cells


@pytest.mark.parametrize("k", [1, 2, 3, 4, 8])
def test_binary_heatmap_iou_bound(k):
    rng = np.random.default_rng(k)
    n = 20000
    size = rng.uniform(k, k + 3, (n, 2))
    # Half the boxes on a 1/8-cell lattice, so edges land on cell centres and lines.
    size[: n // 2] = k + rng.integers(0, 24, (n // 2, 2)) / 8
    lo = rng.uniform(-0.5, G - size)
    lo[: n // 2] = rng.integers(0, 8 * (G - k - 3), (n // 2, 2)) / 8
    boxes = xyxy_norm_to_cxcywh_norm(np.clip(np.concatenate([lo, lo + size], axis=1), 0, G) / G)
    keep = np.all(boxes[:, 2:] * G >= k, axis=1)
    decoded = grid_to_box_cxcywh_norm(box_to_grid_cxcywh_norm(boxes[keep], soft=False))
    iou = iou_cxcywh_norm(decoded.astype(np.float64), boxes[keep])
    bound = binary_iou_lower_bound(k)
    assert iou.min() >= bound - 1e-6
    # Tight: a k x k box with its edges on cell centres attains it.
    worst = cells_box(10.5, 4.5, 10.5 + k, 4.5 + k)
    decoded = grid_to_box_cxcywh_norm(box_to_grid_cxcywh_norm(worst, soft=False))
    assert iou_cxcywh_norm(decoded.astype(np.float64), worst) == pytest.approx(bound, abs=1e-6)


def test_binary_bound_formula_values():
    np.testing.assert_allclose(binary_iou_lower_bound([1, 2, 4]), [1 / 7, 9 / 23, 49 / 79])
    assert np.all(np.diff(binary_iou_lower_bound(np.arange(1, 40))) > 0)


def test_noisy_perfect_heatmap_still_decodes_well():
    rng = np.random.default_rng(4)
    size = rng.uniform(4, 20, (1000, 2))
    lo = rng.uniform(0, G - size)
    boxes = xyxy_norm_to_cxcywh_norm(np.concatenate([lo, lo + size], axis=1) / G)
    grids = box_to_grid_cxcywh_norm(boxes)
    for sigma in (0.02, 0.05):
        noisy = np.clip(grids + rng.normal(0, sigma, grids.shape), 0, 1)
        iou = iou_cxcywh_norm(grid_to_box_cxcywh_norm(noisy).astype(np.float64), boxes)
        assert iou.min() > 0.9 and iou.mean() > 0.98
        # Zero-mean noise without clipping (negative values) too.
        noisy = grids + rng.normal(0, sigma, grids.shape)
        assert iou_cxcywh_norm(grid_to_box_cxcywh_norm(noisy).astype(np.float64), boxes).min() > 0.9


def test_two_blobs_decode_to_the_one_holding_the_peak():
    a, b = cells_box(2.3, 3.6, 9.4, 11.2), cells_box(14.5, 6.2, 25.8, 20.7)  # 5 cells apart
    grid_a, grid_b = box_to_grid_cxcywh_norm(a), box_to_grid_cxcywh_norm(b)
    for heat, expected in [(grid_a + 0.8 * grid_b, a), (0.8 * grid_a + grid_b, b)]:
        decoded = grid_to_box_cxcywh_norm(heat).astype(np.float64)
        np.testing.assert_allclose(in_cells(decoded), in_cells(expected), atol=1e-4)


def test_region_uses_4_connectivity():
    # Two blocks touching only at a corner: 8-connectivity would merge them.
    heat = np.zeros((G, G))
    heat[4:10, 4:10] = 1.0
    heat[10:16, 10:16] = 0.9
    x1, y1, x2, y2 = in_cells(grid_to_box_cxcywh_norm(heat.ravel()).astype(np.float64))
    assert (x1, y1) == pytest.approx((4, 4), abs=1e-4)
    assert 10 <= x2 < 10.5 and 10 <= y2 < 10.5


def test_threshold_sets_the_region():
    # A plateau of 1 with a 0.4 shoulder: in the region only when threshold <= 0.4.
    heat = np.zeros((G, G))
    heat[10:20, 5:10] = 1.0
    heat[10:20, 10:20] = 0.4
    x1, _, x2, _ = in_cells(grid_to_box_cxcywh_norm(heat.ravel(), threshold=DEFAULT_THRESHOLD))
    assert x1 == pytest.approx(5, abs=1e-4) and x2 == pytest.approx(10.4, abs=1e-4)
    x1, _, x2, _ = in_cells(grid_to_box_cxcywh_norm(heat.ravel(), threshold=0.3))
    assert x1 == pytest.approx(5, abs=1e-4) and x2 == pytest.approx(19.4, abs=1e-4)


def test_batch_decode_matches_one_by_one_and_maps_do_not_touch():
    # Consecutive maps where one box touches the bottom border and the next the top:
    # batched decoding must not join them.
    rng = np.random.default_rng(5)
    boxes = random_boxes(rng, 3000)
    boxes[0::2] = cells_box(3, 25, 9, 32)
    boxes[1::2, 1] = boxes[1::2, 3] / 2  # top edge on the frame border
    grids = box_to_grid_cxcywh_norm(boxes)
    batch = grid_to_box_cxcywh_norm(grids)
    one_by_one = np.stack([grid_to_box_cxcywh_norm(g) for g in grids[:200]])
    np.testing.assert_array_equal(batch[:200], one_by_one)
    bottom = in_cells(batch[0::2].astype(np.float64))
    np.testing.assert_allclose(bottom, np.tile([3, 25, 9, 32], (1500, 1)), atol=1e-4)


def test_torch_tensors_in_and_out():
    boxes = torch.tensor([[0.3, 0.4, 0.2, 0.1], [0.7, 0.5, 0.3, 0.5]], dtype=torch.float64)
    grids = box_to_grid_cxcywh_norm(boxes)
    assert isinstance(grids, torch.Tensor) and grids.dtype == torch.float32 and grids.shape == (2, G * G)
    np.testing.assert_array_equal(grids.numpy(), box_to_grid_cxcywh_norm(boxes.numpy()))
    decoded = grid_to_box_cxcywh_norm(grids.requires_grad_())
    assert isinstance(decoded, torch.Tensor) and decoded.shape == (2, 4)
    np.testing.assert_allclose(decoded.numpy(), boxes.numpy(), atol=1e-6)


# ---------------------------------------------------------------- loss


def test_loss_applies_sigmoid_exactly_once():
    target = torch.from_numpy(box_to_grid_cxcywh_norm(cells_box(3, 4, 12, 9), soft=False))
    logits = torch.where(target > 0.5, 30.0, -30.0)
    assert heatmap_loss(logits, target).item() < 1e-12
    # Squashing the head's output first (a second sigmoid) leaves the loss far from 0.
    assert heatmap_loss(torch.sigmoid(logits), target).item() > 0.2
    # Soft targets: logit(target) is the exact minimiser.
    soft = torch.from_numpy(box_to_grid_cxcywh_norm(cells_box(3.3, 4.6, 12.2, 9.7))).double()
    assert heatmap_loss(torch.logit(soft.clamp(1e-12, 1 - 1e-12)), soft).item() < 1e-20
    expected = torch.mean((torch.sigmoid(logits) - target) ** 2)
    assert heatmap_loss(logits, target).item() == pytest.approx(expected.item())
    with pytest.raises(ValueError, match="differ"):
        heatmap_loss(logits[:10], target)


def test_probs_of_the_ideal_logits_decode_to_the_box():
    box = cells_box(5.25, 6.5, 17.75, 13.0)
    soft = torch.from_numpy(box_to_grid_cxcywh_norm(box)).double()
    probs = heatmap_probs(torch.logit(soft.clamp(1e-9, 1 - 1e-9)))
    decoded = grid_to_box_cxcywh_norm(probs).numpy().astype(np.float64)
    np.testing.assert_allclose(in_cells(decoded), [5.25, 6.5, 17.75, 13.0], atol=1e-4)


@pytest.fixture
def one_torch_thread():
    """Tiny models run far faster on one thread than on contended cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_loss_decreases_when_learning_boxes_to_grids(one_torch_thread):
    torch.manual_seed(0)
    rng = np.random.default_rng(6)
    size = rng.uniform(3, 12, (256, 2))
    lo = rng.uniform(0, G - size)
    boxes = xyxy_norm_to_cxcywh_norm(np.concatenate([lo, lo + size], axis=1) / G)
    x = torch.from_numpy(boxes).float()
    y = torch.from_numpy(box_to_grid_cxcywh_norm(boxes))
    model = torch.nn.Sequential(torch.nn.Linear(4, 256), torch.nn.ReLU(), torch.nn.Linear(256, G * G))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(100):
        loss = heatmap_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    # Beats predicting all zeros (loss mean(y^2)): it learned where the boxes are.
    assert losses[-1] < 0.8 * torch.mean(y**2).item()


# ---------------------------------------------------------------- overlay


def test_overlay_heatmap():
    image = np.full((240, 360, 3), 100, dtype=np.uint8)
    heat = box_to_grid_cxcywh_norm(cells_box(0, 0, 16, 16), soft=False)  # top-left quarter hot
    out = overlay_heatmap(image, heat)
    assert out.shape == image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(overlay_heatmap(image, heat, alpha=0.0), image)
    full = overlay_heatmap(image, heat, alpha=1.0)
    jet = cv2.applyColorMap(np.array([[0, 255]], dtype=np.uint8), cv2.COLORMAP_JET)[0]
    np.testing.assert_array_equal(full[10, 10], jet[1])  # hot: dark red
    np.testing.assert_array_equal(full[200, 300], jet[0])  # cold: dark blue
    np.testing.assert_array_equal(out[10, 10], ((100 + jet[1].astype(int)) / 2).round().astype(np.uint8))
    grey = overlay_heatmap(np.full((50, 70), 30, dtype=np.uint8), torch.from_numpy(heat).reshape(G, G))
    assert grey.shape == (50, 70, 3) and grey.dtype == np.uint8
    with pytest.raises(ValueError, match="alpha"):
        overlay_heatmap(image, heat, alpha=1.5)
    with pytest.raises(ValueError, match="heatmap"):
        overlay_heatmap(image, np.zeros(1000))
