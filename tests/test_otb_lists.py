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
