"""Bounded memory for long inputs: batches bounded in padded tokens (:func:`bounded_groups`), and freed
memory handed back to the system between batches (:func:`release`).

glibc's allocator keeps the memory of freed tensors in its heaps for reuse, and after the first large
free it serves ever larger tensors from those heaps, so a long run's resident memory keeps the high
water mark of every batch it has done, fragmented. :func:`release` asks it to return the free pages of
every heap (``malloc_trim(0)``, which since glibc 2.8 also releases pages inside a heap, not only at its
top). It costs a walk over the free lists (well under 1% of a model batch), so it is called between
batches, not between tensors. Elsewhere (musl, macOS, Windows) it does nothing.

:func:`small_blocks_mapped` fixes glibc's mmap threshold at :data:`MMAP_THRESHOLD` while the detector
reads a very long text (``repair.config.MAPPED_ABOVE``): every allocation larger than that (a batch's
activations) gets pages of its own that go back to the system when it is freed, instead of a place in a
heap between small long-lived objects (the sentences and spans of a long report), where the freed space
could not be trimmed. A check of 10 MB then grows little more than its report does against 1 MB
(docs/bench-long.md), for about 30% more detection time (mapping and faulting in each batch's
activations anew), which ordinary documents do not pay. Afterwards the threshold is
:data:`HEAP_THRESHOLD`, where glibc's own adjustment ends up after large frees: the restorer's many mid-
sized tensors (key/value caches, branch groups) from the heap, since mapping each of them anew cost a
fix about a quarter of its time (docs/history.md). ``MALLOC_MMAP_THRESHOLD_`` set in the environment
wins: then the threshold is left alone."""
from __future__ import annotations

import contextlib
import ctypes
import functools
import os

MMAP_THRESHOLD = 128 * 1024  # bytes: glibc's own starting value, kept instead of growing with every large free
HEAP_THRESHOLD = 32 * 1024 * 1024  # glibc's ceiling for its dynamic threshold on 64-bit systems
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


@functools.cache
def _glibc(name: str, *argtypes):
    try:
        fn = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):  # not glibc
        return None
    fn.argtypes, fn.restype = list(argtypes), ctypes.c_int
    return fn


def _malloc_trim():
    return _glibc("malloc_trim", ctypes.c_size_t)


def set_mmap_threshold(size: int) -> bool:
    """Allocations over ``size`` bytes get pages of their own; False (nothing done) where the environment
    sets the threshold (``MALLOC_MMAP_THRESHOLD_``) or the allocator is not glibc's."""
    fn = _glibc("mallopt", ctypes.c_int, ctypes.c_int)
    if fn is None or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    return fn(_M_MMAP_THRESHOLD, size) == 1


@contextlib.contextmanager
def small_blocks_mapped():
    """Within: allocations over :data:`MMAP_THRESHOLD` are mapped (and unmapped when freed); after:
    those up to :data:`HEAP_THRESHOLD` come from the heap (see the module's text)."""
    done = set_mmap_threshold(MMAP_THRESHOLD)
    try:
        yield done
    finally:
        if done:
            set_mmap_threshold(HEAP_THRESHOLD)


def release() -> bool:
    """Return the allocator's free memory to the system; True where that was possible (glibc)."""
    fn = _malloc_trim()
    if fn is None:
        return False
    fn(0)
    return True


def bounded_groups(items: list, size: int, budget: int, length) -> list[list]:
    """``items`` in consecutive groups of at most ``size`` items whose padded length (items x the
    longest) stays within ``budget`` (a group holds at least one item), so that the memory of a batch is
    bounded however long its items are. Sorted by ``length``, they pad least."""
    groups, cur, longest = [], [], 0
    for it in items:
        n = length(it)
        if cur and (len(cur) == size or (len(cur) + 1) * max(longest, n) > budget):
            groups.append(cur)
            cur, longest = [], 0
        cur.append(it)
        longest = max(longest, n)
    return groups + ([cur] if cur else [])
