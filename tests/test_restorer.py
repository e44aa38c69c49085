"""Restoration v1: the refusal rules, the training loop, and the shipped adapter's guarantees."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from repair.doc import apply_edits
from repair.restore import refusal
from repair.backends.seq2seq import encode_example, target_with_spans_kept

from .conftest import SPUN_SEED, load_script, write_shard

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def decoder(repairer):
    return repairer.restorer  # the shipped adapter, as the default Repairer loads it


def _rounding(decoder) -> float:
    """How far two computations of one log-probability (other batch shapes, cache or none) may differ:
    bfloat16 rounds each layer's output, and how depends on the shapes (up to 0.09 nats seen)."""
    return 1e-3 if decoder.dtype == decoder.torch.float32 else 0.15


@pytest.fixture
def rule(decoder):
    """The shipped decoder with the hand confidence rule instead of its fitted reranker."""
    saved = decoder.reranker
    decoder.reranker = None
    yield decoder
    decoder.reranker = saved


# -- rules that need no model ------------------------------------------------------------------

@pytest.mark.parametrize("sentence, before, after, why", [
    ('He said "the struggle goes on" today.', "struggle", "war", "inside a quotation"),
    ("The 25 individuals left.", "25", "thirty", "changes a quantity"),
    ("Officials met Blinken on Monday.", "Blinken", "Grain", "a name"),
    ("Blinken met them on Monday.", "Blinken", "He", "a name"),
    ("Officials met the team on Monday.", "team", "Smith", "invents a name"),
    ("The Individuals said so.", "Individuals", "people", "drops a name"),
    ("Cher was honouring them.", "honouring", "honoring", "a spelling variant"),
    ("They organised a centre.", "organised a centre", "organized a center", "a spelling variant"),
    ("He travelled to defend the licence.", "travelled", "traveled", "a spelling variant"),
    ("Both licences were renewed.", "licences", "licenses", "a spelling variant"),  # plurals too
    ("Their catalogues came.", "catalogues", "catalogs", "a spelling variant"),
])
def test_refusals(sentence, before, after, why):
    start = sentence.index(before)
    assert refusal(sentence, start, start + len(before), after) == why


@pytest.mark.parametrize("sentence, before, after", [
    ("The Individuals said so.", "Individuals", "Americans"),  # a spun common word standing for a name
    ("It took 12 months to build.", "12 months", "year"),
    ("It took thirty days.", "thirty", "30"),
    ("It ended final 12 months.", "final 12 months", "last year"),
    ("They took in tens of 1000's of refugees.", "1000's", "thousands"),
    ("Blinken got here to Astana.", "got here", "came"),
    ("The colour was bright.", "colour", "shade"),  # a synonym, not a spelling
    ("They were in a hurry.", "hurry", "rush"),
])
def test_allowed(sentence, before, after):
    start = sentence.index(before)
    assert refusal(sentence, start, start + len(before), after) is None


def test_a_run_of_adjacent_edits_is_decided_together():
    """accepted(): edits at the minimum confidence apply; with a joint share, an edit touching an applied
    one (only whitespace between) applies from that share of the minimum, along the whole run, while
    one that touches nothing applied, or sits across punctuation, stays withheld."""
    from repair.restore import LocalEdit, accepted

    text = "His dying grew to become public, and different know-how firms left."
    at = lambda before, after, conf: LocalEdit(text.index(before), text.index(before) + len(before), before, after, conf)
    edits = [at("dying", "death", 0.27), at("grew to become", "became", 0.6), at("public", "known", 0.1),
             at("different", "other", 0.79), at("know-how", "technology", 0.24), at("firms", "companies", 0.18),
             at("left", "went", 0.02)]
    assert [e.after for e in accepted(edits, text, 0.3)] == ["became", "other"]
    assert accepted(edits, text, 0.3, None) == accepted(edits, text, 0.3, 0.0) == accepted(edits, text, 0.3)
    # "public" touches "grew to become" but is below half the minimum, and so is "left"
    assert [e.after for e in accepted(edits, text, 0.3, 0.5)] == ["death", "became", "other", "technology", "companies"]
    assert [e.after for e in accepted(edits, text, 0.3, 0.3)] == ["death", "became", "known", "other", "technology",
                                                                   "companies"]
    comma = "It grew, then fell."
    across = [LocalEdit(3, 7, "grew", "rose", 0.9), LocalEdit(9, 13, "then", "and", 0.25)]
    assert [e.after for e in accepted(across, comma, 0.3, 0.5)] == ["rose"]  # punctuation between: not one run
    assert accepted(edits[:3], text, 0.9, 0.5) == []  # nothing applied, nothing joins


def test_a_fix_applies_a_restorers_joint_share(repairer):
    """The pipeline asks the restorer for its joint share: the same proposals give more edits with it,
    and the signature says so."""
    from repair import Repairer
    from repair.restore import LocalEdit, Restorer

    class Runs(Restorer):
        name, min_confidence = "runs", 0.5

        def __init__(self, share):
            self.joint_share = share

        def restore(self, sentence, spans):
            k = sentence.index("information convention")
            return [LocalEdit(k, k + 11, "information", "news", 0.9),
                    LocalEdit(k + 12, k + 22, "convention", "conference", 0.3)]

    text = "They held an information convention on Monday."
    fixes = [Repairer(detector=repairer.detector, restorer=Runs(s), restore_threshold=0.0).fix(text) for s in (None, 0.5)]
    assert [e.after for e in fixes[0].edits] == ["news"] and fixes[0].text == "They held an news convention on Monday."
    assert [e.after for e in fixes[1].edits] == ["news", "conference"]
    assert fixes[1].text == "They held an news conference on Monday."
    assert "joint-share" not in str(fixes[0].signature) and "joint-share:0.5" in str(fixes[1].signature)


