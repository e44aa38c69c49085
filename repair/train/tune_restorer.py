"""Choose the restorer's operating point on held-out training articles (never on devbench).

    python scripts/tune_restorer.py --per-spinner 150 --clean 800 --margin 0.3 --pointed 3 --pointed-at all \\
        --fit-per-spinner 120 --fit-clean 500 --max-damage 0.4 --candidates runs/tune.pkl --write

Runs the default detector and the trained restorer with every gate open (minimum confidence 0,
every sentence restored) on two disjoint samples of the validation split: the *fit* sample
(``--fit-per-spinner`` sentences of each spinner, ``--fit-clean`` clean ones), on which a reranker
over each candidate's evidence (``repair.restore.rerank_features``; a logistic regression, or with
``--hidden N`` a layer of N tanh units) is fitted, and the *tune* sample (``--per-spinner``, ``--clean``), on which every setting is measured: the hand rule of
``EditDecoder.confidence`` (offset for edits the detector did not point at, lexicon bonus, detector
weighting) against the reranker, branches at the first word of each detector span or at all of
them, the minimum confidence and the restore threshold. It prints edit F0.5 per spinner and damage
on clean sentences for each setting; ``--write`` stores the recommended one in the adapter's
``repair.json`` as ``operating_point`` (the restorer reads it from there).
"""
from __future__ import annotations

import argparse
import itertools
import json
import pickle
import random
import sys
from collections import defaultdict
from dataclasses import fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
from repair.metrics import Counts, canonical, damage_per_1000, edit_counts
from repair.train.evaluate import apply, document_contexts
from repair.train.common import records

from repair.backends.resources import model_path
from repair.restore import RERANK_FEATURES, LocalEdit, accepted, pieces, rerank_features
from repair.restore.rerank import passes_screen
from repair.restore.edits import Candidate, chosen, ranked, with_leads
from repair.doc import Span, sigmoid


def samples(data: Path, sizes: dict, fit_sizes: dict, seed: int):
    """The tune and fit samples: disjoint, drawn per spinner from the validation split; and each
    sampled sentence's article (every validation sentence of it, in order), for its document score."""
    by, articles = defaultdict(list), defaultdict(list)
    for r in records(data, "val"):
        by[r["spinner"]].append(r)
        articles[r["article"]].append(r["spun"])
    rng = random.Random(seed)
    tune, fit = [], []
    for sp in sorted(by):
        pool = rng.sample(by[sp], min(len(by[sp]), sizes[sp == "none"] + fit_sizes[sp == "none"]))
        tune += pool[:sizes[sp == "none"]]
        fit += pool[sizes[sp == "none"]:]
    wanted = {r["article"] for r in tune + fit}
    return tune, fit, {a: s for a, s in articles.items() if a in wanted}


def contexts(rep, articles: dict) -> dict:
    """What the article says of each of its sentences, as ``Repairer.fix`` computes it: article -> the
    pooled score of its sentences (``repair.doc.context_scores``)."""
    return document_contexts(lambda xs: [ev.score for ev in rep.detector.detect(xs)], articles)


def with_context(rows, context: dict, calibration=None, drop: float = 0.0, seed: int = 0):
    """The rows with each candidate's ``document`` set to its sentence's context, and the score the
    restore threshold reads weighed with it by the detector's ``calibration``, as ``Repairer.fix_many``
    gates sentences; a share ``drop`` of the records gets none (a one-sentence text: its own score), so
    a reranker fitted on them learns that case too."""
    rng = random.Random(seed)
    out = []
    for r, score, cands in rows:
        doc = None if rng.random() < drop else context[r["article"]]
        gate = score if doc is None or calibration is None else calibration(score, doc)
        out.append((r, gate, [replace(c, document=doc) for c in cands]))
    return out


