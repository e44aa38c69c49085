import os
from pathlib import Path

import pytest

from repair import InputError
from repair.textio import check_output, read_input, read_text, write_atomic


def test_reads_utf8_and_strips_bom(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes("\ufeffCafé “quoted”\r\n".encode("utf-8"))
    assert read_text(str(p)) == "Café “quoted”\r\n"
    assert read_input(str(p)) == ("Café “quoted”\r\n", "\ufeff")  # for a writer that puts it back
    p.write_bytes("Café\n".encode("utf-8"))
    assert read_input(str(p)) == ("Café\n", "")


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
    with pytest.raises(InputError, match="cannot write \\(No space left on device\\)"):
        write_atomic(str(target), "new but never finished\n")
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]
    assert target.read_text() == "complete\n"  # the old complete file is untouched


def test_utf16_and_cp1252_are_named(tmp_path):
    p = tmp_path / "u16.txt"
    p.write_bytes("Blinken got here.".encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16.*iconv -f utf-16"):
        read_text(str(p))
    p.write_bytes("Blinken got here.".encode("utf-16-le"))  # no byte-order mark
    with pytest.raises(InputError, match="UTF-16"):
        read_text(str(p))
    p.write_bytes("“Quoted,” he said – caf\xe9.".encode("cp1252"))
    with pytest.raises(InputError, match="iconv -f cp1252"):
        read_text(str(p))


def test_outputs_that_cannot_be_written_fail_before_the_work(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(InputError, match="permission denied"):
            check_output(str(ro / "out.txt"), [])
    finally:
        ro.chmod(0o700)


def test_a_fifo_or_device_is_written_in_place_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    check_output(str(fifo), [])
    import threading

    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    write_atomic(str(fifo), "through the pipe\n")
    reader.join(5)
    assert got == ["through the pipe\n"] and fifo.is_fifo()  # still a FIFO, not a regular file
    write_atomic("/dev/null", "gone\n")  # a device: written, not replaced
    assert Path("/dev/null").is_char_device()
