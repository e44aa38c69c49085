"""The base language model's view of a candidate restoration (``Candidate.fluency``): how much likelier the
untrained SmolLM2 finds the sentence with the replacement than as written, over the replaced words and the
``window`` tokens after them, scored on the sentence's own key/value cache.

The trained restorer reads the spun sentence as its prompt and learns what spinners do; the base model has
seen only ordinary English and judges the restored sentence on its own, evidence of another kind for the
reranker ("information convention" -> "news conference" reads better, whatever a spinner is thought to do)."""
from __future__ import annotations

from dataclasses import dataclass

from repair.backends.hf import cache_kw, cache_of, prefix_cache, right_padded
from repair.backends.memory import bounded_groups


@dataclass
class _Probe:
    row: int  # sentence index in the batch
    prefix: int  # tokens before the replaced words (BOS and the sentence up to them)
    tokens: list[int]  # the replacement's tokens, then the sentence's next ``window`` tokens
    copy: float  # log p of the sentence's own tokens over the same stretch (the replaced words and the window)
    logp: float = 0.0


class FluencyScorer:
    """log p(sentence with the replacement) - log p(sentence as written) under the base SmolLM2, over the
    replaced words and the ``window`` tokens after them (the rest of the sentence when ``window`` is None)."""

    def __init__(self, device: str = "cpu", dtype=None, *, window: int | None = 4, batch_size: int = 32,
                 max_batch_tokens: int = 1024, group: int = 256, max_group_tokens: int = 4800, model=None,
                 tokenizer=None):
        import torch

        self.torch, self.device, self.window = torch, device, window
        self.batch_size, self.max_batch_tokens = batch_size, max_batch_tokens
        self.group, self.max_group_tokens = group, max_group_tokens
        if model is None:
            from repair.backends.lm import LanguageModel

            base = LanguageModel(device=device, dtype=dtype)
            model, tokenizer = base.model, base.tokenizer
        self.model, self.tokenizer = model, tokenizer

    def gains(self, sentences: list[str], edits: list[list[tuple[int, int, str]]]) -> list[list[float | None]]:
        """For each sentence's edits (start, end, replacement; offsets into the sentence) the gain in log
        p; None where the edit does not begin and end on token boundaries or replaces with nothing."""
        from repair.backends.seq2seq import word_offsets

        out = [[None] * len(e) for e in edits]
        rows = [i for i, e in enumerate(edits) if e and sentences[i].strip()]
        if not rows:
            return out
        enc = self.tokenizer([sentences[i] for i in rows], add_special_tokens=False, return_offsets_mapping=True)
        encoded = {i: (ids, word_offsets(sentences[i], offs)) for i, ids, offs in
                   zip(rows, enc["input_ids"], enc["offset_mapping"])}
        order = sorted(rows, key=lambda i: len(encoded[i][0]))
        for batch in bounded_groups(order, self.batch_size, self.max_batch_tokens, lambda i: len(encoded[i][0]) + 1):
            self._batch(batch, sentences, edits, encoded, out)
        return out

    def _batch(self, batch, sentences, edits, encoded, out):
        torch = self.torch
        from repair.backends.lm import BOS_ID

        probes, where, spans = [], [], []  # spans: the sentence tokens [first, stop) each probe replaces and reads
        for r, i in enumerate(batch):
            tok_ids, offs = encoded[i]
            token_at = {o[0]: j for j, o in reversed(list(enumerate(offs)))}
            for e, (start, end, after) in enumerate(edits[i]):
                first = token_at.get(start)
                rejoin = next((j for j in range(len(tok_ids)) if offs[j][0] >= end), len(tok_ids))
                if first is None or not after.strip() or any(offs[j][1] > end for j in range(first, rejoin)):
                    continue
                lead = " " if start > 0 and sentences[i][start - 1].isspace() else ""
                new = self.tokenizer(lead + after, add_special_tokens=False)["input_ids"]
                stop = len(tok_ids) if self.window is None else min(len(tok_ids), rejoin + self.window)
                # sentence token j sits at position j + 1 (after BOS)
                probes.append(_Probe(r, first + 1, [*new, *tok_ids[rejoin:stop]], 0.0))
                where.append((i, e))
                spans.append((first, stop))
        if not probes:
            return
        # the pass reads each sentence only as far as its probes do; the vocabulary is projected only where a
        # probe's stretch of the sentence is predicted (hidden position j predicts sentence token j)
        reach = [max((b for pr, (_, b) in zip(probes, spans) if pr.row == r), default=0) for r in range(len(batch))]
        ids, mask = right_padded([[BOS_ID, *encoded[i][0][:reach[r]]] for r, i in enumerate(batch)], BOS_ID)
        needed = sorted({(pr.row, j) for pr, (a, b) in zip(probes, spans) for j in range(a, b)})
        with torch.inference_mode():
            res = self.model.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device), use_cache=True)
            hidden = res.last_hidden_state
            rows, cols = torch.tensor([r for r, _ in needed]), torch.tensor([j for _, j in needed])
            lp = torch.log_softmax(self.model.lm_head(hidden[rows, cols]).float(), -1).cpu()
            own = lp.gather(1, ids[rows, cols + 1][:, None])[:, 0].tolist()
        own = dict(zip(needed, own))
        for pr, (a, b) in zip(probes, spans):
            pr.copy = sum(own[pr.row, j] for j in range(a, b))
        cache = cache_of(res)
        for group in bounded_groups(sorted(range(len(probes)), key=lambda k: (len(probes[k].tokens), probes[k].prefix)),
                                    self.group, self.max_group_tokens, lambda k: probes[k].prefix):
            self._score([probes[k] for k in group], cache, mask, hidden)
        for pr, (i, e) in zip(probes, where):
            out[i][e] = pr.logp - pr.copy

    def _score(self, probes, cache, mask, hidden):
        """log p of each probe's tokens after its prefix: the first from the sentence pass's hidden state,
        the rest teacher-forced in one pass over the shared cache."""
        torch = self.torch
        with torch.inference_mode():
            h = torch.stack([hidden[pr.row, pr.prefix - 1] for pr in probes])
            first = torch.log_softmax(self.model.lm_head(h).float(), -1).cpu()
            n = max(len(pr.tokens) for pr in probes) - 1
            later = {}
            if n:
                kv, att = prefix_cache(cache, mask, probes)
                ids = torch.full((len(probes), n), 0, dtype=torch.long)
                for k, pr in enumerate(probes):
                    ids[k, :len(pr.tokens) - 1] = torch.tensor(pr.tokens[:-1])
                att = torch.cat([att, torch.ones((len(probes), n), dtype=att.dtype)], 1)
                pos = torch.stack([torch.arange(pr.prefix, pr.prefix + n) for pr in probes])
                res = self.model.model(input_ids=ids.to(self.device), position_ids=pos.to(self.device),
                                       attention_mask=att.to(self.device), use_cache=True, **cache_kw(self.model.model, kv))
                # the vocabulary only where a probe's next token is predicted (not over the padding)
                at = [(k, t) for k, pr in enumerate(probes) for t in range(len(pr.tokens) - 1)]
                h = res.last_hidden_state[torch.tensor([k for k, _ in at]), torch.tensor([t for _, t in at])]
                lp = torch.log_softmax(self.model.lm_head(h).float(), -1).cpu()
                want = torch.tensor([probes[k].tokens[t + 1] for k, t in at])
                later = dict(zip(at, lp.gather(1, want[:, None])[:, 0].tolist()))
        for k, pr in enumerate(probes):
            pr.logp = first[k, pr.tokens[0]].item() + sum(later[k, t] for t in range(len(pr.tokens) - 1))
