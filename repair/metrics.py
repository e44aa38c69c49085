"""Scoring detection and restoration the way grammatical-error-correction work scores edits.

Edits are compared in a canonical form: common leading/trailing words are trimmed (``and huge ->
and large`` becomes ``huge -> large``) and edits separated only by spaces are merged
(``information``+``convention`` is one phrase edit). A system edit is correct when its span and
replacement equal a gold edit's, case-insensitively (ERRANT / M2 exact matching).
"""
from __future__ import annotations

from dataclasses import dataclass

Triple = tuple[int, int, str]  # (start, end, replacement) with offsets into the spun text


def canonical(edits: list[Triple], text: str) -> set[tuple[int, int, str]]:
    """Minimal, merged, lower-cased edits."""
    out: list[list] = []
    for start, end, repl in sorted(edits):
        src_words, tgt_words = text[start:end].split(" "), repl.split(" ")
        while len(src_words) > 1 and len(tgt_words) > 1 and src_words[0].lower() == tgt_words[0].lower():
            start += len(src_words[0]) + 1
            src_words, tgt_words = src_words[1:], tgt_words[1:]
        while len(src_words) > 1 and len(tgt_words) > 1 and src_words[-1].lower() == tgt_words[-1].lower():
            end -= len(src_words[-1]) + 1
            src_words, tgt_words = src_words[:-1], tgt_words[:-1]
        repl = " ".join(tgt_words)
        if text[start:end].lower() == repl.lower():
            continue  # a no-op is not an edit
        if out and text[out[-1][1]:start].strip() == "" and text[out[-1][1]:start] != "":
            prev = out[-1]
            prev[2] = prev[2] + text[prev[1]:start] + repl
            prev[1] = end
        else:
            out.append([start, end, repl])
    return {(s, e, r.lower()) for s, e, r in out}


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: "Counts") -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def f(self, beta: float = 1.0) -> float:
        p, r = self.precision, self.recall
        b2 = beta * beta
        return (1 + b2) * p * r / (b2 * p + r) if p + r else 0.0


def edit_counts(system: list[Triple], gold: list[Triple], text: str) -> Counts:
    sys_set, gold_set = canonical(system, text), canonical(gold, text)
    tp = len(sys_set & gold_set)
    return Counts(tp, len(sys_set) - tp, len(gold_set) - tp)


def word_edit_distance(a: str, b: str) -> int:
    """Levenshtein distance over whitespace-separated words (case-sensitive)."""
    x, y = a.split(), b.split()
    prev = list(range(len(y) + 1))
    for i, wx in enumerate(x, 1):
        cur = [i] + [0] * len(y)
        for j, wy in enumerate(y, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (wx != wy))
        prev = cur
    return prev[-1]


def word_error_reduction(outputs: list[str], spun: list[str], originals: list[str]) -> float:
    """1 - WER(output, original) / WER(spun, original), with errors summed over the corpus."""
    before = sum(word_edit_distance(s, o) for s, o in zip(spun, originals))
    after = sum(word_edit_distance(x, o) for x, o in zip(outputs, originals))
    return 1.0 - after / before if before else 0.0


def damage_per_1000(outputs: list[str], originals: list[str]) -> float:
    """Words changed per 1,000 words of text that needed no change."""
    words = sum(len(o.split()) for o in originals)
    changed = sum(word_edit_distance(x, o) for x, o in zip(outputs, originals))
    return 1000.0 * changed / words if words else 0.0


def roc_auc(positives: list[float], negatives: list[float]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    if not positives or not negatives:
        return float("nan")
    scored = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives])
    rank_sum, i = 0.0, 0
    while i < len(scored):
        j = i
        while j < len(scored) and scored[j][0] == scored[i][0]:
            j += 1
        avg_rank = (i + 1 + j) / 2  # 1-based average rank of the tie block
        rank_sum += avg_rank * sum(lab for _, lab in scored[i:j])
        i = j
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def token_counts(pred_spans: list[tuple[int, int]], gold_spans: list[tuple[int, int]],
                 tokens: list[tuple[int, int]]) -> Counts:
    """Word-level detection counts: a token is positive when it lies inside a span."""
    def inside(spans, t):
        return any(s <= t[0] and t[1] <= e for s, e in spans)

    c = Counts()
    for t in tokens:
        p, g = inside(pred_spans, t), inside(gold_spans, t)
        c.tp += p and g
        c.fp += p and not g
        c.fn += g and not p
    return c
