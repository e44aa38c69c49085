"""Thesauri in the formats found in the wild: the ``head|alt|alt`` files of commercial spinners (and a
user's own dictionary), Moby (``root,syn,syn``), MyThes (``word|n`` then ``(pos)|syn|syn``), WordNet 3.0
database files (a directory or a ``.tar[.zst]``), and PPDB pairs (``word<TAB>paraphrase``). Each
reader gives head -> alternatives a spinner may write instead; the spinner spins with them and
``scripts/build_lexicon.py`` inverts them."""
from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from repair.textio import open_binary, open_text

_TERM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9'’ .-]*$")  # heads: words the tokenizer can match


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
        fmt = guess_format(path) if fmt == "auto" else fmt
        if fmt not in FORMATS:
            raise ValueError(f"unknown thesaurus format {fmt!r}")
        th = cls(name=f"{path.name}:{fmt}")
        for head, alts in entries(path, fmt):
            if fmt == "mythes":  # its sense lines mark related terms and antonyms
                alts = [_MYTHES_MARK.sub("", a) for a in alts if "(antonym)" not in a]
            th.add(head, alts)
        return th


FORMATS = ("spinner", "moby", "mythes", "wordnet", "ppdb")
_MYTHES_MARK = re.compile(r" \((generic|similar|related) term\)")


def entries(path: Path, fmt: str) -> Iterator[tuple[str, list[str]]]:
    """The raw ``(head, alternatives)`` of a thesaurus file, as written (the caller cleans terms): a
    spinner line, a Moby root, a MyThes sense line under its word, a PPDB pair, a WordNet synset's
    lemmas (each lemma as head, the others as alternatives)."""
    if fmt == "wordnet":
        for name, text in wordnet_files(path):
            if name.startswith("data."):
                for lemmas in wordnet_synsets(text):
                    for w in lemmas:
                        yield w.replace("_", " "), [x for x in lemmas if x != w]
        return
    with open_text(path, "latin-1" if fmt == "moby" else "utf-8") as f:
        head = None
        for line in f:
            line = line.rstrip("\n")
            if fmt == "spinner":
                head, *alts = line.split("|")
                yield head, alts
            elif fmt == "moby":
                head, *alts = line.split(",")
                yield head, alts
            elif fmt == "mythes":
                if line.startswith("("):
                    yield head or "", line.split("|")[1:]
                else:
                    head = line.split("|")[0]
            elif fmt == "ppdb":
                a, _, b = line.partition("\t")
                yield a, [b]


def wordnet_files(path: Path) -> Iterator[tuple[str, str]]:
    """``(file name, text)`` of every WordNet 3.0 database file (``data.*``, ``index.*``, ``*.exc``), from
    a directory or a ``.tar[.zst]``."""
    if path.is_dir():
        for p in sorted(path.iterdir()):
            if p.is_file():
                yield p.name, p.read_text(encoding="latin-1")
        return
    with open_binary(path) as stream, tarfile.open(fileobj=stream, mode="r|*") as tar:
        for m in tar:
            if m.isfile():
                yield Path(m.name).name, tar.extractfile(m).read().decode("latin-1")


def wordnet_synsets(text: str, offsets: bool = False) -> Iterator:
    """The lemmas of each synset of a WordNet ``data.*`` file (with ``offsets``: ``(offset, lemmas)``)."""
    for line in text.splitlines():
        if line.startswith("  ") or not line.strip():
            continue
        parts = line.split()
        lemmas = [parts[4 + 2 * i] for i in range(int(parts[3], 16))]
        yield (parts[0], lemmas) if offsets else lemmas


def guess_format(path: Path) -> str:
    name = path.name.lower()
    for key, fmt in (("wordnet", "wordnet"), ("moby", "moby"), ("mythes", "mythes"), ("th_en", "mythes"),
                     ("ppdb", "ppdb")):
        if key in name:
            return fmt
    if path.is_dir() or ".tar" in name:
        return "wordnet"
    with open_text(path, "utf-8") as f:
        first = f.readline()
    return "ppdb" if "\t" in first else "moby" if "," in first and "|" not in first else "spinner"
