"""What every detector gives back, and what it may declare about itself."""
from __future__ import annotations

from dataclasses import dataclass

from repair.doc import Span, logit, sigmoid


@dataclass(frozen=True, slots=True)
class SentenceEvidence:
    score: float
    spans: list[Span]  # offsets into the sentence text
    alternatives: list  # detection v0: the best alternative per rescored site (repair.detect.v0.Alternative)


@dataclass(frozen=True)
class ContextCalibration:
    """A sentence's score weighed with its document's: spinners spin whole articles, so the same odd
    word is stronger evidence in an article whose other sentences look spun, and weaker in a clean one.

    ``score = sigmoid(own * logit(sentence) + document * logit(document score) + bias)``: a logistic
    regression on held-out training articles (``scripts/calibrate_context.py``), calibrated like the
    sentence score itself (an even prior). It applies to sentences of a text of two or more sentences,
    or of a part whose document's score the caller passes (``Repairer.check_many(document_scores=...)``)."""

    own: float
    document: float
    bias: float

    @classmethod
    def from_config(cls, config: dict | None) -> ContextCalibration | None:
        return cls(config["own"], config["document"], config["bias"]) if config else None

    @staticmethod
    def inputs(sentence: float, document: float) -> tuple[float, float]:
        """What the regression reads: the log-odds of the sentence's own score and of its document's."""
        return logit(sentence, 1e-4), logit(document, 1e-4)

    def __call__(self, sentence: float, document: float) -> float:
        own, document = self.inputs(sentence, document)
        return sigmoid(self.own * own + self.document * document + self.bias)



class Detector:
    """A detector: ``detect(sentences)`` gives each sentence a score in 0..1 and the spans that raised it.

    Its abilities are declared, not probed: ``threshold``, the sentence score at which it flags (its
    own operating point; None: the pipeline's default), and ``context``, how a sentence's score weighs
    its document's (None: it does not). Subclass it, or give the pipeline any object with ``name`` and
    ``detect`` (``repair.registry.as_detector`` reads the rest as None)."""

    name: str = "detector"
    threshold: float | None = None
    context: ContextCalibration | None = None

    def detect(self, sentences: list[str]) -> list[SentenceEvidence]:
        raise NotImplementedError
