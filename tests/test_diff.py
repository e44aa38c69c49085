import json

import pytest

from repair.doc import Edit, Result, Sentence, Signature, Span
from repair.render import render

TEXT = "Blinken got here to Astana.\n\nOfficials held an information convention. All calm."


def at(sub):
    return TEXT.index(sub), TEXT.index(sub) + len(sub)


@pytest.fixture
def result():
    (a, b), (c, d), (e, f) = at("Blinken got here to Astana."), at("Officials held an information convention."), at("All calm.")
    (g, h), (i, j) = at("got here"), at("information convention")
    s = [Sentence(a, b, TEXT[a:b], 0.97, True, [Span(g, h, 0.97, "got here")]),
         Sentence(c, d, TEXT[c:d], 0.88, True, [Span(i, j, 0.88, "information convention")], own_score=0.61),
         Sentence(e, f, TEXT[e:f], 0.02, False, [])]
    edits = [Edit(g, h, "got here", "came", 0.93), Edit(i, j, "information convention", "news conference", 0.81)]
    fixed = "Blinken came to Astana.\n\nOfficials held an news conference. All calm."
    return Result(TEXT, fixed, s, edits, Signature("d", "r", 0.5, "0"))


def test_fixture_is_consistent(result):
    assert [TEXT[e.start:e.end] for e in result.edits] == ["got here", "information convention"]


def test_terminal_marks_deletions_insertions_and_scores(result):
    out = render(result, "terminal", color=True)
    assert "\x1b[9;31mgot here" in out and "\x1b[1;32mcame" in out  # red strike-through, green insertion
    plain = render(result, "terminal", color=False)
    assert "[0.97] Blinken got herecame to Astana." in plain
    assert "\n\n[0.88] Officials" in plain  # paragraph break kept
    assert "2 edits" in plain


def test_score_colour_follows_the_flag_not_a_fixed_cut():
    """A sentence scoring 0.88 under a 0.9 threshold is not shown as flagged (yellow, not red)."""
    text = "One. Two. Three."
    s = [Sentence(0, 4, "One.", 0.95, True, []), Sentence(5, 9, "Two.", 0.88, False, []),
         Sentence(10, 16, "Three.", 0.1, False, [])]
    out = render(Result(text, text, s, [], Signature("d", "r", 0.9, "0")), "terminal", color=True)
    assert "\x1b[1;31m[0.95]" in out and "\x1b[33m[0.88]" in out and "\x1b[32m[0.10]" in out


def test_side_by_side_shows_both_versions(result):
    out = render(result, "side-by-side", color=False, width=140)
    assert "got here" in out and "came" in out and "news conference" in out and "original" in out


def test_html_is_self_contained_with_heat_and_hover(result):
    page = render(result, "html")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page
    assert "<del>got here</del><ins>came</ins>" in page
    assert 'title="got here → came (confidence 0.93)"' in page
    assert "rgba(220,40,40,0.436)" in page  # heat of the 0.97 sentence
    assert 'title="spin score 0.97 (flagged)"' in page  # no context: one score
    assert 'title="spin score 0.88; 0.61 on its own words (flagged)"' in page  # its article raised it
    assert "\n\n" in page


def test_html_escapes_markup():
    text = "<b>x</b> & y"
    r = Result(text, text, [Sentence(0, len(text), text, 0.1, False, [])], [], Signature("d", "r", 0.5, "0"))
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in render(r, "html")


def test_json_and_unified(result):
    assert json.loads(render(result, "json"))["edits"][1]["after"] == "news conference"
    diff = render(result, "unified")
    assert "--- original" in diff and "+++ restored" in diff
    assert "-Blinken got here to Astana.\n" in diff and "+Blinken came to Astana.\n" in diff


def test_unknown_format(result):
    with pytest.raises(ValueError, match="unknown format"):
        render(result, "pdf")


def test_control_sequences_in_the_text_are_shown_not_obeyed():
    """Hardening: a scraped page's escape sequences (window title, clear screen, bidi override) reach
    the terminal written out, never interpreted; the JSON keeps the text as it is."""
    text = "Blinken \x1b]0;pwned\x07got here.\nAll \x1b[2J calm \u202eno."
    a, b, nl = text.index("got"), text.index("got") + 8, text.index("\n")
    sents = [Sentence(0, nl, text[:nl], 0.9, True, [Span(a, b, 0.9, "got here")]),
             Sentence(nl + 1, len(text), text[nl + 1:], 0.1, False)]
    result = Result(text, text.replace("got here", "came"), sents, [Edit(a, b, "got here", "came", 0.9)],
                    Signature("d", "r", 0.5, "0"))
    for view in ("terminal", "side-by-side"):
        out = render(result, view, color=False, width=200)
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out, view
        assert "\\x1b]0;pwned\\x07" in out and "\\x1b[2J" in out and "\\u202e" in out, view
    colored = render(result, "terminal", color=True)
    assert "\x1b]0" not in colored and "\x1b[2J" not in colored  # only the view's own colour codes
    assert json.loads(render(result, "json"))["text"] == result.text
