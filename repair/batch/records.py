"""A batch job's records, its options and its summary."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from repair import config
from repair._version import __version__

Mode = Literal["detect", "fix"]


@dataclass(frozen=True)
class Record:
    """One input document. ``fields`` is the input record as read (for ``.txt`` inputs: id and text);
    ``error`` is set when the record cannot be processed, and says why."""

    key: int  # position in the input stream, over all inputs
    source: str  # "file:line" (or "file:row"), for people
    fields: dict | None
    text: str | None
    error: str | None = None
    raw: str | None = None  # the undecodable or unparsable line, kept for the errors file
    offset: int = 0  # input bytes consumed so far (for progress)


@dataclass
class Options:
    mode: Mode = "detect"
    text_field: str = "text"
    id_field: str | None = "id"
    min_score: float | None = None  # documents scoring >= min_score are "spun"
    keep: Literal["clean", "spun"] = "clean"  # with min_score: which side stays in the output
    threshold: float | None = None
    min_confidence: float | None = None
    max_chars: int = config.MAX_CHARS
    chunk_size: int = config.CHUNK_SIZE
    triage: int = 0  # detect mode: score only the first N sentences of documents that look clean there
    triage_score: float = config.TRIAGE_SCORE

    def fingerprint(self, inputs: list[Path], models: dict | None = None) -> str:
        """Inputs (by content: see :func:`content_stamp`), options, version and the model choices
        (``repairer_kwargs``): a resumed run must not mix two versions of an input, or the output of
        two detectors."""
        stats = [(str(p.resolve()), content_stamp(p)) for p in inputs]
        models = {k: v for k, v in (models or {}).items() if v not in (None, False, "default")}
        blob = json.dumps([stats, asdict(self), __version__] + ([models] if models else []), sort_keys=True,
                          default=lambda o: getattr(o, "name", type(o).__name__))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Summary:
    documents: int = 0
    flagged: int = 0
    fixed: int = 0
    edits: int = 0
    errors: int = 0
    excluded: int = 0
    sentences: int = 0
    skipped_chunks: int = 0
    seconds: float = 0.0  # the whole run, model loading included
    load_seconds: float = 0.0  # of which loading the models (here, or in every local worker before the first chunk)
    output: str = ""
    totals: dict = field(default_factory=dict)  # rows in the final files: out, errors, excluded (whole job)

    def add(self, other: "Summary") -> None:
        for k in ("documents", "flagged", "fixed", "edits", "errors", "excluded", "sentences"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


def content_stamp(path: Path, sample: int = 1 << 16) -> list:
    """What identifies an input's content without reading all of it: size, modification time and a
    hash of its first, middle and last ``sample`` bytes (for a directory, the same of each ``.txt``
    file in it). An input edited in place, even to the same size, gets another stamp."""
    if path.is_dir():
        return [(str(p.relative_to(path)), content_stamp(p, sample)) for p in sorted(path.rglob("*.txt")) if p.is_file()]
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for at in sorted({0, max(0, st.st_size // 2 - sample // 2), max(0, st.st_size - sample)}):
            f.seek(at)
            h.update(f.read(sample))
    return [st.st_size, st.st_mtime_ns, h.hexdigest()[:16]]
