"""The corrector as a restorer (``minilm-corrector-v1``, ``--restorer fast``): no language model.

For every span the detector points at, the corrector head (``repair.backends.corrector``) tags each
word KEEP, DELETE or the author's word; the span's edit writes the tagged words in place of the spun
ones ("got here" -> replace(came) + delete -> "came"). Its confidence is the detector's span score
times the head's probability of each change it makes (the words it keeps do not count); the policy's refusals (names, quantities,
quotations, spellings) apply as everywhere. :meth:`CorrectorRestorer.candidates` gives the head's top
``k`` originals of each pointed word, for a caller that chooses among them (the restorer of issue 27).
"""
from __future__ import annotations

from pathlib import Path

from repair.doc import Span
from repair.restore.base import Restorer
from repair.restore.edits import LocalEdit, chosen, minimal_edit
from repair.restore.policy import refusal
from repair.text.segment import match_case


HEAD_ROWS = 512  # pointed words whose distributions over the vocabulary are computed at once (56 MB)


class CorrectorRestorer(Restorer):
    name = "minilm-corrector-v1"

    def __init__(self, path: Path | None = None, *, device: str = "cpu", batch_size: int = 64):
        import torch

        from repair.backends.corrector import DELETE, KEEP, load_corrector
        from repair.backends.resources import model_path

        self.torch, self.KEEP, self.DELETE = torch, KEEP, DELETE
        self.tokenizer, self.encoder, self.head, self.vocab, self.config = load_corrector(path or model_path("corrector"), device)
        self.name = self.config.get("name", self.name)
        self.device, self.batch_size = device, batch_size
        self._keep_id = self.vocab.index(KEEP)
        self.max_tokens = 256
        point = self.config.get("operating_point", {})
        self.min_confidence = point.get("min_confidence")
        self.restore_threshold = point.get("restore_threshold")

    def _choices(self, sentences: list[str], spans: list[list[Span]], k: int):
        """Per sentence, its words and, at each word a span points at (by word index; words past the
        token limit have none), the head's top ``k`` tags ``[(tag, p), ...]`` and its probability that
        the word is the author's (KEEP). Only those words reach the head: the rest of the sentence is
        context for the encoder. A generator, a batch at a time, and the head's distributions over its
        vocabulary (110 KB a word) are reduced to their top ``k`` :data:`HEAD_ROWS` words at a time: held
        whole, 256 pieces of a text without full stops came to most of a GB."""
        from repair.backends.corrector import word_states
        from repair.backends.encoder import featurize

        torch = self.torch
        for i in range(0, len(sentences), self.batch_size):
            b = featurize(self.tokenizer, sentences[i:i + self.batch_size], self.max_tokens)
            pointed = [(row, j) for row, (ws, sp) in enumerate(zip(b.words, spans[i:i + self.batch_size]))
                       for j, w in enumerate(ws) if b.first[row, j] >= 0
                       and any(p.start < w.end and w.start < p.end for p in sp)]
            b.inputs = {k: v.to(self.device) for k, v in b.inputs.items()}
            b.first = b.first.to(self.device)
            chosen: list[dict] = [{} for _ in b.words]  # per sentence of the batch, by pointed word
            if pointed:
                with torch.inference_mode():
                    h = word_states(self.encoder, b)
                    rows, cols = torch.tensor(pointed).T
                    for at in range(0, len(pointed), HEAD_ROWS):
                        p = torch.softmax(self.head(h[rows[at:at + HEAD_ROWS], cols[at:at + HEAD_ROWS]]).float(), -1)
                        top = p.topk(k)
                        keep = p[:, self._keep_id].tolist()
                        for n, (values, ids) in enumerate(zip(top.values.tolist(), top.indices.tolist())):
                            row, j = pointed[at + n]
                            chosen[row][j] = ([(self.vocab[t], v) for v, t in zip(values, ids)], keep[n])
            yield from zip(b.words, chosen)

    def candidates(self, sentences: list[str], spans: list[list[Span] | None], k: int = 5):
        """For each sentence, each pointed word's top ``k`` tags: ``(word index, [(tag, p), ...])``."""
        return [[(j, top) for j, (top, _) in sorted(tags.items())] for tags in self.tags(sentences, spans, k)]

    def tags(self, sentences: list[str], spans: list[list[Span] | None], k: int = 5) -> list[dict]:
        """For each sentence, by pointed word index: its top ``k`` tags ``[(tag, p), ...]`` and the head's
        probability that the word is the author's (KEEP), as ``(top, p_keep)``: what the decoder proposes
        and its reranker reads (``repair.restore.decoder``)."""
        todo = [i for i, sp in enumerate(spans) if sp]
        out: list[dict] = [{} for _ in sentences]
        for i, (_, chosen) in zip(todo, self._choices([sentences[i] for i in todo], [spans[i] for i in todo], k)):
            out[i] = chosen
        return out

    def restore(self, sentence: str, spans: list[Span]) -> list[LocalEdit]:
        return self.restore_many([sentence], [spans])[0]

    def restore_many(self, sentences, spans, scores=None, documents=None) -> list[list[LocalEdit]]:
        todo = [i for i, sp in enumerate(spans) if sp]
        out: list[list[LocalEdit]] = [[] for _ in sentences]
        for i, (ws, tags) in zip(todo, self._choices([sentences[i] for i in todo], [spans[i] for i in todo], 1)):
            edits = [e for p in spans[i] if (e := self._span_edit(sentences[i], p, ws, tags)) is not None]
            out[i] = chosen(edits)
        return out

    def _span_edit(self, sentence: str, span: Span, ws, chosen: dict) -> LocalEdit | None:
        """The edit the head's first choices make of one detector span (None: it keeps every word)."""
        idx = [j for j, w in enumerate(ws) if span.start < w.end and w.start < span.end and j in chosen]
        if not idx:
            return None
        after, conf = [], span.score
        for j in idx:
            tag, p = chosen[j][0][0]
            if tag == self.KEEP:  # a word the span covers but the head leaves: its doubt is not the edit's
                after.append(ws[j].text)
                continue
            conf *= p
            if tag != self.DELETE:
                after.append(match_case(ws[j].text, tag))
        start, end = ws[idx[0]].start, ws[idx[-1]].end
        if not after or " ".join(after) == sentence[start:end]:
            return None
        minimal = minimal_edit(sentence, start, end, " ".join(after))
        if minimal is None or refusal(sentence, *minimal):
            return None
        start, end, text = minimal
        if start == 0:
            text = text[:1].upper() + text[1:]
        return LocalEdit(start, end, sentence[start:end], text, conf)
