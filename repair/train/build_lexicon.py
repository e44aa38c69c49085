"""Build the spin lexicon: for a spun word or phrase, the words it may have replaced.

    python scripts/build_lexicon.py --thesauri ../shared/data/thesauri

A spinner rewrites ``original -> synonym`` with a thesaurus. Restoration needs the inverse: for a
word we see (``struggle``), the originals whose synonym lists contain it (``war``, ``fight``...).
We invert the openly licensed thesauri only (WordNet 3.0, Moby II, MyThes, PPDB 1.0 lexical;
never the commercial spinner's file), add regular and irregular inflections so that ``struggles``
maps to ``wars``, rank candidates by how many sources agree and how common the original is, and
keep the top few per key. Output: ``models/lexicon.tsv.gz`` with lines ``spun<TAB>orig|orig|...``.
"""
from __future__ import annotations

import argparse
import gzip
import re
import sys
from collections import defaultdict
from pathlib import Path

from wordfreq import zipf_frequency

from repair.text.thesaurus import entries, wordnet_files, wordnet_synsets

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = {"wordnet": 1.0, "mythes": 0.8, "moby": 0.6, "ppdb": 1.0}
WORD = re.compile(r"^[a-z][a-z'-]*( [a-z][a-z'-]*){0,2}$")


def clean(term: str) -> str | None:
    term = term.replace("_", " ").replace(" (generic term)", "").replace(" (related term)", "")
    term = term.replace(" (similar term)", "").replace(" (antonym)", "\0").strip()
    if "\0" in term or term.lower() != term and not term.istitle():  # keep common words, skip acronyms
        return None
    term = term.lower()
    return term if WORD.match(term) else None


def wordnet_groups(tar_path: Path):
    """Synsets as (lemma, sense rank) lists, plus the irregular-inflection maps from the *.exc files.

    The sense rank of a lemma in a synset comes from the index files, which list a word's synsets
    most frequent first: a spinner picks synonyms from a word's main senses far more often."""
    data, rank, exc = [], {}, defaultdict(set)
    for name, text in wordnet_files(tar_path):
        if name.startswith("data."):
            data += wordnet_synsets(text, offsets=True)
        elif name.endswith(".exc") or (name.startswith("index.") and name != "index.sense"):
            for line in text.splitlines():
                if line.startswith("  ") or not line.strip():
                    continue
                parts = line.split()
                if name.endswith(".exc"):
                    for lemma in parts[1:]:
                        exc[lemma.replace("_", " ")].add(parts[0].replace("_", " "))
                else:
                    n_senses = int(parts[2])
                    for r, off in enumerate(parts[-n_senses:]):
                        rank[parts[0].replace("_", " ").lower(), off] = r
    groups = []
    for off, lemmas in data:
        g = [(clean(w), rank.get((w.replace("_", " ").lower(), off), 9)) for w in lemmas]
        groups.append([(w, r) for w, r in g if w])
    return groups, exc


def synonym_groups(path: Path, fmt: str):
    """(head, synonyms) of a MyThes or Moby file, cleaned (see :func:`clean`; a head may be None)."""
    for head, alts in entries(path, fmt):
        yield clean(head), [s for s in map(clean, alts) if s]


def ppdb_pairs(path: Path):
    for a, (b,) in entries(path, "ppdb"):
        a, b = clean(a), clean(b)
        if a and b:
            yield a, b


