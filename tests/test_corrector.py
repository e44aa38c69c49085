"""The corrector head: its targets, its training on a tiny dataset, and the shipped weights."""
from __future__ import annotations

import random

import pytest

from .conftest import ROOT, load_script, write_shard


def test_word_targets_tag_a_spun_phrase_word_by_word():
    train = load_script("train_corrector")
    spun = "Blinken got here to the information convention on Tuesday."
    rec = {"spun": spun, "edits": [
        {"start": 8, "end": 16, "original": "came", "spun": "got here"},
        {"start": 24, "end": 46, "original": "news conference", "spun": "information convention"}]}
    targets = train.word_targets(rec, random.Random(0), keep_per_sentence=0)
    assert targets == [(1, "came"), (2, "<delete>"), (5, "news"), (6, "conference")]
    keeps = [t for t in train.word_targets(rec, random.Random(0), keep_per_sentence=2) if t[1] == "<keep>"]
    assert len(keeps) == 2 and all(k in (0, 3, 4, 7, 8) for k, _ in keeps)  # words the spinner left alone


def test_training_on_a_tiny_dataset_learns_and_exports(tmp_path):
    """Loss falls on a small shard where the same substitutions recur, and the exported head loads
    and restores one of them."""
    pytest.importorskip("torch")
    train = load_script("train_corrector")
    pairs = [("got here", "came"), ("struggle", "war"), ("overseas", "foreign"), ("navy", "military")]
    rows = []
    for i in range(120):
        spun_w, orig = pairs[i % 4]
        spun = f"The minister {spun_w} to the region on day {i}."
        rows.append({"id": f"a{i}:0", "article": f"a{i}", "spinner": "treasures", "spun": spun,
                     "edits": [{"start": 13, "end": 13 + len(spun_w), "original": orig, "spun": spun_w}]})
    data = tmp_path / "data"
    data.mkdir()
    write_shard(data / "train-00000.jsonl.gz", rows)
    write_shard(data / "val-00000.jsonl.gz", rows[:40])
    config = train.main(["--data", str(data), "--out", str(tmp_path / "run"), "--export", str(tmp_path / "export"),
                         "--epochs", "30", "--batch", "64", "--lr", "3e-3", "--min-count", "1", "--keep-per-sentence", "1"])
    losses = [h["train_loss"] for h in config["history"]]
    assert losses[-1] < 0.5 * losses[0], losses
    assert config["heldout"]["recall_given_in_vocab"]["all"]["@1"] >= 0.9

    from repair.doc import Span
    from repair.restore.corrector import CorrectorRestorer

    restorer = CorrectorRestorer(tmp_path / "export")
    text = "The minister struggle to the region on day 7."
    edits = restorer.restore(text, [Span(13, 21, 0.9, "struggle")])
    assert [(e.before, e.after) for e in edits] == [("struggle", "war")]


@pytest.fixture(scope="module")
def corrector():
    from repair.restore.corrector import CorrectorRestorer

    if not (ROOT / "models" / "corrector" / "head.safetensors").exists():
        pytest.skip("no shipped corrector in models/corrector")
    return CorrectorRestorer()
