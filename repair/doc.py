"""The typed records that cross the boundary between `repair` and its callers.

Every offset is a character offset into the caller's original text (Python ``str`` indices), so
``text[span.start:span.end]`` is always the thing the record describes.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

@dataclass(frozen=True, slots=True)
class Span:
    """A word or phrase the detector suspects of being a thesaurus substitution."""

    start: int
    end: int
    score: float
    text: str = ""


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of the input with its spin score (0..1) and its suspicious spans.

    ``score`` weighs the sentence's document too where there is one (the detector's context
    calibration: a sentence among spun ones is more likely spun); ``own_score`` is the score of the
    sentence's own words, which the document score pools (None: the same as ``score``)."""

    start: int
    end: int
    text: str
    score: float
    flagged: bool
    spans: list[Span] = field(default_factory=list)
    own_score: float | None = None

    @property
    def alone(self) -> float:
        """The sentence's score on its own words, without its document's."""
        return self.score if self.own_score is None else self.own_score


@dataclass(frozen=True, slots=True)
class Edit:
    """A minimal replacement: ``before`` is ``input[start:end]``, ``after`` replaces it (ERRANT-style)."""

    start: int
    end: int
    before: str
    after: str
    confidence: float


@dataclass(frozen=True)
class Signature:
    """How a result was computed, so that two numbers can be compared honestly (cf. sacrebleu)."""

    detector: str
    restorer: str | None
    threshold: float
    version: str
    min_confidence: float | None = None  # a fix's knobs: edits below this were withheld ...
    restore_threshold: float | None = None  # ... and sentences scoring below this (and unflagged) not restored
    joint_share: float | None = None  # ... except edits touching an applied one, from this share of the minimum

    def __str__(self) -> str:
        parts = [f"repair:{self.version}", f"detector:{self.detector}", f"threshold:{self.threshold:g}"]
        if self.restorer:
            parts.insert(2, f"restorer:{self.restorer}")
            parts += [f"{name}:{value:g}" for name, value in (("min-confidence", self.min_confidence),
                                                               ("restore-threshold", self.restore_threshold),
                                                               ("joint-share", self.joint_share))
                      if value is not None]
        return "|".join(parts)


class _Outcome:
    """What a check and a fix have in common: scores and the JSON shape (``repair.render`` draws them)."""

    text: str
    original: str
    sentences: list[Sentence]
    edits: list[Edit]
    signature: Signature

    @property
    def score(self) -> float:
        """Document spin score (see :func:`document_score`) of the sentences' own scores."""
        return document_score([s.alone for s in self.sentences])

    @property
    def flagged(self) -> list[Sentence]:
        return [s for s in self.sentences if s.flagged]

    def to_dict(self) -> dict:
        """The JSON shape of ``--format json``: text, document score, sentences, edits (offsets into the
        input) and the signature of how they were computed."""
        return {
            "text": self.text,
            "score": round(self.score, 4),
            "sentences": [_sentence_dict(s) for s in self.sentences],
            "edits": [asdict(e) for e in self.edits],
            "signature": str(self.signature),
        }


@dataclass(frozen=True)
class Report(_Outcome):
    """Detection only (``Repairer.check``): ``text`` is the input text."""

    text: str
    sentences: list[Sentence]
    signature: Signature

    @property
    def original(self) -> str:  # type: ignore[override]
        return self.text

    @property
    def edits(self) -> list[Edit]:  # type: ignore[override]
        return []


@dataclass(frozen=True)
class Result(_Outcome):
    """Detection plus restoration (``Repairer.fix``): ``text`` is the restored text, ``original`` the
    input, and every edit's offsets point into ``original``."""

    original: str
    text: str
    sentences: list[Sentence]
    edits: list[Edit]
    signature: Signature


def _sentence_dict(s: Sentence) -> dict:
    return {
        "start": s.start,
        "end": s.end,
        "score": round(s.score, 4),
        "own_score": round(s.alone, 4),
        "flagged": s.flagged,
        "spans": [{"start": p.start, "end": p.end, "score": round(p.score, 4)} for p in s.spans],
    }


def document_score(sentence_scores: list[float]) -> float:
    """The sentences' scores pooled: the sigmoid of their mean log-odds (a logarithmic opinion pool).

    Sentence scores are calibrated for an even prior, so a document scores 0.5 where its sentences are
    on average as likely spun as not. Unlike the mean of the worst few sentences, it does not rise
    with a document's length: one odd sentence in a long clean article stays low, while a document
    spun throughout scores high. Lightly spun documents score lower; a lower ``--min-score`` finds
    more of them (``make eval`` reports both, per spinner and rate, in docs/benchmarks.md)."""
    if not sentence_scores:
        return 0.0
    # eps: one sentence at exactly 0 or 1 must not decide the document alone
    return sigmoid(sum(logit(p, eps=1e-4) for p in sentence_scores) / len(sentence_scores))


def context_scores(sentence_scores: list[float]) -> list[float | None]:
    """What the restorer reads of each sentence's document: the :func:`document_score` of the whole
    document, or None for a document of one sentence (which has no context beyond the sentence)."""
    if len(sentence_scores) < 2:
        return [None] * len(sentence_scores)
    return [document_score(sentence_scores)] * len(sentence_scores)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


def logit(p: float, eps: float = 1e-12) -> float:
    """Log-odds of ``p``, clamped to ``[eps, 1 - eps]``."""
    p = min(max(p, eps), 1 - eps)
    return math.log(p / (1 - p))


def worst_mean(sentence_scores: list[float], top: int = 3) -> float:
    """Mean of the ``top`` highest sentence scores: a sensitive first look that misses few spun
    documents (``--triage`` clears a document early only when this stays low)."""
    if not sentence_scores:
        return 0.0
    worst = sorted(sentence_scores, reverse=True)[:top]
    return sum(worst) / len(worst)


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits (offsets into ``text``) and return the new text."""
    out, pos = [], 0
    for e in sorted(edits, key=lambda e: e.start):
        if e.start < pos or text[e.start:e.end] != e.before:
            raise ValueError(f"edit does not match the text or overlaps another: {e}")
        out += [text[pos:e.start], e.after]
        pos = e.end
    out.append(text[pos:])
    return "".join(out)