def regular_forms(word: str) -> dict[str, str]:
    """Plural/3sg, past and gerund forms of the last word by English spelling rules."""
    *pre, w = word.split(" ")
    out = {}
    if w.endswith(("s", "x", "z", "ch", "sh")):
        out["s"] = w + "es"
    elif w.endswith("y") and len(w) > 2 and w[-2] not in "aeiou":
        out["s"] = w[:-1] + "ies"
    else:
        out["s"] = w + "s"
    if w.endswith("e"):
        out["ed"], out["ing"] = w + "d", w[:-1] + "ing"
    elif w.endswith("y") and len(w) > 2 and w[-2] not in "aeiou":
        out["ed"], out["ing"] = w[:-1] + "ied", w + "ing"
    else:
        out["ed"], out["ing"] = w + "ed", w + "ing"
    return {k: " ".join(pre + [v]) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--thesauri", default=str(ROOT / ".." / "shared" / "data" / "thesauri"))
    ap.add_argument("--top", type=int, default=12, help="candidates kept per spun key")
    ap.add_argument("--min-orig-zipf", type=float, default=3.3, help="originals must be at least this common")
    ap.add_argument("--max-key-zipf", type=float, default=6.2, help="skip function words as keys")
    ap.add_argument("--out", default=str(ROOT / "models" / "lexicon.tsv.gz"))
    args = ap.parse_args()
    th = Path(args.thesauri)

    # score[spun][orig] accumulates evidence that a spinner rewrote orig as spun
    score: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    seen: dict[tuple[str, str], set] = defaultdict(set)

    def add(orig: str, spun: str, source: str, weight: float = 1.0) -> None:
        if orig != spun and source not in seen[orig, spun]:
            seen[orig, spun].add(source)
            score[spun][orig] += WEIGHTS[source] * weight

    groups, exc = wordnet_groups(th / "wordnet-3.0.tar.zst")
    for g in groups:
        for a, rank_a in g:
            for b, rank_b in g:
                add(a, b, "wordnet", 1.0 / (1 + max(rank_a, rank_b)))  # main senses of both words count most
    print(f"wordnet: {len(groups)} synsets", file=sys.stderr)
    for name, gen in (("mythes", synonym_groups(th / "mythes_th_en_US_v2.dat.zst", "mythes")),
                      ("moby", synonym_groups(th / "moby_mthesaur.txt.zst", "moby"))):
        for head, syns in gen:
            if head:
                for s in syns:
                    add(head, s, name)  # a spinner replaces head by one of its synonyms
        print(f"{name}: done, {len(score)} keys", file=sys.stderr)
    for a, b in ppdb_pairs(th / "ppdb1_lexical_synonyms.tsv.zst"):
        add(a, b, "ppdb")
        add(b, a, "ppdb")
    print(f"ppdb: done, {len(score)} keys", file=sys.stderr)

    zipf = {}

    def z(w: str) -> float:
        if w not in zipf:
            zipf[w] = zipf_frequency(w, "en")
        return zipf[w]

    irregular = defaultdict(dict)  # lemma -> {"form": inflected}
    for form, lemmas in exc.items():
        for lemma in lemmas:
            irregular[lemma][form] = form

    def ranked(spun: str) -> list[str]:
        cands = [(s + 0.15 * z(o), o) for o, s in score[spun].items() if z(o) >= args.min_orig_zipf]
        return [o for _, o in sorted(cands, key=lambda t: (-t[0], t[1]))[: args.top]]

    lexicon: dict[str, list[str]] = {}
    for spun in list(score):
        if z(spun) > args.max_key_zipf or (" " not in spun and z(spun) == 0):
            continue
        best = ranked(spun)
        if not best:
            continue
        lexicon.setdefault(spun, best)
        # inflected keys: struggles -> wars, fought -> battled; both forms must be real words
        spun_forms = regular_forms(spun)
        for orig in best:
            if len(orig) <= 3 or "-" in orig or z(orig) > args.max_key_zipf:
                continue  # "to" -> "tos": function words and short words do not inflect this way
            orig_forms = regular_forms(orig)
            for k, sf in spun_forms.items():
                of = orig_forms[k]
                if z(sf) >= 2.0 and z(of) >= args.min_orig_zipf:
                    bucket = lexicon.setdefault(sf, [])
                    if of not in bucket and len(bucket) < args.top:
                        bucket.append(of)
        for spun_irr in irregular.get(spun, {}):
            for orig in best:
                for orig_irr in irregular.get(orig, {}):
                    bucket = lexicon.setdefault(spun_irr, [])
                    if orig_irr not in bucket and len(bucket) < args.top and z(orig_irr) >= args.min_orig_zipf:
                        bucket.append(orig_irr)
    lexicon = {k: v for k, v in lexicon.items() if v}
    with gzip.open(args.out, "wt", encoding="utf-8", compresslevel=9) as f:
        f.write("# repair spin lexicon: spun<TAB>candidate originals, best first. Built by scripts/build_lexicon.py\n")
        f.write("# from WordNet 3.0 (WordNet licence), Moby Thesaurus II (public domain), MyThes (WordNet licence),\n")
        f.write("# PPDB 1.0 lexical (CC BY 3.0, Ganitkevitch et al. 2013).\n")
        for k in sorted(lexicon):
            f.write(f"{k}\t{'|'.join(lexicon[k])}\n")
    print(f"{len(lexicon)} keys -> {args.out} ({Path(args.out).stat().st_size / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
