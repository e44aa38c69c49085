"""The trained detector: word alignment, the training loop, and the shipped weights on the seeds."""
from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from repair.text.segment import words

from .conftest import SPUN_SEED, load_script, write_shard

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="module", params=["detector", "detector_fast"])
def detector(request):
    """Both shipped detectors: the default and the two-layer one for corpora."""
    from repair.detect import EncoderDetector
    from repair.backends.resources import model_path

    return EncoderDetector(model_path(request.param))


def test_featurize_maps_every_word_to_its_first_subtoken():
    from repair.backends.encoder import featurize, load_base

    tok, _ = load_base()
    texts = ["Blinken got here to Astana's summit.", "Unbelievably short."]
    b = featurize(tok, texts)
    ids = b.inputs["input_ids"]
    for row, text in enumerate(texts):
        for k, w in enumerate(words(text)):
            first = tok.convert_ids_to_tokens(int(ids[row, b.first[row, k]]))
            assert w.text.lower().startswith(first.lstrip("#")), (w.text, first)
    assert (b.first[1, 2:] == -1).all()  # the shorter sentence has two words; the rest is padding
    long = featurize(tok, ["word " * 300], max_tokens=32)
    assert (long.first[0, :30] >= 0).all() and (long.first[0, 30:] == -1).all()  # past the limit: no token


def test_featurize_matches_the_transformers_tokenizer_call():
    """featurize runs on the Rust backend; its tensors must be exactly what the tokenizer's own call
    (used in training before) gives, truncation and padding included, and the tokenizer is left as it was."""
    from repair.backends.encoder import featurize, load_base

    tok, _ = load_base()
    texts = ["", "...", "Café’s naïve co-op — 3.5% “quoted” U.S. rate", "word " * 300, "日本語のテキスト",
             "Blinken got here to Astana.", "a\u200bb  c"]
    for max_tokens in (256, 16):
        b = featurize(tok, texts, max_tokens)
        ref = tok(texts, truncation=True, max_length=max_tokens, padding=True, return_tensors="pt")
        assert set(b.inputs) == set(ref)
        for name in ref:
            assert b.inputs[name].tolist() == ref[name].tolist(), name
    assert tok("word " * 300)["input_ids"][-1] == tok.sep_token_id and len(tok("word " * 300)["input_ids"]) == 302


def test_training_loop_lowers_the_loss_and_resumes(tmp_path):
    train = load_script("train_detector")
    rows = []
    for i in range(48):
        spun = i % 2 == 0
        text = f"The minister {'got here' if spun else 'came'} to the summit on day {i}."
        rows.append({"spun": text, "labels": [int(spun and t.text in ("got", "here")) for t in words(text)]})
    data = tmp_path / "data"
    data.mkdir()
    write_shard(data / "train-00000.jsonl.gz", rows)
    write_shard(data / "val-00000.jsonl.gz", rows[:16])
    common = ["--data", str(data), "--out", str(tmp_path / "run"), "--export", str(tmp_path / "export"),
              "--batch", "8", "--lr", "3e-3", "--warmup", "2", "--eval-every", "4", "--save-every", "4",
              "--val-size", "8", "--calib-size", "8"]
    train.main(common + ["--steps", "12"])
    ckpt = __import__("torch").load(tmp_path / "run" / "ckpt.pt", weights_only=False)
    losses = [h["loss"] for h in ckpt["history"]]
    assert ckpt["step"] == 12 and losses[-1] < losses[0] * 0.7, losses
    train.main(common + ["--steps", "16", "--bias-steps", "4"])  # resumes at step 12, then stage 2
    state = __import__("torch").load(tmp_path / "run" / "ckpt.pt", weights_only=False)
    assert state["step"] == 16 and state["bias"].abs().sum() > 0
    assert (tmp_path / "export" / "token_bias.safetensors").exists()
    config = json.loads((tmp_path / "export" / "repair.json").read_text())
    assert config["name"] == "minilm-rtd-v1" and set(config["calibration"]) == {"a", "b"}

    from repair.detect import EncoderDetector

    det = EncoderDetector(tmp_path / "export")
    spun, clean = det.detect(["The minister got here to the summit on day 99.",
                              "The minister came to the summit on day 99."])
    assert spun.score > clean.score
    assert [s.text for s in spun.spans] == ["got here"]  # one phrase-level span


