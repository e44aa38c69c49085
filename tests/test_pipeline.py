"""The library API on the real models: the trained detector, SmolLM2 and the shipped lexicon."""
import threading

import pytest

from repair import InputError, apply_edits

from .conftest import SPUN_SEED

pytestmark = pytest.mark.model



def test_edits_round_trip_on_every_seed(seed_results):
    for name, res in seed_results.items():
        assert apply_edits(res.original, res.edits) == res.text, name
        for e in res.edits:
            assert res.original[e.start:e.end] == e.before
            assert 0.0 <= e.confidence <= 1.0
        for s in res.sentences:
            assert res.original[s.start:s.end] == s.text and 0.0 <= s.score <= 1.0
            assert "\n" not in s.text
        assert res.text.count("\n") == res.original.count("\n")  # every line break survives


def test_spun_seed_scores_above_every_clean_seed(seed_results):
    spun = seed_results[SPUN_SEED]
    frac = {k: len(r.flagged) / len(r.sentences) for k, r in seed_results.items()}
    assert frac[SPUN_SEED] >= 0.5
    assert all(frac[SPUN_SEED] > f for k, f in frac.items() if k != SPUN_SEED)
    assert all(spun.score > r.score for k, r in seed_results.items() if k != SPUN_SEED)
    assert len(spun.edits) >= 3 and not any(r.edits for k, r in seed_results.items() if k != SPUN_SEED)


def test_the_spun_seed_gets_its_tells_restored(seed_results):
    """The default restorer at its shipped point on the real spun seed: the tells issue 27 lists come back
    (struggle -> war is left out: on this seed the restorer writes fight three times and war once)."""
    edits = {(e.before.lower(), e.after.lower()) for e in seed_results[SPUN_SEED].edits}
    for pair in [("got here", "came"), ("information convention", "news conference"), ("navy", "military"),
                 ("jap", "eastern"), ("12 months", "year"), ("overseas", "foreign"), ("stated", "said"),
                 ("p.c", "percent")]:
        assert pair in edits, (pair, sorted(edits))


def test_clean_seeds_are_mostly_left_alone(seed_results):
    clean_edits = [e for k, r in seed_results.items() if k != SPUN_SEED for e in r.edits]
    clean_words = sum(len(r.original.split()) for k, r in seed_results.items() if k != SPUN_SEED)
    assert len(clean_edits) / clean_words <= 0.005, clean_edits  # at most 5 changes per 1,000 words


def test_identical_output_when_nothing_to_fix(repairer):
    text = "Mr. Blinken met the ministers in Astana on Tuesday.\r\n\r\n“We agreed,” he said.  "
    res = repairer.fix(text)
    assert res.edits == [] and res.text == text


def test_names_numbers_and_quotes_are_never_edited(repairer):
    text = 'Rice said 25 individuals "got here to struggle" before the struggle.'
    res = repairer.fix(text, threshold=0.0, min_confidence=0.0)
    protected = [(text.index("Rice"), text.index("Rice") + 4), (text.index("25"), text.index("25") + 2),
                 (text.index('"'), text.rindex('"') + 1)]
    for e in res.edits:
        assert not any(e.start < b and a < e.end for a, b in protected), e


def test_check_is_detection_only(repairer):
    text = "Officials say the struggle has pushed the area to search for different companions."
    rep = repairer.check(text)
    assert rep.text == text and rep.edits == [] and rep.sentences[0].flagged
    spans = rep.sentences[0].spans
    assert any("different" in text[s.start:s.end] for s in spans), spans
    assert all(text[s.start:s.end] == s.text and 0.5 <= s.score <= 1 for s in spans)
    assert "detector:minilm-rtd-v1" in str(rep.signature) and "restorer" not in str(rep.signature)


def test_the_default_threshold_is_the_detectors_and_a_given_one_wins(repairer):
    from repair import Repairer
    from repair.detect import SentenceEvidence

    assert repairer.threshold == repairer.detector.threshold > 0.5  # the shipped operating point
    assert f"threshold:{repairer.threshold:g}" in str(repairer.check("Short.").signature)
    assert "threshold:0.3|" in str(repairer.check("Short.", threshold=0.3).signature) + "|"  # the one used
    text = "Officials say the struggle has pushed the area to search for different companions."
    score = repairer.check(text).sentences[0].score
    assert repairer.check(text, threshold=score).sentences[0].flagged
    assert not repairer.check(text, threshold=min(1.0, score + 1e-6)).sentences[0].flagged

    class Plain:  # a caller's own detector with no operating point: flags at DEFAULT_THRESHOLD
        name = "plain"

        def detect(self, sentences):
            return [SentenceEvidence(0.6, [], []) for _ in sentences]

    assert Repairer(detector=Plain()).check(text).sentences[0].flagged
    assert not Repairer(detector=Plain(), threshold=0.7).check(text).sentences[0].flagged


def test_check_many_equals_check_one_by_one(repairer):
    texts = ["Officials say the struggle has pushed the area to search for different companions.",
             "Mr. Blinken met the ministers in Astana on Tuesday. They agreed to meet again.", "Short."]
    many = repairer.check_many(texts)
    for text, rep in zip(texts, many):
        one = repairer.check(text)
        assert [(s.start, s.end, s.flagged) for s in rep.sentences] == [(s.start, s.end, s.flagged) for s in one.sentences]
        assert [round(s.score, 4) for s in rep.sentences] == [round(s.score, 4) for s in one.sentences]


def test_v0_pipeline_is_still_available(repairer):
    v0 = repairer.__class__(detector="v0", restorer="v0", lm=repairer.lm_lexicon.lm, lexicon=repairer.lm_lexicon.lexicon)
    text = "Officials say the struggle has pushed the area to search for different companions."
    rep = v0.check(text)
    assert "detector:lm-lexicon-v0" in str(rep.signature) and rep.sentences[0].flagged
    res = v0.fix(text)
    assert "restorer:lexicon-lm-v0" in str(res.signature) and ("different", "other") in {(e.before, e.after) for e in res.edits}


