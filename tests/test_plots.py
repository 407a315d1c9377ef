import cv2
import numpy as np
import pytest

from rolo.errors import RoloError
from rolo.metrics import PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS
from rolo.plots import (
    TITLE_HEIGHT,
    draw_boxes,
    montage,
    montage_image,
    plot_precision,
    plot_success,
    precision_figure,
    precision_series,
    success_figure,
    success_series,
    write_video,
)

WEAK = np.linspace(0.6, 0.0, 21)       # AUC 0.3
STRONG = np.linspace(1.0, 0.2, 21)     # AUC 0.6
PREC_A = np.clip(np.arange(51) / 40, 0, 1)   # P@20 0.5
PREC_B = np.clip(np.arange(51) / 25, 0, 1)   # P@20 0.8

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_success_series_labels_and_order():
    series = success_series({"weak": WEAK, "strong": STRONG})
    assert [s[0] for s in series] == ["strong [AUC 0.600]", "weak [AUC 0.300]"]
    np.testing.assert_array_equal(series[0][1], SUCCESS_THRESHOLDS)
    np.testing.assert_array_equal(series[0][2], STRONG)
    with pytest.raises(ValueError, match="weak"):
        success_series({"weak": WEAK[:20]})


def test_precision_series_labels_and_order():
    series = precision_series({"a": PREC_A, "b": PREC_B})
    assert [s[0] for s in series] == ["b [P@20 0.800]", "a [P@20 0.500]"]
    np.testing.assert_array_equal(series[1][1], PRECISION_THRESHOLDS)
    np.testing.assert_array_equal(series[1][2], PREC_A)


def test_success_figure_draws_the_curves():
    fig = success_figure({"weak": WEAK, "strong": STRONG})
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_ydata(), STRONG)
    np.testing.assert_allclose(lines[1].get_xdata(), SUCCESS_THRESHOLDS)
    np.testing.assert_allclose(lines[1].get_ydata(), WEAK)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["strong [AUC 0.600]", "weak [AUC 0.300]"]
    assert ax.get_xlabel() == "Overlap threshold"


def test_precision_figure_draws_the_curves():
    fig = precision_figure({"a": PREC_A, "b": PREC_B})
    lines = fig.axes[0].get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), PREC_B)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["b [P@20 0.800]", "a [P@20 0.500]"]


def test_a_run_keeps_its_colour_across_plots():
    # "a" ranks first by AUC but last by P@20: it must not change colour between the two plots.
    runs_success = {"a": STRONG, "b": WEAK}
    runs_precision = {"a": PREC_A, "b": PREC_B}
    colour = {}
    for fig in (success_figure(runs_success), precision_figure(runs_precision)):
        for line in fig.axes[0].get_lines():
            colour.setdefault(line.get_label().split(" [")[0], set()).add(line.get_color())
    assert colour == {"a": {"C0"}, "b": {"C1"}}


def test_plots_write_png(tmp_path):
    p = plot_success({"weak": WEAK, "strong": STRONG}, tmp_path / "sub" / "success.png")
    q = plot_precision({"a": PREC_A}, tmp_path / "precision.png")
    for path in (p, q):
        assert path.stat().st_size > 5000
        assert path.read_bytes()[:8] == PNG_MAGIC


def test_draw_boxes_colours_and_copy():
    img = np.zeros((100, 120, 3), np.uint8)
    out = draw_boxes(img, [10, 20, 30, 40], [60, 50, 20, 20], frame_number=7)
    assert not img.any()                                # input untouched
    assert tuple(out[20, 25]) == (0, 255, 0)            # top edge of the GT box
    assert tuple(out[40, 10]) == (0, 255, 0)            # left edge of the GT box
    assert tuple(out[60, 60]) == (0, 0, 255)            # left edge of the prediction
    assert tuple(out[40, 25]) == (0, 0, 0)              # inside: boxes are outlines
    assert out[:30, :30, 2].any() and out[:30, :30, 1].any()   # yellow "#7" top-left


def test_draw_boxes_skips_failed_prediction_and_takes_grey():
    out = draw_boxes(np.zeros((50, 50), np.uint8), [5, 5, 20, 20], [np.nan, 0, 0, 0])
    assert out.shape == (50, 50, 3)
    red = (out[..., 2] == 255) & (out[..., 1] == 0)
    assert not red.any() and (out[..., 1] == 255).any()
    # A box far outside the frame is drawn clipped, without cv2 errors.
    draw_boxes(np.zeros((50, 50, 3), np.uint8), None, [1e12, -1e12, 1e13, 1e13])


def test_montage_layout(tmp_path):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (50, 50, 50), (200, 0, 200)]
    items = [(f"video{i} AOS 0.{i}", np.full((60, 80, 3), c, np.uint8)) for i, c in enumerate(colours)]
    img = montage_image(items, cols=3, tile_size=(80, 60))
    assert img.shape == (2 * (60 + TITLE_HEIGHT), 3 * 80, 3)
    for i, c in enumerate(colours):
        r, col = divmod(i, 3)
        centre = img[r * (60 + TITLE_HEIGHT) + TITLE_HEIGHT + 30, col * 80 + 40]
        assert tuple(centre) == c
    assert (img[:TITLE_HEIGHT, :80] < 128).any()           # title text
    assert (img[60 + TITLE_HEIGHT:, 2 * 80:] == 255).all()  # the unused sixth cell stays blank
    path = montage(items, tmp_path / "m.png", cols=3, tile_size=(80, 60))
    assert cv2.imread(str(path)).shape == img.shape


def test_montage_keeps_aspect_ratio():
    tall = np.full((200, 50, 3), 255, np.uint8)
    img = montage_image([("tall", tall)], cols=4, tile_size=(100, 100))
    assert img.shape == (100 + TITLE_HEIGHT, 100, 3)
    tile = img[TITLE_HEIGHT:]
    assert (tile[:, 40:60] == 255).all() and (tile[:, :20] == 0).all()


def test_write_video_round_trip(tmp_path):
    frames = [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(5)]
    path = write_video(iter(frames), tmp_path / "v" / "out.mp4", fps=10)
    cap = cv2.VideoCapture(str(path))
    read = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        read.append(frame)
    cap.release()
    assert len(read) == 5 and read[0].shape == (48, 64, 3)
    assert abs(int(read[4].mean()) - 80) < 10


def test_write_video_errors(tmp_path):
    blocked = tmp_path / "blocked.mp4"
    blocked.mkdir()
    with pytest.raises(RoloError, match="blocked.mp4"):
        write_video([np.zeros((16, 16, 3), np.uint8)], blocked)
    with pytest.raises(RoloError, match="empty.mp4"):
        write_video([], tmp_path / "empty.mp4")
    with pytest.raises(ValueError, match="frame 1"):
        write_video([np.zeros((16, 16, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)], tmp_path / "mixed.mp4")
