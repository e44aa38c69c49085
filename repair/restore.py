"""Restoration: propose minimal edits that give back the words the author wrote.

Restoration v1 (``smollm2-restorer-v1``, :class:`EditDecoder`, the default) decodes the trained
SmolLM2 restorer so that it can only make local, justified replacements (see the class).

Restoration v0 (``lexicon-lm-v0``) needs no training: for every lexicon site of a flagged sentence
it rescores the sentence with the top candidate originals and keeps a replacement only when the
language model prefers it by a clear margin. The margin is what keeps clean text alone: an
ordinary sentence has no alternative that is much more likely than what is written.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from .detect import LMLexiconDetector
from .doc import Edit, Span, sigmoid
from .segment import QUOTES, _zipf, quotations, words


@dataclass(frozen=True)
class LocalEdit:
    """An edit inside one sentence: offsets into the sentence text."""

    start: int
    end: int
    before: str
    after: str
    confidence: float

    def shifted(self, by: int) -> Edit:
        return Edit(self.start + by, self.end + by, self.before, self.after, self.confidence)


@dataclass(frozen=True)
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
    the lexicon lists for the pointed words, scored by the restorer word for word)."""

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


class Restorer(Protocol):
    name: str

    def restore(self, sentence: str, spans: list[Span]) -> list[LocalEdit]: ...


class LexiconLMRestorer:
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


# ---------------------------------------------------------------------------------------------
# Restoration v1: the trained SmolLM2 restorer, decoded so that it cannot wander.

NUMBER_VALUES = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
NUMBER_VALUES.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
                      "ninety": 90, "hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9})
# spinner tells that write a number where the original had none ("a 12 months after" for "a year after")
SAME_QUANTITY = {"12 months": "year", "twelve months": "year", "24 hours": "day", "7 days": "week",
                 "seven days": "week", "10 years": "decade", "ten years": "decade", "100 years": "century"}


def _quantities(text: str) -> list[str]:
    """The numbers a text states, digits and number words alike ("thirty" == "30", "1000's" ==
    "thousands"), after the tells of :data:`SAME_QUANTITY` are read as the words they stand for."""
    text = text.lower()
    for tell, word in SAME_QUANTITY.items():
        text = text.replace(tell, word)
    out = []
    for w in words(text):
        t = w.text.replace(",", "").replace("'", "").replace("’", "")
        t = t[:-1] if t.endswith("s") and (t[:-1] in NUMBER_VALUES or t[:-1].isdigit()) else t
        if t in NUMBER_VALUES:
            out.append(str(NUMBER_VALUES[t]))
        elif any(c.isdigit() for c in t):
            out.append(t)
    return sorted(out)


# British and American spellings of one word ("honouring"/"honoring", "organised"/"organized",
# "centre"/"center", "travelled"/"traveled", "defence"/"defense"): a house style, never a spinner's work
_SPELLING = [(re.compile(p), r) for p, r in [
    (r"our(?=s?$|ing|ed|able|ite|er|ful)", "or"), (r"is(e|ed|es|ing|ation|ations)$", r"iz\1"),
    (r"ys(e|ed|es|ing)$", r"yz\1"), (r"tre(s?)$", r"ter\1"), (r"ll(ed|ing|er|ers)$", r"l\1"),
    (r"ence(s?)$", r"ense\1"), (r"ogue(s?)$", r"og\1")]]


def _spelling(word: str) -> str:
    word = word.lower()
    for pattern, repl in _SPELLING:
        word = pattern.sub(repl, word)
    return word