def test_a_shallow_detector_trains_exports_and_loads_shallow(tmp_path):
    """--num-layers keeps the encoder's lowest layers; the export records it and the loader obeys."""
    train = load_script("train_detector")
    texts = [f"The minister got here on day {i}." for i in range(16)]
    rows = [{"spun": t, "labels": [int(w.text in ("got", "here")) for w in words(t)]} for t in texts]
    data = tmp_path / "data"
    data.mkdir()
    write_shard(data / "train-00000.jsonl.gz", rows)
    write_shard(data / "val-00000.jsonl.gz", rows[:8])
    train.main(["--data", str(data), "--out", str(tmp_path / "run"), "--export", str(tmp_path / "export"),
                "--batch", "8", "--steps", "2", "--warmup", "1", "--eval-every", "2", "--save-every", "2",
                "--val-size", "8", "--calib-size", "8", "--num-layers", "2"])
    config = json.loads((tmp_path / "export" / "repair.json").read_text())
    assert config["name"] == "minilm2-rtd-v1" and config["layers"] == 2

    from repair.detect import EncoderDetector

    det = EncoderDetector(tmp_path / "export")
    assert len(det.model.base_model.encoder.layer) == 2 and det.name == "minilm2-rtd-v1"
    assert len(det.detect(["The minister came on day 99."])) == 1
    # --init starts from an export: exported again untrained, it gives the same word logits
    train.main(["--data", str(data), "--out", str(tmp_path / "run2"), "--export", str(tmp_path / "again"),
                "--val-size", "8", "--calib-size", "8", "--num-layers", "2", "--init", str(tmp_path / "export"),
                "--export-only"])
    probe = ["The minister got here on day 99.", "Talks were held."]
    assert EncoderDetector(tmp_path / "again").word_logits(probe) == det.word_logits(probe)


def test_unknown_detector_name_is_refused():
    from repair import Repairer

    with pytest.raises(ValueError, match="unknown detector"):
        Repairer(detector="fastest")


@pytest.mark.parametrize("folder,layers", [("detector", None), ("detector_fast", 2)])
def test_shipped_weights_load_and_are_small(folder, layers):
    size = sum(p.stat().st_size for p in (ROOT / "models" / folder).iterdir())
    assert size < 8_000_000
    config = json.loads((ROOT / "models" / folder / "repair.json").read_text())
    assert config["reliability"] and config["heldout"]["sentences"] >= 1000
    assert config.get("layers") == layers
    point = config["operating_point"]  # the default flagging threshold and what it flags on held-out articles
    assert 0.5 <= point["threshold"] < 1 and point["clean_flagged_at_threshold"] <= point["max_clean_flagged"] <= 0.02


def test_flagging_threshold_is_the_lowest_within_the_clean_budget():
    torch = pytest.importorskip("torch")
    train = load_script("train_detector")
    clean = torch.tensor([True] * 100 + [False] * 10)
    prob = torch.cat([torch.linspace(0.0, 0.95, 100), torch.full((10,), 0.99)])  # clean scores up to 0.95
    point = train.flagging_threshold(prob, clean, 0.02)
    # at 0.93 three clean sentences are flagged (0.931, 0.940, 0.95), at 0.94 two: 2%
    assert point["threshold"] == 0.94 and point["clean_flagged_at_threshold"] == 0.02
    assert point["spun_flagged_at_threshold"] == 1.0
    assert train.flagging_threshold(prob, clean, 0.5)["threshold"] == 0.5  # never below the even-odds point