def decode(rep, recs, band: float | None = None):
    """(record, sentence score, candidates) for each record, every gate open. With ``band``, the restorer is
    also pointed at every word the detector gives at least ``band`` but less than its span threshold, each a
    span of its own; each record then keeps the detector's spans and those words (``"spans"``, ``"band"``:
    ``(start, end, p)``), so that :func:`banded` can give back the decode with fewer of them."""
    texts = [r["spun"] for r in recs]
    reports = rep.check_many(texts)
    spans = [[p for s in report.sentences for p in s.spans] for report in reports]
    scores = [report.score if not report.sentences else max(s.alone for s in report.sentences) for report in reports]
    if band is not None:
        extra = band_words(rep.detector, reports, band)
        recs = [dict(r, spans=[(p.start, p.end, p.score) for p in sp], band=[(p.start, p.end, p.score) for p in ex])
                for r, sp, ex in zip(recs, spans, extra)]
        spans = [sorted(sp + ex, key=lambda p: p.start) for sp, ex in zip(spans, extra)]
    return [(r, score, cands) for r, score, cands in zip(recs, scores, rep.restorer.candidates_many(texts, spans, scores))]


def band_words(detector, reports, low: float) -> list[list[Span]]:
    """Per report, a one-word span (offsets into its text) at each word of its sentences that the detector gives
    p(substituted) in ``[low, span_threshold)``: the words it suspects without pointing at them."""
    sents = [(i, s) for i, report in enumerate(reports) for s in report.sentences]
    out: list[list[Span]] = [[] for _ in reports]
    for (i, s), (toks, logits) in zip(sents, detector.word_logits([s.text for _, s in sents])):
        for t, z in zip(toks, logits):
            p = sigmoid(z) if z != float("-inf") else 0.0
            if low <= p < detector.span_threshold:
                out[i].append(Span(s.start + t.start, s.start + t.end, p, t.text))
    return out


def banded(rows, floor: float | None):
    """The rows of a ``decode(..., band=...)`` as a decode pointed at the band's words from ``floor`` on only
    (None: at none of them, the detector's spans alone) would have given them: a candidate proposed at a
    pointed word (forced: the restorer's branches there, the lexicon's and the corrector's originals) is
    dropped where no kept span is under it; every other keeps its evidence as the kept spans give it (the
    detector's score, whether it begins a span, the corrector's look at its first word). A proposal that begins
    at a dropped word is dropped too, and so is a corrector's proposal over one (its run of first choices ran
    on through the word: the run that stops before it is lost, which makes the narrower decode approximate)."""
    out = []
    for r, s, cands in rows:
        if "band" not in r:
            out.append((r, s, cands))
            continue
        kept = r["spans"] + [b for b in r["band"] if floor is not None and b[2] >= floor]
        dropped = [(a, b) for a, b, p in r["band"] if floor is None or p < floor]
        new = []
        for c in cands:
            under = [p for a, b, p in kept if a < c.end and c.start < b]
            over = [(a, b) for a, b in dropped if a < c.end and c.start < b]
            if c.forced and (not under or any(a <= c.start < b for a, b in over)
                             or (c.proposed == "corrector" and over)):
                continue
            looked = any(a <= c.start < b for a, b, _ in kept)
            new.append(replace(c, pointed=max(under) if under else None,
                               span_start=any(a == c.start for a, _, _ in kept),
                               **({} if looked else {"channel": None, "keep": None})))
        out.append((r, s, with_leads(ranked(new))))
    return out


def with_fluency(dec, rows):
    """The rows with every candidate's ``fluency`` set by the decoder's base language model."""
    cands = dec.with_fluency([r["spun"] for r, _, _ in rows], [c for _, _, c in rows])
    return [(r, score, c) for (r, score, _), c in zip(rows, cands)]


def screened(rows, screen: dict | None):
    """The rows with ``fluency`` cleared where the screen (a reranker and its ``floor``) would not have had the
    base model score the candidate (``EditDecoder.with_fluency``)."""
    if screen is None:
        return rows
    return [(r, s, with_leads([c if passes_screen(screen, c) else replace(c, fluency=None) for c in cands]))
            for r, s, cands in rows]


def at(rows, mode: str, corrector_floor: float = 0.0):
    """The rows as a narrower decode would have given them: branches at the first span word only (mode
    "first", from an "all" decode), without the lexicon's proposals (unless the mode has "+lexicon"),
    without the corrector's proposals and evidence (unless it has "+corrector"), and without the corrector's
    proposals it gives less than ``corrector_floor`` (``EditDecoder.corrector_floor``)."""
    pointed_at, *extra = mode.split("+")
    # the corrector proposes at every word the detector points at, whatever the pointing mode: only the
    # restorer's own branches and the lexicon's proposals are narrowed to a span's first word
    inner = lambda c: c.proposed == "corrector" or not c.forced or c.span_start
    keep = lambda c: ((pointed_at == "all" or inner(c)) and (c.proposed == "model" or c.proposed in extra)
                      and (c.proposed != "corrector" or (c.channel or 0.0) >= corrector_floor))
    bare = (lambda c: c) if "corrector" in extra else (lambda c: replace(c, channel=None, keep=None))
    return [(r, s, with_leads(ranked([bare(c) for c in cands if keep(c)]))) for r, s, cands in rows]


