"""Choose the restorer's operating point on held-out training articles (never on devbench).

    python scripts/tune_restorer.py --data data/spin --per-spinner 150 --clean 800 --margin 0.3

Runs the default detector and the trained restorer with every gate open (minimum confidence 0,
every sentence restored) on ``--per-spinner`` held-out sentences of each spinner, then sweeps
the confidence offset for edits the detector did not point at, the lexicon bonus, detector
weighting (see ``EditDecoder.confidence``), the minimum confidence and the restore threshold, printing edit F0.5 per spinner and damage on clean sentences for each setting.
The chosen setting goes into the adapter's ``repair.json`` as ``operating_point`` (the restorer reads
its ``min_confidence`` from there; a fresh export of ``train_restorer.py`` has none until this is run).
"""
from __future__ import annotations

import argparse
import itertools
import pickle
import random
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from repair.metrics import Counts, damage_per_1000, edit_counts  # noqa: E402
from evaluate import apply  # noqa: E402
from trainlib import records  # noqa: E402

from repair.restore import LocalEdit, non_overlapping  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data/spin"))
    ap.add_argument("--per-spinner", type=int, default=60)
    ap.add_argument("--clean", type=int, default=600, help="clean held-out sentences for the damage estimate")
    ap.add_argument("--margin", type=float, default=1.0)
    ap.add_argument("--pointed", type=int, default=0, help="branches opened at each detector-pointed word")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--max-damage", type=float, default=1.0, help="changed words per 1,000 clean words")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--candidates", type=Path, help="keep the decoded candidates in this file and reuse them when it "
                    "exists (the model pass is most of the time; the sweep itself takes seconds)")
    ap.add_argument("--tolerance", type=float, default=0.005, help="F0.5 within which settings count as equal")
    args = ap.parse_args()

    by = defaultdict(list)
    for r in records(args.data, "val"):
        by[r["spinner"]].append(r)
    rng = random.Random(args.seed)
    size = {sp: args.clean if sp == "none" else args.per_spinner for sp in by}
    recs = [r for sp in sorted(by) for r in rng.sample(by[sp], min(size[sp], len(by[sp])))]

    from repair import Repairer

    rep = Repairer(restore_threshold=0.0)  # every sentence: the sweep applies the restore threshold itself
    dec = rep.restorer
    dec.margin, dec.pointed_branches, dec.offset_in = args.margin, args.pointed, 0.0
    key = (args.data.resolve().as_posix(), args.per_spinner, args.clean, args.seed, args.margin, args.pointed,
           repr(dec.config.get("trained")))
    if args.candidates and args.candidates.exists() and pickle.loads(args.candidates.read_bytes())[0] == key:
        rows = pickle.loads(args.candidates.read_bytes())[1]
    else:
        texts = [r["spun"] for r in recs]
        reports = rep.check_many(texts)
        detector_spans = [[p for s in report.sentences for p in s.spans] for report in reports]
        rows = [(r, report.score if not report.sentences else max(s.score for s in report.sentences), cands)
                for r, report, cands in zip(recs, reports, dec.candidates_many(texts, detector_spans))]
        if args.candidates:
            args.candidates.write_bytes(pickle.dumps((key, rows)))
    spinners = [sp for sp in sorted(by) if sp != "none"]
    results = []
    grid = itertools.product([-4.0, -2.0, -1.0, 0.0], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [False, True],
                             [0.7, 0.85, 0.9, 0.93, 0.95, 0.97], [0.0, 0.3, 0.5])
    for off, bonus, weighted, conf, thr in grid:
        counts, outs, origs = defaultdict(Counts), [], []
        for r, score, cands in rows:
            keep = []
            if score >= thr:
                scored = [LocalEdit(c.start, c.end, c.before, c.after, dec.confidence(
                    c, offset_out=off, offset_lexicon=bonus, detector_weighted=weighted)) for c in cands]
                keep = [(e.start, e.end, e.after) for e in non_overlapping(scored) if e.confidence >= conf]
            gold = [(g["start"], g["end"], g["original"]) for g in r["edits"]]
            counts[r["spinner"]].add(edit_counts(keep, gold, r["spun"]))
            if r["spinner"] == "none":
                outs.append(apply(r["spun"], keep))
                origs.append(r["original"])
        f05 = [counts[sp].f(0.5) for sp in spinners]
        results.append((sum(f05) / len(f05), damage_per_1000(outs, origs), (off, bonus, weighted, conf, thr), f05))
    print(f"{len(recs)} held-out sentences; settings with clean damage <= {args.max_damage} per 1,000 words, best first\n")
    print("| offset out | lexicon bonus | detector weighted | min conf | restore thr | " + " | ".join(f"{sp} F0.5" for sp in spinners)
          + " | mean | clean damage /1000 |")
    print("|" + "---|" * (len(spinners) + 7))
    ok = sorted((r for r in results if r[1] <= args.max_damage), reverse=True)
    for mean, damage, setting, f05 in ok[:args.top]:
        print("| " + " | ".join(str(x) for x in setting) + " | " + " | ".join(f"{f:.3f}" for f in f05)
              + f" | {mean:.3f} | {damage:.2f} |")
    if ok:  # the F0.5 surface is flat at the top: of the settings near the best, take the least damage
        near = [r for r in ok if r[0] >= ok[0][0] - args.tolerance]
        mean, damage, setting, _ = min(near, key=lambda r: (r[1], -r[0]))
        print(f"\nrecommended (least clean damage within {args.tolerance} F0.5 of the best): offset out {setting[0]}, "
              f"lexicon bonus {setting[1]}, detector weighted {setting[2]}, min confidence {setting[3]}, "
              f"restore threshold {setting[4]} "
              f"(mean F0.5 {mean:.3f}, damage {damage:.2f} per 1,000 clean words)")


if __name__ == "__main__":
    main()
