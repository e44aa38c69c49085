"""The base language model's judgement of a candidate restoration (Candidate.fluency), on the real SmolLM2."""
from __future__ import annotations

from dataclasses import replace

import pytest

from repair.restore import RERANK_FEATURES, rerank_features
from repair.restore.edits import Candidate


@pytest.fixture(scope="module")
def lm():
    from repair.backends.lm import LanguageModel

    return LanguageModel()  # the base SmolLM2 in float32


@pytest.fixture(scope="module")
def scorer(lm):
    from repair.restore.fluency import FluencyScorer

    return FluencyScorer(model=lm.model, tokenizer=lm.tokenizer, window=None)


SENTENCES = ["The Individuals held an information convention in Washington on Monday.",
             "Officials stated the navy would stay.",
             "He got here to Central Asia last week."]


def _edit(sentence: str, before: str, after: str) -> tuple[int, int, str]:
    start = sentence.index(before)
    return start, start + len(before), after


EDITS = [[_edit(SENTENCES[0], "Individuals", "Americans"), _edit(SENTENCES[0], "information convention", "news conference"),
          _edit(SENTENCES[0], "Monday", "Tuesday night")],
         [_edit(SENTENCES[1], "stated", "said"), _edit(SENTENCES[1], "navy", "military")],
         [_edit(SENTENCES[2], "got here", "came")]]


def _applied(sentence: str, edit: tuple[int, int, str]) -> str:
    start, end, after = edit
    return sentence[:start] + after + sentence[end:]


def test_gains_over_the_rest_of_the_sentence_are_the_whole_sentences_log_p_difference(lm, scorer):
    """window=None: log p(with the replacement) - log p(as written) of the whole sentence, as scoring both
    sentences in full gives it; computed on one pass's cache for all of a batch's edits."""
    gains = scorer.gains(SENTENCES, EDITS)
    for sentence, edits, got in zip(SENTENCES, EDITS, gains):
        want = [lm.totals([_applied(sentence, e)])[0] - lm.totals([sentence])[0] for e in edits]
        assert got == pytest.approx(want, abs=1e-3)
    by = {e[2]: g for es, gs in zip(EDITS, gains) for e, g in zip(es, gs)}
    # the author's words read better to a model that has only seen ordinary English
    assert by["Americans"] > 5 and by["news conference"] > 2 and by["came"] > 2 and by["said"] > 0


def test_a_window_scores_the_replacement_and_that_many_tokens_after_it(lm, scorer):
    sentence, (start, end, after) = SENTENCES[1], EDITS[1][1]  # navy -> military
    old, new = lm.score([sentence])[0], lm.score([_applied(sentence, (start, end, after))])[0]
    first = next(j for j, o in enumerate(old.offsets) if o[0] == start - 1)  # " navy": the space leads
    rejoin = next(j for j, o in enumerate(old.offsets) if o[0] >= end)
    shift = len(new.ids) - len(old.ids)
    for window in (0, 2):
        scorer.window = window
        try:
            got = scorer.gains([sentence], [[(start, end, after)]])[0][0]
        finally:
            scorer.window = None
        want = sum(new.logprobs[first:rejoin + shift + window]) - sum(old.logprobs[first:rejoin + window])
        assert got == pytest.approx(want, abs=1e-3)


def test_edits_that_split_a_token_or_delete_are_not_scored(scorer):
    sentence = SENTENCES[1]
    mid = sentence.index("navy") + 1
    gains = scorer.gains([sentence, "", sentence], [[(mid, mid + 2, "x"), _edit(sentence, "stated ", "")], [], []])
    assert gains == [[None, None], [], []]


def test_the_reranker_reads_fluency_and_whether_it_was_scored():
    c = Candidate(0, 4, "navy", "military", llr=1.0, share=-1.0, pointed=0.9, lexicon=True)
    names = ("fluency", "no_fluency")
    assert rerank_features(c, names) == [0.0, 1.0]
    assert rerank_features(replace(c, fluency=3.5), names) == [3.5, 0.0]
    assert rerank_features(replace(c, fluency=-80.0), names) == [-20.0, 0.0]  # bounded
    assert set(names) <= set(RERANK_FEATURES)