def test_training_targets_keep_some_spans_spun_without_loss():
    from repair.backends.lm import converted_dir
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(converted_dir())
    spun = "Blinken got here to the information convention."
    edits = [{"start": 8, "end": 16, "original": "came", "spun": "got here"},
             {"start": 24, "end": 46, "original": "news conference", "spun": "information convention"}]
    full, kept, restored = target_with_spans_kept(spun, edits, set())
    assert full == "Blinken came to the news conference." and kept == [] and len(restored) == 2
    partial, kept, _ = target_with_spans_kept(spun, edits, {0})
    assert partial == "Blinken got here to the news conference." and partial[slice(*kept[0])] == "got here"
    partial, kept, restored = target_with_spans_kept(spun, edits, {0})
    ex = encode_example(tok, spun, partial, kept, restored)
    learned = tok.decode([t for t in ex.labels if t >= 0])
    assert "got" not in learned and "here" not in learned and "news conference" in learned
    # the restored words alone are marked as changed (what --changed-weight weighs)
    assert tok.decode([t for t, c in zip(ex.ids, ex.changed) if c]).strip() == "news conference"


def test_changed_weight_weighs_the_restored_tokens():
    from repair.backends.lm import converted_dir
    from transformers import AutoTokenizer

    torch = pytest.importorskip("torch")
    train = load_script("train_restorer")
    tok = AutoTokenizer.from_pretrained(converted_dir())
    spun = "Blinken got here to Astana."
    edits = [{"start": 8, "end": 16, "original": "came", "spun": "got here"}]
    target, kept, restored = target_with_spans_kept(spun, edits, set())
    ex = encode_example(tok, spun, target, kept, restored)
    ids, labels, mask, weight = train.collate([ex], "cpu", 4.0)
    assert tok.decode(ids[0][weight[0] == 4.0]).strip() == "came" and set(weight[0].tolist()) == {1.0, 4.0}

    class Fixed(torch.nn.Module):  # a stand-in language model that reads its logits from a table
        def __init__(self, logits):
            super().__init__()
            self.logits, self.lm_head = logits, torch.nn.Identity()

        def get_base_model(self):
            return self

        def model(self, input_ids, attention_mask):
            return type("Out", (), {"last_hidden_state": self.logits})()

    logits = torch.randn(1, ids.shape[1], 50_000)
    plain, _, n = train.loss_on_targets(Fixed(logits), ids, labels, mask)
    weighted, _, _ = train.loss_on_targets(Fixed(logits), ids, labels, mask, weight)
    ce = torch.nn.functional.cross_entropy(logits[0, :-1], labels[0, 1:], reduction="none", ignore_index=-100)
    w = weight[0, 1:][labels[0, 1:] != -100]
    ce = ce[labels[0, 1:] != -100]
    assert torch.isclose(plain, ce.mean()) and torch.isclose(weighted, (ce * w).sum() / w.sum())
    assert not torch.isclose(plain, weighted) and n == len(ce)


# -- training ----------------------------------------------------------------------------------

def test_training_loop_lowers_the_loss_resumes_and_exports(tmp_path):
    train = load_script("train_restorer")
    rows = []
    for i in range(32):
        original = f"The minister came to the summit on day {i}."
        spun = original.replace("came", "got here")
        rows.append({"spun": spun, "original": original,
                     "edits": [{"start": 13, "end": 21, "original": "came", "spun": "got here"}]})
    data = tmp_path / "data"
    data.mkdir()
    write_shard(data / "train-00000.jsonl.gz", rows)
    write_shard(data / "val-00000.jsonl.gz", rows[:4])
    common = ["--data", str(data), "--out", str(tmp_path / "run"), "--export", str(tmp_path / "export"),
              "--batch", "4", "--lr", "3e-3", "--warmup", "1", "--eval-every", "3", "--save-every", "3",
              "--val-size", "4", "--from-layer", "27", "--rank", "4", "--partial", "0"]
    train.main(common + ["--steps", "6"])
    torch = pytest.importorskip("torch")
    ckpt = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=False)
    losses = [h["loss"] for h in ckpt["history"]]
    assert ckpt["step"] == 6 and losses[-1] < losses[0], losses
    train.main(common + ["--steps", "7"])  # resumes at step 6
    assert torch.load(tmp_path / "run" / "ckpt.pt", weights_only=False)["step"] == 7
    config = json.loads((tmp_path / "export" / "repair.json").read_text())
    assert config["name"] == "smollm2-restorer-v1" and config["trained"]["steps"] == 7
    from repair.restore import EditDecoder

    EditDecoder(tmp_path / "export")  # the exported adapter loads
    # --init: a warm start from the export evaluates as the export did (its half-precision weights)
    train.main(common + ["--init", str(tmp_path / "export"), "--out", str(tmp_path / "run2"),
                         "--export", str(tmp_path / "export2"), "--export-only"])
    again = json.loads((tmp_path / "export2" / "repair.json").read_text())
    assert again["heldout"]["loss"] == pytest.approx(config["heldout"]["loss"], rel=0.02)
    assert again["heldout"]["loss"] < losses[0] and again["trained"]["init"] == str(tmp_path / "export")


# -- the shipped adapter -------------------------------------------------------------------------

def test_shipped_adapter_is_small():
    size = sum(p.stat().st_size for p in (ROOT / "models" / "restorer").iterdir())
    assert size < 25_000_000
    total = sum(p.stat().st_size for p in (ROOT / "models").rglob("*") if p.is_file())
    assert total < 40_000_000


def test_restores_the_spinner_tells(repairer):
    """At the shipped operating point, with the detector's evidence (the reranker is fitted on it)."""
    sentence = "The Individuals have pledged $25 million in new financial support to the area, he mentioned."
    result = repairer.fix(sentence)
    assert ("mentioned", "said") in {(e.before, e.after) for e in result.edits}, result.edits
    assert "$25 million" in result.text
    # "Individuals" -> "Americans" is among the candidates, but the reranker withholds it: it lies inside
    # the detector's span "The Individuals", not at its first word, which on held-out data is mostly a wrong guess
    spans = repairer.check(sentence).sentences[0].spans
    cands = repairer.restorer.candidates_many([sentence], [spans])[0]
    assert ("Individuals", "Americans") in {(c.before, c.after) for c in cands}, cands


