"""repair.backends.memory.release: freed memory goes back to the system between chunks of work; and
importing repair.backends bounds oneDNN's cache of compiled kernels and fixes glibc's mmap threshold."""
import os
import platform
import subprocess
import sys

import pytest

from repair.backends.memory import release, small_blocks_mapped


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
import contextlib, os, sys
from repair.backends.memory import small_blocks_mapped
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
big = bytearray(b"x") * (1 << 20); del big  # glibc's dynamic threshold would now serve 1 MB from the heap
if sys.argv[1] == "after":  # once the detector is done, mid-sized blocks come from the heap again
    with small_blocks_mapped():
        pass
with small_blocks_mapped() if sys.argv[1] == "within" else contextlib.nullcontext():
    blocks, keep = [], []
    for _ in range(300):
        blocks.append(bytearray(b"x") * (1 << 20))  # a batch's tensors
        keep.append(bytearray(b"y") * 1000)  # small and long-lived (a report's sentences), in the same heap
    before = rss(); del blocks
    print(round(before - rss()))
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="the mmap threshold is glibc's")
@pytest.mark.parametrize("when, returned_mb", [("within", (250, 400)), ("after", (0, 50)), ("without", (0, 50))])
def test_large_blocks_freed_while_detecting_go_back_to_the_system(when, returned_mb):
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    out = subprocess.run([sys.executable, "-c", HEAP, when], env=env, capture_output=True, text=True, check=True)
    low, high = returned_mb
    assert low <= int(out.stdout) <= high  # of the 300 MB freed


def test_the_threshold_set_in_the_environment_is_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    with small_blocks_mapped() as done:
        assert done is False


def test_only_a_very_long_text_is_detected_with_small_blocks_mapped(monkeypatch):
    """Its report outlives many batches; an ordinary document (or a batch of them) keeps glibc's heap,
    which is faster."""
    import repair.pipeline
    from repair import Repairer, config
    from repair.detect import SentenceEvidence

    inside = []

    class Recording:
        def __enter__(self):
            inside.append(True)

        def __exit__(self, *exc):
            inside.append(False)

    class Stub:
        name = "stub"

        def detect(self, sentences):
            return [SentenceEvidence(0.9 if inside and inside[-1] else 0.1, [], []) for _ in sentences]

    monkeypatch.setattr(repair.pipeline, "small_blocks_mapped", Recording)
    monkeypatch.setattr(config, "MAPPED_ABOVE", 3)
    r = Repairer(detector=Stub())
    three = "One ran. Two ran. Three ran."
    assert [s.own_score for s in r.check(three).sentences] == [0.1] * 3 and inside == []
    assert [s.own_score for rep in r.check_many([three, three]) for s in rep.sentences] == [0.1] * 6 and inside == []
    assert [s.own_score for s in r.check(three + " Four ran.").sentences] == [0.9] * 4
    assert inside == [True, False]


def test_groups_stay_within_their_padded_budget_in_any_order():
    """A group is padded to its longest item: that bound holds however the items come (the decoder sorts
    its paths by token count before their prefix, so a long prefix may come before short ones), and
    nothing is dropped or reordered."""
    from repair.backends.memory import bounded_groups

    lengths = [30, 10, 10, 10, 40, 5, 5, 5, 5, 5, 100, 1]
    groups = bounded_groups(lengths, 4, 60, lambda n: n)
    assert [n for g in groups for n in g] == lengths
    assert all(len(g) <= 4 and (len(g) == 1 or len(g) * max(g) <= 60) for g in groups)
    assert [30, 10] in groups and [100] in groups  # 3 x 30 would pass the budget; a lone long item its own group
