"""A configurable synthetic article spinner, for making training pairs and benchmarks.

It reads thesauri in the formats found in the wild: the ``head|alt|alt`` files of commercial
spinners (and a user's own dictionary), Moby (``root,syn,syn``), MyThes (``word|n`` then
``(pos)|syn|syn``), WordNet 3.0 database files, and PPDB pairs (``word<TAB>paraphrase``). Matching
is phrase-level and longest-first, casing is carried over, quoted speech can be protected, number
words can be swapped for digits, and every substitution is recorded with exact character offsets
into the spun text (the format of ``devbench.jsonl``).
"""
from __future__ import annotations

import io
import random
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from .segment import match_case, quotations, words

NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_TERM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9'’ .-]*$")  # heads: words the tokenizer can match


@dataclass(frozen=True)
class SpinEdit:
    """One substitution: ``spun[start:end] == spun_text`` replaced ``original`` (offsets into the spun text)."""

    start: int
    end: int
    original: str
    spun: str

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "original": self.original, "spun": self.spun}


@dataclass(frozen=True)
class Spun:
    original: str
    spun: str
    edits: list[SpinEdit]


@dataclass
class Thesaurus:
    """head (lower case, words joined by single spaces) -> alternatives a spinner may write instead."""

    entries: dict[str, list[str]] = field(default_factory=dict)
    name: str = "thesaurus"

    def add(self, head: str, alts) -> None:
        head = " ".join(head.lower().split())
        if not head or not _TERM.match(head):
            return
        bucket = self.entries.setdefault(head, [])
        for a in alts:
            a = " ".join(a.replace("_", " ").split())
            if a and a.lower() != head and a.isprintable() and a not in bucket:  # "12 months", "%", "p.c"
                bucket.append(a)
        if not bucket:
            del self.entries[head]

    @property
    def max_words(self) -> int:
        return max((k.count(" ") + 1 for k in self.entries), default=1)

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def load(cls, path: str | Path, fmt: str = "auto") -> "Thesaurus":
        """Load any supported format; ``fmt='auto'`` guesses from the name and the first lines."""
        path = Path(path)
        fmt = _guess_format(path) if fmt == "auto" else fmt
        th = cls(name=f"{path.name}:{fmt}")
        if fmt == "wordnet":
            _load_wordnet(th, path)
            return th
        with _open_text(path, "latin-1" if fmt == "moby" else "utf-8") as f:
            if fmt == "spinner":
                for line in f:
                    head, *alts = line.rstrip("\n").split("|")
                    th.add(head, alts)
            elif fmt == "moby":
                for line in f:
                    head, *alts = line.rstrip("\n").split(",")
                    th.add(head, alts)
            elif fmt == "mythes":
                head = None
                for line in f:
                    line = line.rstrip("\n")
                    if line.startswith("("):
                        th.add(head or "", [re.sub(r" \((generic|similar|related) term\)", "", s)
                                            for s in line.split("|")[1:] if "(antonym)" not in s])
                    else:
                        head = line.split("|")[0]
            elif fmt == "ppdb":
                for line in f:
                    a, _, b = line.rstrip("\n").partition("\t")
                    th.add(a, [b])
            else:
                raise ValueError(f"unknown thesaurus format {fmt!r}")
        return th


def _open_text(path: Path, encoding: str):
    raw = open(path, "rb")
    if path.suffix == ".zst":
        import zstandard

        raw = zstandard.ZstdDecompressor().stream_reader(raw)
    return io.TextIOWrapper(raw, encoding=encoding, errors="replace")


def _guess_format(path: Path) -> str:
    name = path.name.lower()
    for key, fmt in (("wordnet", "wordnet"), ("moby", "moby"), ("mythes", "mythes"), ("th_en", "mythes"),
                     ("ppdb", "ppdb")):
        if key in name:
            return fmt
    if path.is_dir() or ".tar" in name:
        return "wordnet"
    with _open_text(path, "utf-8") as f:
        first = f.readline()
    return "ppdb" if "\t" in first else "moby" if "," in first and "|" not in first else "spinner"


def _load_wordnet(th: Thesaurus, path: Path) -> None:
    def synsets(text: str):
        for line in text.splitlines():
            if line.startswith("  ") or not line.strip():
                continue
            parts = line.split()
            n = int(parts[3], 16)
            yield [parts[4 + 2 * i] for i in range(n)]

    texts = []
    if path.is_dir():
        texts = [p.read_text(encoding="latin-1") for p in sorted(path.glob("data.*"))]
    else:
        stream = open(path, "rb")
        if path.suffix == ".zst":
            import zstandard

            stream = zstandard.ZstdDecompressor().stream_reader(stream)
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for m in tar:
                if Path(m.name).name.startswith("data."):
                    texts.append(tar.extractfile(m).read().decode("latin-1"))
    for text in texts:
        for lemmas in synsets(text):
            for w in lemmas:
                th.add(w.replace("_", " "), [x for x in lemmas if x != w])


class Spinner:
    """Replace thesaurus heads by a random alternative with probability ``rate`` per match."""

    def __init__(self, thesaurus: Thesaurus, *, rate: float = 0.5, protect_quotes: bool = True,
                 protect_names: bool = False, numerals: bool = True, seed: int | None = 0):
        self.thesaurus, self.rate, self.protect_names = thesaurus, rate, protect_names
        self.protect_quotes, self.numerals = protect_quotes, numerals
        self.rng = random.Random(seed)
        self.max_words = min(thesaurus.max_words, 8)

    def spin(self, text: str, *, rate: float | None = None) -> Spun:
        rate = self.rate if rate is None else rate
        toks = words(text)
        quoted = _quoted(text, toks) if self.protect_quotes else [False] * len(toks)
        if self.protect_names:  # capitalised words inside a sentence (a crude name test; spinners rarely have one)
            quoted = [q or (k > 0 and t.text[:1].isupper() and text[toks[k - 1].end:t.start].strip() == "")
                      for k, (t, q) in enumerate(zip(toks, quoted))]
        out, edits, pos, i = [], [], 0, 0
        length = 0  # characters emitted so far
        while i < len(toks):
            choice = None
            for n in range(min(self.max_words, len(toks) - i), 0, -1):
                span = toks[i:i + n]
                if any(quoted[i:i + n]) or (n > 1 and any(text[a.end:b.start] != " " for a, b in zip(span, span[1:]))):
                    continue
                src = text[span[0].start:span[-1].end]
                alts = self.thesaurus.entries.get(src.lower())
                if not alts and n == 1 and self.numerals and src.lower() in NUMBER_WORDS:
                    alts = [NUMBER_WORDS[src.lower()]]
                if alts:
                    if self.rng.random() < rate:
                        choice = (span[0].start, span[-1].end, src, match_case(src, self.rng.choice(alts)), n)
                    break
            if choice is None:
                i += 1
                continue
            start, end, src, alt, n = choice
            out.append(text[pos:start])
            length += start - pos
            edits.append(SpinEdit(length, length + len(alt), src, alt))
            out.append(alt)
            length += len(alt)
            pos, i = end, i + n
        out.append(text[pos:])
        return Spun(text, "".join(out), edits)


def _quoted(text: str, toks) -> list[bool]:
    """Which tokens lie inside quotation marks (names and numbers are fair game for a spinner elsewhere)."""
    spans = quotations(text)
    return [any(a < t.start < b for a, b in spans) for t in toks]
