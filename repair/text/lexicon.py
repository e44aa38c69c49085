"""The spin lexicon: for a spun word or phrase, the originals a thesaurus spinner may have replaced.

Built by ``scripts/build_lexicon.py`` from openly licensed thesauri and shipped as a gzip TSV in
``models/``. Keys are lower-case words or phrases of up to three words; matching is longest-first
over the word tokens of a sentence.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from repair.backends.resources import model_path
from repair.text.segment import Token

MAX_PHRASE = 3


@dataclass(frozen=True)
class Site:
    """A place in a sentence where the lexicon knows possible originals; offsets into the sentence's text."""

    start: int
    end: int
    text: str
    candidates: tuple[str, ...]


class Lexicon:
    def __init__(self, entries: dict[str, tuple[str, ...]], name: str = "custom"):
        self.entries = entries
        self.name = name

    @classmethod
    def load(cls, path: Path | None = None) -> "Lexicon":
        path = path or model_path("lexicon.tsv.gz")
        opener = gzip.open if str(path).endswith(".gz") else open
        entries: dict[str, tuple[str, ...]] = {}
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or "\t" not in line:
                    continue
                key, _, cands = line.rstrip("\n").partition("\t")
                entries[key] = tuple(cands.split("|"))
        return cls(entries, name=Path(path).name)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: str) -> bool:
        return key.lower() in self.entries

    def candidates(self, key: str) -> tuple[str, ...]:
        return self.entries.get(key.lower(), ())

    def sites(self, text: str, tokens: list[Token]) -> list[Site]:
        """Longest-first, non-overlapping lexicon matches over consecutive word tokens of ``text``."""
        out, i = [], 0
        while i < len(tokens):
            for n in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):
                span = tokens[i:i + n]
                # a phrase must be separated by single spaces only, exactly as the key is written
                if n > 1 and any(text[a.end:b.start] != " " for a, b in zip(span, span[1:])):
                    continue
                key = " ".join(t.text for t in span).lower()
                cands = self.entries.get(key)
                if cands:
                    out.append(Site(span[0].start, span[-1].end, text[span[0].start:span[-1].end], cands))
                    i += n
                    break
            else:
                i += 1
        return out


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    return Lexicon.load()
