"""repair.train.funnel: each gold edit ends at the first stage of the fix that loses it."""
from repair.train.funnel import report, stage

GOLD = (10, 17, "came")


def test_a_gold_edit_ends_at_the_first_stage_that_loses_it():
    rival = ((10, 17, "arrived"), 0.6, "model")
    gold = (GOLD, 0.5, "corrector")
    elsewhere = ((30, 35, "said"), 0.9, "model")
    assert stage(GOLD, False, [gold], {GOLD}, 0.25) == "lost: sentence not restored"
    assert stage(GOLD, True, [elsewhere], set(), 0.25) == "lost: no candidate is gold (none there)"
    assert stage(GOLD, True, [rival, elsewhere], set(), 0.25) == "lost: no candidate is gold (others there)"
    assert stage(GOLD, True, [gold, rival], set(), 0.55) == "lost: gold below min confidence"
    assert stage(GOLD, True, [gold, rival], set(), 0.25) == "lost: a rival won"
    assert stage(GOLD, True, [gold], set(), 0.25) == "lost: dropped"
    assert stage(GOLD, True, [gold, rival], {GOLD}, 0.25) == "restored"
    # the gold edit's best candidate counts: a second, weaker copy of it does not lose it
    assert stage(GOLD, True, [(GOLD, 0.1, "lexicon"), gold], {GOLD}, 0.25) == "restored"


def test_the_report_gives_precision_recall_and_every_stage_per_spinner():
    out = {"moby": {"gold": 4, "system": 2, "tp": 1, "restored": 1, "lost: sentence not restored": 3}}
    lines = report(out)
    assert lines[1] == "moby: 4 gold edits, 2 system edits: P 0.500 R 0.250 F0.5 0.417"
    assert any(line.split()[-2:] == ["3", "0.750"] and "not restored" in line for line in lines)