def test_clean_input_comes_back_unchanged(repairer):
    clean = ["Mr. Blinken met the foreign ministers of five countries in Astana on Tuesday.",
             "The United States has given the region more than $9 billion in aid since 1991, officials said.",
             "“We are not asking anyone to choose,” he told reporters at a news conference."]
    for sentence, result in zip(clean, repairer.fix_many(clean, min_confidence=0.0)):
        assert [e for e in result.edits if e.confidence >= repairer.edit_confidence] == [], (sentence, result.edits)


def test_output_never_wanders(decoder):
    """Whatever the model proposes: local replacements of at most four words that apply cleanly,
    names, numbers and quotations untouched."""
    text = ('Rice said 25 Individuals "got here to struggle" in the information convention, '
            'and the navy left 12 months later.')
    edits = decoder.restore(text)
    assert apply_edits(text, [e.shifted(0) for e in edits])  # offsets match, no overlaps
    for e in edits:
        assert text[e.start:e.end] == e.before and len(e.before.split()) <= 4 and e.after.strip()
        assert refusal(text, e.start, e.end, e.after) is None
        assert 0.0 <= e.confidence <= 1.0
    quote = (text.index('"'), text.rindex('"') + 1)
    assert not any(e.start < quote[1] and quote[0] < e.end for e in edits)
    assert not any(e.before in ("Rice", "25") for e in edits)


@pytest.fixture(scope="module")
def decoder32(decoder):
    """The shipped decoder in float32 (the shared one where it already is): bfloat16 rounds differently
    in other batch shapes, so a greedy branch may take another token (README, precision)."""
    if decoder.dtype == decoder.torch.float32:
        return decoder
    return type(decoder)(precision="fp32", corrector=decoder.corrector, lexicon=decoder.lexicon)


def test_candidates_do_not_depend_on_batching_or_order(decoder32, repairer):
    """Finished branches leave the generation batch and sentences are batched by length: neither may
    change a candidate (one branch at a time, in reversed order, gives the same ones; their scores agree
    to rounding). In float32: bfloat16 keeps this only up to its rounding."""
    decoder = decoder32
    from repair.doc import Span
    from repair.text.segment import default_segmenter

    text = (ROOT / "seeds" / f"{SPUN_SEED}.txt").read_text(encoding="utf-8")
    sentences = [text[a:b] for a, b in default_segmenter().sentences(text)]

    def key(cands):
        return sorted((c.start, c.end, c.after) for c in cands)

    def llrs(cands):
        return [c.llr for c in sorted(cands, key=lambda c: (c.start, c.end, c.after))]

    # without detector evidence (branches where the model prefers another word) and with the detector's
    # spans (branches and the corrector's proposals at the words it points at, scored in groups of
    # paths of one length, those a branch already makes left out)
    checked = repairer.check(text).sentences
    assert [s.text for s in checked] == sentences
    spans = [[Span(p.start - s.start, p.end - s.start, p.score, p.text) for p in s.spans] for s in checked]
    assert sum(map(len, spans)) >= 3
    for sp in (None, spans):
        batched = decoder.candidates_many(sentences, sp)
        saved = decoder.branch_batch
        try:
            decoder.branch_batch = 1
            single = decoder.candidates_many(sentences[::-1], sp and sp[::-1])[::-1]
        finally:
            decoder.branch_batch = saved
        assert sum(map(len, batched)) >= 3
        assert [key(c) for c in batched] == [key(c) for c in single]
        for a, b in zip(batched, single):
            assert llrs(a) == pytest.approx(llrs(b), abs=_rounding(decoder))
    assert any(c.proposed == "corrector" for cands in batched for c in cands)


def test_memory_goes_back_after_each_batch_of_sentences(decoder32, monkeypatch):
    """Hardening: a long text's restore runs batch after batch; after each (where there are several) the
    allocator hands the batch's freed cache and tables back (repair.backends.memory), the candidates unchanged."""
    import repair.restore.decoder as dec

    decoder = decoder32
    sentences = ["Blinken got here to Astana on Tuesday.", "The navy said the struggle would go on.",
                 "He stated it was a 12 months of talks.", "Overseas ministers met at the information convention.",
                 "The Individuals left early."]
    whole = decoder.candidates_many(sentences)
    released = []
    monkeypatch.setattr(dec, "release", lambda: released.append(1))
    monkeypatch.setattr(decoder, "batch_size", 2)
    batched = decoder.candidates_many(sentences)
    assert len(released) == 3  # batches of 2, 2 and 1
    assert [[(c.start, c.end, c.after) for c in cs] for cs in batched] == \
        [[(c.start, c.end, c.after) for c in cs] for cs in whole]
    released.clear()
    monkeypatch.setattr(decoder, "batch_size", 8)
    decoder.candidates_many(sentences)
    assert released == []  # one batch: nothing to hand back between batches


def test_detector_spans_and_the_lexicon_raise_confidence(rule):
    from repair.doc import Span

    decoder = rule
    text = "Blinken mentioned the US would assist the nations deal with sanctions on Russia."
    start = text.index("assist")
    pointed = {e.before: e.confidence for e in decoder.restore(text, [Span(start, start + 6, 0.9, "assist")])}
    unpointed = {e.before: e.confidence for e in decoder.restore(text, [])}
    assert unpointed.get("assist", 0.0) < pointed["assist"]
    bonus = decoder.offset_lexicon
    try:
        decoder.offset_lexicon = 0.0
        plain = {e.before: e.confidence for e in decoder.restore(text, [])}
    finally:
        decoder.offset_lexicon = bonus
    assert decoder.justified("assist", "help") and plain["assist"] < unpointed["assist"]