def upgraded(rows):
    """Rows decoded by an earlier version: candidates pickled without the fields added since read their defaults."""
    fresh = lambda c: Candidate(**{f.name: getattr(c, f.name, f.default) for f in fields(Candidate)})
    return [(r, s, [fresh(c) for c in cands]) for r, s, cands in rows]


def coverage(rows, spinners) -> None:
    """Candidate recall: the share of gold edits (canonical) among the candidates, per spinner, of each
    source (the restorer's own branches, the lexicon's and the corrector's proposals) and of all of them
    together; it caps the recall any confidence rule can reach."""
    sources = sorted({c.proposed for _, _, cands in rows for c in cands})
    found = {(sp, src): 0 for sp in spinners for src in [*sources, "all"]}
    gold_n = dict.fromkeys(spinners, 0)
    for r, _, cands in rows:
        if r["spinner"] not in gold_n:
            continue
        gold = canonical([(g["start"], g["end"], g["original"]) for g in r["edits"]], r["spun"])
        gold_n[r["spinner"]] += len(gold)
        by = {src: set() for src in sources}
        for c in cands:
            by[c.proposed] |= places(c, r["spun"])
        for src in sources:
            found[r["spinner"], src] += len(gold & by[src])
        found[r["spinner"], "all"] += len(gold & set().union(*by.values()))
    print("candidate recall (gold edits among the candidates), held-out tune sentences\n")
    print("| source | " + " | ".join(spinners) + " |")
    print("|" + "---|" * (len(spinners) + 1))
    for src in [*sources, "all"]:
        print(f"| {src} | " + " | ".join(f"{found[sp, src] / max(gold_n[sp], 1):.3f}" for sp in spinners) + " |")
    print()


CHANNEL_FEATURES = ("from_corrector", "channel", "channel_log", "channel_keep", "no_channel")
FLUENCY_FEATURES = ("fluency", "no_fluency", "fluency_lead", "no_fluency_rival", "neighbour_fluency")
# clean weights tried for reranker_alone besides --clean-weights: without its article a sentence's candidates
# need a heavier penalty on clean edits to keep within the damage cap
ALONE_WEIGHTS = (30.0, 60.0, 100.0, 150.0, 200.0, 300.0, 1000.0)


def places(c: Candidate, text: str, at: int = 0) -> set:
    """The canonical edits the candidate makes as it is applied (split into the words it changes, ``pieces``);
    ``at``: where its sentence begins in ``text``."""
    made = pieces(LocalEdit(c.start + at, c.end + at, c.before, c.after, 1.0))
    return canonical([(p.start, p.end, p.after) for p in made], text)


def is_gold(c: Candidate, text: str, gold: set) -> bool:
    """Is the candidate, as it would be applied, exactly gold edits?"""
    made = places(c, text)
    return bool(made) and made <= gold


