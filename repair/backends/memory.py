"""Bounded memory for long inputs: batches bounded in padded tokens (:func:`bounded_groups`), and freed
memory handed back to the system between batches (:func:`release`).

glibc's allocator keeps the memory of freed tensors in its heaps for reuse, and after the first large
free it serves ever larger tensors from those heaps, so a long run's resident memory keeps the high
water mark of every batch it has done, fragmented. :func:`release` asks it to return the free pages of
every heap (``malloc_trim(0)``, which since glibc 2.8 also releases pages inside a heap, not only at its
top). It costs a walk over the free lists (well under 1% of a model batch), so it is called between
batches, not between tensors. Elsewhere (musl, macOS, Windows) it does nothing."""
from __future__ import annotations

import ctypes
import functools


@functools.cache
def _malloc_trim():
    try:
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return fn


def release() -> bool:
    """Return the allocator's free memory to the system; True where that was possible (glibc)."""
    fn = _malloc_trim()
    if fn is None:
        return False
    fn(0)
    return True


def bounded_groups(items: list, size: int, budget: int, length) -> list[list]:
    """``items``, sorted by ``length``, in consecutive groups of at most ``size`` items whose padded
    length (items x the longest) stays within ``budget`` (a group holds at least one item), so that the
    memory of a batch is bounded however long its items are."""
    groups, cur = [], []
    for it in items:
        if cur and (len(cur) == size or (len(cur) + 1) * length(it) > budget):
            groups.append(cur)
            cur = []
        cur.append(it)
    return groups + ([cur] if cur else [])