def test_detector_spans_open_branches_the_model_would_not(rule):
    """Where the model alone would copy ("got here"), the detector's span still gets a candidate, whose
    two-way confidence says how much the model believes it (here too little for the default threshold)."""
    from repair.doc import Span

    decoder = rule
    text = "Blinken got here to Astana on Tuesday."
    start = text.index("got here")
    span = [Span(start, start + 8, 0.9, "got here")]
    opened, weighted = decoder.pointed_branches, decoder.detector_weighted
    proposals = decoder.corrector_branches, decoder.lexicon_branches
    try:  # the model's own branches only: the corrector and the lexicon would propose words by themselves
        decoder.pointed_branches, decoder.detector_weighted = 0, False
        decoder.corrector_branches, decoder.lexicon_branches = 0, 0
        assert decoder.restore(text, span) == []
        decoder.pointed_branches = 1
        (edit,) = decoder.restore(text, span)
    finally:
        decoder.pointed_branches, decoder.detector_weighted = opened, weighted
        decoder.corrector_branches, decoder.lexicon_branches = proposals
    assert (edit.before, edit.after) == ("got here", "came") and edit.confidence < 0.85
    assert decoder.restore(text, []) == []  # no span, no branch


def test_detector_weighting_trusts_the_detector_on_whether_and_the_model_on_what(rule):
    """With detector weighting, an edit at a pointed word may take P(spun) * P(edit | spun): a model
    that would rather copy (llr -3) but puts 90% of its non-copy mass on one word gets about 0.81 where
    the detector is 90% sure; words the detector does not point at keep the two-way posterior."""
    import math

    from repair.restore import Candidate

    decoder = rule
    pointed = Candidate(0, 4, "navy", "military", llr=-3.0, share=math.log(0.9), pointed=0.9, lexicon=False)
    plain = decoder.confidence(pointed, detector_weighted=False)
    weighted = decoder.confidence(pointed, detector_weighted=True)
    assert plain == pytest.approx(1 / (1 + math.exp(3.0))) and weighted == pytest.approx(0.81)
    unsure = Candidate(0, 4, "navy", "military", llr=-3.0, share=math.log(0.9), pointed=0.3, lexicon=False)
    assert decoder.confidence(unsure, detector_weighted=True) == pytest.approx(0.27)
    elsewhere = Candidate(0, 4, "navy", "military", llr=-3.0, share=math.log(0.9), pointed=None, lexicon=False)
    assert decoder.confidence(elsewhere, detector_weighted=True) == decoder.confidence(elsewhere, detector_weighted=False)
    justified = Candidate(0, 4, "navy", "military", llr=-3.0, share=math.log(0.9), pointed=0.9, lexicon=True)
    assert decoder.confidence(justified, detector_weighted=True, offset_lexicon=2.0) > weighted


def test_detector_weighting_on_the_real_model(rule):
    """The model alone would copy "got here" (two-way confidence 0.07); pointed at by a 0.95 span, "came"
    takes 0.95 times its share of the model's non-copy paths (about half), several times more."""
    from repair.doc import Span

    decoder = rule
    text = "Blinken got here to Astana on Tuesday."
    start = text.index("got here")
    span = [Span(start, start + 8, 0.95, "got here")]
    opened, weighted, lexicon = decoder.pointed_branches, decoder.detector_weighted, decoder.lexicon_branches
    try:
        decoder.pointed_branches, decoder.lexicon_branches = 1, 0  # the model's branch, not the lexicon's words
        decoder.detector_weighted = False
        before = {(e.before, e.after): e.confidence for e in decoder.restore(text, span)}
        decoder.detector_weighted = True
        after = {(e.before, e.after): e.confidence for e in decoder.restore(text, span)}
        assert decoder.restore(text, []) == []  # no span, no branch, whatever the weighting
    finally:
        decoder.pointed_branches, decoder.detector_weighted, decoder.lexicon_branches = opened, weighted, lexicon
    assert before[("got here", "came")] < 0.2 and after[("got here", "came")] > 0.3
    assert after[("got here", "came")] > 4 * before[("got here", "came")]


def test_confidence_threshold_in_the_pipeline(repairer):
    text = "Blinken mentioned the US would assist the nations deal with sanctions on Russia."
    loose = repairer.fix(text, min_confidence=0.0).edits
    assert {e.before for e in loose} >= {"mentioned", "assist"}
    bar = max(e.confidence for e in loose)  # keeps the most confident edit (and the run it is part of)
    strict = repairer.fix(text, min_confidence=bar).edits
    joined = bar * (repairer.restorer.joint_share or 1.0)
    assert strict and all(e.confidence >= joined for e in strict) and len(strict) < len(loose)


def test_the_operating_point_comes_with_the_weights(repairer, decoder):
    """The decoder's confidence offsets, minimum confidence and restore threshold are those that
    tune_restorer stored in repair.json, unless the caller says otherwise."""
    point = decoder.config["operating_point"]
    assert (decoder.margin, decoder.offset_out, decoder.offset_lexicon) == \
        (point["margin"], point["offset_out"], point["offset_lexicon"])
    assert (decoder.pointed_branches, decoder.detector_weighted) == (point["pointed_branches"], point["detector_weighted"])
    assert (decoder.pointed_at, decoder.reranker) == (point["pointed_at"], point["reranker"])
    assert (decoder.fluency_window, decoder.fluency_screen) == (point.get("fluency_window"), point.get("fluency_screen"))
    assert repairer.edit_confidence == point["min_confidence"] and repairer.restore_floor == point["restore_threshold"]
    from repair import Repairer

    own = Repairer(min_confidence=0.5, restore_threshold=0.0)
    own.__dict__["restorer"] = decoder  # share the loaded model; only the Repairer's own settings differ
    assert own.edit_confidence == 0.5 and own.restore_floor == 0.0


