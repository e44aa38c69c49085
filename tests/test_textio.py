import os

import pytest

from repair import InputError
from repair.textio import check_output, read_text, write_atomic


def test_reads_utf8_and_strips_bom(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes("\ufeffCafé “quoted”\r\n".encode("utf-8"))
    assert read_text(str(p)) == "Café “quoted”\r\n"


@pytest.mark.parametrize("setup, message", [
    (lambda d: d / "missing.txt", "no such file"),
    (lambda d: d, "is a directory"),
    (lambda d: (d / "e.txt").write_text("  \n") and d / "e.txt", "empty"),
    (lambda d: (d / "b.bin").write_bytes(b"\x89PNG\r\n\x1a\n\0\0") and d / "b.bin", "binary"),
    (lambda d: (d / "l.txt").write_bytes("caf\xe9".encode("latin-1")) and d / "l.txt", "not valid UTF-8"),
])
def test_bad_inputs_raise_one_line_errors(tmp_path, setup, message):
    with pytest.raises(InputError, match=message) as exc:
        read_text(str(setup(tmp_path)))
    assert "\n" not in str(exc.value)


def test_too_large(tmp_path):
    p = tmp_path / "big.txt"
    p.write_text("word " * 300)
    with pytest.raises(InputError, match="too large"):
        read_text(str(p), max_bytes=1000)


def test_output_must_not_be_the_input(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("x")
    with pytest.raises(InputError, match="overwrite the input"):
        check_output(str(p), [str(p)])
    with pytest.raises(InputError, match="does not exist"):
        check_output(str(tmp_path / "nope" / "o.txt"), [str(p)])


def test_write_atomic_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    write_atomic(str(target), "complete\n")
    assert target.read_text() == "complete\n"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("repair.textio.os.fsync", disk_full)
    with pytest.raises(OSError):
        write_atomic(str(target), "new but never finished\n")
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]
    assert target.read_text() == "complete\n"  # the old complete file is untouched
