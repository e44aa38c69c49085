"""The synthetic spinner, on hand-written dictionaries (the real spinner file is never in the repo)."""
import json

import pytest
from typer.testing import CliRunner

from repair.cli import app
from repair.text.spinner import Spinner, Thesaurus
from tests.conftest import needs_shared

TEXT = 'Blinken came to Astana a year after the war began. "The war came home," he said. Four Americans came.'


def thesaurus(tmp_path):
    p = tmp_path / "mine.dat"
    p.write_text("came|got here\nwar|struggle\nyear|12 months\nnews conference|information convention\n"
                 "americans|individuals\nafter the war|following the struggle\n")
    return Thesaurus.load(p)


def test_phrase_longest_first_case_quotes_numerals_and_offsets(tmp_path):
    spun = Spinner(thesaurus(tmp_path), rate=1.0).spin(TEXT)
    assert spun.spun == ('Blinken got here to Astana a 12 months following the struggle began. '
                         '"The war came home," he said. 4 Individuals got here.')
    assert [(e.original, e.spun) for e in spun.edits] == [
        ("came", "got here"), ("year", "12 months"), ("after the war", "following the struggle"),
        ("Four", "4"), ("Americans", "Individuals"), ("came", "got here")]
    for e in spun.edits:
        assert spun.spun[e.start:e.end] == e.spun


def test_rate_zero_is_identity_and_seed_is_deterministic(tmp_path):
    th = thesaurus(tmp_path)
    assert Spinner(th, rate=0.0).spin(TEXT).spun == TEXT
    a = Spinner(th, rate=0.5, seed=7).spin(TEXT * 5).spun
    assert a == Spinner(th, rate=0.5, seed=7).spin(TEXT * 5).spun
    assert Spinner(th, rate=1.0, protect_quotes=False).spin(TEXT).spun.count("struggle") == 2


def test_kept_words_are_never_replaced(tmp_path):
    """A spinner that leaves function words alone: a match made only of kept words stays as written,
    a phrase with one word outside the kept set is still replaced."""
    p = tmp_path / "mine.dat"
    p.write_text("the|this\nin|within\nin the|inside the\nwar|struggle\n")
    spun = Spinner(Thesaurus.load(p), rate=1.0, keep=frozenset({"the", "in"})).spin("In the war the army fought.")
    assert spun.spun == "In the struggle the army fought."
    assert [(e.original, e.spun) for e in spun.edits] == [("war", "struggle")]
    assert Spinner(Thesaurus.load(p), rate=1.0).spin("In the war.").spun == "Inside the struggle."


def test_formats_moby_mythes_ppdb(tmp_path):
    (tmp_path / "moby.txt").write_text("war,struggle,conflict\n", encoding="latin-1")
    (tmp_path / "th_en.dat").write_text("UTF-8\nwar|1\n(noun)|warfare|conflict (generic term)|peace (antonym)\n")
    (tmp_path / "pairs.tsv").write_text("war\tconflict\n")
    assert Thesaurus.load(tmp_path / "moby.txt", "moby").entries["war"] == ["struggle", "conflict"]
    assert Thesaurus.load(tmp_path / "th_en.dat").entries["war"] == ["warfare", "conflict"]
    assert Thesaurus.load(tmp_path / "pairs.tsv").entries["war"] == ["conflict"]


def test_spin_command_json(tmp_path):
    src = tmp_path / "a.txt"
    src.write_text("Blinken came to Astana.\n")
    res = CliRunner().invoke(app, ["spin", str(src), "-d", str(tmp_path / "x.dat"), "--rate", "1"])
    assert res.exit_code == 2 and "cannot read thesaurus" in res.output
    thesaurus(tmp_path)
    res = CliRunner().invoke(app, ["spin", str(src), "-d", str(tmp_path / "mine.dat"), "--rate", "1", "-f", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["spun"] == "Blinken got here to Astana.\n"
    assert d["edits"] == [{"start": 8, "end": 16, "original": "came", "spun": "got here"}]


@pytest.mark.shared
def test_real_thesauri_load():
    th = needs_shared("data", "thesauri")
    wordnet = Thesaurus.load(th / "wordnet-3.0.tar.zst")
    assert "warfare" in wordnet.entries["war"]
    moby = Thesaurus.load(th / "moby_mthesaur.txt.zst")
    assert len(moby) > 25_000
