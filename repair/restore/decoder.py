"""Restoration v1 (``smollm2-restorer-v1``): the trained SmolLM2 restorer, decoded so that it cannot
wander (see :class:`EditDecoder`)."""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, replace
from pathlib import Path

from repair.backends.hf import cache_kw, cache_of, prefix_cache, right_padded
from repair.backends.memory import bounded_groups, release
from repair.doc import Span, sigmoid
from repair.text.segment import match_case, words
from repair.restore.base import Restorer
from repair.restore.edits import Candidate, LocalEdit, chosen, minimal_edit, ranked, with_leads
from repair.restore.policy import refusal
from repair.restore.rerank import RERANK_FEATURES, passes_screen, rerank_confidence

# the corrector's choices looked up for each pointed word: the paths take the first corrector_branches
# of them, the channel feature of every candidate reads them all
CORRECTOR_TOP = 10


@dataclass
class _Branch:
    row: int  # sentence index in the batch
    word: int  # index of the first replaced word
    prefix: int  # tokens before the branch (prompt + draft up to the word)
    copy_logp: list[float]  # log p of each draft token from the word on (the copy path)
    first: int  # draft token index of the word
    generated: list[int]
    logp: float = 0.0
    done: bool = False
    edit: tuple[int, int, str, float] | None = None  # (start, end, after, log-likelihood ratio)
    forced: int | None = None  # first token, when the branch is opened at a detector span (not by the model)


class _Predictions:
    """What the first pass predicts of one sentence's draft: at each draft position ``j`` (and at the
    end, ``j = len(draft)``) the log p of the draft token (of the end), the model's best token and its
    log p; :meth:`row`, the full log-probabilities at a position, is computed from the kept hidden state
    where it is asked for (a branch's first step, a path's first token). A [positions, vocabulary]
    float32 table of every position would hold 197 KB a token; the hidden states hold 1 to 2 KB."""

    def __init__(self, torch, head, hidden, draft_lp, best_lp, best, end_lp: float):
        self.torch, self.head, self.hidden = torch, head, hidden
        self.draft_lp, self.best_lp, self.best, self.end_lp = draft_lp, best_lp, best, end_lp
        self._rows: dict[int, object] = {}

    def row(self, j: int):
        """[vocabulary] float32: log p of every token at draft position ``j``."""
        if j not in self._rows:
            _prefetch([(self, j)])
        return self._rows[j]


def _prefetch(wanted: list[tuple[_Predictions, int]]) -> None:
    """Compute the full rows (:meth:`_Predictions.row`) at these positions of these sentences that are
    not computed yet, in one projection (one at a time, each costs a pass over the vocabulary's weights)."""
    todo = list(dict.fromkeys((id(p), j) for p, j in wanted if j not in p._rows))
    if not todo:
        return
    by_id = {id(p): p for p, _ in wanted}
    first = by_id[todo[0][0]]
    torch = first.torch
    with torch.inference_mode():
        for k in range(0, len(todo), 256):
            part = todo[k:k + 256]
            h = torch.stack([by_id[i].hidden[j] for i, j in part])
            lp = torch.log_softmax(first.head(h).float(), -1).cpu()
            for (i, j), r in zip(part, lp):
                by_id[i]._rows[j] = r


@dataclass
class _Path:
    """A replacement proposed by the lexicon or the corrector, to be scored by the restorer word for word."""

    row: int
    prefix: int  # tokens before the replaced words (prompt + draft up to them)
    first: int  # draft token index of the first replaced word
    tokens: list[int]  # the replacement's tokens, then the draft token that follows the replaced words
    start: int
    end: int
    after: str
    copy: float  # log p of the copy path over the same stretch (the replaced words and the token after)
    copy_first: float  # log p of the first replaced token, as the copy path writes it
    proposed: str = "lexicon"
    logp: float = 0.0