def test_seed_sentences_alone_spun_flagged_and_clean_not(detector):
    """Each seed sentence scored on its own words (no article around it), at the detector's own
    threshold. On the real seeds the default detector flags 53 of the spun article's 65 sentences this
    way and one clean sentence; the two-layer one for corpora 45 and five. Issue 4's bars (90%, at most
    one per clean article) hold for articles checked whole (next test)."""
    from repair.text.segment import default_segmenter

    seg = default_segmenter()
    flagged = {}
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        sents = [text[s:e] for s, e in seg.sentences(text)]
        ev = detector.detect(sents)
        flagged[path.stem] = (sum(e.score >= detector.threshold for e in ev), len(sents))
    n, total = flagged.pop(SPUN_SEED)
    default = detector.name == "minilm-rtd-v1"
    assert n >= (0.8 if default else 0.65) * total, (n, total)
    assert all(n <= (1 if default else 2) for n, _ in flagged.values()), flagged
    assert sum(n for n, _ in flagged.values()) <= (2 if default else 5), flagged


def test_a_sentence_past_the_token_limit_is_scored_in_windows(detector):
    """Hardening: no word is silently left unscored; the words within the limit keep their logits."""
    long = " ".join(["The minister got here to meet officials of the region"] * 60)  # ~600 tokens
    (toks, logits), = detector.word_logits([long])
    assert len(toks) == 600 and all(z != float("-inf") for z in logits)
    (_, first), = detector._word_logits([long])  # one pass, truncated at the limit
    scored = [z for z in first if z != float("-inf")]
    assert 100 < len(scored) < 600 and logits[:len(scored)] == scored  # the first window is that pass


