"""make_data (scripts/make_data.py) on a tiny corpus: cleaning, labels, article-level split, determinism."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from repair.text.segment import words

from .conftest import load_script

ROOT = Path(__file__).resolve().parents[1]


make_data = load_script("make_data")

ARTICLE = """By JANE DOE and JOHN ROE
The president came to the summit on Monday and met four foreign ministers.
Follow Jane on Twitter @janedoe
READ MORE AT OUR WEBSITE
Officials said the war had hurt trade, and the news conference ran long.
BLITZER: Welcome back to the program."""


@pytest.fixture()
def corpus(tmp_path):
    path = tmp_path / "corpus.jsonl"
    with path.open("w") as f:
        for i in range(40):
            f.write(json.dumps({"id": f"art{i}", "text": ARTICLE.replace("Monday", f"day {i}").replace("ran long", f"ran {i} hours long")}) + "\n")
    th = tmp_path / "thesauri"
    th.mkdir()
    (th / "spinner_treasures_en.dat").write_text("came|got here\nwar|struggle\nnews conference|information convention\n"
                                                 "foreign|overseas\nhurt|damage\n")
    return path, th


def _run(corpus, out, **kw):
    path, th = corpus
    argv = ["--corpus", str(path), "--thesauri", str(th), "--out", str(out), "--spinners", "treasures",
            "--val-frac", "0.25", "--shard-size", "15", "--quiet"]
    for k, v in kw.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return make_data.main(argv)


def _records(out: Path):
    rows = []
    for shard in sorted(out.glob("*.jsonl.gz")):
        with gzip.open(shard, "rt") as f:
            rows += [(shard.name.split("-")[0], json.loads(l)) for l in f]
    return rows


def test_boilerplate_is_removed():
    kept = make_data.clean_lines(ARTICLE)
    assert kept == ["The president came to the summit on Monday and met four foreign ministers.",
                    "Officials said the war had hurt trade, and the news conference ran long."]


def test_shards_labels_split_and_determinism(corpus, tmp_path):
    manifest = _run(corpus, tmp_path / "a", clean_frac=0.3, rate="1.0,1.0")
    rows = _records(tmp_path / "a")
    stats = manifest["stats"]
    # two sentences per article survive cleaning; identical sentences differ only by the day number
    assert stats["articles"] == 40 and stats["sentences"] == 80 == len(rows)
    assert stats["train"] + stats["val"] == 80 and stats["val"] > 0
    by_article = {}
    for split, r in rows:
        by_article.setdefault(r["article"], set()).add(split)
        assert len(r["labels"]) == len(words(r["spun"]))
        for e in r["edits"]:
            assert r["spun"][e["start"]:e["end"]] == e["spun"]
        labelled = [t.text for t, y in zip(words(r["spun"]), r["labels"]) if y]
        assert labelled == [w for e in r["edits"] for w in e["spun"].split()]
        if r["spinner"] == "none":
            assert r["spun"] == r["original"] and not r["edits"]
    assert all(len(s) == 1 for s in by_article.values()), "an article must not straddle train and val"
    spun = [r for _, r in rows if r["spinner"] == "treasures"]
    assert spun and any(e["spun"] == "information convention" for r in spun for e in r["edits"])
    assert 0 < sum(r["spinner"] == "none" for _, r in rows) < 80
    # same arguments, same bytes
    _run(corpus, tmp_path / "b", clean_frac=0.3, rate="1.0,1.0")
    for shard in (tmp_path / "a").glob("*.jsonl.gz"):
        assert shard.read_bytes() == (tmp_path / "b" / shard.name).read_bytes()
    assert not list((tmp_path / "a").glob(".*tmp")), "no temporary shard may be left behind"


def test_a_log_uniform_rate_makes_light_spinning_as_common_as_heavy(corpus, tmp_path):
    """--rate-scale log draws each article's rate log-uniformly within --rate: half the spun articles
    fall below the range's geometric mean (here 0.19), where a uniform draw puts a sixth."""
    import statistics

    _run(corpus, tmp_path / "log", clean_frac=0.3, rate="0.04,0.95", rate_scale="log")
    rates = {r["article"]: r["rate"] for _, r in _records(tmp_path / "log") if r["spinner"] != "none"}
    assert len(rates) > 15 and all(0.04 <= x <= 0.95 for x in rates.values())
    assert statistics.median(rates.values()) < 0.35


def test_keep_common_leaves_frequent_words_alone_and_changes_nothing_when_off(corpus, tmp_path):
    """--keep-common K,...: each spun article's spinner leaves the K most frequent English words alone
    (here "the", "and" are heads of the dictionary); without the option the output is what it was."""
    path, th = corpus
    (th / "spinner_treasures_en.dat").write_text("came|got here\nwar|struggle\nthe|this\nand|plus\n")
    _run(corpus, tmp_path / "off", clean_frac=0.0, rate="1.0,1.0")
    _run(corpus, tmp_path / "zero", clean_frac=0.0, rate="1.0,1.0", keep_common="0")
    for shard in (tmp_path / "off").glob("*.jsonl.gz"):
        assert shard.read_bytes() == (tmp_path / "zero" / shard.name).read_bytes()
    off = [e["original"].lower() for _, r in _records(tmp_path / "off") for e in r["edits"]]
    assert "the" in off and "and" in off
    _run(corpus, tmp_path / "kept", clean_frac=0.0, rate="1.0,1.0", keep_common="100")
    kept = [e["original"].lower() for _, r in _records(tmp_path / "kept") for e in r["edits"]]
    assert "the" not in kept and "and" not in kept and "war" in kept and "came" in kept
    _run(corpus, tmp_path / "mixed", clean_frac=0.0, rate="1.0,1.0", keep_common="0,100")
    per_article = {}
    for _, r in _records(tmp_path / "mixed"):
        per_article.setdefault(r["article"], set()).update(e["original"].lower() for e in r["edits"])
    assert 0 < sum("the" in s for s in per_article.values()) < len(per_article)