def test_the_fast_restorer_is_the_corrector_and_branch_counts_name_themselves(decoder):
    from repair import Repairer
    from repair.restore.corrector import CorrectorRestorer

    precision = "-bf16" if decoder.dtype == decoder.torch.bfloat16 else ""
    with pytest.raises(ValueError, match="unknown restorer"):
        Repairer(restorer="fastest")
    assert isinstance(Repairer(restorer="fast").restorer, CorrectorRestorer)
    # another number of branches than the tuned one is another system, and the signature says so
    opened = decoder.pointed_branches
    try:
        decoder.pointed_branches = 0 if opened else 3
        assert decoder.name == f"smollm2-restorer-v1-branches{decoder.pointed_branches}{precision}"
    finally:
        decoder.pointed_branches = opened
    assert decoder.name == f"smollm2-restorer-v1{precision}"


def test_precision_is_chosen_named_and_changes_no_edit(repairer, decoder, monkeypatch):
    """The restorer runs in bfloat16 where the hardware has it ("auto"), else float32; either is asked
    for by name (argument, or $REPAIR_PRECISION), a bad name is refused, the signature says which ran,
    and the edits of the two agree to rounding."""
    import torch

    from repair import Repairer
    from repair.backends.hf import float_dtype, machine
    from repair.text.segment import default_segmenter

    assert float_dtype("fp32") == torch.float32 and float_dtype("bf16") == torch.bfloat16
    assert float_dtype("auto") in (torch.float32, torch.bfloat16)
    # the benchmark pages name the machine with the format "auto" gives the restorer on it
    fmt = "bfloat16 (native:" if float_dtype("auto") == torch.bfloat16 else "float32"
    assert machine().startswith(f"{os.cpu_count()} CPU cores (") and fmt in machine()
    with pytest.raises(ValueError, match="unknown precision"):
        Repairer(precision="fp16")
    monkeypatch.setenv("REPAIR_PRECISION", "fp32")
    assert Repairer().precision == "fp32" and Repairer(precision="bf16").precision == "bf16"
    monkeypatch.setenv("REPAIR_PRECISION", "half")
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        Repairer()
    monkeypatch.delenv("REPAIR_PRECISION")

    text = (ROOT / "seeds" / f"{SPUN_SEED}.txt").read_text(encoding="utf-8")
    text = text[:default_segmenter().sentences(text)[12][1]]  # its first dozen sentences
    other = "fp32" if decoder.dtype == torch.bfloat16 else "bf16"
    twin = type(decoder)(precision=other, corrector=decoder.corrector, lexicon=decoder.lexicon)
    assert twin.dtype != decoder.dtype and twin.name.endswith("-bf16") == (other == "bf16")

    def edits(rep):
        return {(e.start, e.end, e.after): e.confidence for e in rep.fix(text).edits}

    mine, theirs = edits(repairer), edits(Repairer(detector=repairer.detector, restorer=twin))
    assert len(mine) >= 10
    same = mine.keys() & theirs.keys()
    assert len(same) >= 0.9 * max(len(mine), len(theirs))  # bfloat16 rounds: an edit near a gate may flip
    gaps = sorted(abs(mine[k] - theirs[k]) for k in same)
    # largest gap 0.063 when written, 0.118 at the operating point refitted for the hard-keep corrector
    assert gaps[-1] < 0.15 and gaps[len(gaps) // 2] < 0.01


# -- the reranker and the branches at every span word -------------------------------------------

def _cand(start, end, before, after, llr, **kw):
    from repair.restore import Candidate

    return Candidate(start, end, before, after, llr=llr, share=-0.5, pointed=kw.pop("pointed", 0.9),
                     lexicon=kw.pop("lexicon", False), **kw)


def test_an_edit_that_keeps_words_as_written_is_applied_word_by_word():
    """``pieces``: an edit that keeps some of its words splits into the edits of the words it changes (each
    with its confidence, offsets into the same text); one that drops or adds a word, or keeps none, stays whole."""
    from repair.restore import LocalEdit, pieces

    text = "However the Individuals hope."
    e = LocalEdit(0, 23, text[:23], "But the Americans", 0.7)
    assert pieces(e) == [LocalEdit(0, 7, "However", "But", 0.7), LocalEdit(12, 23, "Individuals", "Americans", 0.7)]
    assert all(text[p.start:p.end] == p.before for p in pieces(e))
    for after in ("But Americans", "But the", "the Americans too"):
        assert pieces(LocalEdit(0, 23, text[:23], after, 0.7)) == [LocalEdit(0, 23, text[:23], after, 0.7)]
    # offsets stay into the caller's sentence where the edit starts later
    late = LocalEdit(30, 45, "got here to the", "came to a", 0.5)
    assert [(p.start, p.end, p.before, p.after) for p in pieces(late)] == [(30, 38, "got here", "came"),
                                                                            (42, 45, "the", "a")]


def test_candidates_are_ranked_among_those_at_the_same_word():
    from repair.restore.edits import ranked

    cands = [_cand(0, 4, "navy", "army", -2.0), _cand(0, 4, "navy", "military", 1.0),
             _cand(9, 14, "jap", "eastern", -1.0), _cand(0, 4, "navy", "fleet", -0.5)]
    assert [c.rank for c in ranked(cands)] == [2, 0, 0, 1]


def test_a_reranker_replaces_the_hand_rule(decoder):
    """The confidence is the fitted logistic regression over the candidate's features where one is
    given; ``reranker=False`` always gives the hand rule."""
    import math

    from repair.restore import RERANK_FEATURES, rerank_features

    weights = [0.0] * len(RERANK_FEATURES)
    weights[RERANK_FEATURES.index("bias")], weights[RERANK_FEATURES.index("lexicon")] = -1.0, 3.0
    rr = {"features": list(RERANK_FEATURES), "weights": weights}
    justified, plain = _cand(0, 4, "navy", "military", -3.0, lexicon=True), _cand(0, 4, "navy", "military", -3.0)
    assert decoder.confidence(justified, reranker=rr) == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert decoder.confidence(plain, reranker=rr) == pytest.approx(1 / (1 + math.exp(1.0)))
    assert decoder.confidence(plain, reranker=False) == pytest.approx(1 / (1 + math.exp(3.0)))  # llr -3, pointed
    features = dict(zip(RERANK_FEATURES, rerank_features(_cand(0, 8, "got here", "came", 25.0, rank=2))))
    assert features["llr"] == 20.0 and features["words_before"] == 2 and features["rank0"] == 0.0


@pytest.mark.model
def test_a_reranker_reads_the_features_it_names_and_unknown_ones_are_refused(tmp_path):
    """A shipped reranker names its features (an older one reads fewer than this version offers): it is
    computed on exactly those; one naming a feature this version does not compute cannot load."""
    import shutil

    from repair.doc import sigmoid
    from repair.backends.resources import model_path
    from repair.restore import EditDecoder, rerank_confidence

    shutil.copytree(model_path("restorer"), tmp_path / "restorer")
    path = tmp_path / "restorer" / "repair.json"
    config = json.loads(path.read_text())
    config["operating_point"]["reranker"] = {"features": ["llr", "document"], "weights": [1.0, -2.0]}
    path.write_text(json.dumps(config))
    rr = EditDecoder(tmp_path / "restorer").reranker
    cand = _cand(0, 8, "got here", "came", 1.5, document=0.25)
    assert rerank_confidence(rr, cand) == pytest.approx(sigmoid(1.5 - 0.5))
    # a candidate with no document around it is scored by the reranker fitted without one, where shipped
    config["operating_point"]["reranker_alone"] = {"features": ["bias"], "weights": [-3.0]}
    path.write_text(json.dumps(config))
    dec = EditDecoder(tmp_path / "restorer")
    assert dec.confidence(cand) == pytest.approx(sigmoid(1.5 - 0.5))
    assert dec.confidence(_cand(0, 8, "got here", "came", 1.5)) == pytest.approx(sigmoid(-3.0))
    config["operating_point"]["reranker"] = {"features": ["bias", "vibes"], "weights": [0.0, 1.0]}
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="does not know"):
        EditDecoder(tmp_path / "restorer")