def refusal(sentence: str, start: int, end: int, after: str) -> str | None:
    """Why an edit must not be made (None: it may). The restorer never touches quotations, never
    changes a quantity (except spinner tells like "12 months" for "year"), never drops or invents a
    name: a capitalised word inside the sentence may only be replaced by another capitalised word,
    and only when it is a common English word (the "Individuals" that stood for "Americans"), and never
    swaps British for American spelling."""
    before = sentence[start:end]
    if not after.strip() or any(q in after or q in before for q in QUOTES):
        return "empty or quotation mark"
    if any(a <= start < b or a < end <= b for a, b in quotations(sentence)):
        return "inside a quotation"
    if _quantities(before) != _quantities(after):
        return "changes a quantity"
    b_words, a_words = words(before), words(after)
    if before.lower() != after.lower() and [_spelling(w.text) for w in b_words] == [_spelling(w.text) for w in a_words]:
        return "a spelling variant"
    opening = sentence[:start].strip() == ""
    if opening and b_words and b_words[0].text[:1].isupper() and _zipf(b_words[0].text.lower()) < 4.0:
        return "a name"  # "Blinken said ...": a rare word opening the sentence is a name too
    b_caps = [w.text for i, w in enumerate(b_words) if w.text[:1].isupper() and not (opening and i == 0)]
    a_caps = [w.text for i, w in enumerate(a_words) if w.text[:1].isupper() and not (opening and i == 0)]
    if any(_zipf(w.lower()) < 4.0 for w in b_caps):
        return "a name"
    if a_caps and not b_caps:
        return "invents a name"
    if b_caps and not a_caps and not opening:
        return "drops a name"
    return None


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


@dataclass
class _Path:
    """A replacement proposed by the lexicon, to be scored by the restorer word for word."""

    row: int
    prefix: int  # tokens before the replaced words (prompt + draft up to them)
    first: int  # draft token index of the first replaced word
    tokens: list[int]  # the replacement's tokens, then the draft token that follows the replaced words
    start: int
    end: int
    after: str
    copy: float  # log p of the copy path over the same stretch (the replaced words and the token after)
    copy_first: float  # log p of the first replaced token, as the copy path writes it
    logp: float = 0.0


# what the reranker (a logistic regression fitted by scripts/tune_restorer.py) may read of a candidate;
# a fitted reranker names the features it reads (``reranker["features"]``, a subset of these)
RERANK_FEATURES = ("bias", "llr", "llr_unpointed", "share", "pointed", "unpointed", "lexicon", "forced",
                   "span_start", "rank0", "rank", "zipf_before", "zipf_after", "zipf_gain", "words_before",
                   "words_after", "capitalised", "sentence", "sentence_unpointed", "document", "no_document",
                   "from_lexicon")


def rerank_features(c: Candidate, names=RERANK_FEATURES) -> list[float]:
    """The candidate's evidence as the reranker's inputs, in the order of ``names`` (see :data:`RERANK_FEATURES`)."""
    llr, share = max(min(c.llr, 20.0), -20.0), max(c.share, -20.0)
    b, a = c.before.split(), c.after.split()
    zb, za = _zipf(b[0].lower()), _zipf(a[0].lower())
    values = dict(zip(RERANK_FEATURES, (
        1.0, llr, llr if c.pointed is None else 0.0, share, c.pointed or 0.0, float(c.pointed is None),
        float(c.lexicon), float(c.forced), float(c.span_start), float(c.rank == 0), float(min(c.rank, 5)),
        zb, za, za - zb, float(len(b)), float(len(a)), float(any(w[:1].isupper() for w in b)),
        c.sentence, c.sentence * float(c.pointed is None), c.document or 0.0, float(c.document is None),
        float(c.proposed == "lexicon"))))
    return [values[n] for n in names]


def rerank_confidence(reranker: dict, c: Candidate) -> float:
    """P(the candidate gives back the original word) by the fitted reranker (``operating_point.reranker``)."""
    z = sum(w * x for w, x in zip(reranker["weights"], rerank_features(c, reranker["features"])))
    return sigmoid(z)


