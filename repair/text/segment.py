"""Sentences and words with exact character offsets into the caller's text.

Sentence boundaries come from NLTK's Punkt, with parameters trained on 2012-2020 US news
(``scripts/train_punkt.py``) and shipped in ``models/``, so nothing is fetched at run time. Line
breaks are hard boundaries: no sentence spans two lines, and paragraphs survive untouched because
we never rewrite the text, we only point into it.
"""
from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from nltk.tokenize.punkt import PunktLanguageVars, PunktParameters, PunktSentenceTokenizer

from repair.backends.resources import model_path
from repair.config import MAX_SENTENCE_CHARS

# Abbreviations a news editor meets that a corpus sample can miss; Punkt stores them lower-cased, no final dot.
EXTRA_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sen", "rep", "gov", "gen", "lt", "col", "sgt", "capt", "cmdr", "adm",
    "st", "jr", "sr", "rev", "hon", "pres", "u.s", "u.k", "u.n", "e.u", "d.c", "u.s.a", "inc", "corp", "co",
    "ltd", "no", "vs", "v", "etc", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "ala", "ariz", "ark", "calif", "colo", "conn", "del", "fla", "ga", "ill", "ind", "kan",
    "ky", "la", "md", "mass", "mich", "minn", "miss", "mo", "mont", "neb", "nev", "okla", "ore", "pa",
    "tenn", "tex", "va", "vt", "wash", "wis", "wyo", "a.m", "p.m", "approx", "dept", "est", "fig", "mt",
}
WORD_RE = re.compile(r"[^\W_]+(?:[-'’.][^\W_]+)*", re.UNICODE)
LINE_RE = re.compile(r"[^\r\n]+")


class _NewsLanguageVars(PunktLanguageVars):
    # Curly quotes and brackets may follow a sentence-final period: ‘He left.” She stayed.’
    sent_end_chars = (".", "?", "!")
    internal_punctuation = ",:;"


@dataclass(frozen=True, slots=True)
class Token:
    start: int
    end: int
    text: str


class Segmenter:
    """Splits text into sentence spans; reusable and safe to share between threads (no mutable state)."""

    def __init__(self, params_file: Path | None = None):
        path = params_file or model_path("punkt_news.json.gz")
        with gzip.open(path, "rt", encoding="utf-8") as f:
            data = json.load(f)
        params = PunktParameters()
        params.abbrev_types = set(data["abbrev_types"]) | EXTRA_ABBREVIATIONS
        params.collocations = {tuple(c) for c in data["collocations"]}
        params.sent_starters = set(data["sent_starters"])
        for typ, flags in data["ortho_context"].items():
            params.ortho_context[typ] = flags
        self._punkt = PunktSentenceTokenizer(params, lang_vars=_NewsLanguageVars())

    def sentences(self, text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[tuple[int, int]]:
        """Sentence spans ``(start, end)`` into ``text``, trimmed of surrounding whitespace. A sentence
        longer than ``max_chars`` (text without full stops: a scraped page, a list) is cut into pieces of
        at most that many characters, at the last space before the limit where there is one, so that the
        work per sentence is bounded."""
        spans = []
        for line in LINE_RE.finditer(text):
            base = line.start()
            # a text of one line is given to Punkt as it is (a copy of a 10 MB line is 10-40 MB)
            whole = line.start() == 0 and line.end() == len(text)
            for s, e in self._punkt.span_tokenize(text if whole else line.group()):
                start, end = _trimmed(text, base + s, base + e)
                if start < end:
                    spans += _bounded(text, start, end, max_chars)
        return spans


_NON_SPACE = re.compile(r"\S")


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """``start``, ``end`` moved inwards past white space (without copying ``text[start:end]``)."""
    m = _NON_SPACE.search(text, start, end)
    if m is None:
        return start, start
    start = m.start()
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _bounded(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """``text[start:end]`` (no surrounding whitespace) as pieces of at most ``limit`` characters."""
    out = []
    while end - start > limit:
        cut = max(text.rfind(" ", start + 1, start + limit + 1), text.rfind("\t", start + 1, start + limit + 1))
        cut = cut if cut > start else start + limit
        piece_end = cut
        while piece_end > start and text[piece_end - 1].isspace():
            piece_end -= 1
        out.append((start, piece_end))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        out.append((start, end))
    return out


def words(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    """Word tokens (letters/digits, with inner hyphens, apostrophes and dots) and their offsets."""
    end = len(text) if end is None else end
    return [Token(m.start(), m.end(), m.group()) for m in WORD_RE.finditer(text, start, end)]


def match_case(template: str, word: str) -> str:
    """Give ``word`` the casing pattern of ``template`` (Title, UPPER or as is)."""
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


@lru_cache(maxsize=1)
def default_segmenter() -> Segmenter:
    return Segmenter()
