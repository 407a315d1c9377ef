import json
import math

import numpy as np
import pytest

from rolo.boxes import xywh_to_cxcywh_norm
from rolo.metrics import (
    GOT10K_THRESHOLDS,
    NORM_PRECISION_THRESHOLDS,
    PRECISION_THRESHOLDS,
    SUCCESS_THRESHOLDS,
    bounded_iou_xywh,
    center_error_xywh,
    got10k_frame_ious,
    got10k_scores,
    iou_cxcywh_norm,
    iou_xywh,
    normalized_center_error_xywh,
    normalized_precision,
    normalized_precision_curve,
    precision_curve,
    sequence_metrics,
    success_curve,
    summarize,
)

GT = [0.0, 0.0, 10.0, 10.0]


def one(pred, gt=GT):
    return float(iou_xywh([pred], [gt])[0])


def test_thresholds():
    assert SUCCESS_THRESHOLDS.shape == (21,) and SUCCESS_THRESHOLDS[10] == 0.5
    assert SUCCESS_THRESHOLDS[0] == 0 and SUCCESS_THRESHOLDS[-1] == 1
    assert PRECISION_THRESHOLDS.shape == (51,) and PRECISION_THRESHOLDS[20] == 20


@pytest.mark.parametrize("pred, expected", [
    ([0, 0, 10, 10], 1.0),            # identical
    ([5, 0, 10, 10], 50 / 150),       # shifted by half its width
    ([0, 0, 5, 10], 0.5),             # left half, contained
    ([2, 2, 4, 4], 16 / 100),         # contained in the middle
    ([-5, -5, 30, 30], 100 / 900),    # contains the ground truth
    ([20, 20, 5, 5], 0.0),            # disjoint
    ([10, 0, 10, 10], 0.0),           # touching edge only
    ([5, 5, 10, 10], 25 / 175),       # corner overlap
])
def test_iou_hand_values(pred, expected):
    assert one(pred) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("pred", [
    [0, 0, 0, 10], [0, 0, 10, 0], [0, 0, -3, 10],         # no area / negative size
    [np.nan, 0, 10, 10], [0, 0, np.inf, 10], [0, np.nan, np.nan, np.nan],
])
def test_invalid_prediction_is_a_failure(pred):
    assert one(pred) == 0.0
    assert center_error_xywh([pred], [GT])[0] == np.inf


@pytest.mark.parametrize("gt", [[0, 0, 0, 10], [0, 0, 10, -1], [np.nan] * 4, [0, 0, 0, 0]])
def test_invalid_ground_truth_is_excluded(gt):
    assert math.isnan(one([0, 0, 10, 10], gt))
    assert math.isnan(center_error_xywh([[0, 0, 10, 10]], [gt])[0])
    # Even an invalid prediction on such a frame is not counted as a failure.
    assert math.isnan(one([np.nan] * 4, gt))


def test_iou_is_symmetric_and_vectorised():
    rng = np.random.default_rng(0)
    a = np.column_stack([rng.uniform(0, 50, (100, 2)), rng.uniform(1, 40, (100, 2))])
    b = np.column_stack([rng.uniform(0, 50, (100, 2)), rng.uniform(1, 40, (100, 2))])
    ab, ba = iou_xywh(a, b), iou_xywh(b, a)
    assert ab.shape == (100,)
    np.testing.assert_allclose(ab, ba)
    assert ((ab >= 0) & (ab <= 1)).all()


def test_iou_cxcywh_norm_matches_pixels():
    rng = np.random.default_rng(1)
    size = (640, 360)
    a = np.column_stack([rng.uniform(0, 500, (50, 2)), rng.uniform(1, 200, (50, 2))])
    b = np.column_stack([rng.uniform(0, 500, (50, 2)), rng.uniform(1, 200, (50, 2))])
    a[0] = [0, 0, 0, 0]           # failure
    b[1] = [np.nan] * 4           # excluded
    got = iou_cxcywh_norm(xywh_to_cxcywh_norm(a, size), xywh_to_cxcywh_norm(b, size))
    np.testing.assert_allclose(got, iou_xywh(a, b), equal_nan=True, atol=1e-12)
    assert got[0] == 0 and np.isnan(got[1])
    assert iou_cxcywh_norm([[0.5, 0.5, 0.2, 0.2]], [[0.6, 0.5, 0.2, 0.2]])[0] == pytest.approx(1 / 3)