class EditDecoder:
    """Restoration v1 (``smollm2-restorer-v1``): the fine-tuned SmolLM2 restorer with edit-constrained,
    speculative decoding.

    The draft of the restoration is the input itself. One forward pass over ``prompt + draft`` gives
    the model's next-token choice at every position; where it prefers another word than the draft by
    ``margin`` nats, a branch is generated greedily from that word until it re-joins the draft at a
    later word (at most ``max_words`` words are replaced) or the end. With ``pointed_branches=k``, each
    word the detector points at but the model would copy gets branches from the model's k best other
    first tokens as well, at the first word of each detector span (the shipped operating point opens 3:
    mean F0.5 on held-out articles 0.282 -> 0.300 at 0.24 changed words per 1,000 clean words, for about
    two thirds of the speed of ``fix``; ``pointed_branches=0`` where speed matters more). All branches of all sentences
    are decoded together, sharing the one pass's key/value cache. A branch that never re-joins the
    draft is dropped, so the output is always the input with a few local replacements: it cannot
    wander. An edit's confidence is the two-way posterior between the edit path and the copy path,
    ``sigmoid(log p(edit) - log p(copy) + offset)``, with a lower ``offset`` for edits the detector
    did not point at and a bonus where the lexicon lists the replacement as an original of what it
    replaces (``detector_weighted`` adds a second rule for pointed edits, see :meth:`confidence`). The operating point (margin,
    offsets, pointed branches, weighting, minimum confidence, restore threshold) comes from
    ``repair.json``; constructor arguments override it. Quotations, quantities and names are refused
    by :func:`refusal`.
    """

    NAME = "smollm2-restorer-v1"
    DEFAULT_POINT = {"margin": 0.3, "offset_out": -2.0, "offset_lexicon": 2.0,  # for an adapter not yet tuned
                     "pointed_branches": 0, "pointed_at": "first", "detector_weighted": False, "reranker": None,
                     "lexicon_branches": 0}

    def __init__(self, adapter_dir: Path | None = None, *, device: str = "cpu", margin: float | None = None,
                 max_words: int = 4, max_new_tokens: int = 10, offset_in: float = 0.0, offset_out: float | None = None,
                 offset_lexicon: float | None = None, lexicon=None, batch_size: int = 16, branch_batch: int = 48,
                 pointed_branches: int | None = None, pointed_at: str | None = None,
                 detector_weighted: bool | None = None, lexicon_branches: int | None = None):
        import torch

        from .resources import model_path
        from .seq2seq import load_restorer

        self.torch = torch
        self.tokenizer, self.model, self.config = load_restorer(adapter_dir or model_path("restorer"), device)
        self.device = device
        # the operating point tune_restorer chose for these weights (arguments given here override it;
        # Repairer(min_confidence=...) overrides the minimum confidence)
        point = {**self.DEFAULT_POINT, **self.config.get("operating_point", {})}
        self.margin = point["margin"] if margin is None else margin
        self.offset_out = point["offset_out"] if offset_out is None else offset_out
        self.offset_lexicon = point["offset_lexicon"] if offset_lexicon is None else offset_lexicon
        self.min_confidence = point.get("min_confidence")
        self.restore_threshold = point.get("restore_threshold")  # restore sentences scoring at least this
        self.max_words, self.max_new_tokens, self.offset_in = max_words, max_new_tokens, offset_in
        self.lexicon = lexicon
        self.batch_size, self.branch_batch = batch_size, branch_batch
        self.pointed_branches = point["pointed_branches"] if pointed_branches is None else pointed_branches
        self.detector_weighted = point["detector_weighted"] if detector_weighted is None else detector_weighted
        self.pointed_at = point["pointed_at"] if pointed_at is None else pointed_at  # "first" or "all" span words
        # at each pointed word, also score this many of the lexicon's originals of it (0: none). Off in the
        # shipped operating point: on held-out articles they doubled the gold edits among the candidates of
        # moby, mythes and wordnet, yet the restorer ranks few of them first, and the refitted reranker
        # measured mean F0.5 0.353 at damage 0.23 with 6 of them against 0.361 at 0.06 without
        # (tune_restorer.py --lexicon 6); the model's score, not the candidates, is the limit
        self.lexicon_branches = point["lexicon_branches"] if lexicon_branches is None else lexicon_branches
        self.reranker = point["reranker"]  # None: the hand rule of confidence()
        # for sentences without a document around them (one-sentence texts), where the reranker reads one
        self.reranker_alone = point.get("reranker_alone")
        for rr in (self.reranker, self.reranker_alone):
            if rr is not None and not set(rr["features"]) <= set(RERANK_FEATURES):
                unknown = sorted(set(rr["features"]) - set(RERANK_FEATURES))
                raise ValueError(f"{adapter_dir}: the reranker reads features this version does not know: {unknown}")
        self._tuned_branches = point["pointed_branches"]

    @property
    def name(self) -> str:
        """For signatures: decoding with other pointed branches than the tuned ones is another system."""
        if self.pointed_branches == self._tuned_branches:
            return self.NAME
        return f"{self.NAME}-branches{self.pointed_branches}"

    def restore(self, sentence: str, spans: list[Span] | None = None) -> list[LocalEdit]:
        return self.restore_many([sentence], [spans])[0]

    def restore_many(self, sentences: list[str], spans: list[list[Span] | None] | None = None,
                     scores: list[float] | None = None,
                     documents: list[float | None] | None = None) -> list[list[LocalEdit]]:
        """Candidate edits for each sentence (``spans``: the detector's, offsets into each sentence;
        None means no detector evidence either way; ``scores``: the detector's sentence scores, by
        default the highest span score; ``documents``: the pooled score of each sentence's document,
        None or by default: no context). Confidences are for the caller to threshold; of overlapping
        edits the most confident is kept."""
        return [non_overlapping([LocalEdit(c.start, c.end, c.before, c.after, self.confidence(c)) for c in cands])
                for cands in self.candidates_many(sentences, spans, scores, documents)]

    def confidence(self, c: Candidate, *, offset_out: float | None = None, offset_lexicon: float | None = None,
                   detector_weighted: bool | None = None, reranker: dict | None | bool = True) -> float:
        """The probability that ``c`` gives back the original word. Where the operating point has a
        fitted ``reranker`` (and ``reranker`` is not False), its logistic regression over
        :func:`rerank_features` (``reranker_alone``, fitted without the document's score, for a
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
        for b in range(0, len(order), self.batch_size):
            idx = order[b:b + self.batch_size]
            for i, cands in zip(idx, self._batch([sentences[i] for i in idx], [spans[i] for i in idx],
                                                 [(ids[i], offsets[i]) for i in idx])):
                out[i] = [replace(c, sentence=scores[i], document=documents[i]) for c in cands]
        return out

    # -- one batch of sentences ---------------------------------------------------------------
    def _batch(self, sentences, spans, encoded):
        """``encoded``: each sentence's token ids and their character offsets (no special tokens)."""
        torch = self.torch
        from .lm import BOS_ID
        from .seq2seq import END_ID, SEP_ID, word_offsets

        drafts = []  # per sentence: draft token ids, their character spans, its words, where words start
        for s, (ids, offsets) in zip(sentences, encoded):
            ws = words(s)
            drafts.append((ids, word_offsets(s, offsets), ws, {w.start for w in ws}))
        seqs = [[BOS_ID, *d[0], SEP_ID, *d[0]] for d in drafts]
        n = max(len(x) for x in seqs)
        ids = torch.full((len(seqs), n), 2, dtype=torch.long)
        mask = torch.zeros((len(seqs), n), dtype=torch.long)
        for i, x in enumerate(seqs):
            ids[i, :len(x)] = torch.tensor(x)
            mask[i, :len(x)] = 1
        with torch.inference_mode():
            res = self.model.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device), use_cache=True)
            # the vocabulary projection only where the draft (and its end) is predicted: half the positions
            rows = [torch.full((len(d) + 1,), i) for i, (d, *_) in enumerate(drafts)]
            cols = [torch.arange(len(d) + 1, 2 * len(d) + 2) for d, *_ in drafts]
            hidden = res.last_hidden_state[torch.cat(rows), torch.cat(cols)]
            flat = torch.log_softmax(self.model.lm_head(hidden).float(), -1).cpu()
        cache = _cache_of(res)
        logp = list(flat.split([len(d) + 1 for d, *_ in drafts]))  # logp[row][j]: before draft token j
        branches: list[_Branch] = []
        proposals: list[_Path] = []  # the lexicon's originals at pointed words, scored word for word
        for row, (d, offs, ws, _) in enumerate(drafts):
            p0 = len(d) + 2  # draft token j sits at position p0 + j, predicted at p0 + j - 1
            if not d:
                continue
            pred = logp[row][:len(d)]
            draft_lp = pred.gather(1, torch.tensor(d)[:, None])[:, 0]
            copy_lp = [*draft_lp.tolist(), logp[row][len(d), END_ID].item()]  # ... and then the end
            best_lp, best = pred.max(-1)
            seen = set()
            token_at = {o[0]: i for i, o in reversed(list(enumerate(offs)))}  # first token of each start
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
            if spans[row] and (self.pointed_branches or self.lexicon_branches):
                # words the detector points at but the model would copy: open branches with the model's
                # best other first tokens; each edit must still beat the copy path on confidence, and
                # the most confident of a word's edits is kept
                for k, w in enumerate(ws):
                    first = token_at.get(w.start)
                    # pointed_at "first": the first word of each span only (a branch from it may replace the
                    # whole phrase, "got here" -> "came", where one from "here" would compete with it,
                    # "here" -> "there"); "all": every word of a span, for the reranker to choose between
                    if first is None or not any(
                            p.start < w.end and w.start < p.end
                            and (self.pointed_at == "all" or k == 0 or ws[k - 1].end <= p.start)
                            for p in spans[row]):
                        continue
                    # the lexicon's originals are scored at every pointed word, the model's own choice or not
                    proposals += self._lexicon_paths(row, k, first, sentences[row], drafts[row], p0, copy_lp, pred[first])
                    if k in seen or not self.pointed_branches:
                        continue
                    seen.add(k)
                    for tok in self._openings(pred[first], d[first]):
                        branches.append(_Branch(row, k, p0 + first, copy_lp[first:], first, [], forced=tok))
        # grouped by the length of what they see, so that each group's cache is cut short (see _prefix_cache)
        by_prefix = sorted(branches, key=lambda br: br.prefix)
        for b in range(0, len(by_prefix), self.branch_batch):
            self._grow(by_prefix[b:b + self.branch_batch], cache, logp, mask, sentences, drafts)
        proposals.sort(key=lambda pa: pa.prefix)
        for b in range(0, len(proposals), self.branch_batch):
            self._score_paths(proposals[b:b + self.branch_batch], cache, logp, mask)
        out: list[list[Candidate]] = [[] for _ in sentences]
        for br in branches:
            if br.edit is None:
                continue
            start, end, after, llr = br.edit
            sent = sentences[br.row]
            if refusal(sent, start, end, after):
                continue
            sp = spans[br.row]
            scores = [1.0] if sp is None else [p.score for p in sp if p.start < end and start < p.end]
            share = _share(br.logp, br.copy_logp[0])
            out[br.row].append(Candidate(
                start, end, sent[start:end], after, llr, share, max(scores) if scores else None,
                self.justified(sent[start:end], after), forced=br.forced is not None,
                span_start=sp is not None and any(p.start == start for p in sp)))
        for pa in proposals:
            sent, sp = sentences[pa.row], spans[pa.row]
            minimal = _minimal(sent, pa.start, pa.end, pa.after)
            if minimal is None or refusal(sent, *minimal) or any(
                    (c.start, c.end, c.after.lower()) == (minimal[0], minimal[1], minimal[2].lower()) for c in out[pa.row]):
                continue  # nothing to replace, refused, or the model proposed it too
            start, end, after = minimal
            scores = [p.score for p in sp if p.start < end and start < p.end]
            share = _share(pa.logp, pa.copy_first)
            out[pa.row].append(Candidate(
                start, end, sent[start:end], after, pa.logp - pa.copy, share, max(scores) if scores else None,
                True, forced=True, span_start=any(p.start == start for p in sp), proposed="lexicon"))
        return [_ranked(cands) for cands in out]

    def _lexicon_paths(self, row: int, k: int, first: int, sentence: str, draft, p0: int, copy_lp: list[float],
                       first_logp) -> list["_Path"]:
        """The paths that replace the words from ``k`` on (one word, or a phrase the lexicon knows) with
        an original the lexicon lists for them, each followed by the draft token it re-joins. Of all the
        lexicon's originals, the ``lexicon_branches`` whose first token the restorer finds likeliest
        there (``first_logp``, from the one pass, costs nothing) are kept, to be scored word for word
        (:meth:`_score_paths`)."""
        from .lexicon import MAX_PHRASE
        from .seq2seq import END_ID

        if not self.lexicon_branches or self.lexicon is None:
            return []
        d, offs, ws, word_starts = draft
        lead = " " if ws[k].start > 0 and sentence[ws[k].start - 1].isspace() else ""
        out = []
        for n in range(1, min(MAX_PHRASE, len(ws) - k) + 1):
            start, end = ws[k].start, ws[k + n - 1].end
            key = sentence[start:end]
            if n > 1 and key != " ".join(w.text for w in ws[k:k + n]):
                break  # a phrase is single-spaced words, as the lexicon writes its keys
            originals = [c for c in self.lexicon.candidates(key) if c.lower() != key.lower()]
            # the draft token that follows the replaced words must begin where they end
            rejoin = next((j for j in range(first, len(d)) if offs[j][0] >= end), len(d))
            if not originals or any(offs[j][1] > end for j in range(first, rejoin)) or (
                    rejoin < len(d) and not _joins(sentence, offs[rejoin][0], word_starts)):
                continue
            after_token = d[rejoin] if rejoin < len(d) else END_ID
            copy = sum(copy_lp[first:rejoin + 1])
            for cand in originals:
                if key[:1].isupper():
                    cand = cand[:1].upper() + cand[1:]
                tokens = self.tokenizer(lead + cand, add_special_tokens=False)["input_ids"]
                if tokens:
                    out.append(_Path(row, p0 + first, first, [*tokens, after_token], start, end, cand, copy,
                                     copy_lp[first]))
        out.sort(key=lambda pa: -first_logp[pa.tokens[0]].item())  # stable: lexicon order among equals
        return out[:self.lexicon_branches]

    def _score_paths(self, paths: list["_Path"], cache, logp, mask) -> None:
        """log p of each path's tokens after its prefix, teacher-forced in one pass over the shared cache."""
        torch = self.torch
        kv, att = _prefix_cache(cache, mask, paths)
        n = max(len(pa.tokens) for pa in paths) - 1
        ids = torch.full((len(paths), max(n, 1)), 2, dtype=torch.long)
        for i, pa in enumerate(paths):
            ids[i, :len(pa.tokens) - 1] = torch.tensor(pa.tokens[:-1])
        if n:
            att = torch.cat([att, torch.ones((len(paths), n), dtype=att.dtype)], 1)
            pos = torch.stack([torch.arange(pa.prefix, pa.prefix + n) for pa in paths])
            with torch.inference_mode():
                res = self.model(input_ids=ids[:, :n].to(self.device), position_ids=pos.to(self.device),
                                 attention_mask=att.to(self.device), use_cache=True, **_cache_kw(self.model, kv))
            later = torch.log_softmax(res.logits.float(), -1).cpu()
        for i, pa in enumerate(paths):
            lp = logp[pa.row][pa.first, pa.tokens[0]].item()
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
        from .seq2seq import END_ID

        kv, att = _prefix_cache(cache, mask, branches)
        nxt = torch.stack([logp[br.row][br.first] for br in branches])
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
                                 attention_mask=att.to(self.device), use_cache=True, **_cache_kw(self.model, kv))
            nxt = torch.log_softmax(res.logits[:, -1].float(), -1)
            kv = _cache_of(res)

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
        minimal = _minimal(sentence, start, end, after)
        if minimal is None:
            return
        copy_lp = sum(br.copy_logp[:j - br.first + 1])
        br.edit = (*minimal, br.logp - copy_lp)


