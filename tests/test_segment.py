from repair.text.protect import protected
from repair.text.segment import default_segmenter, words


def sents(text):
    return [text[s:e] for s, e in default_segmenter().sentences(text)]


def test_abbreviations_and_initials_do_not_end_sentences():
    text = ("Mr. Blinken met Vladimir V. Putin's critics. U.S. officials said the talks in Washington, D.C. "
            "went well. Gen. Milley agreed.")
    assert sents(text) == [
        "Mr. Blinken met Vladimir V. Putin's critics.",
        "U.S. officials said the talks in Washington, D.C. went well.",
        "Gen. Milley agreed.",
    ]


def test_offsets_are_exact_and_quotes_and_dashes_kept():
    text = "  “We came,” he said — and left.  ‘Fine.’ She smiled... \"Really?\" Yes!"
    spans = default_segmenter().sentences(text)
    for s, e in spans:
        assert text[s:e] == text[s:e].strip() and text[s:e]
    assert [text[s:e] for s, e in spans][0].startswith("“We came,” he said — and left.")
    assert "".join(text[s:e] for s, e in spans).replace(" ", "") == text.replace(" ", "")


def test_line_breaks_are_hard_boundaries():
    text = "A headline without a period\nThe first sentence. The second\r\nsentence ends here.\n\nNew paragraph."
    out = sents(text)
    assert out == ["A headline without a period", "The first sentence.", "The second",
                   "sentence ends here.", "New paragraph."]
    assert all("\n" not in s and "\r" not in s for s in out)


def test_words_have_offsets_into_the_text():
    text = "The U.S.-led plan isn't new: 25 well-known firms."
    toks = words(text)
    assert [t.text for t in toks] == ["The", "U.S", "led", "plan", "isn't", "new", "25", "well-known", "firms"]
    assert all(text[t.start:t.end] == t.text for t in toks)


def test_protection_covers_names_numbers_and_quotes():
    text = 'Antony Blinken said 25 times "the struggle is real" and left.'
    toks = words(text)
    guard = dict(zip((t.text for t in toks), protected(text, toks)))
    assert guard["Antony"] and guard["Blinken"] and guard["25"]
    assert guard["struggle"] and guard["real"]  # inside quotation marks
    assert not guard["said"] and not guard["left"]
    opening = "However, Rice came."
    assert protected(opening, words(opening)) == [False, True, False]  # "However" opens; "Rice" is a name


def test_a_sentence_without_full_stops_is_cut_into_bounded_pieces():
    """Hardening: the work per sentence is bounded; every word is still in exactly one piece."""
    from repair.config import MAX_SENTENCE_CHARS

    seg = default_segmenter()
    text = "Officials said " + " ".join(f"item{i} and more" for i in range(800)) + "\n" + "x" * 2500
    spans = seg.sentences(text)
    assert all(e - s <= MAX_SENTENCE_CHARS for s, e in spans)
    assert all(text[s:e] == text[s:e].strip() and text[s:e] for s, e in spans)
    pieces = [w.text for s, e in spans for w in words(text[s:e])]
    line = text.split("\n")[0]
    assert pieces[:len(words(line))] == [w.text for w in words(line)]  # no word lost or cut at a space
    assert "".join(pieces[len(words(line)):]) == "x" * 2500  # a 2,500-character word: cut, nothing dropped
    assert seg.sentences("A short one. Another.") == [(0, 12), (13, 21)]  # ordinary text is untouched
