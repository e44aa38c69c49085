import json

import pytest

from repair.doc import Edit, Report, Result, Sentence, Signature, Span, apply_edits, document_score, worst_mean
from repair.render import render

SIG = Signature("det", "res", 0.5, "0")


def test_apply_edits_replaces_exact_spans():
    text = "Blinken got here to the information convention."
    edits = [Edit(8, 16, "got here", "came", 0.9), Edit(24, 46, "information convention", "news conference", 0.8)]
    assert apply_edits(text, edits) == "Blinken came to the news conference."
    assert apply_edits(text, []) == text


def test_apply_edits_rejects_mismatch_and_overlap():
    with pytest.raises(ValueError):
        apply_edits("abc", [Edit(0, 1, "x", "y", 1.0)])
    with pytest.raises(ValueError):
        apply_edits("abcdef", [Edit(0, 3, "abc", "x", 1.0), Edit(2, 4, "cd", "y", 1.0)])


def test_document_score_pools_sentence_log_odds():
    assert document_score([]) == 0.0
    assert document_score([0.6]) == pytest.approx(0.6)
    assert document_score([0.9, 0.1]) == pytest.approx(0.5)  # equal evidence either way
    assert document_score([0.8, 0.8, 0.5]) == pytest.approx(1 / (1 + (1 / 4) ** (2 / 3)))


def test_document_score_does_not_grow_with_length():
    one_odd = [0.99] + [0.05] * 30
    assert document_score(one_odd) < 0.1 < worst_mean(one_odd)
    assert document_score([0.05] * 300 + [0.99] * 3) < document_score([0.05] * 30 + [0.99] * 3)
    assert document_score([0.9] * 20 + [0.2] * 5) > 0.8
    assert document_score([1.0] * 3 + [0.0] * 3) == pytest.approx(0.5)  # certainty is clamped, never decisive


def test_worst_mean_is_the_mean_of_the_highest_scores():
    assert worst_mean([]) == 0.0
    assert worst_mean([0.9, 0.1, 0.8, 0.7, 0.0]) == pytest.approx(0.8)


def test_json_shape_matches_the_documented_contract():
    text = "He got here. Fine."
    s = [Sentence(0, 12, "He got here.", 0.97, True, [Span(3, 11, 0.97, "got here")]),
         Sentence(13, 18, "Fine.", 0.01, False, [])]
    res = Result(text, "He came. Fine.", s, [Edit(3, 11, "got here", "came", 0.93)], SIG)
    d = json.loads(render(res, "json"))
    assert set(d) == {"text", "score", "sentences", "edits", "signature"}
    assert d["signature"] == str(SIG) and d["score"] == pytest.approx(res.score, abs=1e-4)
    assert d["text"] == "He came. Fine."
    assert d["edits"] == [{"start": 3, "end": 11, "before": "got here", "after": "came", "confidence": 0.93}]
    assert {"start", "end", "score", "flagged"} <= set(d["sentences"][0])
    rep = Report(text, s, SIG)
    assert json.loads(render(rep, "json"))["text"] == text and rep.edits == [] and rep.original == text
    assert str(SIG) == "repair:0|detector:det|restorer:res|threshold:0.5"


def test_context_scores_give_each_sentence_its_documents_score_or_none_alone():
    from repair.doc import context_scores, document_score

    assert context_scores([]) == [] and context_scores([0.9]) == [None]
    assert context_scores([0.9, 0.2, 0.7]) == [document_score([0.9, 0.2, 0.7])] * 3
