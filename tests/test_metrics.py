"""Metrics against values computed by hand."""
import math

import pytest

from repair.metrics import (Counts, canonical, damage_per_1000, edit_counts, roc_auc, token_counts,
                            word_edit_distance, word_error_reduction)

SPUN = "He got here for an information convention and huge queues."
#       0123456789...
GOT = (3, 11)            # "got here"
INFO = (19, 30)          # "information"
CONV = (31, 41)          # "convention"
HUGE = (46, 50)          # "huge"


def test_offsets_in_this_file_are_right():
    assert SPUN[slice(*GOT)] == "got here" and SPUN[slice(*INFO)] == "information"
    assert SPUN[slice(*CONV)] == "convention" and SPUN[slice(*HUGE)] == "huge"


def test_canonical_trims_context_and_merges_adjacent_edits():
    gold = [(42, 50, "and large")]  # "and huge" -> "and large", as a phrase spinner records it
    assert canonical(gold, SPUN) == {(46, 50, "large")}
    split = [(INFO[0], INFO[1], "news"), (CONV[0], CONV[1], "Conference")]
    assert canonical(split, SPUN) == {(19, 41, "news conference")}


def test_edit_scores_full_half_and_over_correction():
    gold = [(*GOT, "came"), (INFO[0], CONV[1], "news conference"), (42, 50, "and large")]
    # one exact (case differs), one half-right phrase edit, one over-correction of a clean word
    system = [(*GOT, "Came"), (CONV[0], CONV[1], "conference"), (51, 57, "lines")]
    c = edit_counts(system, gold, SPUN)
    assert (c.tp, c.fp, c.fn) == (1, 2, 2)
    assert c.precision == pytest.approx(1 / 3) and c.recall == pytest.approx(1 / 3)
    assert c.f(0.5) == pytest.approx(1 / 3)
    c = edit_counts([(*GOT, "came"), (*HUGE, "large")], gold, SPUN)
    assert (c.tp, c.fp, c.fn) == (2, 0, 1)
    # F0.5 = 1.25 * P * R / (0.25 * P + R) with P = 1, R = 2/3  ->  1.25 * (2/3) / (0.25 + 2/3) = 10/11
    assert c.f(0.5) == pytest.approx(10 / 11)


def test_counts_edge_cases():
    assert Counts().precision == 1.0 and Counts().recall == 1.0
    assert Counts(0, 1, 1).f(0.5) == 0.0


def test_word_error_reduction_and_damage():
    orig = ["the war began last year", "a clean sentence here"]
    spun = ["the struggle started final 12 months", "a clean sentence here"]
    assert word_edit_distance(spun[0], orig[0]) == 5  # 4 substitutions + 1 insertion
    out = ["the war started last 12 months", "a clean sentence here"]
    assert word_edit_distance(out[0], orig[0]) == 3
    assert word_error_reduction(out, spun, orig) == pytest.approx(1 - 3 / 5)
    assert word_error_reduction(spun, spun, orig) == 0.0
    # one word changed in 8 clean words = 125 per 1,000
    assert damage_per_1000(["a clean sentence there", "all quiet now ok"],
                           ["a clean sentence here", "all quiet now ok"]) == pytest.approx(125.0)


def test_roc_auc_by_hand():
    assert roc_auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert roc_auc([0.1], [0.9]) == 0.0
    # pairs: (0.8>0.5) (0.8>0.3) (0.5=0.5 half) (0.5>0.3) -> 3.5 / 4
    assert roc_auc([0.8, 0.5], [0.5, 0.3]) == pytest.approx(0.875)
    assert math.isnan(roc_auc([], [0.1]))


def test_token_counts():
    tokens = [(0, 2), (3, 6), (7, 11), (12, 15)]
    c = token_counts(pred_spans=[(3, 11)], gold_spans=[(7, 15)], tokens=tokens)
    assert (c.tp, c.fp, c.fn) == (1, 1, 1)


def test_eval_update_keeps_rows_of_the_same_benchmark_with_their_own_settings():
    from repair.train.evaluate import old_results

    page = "repair:0.1.0|bench:devbench.jsonl|per-spinner:50|seed:13"
    rows = {"v0": {"system": "v0", "settings": "threshold:0.5|min-confidence:0.1"}}
    assert old_results({"signature": page, "results": rows}, page) == rows
    # a page from before the settings went to the rows: its signature's settings were the default system's
    legacy = {"signature": page + "|threshold:0.82|min-confidence:0.25",
              "results": {"default": {"system": "d"}, "v0": {"system": "v0"}}}
    kept = old_results(legacy, page)
    assert kept["default"]["settings"] == "threshold:0.82|min-confidence:0.25"
    assert kept["v0"]["settings"] == "unrecorded"
    # another benchmark, sample size or seed: nothing is kept
    assert old_results(legacy, page.replace("per-spinner:50", "per-spinner:150")) is None
    assert old_results({"signature": page.replace("seed:13", "seed:1"), "results": rows}, page) is None
