import cv2
import numpy as np
import pytest

from rolo.errors import DataError
from rolo.otb import OTB, frame_table, load_image, parse_groundtruth, read_list


def _img(path, w=8, h=6, grey=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.full((h, w) if grey else (h, w, 3), 100, np.uint8)
    cv2.imwrite(str(path), a)


def _seq(root, img_dir, numbers, gt_file, lines, nz=4, ext="jpg", sep=",", eol="\n"):
    for n in numbers:
        _img(root / img_dir / f"{n:0{nz}d}.{ext}")
    gt = root / gt_file
    gt.parent.mkdir(parents=True, exist_ok=True)
    gt.write_bytes(eol.join(sep.join(str(v) for v in row) for row in lines).encode())
    return gt


@pytest.mark.parametrize("text", [
    "1,2,3,4\r\n5,6,7,8\r\n",          # comma, CRLF
    "1\t2\t3\t4\r\n5\t6\t7\t8",        # tab, no final newline (Car4)
    "1 2  3 4\n\n5, 6,\t7 8\n\n",      # mixed whitespace, blank lines
])
def test_groundtruth_delimiters(tmp_path, text):
    p = tmp_path / "gt.txt"
    p.write_bytes(text.encode())
    np.testing.assert_array_equal(parse_groundtruth(p), [[1, 2, 3, 4], [5, 6, 7, 8]])


@pytest.mark.parametrize("line, msg", [("1,2,x,4", "cannot parse"), ("1,2,3", "expected 4 numbers"),
                                       ("1,2,3,4,5", "expected 4 numbers"), ("1,nan,3,4", "non-finite")])
def test_bad_line_names_file_and_line(tmp_path, line, msg):
    p = tmp_path / "groundtruth_rect.txt"
    p.write_text(f"1,2,3,4\n\n{line}\n")
    with pytest.raises(DataError, match=rf"groundtruth_rect.txt, line 3: {msg}"):
        parse_groundtruth(p)


def test_frame_table_knows_all_otb100():
    t = frame_table()
    assert len(t) == 100 and len({s.img_dir for s in t.values()}) == 98  # Jogging, Skating2: 2 targets
    assert (t["David"].start_frame, t["David"].end_frame) == (300, 770)
    assert t["BlurCar1"].start_frame == 247 and t["BlurCar3"].start_frame == 3 and t["BlurCar4"].start_frame == 18
    assert t["Board"].nz == 5 and t["Human4-2"].gt_file.endswith(".2.txt")


def test_quirky_sequences(tmp_path):
    rows = lambda n: [[1, 2, 3, 4]] * n  # noqa: E731
    _seq(tmp_path, "David/img", range(1, 771), "David/groundtruth_rect.txt", rows(471))
    _seq(tmp_path, "Diving/img", range(1, 232), "Diving/groundtruth_rect.txt", rows(215))
    _seq(tmp_path, "BlurCar3/img", range(3, 360), "BlurCar3/groundtruth_rect.txt", rows(357), sep="\t")
    _seq(tmp_path, "Board/img", range(1, 699), "Board/groundtruth_rect.txt", rows(698), nz=5)
    _seq(tmp_path, "Jogging/img", range(1, 308), "Jogging/groundtruth_rect.2.txt", rows(307))
    otb = OTB(tmp_path)
    d = otb["David"]
    assert len(d) == 471 and d.frames[0].name == "0300.jpg" and d.frames[-1].name == "0770.jpg"
    assert d.frame_numbers[0] == 300
    assert len(otb["Diving"]) == 215 and otb["Diving"].frames[-1].name == "0215.jpg"
    assert otb["BlurCar3"].frames[0].name == "0003.jpg"
    assert otb["Board"].frames[0].name == "00001.jpg"
    assert len(otb["Jogging-2"]) == 307
    with pytest.raises(DataError, match="two targets; list it as 'Jogging-1' or 'Jogging-2'"):
        otb["Jogging"]


def test_mismatch_is_an_error_never_truncation(tmp_path):
    _seq(tmp_path, "Crossing/img", range(1, 120), "Crossing/groundtruth_rect.txt", [[1, 2, 3, 4]] * 120)
    with pytest.raises(DataError, match=r"image for ground-truth line 120 not found: .*0120.jpg"):
        OTB(tmp_path)["Crossing"]
    (tmp_path / "Crossing/groundtruth_rect.txt").write_text("1,2,3,4\n" * 119)
    with pytest.raises(DataError, match="119 ground-truth lines, but OTB-100's Crossing has 120"):
        OTB(tmp_path)["Crossing"]
    assert len(OTB(tmp_path, strict=False)["Crossing"]) == 119


def test_plain_rule_for_unknown_names(tmp_path):
    _seq(tmp_path, "MyClip/img", range(1, 6), "MyClip/groundtruth_rect.txt", [[1, 2, 3, 4]] * 5)
    s = OTB(tmp_path)["MyClip"]
    assert len(s) == 5 and s.gt.shape == (5, 4)
    (tmp_path / "MyClip/groundtruth_rect.txt").write_text("1,2,3,4\n" * 6)
    with pytest.raises(DataError, match="6 ground-truth lines for 5 images"):
        OTB(tmp_path)["MyClip"]


def test_missing_things_name_the_path(tmp_path):
    with pytest.raises(DataError, match="sequence folder not found: .*Nope"):
        OTB(tmp_path)["Nope"]
    with pytest.raises(DataError, match="OTB root folder not found"):
        OTB(tmp_path / "absent")["Car4"]
    (tmp_path / "Car4").mkdir()
    with pytest.raises(DataError, match="Car4: image folder not found: .*Car4/img"):
        OTB(tmp_path)["Car4"]
    with pytest.raises(DataError, match="sequence list not found"):
        read_list(tmp_path / "list.txt")


def test_images_greyscale_empty_corrupt(tmp_path):
    _img(tmp_path / "g.jpg", grey=True)
    assert load_image(tmp_path / "g.jpg").shape == (6, 8, 3)
    (tmp_path / "z.jpg").write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        load_image(tmp_path / "z.jpg")
    (tmp_path / "c.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(DataError, match="cannot decode"):
        load_image(tmp_path / "c.jpg")


def test_real_sample(otb_sample):
    otb = OTB(otb_sample, strict=False)
    car4 = otb["Car4"]  # greyscale JPEG, tab-separated, CRLF, no final newline
    assert len(car4) == 100 and car4.image_size() == (360, 240)
    np.testing.assert_array_equal(car4.gt[0], [70, 51, 107, 87])
    assert otb["Human3"].image_size() == (480, 640)
    assert len(OTB(otb_sample)["Crossing"]) == 120
    with pytest.raises(DataError, match="100 ground-truth lines, but OTB-100's Car4 has 659"):
        OTB(otb_sample)["Car4"]
