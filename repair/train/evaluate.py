"""Score detectors and restorers side by side on a benchmark in the format of devbench.jsonl.

    python scripts/evaluate.py --per-spinner 50      # what `make eval` runs (docs/benchmarks.md)
    python scripts/evaluate.py --per-spinner 0       # the whole benchmark (slow for v0: ~1 s/sentence)

Writes docs/benchmarks.md (regenerated, never hand-edited) and docs/benchmarks.json. Every metric
is reported per spinner; edit metrics follow ERRANT/M2 exact matching (see repair/metrics.py).
"""
from __future__ import annotations

import argparse
import inspect
import json
import random
import resource
import sys
import time
from collections import defaultdict
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from repair import __version__
from repair.doc import Edit, apply_edits
from repair.metrics import (Counts, damage_per_1000, edit_counts, roc_auc, token_counts,
                            word_error_reduction)
from repair.text.segment import words

SPAN_THRESHOLD = 0.5  # word p(substituted) at which a word counts as flagged in the token rows
MIN_SCORE = 0.5  # the document scores reported: --min-score 0.5 (even odds) and a lower one, for recall
LOW_MIN_SCORE = 0.2


class Identity:
    name = "identity"

    def run(self, text):
        return 0.0, [], []  # score, suspicious spans, edits (start, end, replacement)


class LexiconOnly:
    """Every unprotected lexicon site is suspicious and gets its top candidate: no language model."""

    name = "lexicon-only"

    def __init__(self, repairer):
        self.detector = repairer.lm_lexicon

    def run(self, text):
        from repair.text.segment import match_case

        sites = self.detector.sites(text)
        return (1.0 if sites else 0.0, [(s.start, s.end) for s in sites],
                [(s.start, s.end, match_case(s.text, s.candidates[0])) for s in sites])


class Pipeline:
    def __init__(self, repairer, name):
        self.repairer, self.name = repairer, name

    def run_many(self, texts, batch=32, documents=None):
        """``documents``: the text of every sentence of each text's document, which the restorer weighs
        (``Repairer.fix_many(document_scores=...)``): devbench's sentences are parts of articles."""
        scores = None
        if documents is not None and hasattr(self.repairer.restorer, "restore_many"):  # v0 does not weigh them
            known = document_contexts(lambda xs: [r.score for r in self.repairer.check_many(xs)],
                                      {tuple(doc): doc for doc in documents})
            scores = [known[tuple(doc)] for doc in documents]
        out = []
        for b in range(0, len(texts), batch):
            context = None if scores is None else scores[b:b + batch]
            for res in self.repairer.fix_many(texts[b:b + batch], document_scores=context):
                score = max((s.score for s in res.sentences), default=0.0)
                # words at p >= 0.5, the encoder detector's span threshold (v0 reports every lexicon site)
                spans = [(p.start, p.end) for s in res.sentences for p in s.spans if p.score >= SPAN_THRESHOLD]
                out.append((score, spans, [(e.start, e.end, e.after) for e in res.edits]))
        return out


def document_contexts(score, documents: dict) -> dict:
    """key -> what ``Repairer.fix`` tells the restorer of a document made of these sentences (its
    sentences' scores pooled, None for one sentence: ``repair.doc.context_scores``), for every document
    of ``documents`` (key -> sentence texts), scored in one call of ``score`` (texts -> scores)."""
    from repair.doc import context_scores

    flat = [s for sents in documents.values() for s in sents]
    scores = iter(score(flat))
    return {key: (context_scores([next(scores) for _ in sents]) or [None])[0] for key, sents in documents.items()}