def test_a_long_document_is_scored_a_chunk_at_a_time_with_the_same_evidence(detector, monkeypatch):
    """Hardening: the detector holds the words of ``CHUNK`` sentences at a time (memory stays flat on a
    long text); the evidence is the same as one pass over them all gives."""
    from repair.detect import rtd
    from repair.text.segment import default_segmenter

    text = (SEEDS / f"{SPUN_SEED}.txt").read_text(encoding="utf-8")
    sentences = [text[a:b] for a, b in default_segmenter().sentences(text)]
    whole = detector.detect(sentences)
    seen = []
    word_logits = detector.word_logits
    monkeypatch.setattr(detector, "word_logits", lambda xs: seen.append(len(xs)) or word_logits(xs))
    monkeypatch.setattr(rtd, "CHUNK", 7)
    monkeypatch.setattr(detector, "batch_size", 4)
    released = []  # after each batch of a call of several, the allocator hands its freed memory back
    monkeypatch.setattr(rtd, "release", lambda: released.append(len(seen)))
    chunked = detector.detect(sentences)
    assert max(seen) == 7 and sum(seen) == len(sentences) > 7
    assert len(released) == sum(-(-n // 4) for n in seen if n > 4) > 0
    assert [[(p.start, p.end, p.text) for p in e.spans] for e in chunked] == \
        [[(p.start, p.end, p.text) for p in e.spans] for e in whole]
    assert [e.score for e in chunked] == pytest.approx([e.score for e in whole], abs=1e-5)


def test_a_batch_is_bounded_in_padded_tokens_with_the_same_evidence(detector, monkeypatch):
    """Hardening: pieces of text without full stops are long; a batch holds at most ``max_batch_tokens``
    padded tokens (sentences x the longest), so its activations stay bounded; the evidence is unchanged."""
    import repair.backends.encoder as enc

    text = (SEEDS / f"{SPUN_SEED}.txt").read_text(encoding="utf-8")
    sentences = [s for s in text.splitlines() if s.strip()][:12]
    whole = detector.detect(sentences)
    batches = []
    featurize = enc.featurize
    monkeypatch.setattr(enc, "featurize", lambda tok, xs, n: batches.append(xs) or featurize(tok, xs, n))
    monkeypatch.setattr(detector, "max_batch_tokens", 120)
    bounded = detector.detect(sentences)
    assert len(batches) > 1 and sum(map(len, batches)) == len(sentences)
    for xs in batches:
        assert len(xs) == 1 or len(xs) * max(enc.token_counts(detector.tokenizer, xs, detector.max_tokens)) <= 120
    assert [[(p.start, p.end) for p in e.spans] for e in bounded] == [[(p.start, p.end) for p in e.spans] for e in whole]
    assert [e.score for e in bounded] == pytest.approx([e.score for e in whole], abs=1e-5)


def test_spinner_tells_in_002_are_spans(detector):
    text = "Secretary of State Antony Blinken got here to Central Asia on Tuesday for talks with overseas ministers."
    ev = detector.detect([text])[0]
    assert any(s.text == "got here" for s in ev.spans), ev.spans
    assert not any(s.text in ("Antony", "Blinken", "Tuesday") for s in ev.spans)


def test_a_sentence_weighs_its_articles_score(detector):
    """The context calibration: the same sentence scores higher in an article that looks spun than in
    one that looks clean; its own score, and the document score that pools own scores, do not move."""
    from repair import Repairer

    assert detector.context is not None  # both shipped detectors carry one (scripts/calibrate_context.py)
    r = Repairer(detector=detector)
    text = "The minister got here on Tuesday. Talks were held with officials of the region."
    spunish, cleanish = r.check_many([text, text], document_scores=[0.95, 0.05])
    for a, b in zip(spunish.sentences, cleanish.sentences):
        assert a.own_score == b.own_score
        assert a.score > b.score
        assert a.flagged == (a.score >= r.threshold)
    assert spunish.score == cleanish.score == r.check(text).score
    alone = r.check("The minister got here on Tuesday.").sentences[0]  # one sentence: no context
    assert alone.score == alone.own_score == pytest.approx(spunish.sentences[0].own_score, abs=1e-6)  # padding


def test_seed_articles_checked_whole(detector):
    """What ``repair check article.txt`` shows: each seed scored whole, its sentences weighing the
    article. Issue 4's bars: 90% of 002's sentences flagged, at most one per clean article."""
    from repair import Repairer

    r = Repairer(detector=detector)
    reports = {p.stem: r.check(p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt"))}
    spun = reports.pop(SPUN_SEED)
    assert len(spun.flagged) >= 0.9 * len(spun.sentences), [round(s.score, 2) for s in spun.sentences]
    assert all(len(rep.flagged) <= 1 for rep in reports.values()), {k: len(v.flagged) for k, v in reports.items()}


def test_context_calibration_is_fitted_on_held_out_articles_and_written(tmp_path):
    """``calibrate_context.py`` on a small validation shard (the spun seed cut into three articles,
    the four clean seeds), scored by the shipped detector: the fit trusts the article's score
    (positive weight) and ``--write`` stores what the detector then loads, keeping its threshold."""
    import shutil

    from repair.detect import EncoderDetector
    from repair.backends.resources import model_path
    from repair.text.segment import default_segmenter

    seg = default_segmenter()
    rows = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        spun = path.stem == SPUN_SEED
        for k, (s, e) in enumerate(seg.sentences(text)):
            article = f"{path.stem}/{k // 4}" if spun else path.stem
            rows.append({"id": f"{path.stem}:{k}", "article": article, "spinner": "treasures" if spun else "none",
                         "spun": text[s:e], "edits": [{"start": 0, "end": 1}] if spun else []})
    data = tmp_path / "data"
    data.mkdir()
    write_shard(data / "val-00000.jsonl.gz", rows)
    det = tmp_path / "detector"
    shutil.copytree(model_path("detector"), det)
    config = json.loads((det / "repair.json").read_text())
    config.pop("context")
    (det / "repair.json").write_text(json.dumps(config))
    load_script("calibrate_context").main(["--data", str(data), "--detector", str(det), "--write"])
    written = json.loads((det / "repair.json").read_text())
    # articles of two or more sentences (one alone has no context to weigh)
    articles = sum(n >= 2 for n in collections.Counter(r["article"] for r in rows).values())
    assert written["context"]["weights"]["document"] > 0 and written["context"]["fitted_on"]["articles"] == articles
    assert written["operating_point"] == config["operating_point"]
    assert written["context"]["heldout"]["flagged_in_context"]["spun"] > 0.5
    assert EncoderDetector(det).context is not None
