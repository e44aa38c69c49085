"""``Repairer``: the one object editorial software needs.

Data flows one way: text -> sentences (``segment``) -> scores and spans (``detect``; each sentence's
score then weighs its document's) -> edits (``restore``) -> ``Report`` / ``Result`` (``doc``), whose
offsets all point into the input text.
"""
from __future__ import annotations

import contextlib
import threading
from functools import cached_property

from repair import config, registry
from repair._version import __version__
from repair.backends.memory import release, small_blocks_mapped
from repair.detect import Detector, LMLexiconDetector
from repair.doc import Edit, Report, Result, Sentence, Signature, Span, apply_edits, context_scores
from repair.errors import InputError, TooLarge
from repair.restore import Restorer, accepted
from repair.text.lexicon import Lexicon, default_lexicon
from repair.text.segment import Segmenter, default_segmenter


class Repairer:
    """Detects and undoes thesaurus spinning. Loads its models once; safe to share between threads.

    >>> r = Repairer()                        # doctest: +SKIP
    >>> r.fix("Blinken got here to Astana.").text   # doctest: +SKIP
    'Blinken came to Astana.'
    """

    def __init__(self, *, threshold: float | None = None, min_confidence: float | None = None,
                 detector: str | Detector = "default", device: str = "cpu", lm=None,
                 lexicon: Lexicon | None = None, segmenter: Segmenter | None = None, max_chars: int = config.MAX_CHARS,
                 int8: bool = False, restorer: str | Restorer = "default",
                 restore_threshold: float | None = None, precision: str | None = None):
        """``detector`` and ``restorer``: a name from :mod:`repair.registry` (``repair.registry.detectors.describe()``
        lists them: ``"default"``, ``"fast"``, ``"v0"``) or a component of your own (see
        :class:`repair.detect.Detector`, :class:`repair.restore.Restorer`). The restorer is loaded on the
        first ``fix``, so a ``check``-only user never pays for it. ``threshold``: the sentence score at which
        a sentence is flagged (default: the detector's own operating point). ``min_confidence``: edits less
        confident are withheld (default: the restorer's tuned operating point), bar those that touch an
        applied edit where the restorer declares a ``joint_share`` (a run of adjacent spun words is one
        decision: :func:`repair.restore.accepted`). ``fix`` restores the
        flagged sentences, and with ``restore_threshold`` every sentence scoring at least that (0: all of
        them; the restorer finds spun words the detector missed, at a cost in speed). ``int8`` quantizes
        the encoder detector (faster, slightly less accurate; for corpora). ``precision``: the number format
        of the restorer's language model, ``"auto"`` (bfloat16 where the hardware computes it natively,
        else float32), ``"fp32"`` or ``"bf16"`` (default: ``$REPAIR_PRECISION``, else ``"auto"``). ``lm``, ``lexicon``,
        ``segmenter``: shared models to use instead of loading the default ones."""
        self.min_confidence = min_confidence
        self.restore_threshold = restore_threshold
        if isinstance(restorer, str):
            registry.restorers.get(restorer)  # an unknown name fails here, not on the first fix
        self._restorer_choice = restorer
        self.max_chars = max_chars
        self.device, self.int8 = device, int8
        self.precision = config.precision(precision)
        self.segmenter = segmenter or default_segmenter()
        self._lexicon, self._lm = lexicon, lm
        self._lock = threading.Lock()  # torch modules are not re-entrant on every backend
        made = registry.detectors.make(detector, self) if isinstance(detector, str) else detector
        self.detector: Detector = registry.as_detector(made)
        self.threshold = config.flag_threshold(threshold, self.detector)

    @property
    def lexicon(self) -> Lexicon:
        return self._lexicon or default_lexicon()

    @cached_property
    def lm_lexicon(self) -> LMLexiconDetector:
        """SmolLM2 plus the spin lexicon: candidate originals ranked by likelihood (v0 detector, v0 restorer)."""
        from repair.backends.lm import LanguageModel

        return LMLexiconDetector(self._lm or LanguageModel(device=self.device), self.lexicon)

    @cached_property
    def restorer(self) -> Restorer:
        choice = self._restorer_choice
        return registry.as_restorer(registry.restorers.make(choice, self) if isinstance(choice, str) else choice)

    @property
    def edit_confidence(self) -> float:
        """The minimum confidence of an edit (see :func:`repair.config.edit_confidence`)."""
        return config.edit_confidence(self.min_confidence, self.restorer)

    @property
    def restore_floor(self) -> float:
        """Sentences scoring at least this (or flagged) are restored (see :func:`repair.config.restore_floor`)."""
        return config.restore_floor(self.restore_threshold, self.restorer, self.threshold)

    def signature(self, threshold: float, min_confidence: float | None = None,
                  restore_threshold: float | None = None) -> Signature:
        """How a check (no ``min_confidence``) or a fix was computed: models and every knob that changes it."""
        if min_confidence is None:
            return Signature(self.detector.name, None, threshold, __version__)
        return Signature(self.detector.name, self.restorer.name, threshold, __version__, min_confidence,
                         restore_threshold, self.restorer.joint_share)

    def _validate(self, text: str) -> None:
        if not isinstance(text, str):
            raise InputError(f"expected str, got {type(text).__name__}")
        if len(text) > self.max_chars:
            raise TooLarge(f"document too large: {len(text):,} characters (limit {self.max_chars:,})")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InputError(f"text holds a lone surrogate (U+{ord(text[e.start]):04X} at character {e.start}), "
                             f"which is not text; decode the input with errors='replace'") from None

    def _validate_many(self, texts: list[str]) -> None:
        if isinstance(texts, str):
            raise InputError("expected a list of texts, got one str (use check or fix for one text)")
        for t in texts:
            self._validate(t)

    def _sentences(self, text: str, threshold: float) -> list[Sentence]:
        return self._sentences_many([text], threshold)[0][0]

    def _sentences_many(self, texts: list[str], threshold: float, limit: int | None = None,
                        document_scores: list[float | None] | None = None
                        ) -> tuple[list[list[Sentence]], list[list[float | None]]]:
        """Segment every text and score all their sentences in one detector call (batches pad less);
        then weigh each sentence's score with its document's (the detector's context calibration).
        Returns the sentences and, per sentence, its document's score (given, or its text's sentences
        pooled; None for a text of one sentence)."""
        if document_scores is not None and len(document_scores) != len(texts):
            raise ValueError(f"{len(document_scores)} document scores for {len(texts)} texts")
        spans = [self.segmenter.sentences(t)[:limit] for t in texts]
        flat = [t[s:e] for t, sp in zip(texts, spans) for s, e in sp]
        # a very long text's report outlives many batches: their large blocks are mapped apart from it
        long = any(len(sp) > config.MAPPED_ABOVE for sp in spans)
        with self._lock, small_blocks_mapped() if long else contextlib.nullcontext():
            evidence = self.detector.detect(flat)
        calibration = self.detector.context
        given = document_scores or [None] * len(texts)
        docs, contexts, k = [], [], 0
        for text, sp, doc in zip(texts, spans, given):
            own, pieces = evidence[k:k + len(sp)], flat[k:k + len(sp)]
            k += len(sp)
            context = context_scores([ev.score for ev in own]) if doc is None else [doc] * len(sp)
            sents = []
            for (s, e), piece, ev, c in zip(sp, pieces, own, context):
                score = ev.score if calibration is None or c is None else calibration(ev.score, c)
                sents.append(Sentence(s, e, piece, score, score >= threshold,
                                      [Span(p.start + s, p.end + s, p.score, p.text) for p in ev.spans], ev.score))
            docs.append(sents)
            contexts.append(context)
        return docs, contexts

    def check(self, text: str, *, threshold: float | None = None) -> Report:
        """Detection only: every sentence with its spin score, flag and suspicious spans."""
        self._validate(text)
        threshold = self.threshold if threshold is None else threshold
        return Report(text, self._sentences(text, threshold), self.signature(threshold))

    def check_many(self, texts: list[str], *, threshold: float | None = None, max_sentences: int | None = None,
                   document_scores: list[float | None] | None = None) -> list[Report]:
        """:meth:`check` for many documents at once, batching sentences across them (the fast path for
        corpora). ``max_sentences`` scores only each document's first sentences (a cheap triage).
        ``document_scores``: where ``texts`` are parts of longer documents, the score of the document
        each comes from, which every sentence's score weighs (as in :meth:`fix_many`)."""
        self._validate_many(texts)
        threshold = self.threshold if threshold is None else threshold
        sig = self.signature(threshold)
        docs, _ = self._sentences_many(texts, threshold, max_sentences, document_scores)
        return [Report(t, s, sig) for t, s in zip(texts, docs)]

    def fix(self, text: str, *, threshold: float | None = None, min_confidence: float | None = None) -> Result:
        """Detection plus restoration. Edits below ``min_confidence`` are withheld (but see ``joint_share``
        in :class:`Repairer`)."""
        return self.fix_many([text], threshold=threshold, min_confidence=min_confidence)[0]

    def fix_many(self, texts: list[str], *, threshold: float | None = None, min_confidence: float | None = None,
                 document_scores: list[float | None] | None = None) -> list[Result]:
        """:meth:`fix` for many documents at once: detection and restoration are batched across them.

        The restorer weighs each sentence's edits by its document's score as well (spinners spin whole
        articles): by default the pooled score of the text's sentences (:func:`repair.doc.context_scores`;
        a one-sentence text has no context and is judged on its own). Where ``texts`` are parts of
        longer documents (an editor's selection, one paragraph at a time), pass ``document_scores``:
        the score of the document each text comes from (``check(document).score``; None: the text's own)."""
        self._validate_many(texts)
        threshold = self.threshold if threshold is None else threshold
        with self._lock:
            restorer = self.restorer  # loaded on first use, once; its operating point gives the defaults below
        min_conf = self.edit_confidence if min_confidence is None else min_confidence
        joint = restorer.joint_share  # edits touching an applied one, from this share of min_conf
        floor = min(threshold, self.restore_floor)
        docs, context = self._sentences_many(texts, threshold, document_scores=document_scores)
        # sentences are chosen by the score a check shows (weighed with their document's), so every
        # flagged sentence is restored; the restorer reads their own score and the document's
        todo = [(d, k, s) for d, sents in enumerate(docs) for k, s in enumerate(sents) if s.score >= floor]
        edits: list[list[Edit]] = [[] for _ in texts]
        # config.RESTORE_CHUNK sentences at a time: a long text's candidates are held for one chunk only
        for part in (todo[k:k + config.RESTORE_CHUNK] for k in range(0, len(todo), config.RESTORE_CHUNK)):
            local = [[Span(p.start - s.start, p.end - s.start, p.score, p.text) for p in s.spans] for *_, s in part]
            with self._lock:
                proposed = restorer.restore_many([s.text for *_, s in part], local, [s.alone for *_, s in part],
                                                 [context[d][k] for d, k, _ in part])
            for (d, _, sent), props in zip(part, proposed):
                edits[d] += [e.shifted(sent.start) for e in accepted(props, sent.text, min_conf, joint)]
            if len(todo) > config.RESTORE_CHUNK:
                release()  # the chunk's freed tensors go back to the system, not into the next chunk's heap
        sig = self.signature(threshold, min_conf, floor)
        return [Result(t, apply_edits(t, e), s, e, sig) for t, s, e in zip(texts, docs, edits)]
