"""Every default and limit of `repair`, once, and the rules that turn a component's operating point
(``operating_point`` in its ``repair.json``, chosen on held-out data) and a caller's overrides into
the numbers a run uses."""
from __future__ import annotations

# -- limits -------------------------------------------------------------------------------------
MAX_BYTES = 10 * 1024 * 1024  # the largest file the CLI reads (a news article is ~10 KB; 10 MB is a book)
MAX_CHARS = MAX_BYTES  # the longest document the library and `repair batch` take: any file within MAX_BYTES fits
# the longest sentence: a longer one (text without full stops) is cut into pieces of at most this many
# characters, so that the work per sentence is bounded; the detector scores a piece longer than its
# token limit in windows (news sentences are far shorter: devbench's longest has 360). The restorer's work
# per piece grows faster than its length (its branches re-read the piece): 500 rather than 1,000 fixed
# 20 KB without full stops in 52 s instead of 87 s (same edits within 2), and real sentences stay whole
MAX_SENTENCE_CHARS = 500
# the restorer is given this many sentences at a time (their candidates are held together; candidates
# do not depend on batching, their scores only to rounding), so a long text's memory stays bounded
RESTORE_CHUNK = 256
# a text of more sentences than this is detected with glibc's large blocks mapped apart from its heap
# (repair.backends.memory.small_blocks_mapped): its report outlives many batches, and freed batches
# interleaved with it kept a 10 MB check 14-19% above a 1 MB one (8% mapped), at ~30% more detection
# time (docs/bench-long.md, docs/history.md), which ordinary documents and batch records do not pay
MAPPED_ABOVE = 1024

# -- defaults for components that ship no operating point of their own -------------------------
DEFAULT_THRESHOLD = 0.5  # flag a sentence scoring at least this (v0, a caller's own detector)
DEFAULT_MIN_CONFIDENCE = 0.85  # withhold edits less confident than this (v0, a caller's own restorer)

# -- numbers ------------------------------------------------------------------------------------
# the number format of the restorer's language model: "auto" (bfloat16 where the hardware computes it
# natively, else float32; see repair.backends.hf.float_dtype), "fp32" or "bf16"; the environment
# variable REPAIR_PRECISION overrides it, Repairer(precision=...) overrides both
PRECISION = "auto"
PRECISIONS = ("auto", "fp32", "bf16")

# -- batch jobs -------------------------------------------------------------------------------
CHUNK_SIZE = 256  # documents per resumable unit of work
TRIAGE_SCORE = 0.2  # with --triage: documents whose first sentences score below this are cleared


def flag_threshold(given: float | None, detector) -> float:
    """The sentence score at which a sentence is flagged: ``given``, else the detector's own, else
    :data:`DEFAULT_THRESHOLD`."""
    if given is not None:
        return given
    return detector.threshold or DEFAULT_THRESHOLD


def edit_confidence(given: float | None, restorer) -> float:
    """The minimum confidence of an edit: ``given``, else the restorer's tuned one, else
    :data:`DEFAULT_MIN_CONFIDENCE`."""
    if given is not None:
        return given
    return DEFAULT_MIN_CONFIDENCE if restorer.min_confidence is None else restorer.min_confidence


def restore_floor(given: float | None, restorer, threshold: float) -> float:
    """Sentences scoring at least this are restored: ``given``, else the restorer's tuned one, else the
    flagging ``threshold`` (a flagged sentence is always restored: the caller takes the lower of the two)."""
    if given is not None:
        return given
    return threshold if restorer.restore_threshold is None else restorer.restore_threshold


def precision(given: str | None) -> str:
    """The restorer's number format: ``given``, else ``$REPAIR_PRECISION``, else :data:`PRECISION`."""
    import os

    chosen = given or os.environ.get("REPAIR_PRECISION") or PRECISION
    if chosen not in PRECISIONS:
        raise ValueError(f"unknown precision {chosen!r} ({', '.join(PRECISIONS)})")
    return chosen