def test_fix_many_equals_fix_one_by_one(repairer):
    texts = ["Officials say the struggle has pushed the area to search for different companions.",
             "Mr. Blinken met the ministers in Astana on Tuesday. They agreed to meet again.",
             "Secretary of State Antony Blinken got here to Central Asia. The Individuals pledged help."]
    for text, res in zip(texts, repairer.fix_many(texts)):
        one = repairer.fix(text)
        assert res.text == one.text and [(e.start, e.end, e.after) for e in res.edits] == \
            [(e.start, e.end, e.after) for e in one.edits]
        assert "restorer:smollm2-restorer-v1" in str(res.signature)


def test_library_rejects_huge_and_non_text(repairer):
    with pytest.raises(InputError, match="too large"):
        repairer.check("x" * (repairer.max_chars + 1))
    with pytest.raises(InputError):
        repairer.check(b"bytes")  # type: ignore[arg-type]


def test_shared_between_threads(repairer):
    text = "The struggle has pushed the area to search for different companions."
    expected = repairer.fix(text).text
    results = []
    threads = [threading.Thread(target=lambda: results.append(repairer.fix(text).text)) for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results == [expected] * 3


def test_seed_002_restorations(seed_results):
    """At the shipped operating point the restorer gets these tells of the real spun seed back, and
    makes no edit at all on the four clean seeds. Raise the bar as it improves (of issue 27's list it
    still misses Individuals -> Americans; the corrector's proposals brought back the rest)."""
    spun = seed_results[SPUN_SEED]
    edits = {(e.before.lower(), e.after.lower()) for e in spun.edits}
    assert {("12 months", "year"), ("overseas", "foreign"), ("got here", "came"), ("stated", "said")} <= edits, edits
    assert {("additionally", "also"), ("assist", "help")} <= edits, edits
    assert {("struggle", "war"), ("information convention", "news conference"), ("navy", "military"),
            ("jap", "eastern")} <= edits, edits
    assert len(spun.edits) <= 3 * len(spun.sentences), edits  # a few edits per sentence at most, not a rewrite
    assert all(not r.edits for k, r in seed_results.items() if k != SPUN_SEED)


def test_a_fix_signature_names_the_knobs_it_ran_with(repairer):
    """Two fixes at different minimum confidences are different systems: their signatures differ."""
    default = str(repairer.fix("Short.").signature)
    assert f"min-confidence:{repairer.edit_confidence:g}" in default
    assert f"restore-threshold:{min(repairer.threshold, repairer.restore_floor):g}" in default
    strict = str(repairer.fix("Short.", min_confidence=0.9, threshold=0.6).signature)
    assert "min-confidence:0.9" in strict and "threshold:0.6|" in strict and strict != default


def test_the_documents_score_weighs_in_and_must_match_the_texts(repairer):
    """Spinners spin whole articles: the same sentence's edits are more confident in a document that
    scores as spun than in one that scores as clean (the shipped reranker reads the document score);
    by default a text's own sentences give its document score."""
    text = "Blinken mentioned the US would assist the nations deal with sanctions on Russia."
    (spun,), (clean,) = (repairer.fix_many([text], min_confidence=0.0, document_scores=[s]) for s in (0.99, 0.02))
    confident = {(e.start, e.end, e.after): e.confidence for e in spun.edits}
    shared = [e for e in clean.edits if (e.start, e.end, e.after) in confident]
    assert shared and all(confident[(e.start, e.end, e.after)] > e.confidence for e in shared)
    article = text + " Officers in Washington say the struggle has pushed the area to search for different companions."
    (pooled,) = repairer.fix_many([article], min_confidence=0.0)
    given = repairer.fix_many([article], min_confidence=0.0, document_scores=[repairer.check(article).score])[0]
    assert pooled.edits and pooled.edits == given.edits
    with pytest.raises(ValueError, match="2 document scores for 1 texts"):
        repairer.fix_many([text], document_scores=[0.5, 0.5])


def test_every_sentence_a_check_flags_goes_to_the_restorer(repairer, monkeypatch):
    """Sentences are chosen for restoration by the score ``check`` shows, weighed with their document's:
    in an article that scores as spun, a sentence whose own words score below the restore floor is
    flagged and restored; in a clean one it is left alone: the restorer is not called."""
    text = "The company reported higher profits this year."
    given = []
    restore_many = repairer.restorer.restore_many
    monkeypatch.setattr(repairer.restorer, "restore_many", lambda texts, *a: given.append(list(texts)) or restore_many(texts, *a))
    spun, clean = repairer.check_many([text, text], document_scores=[0.99, 0.01])
    assert spun.sentences[0].alone < repairer.restore_floor <= spun.sentences[0].score and spun.sentences[0].flagged
    assert clean.sentences[0].score < repairer.restore_floor
    repairer.fix_many([text], document_scores=[0.99])
    repairer.fix_many([text], document_scores=[0.01])
    assert given == [[text]]


def test_library_refuses_what_is_not_text_with_one_line(repairer):
    """Hardening: a str where a list belongs is not scored character by character, and a lone
    surrogate (not text) is an InputError, not the tokenizer's TypeError."""
    with pytest.raises(InputError, match="one str"):
        repairer.check_many("Blinken got here.")
    with pytest.raises(InputError, match="lone surrogate .*U\\+D83D"):
        repairer.check("Blinken \ud83d got here.")
    with pytest.raises(InputError, match="lone surrogate"):
        repairer.fix_many(["fine", "bad \udc00"])