class DetectOnly:
    """The default detector alone (``Repairer.check_many``), fast enough for the whole benchmark."""

    def __init__(self, repairer):
        self.repairer = repairer
        self.name = f"{repairer.detector.name} (detection only)"

    def run_many(self, texts, documents=None):
        """``documents``: the text of every sentence of each text's document. Each document is then
        checked whole, as ``repair check article.txt`` would (its sentences weigh the document's score),
        and each text gets the sentences and spans that fall within it."""
        if documents is None:
            return [self._row(rep.sentences, 0, len(t)) for t, rep in zip(texts, self.repairer.check_many(texts))]
        joined, where = {}, []  # document -> its text; each text -> (document, start, end) in it
        for t, doc in zip(texts, documents):
            key = tuple(doc)
            if key not in joined:
                starts = [0, *accumulate(len(x) + 1 for x in doc[:-1])]  # joined by one space
                joined[key] = (" ".join(doc), starts, set())
            text, starts, used = joined[key]
            k = next(j for j in range(len(doc)) if doc[j] == t and j not in used)
            used.add(k)
            where.append((key, starts[k], starts[k] + len(t)))
        reports = dict(zip(joined, self.repairer.check_many([text for text, *_ in joined.values()])))
        return [self._row(reports[key].sentences, a, b) for key, a, b in where]

    @staticmethod
    def _row(sentences, a, b):
        """Score (the best sentence overlapping ``a:b``), spans within ``a:b`` shifted to start at ``a``, no
        edits, and the best own score (without the document's), which the document score pools."""
        mine = [s for s in sentences if s.start < b and s.end > a]
        return (max((s.score for s in mine), default=0.0),
                [(p.start - a, p.end - a) for s in mine for p in s.spans if a <= p.start and p.end <= b], [],
                max((s.alone for s in mine), default=0.0))


class FreeGeneration:
    """The same trained restorer decoded freely (greedy, no constraint), its output aligned to the
    input word by word: the baseline the constrained decoder is measured against."""

    def __init__(self, repairer, max_new_tokens=160):
        self.restorer = repairer.restorer
        self.name = f"{self.restorer.name}, free greedy generation"
        self.max_new_tokens = max_new_tokens

    def run(self, text):
        import difflib
        import re

        import torch

        from repair.backends.seq2seq import END_ID, prompt_ids

        tok, model = self.restorer.tokenizer, self.restorer.model
        ids = prompt_ids(tok, text)
        with torch.inference_mode():
            out = model.generate(torch.tensor([ids]), max_new_tokens=self.max_new_tokens, do_sample=False,
                                 eos_token_id=END_ID, pad_token_id=END_ID)
        generated = tok.decode(out[0][len(ids):], skip_special_tokens=True).strip()
        src = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]
        dst = generated.split()
        edits = []
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=[w for *_, w in src], b=dst, autojunk=False).get_opcodes():
            if op == "replace" or op == "delete":
                edits.append((src[i1][0], src[i2 - 1][1], " ".join(dst[j1:j2])))
            elif op == "insert" and i1 < len(src):
                edits.append((src[i1][0], src[i1][1], " ".join(dst[j1:j2] + [src[i1][2]])))
        return (1.0 if edits else 0.0), [], edits


def apply(text, edits):
    """``text`` with ``(start, end, replacement)`` edits applied (see :func:`repair.doc.apply_edits`)."""
    return apply_edits(text, [Edit(s, e, text[s:e], r, 1.0) for s, e, r in edits])


