from repair.text.lexicon import Lexicon, default_lexicon
from repair.text.segment import words


def test_sites_match_longest_phrase_first():
    lex = Lexicon({"information convention": ("news conference",), "information": ("news",),
                   "got here": ("came",), "convention": ("conference",)})
    text = "He got here for an information convention and information."
    sites = lex.sites(text, words(text))
    assert [(s.text, s.candidates[0]) for s in sites] == [
        ("got here", "came"), ("information convention", "news conference"), ("information", "news")]
    assert all(text[s.start:s.end] == s.text for s in sites)


def test_phrases_do_not_match_across_punctuation():
    lex = Lexicon({"got here": ("came",)})
    text = "He got, here we go."
    assert lex.sites(text, words(text)) == []


def test_shipped_lexicon_inverts_thesaurus_substitution():
    lex = default_lexicon()
    assert len(lex) > 50_000
    assert "war" in lex.candidates("struggle")
    assert "foreign" in lex.candidates("overseas")
    assert "last" in lex.candidates("Final")  # lookups are case-insensitive