class EditDecoder(Restorer):
    """Restoration v1 (``smollm2-restorer-v1``): the fine-tuned SmolLM2 restorer with edit-constrained,
    speculative decoding.

    The draft of the restoration is the input itself. One forward pass over ``prompt + draft`` gives
    the model's next-token choice at every position; where it prefers another word than the draft by
    ``margin`` nats, a branch is generated greedily from that word until it re-joins the draft at a
    later word (at most ``max_words`` words are replaced) or the end. With ``pointed_branches=k``, each
    word the detector points at but the model would copy gets branches from the model's k best other
    first tokens as well, at the first word of each detector span (the shipped operating point opens
    some, ``repair.json``; ``pointed_branches=0`` where speed matters more). Words the detector points at
    may also get proposals scored word for word, teacher-forced on the same cache: the lexicon's
    originals (``lexicon_branches``) and the corrector head's (``corrector_branches``: the head of
    ``repair.restore.corrector`` on the detector's encoder, trained on the spinners' substitutions; its
    probabilities are the reranker's evidence on every candidate, ``Candidate.channel``). All branches
    of all sentences are decoded together, sharing the one pass's key/value cache. A branch that never re-joins the
    draft is dropped, so the output is always the input with a few local replacements: it cannot
    wander. An edit's confidence is the two-way posterior between the edit path and the copy path,
    ``sigmoid(log p(edit) - log p(copy) + offset)``, with a lower ``offset`` for edits the detector
    did not point at and a bonus where the lexicon lists the replacement as an original of what it
    replaces (``detector_weighted`` adds a second rule for pointed edits, see :meth:`confidence`); a fitted
    reranker (``repair.restore.rerank``) replaces that rule where the operating point has one. The operating point (margin,
    offsets, pointed branches, weighting, minimum confidence, restore threshold) comes from
    ``repair.json``; constructor arguments override it. Quotations, quantities and names are refused
    by :func:`refusal`.
    """

    NAME = "smollm2-restorer-v1"
    DEFAULT_POINT = {"margin": 0.3, "offset_out": -2.0, "offset_lexicon": 2.0,  # for an adapter not yet tuned
                     "pointed_branches": 0, "pointed_at": "first", "detector_weighted": False, "reranker": None,
                     "lexicon_branches": 0, "corrector_branches": 0, "corrector_floor": 0.0, "fluency_window": None,
                     "fluency_screen": None}

    def __init__(self, adapter_dir: Path | None = None, *, device: str = "cpu", margin: float | None = None,
                 max_words: int = 4, max_new_tokens: int = 10, offset_in: float = 0.0, offset_out: float | None = None,
                 offset_lexicon: float | None = None, lexicon=None, batch_size: int = 32, branch_batch: int = 256,
                 max_batch_tokens: int = 1024, max_branch_tokens: int = 4800,
                 pointed_branches: int | None = None, pointed_at: str | None = None,
                 detector_weighted: bool | None = None, lexicon_branches: int | None = None,
                 corrector_branches: int | None = None, corrector=None, precision: str | None = None,
                 fluency=None):
        import torch

        from repair.backends.hf import float_dtype
        from repair.backends.resources import model_path
        from repair.backends.seq2seq import load_restorer

        self.torch = torch
        self.dtype = float_dtype(precision, device)  # None: $REPAIR_PRECISION or "auto" (bfloat16 where native)
        self.tokenizer, self.model, self.config = load_restorer(adapter_dir or model_path("restorer"), device,
                                                                self.dtype)
        self.device = device
        # the operating point tune_restorer chose for these weights (arguments given here override it;
        # Repairer(min_confidence=...) overrides the minimum confidence)
        point = {**self.DEFAULT_POINT, **self.config.get("operating_point", {})}
        self.margin = point["margin"] if margin is None else margin
        self.offset_out = point["offset_out"] if offset_out is None else offset_out
        self.offset_lexicon = point["offset_lexicon"] if offset_lexicon is None else offset_lexicon
        self.min_confidence = point.get("min_confidence")
        self.restore_threshold = point.get("restore_threshold")  # restore sentences scoring at least this
        self.joint_share = point.get("joint_share") or None  # a run of adjacent edits decided together
        self.max_words, self.max_new_tokens, self.offset_in = max_words, max_new_tokens, offset_in
        self.lexicon = lexicon
        self.batch_size, self.branch_batch = batch_size, branch_batch
        # a batch's first pass holds the key/value cache of its prompts and drafts (46 KB a token in float32)
        # and each position's hidden state, not a [draft tokens, vocabulary] table (197 KB a token; see
        # _Predictions): 1,024 draft tokens, about 32 news sentences (pieces of text without full stops,
        # ~115 tokens each, go 8 at a time); a group of branches or paths copies its prefixes' cache:
        # 4,800 tokens bound that copy at 220 MB (news sentences' groups are bounded by branch_batch first).
        # Larger groups keep the CPU's matrix units busier: 32 sentences and 256 branches a group instead of
        # 16 and 48 (history.md)
        self.max_batch_tokens, self.max_branch_tokens = max_batch_tokens, max_branch_tokens
        self.pointed_branches = point["pointed_branches"] if pointed_branches is None else pointed_branches
        self.detector_weighted = point["detector_weighted"] if detector_weighted is None else detector_weighted
        self.pointed_at = point["pointed_at"] if pointed_at is None else pointed_at  # "first" or "all" span words
        # at each pointed word, also score this many of the lexicon's originals of it (0: none; off in the
        # shipped operating point, measured by tune_restorer.py --lexicon: see docs/history.md)
        self.lexicon_branches = point["lexicon_branches"] if lexicon_branches is None else lexicon_branches
        # at each pointed word, also score this many of the corrector head's originals of it (0: none), and
        # give every candidate the head's evidence (Candidate.channel, .keep); ``corrector``: a loaded
        # CorrectorRestorer to share (by default the shipped one, loaded on first use)
        self.corrector_branches = point["corrector_branches"] if corrector_branches is None else corrector_branches
        # ... those of them the head gives at least this probability: below it they are almost never the author's
        # word, and each costs a scored path (tune_restorer.py --corrector-floor)
        self.corrector_floor = point["corrector_floor"]
        self._corrector = corrector
        # give every candidate the base language model's judgement of it (Candidate.fluency) over the replaced
        # words and this many tokens after them (None: not scored); ``fluency``: a FluencyScorer to share
        self.fluency_window = point["fluency_window"]
        self._fluency = fluency
        # the base model scores only the candidates this reranker (one that does not read fluency) gives at least
        # its "floor" (None: every candidate): most candidates are hopeless on their other evidence alone
        self.fluency_screen = point["fluency_screen"]
        self.reranker = point["reranker"]  # None: the hand rule of confidence()
        # for sentences without a document around them (one-sentence texts), where the reranker reads one
        self.reranker_alone = point.get("reranker_alone")
        for rr in (self.reranker, self.reranker_alone, self.fluency_screen):
            if rr is not None and not set(rr["features"]) <= set(RERANK_FEATURES):
                unknown = sorted(set(rr["features"]) - set(RERANK_FEATURES))
                raise ValueError(f"{adapter_dir}: the reranker reads features this version does not know: {unknown}")
        self._tuned_branches, self._tuned_fluency = point["pointed_branches"], point["fluency_window"]

    @property
    def corrector(self):
        """The corrector head that proposes originals (None when ``corrector_branches`` is 0)."""
        if not self.corrector_branches:
            return None
        if self._corrector is None:
            from repair.restore.corrector import CorrectorRestorer

            self._corrector = CorrectorRestorer(device=self.device)
        return self._corrector

    @property
    def fluency(self):
        """The base language model that scores each candidate (None when ``fluency_window`` is not set)."""
        if self.fluency_window is None:
            return None
        if self._fluency is None:
            from repair.restore.fluency import FluencyScorer

            self._fluency = FluencyScorer(self.device, self.dtype, window=self.fluency_window)
        self._fluency.window = self.fluency_window
        return self._fluency

    def with_fluency(self, sentences: list[str], cands: list[list[Candidate]]) -> list[list[Candidate]]:
        """The candidates with ``fluency`` set by the base language model where ``fluency_screen`` lets them
        through, and their evidence against their rivals and neighbours recomputed with it (:func:`with_leads`;
        unchanged without ``fluency_window``)."""
        if self.fluency is None:
            return cands
        screen = self.fluency_screen
        passing = [[c for c in cs if screen is None or passes_screen(screen, c)] for cs in cands]
        gains = self.fluency.gains(sentences, [[(c.start, c.end, c.after) for c in cs] for cs in passing])
        scored = [{id(c): g for c, g in zip(cs, gs)} for cs, gs in zip(passing, gains)]
        return [with_leads([replace(c, fluency=by.get(id(c))) for c in cs]) for cs, by in zip(cands, scored)]

    @property
    def name(self) -> str:
        """For signatures: decoding with other pointed branches than the tuned ones, another fluency window, or
        in bfloat16, is another system."""
        name = self.NAME if self.pointed_branches == self._tuned_branches else f"{self.NAME}-branches{self.pointed_branches}"
        if self.fluency_window != self._tuned_fluency:  # the reranker reads the base model's judgement, or does not
            name += "-fluency" + ("off" if self.fluency_window is None else str(self.fluency_window))
        return name + ("-bf16" if self.dtype == self.torch.bfloat16 else "")

    def restore(self, sentence: str, spans: list[Span] | None = None) -> list[LocalEdit]:
        return self.restore_many([sentence], [spans])[0]

    def restore_many(self, sentences: list[str], spans: list[list[Span] | None] | None = None,
                     scores: list[float] | None = None,
                     documents: list[float | None] | None = None) -> list[list[LocalEdit]]:
        """Candidate edits for each sentence (``spans``: the detector's, offsets into each sentence;
        None means no detector evidence either way; ``scores``: the detector's sentence scores, by
        default the highest span score; ``documents``: the pooled score of each sentence's document,
        None or by default: no context). Confidences are for the caller to threshold; of overlapping
        edits the most confident is kept, and split into the words it changes (:func:`pieces`)."""
        return [chosen([LocalEdit(c.start, c.end, c.before, c.after, self.confidence(c)) for c in cands])
                for cands in self.candidates_many(sentences, spans, scores, documents)]

    def confidence(self, c: Candidate, *, offset_out: float | None = None, offset_lexicon: float | None = None,
                   detector_weighted: bool | None = None, reranker: dict | None | bool = True) -> float:
        """The probability that ``c`` gives back the original word. Where the operating point has a
        fitted ``reranker`` (and ``reranker`` is not False), its probability from
        the candidate's :func:`rerank_features` (``reranker_alone``, fitted without the document's score, for a
        candidate with no document around it); a dict given as ``reranker`` is used instead of both.
        Otherwise the hand rule: the two-way posterior between the
        edit and the copy path, ``sigmoid(llr + offset)``, with a lower ``offset_out`` where the detector
        does not point and a bonus ``offset_lexicon`` where the lexicon justifies the edit. With
        ``detector_weighted``, an edit at a word the detector points at may instead take
        ``P(spun) * P(edit | spun)``: the detector's span score times the edit's ``share`` of the
        restorer's non-copy paths (same lexicon bonus, in log-odds). The restorer is trained on text
        that is mostly left alone, so it copies a spun word more often than it should; the detector
        judges *whether* a word is spun better, the restorer *what* it was. (The keyword arguments
        override the decoder's settings: ``tune_restorer.py`` sweeps them.)"""
        rr = self.reranker if reranker is True else reranker or None
        if reranker is True and rr is not None and c.document is None and self.reranker_alone is not None:
            rr = self.reranker_alone  # no document around the sentence: the reranker fitted without one
        if rr is not None:
            return rerank_confidence(rr, c)
        off_out = self.offset_out if offset_out is None else offset_out
        bonus = (self.offset_lexicon if offset_lexicon is None else offset_lexicon) if c.lexicon else 0.0
        weighted = self.detector_weighted if detector_weighted is None else detector_weighted
        conf = sigmoid(c.llr + (self.offset_in if c.pointed is not None else off_out) + bonus)
        if weighted and c.pointed is not None:
            p = min(max(c.pointed * math.exp(min(c.share, 0.0)), 1e-9), 1 - 1e-9)
            conf = max(conf, sigmoid(math.log(p / (1 - p)) + bonus))
        return conf

    def candidates_many(self, sentences: list[str], spans: list[list[Span] | None] | None = None,
                        scores: list[float] | None = None,
                        documents: list[float | None] | None = None) -> list[list[Candidate]]:
        """Every edit the decoder can justify in each sentence, with its evidence (see :class:`Candidate`),
        before any confidence is computed; overlapping candidates are all kept."""
        spans = spans or [None] * len(sentences)
        if scores is None:
            scores = [1.0 if sp is None else max((p.score for p in sp), default=0.0) for sp in spans]
        documents = documents or [None] * len(sentences)
        out: list[list[Candidate]] = [[] for _ in sentences]
        if not sentences:
            return out
        enc = self.tokenizer(sentences, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        order = sorted(range(len(sentences)), key=lambda i: len(ids[i]))  # similar token counts pad less
        # batches of at most batch_size sentences and max_batch_tokens padded draft tokens
        tags = [{}] * len(sentences)
        if self.corrector is not None:
            tags = self.corrector.tags(sentences, spans, CORRECTOR_TOP)
        batches = bounded_groups(order, self.batch_size, self.max_batch_tokens, lambda i: len(ids[i]))
        for idx in batches:
            for i, cands in zip(idx, self._batch([sentences[i] for i in idx], [spans[i] for i in idx],
                                                 [(ids[i], offsets[i]) for i in idx], [tags[i] for i in idx])):
                out[i] = [replace(c, sentence=scores[i], document=documents[i]) for c in cands]
            if len(batches) > 1:
                release()  # the batch's cache and tables, freed, go back to the system (see repair.backends.memory)
        return self.with_fluency(sentences, out)

    # -- one batch of sentences ---------------------------------------------------------------
    def _batch(self, sentences, spans, encoded, tags):
        """``encoded``: each sentence's token ids and their character offsets (no special tokens);
        ``tags``: each sentence's corrector choices by pointed word (:meth:`CorrectorRestorer.tags`)."""
        from repair.backends.seq2seq import word_offsets

        drafts = []  # per sentence: draft token ids, their character spans, its words, where words start
        for s, (ids, offsets) in zip(sentences, encoded):
            ws = words(s)
            drafts.append((ids, word_offsets(s, offsets), ws, {w.start for w in ws}))
        cache, logp, mask = self._first_pass(drafts)
        branches: list[_Branch] = []
        proposals: list[_Path] = []  # the lexicon's and the corrector's originals at pointed words
        if self.pointed_branches or self.lexicon_branches:  # the rows _open reads, in one projection
            _prefetch([(logp[row], j) for row, draft in enumerate(drafts) if draft[0] and spans[row]
                       for _, j in _pointed_words(draft, spans[row], self.pointed_at)])
        for row, draft in enumerate(drafts):
            if draft[0]:
                opened, paths = self._open(row, sentences[row], draft, logp[row], spans[row], tags[row])
                branches += opened
                proposals += paths
        # grouped by the length of what they see, so that each group's cache is cut short (see prefix_cache)
        # each group copies its prefixes' key/value cache: bounded in branches and in cached tokens
        for group in bounded_groups(sorted(branches, key=lambda br: br.prefix), self.branch_batch,
                                    self.max_branch_tokens, lambda br: br.prefix):
            self._grow(group, cache, logp, mask, sentences, drafts)
        out: list[list[Candidate]] = [[] for _ in sentences]
        for br in branches:
            cand = self._from_branch(br, sentences[br.row], spans[br.row])
            if cand is not None:
                out[br.row].append(cand)
        # a proposal that a grown branch (or an earlier proposal) already makes is not scored again
        proposals = _unproposed(proposals, sentences, out)
        # grouped by their number of tokens, then by prefix: a group pads every path to its longest, and
        # most are one token (a group of one-token paths is one step of the model)
        for group in bounded_groups(sorted(proposals, key=lambda pa: (len(pa.tokens), pa.prefix)), self.branch_batch,
                                    self.max_branch_tokens, lambda pa: pa.prefix):
            self._score_paths(group, cache, logp, mask)
        for pa in proposals:
            cand = self._from_path(pa, sentences[pa.row], spans[pa.row], out[pa.row])
            if cand is not None:
                out[pa.row].append(cand)
        return [with_leads(ranked([_with_channel(c, [w.start for w in drafts[row][2]], tags[row]) for c in cands]))
                for row, cands in enumerate(out)]

    def _first_pass(self, drafts):
        """One forward pass over ``BOS prompt SEP draft`` for every sentence: its key/value cache, the
        attention mask, and per sentence what it predicts before each draft token and the end
        (:class:`_Predictions`)."""
        torch = self.torch
        from repair.backends.lm import BOS_ID
        from repair.backends.seq2seq import END_ID, SEP_ID

        ids, mask = right_padded([[BOS_ID, *d[0], SEP_ID, *d[0]] for d in drafts], 2)
        with torch.inference_mode():
            res = self.model.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device), use_cache=True)
            # the vocabulary projection only where the draft (and its end) is predicted: half the positions
            rows = [torch.full((len(d) + 1,), i) for i, (d, *_) in enumerate(drafts)]
            cols = [torch.arange(len(d) + 1, 2 * len(d) + 2) for d, *_ in drafts]
            hidden = res.last_hidden_state[torch.cat(rows), torch.cat(cols)]
            # the token each position predicts: the draft's next token, then the end
            target = torch.tensor([t for d, *_ in drafts for t in (*d, END_ID)], device=hidden.device)
            # reduced to the draft token's log p and the best token a slice at a time: the projection, its
            # float copy and the softmax of every position at once would hold a GB for long pieces
            target_lp = torch.empty(len(hidden), dtype=torch.float32)
            best_lp, best = torch.empty(len(hidden), dtype=torch.float32), torch.empty(len(hidden), dtype=torch.long)
            for k in range(0, len(hidden), 256):
                lp = torch.log_softmax(self.model.lm_head(hidden[k:k + 256]).float(), -1)
                target_lp[k:k + 256] = lp.gather(1, target[k:k + 256, None])[:, 0].cpu()
                top = lp.max(-1)
                best_lp[k:k + 256], best[k:k + 256] = top.values.cpu(), top.indices.cpu()
        sizes = [len(d) + 1 for d, *_ in drafts]
        preds = [_Predictions(torch, self.model.lm_head, h, t[:-1], b_lp[:-1], b[:-1], t[-1].item())
                 for h, t, b_lp, b in zip(hidden.split(sizes), target_lp.split(sizes), best_lp.split(sizes),
                                          best.split(sizes))]
        return cache_of(res), preds, mask

    def _open(self, row: int, sentence: str, draft, logp: _Predictions, spans, tags) -> tuple[list["_Branch"], list["_Path"]]:
        """The branches to grow in one sentence (where the model prefers another word than the draft by
        ``margin``, then at the words the detector points at) and the lexicon's and corrector's paths to score."""
        d, offs, ws, _ = draft
        p0 = len(d) + 2  # draft token j sits at position p0 + j, predicted at p0 + j - 1
        draft_lp, best_lp, best = logp.draft_lp, logp.best_lp, logp.best
        copy_lp = [*draft_lp.tolist(), logp.end_lp]  # ... and then the end
        seen = set()
        token_at = {o[0]: i for i, o in reversed(list(enumerate(offs)))}  # first token of each start
        branches, proposals = [], []
        for j in range(len(d)):
            if best[j].item() == d[j] or best_lp[j].item() - draft_lp[j].item() < self.margin:
                continue
            k = next((k for k, w in enumerate(ws) if w.start <= offs[j][0] < w.end), None)
            if k is None or k in seen:
                continue
            first = token_at.get(ws[k].start)
            if first is None:  # the word does not begin on a token boundary
                continue
            seen.add(k)
            branches.append(_Branch(row, k, p0 + first, copy_lp[first:], first, []))
        if not spans or not (self.pointed_branches or self.lexicon_branches or tags):
            return branches, proposals
        for k in sorted(tags):  # the corrector's originals at every word it looked at (all pointed words)
            first = token_at.get(ws[k].start)
            if first is not None:
                proposals += self._corrector_paths(row, k, first, sentence, draft, p0, copy_lp, tags)
        # words the detector points at but the model would copy: open branches with the model's best
        # other first tokens; each edit must still beat the copy path on confidence, and the most
        # confident of a word's edits is kept
        for k, first in _pointed_words(draft, spans, self.pointed_at):
            # the lexicon's originals are scored at every pointed word, the model's own choice or not
            proposals += self._lexicon_paths(row, k, first, sentence, draft, p0, copy_lp, logp)
            if k in seen or not self.pointed_branches:
                continue
            seen.add(k)
            for tok in self._openings(logp.row(first), d[first]):
                branches.append(_Branch(row, k, p0 + first, copy_lp[first:], first, [], forced=tok))
        return branches, proposals

    def _from_branch(self, br: "_Branch", sent: str, sp) -> Candidate | None:
        """The candidate a grown branch proposes (None: it never re-joined the draft, or is refused)."""
        if br.edit is None:
            return None
        start, end, after, llr = br.edit
        if refusal(sent, start, end, after):
            return None
        scores = [1.0] if sp is None else [p.score for p in sp if p.start < end and start < p.end]
        return Candidate(start, end, sent[start:end], after, llr, _share(br.logp, br.copy_logp[0]),
                         max(scores) if scores else None, self.justified(sent[start:end], after),
                         forced=br.forced is not None, span_start=sp is not None and any(p.start == start for p in sp))

    def _from_path(self, pa: "_Path", sent: str, sp, model: list[Candidate]) -> Candidate | None:
        """The candidate a scored path proposes (None: nothing to replace, refused, or one of the
        candidates in ``model`` proposes it too)."""
        minimal = minimal_edit(sent, pa.start, pa.end, pa.after)
        if minimal is None or refusal(sent, *minimal) or any(
                (c.start, c.end, c.after.lower()) == (minimal[0], minimal[1], minimal[2].lower()) for c in model):
            return None
        start, end, after = minimal
        scores = [p.score for p in sp if p.start < end and start < p.end]
        return Candidate(start, end, sent[start:end], after, pa.logp - pa.copy, _share(pa.logp, pa.copy_first),
                         max(scores) if scores else None, pa.proposed == "lexicon" or self.justified(sent[start:end], after),
                         forced=True, span_start=any(p.start == start for p in sp), proposed=pa.proposed)

    def _lexicon_paths(self, row: int, k: int, first: int, sentence: str, draft, p0: int, copy_lp: list[float],
                       pred: "_Predictions") -> list["_Path"]:
        """The paths that replace the words from ``k`` on (one word, or a phrase the lexicon knows) with
        an original the lexicon lists for them, each followed by the draft token it re-joins. Of all the
        lexicon's originals, the ``lexicon_branches`` whose first token the restorer finds likeliest
        there (``pred.row(first)``, from the one pass) are kept, to be scored word for word
        (:meth:`_score_paths`)."""
        from repair.text.lexicon import MAX_PHRASE

        if not self.lexicon_branches or self.lexicon is None:
            return []
        ws = draft[2]
        out = []
        for n in range(1, min(MAX_PHRASE, len(ws) - k) + 1):
            start, end = ws[k].start, ws[k + n - 1].end
            key = sentence[start:end]
            if n > 1 and key != " ".join(w.text for w in ws[k:k + n]):
                break  # a phrase is single-spaced words, as the lexicon writes its keys
            originals = [c for c in self.lexicon.candidates(key) if c.lower() != key.lower()]
            if key[:1].isupper():
                originals = [c[:1].upper() + c[1:] for c in originals]
            out += self._paths(row, k, n, first, sentence, draft, p0, copy_lp, originals, "lexicon")
        first_logp = pred.row(first)
        out.sort(key=lambda pa: -first_logp[pa.tokens[0]].item())  # stable: lexicon order among equals
        return out[:self.lexicon_branches]

    def _corrector_paths(self, row: int, k: int, first: int, sentence: str, draft, p0: int, copy_lp: list[float],
                         tags: dict) -> list["_Path"]:
        """The paths that replace word ``k`` with each of the corrector head's first ``corrector_branches``
        originals of it that it gives at least ``corrector_floor``; where the head would delete the words
        after it ("got here" -> came, delete), the replacement covers them too. Where the head would
        rewrite the words after it as well, one more path replaces the whole run with its first choices
        ("information convention" -> "news conference"), so that adjacent words are decided together
        (where its first choice at ``k`` reaches the floor too)."""
        from repair.backends.corrector import DELETE, KEEP

        ws = draft[2]
        top = lambda j: tags[j][0][0][0] if j in tags else KEEP  # the head's first choice at word j
        # a replacement may cover the next word only across white space (never a comma or a quote)
        joined = lambda j: j < len(ws) and j - k < self.max_words and not sentence[ws[j - 1].end:ws[j].start].strip()
        n = 1
        while joined(k + n) and top(k + n) == DELETE:
            n += 1
        originals = [match_case(ws[k].text, tag) for tag, p in tags[k][0]
                     if tag not in (KEEP, DELETE) and p >= self.corrector_floor]
        originals = [o for o in originals[:self.corrector_branches] if o.lower() != ws[k].text.lower()]
        out = self._paths(row, k, n, first, sentence, draft, p0, copy_lp, originals, "corrector")
        if top(k) in (KEEP, DELETE) or (k > 0 and top(k - 1) != KEEP) or tags[k][0][0][1] < self.corrector_floor:
            return out  # a run is proposed once, from its first rewritten word
        run = 1
        while joined(k + run) and top(k + run) != KEEP:
            run += 1
        rewritten = [match_case(ws[j].text, top(j)) for j in range(k, k + run) if top(j) != DELETE]
        if run > n and len(rewritten) > 1:
            out += self._paths(row, k, run, first, sentence, draft, p0, copy_lp, [" ".join(rewritten)], "corrector")
        return out

    def _paths(self, row: int, k: int, n: int, first: int, sentence: str, draft, p0: int, copy_lp: list[float],
               originals: list[str], proposed: str) -> list["_Path"]:
        """Paths that replace words ``k`` .. ``k + n - 1`` with each of ``originals``, each followed by the
        draft token it re-joins (none where no draft token begins where the words end)."""
        from repair.backends.seq2seq import END_ID

        d, offs, ws, word_starts = draft
        start, end = ws[k].start, ws[k + n - 1].end
        # the draft token that follows the replaced words must begin where they end
        rejoin = next((j for j in range(first, len(d)) if offs[j][0] >= end), len(d))
        if not originals or any(offs[j][1] > end for j in range(first, rejoin)) or (
                rejoin < len(d) and not _joins(sentence, offs[rejoin][0], word_starts)):
            return []
        lead = " " if start > 0 and sentence[start - 1].isspace() else ""
        after_token = d[rejoin] if rejoin < len(d) else END_ID
        copy = sum(copy_lp[first:rejoin + 1])
        out = []
        for cand in originals:
            tokens = self.tokenizer(lead + cand, add_special_tokens=False)["input_ids"]
            if tokens:
                out.append(_Path(row, p0 + first, first, [*tokens, after_token], start, end, cand, copy,
                                 copy_lp[first], proposed))
        return out

    def _score_paths(self, paths: list["_Path"], cache, logp, mask) -> None:
        """log p of each path's tokens after its prefix, teacher-forced in one pass over the shared cache."""
        torch = self.torch
        kv, att = prefix_cache(cache, mask, paths)
        n = max(len(pa.tokens) for pa in paths) - 1
        ids = torch.full((len(paths), max(n, 1)), 2, dtype=torch.long)
        for i, pa in enumerate(paths):
            ids[i, :len(pa.tokens) - 1] = torch.tensor(pa.tokens[:-1])
        if n:
            att = torch.cat([att, torch.ones((len(paths), n), dtype=att.dtype)], 1)
            pos = torch.stack([torch.arange(pa.prefix, pa.prefix + n) for pa in paths])
            with torch.inference_mode():
                res = self.model(input_ids=ids[:, :n].to(self.device), position_ids=pos.to(self.device),
                                 attention_mask=att.to(self.device), use_cache=True, **cache_kw(self.model, kv))
            later = torch.log_softmax(res.logits.float(), -1).cpu()
        _prefetch([(logp[pa.row], pa.first) for pa in paths])
        for i, pa in enumerate(paths):
            lp = logp[pa.row].row(pa.first)[pa.tokens[0]].item()
            lp += sum(later[i, t - 1, tok].item() for t, tok in enumerate(pa.tokens[1:], 1))
            pa.logp = lp

    def _openings(self, logp, draft_token: int) -> list[int]:
        """First tokens for the branches at a detector-pointed word: the model's ``pointed_branches``
        best choices other than the draft (the lexicon's originals are ``lexicon_branches``)."""
        alt = logp.clone()
        alt[draft_token] = float("-inf")
        return self.torch.topk(alt, self.pointed_branches).indices.tolist()

    def justified(self, before: str, after: str) -> bool:
        """Does the lexicon (open thesauri, inverted) list ``after`` as an original of ``before``?"""
        return self.lexicon is not None and after.lower() in {c.lower() for c in self.lexicon.candidates(before)}

    def _grow(self, branches, cache, logp, mask, sentences, drafts):
        """Greedy generation for a group of branches in one batch, on the shared cache."""
        torch = self.torch
        from repair.backends.seq2seq import END_ID

        kv, att = prefix_cache(cache, mask, branches)
        _prefetch([(logp[br.row], br.first) for br in branches])
        nxt = torch.stack([logp[br.row].row(br.first) for br in branches])
        for step in range(self.max_new_tokens):
            lp, tok = nxt.max(-1)
            if step == 0:
                for i, br in enumerate(branches):
                    if br.forced is not None:
                        tok[i], lp[i] = br.forced, nxt[i, br.forced]
            for i, br in enumerate(branches):
                if br.done:
                    continue
                br.generated.append(int(tok[i]))
                br.logp += float(lp[i])
                self._check_sync(br, sentences[br.row], drafts[br.row], END_ID)
            live = [i for i, br in enumerate(branches) if not br.done]
            if not live or step == self.max_new_tokens - 1:
                break
            if len(live) < len(branches):  # finished branches leave the batch (most re-join within a word)
                keep = torch.tensor(live)
                branches, tok, att = [branches[i] for i in live], tok[keep], att[keep]
                kv.batch_select_indices(keep.to(self.device))
            att = torch.cat([att, torch.ones((len(branches), 1), dtype=att.dtype)], 1)
            pos = torch.tensor([[br.prefix + step] for br in branches])
            with torch.inference_mode():
                res = self.model(input_ids=tok[:, None].to(self.device), position_ids=pos.to(self.device),
                                 attention_mask=att.to(self.device), use_cache=True, **cache_kw(self.model, kv))
            nxt = torch.log_softmax(res.logits[:, -1].float(), -1)
            kv = cache_of(res)

    def _check_sync(self, br: _Branch, sentence: str, draft, end_id: int) -> None:
        """Has the branch re-joined the draft? Then record its edit (or nothing, if it only copied)."""
        d, offs, ws, word_starts = draft
        tok = br.generated[-1]
        start = ws[br.word].start
        last = min(len(ws), br.word + self.max_words)  # words that may be replaced: br.word .. last-1
        limit = ws[last].start if last < len(ws) else len(sentence)
        stop = None
        if tok == end_id:
            if last < len(ws):  # ended too early: the branch would drop words
                br.done = True
                return
            stop = (len(sentence), len(d))  # the copy path's end token is copy_logp[len(d) - first]
        else:
            for j in range(br.first + 1, len(d)):
                a = offs[j][0]
                if a > limit:
                    break
                if a >= ws[br.word].end and d[j] == tok and _joins(sentence, a, word_starts):
                    stop = (a, j)
                    break
        if stop is None:
            if len(br.generated) >= self.max_new_tokens:
                br.done = True
            return
        br.done = True
        a, j = stop
        after = self.tokenizer.decode(br.generated[:-1]).strip()
        end = start + len(sentence[start:a].rstrip())
        minimal = minimal_edit(sentence, start, end, after)
        if minimal is None:
            return
        copy_lp = sum(br.copy_logp[:j - br.first + 1])
        br.edit = (*minimal, br.logp - copy_lp)