def test_branches_at_every_word_of_a_span(decoder):
    """With ``pointed_at="all"`` a detector span of several words gets branches at each of them (the
    spinner's words may be two edits side by side); with "first", only at its first word."""
    from repair.doc import Span

    text = "The Individuals struggle ended in the jap region last 12 months."
    start, end = text.index("Individuals"), text.index(" ended")
    span = [Span(start, end, 0.95, text[start:end])]
    second = text.index("struggle")
    saved = decoder.pointed_branches, decoder.pointed_at, decoder.corrector_branches
    try:  # the model's branches only (the corrector proposes at every pointed word whatever pointed_at says)
        decoder.pointed_branches, decoder.pointed_at, decoder.corrector_branches = 2, "first", 0
        (first,) = decoder.candidates_many([text], [span])
        decoder.pointed_at = "all"
        (every,) = decoder.candidates_many([text], [span])
    finally:
        decoder.pointed_branches, decoder.pointed_at, decoder.corrector_branches = saved
    assert not any(c.forced and c.start == second for c in first)
    assert any(c.forced and c.start == second and not c.span_start for c in every)
    assert all(c.span_start == (c.start == start) for c in every)


def test_fit_reranker_learns_which_evidence_predicts_a_gold_edit():
    """On candidates where exactly the lexicon-justified ones are the gold edits, the fitted weight
    of the lexicon feature is large and positive, and the fitted probabilities separate the two."""
    import math

    from repair.restore import RERANK_FEATURES, rerank_confidence

    tune = load_script("tune_restorer")
    rows = []
    for i in range(40):
        spun = f"the navy {i} left"
        gold = [{"start": 4, "end": 8, "original": "military", "spun": "navy"}]
        cands = [_cand(4, 8, "navy", "military", -1.0 + (i % 5) / 5, lexicon=True),
                 _cand(4, 8, "navy", "fleet", -1.0 + (i % 7) / 7, rank=1)]
        rows.append(({"spun": spun, "edits": gold, "spinner": "moby"}, 0.9, cands))
    rr = tune.fit_reranker(rows)
    assert rr["features"] == list(RERANK_FEATURES) and rr["positives"] == 40 and rr["candidates"] == 80
    assert rr["weights"][RERANK_FEATURES.index("lexicon")] > 1.0
    good, bad = rows[0][2]
    assert rerank_confidence(rr, good) > 0.9 > 0.1 > rerank_confidence(rr, bad)
    assert all(math.isfinite(w) for w in rr["weights"])


def test_fit_reranker_with_hidden_units_learns_what_a_logistic_regression_cannot():
    """Where the gold edits are those the lexicon lists at a word the detector is sure of, or that it
    does not list at a word it doubts (an interaction, not a sum of evidence), a reranker with a
    hidden layer separates them and the logistic regression does not; rerank_confidence reads both."""
    from repair.restore import rerank_confidence

    tune = load_script("tune_restorer")
    rows = []
    for i in range(60):
        for lexicon in (True, False):
            for pointed in (0.95, 0.55):
                spun = f"the navy {i} left"
                cand = _cand(4, 8, "navy", "military", 0.0, lexicon=lexicon, pointed=pointed)
                gold = [{"start": 4, "end": 8, "original": "military", "spun": "navy"}] if lexicon == (pointed > 0.9) else []
                rows.append(({"spun": spun, "edits": gold, "spinner": "moby"}, 0.9, [cand]))
    features = ("bias", "lexicon", "pointed")
    flat, deep = tune.fit_reranker(rows, features=features), tune.fit_reranker(rows, features=features, hidden=4)
    assert len(deep["hidden"]) == 4 and deep["positives"] == 120 and deep["candidates"] == 240
    right = lambda rr: sum((rerank_confidence(rr, c) > 0.5) == bool(r["edits"]) for r, _, (c,) in rows) / len(rows)
    assert right(deep) == 1.0 and right(flat) <= 0.75


