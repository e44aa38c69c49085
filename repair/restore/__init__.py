"""Restoration: propose minimal edits that give back the words the author wrote.

Restoration v1 (``smollm2-restorer-v1``, :class:`EditDecoder`, the default) decodes the trained
SmolLM2 restorer so that it can only make local, justified replacements. Restoration v0
(``lexicon-lm-v0``, :class:`LexiconLMRestorer`) needs no training.

Modules, in the order data flows: ``base`` (what a restorer does and declares), ``edits`` (the records:
a candidate and its evidence, a local edit), ``decoder`` (v1: candidates from the restorer), ``policy`` (what may never be edited),
``rerank`` (a candidate's evidence to a confidence), ``v0``.
"""
from repair.restore.decoder import EditDecoder
from repair.restore.base import Restorer
from repair.restore.edits import Candidate, LocalEdit, accepted, non_overlapping, pieces
from repair.restore.policy import refusal
from repair.restore.rerank import RERANK_FEATURES, rerank_confidence, rerank_features
from repair.restore.v0 import LexiconLMRestorer

from repair import registry


@registry.restorers.register("default", help="smollm2-restorer-v1, the trained restorer, with branches at the "
                                             "words the detector points at")
def _default(repairer) -> EditDecoder:
    return EditDecoder(device=repairer.device, lexicon=repairer.lexicon, precision=repairer.precision)


@registry.restorers.register("fast", help="minilm-corrector-v1, the corrector head on the detector's encoder "
                                          "alone: no language model, for corpora (docs/benchmarks.md)")
def _fast(repairer) -> Restorer:
    from repair.restore.corrector import CorrectorRestorer

    return CorrectorRestorer(device=repairer.device)


@registry.restorers.register("v0", help="lexicon-lm-v0, the lexicon's candidates chosen by SmolLM2, no training")
def _v0(repairer) -> LexiconLMRestorer:
    return LexiconLMRestorer(repairer.lm_lexicon)


__all__ = ["accepted", "Candidate", "EditDecoder", "LexiconLMRestorer", "LocalEdit", "RERANK_FEATURES", "Restorer",
           "non_overlapping", "pieces", "refusal", "rerank_confidence", "rerank_features"]
