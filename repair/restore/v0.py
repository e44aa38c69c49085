"""Restoration v0 (``lexicon-lm-v0``) needs no training: for every lexicon site of a flagged sentence
it rescores the sentence with the top candidate originals and keeps a replacement only when the
language model prefers it by a clear margin. The margin is what keeps clean text alone: an
ordinary sentence has no alternative that is much more likely than what is written."""
from __future__ import annotations

from repair.detect import LMLexiconDetector
from repair.doc import Span, sigmoid
from repair.restore.base import Restorer
from repair.restore.edits import LocalEdit


class LexiconLMRestorer(Restorer):
    """Restoration v0: lexicon candidates chosen by SmolLM2 likelihood with a conservative margin."""

    name = "lexicon-lm-v0"

    def __init__(self, detector: LMLexiconDetector, *, top: int = 3, prescreen: float = -3.0,
                 center: float = 2.0, slope: float = 0.7):
        self.detector = detector
        self.top, self.prescreen = top, prescreen
        self.center, self.slope = center, slope  # confidence = sigmoid(slope * (gain - center))

    def confidence(self, gain: float) -> float:
        return sigmoid(self.slope * (gain - self.center))

    def restore(self, sentence: str, spans: list[Span]) -> list[LocalEdit]:
        """Candidate edits with confidences; the caller decides which confidence is enough.

        When the detector found suspicious ``spans``, only lexicon sites overlapping them are
        rescored: most of the language-model work goes where the evidence is."""
        sites = self.detector.sites(sentence)
        if spans:
            sites = [s for s in sites if any(p.start < s.end and s.start < p.end for p in spans)]
        alts = self.detector.alternatives(sentence, sites, prescreen=self.prescreen, top=self.top)
        edits = []
        for site, site_alts in zip(sites, alts):
            if site_alts and site_alts[0].gain > 0 and site_alts[0].text != site.text:
                a = site_alts[0]
                edits.append(LocalEdit(site.start, site.end, site.text, a.text, self.confidence(a.gain)))
        return edits