def test_candidates_carry_the_sentence_score(decoder):
    """The reranker reads the detector's sentence score: given, else the highest span score (0 when the
    detector pointed nowhere), else 1.0 where there is no detector evidence either way."""
    text = "Blinken mentioned the US would assist the nations deal with sanctions on Russia."
    (given,), (unknown,), (nowhere,) = (decoder.candidates_many([text], [[]], [0.3]), decoder.candidates_many([text]),
                                        decoder.candidates_many([text], [[]]))
    assert given and {c.sentence for c in given} == {0.3}
    assert {c.sentence for c in unknown} == {1.0} and {c.sentence for c in nowhere} == {0.0}
    # and its document's score: given, else None (no document around the sentence)
    (in_doc,) = decoder.candidates_many([text], [[]], [0.3], [0.8])
    assert {c.document for c in in_doc} == {0.8} and {c.document for c in given} == {None}


def _with_and_without(decoder, text: str, phrase: str, setting: str, n: int):
    """The candidates of ``text`` with a detector span on ``phrase`` (no model branches at it), with the
    decoder's ``setting`` at ``n`` and at 0."""
    from repair.doc import Span

    start = text.index(phrase)
    span = [Span(start, start + len(phrase), 0.9, phrase)]
    saved = getattr(decoder, setting), decoder.pointed_branches
    try:
        decoder.pointed_branches = 0
        setattr(decoder, setting, n)
        (cands,) = decoder.candidates_many([text], [span])
        setattr(decoder, setting, 0)
        (without,) = decoder.candidates_many([text], [span])
    finally:
        setattr(decoder, setting, saved[0])
        decoder.pointed_branches = saved[1]
    return cands, without


def test_lexicon_proposals_are_scored_as_a_full_pass_scores_them(decoder):
    """With ``lexicon_branches``, each pointed word also gets (at most that many of) the lexicon's
    originals of it as candidates (``proposed == "lexicon"``), justified by the lexicon, and their log-likelihood ratio
    against copying is what a plain forward pass over the whole restored sentence gives (the cached,
    teacher-forced scoring changes nothing)."""
    import torch

    from repair.backends.lm import BOS_ID
    from repair.backends.seq2seq import SEP_ID

    text = "The struggle in the region went on for years."
    start = text.index("struggle")
    cands, without = _with_and_without(decoder, text, "struggle", "lexicon_branches", 4)
    assert not any(c.proposed == "lexicon" for c in without)
    proposed = [c for c in cands if c.proposed == "lexicon"]
    listed = set(decoder.lexicon.candidates("struggle"))
    assert 0 < len(proposed) <= 4 and {c.after for c in proposed} <= listed
    assert all(c.lexicon and c.forced and c.span_start and c.start == start for c in proposed)

    tok = decoder.tokenizer
    draft = tok(text, add_special_tokens=False)["input_ids"]
    first = len(tok(text[:start].rstrip(), add_special_tokens=False)["input_ids"])  # " struggle" begins here
    prompt = [BOS_ID, *draft, SEP_ID]

    def logp(target: list[int], a: int, b: int) -> float:  # log p of target[a:b] after prompt + target[:a]
        ids = torch.tensor([prompt + target])
        with torch.inference_mode():
            lp = torch.log_softmax(decoder.model(input_ids=ids).logits[0].float(), -1)
        at = len(prompt)
        return sum(lp[at + i - 1, target[i]].item() for i in range(a, b))

    for c in proposed:
        new = tok(" " + c.after, add_special_tokens=False)["input_ids"]
        edited = draft[:first] + new + draft[first + 1:]
        full = logp(edited, first, first + len(new) + 1) - logp(draft, first, first + 2)
        assert c.llr == pytest.approx(full, abs=_rounding(decoder))


def test_tune_modes_narrow_a_decode_to_what_it_would_have_given():
    """``tune_restorer.at`` measures narrower decodes from one wide decode: "first" drops branches
    opened inside a span (not at its first word), and only a mode ending "+lexicon" keeps the lexicon's
    proposals; the ranks are recomputed among what is kept."""
    tune = load_script("tune_restorer")
    cands = [_cand(0, 3, "foo", "bar", 1.0),
             _cand(4, 7, "baz", "qux", 0.5, forced=True, span_start=False),
             _cand(0, 3, "foo", "bat", 2.0, forced=True, span_start=True, lexicon=True, proposed="lexicon")]
    rows = [({"spinner": "moby"}, 0.9, cands)]
    kept = {mode: [(c.after, c.rank) for c in tune.at(rows, mode)[0][2]]
            for mode in ("first", "all", "first+lexicon", "all+lexicon")}
    assert kept["first"] == [("bar", 0)]
    assert kept["all"] == [("bar", 0), ("qux", 0)]
    assert kept["first+lexicon"] == [("bar", 1), ("bat", 0)]
    assert kept["all+lexicon"] == [("bar", 1), ("qux", 0), ("bat", 0)]
    # the corrector's proposals and evidence stay only in a mode with "+corrector"
    cands = [_cand(0, 3, "foo", "bar", 1.0, channel=0.7, keep=0.1),
             _cand(0, 3, "foo", "bat", 2.0, forced=True, span_start=True, proposed="corrector", channel=0.2, keep=0.1)]
    rows = [({"spinner": "moby"}, 0.9, cands)]
    (_, _, plain), = tune.at(rows, "first")
    (_, _, with_corrector), = tune.at(rows, "first+corrector")
    assert [(c.after, c.channel, c.keep) for c in plain] == [("bar", None, None)]
    assert [(c.after, c.channel, c.rank) for c in with_corrector] == [("bar", 0.7, 1), ("bat", 0.2, 0)]
    # the corrector proposes at every pointed word in either pointing mode, so "first" keeps its proposals inside a span
    inner = _cand(4, 7, "baz", "quux", 0.5, forced=True, span_start=False, proposed="corrector", channel=0.3, keep=0.1)
    assert "quux" in [c.after for c in tune.at([({"spinner": "moby"}, 0.9, [*cands, inner])], "first+corrector")[0][2]]
    # with a floor, the corrector's proposals it gives less are gone (as EditDecoder.corrector_floor never scores
    # them); the restorer's own candidates stay whatever the head thinks of them
    low = _cand(4, 7, "baz", "quuz", 0.5, forced=True, proposed="corrector", channel=0.005, keep=0.1)
    kept = [c.after for c in tune.at([({"spinner": "moby"}, 0.9, [*cands, inner, low])], "first+corrector", 0.25)[0][2]]
    assert kept == ["bar", "quux"]


