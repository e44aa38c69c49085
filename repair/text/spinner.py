"""A configurable synthetic article spinner, for making training pairs and benchmarks.

It spins with a :class:`repair.text.thesaurus.Thesaurus` (any of the formats found in the wild). Matching
is phrase-level and longest-first, casing is carried over, quoted speech can be protected, number
words can be swapped for digits, and every substitution is recorded with exact character offsets
into the spun text (the format of ``devbench.jsonl``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from repair.text.protect import quoted as quoted_tokens
from repair.text.segment import match_case, words
from repair.text.thesaurus import Thesaurus

NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}


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


class Spinner:
    """Replace thesaurus heads by a random alternative with probability ``rate`` per match.

    ``keep`` holds words (lower case) the spinner leaves alone, as real spinners leave function words:
    a match made of kept words only is never replaced.
    """

    def __init__(self, thesaurus: Thesaurus, *, rate: float = 0.5, protect_quotes: bool = True,
                 protect_names: bool = False, numerals: bool = True, keep: frozenset[str] = frozenset(),
                 seed: int | None = 0):
        self.thesaurus, self.rate, self.protect_names, self.keep = thesaurus, rate, protect_names, keep
        self.protect_quotes, self.numerals = protect_quotes, numerals
        self.rng = random.Random(seed)
        self.max_words = min(thesaurus.max_words, 8)

    def spin(self, text: str, *, rate: float | None = None) -> Spun:
        rate = self.rate if rate is None else rate
        toks = words(text)
        quoted = quoted_tokens(text, toks) if self.protect_quotes else [False] * len(toks)
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
                if self.keep and all(t.text.lower() in self.keep for t in span):
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

