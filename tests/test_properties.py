"""Properties on arbitrary text (Hypothesis): offsets always point into the caller's text, and fix
never raises on any Unicode text (bar lone surrogates, which are not text: InputError)."""
from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from repair.doc import Edit, apply_edits  # noqa: E402
from repair.text.segment import default_segmenter, words  # noqa: E402

# every character but lone surrogates (line breaks, combining marks, emoji, RTL, control characters)
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=400)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_sentences_and_words_point_into_the_text(text):
    spans = default_segmenter().sentences(text)
    prev = 0
    for s, e in spans:
        assert prev <= s < e <= len(text)
        assert text[s:e] == text[s:e].strip() and "\n" not in text[s:e] and "\r" not in text[s:e]
        prev = e
    for t in words(text):
        assert text[t.start:t.end] == t.text


@settings(max_examples=200, deadline=None)
@given(TEXT, st.data())
def test_edits_at_any_words_round_trip(text, data):
    toks = words(text)
    chosen = sorted(data.draw(st.sets(st.sampled_from(range(len(toks))), max_size=5)) if toks else [])
    edits = [Edit(toks[k].start, toks[k].end, toks[k].text, data.draw(st.text(max_size=8)), 0.5) for k in chosen]
    out = apply_edits(text, edits)
    # undoing the edits from the end gives the text back: every offset pointed at what it names
    back, shift = out, 0
    starts = []
    for e in edits:
        starts.append(e.start + shift)
        shift += len(e.after) - (e.end - e.start)
    for e, at in sorted(zip(edits, starts), key=lambda p: -p[1]):
        assert back[at:at + len(e.after)] == e.after
        back = back[:at] + e.before + back[at + len(e.after):]
    assert back == text


@pytest.mark.model
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=240))
def test_fix_never_raises_and_keeps_its_offsets(repairer, text):
    from repair import InputError

    try:
        result = repairer.fix(text)
    except InputError:
        return  # refused with its one-line reason: allowed
    assert apply_edits(result.original, result.edits) == result.text
    for s in result.sentences:
        assert result.original[s.start:s.end] == s.text
        for p in s.spans:
            assert result.original[p.start:p.end] == p.text