def test_a_decode_pointed_at_the_band_gives_back_the_decode_pointed_at_fewer_words():
    """``tune_restorer.banded``: from a decode also pointed at the detector's band words (``--point-band``), the
    candidates proposed at a band word below the floor are gone, and the rest read the evidence of the spans kept
    (the detector's score, whether they begin a span, the corrector's look at their first word)."""
    tune = load_script("tune_restorer")
    # "foo" (0-3) the detector points at (0.9); "baz" (4-7) a band word at 0.3
    rec = {"spinner": "moby", "spans": [(0, 3, 0.9)], "band": [(4, 7, 0.3)]}
    cands = [_cand(0, 3, "foo", "bar", 1.0, forced=True, span_start=True, channel=0.6, keep=0.1),
             _cand(4, 7, "baz", "qux", 0.5, pointed=0.3, forced=True, span_start=True, proposed="corrector",
                   channel=0.4, keep=0.2),
             _cand(0, 7, "foo baz", "bar qux", 0.2, pointed=0.9, forced=True, span_start=True, proposed="corrector",
                   channel=0.6, keep=0.1),
             _cand(4, 7, "baz", "quux", 0.3, pointed=0.3, span_start=True, channel=0.1, keep=0.2)]  # the model's own
    rows = [(rec, 0.9, cands)]
    (_, _, all_kept), = tune.banded(rows, 0.25)
    assert [c.after for c in all_kept] == ["bar", "qux", "bar qux", "quux"]
    (_, _, none), = tune.banded(rows, None)
    # the corrector's run over the band word is gone too (without it the head does not look past "foo")
    assert [c.after for c in none] == ["bar", "quux"]
    own = none[1]
    assert (own.pointed, own.span_start, own.channel, own.keep) == (None, False, None, None)
    assert (none[0].pointed, none[0].channel) == (0.9, 0.6)
    assert [c.after for c in tune.banded(rows, 0.35)[0][2]] == ["bar", "quux"]
    # rows decoded without a band pass through as they are
    assert tune.banded([({"spinner": "moby"}, 0.9, cands)], None)[0][2] == cands


def test_corrector_proposals_and_evidence(decoder):
    """With ``corrector_branches``, the corrector head's originals of each pointed word are scored by the
    restorer as candidates too (``proposed == "corrector"``; a phrase the head would shorten, "got here"
    -> came + delete, is replaced whole), and every candidate at a pointed word carries the head's
    probability of its first word (``channel``) and of the word as written (``keep``)."""
    from repair.doc import Span

    text = "Secretary of State Antony J. Blinken got here to Central Asia on Monday."
    start = text.index("got here")
    span = [Span(start, start + len("got here"), 0.95, "got here")]
    cands, without = _with_and_without(decoder, text, "got here", "corrector_branches", 3)
    assert not any(c.proposed == "corrector" for c in without)
    assert all(c.channel is None and c.keep is None for c in without)
    came = [c for c in cands if (c.start, c.end, c.after) == (start, start + len("got here"), "came")]
    assert len(came) == 1 and came[0].channel > 0.5 and came[0].keep < 0.5
    proposed = [c for c in cands if c.proposed == "corrector"]
    assert proposed and all(c.forced and c.start >= start and c.end <= span[0].end for c in proposed)
    # candidates elsewhere in the sentence (where the detector does not point) get no channel
    assert all(c.channel is None for c in cands if c.end <= start or c.start >= span[0].end)


def test_the_corrector_floor_leaves_out_the_heads_unlikely_originals(decoder):
    """``corrector_floor``: of the head's originals, only those it gives at least the floor are proposed and
    scored (the rest are almost never the author's word, and each costs a path); nothing else changes."""
    text = "Secretary of State Antony J. Blinken got here to Central Asia on Monday."
    saved = decoder.corrector_floor
    try:
        decoder.corrector_floor = 0.0
        every, _ = _with_and_without(decoder, text, "got here", "corrector_branches", 3)
        floor = sorted(c.channel for c in every if c.proposed == "corrector")[-1]  # the head's surest proposal
        decoder.corrector_floor = floor
        few, _ = _with_and_without(decoder, text, "got here", "corrector_branches", 3)
    finally:
        decoder.corrector_floor = saved
    proposed = lambda cs: sorted((c.start, c.end, c.after) for c in cs if c.proposed == "corrector")
    assert len(proposed(every)) > 1 and proposed(few) == proposed([c for c in every if c.proposed == "corrector"
                                                                    and c.channel >= floor])
    made = lambda cs: [(c.start, c.end, c.after, round(c.llr, 3)) for c in cs if c.proposed == "model"]
    assert made(few) == made(every)  # the restorer's own branches are untouched


def test_a_tune_at_another_pointing_threshold_cannot_be_written(monkeypatch, capsys):
    """The shipped decoder reads the detector's own spans, so an operating point tuned on spans at
    another threshold (or also at the band's words) would not be the one it runs at: measured only."""
    tune = load_script("tune_restorer")
    for extra in (["--span-threshold", "0.3"], ["--point-band", "0.25"]):
        monkeypatch.setattr(sys, "argv", ["tune_restorer.py", *extra, "--write"])
        with pytest.raises(SystemExit) as exit:
            tune.main()
        assert exit.value.code == 2 and "measured, not written" in capsys.readouterr().err
