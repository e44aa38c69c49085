"""Shims over the installed torch and transformers: the number format a model runs in, the key/value
cache under either name it has had, and a group's cut of one pass's cache."""
from __future__ import annotations


def float_dtype(precision: str | None, device: str = "cpu"):
    """The torch dtype a model runs in for ``precision`` (:func:`repair.config.precision` resolves None and
    refuses an unknown name): ``fp32``, ``bf16``, or ``auto``: bfloat16 where
    the hardware computes it natively (a CUDA GPU that supports it; a CPU with AVX-512 BF16 or AMX, where
    the restorer runs about 1.5x faster and holds half the memory, its edits within rounding of float32's:
    ``docs/benchmarks.md``), else float32 (emulated bfloat16 is slower than float32)."""
    import torch

    from repair.config import precision as resolve

    precision = resolve(precision)
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    return torch.bfloat16 if device == "cpu" and native_bf16() else torch.float32


def native_bf16() -> list[str]:
    """The instructions with which this CPU computes bfloat16 natively (empty: it would be emulated)."""
    import torch

    cpu = getattr(torch, "cpu", None)
    return [label for probe, label in (("_is_amx_tile_supported", "AMX"), ("_is_avx512_bf16_supported", "AVX-512 BF16"))
            if getattr(cpu, probe, lambda: False)()]


def machine() -> str:
    """This machine in words, for the headers of generated benchmark pages: the number of cores, the
    processor's name, and the number format :func:`float_dtype` gives the restorer here, with the
    instructions that make it native (speeds differ several-fold between processors, and a page's
    numbers mean something only with it)."""
    import os
    import platform

    import torch

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    fmt = f"bfloat16 (native: {', '.join(native_bf16())})" if float_dtype("auto") == torch.bfloat16 else "float32"
    return f"{os.cpu_count()} CPU cores ({name}, {platform.machine()}), the restorer in {fmt}"


def right_padded(seqs: list[list[int]], pad: int):
    """Token id lists as one right-padded batch: the ids [rows, longest] and the attention mask."""
    import torch

    ids = torch.full((len(seqs), max(len(x) for x in seqs)), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, x in enumerate(seqs):
        ids[i, :len(x)] = torch.tensor(x, dtype=torch.long)
        mask[i, :len(x)] = 1
    return ids, mask


def prefix_cache(cache, mask, items):
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


def cache_kw(model, cache) -> dict:
    """The key/value cache as the installed transformers takes it (``cache`` since 5.2x, before that
    ``past_key_values``, which newer versions still take but warn about on every run)."""
    import inspect

    return {"cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values": cache}


def cache_of(output):
    """The key/value cache of a model output, under either transformers name (see :func:`cache_kw`)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values

