"""Reading user input and writing results safely: one-line errors, never a half-written file; and
the one way the project opens a possibly compressed file (``.gz``, ``.zst``)."""
from __future__ import annotations

import gzip
import io
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from repair.errors import InputError, TooLarge

MAX_BYTES = 10 * 1024 * 1024  # a news article is ~10 KB; 10 MB is a whole book


def decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 3 and (
            (data[1:4:2] == b"\0\0" and data[0]) or (data[0:3:2] == b"\0\0" and data[1]))):
        raise InputError(f"{name}: looks like UTF-16 text, expected UTF-8; convert it first, e.g. "
                         f"iconv -f utf-16 -t utf-8")
    if not data.strip():
        raise InputError(f"{name}: input is empty")
    if b"\0" in data[:65536]:
        raise InputError(f"{name}: looks like a binary file (contains NUL bytes), expected UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        # bytes 0x80-0x9f are printable in Windows-1252 (curly quotes, dashes) and control codes in latin-1
        source = "cp1252" if any(0x80 <= b <= 0x9f for b in data) and _decodes(data, "cp1252") else "latin1"
        raise InputError(f"{name}: not valid UTF-8 (byte {e.start}: {data[e.start:e.start + 1]!r}); "
                         f"convert it first, e.g. iconv -f {source} -t utf-8") from None
    return text[1:] if text.startswith("\ufeff") else text


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False


def read_text(path: str, max_bytes: int = MAX_BYTES) -> str:
    """Read ``path`` (or ``-`` for standard input) as UTF-8 text, or raise :class:`InputError`. A UTF-8
    byte-order mark is not part of the text (see :func:`read_input` to write it back)."""
    return read_input(path, max_bytes)[0]


BOM = "\ufeff"


def read_input(path: str, max_bytes: int = MAX_BYTES) -> tuple[str, str]:
    """:func:`read_text`, and the byte-order mark the input began with (``BOM`` or ""), for a caller
    that writes the text back as the input was (``repair fix``)."""
    if path == "-":
        name = "<stdin>"
        try:
            data = sys.stdin.buffer.read(max_bytes + 1)
        except (AttributeError, OSError, ValueError):  # no standard input at all (closed: `<&-`)
            raise InputError(f"{name}: standard input is closed; give a file or pipe text in") from None
    else:
        p = Path(path)
        name = str(p)
        if not p.exists():
            raise InputError(f"{name}: no such file")
        if p.is_dir():
            raise InputError(f"{name}: is a directory, expected a text file")
        try:
            size = p.stat().st_size
            if size > max_bytes:
                raise TooLarge(f"{name}: too large ({size / 1e6:.1f} MB; limit {max_bytes / 1e6:.0f} MB, "
                                 f"use --max-bytes or `repair batch` for corpora)")
            with open(p, "rb") as f:
                data = f.read(max_bytes + 1)
        except PermissionError:
            raise InputError(f"{name}: permission denied") from None
        except OSError as e:
            raise InputError(f"{name}: cannot read ({e.strerror})") from None
    if len(data) > max_bytes:
        raise TooLarge(f"{name}: too large (over {max_bytes / 1e6:.0f} MB)")
    return decode(data, name), BOM if data.startswith(BOM.encode()) else ""


def check_output(out: str, inputs: list[str]) -> None:
    """Before any work: refuse to overwrite an input, to write into a missing or read-only directory,
    or onto a file that cannot be written."""
    o = Path(out)
    for i in inputs:
        if i != "-" and Path(i).exists() and o.exists() and o.resolve() == Path(i).resolve():
            raise InputError(f"{out}: output would overwrite the input; choose another -o path")
    if o.is_dir():
        raise InputError(f"{out}: is a directory, expected a file path")
    parent = o.resolve().parent
    if not parent.is_dir():
        raise InputError(f"{out}: directory {parent} does not exist")
    if o.exists() and not os.access(o, os.W_OK):
        raise InputError(f"{out}: permission denied (the file is not writable)")
    if _regular_or_new(o) and not os.access(parent, os.W_OK):
        raise InputError(f"{out}: permission denied (cannot write in {parent})")


def _regular_or_new(path: Path) -> bool:
    """A path written by replacing it (a regular file, or none yet); a device, FIFO or /dev/stdout is
    written in place instead."""
    return not path.exists() or (path.is_file() and not str(path.resolve()).startswith(("/proc/", "/dev/")))


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; once the block succeeds it is fsynced and renamed into
    place, so a reader never sees a half-written file (on failure the temporary file is removed)."""
    target = Path(path)
    if not _regular_or_new(target):  # /dev/stdout, a FIFO, a terminal: written in place, never replaced
        yield target
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.resolve().parent)
    os.close(fd)
    try:
        umask = os.umask(0)
        os.umask(umask)
        # mkstemp makes 0600 files; give the result the mode (or the umask default) a normal write would
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~umask)
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`); a failure (a full or read-only
    disk) is an :class:`InputError` of one line, and leaves the old file as it was."""
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                f.write(text)
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None


def open_compressed(path: str | Path):
    """``(raw, stream)``: the file as opened, and its decompressed bytes (``.gz``, ``.zst``; the file
    itself otherwise). ``raw.tell()`` is how far into the file the stream has read."""
    path = Path(path)
    raw = open(path, "rb")
    if path.name.endswith(".gz"):
        return raw, gzip.GzipFile(fileobj=raw)
    if path.name.endswith(".zst"):
        return raw, io.BufferedReader(_ZstdReader(raw))
    return raw, raw


class _ZstdReader(io.RawIOBase):
    """Zstandard frames decompressed as a stream that, unlike ``zstandard``'s own reader, fails where the
    file ends inside a frame (``EOFError``, as ``gzip`` does), so that a truncated file is never taken for
    a short one."""

    def __init__(self, raw):
        import zstandard

        self._new = zstandard.ZstdDecompressor().decompressobj
        self._raw, self._d, self._buf = raw, self._new(), b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            if self._d.eof:  # a frame ended: another may follow
                rest = self._d.unused_data or self._raw.read(1 << 16)
                if not rest:
                    return 0
                self._d = self._new()
                self._buf = self._d.decompress(rest)
                continue
            chunk = self._raw.read(1 << 16)
            if not chunk:
                raise EOFError("compressed file ended before the end-of-frame marker was reached")
            self._buf = self._d.decompress(chunk)
        n = min(len(b), len(self._buf))
        b[:n], self._buf = self._buf[:n], self._buf[n:]
        return n


def open_binary(path: str | Path):
    """A possibly compressed file's bytes, as a stream to read (and close)."""
    return open_compressed(path)[1]


def open_text(path: str | Path, encoding: str = "utf-8", errors: str = "replace"):
    """A possibly compressed file's text, line by line."""
    return io.TextIOWrapper(open_binary(path), encoding=encoding, errors=errors)
