"""Spin detection: a score in 0..1 for every sentence, and the spans that raised it.

``base`` (what a detector gives back and declares), ``rtd`` (v1, the trained replaced-token
detector, the default), ``v0`` (language-model likelihood of the lexicon's alternatives, no training).
"""
from repair.detect.base import ContextCalibration, Detector, SentenceEvidence
from repair.detect.rtd import EncoderDetector
from repair.detect.v0 import Alternative, LMLexiconDetector

from repair import registry
from repair.backends.resources import model_path


@registry.detectors.register("default", help="minilm-rtd-v1, the trained replaced-token detector")
def _default(repairer) -> EncoderDetector:
    return EncoderDetector(model_path("detector"), device=repairer.device, int8=repairer.int8)


@registry.detectors.register("fast", help="minilm2-rtd-v1, the same on the encoder's lowest two layers: "
                                          "faster, less accurate (docs/benchmarks.md)")
def _fast(repairer) -> EncoderDetector:
    return EncoderDetector(model_path("detector_fast"), device=repairer.device, int8=repairer.int8)


@registry.detectors.register("v0", help="lm-lexicon-v0, SmolLM2 and the lexicon, no training; slow")
def _v0(repairer) -> LMLexiconDetector:
    return repairer.lm_lexicon


__all__ = ["Alternative", "ContextCalibration", "Detector", "EncoderDetector", "LMLexiconDetector", "SentenceEvidence"]