def evaluate(system, records, threshold, articles=None):
    """``articles``: (doc, spinner, rate) -> the spun text of every sentence of that document, in order;
    a system that takes ``documents`` gets each record's (the restorer weighs its document's score)."""
    rows = defaultdict(lambda: {"scores": [], "spun_scores": [], "outputs": [], "spun": [], "orig": [], "edits": Counts(),
                                "tokens": Counts(), "flags": Counts(),
                                "pairs": [], "caps": 0, "caps_flagged": 0})
    by_doc = defaultdict(list)  # (article, spinner, rate) -> sentence scores, in order
    t0 = time.perf_counter()
    takes_documents = hasattr(system, "run_many") and "documents" in inspect.signature(system.run_many).parameters
    if takes_documents and articles is not None:
        runs = system.run_many([r["spun"] for r in records],
                               documents=[articles[(r.get("doc"), r["spinner"], r.get("rate"))] for r in records])
    elif hasattr(system, "run_many"):
        runs = system.run_many([r["spun"] for r in records])
    else:
        runs = (system.run(r["spun"]) for r in records)
    for r, (score, spans, edits, *own) in zip(records, runs):
        row = rows[r["spinner"]]
        row["scores"].append(score)
        row["spun_scores"] += [score] if r["edits"] else []
        by_doc[(r.get("doc"), r["spinner"], r.get("rate"))].append(own[0] if own else score)
        row["outputs"].append(apply(r["spun"], edits))
        row["spun"].append(r["spun"])
        row["orig"].append(r["original"])
        gold = [(g["start"], g["end"], g["original"]) for g in r["edits"]]
        row["edits"].add(edit_counts(edits, gold, r["spun"]))
        toks = [(t.start, t.end) for t in words(r["spun"])]
        row["tokens"].add(token_counts(spans, [(g[0], g[1]) for g in gold], toks))
        is_spun, flagged = bool(gold), score >= threshold
        row["pairs"].append((score, is_spun))
        if not gold:  # false alarms on names: capitalised words after the first word of a clean sentence
            caps = [t for t in words(r["spun"])[1:] if t.text[:1].isupper()]
            row["caps"] += len(caps)
            row["caps_flagged"] += sum(any(a <= t.start < b for a, b in spans) for t in caps)
        row["flags"].add(Counts(int(is_spun and flagged), int(flagged and not is_spun), int(is_spun and not flagged)))
    elapsed = time.perf_counter() - t0
    clean = rows.get("none")
    out = {}
    for spinner, row in sorted(rows.items()):
        m = {"n": len(row["scores"])}
        if spinner != "none":
            # spun sentences (the spinner changed a word) against the clean articles' sentences; a
            # sentence of a spun article that the spinner left as it was is neither
            m["auc"] = roc_auc(row["spun_scores"], clean["scores"]) if clean else float("nan")
            flags = Counts(row["flags"].tp, clean["flags"].fp if clean else 0, row["flags"].fn)
            m.update(det_p=flags.precision, det_r=flags.recall, det_f1=flags.f(1.0))
            m.update(tok_p=row["tokens"].precision, tok_r=row["tokens"].recall, tok_f1=row["tokens"].f(1.0))
            e = row["edits"]
            m.update(edit_p=e.precision, edit_r=e.recall, edit_f05=e.f(0.5),
                     wer_reduction=word_error_reduction(row["outputs"], row["spun"], row["orig"]))
        else:
            m["flagged_clean"] = sum(s >= threshold for s in row["scores"]) / len(row["scores"])
            m["damage_per_1000"] = damage_per_1000(row["outputs"], row["orig"])
            m["caps_flagged"] = row["caps_flagged"] / max(1, row["caps"])
        out[spinner] = m
    pairs = [p for row in rows.values() for p in row["pairs"]]
    out["_reliability"] = reliability(pairs)
    out["_documents"] = documents(by_doc)
    return out, len(records) / elapsed


