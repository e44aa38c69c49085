"""Where the author's words are lost: every gold edit of a benchmark, followed through the default
fix stage by stage, per spinner. A measurement for choosing what to work on, never a tuning signal.

    python scripts/funnel.py --per-spinner 150              # devbench, the shipped operating point
    python scripts/funnel.py --per-spinner 150 --lexicon 3  # the lexicon's originals as candidates too
    python scripts/funnel.py --span-threshold 0.3           # the detector points at more words

Each gold edit (canonical, as repair.metrics scores them) ends at the first stage that loses it:
its sentence is not restored (scored below the restore floor); no candidate is the gold edit
(none overlaps its place, or others do); the gold candidate is below the minimum confidence; it is
confident but a rival at the same place won, or it was dropped; or it is restored. Besides: how many
gold edits no detector span points at, and who proposed the gold candidates (model, corrector, lexicon).
"""
from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

from repair.metrics import Counts, canonical

ROOT = Path(__file__).resolve().parents[2]

Place = tuple[int, int, str]  # a canonical edit: start, end (into the text), replacement (lower case)


def _overlap(a: Place, b: Place) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def stage(gold: Place, restored: bool, candidates: list[tuple[Place, float, str]], final: set[Place],
          min_confidence: float) -> str:
    """The stage that loses ``gold``, or "restored". ``restored``: its sentence went to the restorer;
    ``candidates``: every candidate of the text as (canonical edit, confidence, proposer)."""
    if not restored:
        return "lost: sentence not restored"
    mine = [conf for place, conf, _ in candidates if place == gold]
    if not mine:
        there = any(_overlap(place, gold) for place, _, _ in candidates)
        return "lost: no candidate is gold (others there)" if there else "lost: no candidate is gold (none there)"
    best = max(mine)
    if best < min_confidence:
        return "lost: gold below min confidence"
    if gold in final:
        return "restored"
    rivals = [conf for place, conf, _ in candidates if place != gold and _overlap(place, gold)]
    return "lost: a rival won" if rivals and max(rivals) >= best else "lost: dropped"


def run(records: list[dict], articles: dict, repairer) -> dict:
    """Per spinner: gold edits, system edits, true positives and the count at every stage."""
    from repair.doc import Span
    from repair.train.evaluate import document_contexts
    from repair.train.tune_restorer import places

    dec = repairer.restorer
    docs = [articles[(r.get("doc"), r["spinner"], r.get("rate"))] for r in records]
    known = document_contexts(lambda xs: [rep.score for rep in repairer.check_many(xs)], {tuple(d): d for d in docs})
    doc_scores = [known[tuple(d)] for d in docs]
    texts = [r["spun"] for r in records]
    reports = repairer.check_many(texts, document_scores=doc_scores)
    floor, min_conf = min(repairer.threshold, repairer.restore_floor), repairer.edit_confidence
    todo = [(i, s) for i, rep in enumerate(reports) for s in rep.sentences if s.score >= floor]
    local = [[Span(p.start - s.start, p.end - s.start, p.score, p.text) for p in s.spans] for _, s in todo]
    decoded = dec.candidates_many([s.text for _, s in todo], local, [s.alone for _, s in todo],
                                  [doc_scores[i] for i, _ in todo])
    candidates = defaultdict(list)  # record -> [(canonical edit, confidence, proposer)]
    for (i, s), cands in zip(todo, decoded):
        for c in cands:
            conf = dec.confidence(c)
            candidates[i] += [(g, conf, c.proposed) for g in places(c, texts[i], s.start)]
    # what fix gives, from fix itself (not rebuilt from the candidates above): the stages are judged
    # against the product's real output, at the cost of decoding twice
    results = repairer.fix_many(texts, document_scores=doc_scores)
    out: dict = defaultdict(Counter)
    for i, r in enumerate(records):
        f = out[r["spinner"]]
        gold = canonical([(g["start"], g["end"], g["original"]) for g in r["edits"]], texts[i])
        final = canonical([(e.start, e.end, e.after) for e in results[i].edits], texts[i])
        f["gold"] += len(gold)
        f["system"] += len(final)
        f["tp"] += len(final & gold)
        for g in gold:
            sent = next((s for s in reports[i].sentences if s.start <= g[0] < s.end), None)
            f[stage(g, sent is not None and sent.score >= floor, candidates[i], final, min_conf)] += 1
            if sent is not None and not any(p.start < g[1] and g[0] < p.end for p in sent.spans):
                f["(no detector span points at it)"] += 1
            proposers = {who for place, _, who in candidates[i] if place == g}
            for who in proposers:
                f[f"(a candidate from the {who})"] += 1
    return out


def report(out: dict) -> list[str]:
    lines = []
    for spinner, f in sorted(out.items()):
        c = Counts(f["tp"], f["system"] - f["tp"], f["gold"] - f["tp"])
        lines += ["", f"{spinner}: {f['gold']} gold edits, {f['system']} system edits: "
                      f"P {c.precision:.3f} R {c.recall:.3f} F0.5 {c.f(0.5):.3f}"]
        lines += [f"  {k:46s} {v:5d}  {v / max(1, f['gold']):.3f}" for k, v in sorted(f.items())
                  if k not in ("gold", "system", "tp")]
    return lines


def main():
    from repair.pipeline import Repairer
    from repair.train.evaluate import sample

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", default=str(ROOT.parent / "shared" / "data" / "eval" / "devbench.jsonl"))
    ap.add_argument("--per-spinner", type=int, default=150, help="sentences per spinner (0: all)")
    ap.add_argument("--seed", type=int, default=13, help="the sample make eval draws with the same seed")
    ap.add_argument("--lexicon", type=int, default=None, help="lexicon originals scored at each pointed word")
    ap.add_argument("--pointed-at", choices=["first", "all"], default=None)
    ap.add_argument("--span-threshold", type=float, default=None,
                    help="word p(substituted) at which the detector points (its default: 0.5)")
    args = ap.parse_args()
    if not Path(args.bench).exists():
        ap.exit(2, f"error: {args.bench} not found (the benchmark is in ../shared)\n")
    records = [json.loads(line) for line in open(args.bench, encoding="utf-8")]
    articles = defaultdict(list)
    for r in records:
        articles[(r.get("doc"), r["spinner"], r.get("rate"))].append(r["spun"])
    repairer = Repairer()
    if args.lexicon is not None:
        repairer.restorer.lexicon_branches = args.lexicon
    if args.pointed_at:
        repairer.restorer.pointed_at = args.pointed_at
    if args.span_threshold is not None:
        repairer.detector.span_threshold = args.span_threshold
    picked = [r for r in sample(records, args.per_spinner, args.seed) if r["spinner"] != "none"]
    print(f"{args.bench}, {args.per_spinner} a spinner (seed {args.seed}), signature "
          f"{repairer.signature(repairer.threshold, repairer.edit_confidence, repairer.restore_floor)}")
    for line in report(run(picked, articles, repairer)):
        print(line)