def _joins(sentence: str, at: int, word_starts: set[int]) -> bool:
    """May a replacement re-join the draft at character ``at``: a word's start or punctuation."""
    return at in word_starts or not sentence[at].isalnum()


def _share(logp: float, copy_first: float) -> float:
    """An edit path's log share of the paths that do not copy the word: log p(edit) - log(1 - p(the
    word's own first token)) (``copy_first``: its log p)."""
    return logp - math.log(-math.expm1(min(copy_first, -1e-6)))


def _prefix_cache(cache, mask, items):
    """The key/value cache and attention mask for a group of branches (or paths), each on its sentence's
    row of the one pass's cache: each sees the prompt and the draft before its word (``item.prefix``
    tokens) only, so the cache is cut at the longest such prefix of the group (a copy of what the group
    needs, rather than of every row's full length) and the rest of each row is masked."""
    import torch
    from transformers import DynamicCache

    rows, n = torch.tensor([it.row for it in items]), max(it.prefix for it in items)
    kv = DynamicCache(ddp_cache_data=[(layer.keys[:1, :, :0], layer.values[:1, :, :0]) for layer in cache.layers])
    for mine, layer in zip(kv.layers, cache.layers):  # filled here: the constructor would copy them once more
        mine.keys, mine.values = layer.keys[rows, :, :n], layer.values[rows, :, :n]
    att = mask[rows, :n].clone()
    for i, it in enumerate(items):
        att[i, it.prefix:] = 0
    return kv, att


