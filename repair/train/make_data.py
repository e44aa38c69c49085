"""Make spun/clean training pairs from the news corpus.

    python scripts/make_data.py --articles 12000 --out data/spin

Streams ``allsides_news.jsonl.zst`` one article at a time (memory is flat in corpus size apart
from an 8-byte hash per kept sentence for de-duplication), drops boilerplate lines, splits
sentences with repair's own segmenter, assigns each *article* to train or validation by a hash of
its id (so no article leaks across), and spins each article with one spinner drawn from a
weighted mixture at a rate drawn per article, as real spinners do. A share of articles stays clean:
their sentences are the negatives a detector and a restorer must learn to leave alone.

Each output line is one sentence::

    {"id", "article", "spinner", "rate", "original", "spun", "edits": [{start,end,original,spun}],
     "labels": [0/1 per word of repair.text.segment.words(spun)]}

Shards are ``{train,val}-NNNNN.jsonl.gz``, written atomically, plus ``manifest.json`` recording
the arguments and counts. The same arguments give byte-identical shards.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import random
import re
import sys
from pathlib import Path

from wordfreq import top_n_list

from repair.train.corpus import DEFAULT_CORPUS, iter_articles

from repair.text.segment import default_segmenter, words
from repair.text.spinner import Spinner, Thesaurus

THESAURI = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "thesauri"
# name -> (file in the thesauri dir, format, weight in the mixture)
MIXTURE = {
    "treasures": ("spinner_treasures_en.dat", "spinner", 0.40),
    "moby": ("moby_mthesaur.txt.zst", "moby", 0.15),
    "mythes": ("mythes_th_en_US_v2.dat.zst", "mythes", 0.20),
    "wordnet": ("wordnet-3.0.tar.zst", "wordnet", 0.10),
    "ppdb": ("ppdb1_lexical_synonyms.tsv.zst", "ppdb", 0.15),
}

# Boilerplate that survives in scraped news: bylines, social plugs, link lines, transcript cues.
_BOILERPLATE = [
    re.compile(r"^\s*(by|written by|reporting by|editing by|additional reporting by)\s+[A-Z]", re.I),
    re.compile(r"\bfollow\b.*\bon (twitter|facebook|instagram)\b", re.I),
    re.compile(r"https?://|www\.|@\w+|\.com\b", re.I),
    re.compile(r"^\s*(getty images|ap photo|photo:|image:|video:|related:|read more|click here|sign up)", re.I),
    re.compile(r"^\s*[A-Z][A-Z .'-]{1,40}:\s"),  # transcript speaker cues: "BLITZER: ..."
    re.compile(r"\((crosstalk|laughter|applause|begin video clip|end video clip|commercial break)\)", re.I),
    re.compile(r"^\s*(copyright|©|\(c\))", re.I),
]


def clean_lines(text: str) -> list[str]:
    """The article's paragraphs with boilerplate lines removed."""
    keep = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        letters = [c for c in line if c.isalpha()]
        if letters and sum(c.isupper() for c in letters) / len(letters) > 0.7:  # ALL-CAPS link/headline lines
            continue
        if any(p.search(line) for p in _BOILERPLATE):
            continue
        keep.append(line)
    return keep


def good_sentence(s: str) -> bool:
    n = len(words(s))
    return 5 <= n <= 70 and s[-1:] in '.!?"”’\')' and any(c.islower() for c in s)


def split_of(article_id: str, val_frac: float) -> str:
    h = int.from_bytes(hashlib.blake2b(article_id.encode(), digest_size=8).digest(), "big")
    return "val" if h / 2**64 < val_frac else "train"


def labels_for(spun: str, edits) -> list[int]:
    """1 for every word of ``spun`` that lies inside a substitution, else 0."""
    spans = [(e.start, e.end) for e in edits]
    return [int(any(a <= t.start < b for a, b in spans)) for t in words(spun)]


class ShardWriter:
    """Gzipped JSONL shards of ``size`` records, each renamed into place only once complete."""

    def __init__(self, out: Path, prefix: str, size: int):
        self.out, self.prefix, self.size = out, prefix, size
        self.index, self.count, self.total, self._f = 0, 0, 0, None

    def write(self, record: dict) -> None:
        if self._f is None:
            self._tmp = self.out / f".{self.prefix}-{self.index:05d}.jsonl.gz.tmp"
            self._f = gzip.GzipFile(self._tmp, "wb", mtime=0)  # mtime=0: reproducible bytes
        self._f.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
        self.count += 1
        self.total += 1
        if self.count >= self.size:
            self.close()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            os.replace(self._tmp, self.out / f"{self.prefix}-{self.index:05d}.jsonl.gz")
            self._f, self.count, self.index = None, 0, self.index + 1


