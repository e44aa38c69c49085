"""What every restorer does, and what it may declare about itself."""
from __future__ import annotations

from repair.doc import Span
from repair.restore.edits import LocalEdit


class Restorer:
    """A restorer: ``restore(sentence, spans)`` proposes edits inside one sentence, each with its
    confidence (the caller withholds those below its minimum); ``spans`` are the detector's, offsets
    into the sentence. ``restore_many`` does many at once and also reads each sentence's own score and
    its document's (None: no context); the default restores one sentence at a time.

    Its abilities are declared, not probed: ``min_confidence``, ``restore_threshold`` and
    ``joint_share``, its tuned operating point (None: the pipeline's defaults; ``joint_share``: an edit
    touching an applied one is applied from this share of the minimum confidence, see
    :func:`repair.restore.edits.accepted`). Subclass it, or give the pipeline any object with
    ``name`` and ``restore`` (``repair.registry.as_restorer`` adapts it)."""

    name: str = "restorer"
    min_confidence: float | None = None
    restore_threshold: float | None = None
    joint_share: float | None = None

    def restore(self, sentence: str, spans: list[Span]) -> list[LocalEdit]:
        raise NotImplementedError

    def restore_many(self, sentences: list[str], spans: list[list[Span] | None], scores: list[float] | None = None,
                     documents: list[float | None] | None = None) -> list[list[LocalEdit]]:
        return [self.restore(s, sp) for s, sp in zip(sentences, spans)]