def _cache_kw(model, cache) -> dict:
    """The key/value cache as the installed transformers takes it (``cache`` since 5.2x, before that
    ``past_key_values``, which newer versions still take but warn about on every run)."""
    import inspect

    return {"cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values": cache}


def _cache_of(output):
    """The key/value cache of a model output, under either transformers name (see :func:`_cache_kw`)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def _ranked(cands: list[Candidate]) -> list[Candidate]:
    """The candidates with their ``rank`` among those beginning at the same word (by ``llr``)."""
    order = sorted(range(len(cands)), key=lambda i: (cands[i].start, -cands[i].llr))
    out, prev, rank = list(cands), None, 0
    for i in order:
        rank = rank + 1 if cands[i].start == prev else 0
        prev = cands[i].start
        out[i] = replace(cands[i], rank=rank)
    return out


def _minimal(sentence: str, start: int, end: int, after: str) -> tuple[int, int, str] | None:
    """Trim the words a replacement shares with the text at either end ("the navy" -> "the
    military" is "navy" -> "military"); None when nothing is left to replace or to replace it with."""
    import re

    before = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", sentence[start:end])]
    new = after.split()
    while before and new and sentence[before[0][0]:before[0][1]] == new[0]:
        before, new = before[1:], new[1:]
    while before and new and sentence[before[-1][0]:before[-1][1]] == new[-1]:
        before, new = before[:-1], new[:-1]
    if not before or not new:
        return None
    return before[0][0], before[-1][1], " ".join(new)


def non_overlapping(edits: list[LocalEdit]) -> list[LocalEdit]:
    """Keep the most confident of overlapping edits."""
    kept: list[LocalEdit] = []
    for e in sorted(edits, key=lambda e: -e.confidence):
        if all(e.end <= k.start or k.end <= e.start for k in kept):
            kept.append(e)
    return sorted(kept, key=lambda e: e.start)
