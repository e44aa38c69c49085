"""Fit how a sentence's spin score weighs its article's (the detector's context calibration).

    python scripts/calibrate_context.py --data data/spin --write                 # models/detector
    python scripts/calibrate_context.py --detector models/detector_fast --write

Spinners spin whole articles, so an odd word means more in an article whose other sentences look
spun and less in a clean one. On the held-out articles of ``make_data.py`` (the validation split,
never devbench) every sentence is scored alone; then ``p = sigmoid(own * logit(sentence score) +
document * logit(article score) + bias)`` is fitted by logistic regression, reweighted to an even
prior like the sentence score itself (``train_detector.py``). The numbers reported are cross-fitted
(each half of the articles scored by the weights fitted on the other half); the weights written are
fitted on all of them. The flagging threshold stays the detector's (chosen on the scores alone by
``train_detector.py``); the shares flagged there, alone and in context, are reported.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

import torch

from repair.detect import ContextCalibration, EncoderDetector
from repair.doc import document_score
from repair.metrics import roc_auc
from repair.train.common import fit_logistic, records, reliability_table


def features(articles: dict) -> tuple[list[str], torch.Tensor, torch.Tensor, list[str]]:
    """Per sentence of every article of two or more: its article, [logit own, logit article], is spun,
    spinner. The article score pools the sentences' own scores, as ``Repairer.check`` does."""
    keys, x, y, spinner = [], [], [], []
    for key, sents in articles.items():
        if len(sents) < 2:
            continue
        doc = document_score([s for s, _, _ in sents])
        for score, spun, sp in sents:
            keys.append(key)
            x.append(list(ContextCalibration.inputs(score, doc)))
            y.append(float(spun))
            spinner.append(sp)
    return keys, torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64), spinner


def per_spinner_auc(prob, y, spinner) -> dict:
    """ROC AUC of each spinner's spun sentences against the clean articles' sentences."""
    clean = [float(p) for p, s in zip(prob, spinner) if s == "none"]
    return {sp: round(roc_auc([float(p) for p, t, s in zip(prob, y, spinner) if s == sp and t], clean), 4)
            for sp in sorted(set(spinner) - {"none"})}


def flagged(prob, y, spinner, threshold: float) -> dict:
    """Shares flagged at ``threshold``: the clean articles' sentences, the sentences a spinner left as
    they were, every unspun sentence together (the set ``train_detector.py``'s 2% bar is measured on) and the spun ones."""
    none = torch.tensor([s == "none" for s in spinner])
    share = lambda m: round(float((prob[m] >= threshold).double().mean()), 4)
    return {"clean_articles": share(none), "unchanged_in_spun_articles": share((y == 0) & ~none),
            "clean": share(y == 0), "spun": share(y == 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("data/spin"))
    ap.add_argument("--detector", type=Path, default=Path("models/detector"))
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--write", action="store_true", help="store the weights in the detector's repair.json")
    args = ap.parse_args(argv)
    if not any(args.data.glob("val-*.jsonl.gz")):
        sys.exit(f"no held-out articles in {args.data} (run `make data` first)")

    det = EncoderDetector(args.detector)
    recs = list(records(args.data, "val"))
    articles = defaultdict(list)
    for r, ev in zip(recs, det.detect([r["spun"] for r in recs])):
        articles[r["article"]].append((ev.score, bool(r["edits"]), r["spinner"]))
    keys, x, y, spinner = features(articles)

    # cross-fitted: each half of the articles scored by weights fitted on the other half
    by_spinner = defaultdict(set)  # halves stratified by spinner, so that each has spun and clean articles
    for key, sp in zip(keys, spinner):
        by_spinner[sp].add(key)
    rng, names = random.Random(args.seed), []
    for sp in sorted(by_spinner):
        names += rng.sample(sorted(by_spinner[sp]), len(by_spinner[sp]))
    half = set(names[::2])
    fold = torch.tensor([k in half for k in keys])
    z = torch.empty_like(y)
    for part in (fold, ~fold):
        w, _ = fit_logistic(x[~part], y[~part])
        z[part] = x[part] @ w[:-1] + w[-1]
    prob, own = torch.sigmoid(z), torch.sigmoid(x[:, 0])
    w, weight = fit_logistic(x, y)
    threshold = det.threshold or 0.5
    report = {
        "weights": {"own": round(float(w[0]), 5), "document": round(float(w[1]), 5), "bias": round(float(w[2]), 5)},
        "fitted_on": {"articles": len(names), "sentences": len(y), "spun_share": round(float(y.mean()), 3),
                      "calibrated_prior": 0.5},
        "heldout": {"auc_alone": per_spinner_auc(own, y, spinner), "auc_in_context": per_spinner_auc(prob, y, spinner),
                    "flagged_alone": flagged(own, y, spinner, threshold),
                    "flagged_in_context": flagged(prob, y, spinner, threshold), "threshold": threshold},
        "reliability": reliability_table(prob, y, weight),
        "chosen_by": "python scripts/calibrate_context.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    print(json.dumps(report, indent=1))
    if args.write:
        path = args.detector / "repair.json"
        config = json.loads(path.read_text())
        config["context"] = report
        path.write_text(json.dumps(config, indent=2) + "\n")
        print(f"written to {path}")


if __name__ == "__main__":
    main()
