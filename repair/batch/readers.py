"""Read every record of every input, valid or not: JSONL (plain, ``.gz``, ``.zst``), Parquet, ``.txt``
files and directories of them. A record that cannot be used carries its ``error``."""
from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path

from repair.batch.records import Options, Record
from repair.errors import BatchError, InputError
from repair.textio import decode, open_compressed

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")


def kind_of(path: Path) -> str:
    if path.is_dir():
        return "txt-dir"
    name = path.name.lower()
    for suffix in (".gz", ".zst"):
        name = name.removesuffix(suffix)
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".txt"):
        return "txt"
    raise BatchError(f"{path}: unsupported input (expected .jsonl[.gz|.zst], .parquet, .txt or a directory of .txt)")


def validate(fields: dict, opts: Options) -> tuple[str | None, str | None]:
    """(text, error) for one parsed record."""
    if opts.text_field not in fields:
        return None, f"missing field {opts.text_field!r}"
    text = fields[opts.text_field]
    if not isinstance(text, str):
        return None, f"field {opts.text_field!r} is {type(text).__name__}, expected a string"
    if not text.strip():
        return None, "empty text"
    if len(text) > opts.max_chars:
        return None, f"oversized document: {len(text):,} characters (limit {opts.max_chars:,})"
    return text, None


def _jsonl(path: Path, opts: Options, base: int) -> Iterator[tuple[str, dict | None, str | None, str | None, int]]:
    """Every line a record (blank lines skipped). A compressed file that ends or breaks mid-stream gives
    the records read before the damage, then one error naming the file."""
    import zlib

    import zstandard

    raw, stream = open_compressed(path)
    n = 0
    with raw:
        try:
            for n, line in enumerate(io.BufferedReader(stream) if stream is not raw else raw, 1):
                if n == 1 and line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]  # a UTF-8 byte-order mark is not part of the first record
                if line.strip():
                    yield (f"{path}:{n}", *_parse(line), base + raw.tell())
        except (EOFError, OSError, zlib.error, zstandard.ZstdError) as e:
            yield (f"{path}:{n + 1}", None, f"truncated or corrupt compressed file: {e} (after line {n}; the "
                   f"records before it are kept)", None, base + raw.tell())


def _parse(line: bytes) -> tuple[dict | None, str | None, str | None]:
    """(record, error, the line as text for the errors file) of one JSONL line."""
    try:
        s = line.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, f"not valid UTF-8 (byte {e.start})", line.decode("utf-8", "backslashreplace").rstrip("\n")
    try:
        obj = json.loads(s)
    except json.JSONDecodeError as e:
        return None, f"malformed JSON ({e.msg} at column {e.colno})", s.rstrip("\n")
    if not isinstance(obj, dict):
        return None, f"malformed record: a JSON {type(obj).__name__}, expected an object", s.rstrip("\n")
    if "\\ud" in s or "\\uD" in s:  # a \uD800-\uDFFF escape may be half a pair: only then look closer
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as e:
            return None, f"holds a lone surrogate escape (U+{ord(e.object[e.start]):04X}), which is not text", s.rstrip("\n")
    return obj, None, None


def _parquet(path: Path, opts: Options, base: int):
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise BatchError(f"{path}: cannot read Parquet ({e})") from None
    total, row = max(1, pf.metadata.num_rows), 0
    size = path.stat().st_size
    for batch in pf.iter_batches(batch_size=1024):
        for obj in batch.to_pylist():
            row += 1
            yield f"{path}:row {row}", obj, None, None, base + size * row // total


def _txt(paths: list[Path], root: Path, opts: Options, base: int):
    done = base
    for p in paths:
        data = p.read_bytes()
        done += len(data)
        rel = str(p.relative_to(root)) if root.is_dir() else p.name
        try:
            text = decode(data, rel)
        except InputError as e:
            yield str(p), {"id": rel}, str(e).split(": ", 1)[-1], data[:200].decode("utf-8", "backslashreplace"), done
            continue
        yield str(p), {"id": rel, "text": text}, None, None, done


def read(inputs: Iterable[str | Path], opts: Options) -> Iterator[Record]:
    """Every record of every input, in order, valid or not."""
    key, base = 0, 0
    for inp in inputs:
        path = Path(inp)
        if not path.exists():
            raise BatchError(f"{path}: no such file or directory")
        kind = kind_of(path)
        txt_opts = Options(**{**asdict(opts), "text_field": "text"})
        if kind == "jsonl":
            rows = _jsonl(path, opts, base)
        elif kind == "parquet":
            rows = _parquet(path, opts, base)
        elif kind == "txt":
            rows = _txt([path], path, txt_opts, base)
        else:
            rows = _txt(sorted(p for p in path.rglob("*.txt") if p.is_file()), path, txt_opts, base)
        local = txt_opts if kind in ("txt", "txt-dir") else opts
        for where, fields, error, raw, offset in rows:
            text = None
            if error is None:
                text, error = validate(fields, local)
            yield Record(key, where, fields, text, error, raw, offset)
            key += 1
        base += input_size(path)


def input_size(path: Path) -> int:
    """Bytes a job reads from ``path`` (for progress)."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*.txt") if p.is_file())
    return path.stat().st_size


def chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for r in records:
        chunk.append(r)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
