"""rolo.otb's list files and missing-name hints, byte by byte (in process: the fault tests run the
scripts in a subprocess, which mutation testing cannot reach)."""
import os

import pytest

from rolo.errors import DataError
from rolo.otb import OTB, read_list


@pytest.mark.parametrize("data", [
    "Bird1\n# a comment\n\n  Car4  # trailing comment\r\n./Human3\nJogging-1/\n".encode("utf-8"),
    b"\xef\xbb\xbf" + "Bird1\nCar4\nHuman3\nJogging-1\n".encode("utf-8"),
    "Bird1\nCar4\nHuman3\nJogging-1".encode("utf-16-le").join([b"\xff\xfe", b""]),
    "Bird1\nCar4\nHuman3\nJogging-1\n".encode("utf-16-be").join([b"\xfe\xff", b""]),
])
def test_read_list_encodings_comments_and_spellings(tmp_path, data):
    path = tmp_path / "list.txt"
    path.write_bytes(data)
    assert read_list(path) == ["Bird1", "Car4", "Human3", "Jogging-1"]


def test_read_list_keeps_subfolders_with_forward_slashes(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text(f"a{os.sep}b\nc/./d\n# x#y\n")
    assert read_list(path) == ["a/b", "c/d"]


def test_read_list_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "list.txt"
    path.write_bytes("Bird1\nCar4\nCaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=rf"^{path}, line 3: not UTF-8 text \(byte 0xe9\); save the list as UTF-8$"):
        read_list(path)
    path.write_bytes(b"\xff\xfe" + "Bird1\n".encode("utf-16-le") + b"\x00")     # an odd byte at the end
    with pytest.raises(DataError, match=rf"^{path}, line 2: not UTF-16 text \(byte 0x00\)"):
        read_list(path)
    path.write_text("# nothing listed\n\n")
    with pytest.raises(DataError, match=f"^{path}: the sequence list is empty$"):
        read_list(path)
    with pytest.raises(DataError, match=f"^sequence list not found: {tmp_path / 'none.txt'}$"):
        read_list(tmp_path / "none.txt")


def test_a_missing_sequence_suggests_the_closest_name(tmp_path):
    (tmp_path / "MyClip").mkdir()
    otb = OTB(tmp_path)
    with pytest.raises(DataError, match=r"not found: .*Crosing \('Crosing' is not an OTB-100 sequence; "
                                        r"did you mean 'Crossing'\?\)$"):
        otb["Crosing"]
    with pytest.raises(DataError, match=r"\('MyClp' is not an OTB-100 sequence; did you mean 'MyClip'\?\)$"):
        otb["MyClp"]
    # the names users type for the two-target and renamed folders are known names too
    with pytest.raises(DataError, match=r"\('Humen4' is not an OTB-100 sequence; did you mean 'Human4'\?\)$"):
        otb["Humen4"]
    with pytest.raises(DataError, match=r"\('Joging' is not an OTB-100 sequence; did you mean 'Jogging'\?\)$"):
        otb["Joging"]
    with pytest.raises(DataError, match=r"\('zzzzzzzz' is not an OTB-100 sequence\)$"):
        otb["zzzzzzzz"]


def test_images_are_listed_in_numeric_order(tmp_path):
    from rolo.otb import list_images, natural_key

    for name in ["10.jpg", "2.JPG", "1.png", "frame_12.bmp", "frame_3.jpeg", "notes.txt", "a1.jpg", "_1.jpg"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["1.png", "2.JPG", "10.jpg", "_1.jpg", "a1.jpg",
                                                      "frame_3.jpeg", "frame_12.bmp"]
    assert natural_key("dir/Img0010.JPG") == ["img", 10, ".jpg"]


def _plain_tree(root, names, lines):
    (root / "Clip" / "img").mkdir(parents=True)
    for n in names:
        (root / "Clip" / "img" / n).write_bytes(b"x")
    (root / "Clip" / "groundtruth_rect.txt").write_text("".join(f"{i},{i},5,5\n" for i in range(1, lines + 1)))


def test_a_sequence_outside_the_table_by_the_plain_rule(tmp_path):
    _plain_tree(tmp_path, ["f2.jpg", "f10.jpg", "f1.jpg"], 3)
    seq = OTB(tmp_path)["Clip"]
    assert seq.name == "Clip" and seq.gt_path == tmp_path / "Clip" / "groundtruth_rect.txt"
    assert [p.name for p in seq.frames] == ["f1.jpg", "f2.jpg", "f10.jpg"]
    assert list(seq.frame_numbers) == [1, 2, 10]
    other = tmp_path / "other"
    _plain_tree(other, ["b.jpg", "a.jpg"], 2)                     # no digits: numbered by position
    assert list(OTB(other)["Clip"].frame_numbers) == [1, 2]


def test_plain_rule_errors_name_the_folder(tmp_path):
    (tmp_path / "Clip").mkdir()
    with pytest.raises(DataError, match=f"^Clip: image folder not found: {tmp_path / 'Clip' / 'img'}$"):
        OTB(tmp_path)["Clip"]
    (tmp_path / "Clip" / "img").mkdir()
    with pytest.raises(DataError, match=f"^Clip: no images in {tmp_path / 'Clip' / 'img'}$"):
        OTB(tmp_path)["Clip"]


def test_load_image_errors_name_the_file(tmp_path):
    import cv2
    import numpy as np

    from rolo.otb import load_image

    with pytest.raises(DataError, match=f"^image not found: {tmp_path / 'none.jpg'}$"):
        load_image(tmp_path / "none.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(DataError, match=r"^image is empty \(0 bytes\): "):
        load_image(tmp_path / "empty.jpg")
    (tmp_path / "one.jpg").write_bytes(b"x")
    with pytest.raises(DataError, match=r"^cannot decode image \(corrupt or not an image\): "):
        load_image(tmp_path / "one.jpg")
    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (48, 1))
    ok, jpg = cv2.imencode(".jpg", grey)
    assert ok
    for name in ("cut.JPG", "cut.jpeg", "cut.jpg"):
        (tmp_path / name).write_bytes(jpg.tobytes()[:-2])         # without its end-of-image marker
        with pytest.raises(DataError, match=r"^image is truncated \(JPEG without its end-of-image marker\): "):
            load_image(tmp_path / name)
    (tmp_path / "grey.jpg").write_bytes(jpg.tobytes())
    img = load_image(tmp_path / "grey.jpg")
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8    # greyscale read as 3 channels


def _crossing_copy(root, otb_sample, ext="jpg", lines=5):
    """The first ``lines`` frames of the real Crossing, as files named like OTB's, with ``ext``."""
    (root / "Crossing" / "img").mkdir(parents=True)
    gt = (otb_sample / "Crossing" / "groundtruth_rect.txt").read_text().splitlines()[:lines]
    (root / "Crossing" / "groundtruth_rect.txt").write_text("\n".join(gt) + "\n")
    for i in range(1, lines + 1):
        (root / "Crossing" / "img" / f"{i:04d}.{ext}").write_bytes(b"x")


def test_a_table_sequence_keeps_its_name_files_and_spec(otb_sample):
    seq = OTB(otb_sample, strict=False)["Car4"]
    assert seq.name == "Car4" and seq.spec.name == "Car4"
    assert seq.gt_path == otb_sample / "Car4" / "groundtruth_rect.txt"
    assert seq.frames[0] == otb_sample / "Car4" / "img" / "0001.jpg" and len(seq.frames) == 100


@pytest.mark.parametrize("ext", ["png", "jpeg", "bmp"])
def test_a_table_sequence_saved_in_another_image_format(tmp_path, otb_sample, ext):
    _crossing_copy(tmp_path, otb_sample, ext)
    seq = OTB(tmp_path, strict=False)["Crossing"]
    assert [p.name for p in seq.frames] == [f"{i:04d}.{ext}" for i in range(1, 6)]


def test_names_users_type_resolve_to_the_table(tmp_path):
    otb = OTB(tmp_path)
    assert otb.resolve_name("Human4") == "Human4-2" and otb.resolve_name("Car4") == "Car4"
    with pytest.raises(DataError, match=r"^sequence 'Jogging' has two targets; list it as 'Jogging-1' or 'Jogging-2'$"):
        otb.resolve_name("Jogging")


def test_check_reports_every_problem_at_once(tmp_path, otb_sample):
    _crossing_copy(tmp_path, otb_sample, lines=3)
    (tmp_path / "Crossing" / "img" / "0002.jpg").write_bytes(b"")
    problems = OTB(tmp_path, strict=False).check(["Crossing", "Nowhere", "Jogging"])
    assert problems == [f"Crossing: image is empty (0 bytes): {tmp_path / 'Crossing' / 'img' / '0002.jpg'}",
                        f"sequence folder not found: {tmp_path / 'Nowhere'} ('Nowhere' is not an OTB-100 sequence)",
                        "sequence 'Jogging' has two targets; list it as 'Jogging-1' or 'Jogging-2'"]
    assert OTB(tmp_path, strict=False).check(["Crossing"])[:1] == problems[:1]
