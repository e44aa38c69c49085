"""The restorer's records: a candidate edit with its evidence, and an edit inside one sentence."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

from repair.doc import Edit


@dataclass(frozen=True, slots=True)
class LocalEdit:
    """An edit inside one sentence: offsets into the sentence text."""

    start: int
    end: int
    before: str
    after: str
    confidence: float

    def shifted(self, by: int) -> Edit:
        return Edit(self.start + by, self.end + by, self.before, self.after, self.confidence)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An edit the restorer proposes, with the evidence its confidence is computed from (offsets into
    the sentence). ``llr``: log p(edit path) - log p(copy path). ``share``: log of the edit path's
    share of the paths that do not copy the word, log p(edit) - log(1 - p(the word's first token)):
    what the restorer would write *if* the word is spun. ``pointed``: the detector's score of the
    spans the edit overlaps (None: it points elsewhere; 1.0 when there was no detector evidence
    either way). ``lexicon``: the lexicon lists ``after`` as an original of ``before``. ``forced``: the
    branch was opened at a detector span, not by the model's own preference. ``span_start``: the edit
    begins at the first word of a detector span. ``rank``: 0 for the likeliest of the edits that begin
    at the same word, 1 for the next, ... ``sentence``: the detector's score of the whole sentence (1.0
    when there was no detector evidence either way). ``document``: the pooled score of its document
    (:func:`repair.doc.context_scores`; spinners spin whole articles, so a sentence among spun ones is
    likelier spun); None when the sentence has no context (a text of one sentence). ``proposed``: who
    proposed the replacement, ``"model"`` (a branch the restorer generated) or ``"lexicon"`` (an original
    the lexicon lists for the pointed words, scored by the restorer word for word) or ``"corrector"`` (one
    of the corrector head's originals for a pointed word). ``channel``: the corrector head's probability
    of the replacement's first word at the edit's first word (0.0 when it is not among the head's top
    choices; None when the head did not look: no corrector, or a word the detector does not point at);
    ``keep``: the head's probability that that word is the author's own. ``fluency``: how much likelier the base
    language model finds the sentence with the replacement than as written, over the replaced words and a
    few words after them (:class:`repair.restore.fluency.FluencyScorer`; None when it did not score it).
    ``llr_lead``, ``fluency_lead``: how far its ``llr`` (its ``fluency``) is above the best of the other
    candidates that overlap it, the rivals a reader would weigh it against (None: no rival, or none the
    base model scored; set by :func:`with_leads`). ``neighbour_llr``, ``neighbour_fluency``: the best ``llr``
    (``fluency``) of the candidates that touch it, one space away: a spinner rewrites runs of adjacent words,
    and a run is restored whole or not at all (None: no such candidate, or none scored)."""

    start: int
    end: int
    before: str
    after: str
    llr: float
    share: float
    pointed: float | None
    lexicon: bool
    forced: bool = False
    span_start: bool = False
    rank: int = 0
    sentence: float = 1.0
    document: float | None = None
    proposed: str = "model"
    channel: float | None = None
    keep: float | None = None
    fluency: float | None = None
    llr_lead: float | None = None
    fluency_lead: float | None = None
    neighbour_llr: float | None = None
    neighbour_fluency: float | None = None


def with_leads(cands: list[Candidate]) -> list[Candidate]:
    """The candidates of one sentence with their leads over their rivals and their neighbours' evidence
    (``llr_lead``, ``fluency_lead``, ``neighbour_llr``, ``neighbour_fluency``: see :class:`Candidate`)."""
    def lead(c: Candidate, value) -> float | None:
        rivals = [value(o) for o in cands if o is not c and o.start < c.end and c.start < o.end
                  and value(o) is not None]
        return None if value(c) is None or not rivals else value(c) - max(rivals)

    def neighbour(c: Candidate, value) -> float | None:
        near = [value(o) for o in cands if (o.start == c.end + 1 or o.end == c.start - 1) and value(o) is not None]
        return max(near, default=None)

    return [replace(c, llr_lead=lead(c, lambda o: o.llr), fluency_lead=lead(c, lambda o: o.fluency),
                    neighbour_llr=neighbour(c, lambda o: o.llr), neighbour_fluency=neighbour(c, lambda o: o.fluency))
            for c in cands]