def test_each_candidate_knows_how_far_it_leads_the_rivals_that_overlap_it():
    """``with_leads``: llr and fluency against the best other candidate over any of the same characters;
    None without a rival (or one the base model scored), which the reranker reads as its own feature."""
    from repair.restore.edits import with_leads

    c = lambda start, end, after, llr, fluency=None: Candidate(start, end, "x", after, llr, 0.0, 0.9, False,
                                                              fluency=fluency)
    a, b, d, far = with_leads([c(0, 5, "a", 1.0, 2.0), c(0, 5, "b", 3.0), c(3, 9, "d", 0.5, -1.0),
                               c(20, 25, "far", 0.5, 4.0)])
    assert (a.llr_lead, a.fluency_lead) == (-2.0, 3.0)  # b out-scores it on llr; d is the only scored rival
    assert (b.llr_lead, b.fluency_lead) == (2.0, None)  # not scored itself
    assert (d.llr_lead, d.fluency_lead) == (-2.5, -3.0)  # overlaps a and b, not far
    assert (far.llr_lead, far.fluency_lead) == (None, None)
    names = ("llr_lead", "no_rival", "fluency_lead", "no_fluency_rival")
    assert rerank_features(a, names) == [-2.0, 0.0, 3.0, 0.0]
    assert rerank_features(far, names) == [0.0, 1.0, 0.0, 1.0]  # scored, but no scored rival
    assert rerank_features(b, names) == [2.0, 0.0, 0.0, 0.0]
    assert set(names) <= set(RERANK_FEATURES)
    # a run of spun words: each candidate sees the best evidence of those one space away
    x, y, z = with_leads([c(0, 5, "x", 1.0, 2.0), c(6, 9, "y", -1.0), c(6, 9, "z", 2.5, -4.0)])
    assert (x.neighbour_llr, x.neighbour_fluency) == (2.5, -4.0)
    assert (y.neighbour_llr, y.neighbour_fluency) == (1.0, 2.0) == (z.neighbour_llr, z.neighbour_fluency)
    assert (a.neighbour_llr, far.neighbour_llr) == (None, None)  # d overlaps a, it does not touch it
    assert rerank_features(x, ("neighbour_llr", "no_neighbour", "neighbour_fluency")) == [2.5, 0.0, -4.0]
    assert rerank_features(far, ("neighbour_llr", "no_neighbour", "neighbour_fluency")) == [0.0, 1.0, 0.0]


def test_the_decoder_scores_its_candidates_only_when_asked(repairer, lm):
    from repair.restore.fluency import FluencyScorer

    decoder = repairer.restorer
    sentences = SENTENCES[:2]
    saved = decoder.fluency_window, decoder._fluency
    try:
        decoder.fluency_window = None
        plain = decoder.candidates_many(sentences)
        decoder.fluency_window, decoder._fluency = 4, FluencyScorer(model=lm.model, tokenizer=lm.tokenizer)
        scored = decoder.candidates_many(sentences)
        # another window than the weights were tuned with is another system, and its signature says so
        decoder.fluency_window = decoder._tuned_fluency
        assert "-fluency" not in decoder.name
        decoder.fluency_window = 7
        assert "-fluency7" in decoder.name
    finally:
        decoder.fluency_window, decoder._fluency = saved
    assert sum(map(len, plain)) >= 2
    assert all(c.fluency is None for cs in plain for c in cs)
    # the same candidates, each with the base model's gain where its replacement is on token boundaries
    assert [[(c.start, c.end, c.after, c.llr) for c in cs] for cs in scored] == \
           [[(c.start, c.end, c.after, c.llr) for c in cs] for cs in plain]
    assert any(c.fluency is not None for cs in scored for c in cs)


def test_the_screen_lets_the_base_model_score_only_candidates_with_a_chance(repairer, lm):
    """fluency_screen: a reranker that does not read fluency, and its floor; candidates below it stay unscored
    (no_fluency), in the decoder and in tune_restorer's replay of a decode scored in full alike."""
    from repair.restore.fluency import FluencyScorer
    from repair.train.tune_restorer import screened

    decoder = repairer.restorer
    saved = decoder.fluency_window, decoder._fluency, decoder.fluency_screen
    try:
        decoder.fluency_window, decoder._fluency = 4, FluencyScorer(model=lm.model, tokenizer=lm.tokenizer)
        decoder.fluency_screen = None
        full = decoder.candidates_many(SENTENCES)
        llrs = sorted(c.llr for cs in full for c in cs)
        m = llrs[len(llrs) // 2]
        screen = {"features": ["bias", "llr"], "weights": [-m, 1.0], "floor": 0.5}  # llr >= the median
        decoder.fluency_screen = screen
        scr = decoder.candidates_many(SENTENCES)
    finally:
        decoder.fluency_window, decoder._fluency, decoder.fluency_screen = saved
    flat = [c for cs in scr for c in cs]
    assert any(c.llr >= m for c in flat) and any(c.llr < m for c in flat)
    assert all((c.fluency is None) == (c.llr < m or f.fluency is None)
               for cs, fs in zip(scr, full) for c, f in zip(cs, fs))
    replay = screened([({}, 1.0, cs) for cs in full], screen)
    replayed = [c.fluency for _, _, cs in replay for c in cs]
    assert [f is None for f in replayed] == [c.fluency is None for c in flat]
    assert [f for f in replayed if f is not None] == pytest.approx([c.fluency for c in flat if c.fluency is not None],
                                                                   abs=1e-3)