def fit_reranker(rows, clean_weight: float = 1.0, l2: float = 1e-3, features=RERANK_FEATURES, hidden: int = 0) -> dict:
    """Logistic regression: is this candidate exactly a gold edit? Candidates in clean sentences weigh
    ``clean_weight`` times the others (an edit to good text costs an editor more than a missed one).
    Fitted with L-BFGS on standardized features; the weights returned apply to the raw features.
    ``hidden`` > 0: a layer of that many tanh units between the features and the output instead."""
    import torch

    xs, ys, weight = [], [], []
    for r, _, cands in rows:
        gold = canonical([(g["start"], g["end"], g["original"]) for g in r["edits"]], r["spun"])
        for c in cands:
            xs.append(rerank_features(c, features))
            ys.append(float(is_gold(c, r["spun"], gold)))
            weight.append(clean_weight if r["spinner"] == "none" else 1.0)
    x, y = torch.tensor(xs, dtype=torch.float64), torch.tensor(ys, dtype=torch.float64)
    wt = torch.tensor(weight, dtype=torch.float64)
    mu, sd = x.mean(0), x.std(0).clamp_min(1e-6)
    mu[0], sd[0] = 0.0, 1.0  # the bias column
    z = (x - mu) / sd
    if hidden:
        return fit_network(z, y, wt, mu, sd, hidden, l2) | {"features": list(features), "clean_weight": clean_weight,
                                                           "candidates": len(ys), "positives": int(sum(ys))}
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        bce = torch.nn.functional.binary_cross_entropy_with_logits(z @ w, y, reduction="none")
        loss = (bce * wt).sum() / wt.sum() + l2 * (w[1:] ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    raw = (w.detach() / sd)
    raw[0] = w.detach()[0] - (w.detach()[1:] * mu[1:] / sd[1:]).sum()
    return {"features": list(features), "weights": [round(v, 6) for v in raw.tolist()],
            "clean_weight": clean_weight, "candidates": len(ys), "positives": int(sum(ys))}


def fit_network(z, y, wt, mu, sd, hidden: int, l2: float) -> dict:
    """One layer of ``hidden`` tanh units and a logistic output over the standardized features ``z``,
    fitted with L-BFGS on the weighted cross-entropy (L2 on every weight but the biases), from a fixed
    seed; the layers as ``repair.restore.rerank_confidence`` reads them."""
    import torch

    gen = torch.Generator().manual_seed(0)
    w1 = (torch.randn(hidden, z.shape[1], generator=gen, dtype=torch.float64) / z.shape[1] ** 0.5).requires_grad_()
    b1 = torch.zeros(hidden, dtype=torch.float64, requires_grad=True)
    w2 = (torch.randn(hidden, generator=gen, dtype=torch.float64) / hidden ** 0.5).requires_grad_()
    b2 = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w1, b1, w2, b2], max_iter=1000, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logits = torch.tanh(z @ w1.T + b1) @ w2 + b2
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
        loss = (bce * wt).sum() / wt.sum() + l2 * ((w1[:, 1:] ** 2).sum() + (w2 ** 2).sum())
        loss.backward()
        return loss

    opt.step(closure)
    r = lambda t: [round(v, 6) for v in t.detach().tolist()]
    return {"mean": r(mu), "scale": r(sd), "hidden": [r(row) for row in w1], "hidden_bias": r(b1),
            "output": r(w2), "output_bias": round(b2.item(), 6)}


def fit_alone(dec, fit_rows, alone_rows, features, clean_weights, conf, thr, spinners, max_damage, hidden=0,
              joint_share=None):
    """The reranker for sentences without an article around them (``reranker_alone``): fitted without the
    document's score, at each clean weight, and measured at the chosen gates on the tune sentences
    stripped of their context; the best mean F0.5 within the damage cap (None if none is)."""
    feats = [f for f in features if f not in ("document", "no_document")]
    best = None
    for w in clean_weights:
        rr = fit_reranker(fit_rows, w, features=feats, hidden=hidden)
        _, _, (mean, damage, f05) = next(measure(dec, alone_rows, dict(reranker=rr), [conf], [thr], spinners, joint_share))
        print(f"reranker alone, clean weight {w:g}: mean F0.5 {mean:.3f} ("
              + ", ".join(f"{sp} {f:.3f}" for sp, f in zip(spinners, f05)) + f"), damage {damage:.2f}")
        if damage <= max_damage and (best is None or mean > best[0]):
            best = (mean, rr | {"heldout_mean_f05": round(mean, 3), "heldout_clean_damage_per_1000": round(damage, 2)})
    return None if best is None else best[1]