def documents(by_doc):
    """Document level (``Report.score``, what ``repair batch --min-score`` acts on): per spinner and
    rate, ROC AUC of spun against clean documents and the share flagged at ``MIN_SCORE`` and
    ``LOW_MIN_SCORE``. Meaningful only when every sentence of each document was scored (the
    detector-only run)."""
    from repair.doc import document_score

    scores = defaultdict(list)
    for (_, spinner, rate), sents in by_doc.items():
        scores[(spinner, rate)].append(document_score(sents))
    clean = [x for (sp, _), xs in scores.items() if sp == "none" for x in xs]
    table = []
    for (sp, rate), xs in sorted(scores.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        table.append({"spinner": sp, "rate": rate, "n": len(xs), "flagged": sum(x >= MIN_SCORE for x in xs) / len(xs),
                      "flagged_low": sum(x >= LOW_MIN_SCORE for x in xs) / len(xs),
                      "auc": roc_auc(xs, clean) if sp != "none" and clean else None})
    return table


def reliability(pairs, bins=10):
    """Share of spun sentences among those whose score falls in each tenth (calibration check)."""
    table = []
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        sel = [spun for score, spun in pairs if lo <= score < hi or (k == bins - 1 and score == 1.0)]
        if sel:
            table.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": len(sel), "spun_share": sum(sel) / len(sel)})
    return table


def sample(records, per_spinner, seed):
    by = defaultdict(list)
    for r in records:
        by[r["spinner"]].append(r)
    rng = random.Random(seed)
    picked = []
    for spinner in sorted(by):
        rs = by[spinner]
        picked += rs if not per_spinner or per_spinner >= len(rs) else rng.sample(rs, per_spinner)
    return picked


def settings(system) -> str | None:
    """The settings a system's rows depend on beyond the page's signature (None: it has none)."""
    rep = getattr(system, "repairer", None)
    if rep is None:
        return None
    if isinstance(system, DetectOnly):
        return f"threshold:{rep.threshold:g}"
    joint = rep.restorer.joint_share
    return f"threshold:{rep.threshold:g}|min-confidence:{rep.edit_confidence:g}" + (f"|joint-share:{joint:g}" if joint else "")


def old_results(old: dict, signature: str) -> dict | None:
    """The results of an earlier run that ``--update`` keeps, or None when they were measured on something
    else. A page written before the settings moved to the rows carries them in its signature, and they were
    the default system's, so the other kept rows' settings are unrecorded."""
    sig = old.get("signature", "")
    if sig == signature:
        return old["results"]
    if not sig.startswith(signature + "|threshold:"):
        return None
    legacy = sig[len(signature) + 1:]
    return {name: {**res, "settings": res.get("settings", legacy if name == "default" else "unrecorded")}
            for name, res in old["results"].items()}


def fmt(x):
    return "–" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def clean_damage(repairer, records: list[dict]) -> dict:
    """The default pipeline on every clean sentence of the benchmark: changed words per 1,000 and the
    edits themselves (damage is rare, so the per-spinner sample is too small to measure it)."""
    clean = [r for r in records if r["spinner"] == "none"]
    results = repairer.fix_many([r["spun"] for r in clean])
    return {"sentences": len(clean), "words": sum(len(r["original"].split()) for r in clean),
            "damage_per_1000": damage_per_1000([x.text for x in results], [r["original"] for r in clean]),
            "edits": [f"{e.before!r} → {e.after!r} ({e.confidence:.2f})" for x in results for e in x.edits]}


def candidate_recall(records: list[dict]) -> dict:
    """At every word a spinner wrote (devbench's edits tagged as the corrector is trained: the author's
    word at its place, DELETE past the original's length): is the author's word among the corrector's
    top 1 / 5 / 10, and among the lexicon's originals of the spun word? Per spinner."""
    import torch

    from repair.backends.corrector import load_corrector
    from repair.backends.resources import model_path
    from repair.text.lexicon import default_lexicon
    from repair.train.train_corrector import featurize_records, recall_at

    tokenizer, encoder, head, vocab, _ = load_corrector(model_path("corrector"))
    feats = featurize_records(records, tokenizer, encoder, keep_per_sentence=0)
    index = {w: i for i, w in enumerate(vocab)}
    y = torch.tensor([index.get(t, -1) for t in feats["targets"]], dtype=torch.long)
    out = recall_at(head, feats["h"], y, feats["spinners"])
    lexicon, hits = default_lexicon(), defaultdict(lambda: [0, 0])
    for target, spun, sp in zip(feats["targets"], feats["spun"], feats["spinners"]):
        for key in (sp, "all"):
            hits[key][0] += 1
            hits[key][1] += target in {c.lower() for c in lexicon.candidates(spun)}
    for key, (n, hit) in hits.items():
        out[key]["lexicon"] = round(hit / max(1, n), 4)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=str(ROOT.parent / "shared" / "data" / "eval" / "devbench.jsonl"))
    ap.add_argument("--per-spinner", type=int, default=100, help="sentences per spinner (0 = all)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--configs", default="identity,lexicon-only,v0,free,default,default-fp32,fast,detector,fast-detector,"
                                         "fast-int8-detector",
                    help="identity, lexicon-only, v0 (v0 detector + v0 restorer), default (the default Repairer), "
                         "default-fp32 (the same with the restorer in float32: Repairer(precision='fp32')), "
                         "detector (default detector alone, on every sentence of the benchmark), fast-detector (the same "
                         "for Repairer(detector='fast')), fast-int8-detector (the same, quantized: repair batch --detector fast --int8), "
                         "v1-detector+v0-restorer, free (the trained restorer decoded without constraint), "
                         "fast (the default detector + the fast restorer, the corrector, and the candidates' recall)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    ap.add_argument("--update", action="store_true",
                    help="keep the other systems' results from the existing benchmarks.json (same signature) and "
                         "regenerate the page with these configs' results replaced")
    args = ap.parse_args()
    bench = Path(args.bench)
    if not bench.exists():
        sys.exit(f"benchmark not found: {bench} (pass --bench PATH)")
    everything = [json.loads(l) for l in bench.open(encoding="utf-8")]
    records = sample(everything, args.per_spinner, args.seed)
    articles = defaultdict(list)  # each sampled sentence is restored knowing the score of its document
    for r in everything:
        articles[(r.get("doc"), r["spinner"], r.get("rate"))].append(r["spun"])

    from repair import Repairer
    from repair.backends.hf import machine

    def named(rep, label: str) -> Pipeline:
        return Pipeline(rep, f"{label} ({rep.detector.name} + {rep.restorer.name})")

    repairer = Repairer()  # the default: trained detector, trained restorer
    v0 = Repairer(detector="v0", restorer="v0", restore_threshold=None)
    fast = Repairer(detector=repairer.detector, restorer="fast")
    systems = {"identity": lambda: Identity(), "lexicon-only": lambda: LexiconOnly(v0),
               "v0": lambda: named(v0, "v0"),
               "default": lambda: named(repairer, "default"),
               "default-fp32": lambda: named(Repairer(detector=repairer.detector, precision="fp32"), "default, float32"),
               "detector": lambda: DetectOnly(repairer),
               "fast-detector": lambda: DetectOnly(Repairer(detector="fast")),
               "fast-int8-detector": lambda: DetectOnly(Repairer(detector="fast", int8=True)),
               "free": lambda: FreeGeneration(repairer),
               "fast": lambda: named(fast, "fast"),
               "v1-detector+v0-restorer": lambda: Pipeline(
                   Repairer(restorer="v0", restore_threshold=None), "minilm-rtd-v1 + lexicon-lm-v0")}
    results, here = {}, machine()
    for name in args.configs.split(","):
        system = systems[name]()
        data = everything if name.endswith("detector") else records
        # each system flags at its own detector's threshold (v0's uncalibrated score: DEFAULT_THRESHOLD)
        metrics, speed = evaluate(system, data, getattr(system, "repairer", repairer).threshold, articles)
        results[name] = {"system": system.name, "settings": settings(system), "metrics": metrics,
                         "sentences_per_s": speed, "n": len(data), "machine": here}
        print(f"{name}: {speed:.2f} sentences/s", file=sys.stderr)
    damage = clean_damage(repairer, everything) if "default" in results else None
    recall = candidate_recall([r for r in everything if r["edits"]]) if "fast" in results else None
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # the page's signature names what every row shares; each system's own settings go with its row (sacrebleu's
    # habit: a signature built from the component's settings), so --update can replace one system's rows
    signature = f"repair:{__version__}|bench:{bench.name}|per-spinner:{args.per_spinner or 'all'}|seed:{args.seed}"
    payload = {"signature": signature, "peak_rss_mb": peak_mb, "n": len(records), "results": results,
               "clean_damage": damage, "candidate_recall": recall}
    old_path = Path(args.out).with_suffix(".json")
    if args.update and old_path.exists():
        old = json.loads(old_path.read_text())
        kept = old_results(old, signature)
        if kept is None:
            sys.exit(f"--update: {old_path} was made with another signature ({old.get('signature')})")
        payload["results"] = {**kept, **results}
        for key in ("clean_damage", "candidate_recall"):
            payload[key] = payload[key] or old.get(key)
        payload["peak_rss_mb"] = max(peak_mb, old.get("peak_rss_mb", 0))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    old_path.write_text(json.dumps(payload, indent=2) + "\n")
    results, damage, recall, peak_mb = payload["results"], payload["clean_damage"], payload["candidate_recall"], payload["peak_rss_mb"]

    spinners = sorted({r["spinner"] for r in records} - {"none"})
    lines = ["# Benchmarks", "", f"Generated by `make eval` (`python scripts/evaluate.py`); do not edit by hand.", "",
             f"Signature: `{signature}`  ",
             f"{len(records)} sampled sentences ({args.per_spinner or 'all'} per spinner) for every system; the "
             f"detector alone also runs on all {len(everything)}. Peak RSS of the whole run {peak_mb:.0f} MB.", "",
             "Each system's own settings (the detector threshold it flags at, the minimum confidence of an edit):", "",
             *[f"- {res['system']}: `{res['settings']}`" for res in results.values() if res.get("settings")], "",
             "## Detection (sentence ROC AUC of the spun sentences, those the spinner changed, against the clean "
             "articles' sentences; P/R/F1 at each detector's default threshold; token P/R/F1 of its word spans)", "",
             "Every sentence is scored within its article, as `repair check article.txt` scores it: the trained "
             "detectors weigh each sentence's own score with its article's (`context` in the detector's "
             "`repair.json`); v0 scores sentences alone.", "",
             "| system | spinner | AUC | P | R | F1 | token P | token R | token F1 |", "|---|---|---|---|---|---|---|---|---|"]
    for name, res in results.items():
        if name == "free":  # changes text, detects nothing
            continue
        for sp in spinners:
            m = res["metrics"][sp]
            lines.append(f"| {res['system']} | {sp} | " + " | ".join(fmt(m[k]) for k in
                         ("auc", "det_p", "det_r", "det_f1", "tok_p", "tok_r", "tok_f1")) + " |")
    restoring = {k: v for k, v in results.items() if not k.endswith("detector")}
    lines += ["", "## Restoration (edit P/R/F0.5, exact span and replacement; word-error reduction)", "",
              "| system | spinner | edit P | edit R | edit F0.5 | WER reduction |", "|---|---|---|---|---|---|"]
    for name, res in restoring.items():
        for sp in spinners:
            m = res["metrics"][sp]
            lines.append(f"| {res['system']} | {sp} | " + " | ".join(fmt(m[k]) for k in
                         ("edit_p", "edit_r", "edit_f05", "wer_reduction")) + " |")
    lines += ["", "## Clean sentences and speed", "",
              "| system | sentences | clean flagged | capitalised words flagged in clean text | damage (changed words / 1,000) | sentences/s |",
              "|---|---|---|---|---|---|"]
    # --update keeps rows measured elsewhere: a speed means something only with its machine
    where_of = lambda res: res.get("machine", "an unrecorded machine")
    machines = list(dict.fromkeys(map(where_of, results.values())))
    for name, res in results.items():
        m = res["metrics"].get("none", {})
        where = f" (machine {machines.index(where_of(res)) + 1})" if len(machines) > 1 else ""
        lines.append(f"| {res['system']} | {res['n']} | {fmt(m.get('flagged_clean'))} | {fmt(m.get('caps_flagged'))} | "
                     f"{fmt(m.get('damage_per_1000'))} | {res['sentences_per_s']:.2f}{where} |")
    lines += ["", "Speeds measured on " + ("; ".join(f"machine {i}: {m}" for i, m in enumerate(machines, 1))
                                           if len(machines) > 1 else machines[0]) + "."]
    if damage:
        lines += ["", f"## Damage on every clean sentence ({results['default']['system']})", "",
                  f"{damage['sentences']} clean sentences, {damage['words']:,} words: {damage['damage_per_1000']:.3f} "
                  f"changed words per 1,000 ({len(damage['edits'])} edits; the sampled rows above see too few clean "
                  "words to estimate this). The edits:", ""]
        lines += [f"- {e}" for e in damage["edits"]]
    if recall:
        lines += ["", "## Candidates (every word a spinner wrote in devbench: is the author's word among the "
                      "corrector's top k, or among the lexicon's originals of the spun word?)", "",
                  "| spinner | spun words | corrector @1 | @5 | @10 | lexicon |", "|---|---|---|---|---|---|"]
        for sp in spinners + ["all"]:
            m = recall.get(sp, {})
            lines.append(f"| {sp} | {m.get('n', 0)} | {fmt(m.get('@1'))} | {fmt(m.get('@5'))} | {fmt(m.get('@10'))} | "
                         f"{fmt(m.get('lexicon'))} |")
    if "detector" in results:
        lines += ["", f"## Reliability of the sentence score ({results['detector']['system']}, all sentences)", "",
                  "| score | sentences | share spun |", "|---|---|---|"]
        for row in results["detector"]["metrics"]["_reliability"]:
            lines.append(f"| {row['bin']} | {row['n']} | {row['spun_share']:.3f} |")
        lines += ["", f"## Documents ({results['detector']['system']}; document score = sentence log-odds pooled, "
                      f"as `repair batch --min-score` uses it)", "",
                  f"| spinner | rate | documents | flagged at {MIN_SCORE:g} | flagged at {LOW_MIN_SCORE:g} | "
                  "ROC AUC against the clean documents |",
                  "|---|---|---|---|---|---|"]
        for row in results["detector"]["metrics"]["_documents"]:
            lines.append(f"| {row['spinner']} | {fmt(row['rate'])} | {row['n']} | {row['flagged']:.3f} | "
                         f"{row['flagged_low']:.3f} | {fmt(row['auc'])} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
