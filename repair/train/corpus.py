"""Streaming access to the training corpus (``allsides_news.jsonl.zst``), shared by the data scripts."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Iterator

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "corpora" / "allsides_news.jsonl.zst"


def iter_articles(path: str | Path = DEFAULT_CORPUS, limit: int | None = None) -> Iterator[dict]:
    """Yield one article dict per line of a (optionally zstd-compressed) JSONL corpus; memory stays flat."""
    import zstandard

    path = Path(path)
    if not path.exists():
        raise SystemExit(f"corpus not found: {path} (pass --corpus PATH)")
    with open(path, "rb") as raw:
        stream = zstandard.ZstdDecompressor().stream_reader(raw) if path.suffix == ".zst" else raw
        for n, line in enumerate(io.TextIOWrapper(stream, encoding="utf-8")):
            if limit is not None and n >= limit:
                return
            if line.strip():
                yield json.loads(line)
