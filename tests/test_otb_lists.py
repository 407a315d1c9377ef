"""rolo.otb's list files and missing-name hints, byte by byte (in process: the fault tests run the
scripts in a subprocess, which mutation testing cannot reach)."""
import re

import pytest

from rolo.errors import DataError
from rolo.otb import OTB, read_list


@pytest.mark.parametrize("data", [
    "Bird1\n# a comment\n\n  Car4  # trailing comment # with a second #\r\n./Human3\nJogging-1/\n".encode("utf-8"),
    b"\xef\xbb\xbf" + "Bird1\nCar4\nHuman3\nJogging-1\n".encode("utf-8"),
    "Bird1\nCar4\nHuman3\nJogging-1".encode("utf-16-le").join([b"\xff\xfe", b""]),
    "Bird1\nCar4\nHuman3\nJogging-1\n".encode("utf-16-be").join([b"\xfe\xff", b""]),
])
def test_read_list_encodings_comments_and_spellings(tmp_path, data):
    path = tmp_path / "list.txt"
    path.write_bytes(data)
    assert read_list(path) == ["Bird1", "Car4", "Human3", "Jogging-1"]


def test_read_list_refuses_subfolders_after_normalising(tmp_path):
    # OTB names are single folder names; "c/./d" is still two folders deep once normalised
    path = tmp_path / "list.txt"
    path.write_text("# x#y\nc/./d\n")
    with pytest.raises(DataError, match=r", line 2: 'c/\./d' is a path, not a single folder name"):
        read_list(path)


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
    with pytest.raises(DataError, match=rf"^sequence list {tmp_path} is a folder, not a list file \(one sequence "
                                        r"name per line\)$"):
        read_list(tmp_path)


@pytest.mark.parametrize("line, problem", [
    ("/tmp/otbx2/Crossing", "is a path, not a single folder name"),  # <out>/train/<it> was the sequence folder
    ("../../tmp/otbx/Crossing", "is a path, not a single folder name"),  # wrote outside --out_dir
    ("..", "is not a folder name"), ("./", "is not a folder name"), ("Crossing/img", "is a path, not a single "
                                                                    "folder name")])
def test_a_list_line_that_is_a_path_is_refused_naming_file_and_line(tmp_path, line, problem):
    path = tmp_path / "list.txt"
    path.write_text(f"# two good names, then a path\nBird1\n\nCar4\n  {line}  # here\nDavid\n")
    with pytest.raises(DataError, match=rf"^{path}, line 5: {re.escape(repr(line))} {problem}; list each sequence "
                                        r"by its folder name under the OTB root \(e\.g\. 'Crossing'\)$"):
        read_list(path)


def test_names_that_look_like_paths_but_are_one_folder_are_kept(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("./Alpha\nBeta/\nGamma/./\nx/../Delta\n..Eps\n")
    assert read_list(path) == ["Alpha", "Beta", "Gamma", "Delta", "..Eps"]


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


def test_a_shortened_table_sequence_names_strict_frames_and_a_longer_one_does_not(tmp_path):
    (tmp_path / "Crossing" / "img").mkdir(parents=True)
    for i in range(1, 4):
        (tmp_path / "Crossing" / "img" / f"{i:04d}.jpg").write_bytes(b"x")
    gt = tmp_path / "Crossing" / "groundtruth_rect.txt"
    gt.write_text("1,2,3,4\n" * 3)
    with pytest.raises(DataError, match=rf"^{gt}: 3 ground-truth lines, but OTB-100's Crossing has 120 \(images 1-120\); "
                                        r"a shortened copy \(its first frames\) is read with --strict_frames false$"):
        OTB(tmp_path)["Crossing"]
    assert len(OTB(tmp_path, strict=False)["Crossing"]) == 3
    gt.write_text("1,2,3,4\n" * 121)  # more lines than the benchmark has: no copy is longer, no hint
    for strict in (True, False):
        with pytest.raises(DataError, match=rf"^{gt}: 121 ground-truth lines, but OTB-100's Crossing has 120 "
                                            r"\(images 1-120\)$"):
            OTB(tmp_path, strict=strict)["Crossing"]
    for i in range(4, 121):
        (tmp_path / "Crossing" / "img" / f"{i:04d}.jpg").write_bytes(b"x")
    gt.write_text("1,2,3,4\n" * 120)
    assert len(OTB(tmp_path)["Crossing"]) == 120
