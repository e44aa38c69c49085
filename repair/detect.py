"""Spin detection: a score in 0..1 for every sentence, and the spans that raised it.

Detection v0 (``lm-lexicon-v0``) needs no training. A thesaurus spinner leaves a word the
language model did not expect where a more ordinary synonym fits ("Blinken *got here* to Central
Asia"). For every lexicon site in a sentence we ask SmolLM2 how much more likely the sentence
becomes when the site is replaced by one of the originals the lexicon proposes. A large gain is
evidence of substitution; a sentence scores as its strongest site. On a sample of clean news
sentences 90% have no alternative more than ~4.5 nats better, hence the default offset.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .doc import Span, logit, sigmoid
from .lexicon import Lexicon, Site
from .lm import LanguageModel
from .resources import model_path
from .segment import Token, match_case, protected, words


@dataclass(frozen=True)
class Alternative:
    """A candidate original for a site and how much it raises the sentence's log-likelihood (nats)."""

    site: Site
    text: str
    gain: float


@dataclass(frozen=True)
class SentenceEvidence:
    score: float
    spans: list[Span]  # offsets into the sentence text
    alternatives: list[Alternative]  # best alternative per rescored site


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


class Detector(Protocol):
    name: str

    def detect(self, sentences: list[str]) -> list[SentenceEvidence]: ...


class LMLexiconDetector:
    """Detection v0: language-model likelihood gain of the best lexicon alternative per site."""

    name = "lm-lexicon-v0"

    def __init__(self, lm: LanguageModel, lexicon: Lexicon, *, prescreen: float = 0.0, top: int = 1,
                 slope: float = 1.0, offset: float = -4.5):
        self.lm, self.lexicon = lm, lexicon
        self.prescreen, self.top = prescreen, top
        self.slope, self.offset = slope, offset  # span evidence = sigmoid(slope * gain + offset)

    def sites(self, sentence: str) -> list[Site]:
        toks = words(sentence)
        guard = protected(sentence, toks)
        keep = [s for s in self.lexicon.sites(sentence, toks)
                if not any(g for t, g in zip(toks, guard) if s.start <= t.start < s.end)]
        return keep

    def alternatives(self, sentence: str, sites: list[Site], *, prescreen: float, top: int) -> list[list[Alternative]]:
        """For each site, up to ``top`` alternatives ranked by full-sentence log-likelihood gain.

        A single forward pass gives the next-token distribution at every site; candidates whose first
        token is not within ``prescreen`` nats of the written word's first token are dropped before the
        (expensive) full-sentence rescoring."""
        if not sites:
            return []
        scored, logp = self.lm.score_with_next(sentence)
        shortlist: list[list[tuple[float, str]]] = []
        for site in sites:
            j = next((k for k, (_, e) in enumerate(scored.offsets) if e > site.start), None)
            if j is None:
                shortlist.append([])
                continue
            lead = sentence[scored.offsets[j][0]:site.start]  # usually the space the token carries
            ranked = []
            for cand in site.candidates:
                cand = match_case(site.text, cand)
                ids, _ = self.lm.encode(lead + cand)
                if ids:
                    ranked.append((float(logp[j, ids[0]]) - scored.logprobs[j], cand))
            ranked.sort(reverse=True)
            shortlist.append([(g, c) for g, c in ranked[:top] if g >= prescreen])
        texts, owners = [], []
        for site, short in zip(sites, shortlist):
            for _, cand in short:
                texts.append(sentence[:site.start] + cand + sentence[site.end:])
                owners.append((site, cand))
        if not texts:
            return [[] for _ in sites]
        base = scored.total
        totals = self.lm.totals(texts)
        by_site: dict[int, list[Alternative]] = {}
        for (site, cand), total in zip(owners, totals):
            by_site.setdefault(site.start, []).append(Alternative(site, cand, total - base))
        return [sorted(by_site.get(s.start, []), key=lambda a: -a.gain) for s in sites]

    def detect(self, sentences: list[str]) -> list[SentenceEvidence]:
        out = []
        for sentence in sentences:
            sites = self.sites(sentence)
            alts = self.alternatives(sentence, sites, prescreen=self.prescreen, top=self.top)
            spans, best = [], []
            for site, site_alts in zip(sites, alts):
                if site_alts:
                    a = site_alts[0]
                    p = sigmoid(self.slope * a.gain + self.offset)
                    spans.append(Span(site.start, site.end, p, site.text))
                    best.append(a)
            score = max((s.score for s in spans), default=0.0)
            out.append(SentenceEvidence(score, spans, best))
        return out