def ranked(cands: list[Candidate]) -> list[Candidate]:
    """The candidates with their ``rank`` among those beginning at the same word (by ``llr``)."""
    order = sorted(range(len(cands)), key=lambda i: (cands[i].start, -cands[i].llr))
    out, prev, rank = list(cands), None, 0
    for i in order:
        rank = rank + 1 if cands[i].start == prev else 0
        prev = cands[i].start
        out[i] = replace(cands[i], rank=rank)
    return out


def minimal_edit(sentence: str, start: int, end: int, after: str) -> tuple[int, int, str] | None:
    """Trim the words a replacement shares with the text at either end ("the navy" -> "the
    military" is "navy" -> "military"); None when nothing is left to replace or to replace it with."""
    before = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", sentence[start:end])]
    new = after.split()
    while before and new and sentence[before[0][0]:before[0][1]] == new[0]:
        before, new = before[1:], new[1:]
    while before and new and sentence[before[-1][0]:before[-1][1]] == new[-1]:
        before, new = before[:-1], new[:-1]
    if not before or not new:
        return None
    return before[0][0], before[-1][1], " ".join(new)


def pieces(e: LocalEdit) -> list[LocalEdit]:
    """The edit as the edits of the words it changes, where it keeps some of its words as written: "However
    the Individuals" -> "But the Americans" is "However" -> "But" and "Individuals" -> "Americans", each with
    the edit's confidence (one decision, shown and counted word by word: an edit is the smallest span record).
    Split only where every piece replaces words with words: an edit that drops or adds a word stays whole."""
    src = [(m.start(), m.end()) for m in re.finditer(r"\S+", e.before)]
    new = e.after.split()
    ops = [op for op in SequenceMatcher(None, [e.before[a:b] for a, b in src], new, autojunk=False).get_opcodes()
           if op[0] != "equal"]
    if len(ops) < 2 or any(op[0] != "replace" for op in ops):
        return [e]
    return [LocalEdit(e.start + src[i1][0], e.start + src[i2 - 1][1], e.before[src[i1][0]:src[i2 - 1][1]],
                      " ".join(new[j1:j2]), e.confidence) for _, i1, i2, j1, j2 in ops]


def chosen(edits: list[LocalEdit]) -> list[LocalEdit]:
    """The edits a restorer gives of one sentence's candidates: the most confident of overlapping ones
    (:func:`non_overlapping`), each as the edits of the words it changes (:func:`pieces`)."""
    return [p for e in non_overlapping(edits) for p in pieces(e)]


def non_overlapping(edits: list[LocalEdit]) -> list[LocalEdit]:
    """Keep the most confident of overlapping edits."""
    kept: list[LocalEdit] = []
    for e in sorted(edits, key=lambda e: -e.confidence):
        if all(e.end <= k.start or k.end <= e.start for k in kept):
            kept.append(e)
    return sorted(kept, key=lambda e: e.start)


def accepted(edits: list[LocalEdit], text: str, min_confidence: float, joint_share: float | None = None) -> list[LocalEdit]:
    """The edits of one sentence (non-overlapping, offsets into ``text``) that are applied: those at
    ``min_confidence`` or above and, with ``joint_share``, every edit at ``joint_share * min_confidence``
    or above that touches an applied one (only whitespace between them), and so on along the run. A
    spinner rewrites runs of adjacent words ("dying grew to become" for "death became"): the run is
    one decision, and half of it restored leaves a phrase the author did not write either."""
    keep = [e for e in edits if e.confidence >= min_confidence]
    if not joint_share or not keep:
        return keep
    floor = joint_share * min_confidence
    rest = sorted((e for e in edits if floor <= e.confidence < min_confidence), key=lambda e: -e.confidence)

    def touches(a: LocalEdit, b: LocalEdit) -> bool:
        gap = text[a.end:b.start] if a.end <= b.start else text[b.end:a.start]
        return gap != "" and gap.isspace()

    grown = True
    while grown:
        grown = False
        for e in rest:
            if any(touches(e, k) for k in keep):
                keep.append(e)
                rest.remove(e)
                grown = True
                break
    return sorted(keep, key=lambda e: e.start)