def test_center_error_hand_values():
    pred = [[0, 0, 10, 10], [3, 4, 10, 10], [0, 0, 4, 4], [100, 0, 10, 10]]
    err = center_error_xywh(pred, [GT] * 4)
    np.testing.assert_allclose(err, [0, 5, 3 * math.sqrt(2), 100])


def test_shape_errors():
    with pytest.raises(ValueError, match=r"pred and gt must have the same shape, got \(1, 4\) and \(2, 4\)"):
        iou_xywh([[0, 0, 1, 1]], [[0, 0, 1, 1], [0, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"^pred must have shape \(N, 4\), got \(4,\)"):
        iou_xywh([0, 0, 1, 1], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"^gt must have shape \(N, 4\), got \(1, 3\)"):
        center_error_xywh([[0, 0, 1, 1]], [[0, 0, 1]])


def test_bad_values_give_no_numpy_warnings():
    """NaN, inf and huge boxes are scored by the module's rules without RuntimeWarnings flooding a run's log."""
    import warnings

    pred = [[0, 0, 10, 10], [np.nan, 0, 10, 10], [np.inf, 0, 10, 10], [1e308, 0, 10, 10], [np.inf, 0, 10, 10]]
    gt = [[0, 0, 10, 10], [0, 0, 10, 10], [np.inf, 0, 10, 10], [-1e308, 0, 10, 10], [0, np.nan, 10, 10]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = sequence_metrics(pred, gt)
        iou_cxcywh_norm(np.array(pred) / 1e10, np.array(gt) / 1e10)
        success_curve([np.nan, 0.5])
        precision_curve([np.nan, np.inf, 3.0])
    assert (m["frames"], m["excluded"]) == (3, 2)


def test_boxes_apart_on_both_axes_do_not_overlap():
    # the gaps on x and on y are both negative: their product must not count as an intersection
    np.testing.assert_array_equal(iou_xywh([[20, 20, 10, 10], [-20, -30, 10, 10]], [GT, GT]), [0.0, 0.0])


def test_metrics_are_float64_whatever_the_input():
    rng = np.random.default_rng(3)
    pred, gt = random_boxes(rng, 50)
    p32, g32 = pred.astype(np.float32), gt.astype(np.float32)
    exact = sequence_metrics(p32.astype(np.float64), g32.astype(np.float64))
    assert sequence_metrics(p32, g32) == exact
    np.testing.assert_array_equal(iou_xywh(p32, g32), iou_xywh(p32.astype(np.float64), g32.astype(np.float64)))


def test_curves_take_any_shape():
    """Report-protocol ious come as (W, L) arrays; every entry counts once."""
    ious = np.array([[0.1, 0.6, np.nan], [0.9, 0.3, 0.55]])
    np.testing.assert_array_equal(success_curve(ious), success_curve(ious.reshape(-1)))
    np.testing.assert_array_equal(precision_curve(ious * 40), precision_curve(ious.reshape(-1) * 40))


def test_success_curve_is_strictly_greater():
    curve = success_curve([0.5, 0.5000001, 0.0, 1.0, np.nan])
    assert curve.shape == (21,)
    assert curve[0] == 3 / 4            # IoU > 0: the failure does not count
    assert curve[10] == 2 / 4           # IoU > 0.5: exactly 0.5 does not count
    assert curve[-1] == 0               # nothing is > 1
    assert np.isnan(success_curve([np.nan, np.nan])).all()


def test_precision_curve_hand_values():
    curve = precision_curve([0.0, 5.0, 20.0, 20.5, np.inf, np.nan])
    assert curve.shape == (51,)
    assert curve[0] == pytest.approx(1 / 5)
    assert curve[4] == pytest.approx(1 / 5)
    assert curve[5] == pytest.approx(2 / 5)
    assert curve[20] == pytest.approx(3 / 5)   # <= 20 px
    assert curve[21] == pytest.approx(4 / 5)
    assert curve[50] == pytest.approx(4 / 5)   # inf never succeeds


# ---- slow, plainly written reference ----------------------------------------

def slow_iou(p, g):
    if not all(math.isfinite(v) for v in g) or g[2] <= 0 or g[3] <= 0:
        return None
    if not all(math.isfinite(v) for v in p) or p[2] <= 0 or p[3] <= 0:
        return 0.0
    left = max(p[0], g[0])
    right = min(p[0] + p[2], g[0] + g[2])
    top = max(p[1], g[1])
    bottom = min(p[1] + p[3], g[1] + g[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    return inter / (p[2] * p[3] + g[2] * g[3] - inter)


def slow_metrics(pred, gt):
    ious, errs = [], []
    for p, g in zip(pred.tolist(), gt.tolist()):
        v = slow_iou(p, g)
        if v is None:
            continue
        ious.append(v)
        if v == 0.0 and not (all(math.isfinite(x) for x in p) and p[2] > 0 and p[3] > 0):
            errs.append(math.inf)
        else:
            errs.append(math.dist((p[0] + p[2] / 2, p[1] + p[3] / 2), (g[0] + g[2] / 2, g[1] + g[3] / 2)))
    succ = []
    for k in range(21):
        t = k / 20
        succ.append(sum(1 for v in ious if v > t) / len(ious))
    prec = []
    for t in range(51):
        prec.append(sum(1 for e in errs if e <= t) / len(errs))
    return {"frames": len(ious), "aos": sum(ious) / len(ious), "auc": sum(succ) / len(succ),
            "sr50": succ[10], "p20": prec[20], "success_curve": succ, "precision_curve": prec}


def random_boxes(rng, n):
    gt = np.column_stack([rng.uniform(0, 300, (n, 2)), rng.uniform(5, 80, (n, 2))])
    # Predictions near the ground truth, so every IoU bin gets frames.
    pred = gt + rng.normal(0, 1, (n, 4)) * np.array([15, 15, 10, 10])
    pred[rng.random(n) < 0.05] = [0.5, 0.5, 0, 0]
    pred[rng.random(n) < 0.03, 0] = np.nan
    gt[rng.random(n) < 0.04] = [0, 0, 0, 0]
    return pred, gt


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sequence_metrics_match_slow_reference(seed):
    pred, gt = random_boxes(np.random.default_rng(seed), 400)
    got, ref = sequence_metrics(pred, gt), slow_metrics(pred, gt)
    assert got["frames"] == ref["frames"] and got["excluded"] == 400 - ref["frames"]
    assert got["excluded"] > 0
    for k in ("aos", "auc", "sr50", "p20"):
        assert got[k] == pytest.approx(ref[k], abs=1e-12), k
    np.testing.assert_allclose(got["success_curve"], ref["success_curve"], atol=1e-12)
    np.testing.assert_allclose(got["precision_curve"], ref["precision_curve"], atol=1e-12)
    # A real spread of values, so the comparison above is not trivially 0 == 0.
    assert 0.1 < got["auc"] < 0.9 and 0.1 < got["p20"] < 1


def test_sequence_metrics_excludes_invalid_gt_and_is_json_ready():
    pred = [[0, 0, 10, 10], [20, 20, 5, 5], [0, 0, 10, 10]]
    gt = [GT, GT, [0, 0, 0, 0]]
    m = sequence_metrics(pred, gt)
    assert (m["frames"], m["excluded"]) == (2, 1)
    assert m["aos"] == pytest.approx(0.5)
    assert m["sr50"] == pytest.approx(0.5)
    assert m["p20"] == pytest.approx(0.5)        # the disjoint centre is 24.7 px away
    assert m["auc"] == pytest.approx((20 * 0.5 + 0.0) / 21)
    json.dumps(m, allow_nan=False)
    assert all(type(m[k]) is float for k in ("aos", "auc", "sr50", "p20"))


def test_sequence_metrics_without_valid_frames():
    m = sequence_metrics([[0, 0, 1, 1]], [[0, 0, 0, 0]])
    assert (m["frames"], m["excluded"]) == (0, 1)
    assert all(m[k] is None for k in ("aos", "auc", "sr50", "p20", "success_curve", "precision_curve"))


def test_summarize_video_mean_vs_frame_weighted():
    # Video A: 1 frame, perfect. Video B: 3 frames, all far off.
    a = sequence_metrics([[0, 0, 10, 10]], [GT])
    b = sequence_metrics([[100, 100, 10, 10]] * 3, [GT] * 3)
    empty = sequence_metrics([[0, 0, 1, 1]], [[0, 0, 0, 0]])
    s = summarize({"A": a, "B": b, "empty": empty})
    mean, fw = s["mean"], s["frame_weighted"]
    assert (mean["videos"], mean["frames"]) == (2, 4)
    assert mean["aos"] == pytest.approx(0.5) and fw["aos"] == pytest.approx(0.25)
    assert mean["sr50"] == pytest.approx(0.5) and fw["sr50"] == pytest.approx(0.25)
    assert mean["p20"] == pytest.approx(0.5) and fw["p20"] == pytest.approx(0.25)
    assert mean["auc"] == pytest.approx((a["auc"] + b["auc"]) / 2)
    assert fw["auc"] == pytest.approx(20 / 21 / 4)
    assert mean["success_curve"][0] == pytest.approx(0.5)
    assert set(mean) == set(fw) == {"videos", "frames", "aos", "auc", "sr50", "p20", "success_curve", "precision_curve"}
    assert mean["precision_curve"][20] == pytest.approx(0.5)


def test_frame_weighted_equals_pooled_frames():
    rng = np.random.default_rng(5)
    videos = {f"v{i}": random_boxes(rng, n) for i, n in enumerate([30, 200, 75])}
    s = summarize({k: sequence_metrics(p, g) for k, (p, g) in videos.items()})
    pooled = sequence_metrics(np.concatenate([p for p, _ in videos.values()]),
                              np.concatenate([g for _, g in videos.values()]))
    for k in ("aos", "auc", "sr50", "p20"):
        assert s["frame_weighted"][k] == pytest.approx(pooled[k], abs=1e-12)
    np.testing.assert_allclose(s["frame_weighted"]["success_curve"], pooled["success_curve"], atol=1e-12)
    assert s["frame_weighted"]["frames"] == pooled["frames"]
    # ... and the video mean is genuinely different here.
    assert abs(s["mean"]["aos"] - pooled["aos"]) > 1e-4


def test_summarize_reads_back_json_and_refuses_nothing():
    m = sequence_metrics([[0, 0, 10, 10]], [GT])
    s = summarize({"A": json.loads(json.dumps(m))})
    assert s["mean"]["aos"] == 1.0
    with pytest.raises(ValueError, match="^summarize: no video with a valid frame$"):
        summarize({})


# --- benchmark metrics: normalised precision (LaSOT/TrackingNet) and GOT-10k's scores ---------


def test_benchmark_thresholds():
    assert NORM_PRECISION_THRESHOLDS.shape == (51,) and NORM_PRECISION_THRESHOLDS[20] == 0.2
    assert NORM_PRECISION_THRESHOLDS[0] == 0 and NORM_PRECISION_THRESHOLDS[-1] == 0.5
    assert GOT10K_THRESHOLDS.shape == (101,) and GOT10K_THRESHOLDS[0] == 0 and GOT10K_THRESHOLDS[-1] == 1
    assert GOT10K_THRESHOLDS[50] == 0.5 and GOT10K_THRESHOLDS[75] == 0.75


def test_normalized_center_error_hand_values():
    """Centre offset divided by the ground truth's width and height, axis by axis; a prediction of
    another size than the ground truth, so that its own centre (x + w/2) matters."""
    gt = [[10, 20, 20, 40]] * 5 + [[10, 20, 20, 0], [np.nan, 20, 20, 40]]
    pred = [[12, 16, 4, 8],         # centre (14, 20) vs (20, 40): (-0.3, -0.5)
            [20, 40, 0, 0],         # zero size at the right centre: no prediction, a failure
            [np.nan, 16, 4, 8],     # NaN: a failure
            [12, 16, 4, -8],        # negative height: a failure
            [10, 20, 20, 40],       # exact: 0
            [12, 16, 4, 8],         # ground truth of zero height: excluded
            [12, 16, 4, 8]]         # NaN ground truth: excluded
    err = normalized_center_error_xywh(pred, gt)
    assert err.shape == (7,) and err.dtype == np.float64
    assert err[0] == pytest.approx(math.sqrt(0.3 ** 2 + 0.5 ** 2), abs=1e-15)
    assert np.isposinf(err[1:4]).all() and err[4] == 0 and np.isnan(err[5:]).all()


def test_normalized_precision_threshold_is_inclusive_at_exactly_0_2():
    """Errors 0, exactly 0.2 (counted: ``<=``), 0.205 (missed at 0.2, counted at 0.21), a failure
    (inf, counted as a miss) and an excluded frame (NaN)."""
    curve = normalized_precision_curve([0.0, 0.2, 0.205, np.inf, np.nan])
    assert curve.shape == (51,)
    np.testing.assert_array_equal(curve, [0.25] * 20 + [0.5] + [0.75] * 30)
    np.testing.assert_array_equal(normalized_precision_curve(np.array([[0.0, 0.2], [0.205, np.inf]])),
                                  [0.25] * 20 + [0.5] + [0.75] * 30)  # any shape, flattened
    assert np.isnan(normalized_precision_curve([np.nan, np.nan])).all()
    assert np.isnan(normalized_precision_curve([])).all()

    gt = [[0, 0, 10, 10]] * 5
    pred = [[0, 0, 10, 10], [2, 0, 10, 10], [0, 2.05, 10, 10], [0, 0, 0, 0], [0, 3, 10, 10]]
    np.testing.assert_allclose(normalized_center_error_xywh(pred, gt), [0, 0.2, 0.205, np.inf, 0.3])
    np_ = normalized_precision(pred, gt)
    assert type(np_) is float and np_ == 2 / 5
    assert normalized_precision(pred[:1] + pred[2:4], gt[:3]) == 1 / 3  # 0.205 misses at 0.2
    assert normalized_precision(pred[1:2], gt[:1]) == 1.0                # 0.2 hits at 0.2


def test_normalized_precision_without_valid_frame_is_none():
    assert normalized_precision([[1, 1, 5, 5], [1, 1, 5, 5]], [[0, 0, 0, 0], [np.nan] * 4]) is None
    assert normalized_precision(np.zeros((0, 4)), np.zeros((0, 4))) is None
    # one valid frame among excluded ones is enough, and the failure counts
    assert normalized_precision([[1, 1, 5, 5], [np.nan] * 4], [[0, 0, 0, 0], [0, 0, 5, 5]]) == 0.0


@pytest.mark.parametrize("pred, gt, expected", [
    ([10, 10, 20, 20], [10, 10, 20, 20], 1.0),       # identical, inside the frame
    ([90, 10, 20, 20], [80, 10, 20, 20], 0.5),       # pred cut at the right edge: 10x20 left (1/3 uncut)
    ([10, 40, 20, 20], [10, 30, 20, 20], 0.5),       # pred cut at the bottom edge (H = 50, not W)
    ([-10, 10, 20, 20], [0, 10, 20, 20], 1.0),       # x moved to 0, width kept (the toolkit's rule)
    ([30, -5, 20, 20], [30, 0, 20, 20], 1.0),        # y moved to 0, height kept
    ([120, 10, 20, 20], [90, 10, 10, 20], 0.0),      # wholly outside: width 0
    ([5, 5, 0, 0], [5, 5, 0, 0], 0.0),               # two empty boxes: 0, not NaN
    ([0, 0, 10, 10], [20, 20, 10, 10], 0.0),         # apart on both axes
    ([0, 0, 10, 10], [20, 0, 10, 10], 0.0),          # apart along x only
    ([0, 0, 10, 10], [0, 20, 10, 10], 0.0),          # apart along y only
    ([0, 0, 10, 10], [0, 5, 10, 10], 1 / 3),         # half overlap along y
    ([0, 0, 10, 10], [5, 0, 10, 10], 1 / 3),         # half overlap along x, from the frame's edge x = 0
    ([10, 10, 20, 10], [10, 10, 20, 20], 0.5),       # pred wider than high
    ([10, 10, 20, 20], [10, 10, 10, 20], 0.5),       # gt higher than wide
    ([10, 10, 0, 20], [10, 10, 20, 20], 0.0),        # zero width inside the gt
    ([10, 10, 20, 0], [10, 10, 20, 20], 0.0),        # zero height inside the gt
])
def test_bounded_iou_hand_values(pred, gt, expected):
    iou = bounded_iou_xywh([pred], [gt], (100, 50))
    assert iou.shape == (1,) and iou.dtype == np.float64
    assert iou[0] == pytest.approx(expected, abs=1e-12)


def test_bounded_iou_adds_the_toolkits_epsilon_to_the_union():
    """got10k's rect_iou divides by ``union + eps``: identical 1x1 boxes score just below 1."""
    iou = bounded_iou_xywh([[3, 4, 1, 1]], [[3, 4, 1, 1]], (100, 50))
    assert iou[0] == 1 / (1 + np.finfo(float).eps) and iou[0] < 1


def test_bounded_iou_per_frame_bound():
    pred, gt = [[90, 10, 20, 20]] * 2, [[80, 10, 20, 20]] * 2
    # second frame 95 wide: pred 5x20, gt 15x20, overlap 5x20
    np.testing.assert_allclose(bounded_iou_xywh(pred, gt, [[100, 50], [95, 50]]), [0.5, 1 / 3], atol=1e-12)
    np.testing.assert_allclose(bounded_iou_xywh(pred, gt, np.array([100, 50])), [0.5, 0.5], atol=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        bounded_iou_xywh(pred, gt[:1], (100, 50))


def test_benchmark_metrics_give_no_numpy_warnings():
    import warnings

    pred = [[np.nan, 0, 10, 10], [0, 0, 0, 0], [0, 0, 10, 10], [1e308, 0, 1e308, 10], [1.7e308, 0, 1.7e308, 10],
            [5, 5, 10, 10]]
    gt = [[0, 0, 10, 10], [0, 0, 0, 0], [np.nan] * 4, [0, 0, 10, 10], [0, 0, 10, 10],
          [0, 0, 0, 0]]  # an overflowing centre; a centre divided by a zero-size ground truth
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        normalized_center_error_xywh(pred, gt)
        normalized_precision(pred, gt)
        normalized_precision_curve([np.nan, np.inf, 0.1])
        bounded_iou_xywh(pred, gt, (64, 48))


def test_got10k_frame_ious_skip_the_first_frame_and_invisible_targets():
    gt = [[10, 10, 20, 20], [10, 10, 20, 20], [80, 10, 20, 20], [10, 10, 20, 20], [20, 20, 10, 10]]
    pred = [[0, 0, 5, 5], [10, 10, 20, 20], [90, 10, 20, 20], [10, 10, 20, 20], [0, 0, 10, 10]]
    cover = [5, 0, 3, 0, 1]  # frame 1 is the given box; cover 0: target not visible, not scored
    ious = got10k_frame_ious(pred, gt, cover, (100, 50))
    np.testing.assert_allclose(ious, [0.5, 0.0], atol=1e-12)  # frame 3 cut at the frame's edge
    np.testing.assert_allclose(got10k_frame_ious(pred, gt, np.ones(5), (100, 50)), [1, 0.5, 1, 0], atol=1e-12)
    assert got10k_frame_ious(pred, gt, np.zeros(5, int), (100, 50)).shape == (0,)


def test_got10k_scores_strictly_greater_at_exactly_0_5_and_0_75():
    s = got10k_scores([0.5, 0.75, 1.0, 0.0])
    assert s["ao"] == 0.5625 and s["sr50"] == 0.5 and s["sr75"] == 0.25
    assert all(type(s[k]) is float for k in ("ao", "sr50", "sr75"))
    expected = [sum(v > i / 100 for v in (0.5, 0.75, 1.0, 0.0)) / 4 for i in range(101)]
    assert type(s["success_curve"]) is list and s["success_curve"] == expected
    assert s["success_curve"][0] == 0.75 and s["success_curve"][50] == 0.5 and s["success_curve"][-1] == 0.0
    assert got10k_scores(np.array([[0.5, 0.75], [1.0, 0.0]])) == s  # any shape, flattened
    json.dumps(s)


def test_got10k_scores_of_no_frame():
    empty = {"ao": None, "sr50": None, "sr75": None, "success_curve": None}
    assert got10k_scores([]) == empty and got10k_scores(np.zeros((0,))) == empty
    one = got10k_scores([0.76])
    assert (one["ao"], one["sr50"], one["sr75"]) == (0.76, 1.0, 1.0)
