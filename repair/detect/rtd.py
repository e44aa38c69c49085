"""Detection v1: the trained replaced-token detector (``minilm-rtd-v1``; ``minilm2-rtd-v1`` on two layers)."""
from __future__ import annotations

from pathlib import Path

from repair.backends.memory import bounded_groups, release
from repair.backends.resources import model_path
from repair.detect.base import ContextCalibration, Detector, SentenceEvidence
from repair.doc import Span, sigmoid
from repair.text.segment import Token

CHUNK = 1024  # sentences whose words are held at once (16 batches of 64)


class EncoderDetector(Detector):
    """Detection v1: a replaced-token detector (LoRA-tuned all-MiniLM-L6-v2 with a word head).

    Every word gets p(substituted); runs of consecutive words above ``span_threshold`` form one span
    ("got here", "his or her"); the sentence score is a Platt-calibrated function of the strongest
    word, fitted on held-out articles by ``scripts/train_detector.py`` (see ``models/detector/repair.json``).
    No language model is loaded: this is the fast path behind ``Repairer.check``.
    """

    def __init__(self, adapter_dir: Path | None = None, *, device: str = "cpu", batch_size: int = 64,
                 max_batch_tokens: int = 4096, span_threshold: float = 0.5, int8: bool = False):
        """``int8``: dynamic int8 quantization of the linear layers (CPU): faster, slightly less accurate
        (docs/bench.md, docs/benchmarks.md); meant for corpora. A batch holds at most ``batch_size``
        sentences and ``max_batch_tokens`` padded tokens: 64 news sentences fit, while pieces of text
        without full stops (~130 tokens each) go about 31 at a time, so a batch's activations stay bounded."""
        import torch

        from repair.backends.encoder import load_detector

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
        self.max_batch_tokens = max_batch_tokens
        self.max_tokens = self.config.get("max_tokens", 256)
        self.a, self.b = self.config["calibration"]["a"], self.config["calibration"]["b"]
        # the flagging threshold chosen with the calibration: <= 2% of held-out clean sentences flagged
        self.threshold: float | None = self.config.get("operating_point", {}).get("threshold")
        self.context = ContextCalibration.from_config(self.config.get("context", {}).get("weights"))

    def word_logits(self, sentences: list[str]) -> list[tuple[list[Token], list[float]]]:
        """Each sentence's words (``repair.text.segment.words``) with one logit each. A sentence longer
        than the encoder's token limit is scored in windows: the words past the limit are scored again
        from the first of them on, until every word is (-inf only for a word the tokenizer gives no
        token at all)."""
        out = self._word_logits(sentences)
        for i, (toks, logits) in enumerate(out):
            k = 0
            # each unscored word opens a window from it on (each window moves forward; the first word, if
            # unscored, has no token at all and is passed)
            while (k := next((j for j in range(k, len(toks)) if logits[j] == float("-inf")), None)) is not None:
                if k > 0:
                    start = toks[k].start
                    (rest, more), = self._word_logits([sentences[i][start:]])
                    by_start = {t.start + start: z for t, z in zip(rest, more)}
                    logits = [by_start.get(t.start, z) if z == float("-inf") else z for t, z in zip(toks, logits)]
                k += 1
            out[i] = (toks, logits)
        return out

    def _word_logits(self, sentences: list[str]) -> list[tuple[list[Token], list[float]]]:
        """Each sentence's words with one logit each; -inf past the token limit."""
        from repair.backends.encoder import featurize, token_counts, word_logits

        # batches of similar token counts (sorting by characters left a third of the encoder's work on
        # padding), bounded in sentences and in padded tokens; one sentence needs no count
        counts = token_counts(self.tokenizer, sentences, self.max_tokens) if len(sentences) > 1 else [0]
        order = sorted(range(len(sentences)), key=counts.__getitem__)
        batches = bounded_groups(order, self.batch_size, self.max_batch_tokens, counts.__getitem__)
        out: list[tuple[list[Token], list[float]]] = [([], []) for _ in sentences]
        with self.torch.inference_mode():
            for idx in batches:
                batch = featurize(self.tokenizer, [sentences[i] for i in idx], self.max_tokens)
                batch.inputs = {n: v.to(self.device) for n, v in batch.inputs.items()}
                batch.first = batch.first.to(self.device)
                z = word_logits(self.model, batch, self.token_bias).float().cpu()
                for row, i in enumerate(idx):
                    out[i] = (batch.words[row], z[row, :len(batch.words[row])].tolist())
                del batch
                if len(batches) > 1:
                    release()  # glibc keeps a batch's freed tensors fragmented in its heaps: a chunk of
                    # batches held ~200 MB more than one batch needs (a trim costs well under 1% of a batch)
        return out

    def detect(self, sentences: list[str]) -> list[SentenceEvidence]:
        """Each sentence's evidence, computed :data:`CHUNK` sentences at a time: a long document's words
        and tokens are held for one chunk only, so memory stays flat however long the input (the
        batches of similar length are made within each chunk)."""
        out: list[SentenceEvidence] = []
        for k in range(0, len(sentences), CHUNK):
            out += self._detect(sentences[k:k + CHUNK])
        return out

    def _detect(self, sentences: list[str]) -> list[SentenceEvidence]:
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
