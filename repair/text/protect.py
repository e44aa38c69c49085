"""The protection rule: what a restorer must never edit and a spinner may be told to leave alone.
Names, numbers and quoted speech (where the author's exact words matter) are protected."""
from __future__ import annotations

from functools import lru_cache

from repair.text.segment import Token


@lru_cache(maxsize=65536)
def zipf(word: str) -> float:
    """The word's frequency on the Zipf scale (wordfreq): about 7 for "the", 0 for a word it does not know."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


_QUOTE_PAIRS = {"“": "”", '"': '"', "«": "»"}
QUOTES = "".join(sorted(set(_QUOTE_PAIRS) | set(_QUOTE_PAIRS.values())))


def quotations(text: str) -> list[tuple[int, int]]:
    """(start, end) of every quotation, its marks included; one left open runs to the end of ``text``."""
    inside, closer, spans = False, None, []
    start = 0
    for i, ch in enumerate(text):
        if not inside and ch in _QUOTE_PAIRS:
            inside, closer, start = True, _QUOTE_PAIRS[ch], i
        elif inside and ch == closer:
            spans.append((start, i + 1))
            inside = False
    if inside:  # a quote that runs past the sentence end protects the rest of it
        spans.append((start, len(text)))
    return spans


def protected(text: str, tokens: list[Token]) -> list[bool]:
    """Tokens a restorer must never change: numbers, names (capitalised words, except a common word
    opening the sentence: "The", "However") and anything inside quotation marks, where the author's exact words matter."""
    spans = quotations(text)
    out = []
    for n, t in enumerate(tokens):
        quoted = any(a < t.start < b for a, b in spans)
        numeric = any(c.isdigit() for c in t.text)
        # a capitalised word is a name unless it opens the sentence and is a very common word
        name = t.text[:1].isupper() and (n > 0 or zipf(t.text.lower()) < 5.0)
        out.append(quoted or numeric or name)
    return out


def quoted(text: str, tokens: list[Token]) -> list[bool]:
    """Which tokens lie inside quotation marks (names and numbers are fair game for a spinner elsewhere)."""
    spans = quotations(text)
    return [any(a < t.start < b for a, b in spans) for t in tokens]