def load_spinners(thesauri: Path, names: list[str]) -> dict[str, tuple[Thesaurus, float]]:
    out = {}
    for name in names:
        fname, fmt, weight = MIXTURE[name]
        path = thesauri / fname
        if not path.exists():
            raise SystemExit(f"thesaurus not found: {path} (pass --thesauri DIR)")
        print(f"loading {name} ({path.name}) ...", file=sys.stderr, flush=True)
        out[name] = (Thesaurus.load(path, fmt), weight)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--thesauri", type=Path, default=THESAURI)
    ap.add_argument("--out", type=Path, default=Path("data/spin"))
    ap.add_argument("--articles", type=int, default=None, help="read at most this many articles")
    ap.add_argument("--spinners", default=",".join(MIXTURE), help="comma-separated subset of the mixture")
    ap.add_argument("--clean-frac", type=float, default=0.25, help="share of articles left unspun")
    ap.add_argument("--rate", default="0.15,0.95", help="per-article spin rate range lo,hi")
    ap.add_argument("--rate-scale", choices=["linear", "log"], default="linear",
                    help="draw each article's rate uniformly (linear) or log-uniformly (log: light spinning, a few "
                         "words in a hundred, as common as heavy)")
    ap.add_argument("--keep-common", default="0",
                    help="comma-separated choices of K, one drawn per spun article: its spinner leaves the K most "
                         "frequent English words (wordfreq) alone, as real spinners leave function words")
    ap.add_argument("--val-frac", type=float, default=0.02)
    ap.add_argument("--shard-size", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    names = [n for n in args.spinners.split(",") if n]
    spinners = load_spinners(args.thesauri, names)
    machines = {n: Spinner(th) for n, (th, _) in spinners.items()}
    lo, hi = (float(x) for x in args.rate.split(","))
    keep_choices = [int(x) for x in args.keep_common.split(",") if x.strip()]
    common = top_n_list("en", max(keep_choices, default=0)) if any(keep_choices) else []
    args.out.mkdir(parents=True, exist_ok=True)
    writers = {s: ShardWriter(args.out, s, args.shard_size) for s in ("train", "val")}
    seg = default_segmenter()
    seen: set[int] = set()
    stats = {"articles": 0, "sentences": 0, "duplicates": 0, "rejected": 0, "by_spinner": {}}
    from rich.progress import Progress

    with Progress(disable=args.quiet, transient=False) as bar:
        task = bar.add_task("articles", total=args.articles)
        for art in iter_articles(args.corpus, limit=args.articles):
            aid = str(art.get("id", stats["articles"]))
            # a per-article generator: output does not depend on anything that came before
            rng = random.Random(f"{args.seed}:{aid}")
            split = split_of(aid, args.val_frac)
            if rng.random() < args.clean_frac:
                name, rate, spinner = "none", 0.0, None
            else:
                name = rng.choices(names, weights=[spinners[n][1] for n in names])[0]
                rate = (round(rng.uniform(lo, hi), 2) if args.rate_scale == "linear"
                        else round(math.exp(rng.uniform(math.log(lo), math.log(hi))), 3))
                spinner = machines[name]
                spinner.rate, spinner.protect_quotes = rate, rng.random() < 0.5
                spinner.protect_names = rng.random() < 0.7  # most spinners leave capitalised words alone
                spinner.rng.seed(rng.randrange(2**32))
                # drawn last, and only when there is a choice: the same seed spins as before without it
                kept = rng.choice(keep_choices) if len(keep_choices) > 1 else (keep_choices or [0])[0]
                spinner.keep = frozenset(w.lower() for w in common[:kept])
            k = 0
            for para in clean_lines(art.get("text") or ""):
                for s, e in seg.sentences(para):
                    sent = para[s:e]
                    if not good_sentence(sent):
                        stats["rejected"] += 1
                        continue
                    h = int.from_bytes(hashlib.blake2b(" ".join(sent.lower().split()).encode(),
                                                       digest_size=8).digest(), "big")
                    if h in seen:
                        stats["duplicates"] += 1
                        continue
                    seen.add(h)
                    spun = spinner.spin(sent) if spinner else None
                    edits = spun.edits if spun else []
                    text = spun.spun if spun else sent
                    writers[split].write({
                        "id": f"{aid}:{k}", "article": aid, "spinner": name, "rate": rate,
                        "original": sent, "spun": text, "edits": [e.to_dict() for e in edits],
                        "labels": labels_for(text, edits),
                    })
                    stats["by_spinner"][name] = stats["by_spinner"].get(name, 0) + 1
                    stats["sentences"] += 1
                    k += 1
            stats["articles"] += 1
            bar.update(task, advance=1, description=f"articles ({stats['sentences']:,} sentences)")
    for w in writers.values():
        w.close()
    stats["train"], stats["val"] = writers["train"].total, writers["val"].total
    manifest = {"args": {k: str(v) for k, v in vars(args).items() if k != "quiet"}, "stats": stats}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(stats), file=sys.stderr)
    return manifest


if __name__ == "__main__":
    main()
