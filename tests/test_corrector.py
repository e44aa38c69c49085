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


def test_hard_keep_examples_are_the_untouched_words_the_detector_suspects_most():
    train = load_script("train_corrector")
    rec = {"spun": "Blinken got here to the region on Tuesday.",
           "edits": [{"start": 8, "end": 16, "original": "came", "spun": "got here"}]}
    pointed = [0.1, 0.9, 0.8, 0.2, 0.35, 0.7, 0.05, 0.4]  # got here spun; region, on, the: untouched suspects
    targets = train.word_targets(rec, random.Random(0), 0, pointed, hard_keep=2, hard_floor=0.3)
    assert targets == [(1, "came"), (2, "<delete>"), (5, "<keep>"), (7, "<keep>")]
    # below the floor nothing is hard; the random KEEP words are drawn from the rest
    targets = train.word_targets(rec, random.Random(0), 1, pointed, hard_keep=3, hard_floor=0.75)
    keeps = [k for k, t in targets if t == "<keep>"]
    assert len(keeps) == 1 and keeps[0] in (0, 3, 4, 5, 6, 7)
    assert train.word_targets(rec, random.Random(0), 0, None, hard_keep=2) == [(1, "came"), (2, "<delete>")]


def test_featurizing_with_hard_keeps_reads_clean_records_for_their_suspected_words():
    """The detector's scores come from the featurizing pass itself: a clean sentence gives KEEP
    examples only where the shipped detector suspects a word (here the spinner-like "stated",
    "invoice"), a spun one its targets and its untouched suspects ("region" beside "got here")."""
    pytest.importorskip("torch")
    from repair.backends.encoder import load_detector
    from repair.backends.resources import model_path

    train = load_script("train_corrector")
    tokenizer, encoder, _, bias = load_detector(model_path("detector"))
    clean = {"spun": "The senator said on Tuesday that the bill would pass.", "edits": [], "spinner": "none"}
    odd = {"spun": "The senator stated on Tuesday that the invoice would cross.", "edits": [], "spinner": "none"}
    spun = {"spun": "Blinken got here to the region on Tuesday.", "spinner": "treasures",
            "edits": [{"start": 8, "end": 16, "original": "came", "spun": "got here"}]}
    plain = train.featurize_records([clean, odd, spun], tokenizer, encoder, keep_per_sentence=0)
    assert plain["targets"] == ["came", "<delete>"] and plain["sentences"] == 1
    hard = train.featurize_records([clean, odd, spun], tokenizer, encoder, keep_per_sentence=0, hard_keep=2,
                                   hard_floor=0.3, token_bias=bias)
    assert list(zip(hard["spun"], hard["targets"])) == [
        ("invoice", "<keep>"), ("stated", "<keep>"), ("got", "came"), ("here", "<delete>"), ("region", "<keep>")]
    assert hard["sentences"] == 1 and hard["h"].shape == (5, encoder.config.hidden_size)


def _tiny_data(tmp_path):
    """A small shard where the same substitutions recur (train and val)."""
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
    return data


def test_training_on_a_tiny_dataset_learns_and_exports(tmp_path):
    """Loss falls on a small shard where the same substitutions recur, and the exported head loads
    and restores one of them."""
    pytest.importorskip("torch")
    train = load_script("train_corrector")
    data = _tiny_data(tmp_path)
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


def test_the_top_layers_run_alone_compute_what_the_encoder_does():
    """--tune-layers trains a copy of the encoder's top layers on cached states below them; run over
    those states, the untouched copy gives the encoder's own output (so training sees what inference does)."""
    import torch

    from repair.backends.corrector import run_layers, top_layers
    from repair.backends.encoder import featurize, load_detector
    from repair.backends.resources import model_path

    tok, enc, _, _ = load_detector(model_path("detector"))
    b = featurize(tok, ["The minister got here to the region on Tuesday.", "Short one."], 256)
    with torch.no_grad():
        hs = enc(**b.inputs, output_hidden_states=True).hidden_states
        out = run_layers(enc, top_layers(enc, 2), hs[-3], b.inputs["attention_mask"])
    real = b.inputs["attention_mask"].bool()
    assert torch.allclose(out[real], hs[-1][real], atol=1e-5)


