"""repair.backends.memory.release: freed memory goes back to the system between chunks of work."""
import os
import platform

import pytest

from repair.backends.memory import release


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's")
def test_release_returns_the_free_memory_inside_the_heap():
    # 3,000 blocks of 64 KB (under glibc's mmap threshold: they come from the heap), all freed but the
    # last, which keeps the heap's top in use: glibc's own trimming cannot give the rest back
    blocks = [bytearray(b"x") * 65536 for _ in range(3000)]
    last = blocks[-1]
    del blocks
    before = _rss_mb()
    assert release() is True
    after = _rss_mb()
    assert before - after > 100, (before, after)
    assert len(last) == 65536


def test_release_is_safe_to_call_repeatedly():
    first = release()
    assert release() is first  # the same answer every time, and nothing raises where glibc is absent