class EncoderDetector:
    """Detection v1: a replaced-token detector (LoRA-tuned all-MiniLM-L6-v2 with a word head).

    Every word gets p(substituted); runs of consecutive words above ``span_threshold`` form one span
    ("got here", "his or her"); the sentence score is a Platt-calibrated function of the strongest
    word, fitted on held-out articles by ``scripts/train_detector.py`` (see ``models/detector/repair.json``).
    No language model is loaded: this is the fast path behind ``Repairer.check``.
    """

    def __init__(self, adapter_dir: Path | None = None, *, device: str = "cpu", batch_size: int = 64,
                 span_threshold: float = 0.5, int8: bool = False):
        """``int8``: dynamic int8 quantization of the linear layers (CPU): about 1.5x the documents/s of
        ``repair batch`` (docs/bench.md), sentence AUC about 0.01 lower on devbench (docs/benchmarks.md);
        meant for corpora."""
        import torch

        from .encoder import load_detector

        self.torch = torch
        path = adapter_dir or model_path("detector")
        self.tokenizer, self.model, self.config, self.token_bias = load_detector(path, device)
        self.name = self.config["name"]
        if int8:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch marks its quantized tensors deprecated, not the API
                self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
            self.name += "-int8"
        self.device, self.batch_size, self.span_threshold = device, batch_size, span_threshold
        self.max_tokens = self.config.get("max_tokens", 256)
        self.a, self.b = self.config["calibration"]["a"], self.config["calibration"]["b"]
        # the flagging threshold chosen with the calibration: <= 2% of held-out clean sentences flagged
        self.threshold: float | None = self.config.get("operating_point", {}).get("threshold")
        self.context = ContextCalibration.from_config(self.config.get("context", {}).get("weights"))

    def word_logits(self, sentences: list[str]) -> list[tuple[list[Token], list[float]]]:
        """Each sentence's words (``repair.segment.words``) with one logit each; -inf past the token limit."""
        from .encoder import featurize, token_counts, word_logits

        # batches of similar token counts (sorting by characters left a third of the encoder's work on
        # padding); texts that fit one batch need no order
        order = list(range(len(sentences)))
        if len(sentences) > self.batch_size:
            order.sort(key=token_counts(self.tokenizer, sentences, self.max_tokens).__getitem__)
        out: list[tuple[list[Token], list[float]]] = [([], []) for _ in sentences]
        with self.torch.inference_mode():
            for k in range(0, len(order), self.batch_size):
                idx = order[k:k + self.batch_size]
                batch = featurize(self.tokenizer, [sentences[i] for i in idx], self.max_tokens)
                batch.inputs = {n: v.to(self.device) for n, v in batch.inputs.items()}
                batch.first = batch.first.to(self.device)
                z = word_logits(self.model, batch, self.token_bias).float().cpu()
                for row, i in enumerate(idx):
                    out[i] = (batch.words[row], z[row, :len(batch.words[row])].tolist())
        return out

    def detect(self, sentences: list[str]) -> list[SentenceEvidence]:
        out = []
        for sentence, (toks, logits) in zip(sentences, self.word_logits(sentences)):
            finite = [z for z in logits if z != float("-inf")]
            score = sigmoid(self.a * max(finite) + self.b) if finite else 0.0
            spans: list[Span] = []
            run: list[tuple[int, float]] = []
            for k, z in enumerate(logits + [float("-inf")]):
                p = sigmoid(z) if z != float("-inf") else 0.0
                if p >= self.span_threshold:
                    run.append((k, p))
                elif run:
                    s, e = toks[run[0][0]].start, toks[run[-1][0]].end
                    spans.append(Span(s, e, max(q for _, q in run), sentence[s:e]))
                    run = []
            out.append(SentenceEvidence(score, spans, []))
        return out