def _pointed_words(draft, spans: list[Span], pointed_at: str) -> list[tuple[int, int]]:
    """The words the detector points at, as (word index, its first draft token), where the model's other
    first tokens open branches and the lexicon's originals are scored. ``pointed_at`` "first": the first
    word of each span only (a branch from it may replace the whole phrase, "got here" -> "came", where
    one from "here" would compete with it, "here" -> "there"); "all": every word of a span, for the
    reranker to choose between. A word that does not begin on a token boundary has none."""
    _, offs, ws, _ = draft
    token_at = {o[0]: i for i, o in reversed(list(enumerate(offs)))}  # first token of each start
    out = []
    for k, w in enumerate(ws):
        first = token_at.get(w.start)
        if first is not None and any(p.start < w.end and w.start < p.end
                                     and (pointed_at == "all" or k == 0 or ws[k - 1].end <= p.start)
                                     for p in spans):
            out.append((k, first))
    return out


def _unproposed(paths: list[_Path], sentences: list[str], made: list[list[Candidate]]) -> list[_Path]:
    """The paths whose edit no candidate in ``made`` (by sentence) and no earlier path proposes (the
    same span and replacement, in any case): scoring them would only produce candidates that
    :meth:`EditDecoder._from_path` drops."""
    seen = {(row, c.start, c.end, c.after.lower()) for row, cands in enumerate(made) for c in cands}
    out = []
    for pa in paths:
        minimal = minimal_edit(sentences[pa.row], pa.start, pa.end, pa.after)
        key = minimal and (pa.row, minimal[0], minimal[1], minimal[2].lower())
        if key is None or key not in seen:
            out.append(pa)
            if key is not None:
                seen.add(key)
    return out


def _with_channel(c: Candidate, starts: list[int], tags: dict) -> Candidate:
    """``c`` with the corrector head's evidence at its first word (see :attr:`Candidate.channel`);
    ``starts``: where the sentence's words start (an edit starts at a word's start)."""
    k = bisect.bisect_right(starts, c.start) - 1
    if k not in tags:
        return c
    top, keep = tags[k]
    first = c.after.split()[0].lower() if c.after.split() else ""
    return replace(c, channel=next((p for tag, p in top if tag.lower() == first), 0.0), keep=keep)


def _joins(sentence: str, at: int, word_starts: set[int]) -> bool:
    """May a replacement re-join the draft at character ``at``: a word's start or punctuation."""
    return at in word_starts or not sentence[at].isalnum()


def _share(logp: float, copy_first: float) -> float:
    """An edit path's log share of the paths that do not copy the word: log p(edit) - log(1 - p(the
    word's own first token)) (``copy_first``: its log p)."""
    return logp - math.log(-math.expm1(min(copy_first, -1e-6)))

