"""Train Punkt sentence-boundary parameters on the news corpus and ship them as JSON in models/.

    python scripts/train_punkt.py --corpus ../shared/data/corpora/allsides_news.jsonl.zst --articles 8000

Punkt learns abbreviations ("Mr.", "U.S.", "Gov."), collocations and frequent sentence starters
without supervision (Kiss & Strunk 2006). We keep only what the segmenter needs at run time and
prune orthographic context to the words seen at least ``--min-count`` times, which keeps the file small.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

from nltk.tokenize.punkt import PunktTrainer

from repair.train.corpus import DEFAULT_CORPUS, iter_articles


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    ap.add_argument("--articles", type=int, default=8000)
    ap.add_argument("--min-count", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "models" / "punkt_news.json.gz"))
    args = ap.parse_args()

    trainer = PunktTrainer()
    trainer.INCLUDE_ALL_COLLOCS = False
    for i, art in enumerate(iter_articles(args.corpus, limit=args.articles)):
        trainer.train(art["text"], finalize=False)
        if i % 1000 == 0:
            print(f"{i} articles", file=sys.stderr)
    trainer.finalize_training()
    params = trainer.get_params()
    counts = trainer._type_fdist
    ortho = {t: v for t, v in params.ortho_context.items() if counts[t] + counts[t + "."] >= args.min_count}
    payload = {
        "trained_on": f"{args.articles} articles of {Path(args.corpus).name}",
        "abbrev_types": sorted(params.abbrev_types),
        "collocations": sorted(list(c) for c in params.collocations),
        "sent_starters": sorted(params.sent_starters),
        "ortho_context": ortho,
    }
    with gzip.open(args.out, "wt", encoding="utf-8") as f:
        json.dump(payload, f, separators=(",", ":"))
    print(f"abbrevs={len(payload['abbrev_types'])} collocs={len(payload['collocations'])} "
          f"starters={len(payload['sent_starters'])} ortho={len(ortho)} -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
