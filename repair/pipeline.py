"""``Repairer``: the one object editorial software needs.

Data flows one way: text -> sentences (``segment``) -> scores and spans (``detect``) -> edits
(``restore``) -> ``Report`` / ``Result`` (``doc``), whose offsets all point into the input text.
"""
from __future__ import annotations

import threading

from . import __version__
from .detect import LMLexiconDetector
from .doc import Edit, Report, Result, Sentence, Signature, Span, apply_edits
from .lexicon import Lexicon, default_lexicon
from .lm import LanguageModel
from .restore import LexiconLMRestorer
from .segment import Segmenter, default_segmenter

DEFAULT_THRESHOLD = 0.5
DEFAULT_MIN_CONFIDENCE = 0.85
MAX_CHARS = 5_000_000


class InputError(ValueError):
    """The input cannot be processed (empty, too large, not text); the message is one line for a user."""


class Repairer:
    """Detects and undoes thesaurus spinning. Loads its models once; safe to share between threads.

    >>> r = Repairer()                        # doctest: +SKIP
    >>> r.fix("Blinken got here to Astana.").text   # doctest: +SKIP
    'Blinken came to Astana.'
    """

    def __init__(self, *, threshold: float = DEFAULT_THRESHOLD, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                 device: str = "cpu", lm: LanguageModel | None = None, lexicon: Lexicon | None = None,
                 segmenter: Segmenter | None = None, max_chars: int = MAX_CHARS):
        self.threshold = threshold
        self.min_confidence = min_confidence
        self.max_chars = max_chars
        self.segmenter = segmenter or default_segmenter()
        self.lexicon = lexicon or default_lexicon()
        self.lm = lm or LanguageModel(device=device)
        self.detector = LMLexiconDetector(self.lm, self.lexicon)
        self.restorer = LexiconLMRestorer(self.detector)
        self._lock = threading.Lock()  # torch modules are not re-entrant on every backend

    def signature(self, restorer: bool) -> Signature:
        return Signature(self.detector.name, self.restorer.name if restorer else None, self.threshold, __version__)

    def _validate(self, text: str) -> None:
        if not isinstance(text, str):
            raise InputError(f"expected str, got {type(text).__name__}")
        if len(text) > self.max_chars:
            raise InputError(f"document too large: {len(text):,} characters (limit {self.max_chars:,})")

    def _sentences(self, text: str, threshold: float) -> list[Sentence]:
        spans = self.segmenter.sentences(text)
        with self._lock:
            evidence = self.detector.detect([text[s:e] for s, e in spans])
        out = []
        for (s, e), ev in zip(spans, evidence):
            out.append(Sentence(s, e, text[s:e], ev.score, ev.score >= threshold,
                                [Span(p.start + s, p.end + s, p.score, p.text) for p in ev.spans]))
        return out

    def check(self, text: str, *, threshold: float | None = None) -> Report:
        """Detection only: every sentence with its spin score, flag and suspicious spans."""
        self._validate(text)
        threshold = self.threshold if threshold is None else threshold
        return Report(text, self._sentences(text, threshold), self.signature(False))

    def fix(self, text: str, *, threshold: float | None = None, min_confidence: float | None = None) -> Result:
        """Detection plus restoration of flagged sentences. Edits below ``min_confidence`` are withheld."""
        self._validate(text)
        threshold = self.threshold if threshold is None else threshold
        min_conf = self.min_confidence if min_confidence is None else min_confidence
        sentences = self._sentences(text, threshold)
        edits: list[Edit] = []
        for sent in sentences:
            if not sent.flagged:
                continue
            local = [Span(p.start - sent.start, p.end - sent.start, p.score, p.text) for p in sent.spans]
            with self._lock:
                proposed = self.restorer.restore(sent.text, local)
            edits += [e.shifted(sent.start) for e in proposed if e.confidence >= min_conf]
        return Result(text, apply_edits(text, edits), sentences, edits, self.signature(True))