def measure(dec, rows, kw, confs, thresholds, spinners, joint_share=None):
    """(min confidence, restore threshold, (mean F0.5, clean damage per 1,000 words, F0.5 per spinner))
    of one confidence scorer (``kw`` for ``EditDecoder.confidence``) at every gate setting; with
    ``joint_share``, edits touching an applied one are applied from that share of the minimum
    (``repair.restore.accepted``)."""
    scored_rows = [(r, score, chosen([LocalEdit(c.start, c.end, c.before, c.after, dec.confidence(c, **kw))
                                      for c in cands]))
                   for r, score, cands in rows]
    for conf, thr in itertools.product(confs, thresholds):
        counts, outs, origs = defaultdict(Counts), [], []
        for r, score, scored in scored_rows:
            keep = []
            if score >= thr:
                keep = [(e.start, e.end, e.after) for e in accepted(scored, r["spun"], conf, joint_share)]
            gold = [(g["start"], g["end"], g["original"]) for g in r["edits"]]
            counts[r["spinner"]].add(edit_counts(keep, gold, r["spun"]))
            if r["spinner"] == "none":
                outs.append(apply(r["spun"], keep))
                origs.append(r["original"])
        f05 = [counts[sp].f(0.5) for sp in spinners]
        yield conf, thr, (sum(f05) / len(f05), damage_per_1000(outs, origs), f05)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data/spin"))
    ap.add_argument("--per-spinner", type=int, default=60)
    ap.add_argument("--clean", type=int, default=600, help="clean held-out sentences for the damage estimate")
    ap.add_argument("--fit-per-spinner", type=int, default=0, help="sentences per spinner to fit the reranker on "
                    "(0: no reranker)")
    ap.add_argument("--fit-clean", type=int, default=0)
    ap.add_argument("--clean-weights", type=float, nargs="+", default=[1.0, 3.0, 10.0, 20.0, 30.0, 60.0],
                    help="weights of clean-sentence candidates in the reranker's loss (each is fitted and measured)")
    ap.add_argument("--hidden", type=int, nargs="+", default=[0],
                    help="rerankers to fit: 0 a logistic regression, N a layer of N tanh units (each is measured)")
    ap.add_argument("--without", nargs="*", default=[], choices=RERANK_FEATURES,
                    help="features the reranker does not read (an ablation, or a reranker that must not see them)")
    ap.add_argument("--compare-without", nargs="*", default=[], choices=RERANK_FEATURES,
                    help="also fit and measure rerankers without these features, side by side")
    ap.add_argument("--no-context", type=float, default=0.3,
                    help="share of the fit sentences seen without their article's context (one-sentence texts)")
    ap.add_argument("--skip-rules", action="store_true", help="measure the rerankers only (the rule sweep is most "
                    "of a sweep's time)")
    ap.add_argument("--margin", type=float, default=1.0)
    ap.add_argument("--pointed", type=int, default=0, help="branches opened at each detector-pointed word")
    ap.add_argument("--pointed-at", choices=["first", "all"], default="first",
                    help="decode with branches at every word of a detector span (all: both are measured)")
    ap.add_argument("--lexicon", type=int, default=0, help="score N of the lexicon's originals at each pointed word too "
                    "(those whose first token the restorer finds likeliest; measured with and without them)")
    ap.add_argument("--corrector", type=int, default=0, help="score N of the corrector head's originals at each pointed "
                    "word too, and give the reranker the head's evidence (measured with and without them)")
    ap.add_argument("--corrector-floor", type=float, default=0.0, help="the corrector's proposals it gives less than "
                    "this probability are not scored (measured on the same decode, and written)")
    ap.add_argument("--point-band", type=float, default=None, help="also point the restorer at every word the "
                    "detector gives at least this but less than its span threshold, a span each (measured, not "
                    "written; the decode keeps them apart, so --band-floor measures fewer on the same decode)")
    ap.add_argument("--band-floor", type=float, default=None, help="with --point-band: measure the decode pointed "
                    "at the band's words from this p(substituted) on only (default: at none of them)")
    ap.add_argument("--span-threshold", type=float, default=None,
                    help="word p(substituted) at which the detector points (its default: 0.5); measured, not shipped")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--max-damage", type=float, default=1.0, help="changed words per 1,000 clean words")
    ap.add_argument("--max-damage-alone", type=float, default=None, help="the damage cap of the reranker for "
                    "one-sentence texts (default: --max-damage)")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--candidates", type=Path, help="keep the decoded candidates in this file and reuse them when it "
                    "exists (the model pass is most of the time; the sweep itself takes seconds)")
    ap.add_argument("--tolerance", type=float, default=0.005, help="F0.5 within which settings count as equal")
    ap.add_argument("--joint-shares", type=float, nargs="+", default=[0.0],
                    help="shares of the minimum confidence at which an edit touching an applied one is applied too "
                         "(a run of adjacent edits decided together), measured at the recommended point; 0: each "
                         "edit alone")
    ap.add_argument("--fluency", type=int, default=None, help="give every candidate the base language model's gain over "
                    "the replaced words and N tokens after them (Candidate.fluency; its own cache beside --candidates)")
    ap.add_argument("--fluency-floor", type=float, default=0.0, help="with --fluency: the base model scores only the "
                    "candidates a reranker without fluency (or the document's score) gives at least this (0: every one)")
    ap.add_argument("--write", action="store_true", help="store the recommended setting in the adapter's repair.json")
    args = ap.parse_args()
    if args.write and args.span_threshold is not None:
        ap.error("--span-threshold is measured, not written: the shipped decoder is given the detector's own spans")
    if args.write and args.point_band is not None:
        ap.error("--point-band is measured, not written: the shipped decoder is given the detector's own spans")

    tune, fit, articles = samples(args.data, {False: args.per_spinner, True: args.clean},
                        {False: args.fit_per_spinner, True: args.fit_clean}, args.seed)

    from repair import Repairer

    rep = Repairer(restore_threshold=0.0)  # every sentence: the sweep applies the restore threshold itself
    if args.span_threshold is not None:
        rep.detector.span_threshold = args.span_threshold
    dec = rep.restorer
    dec.margin, dec.pointed_branches, dec.pointed_at, dec.offset_in = args.margin, args.pointed, args.pointed_at, 0.0
    dec.lexicon_branches, dec.corrector_branches = args.lexicon, args.corrector
    dec.corrector_floor = 0.0  # every proposal decoded: --corrector-floor is applied to the candidates, as measured
    dec.fluency_window, dec.fluency_screen = None, None  # scored after the decode (every candidate), with --fluency
    key = (args.data.resolve().as_posix(), args.per_spinner, args.clean, args.fit_per_spinner, args.fit_clean,
           args.seed, args.margin, args.pointed, args.pointed_at, repr(dec.config.get("trained")))
    key += (args.lexicon, "prescreened") if args.lexicon else ()  # decodes without it keep their old key
    key += ("corrector", args.corrector) if args.corrector else ()
    key += ("bf16",) if dec.dtype == dec.torch.bfloat16 else ()  # float32 decodes keep their old key
    key += ("span", args.span_threshold) if args.span_threshold is not None else ()
    key += ("band", args.point_band) if args.point_band is not None else ()
    if args.candidates and args.candidates.exists() and pickle.loads(args.candidates.read_bytes())[0] == key:
        rows, fit_rows = map(upgraded, pickle.loads(args.candidates.read_bytes())[1])
    else:
        rows, fit_rows = decode(rep, tune, args.point_band), decode(rep, fit, args.point_band)
        if args.candidates:
            args.candidates.write_bytes(pickle.dumps((key, (rows, fit_rows))))
    if args.fluency is not None:  # annotated apart from the decode, so that windows are compared on the same candidates
        cached = args.candidates and args.candidates.with_suffix(f".fluency{args.fluency}.pkl")
        key += ("fluency", args.fluency)
        if cached and cached.exists() and pickle.loads(cached.read_bytes())[0] == key:
            rows, fit_rows = map(upgraded, pickle.loads(cached.read_bytes())[1])
        else:
            dec.fluency_window = args.fluency
            rows, fit_rows = with_fluency(dec, rows), with_fluency(dec, fit_rows)
            if cached:
                cached.write_bytes(pickle.dumps((key, (rows, fit_rows))))
    rows, fit_rows = banded(rows, args.band_floor), banded(fit_rows, args.band_floor)
    context = contexts(rep, articles)  # the tune rows have their article's context, as in a fix of it
    calibration = rep.detector.context
    rows = with_context(rows, context, calibration)
    fit_rows = with_context(fit_rows, context, calibration, args.no_context, args.seed)
    spinners = sorted({r["spinner"] for r, _, _ in rows} - {"none"})
    coverage(rows, spinners)
    modes = ["first", "all"] if args.pointed_at == "all" else ["first"]
    modes += [m + "+lexicon" for m in modes] if args.lexicon else []
    modes += [m + "+corrector" for m in modes] if args.corrector else []
    rules = [(off, bonus, weighted) for off, bonus, weighted in
             itertools.product([-4.0, -2.0, -1.0, 0.0], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [False, True])
             if not args.skip_rules]
    features = [f for f in RERANK_FEATURES if f not in args.without
                and (args.fluency is not None or f not in FLUENCY_FEATURES)]  # unscored: constant, read by no reranker
    variants = {"": features}  # name suffix -> the features its rerankers read
    if args.compare_without:
        variants[" without " + ",".join(args.compare_without)] = [f for f in features if f not in args.compare_without]
    # a mode without the corrector has no channel evidence: its rerankers do not read it
    mode_features = lambda mode, feats: [f for f in feats if "corrector" in mode or f not in CHANNEL_FEATURES]
    # the screen of each mode: the candidates the base model scores (as EditDecoder.with_fluency screens them)
    floor = args.corrector_floor
    screens = {mode: fit_reranker(at(fit_rows, mode, floor), args.clean_weights[0], hidden=args.hidden[0], features=[
        f for f in mode_features(mode, features) if f not in (*FLUENCY_FEATURES, "document", "no_document")])
        | {"floor": args.fluency_floor} for mode in modes} if args.fluency is not None and args.fluency_floor else {}
    view = lambda rows, mode: screened(at(rows, mode, floor), screens.get(mode))
    rerankers = {(mode, f"{w:g}{v}" + (f", {h} hidden units" if h else "")):
                 fit_reranker(view(fit_rows, mode), w, features=mode_features(mode, feats), hidden=h)
                 for mode in modes for w in args.clean_weights for v, feats in variants.items() for h in args.hidden
                 if fit_rows}
    results, scorer_kw = [], {}  # scorer_kw: (mode, scorer name) -> its arguments for EditDecoder.confidence
    for mode in modes:
        mode_rows = view(rows, mode)
        scorers = [(("rule", off, bonus, weighted), dict(offset_out=off, offset_lexicon=bonus,
                                                          detector_weighted=weighted, reranker=False))
                   for off, bonus, weighted in rules]
        scorers += [(("reranker", key), dict(reranker=rr)) for (m, key), rr in rerankers.items() if m == mode]
        for name, kw in scorers:
            scorer_kw[mode, name] = kw
            confs = [0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97]
            for conf, thr, (mean, damage, f05) in measure(dec, mode_rows, kw, confs, [0.0, 0.3, 0.5], spinners):
                results.append((mean, damage, (mode, name, conf, thr), f05))
    print(f"{len(rows)} held-out tune sentences, {len(fit_rows)} fit sentences; settings with clean damage <= "
          f"{args.max_damage} per 1,000 words, best first\n")
    print("| branches at | confidence | min conf | restore thr | " + " | ".join(f"{sp} F0.5" for sp in spinners)
          + " | mean | clean damage /1000 |")
    print("|" + "---|" * (len(spinners) + 6))
    ok = sorted((r for r in results if r[1] <= args.max_damage), key=lambda r: -r[0])
    show = lambda name: (f"reranker clean weight {name[1]}" if name[0] == "reranker"
                         else f"rule off {name[1]} lex {name[2]} weighted {name[3]}")
    for mean, damage, (mode, name, conf, thr), f05 in ok[:args.top]:
        print(f"| {mode} | {show(name)} | {conf} | {thr} | " + " | ".join(f"{f:.3f}" for f in f05)
              + f" | {mean:.3f} | {damage:.2f} |")
    for mode in modes:  # the best of each kind, for the record
        for kind in ("rule", "reranker"):
            best = [r for r in ok if r[2][0] == mode and r[2][1][0] == kind]
            if best:
                print(f"best {kind} at {mode}: mean F0.5 {best[0][0]:.3f}, damage {best[0][1]:.2f} ({best[0][2]})")
    if not ok:
        return
    # the F0.5 surface is flat at the top: of the settings near the best, take the least damage
    near = [r for r in ok if r[0] >= ok[0][0] - args.tolerance]
    # (of those equal to the printed precision, the highest restore threshold: fewer sentences to decode)
    mean, damage, (mode, name, conf, thr), f05 = min(near, key=lambda r: (r[1], -round(r[0], 3), -r[2][3]))
    print(f"\nrecommended (least clean damage within {args.tolerance} F0.5 of the best): branches at {mode}, "
          f"{show(name)}, min confidence {conf}, restore threshold {thr} "
          f"(mean F0.5 {mean:.3f}, damage {damage:.2f} per 1,000 clean words)")
    # a run of adjacent edits decided together: the share of the minimum confidence at which an edit
    # touching an applied one is applied too, measured at the recommended point (0: each edit alone)
    kw = scorer_kw[mode, name]
    joint = []
    for share in args.joint_shares:
        _, _, (m1, d1, f1) = next(measure(dec, view(rows, mode), kw, [conf], [thr], spinners, share))
        print(f"runs decided together from {share:g} of the minimum confidence: mean F0.5 {m1:.3f} ("
              + ", ".join(f"{sp} {f:.3f}" for sp, f in zip(spinners, f1)) + f"), damage {d1:.2f}")
        if d1 <= args.max_damage:
            joint.append((m1, d1, share, f1))
    joint_share = 0.0
    if joint:
        best = max(joint, key=lambda j: j[0])
        if best[0] > mean:  # else each edit alone, as measured above
            mean, damage, joint_share, f05 = best
            print(f"recommended: runs decided together from {joint_share:g} of the minimum confidence")
    alone = None
    if name[0] == "reranker":  # the same setting on one-sentence texts: no article context
        alone_rows = view(with_context(rows, context, calibration, drop=1.0), mode)
        _, _, (m1, d1, f1) = next(measure(dec, alone_rows, kw, [conf], [thr], spinners, joint_share))
        print(f"the same on the tune sentences without their article's context: mean F0.5 {m1:.3f} ("
              + ", ".join(f"{sp} {f:.3f}" for sp, f in zip(spinners, f1)) + f"), damage {d1:.2f} per 1,000 clean words")
        if {"document", "no_document"} & set(rerankers[mode, name[1]]["features"]):
            alone = fit_alone(dec, view(fit_rows, mode), alone_rows, rerankers[mode, name[1]]["features"],
                              sorted({*args.clean_weights, *ALONE_WEIGHTS}), conf, thr, spinners,
                              args.max_damage if args.max_damage_alone is None else args.max_damage_alone,
                              hidden=len(rerankers[mode, name[1]].get("hidden", [])), joint_share=joint_share)
            if alone is None:
                print("no reranker for one-sentence texts keeps within the damage cap: they would be scored by the "
                      "document reranker with no document (few edits)")
    if args.write:
        path = model_path("restorer") / "repair.json"
        config = json.loads(path.read_text())
        point = {"min_confidence": conf, "margin": args.margin, "restore_threshold": thr,
                 "pointed_branches": args.pointed, "pointed_at": mode.partition("+")[0],
                 "lexicon_branches": args.lexicon if "+lexicon" in mode else 0,
                 "corrector_branches": args.corrector if "+corrector" in mode else 0,
                 "corrector_floor": floor if "+corrector" in mode else 0.0, "joint_share": joint_share,
                 "fluency_window": None, "fluency_screen": None}
        if name[0] == "reranker":
            reads = set(rerankers[mode, name[1]]["features"]) | set((alone or {}).get("features", []))
            point |= {"reranker": rerankers[mode, name[1]], "detector_weighted": False,
                      "fluency_window": args.fluency if reads & set(FLUENCY_FEATURES) else None,
                      "fluency_screen": screens.get(mode) if reads & set(FLUENCY_FEATURES) else None,
                      "offset_out": dec.offset_out, "offset_lexicon": dec.offset_lexicon}
            if alone is not None:
                point["reranker_alone"] = alone
        else:
            point |= {"reranker": None, "offset_out": name[1], "offset_lexicon": name[2], "detector_weighted": name[3]}
        point |= {"chosen_by": "python " + " ".join(sys.argv) + f" ({len(rows)} held-out tune sentences, "
                  f"{len(fit_rows)} fit sentences, never devbench): of the settings within {args.tolerance} mean "
                  f"F0.5 of the best with clean damage <= {args.max_damage}, the least damage",
                  "heldout_f05": {sp: round(f, 3) for sp, f in zip(spinners, f05)},
                  "heldout_mean_f05": round(mean, 3), "heldout_clean_damage_per_1000": round(damage, 2)}
        config["operating_point"] = point
        path.write_text(json.dumps(config, indent=2) + "\n")
        print(f"wrote the operating point to {path}")


if __name__ == "__main__":
    main()