def test_training_with_the_top_layers_learns_exports_and_loads_them(tmp_path):
    """--tune-layers 2: the loss falls, the export holds the layers, and the restorer loads them."""
    train = load_script("train_corrector")
    data = _tiny_data(tmp_path)
    config = train.main(["--data", str(data), "--out", str(tmp_path / "run"), "--export", str(tmp_path / "export"),
                         "--tune-layers", "2", "--epochs", "8", "--seq-batch", "16", "--lr", "3e-3",
                         "--layer-lr", "1e-4", "--min-count", "1", "--keep-per-sentence", "1"])
    losses = [h["train_loss"] for h in config["history"]]
    assert losses[-1] < 0.5 * losses[0], losses
    assert (tmp_path / "export" / "layers.safetensors").exists()

    from repair.doc import Span
    from repair.restore.corrector import CorrectorRestorer

    restorer = CorrectorRestorer(tmp_path / "export")
    assert restorer.name == "minilm-corrector-v2" and restorer.config["tuned_layers"] == 2
    edits = restorer.restore("The minister navy to the region on day 7.", [Span(13, 17, 0.9, "navy")])
    assert [(e.before, e.after) for e in edits] == [("navy", "military")]


@pytest.fixture(scope="module")
def corrector():
    from repair.restore.corrector import CorrectorRestorer

    if not (ROOT / "models" / "corrector" / "head.safetensors").exists():
        pytest.skip("no shipped corrector in models/corrector")
    return CorrectorRestorer()


def _tops(corrector, text, spans):
    from repair.text.segment import words

    ws = words(text)
    return {ws[j].text: [t for t, _ in top] for j, top in corrector.candidates([text], [spans])[0]}


def test_the_shipped_corrector_proposes_the_seed_articles_originals(corrector):
    """The tells issue 27 lists for the real spun seed: the author's word is the corrector's first
    choice at the spun word (or among its first five), and a spun phrase's tail is deleted."""
    from repair.doc import Span

    def spans(text, *phrases):
        return [Span(text.index(p), text.index(p) + len(p), 0.9, p) for p in phrases]

    t = "Secretary of State Antony Blinken got here to Central Asia on Tuesday."
    tops = _tops(corrector, t, spans(t, "got here"))
    assert tops["got"][0] == "came" and tops["here"][0] == "<delete>"
    t = "The Individuals have pledged support, he stated at an information convention with Overseas Minister Tileuberdi."
    tops = _tops(corrector, t, spans(t, "Individuals", "stated", "information convention", "Overseas"))
    assert "americans" in tops["Individuals"][:5] and tops["stated"][0] == "said" and tops["Overseas"][0] == "foreign"
    assert tops["information"][0] == "news" and tops["convention"][0] == "conference"
    t = "The struggle has made the navy more important to the jap nations a 12 months later."
    tops = _tops(corrector, t, spans(t, "struggle", "navy", "jap", "12 months"))
    # "Russia's struggle": the hard-keep head puts war second (fight 0.38, war 0.33); the restorer chooses in context
    assert "war" in tops["struggle"][:2] and tops["navy"][0] == "military" and "eastern" in tops["jap"][:5]
    assert tops["12"][0] == "year" and tops["months"][0] == "<delete>"


def test_the_corrector_restorer_on_the_seed_articles(corrector):
    """Behind the shipped detector, at its operating point: the seed's tells come back, and the four
    clean seeds get no edit."""
    from repair import Repairer

    from .conftest import SEEDS, SPUN_SEED

    r = Repairer(restorer=corrector)
    results = {p.stem: r.fix(p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt"))}
    edits = {(e.before.lower(), e.after.lower()) for e in results.pop(SPUN_SEED).edits}
    # struggle -> war (the head: fight 0.38, war 0.33) and jap -> eastern (span 0.60 x head 0.99) fall below the
    # hard-keep head's minimum confidence 0.7; the default restorer restores jap -> eastern (tests/test_pipeline.py)
    for pair in [("got here", "came"), ("information convention", "news conference"),
                 ("navy", "military"), ("12 months", "year"), ("overseas", "foreign"),
                 ("stated", "said"), ("p.c", "percent")]:
        assert pair in edits, (pair, sorted(edits))
    assert all(not res.edits for res in results.values()), {k: res.edits for k, res in results.items()}
