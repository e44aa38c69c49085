"""repair.backends.memory.release: freed memory goes back to the system between chunks of work; and
importing repair.backends bounds oneDNN's cache of compiled kernels and fixes glibc's mmap threshold."""
import os
import platform
import subprocess
import sys

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


@pytest.mark.parametrize("given, expected", [(None, "8"), ("64", "64")])
def test_the_backends_bound_the_onednn_kernel_cache_unless_the_user_did(given, expected):
    # a fresh interpreter: the variable must be in place before torch runs its first kernel
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    if given:
        env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = given
    code = "import os, repair.pipeline; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


HEAP = r"""
import os, sys
if sys.argv[1] == "import":
    import repair.backends
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
big = bytearray(b"x") * (1 << 20); del big  # glibc's dynamic threshold would now serve 1 MB from the heap
blocks, keep = [], []
for _ in range(300):
    blocks.append(bytearray(b"x") * (1 << 20))  # a batch's tensors
    keep.append(bytearray(b"y") * 1000)  # small and long-lived (a report's sentences), in the same heap
before = rss(); del blocks
print(round(before - rss()))
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="the mmap threshold is glibc's")
def test_large_freed_blocks_go_back_to_the_system_once_the_backends_are_imported():
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}

    def returned(arg):
        out = subprocess.run([sys.executable, "-c", HEAP, arg], env=env, capture_output=True, text=True, check=True)
        return int(out.stdout)

    assert returned("import") > 250  # of the 300 MB freed
    assert returned("no") < 50  # glibc's own way: the freed blocks stay in the heap between the small ones
