"""The reranker: a candidate's evidence as features, and the fitted model over them, a logistic regression
or one layer of tanh units (``operating_point.reranker`` in the restorer's ``repair.json``, fitted by
``scripts/tune_restorer.py``)."""
from __future__ import annotations

import math

from repair.doc import sigmoid
from repair.text.protect import zipf
from repair.restore.edits import Candidate

# what the reranker (fitted by scripts/tune_restorer.py) may read of a candidate;
# a fitted reranker names the features it reads (``reranker["features"]``, a subset of these)
RERANK_FEATURES = ("bias", "llr", "llr_unpointed", "share", "pointed", "unpointed", "lexicon", "forced",
                   "span_start", "rank0", "rank", "zipf_before", "zipf_after", "zipf_gain", "words_before",
                   "words_after", "capitalised", "sentence", "sentence_unpointed", "document", "no_document",
                   "from_lexicon", "from_corrector", "channel", "channel_log", "channel_keep", "no_channel",
                   "fluency", "no_fluency", "llr_lead", "no_rival", "fluency_lead", "no_fluency_rival",
                   "neighbour_llr", "no_neighbour", "neighbour_fluency")


def clip(x: float | None, bound: float = 20.0) -> float:
    """A log-likelihood difference as a feature: within ``bound``, 0 when there is none."""
    return max(min(x or 0.0, bound), -bound)


def rerank_features(c: Candidate, names=RERANK_FEATURES) -> list[float]:
    """The candidate's evidence as the reranker's inputs, in the order of ``names`` (see :data:`RERANK_FEATURES`)."""
    llr, share = clip(c.llr), max(c.share, -20.0)
    b, a = c.before.split(), c.after.split()
    zb, za = zipf(b[0].lower()), zipf(a[0].lower())
    values = dict(zip(RERANK_FEATURES, (
        1.0, llr, llr if c.pointed is None else 0.0, share, c.pointed or 0.0, float(c.pointed is None),
        float(c.lexicon), float(c.forced), float(c.span_start), float(c.rank == 0), float(min(c.rank, 5)),
        zb, za, za - zb, float(len(b)), float(len(a)), float(any(w[:1].isupper() for w in b)),
        c.sentence, c.sentence * float(c.pointed is None), c.document or 0.0, float(c.document is None),
        float(c.proposed == "lexicon"), float(c.proposed == "corrector"), c.channel or 0.0,
        math.log(max(c.channel or 0.0, 1e-4)) if c.channel is not None else 0.0, c.keep or 0.0,
        float(c.channel is None), clip(c.fluency), float(c.fluency is None), clip(c.llr_lead), float(c.llr_lead is None),
        clip(c.fluency_lead), float(c.fluency is not None and c.fluency_lead is None), clip(c.neighbour_llr),
        float(c.neighbour_llr is None), clip(c.neighbour_fluency))))
    return [values[n] for n in names]


def rerank_confidence(reranker: dict, c: Candidate) -> float:
    """P(the candidate gives back the original word) by the fitted reranker (``operating_point.reranker``):
    a logistic regression over the raw features (``weights``), or, where it has ``hidden`` units, one
    layer of tanh units over the standardized features (``mean``, ``scale``) and a logistic output."""
    x = rerank_features(c, reranker["features"])
    if "hidden" not in reranker:
        return sigmoid(sum(w * v for w, v in zip(reranker["weights"], x)))
    z = [(v - m) / s for v, m, s in zip(x, reranker["mean"], reranker["scale"])]
    h = [math.tanh(b + sum(w * v for w, v in zip(row, z))) for row, b in zip(reranker["hidden"], reranker["hidden_bias"])]
    return sigmoid(reranker["output_bias"] + sum(w * v for w, v in zip(reranker["output"], h)))



def passes_screen(screen: dict, c: Candidate) -> bool:
    """Whether a screen (a reranker and its ``floor``: ``operating_point.fluency_screen``) lets the candidate through."""
    return rerank_confidence(screen, c) >= screen["floor"]
