"""Train the corrector head on the detector's encoder: for a spun word, what the author wrote there.

    python scripts/train_corrector.py --data data/spin --minutes 30 --export models/corrector

1. Features (resumable, cached in ``--out``): the shipped detector's encoder, frozen, reads spun
   training sentences; every word a spinner wrote becomes an example whose target is the author's
   word at that place (the first word of a spun phrase takes the first original word, the next ones
   the next, and words past the original's length ``DELETE``), and ``--keep-per-sentence`` of the
   words it left alone become ``KEEP`` examples (a detector span that runs past the spun words must
   not rewrite them). Extraction stops at ``--sentences`` or when ``--minutes`` run out.
2. The vocabulary: the targets seen at least ``--min-count`` times (at most ``--max-vocab``).
3. The head (``repair.backends.corrector``) is trained on the cached features with AdamW. With
   ``--tune-layers K`` the cache holds every token's state below the encoder's top K layers instead,
   and a copy of those K layers is trained with the head (the corrector then ships its own top layers;
   the detector's are untouched). ``--init`` continues from an exported corrector (its vocabulary,
   head and layers).
4. Held-out articles (the validation split, never devbench) give recall@1/5/10 of the author's word
   per spinner; the head is exported to ``--export`` with those numbers in ``repair.json``.
5. The operating point (``--tune-per-spinner``): the corrector restores held-out sentences behind the
   shipped detector, and the minimum confidence with the best mean edit F0.5 over the spinners at no
   more than ``--max-damage`` changed words per 1,000 clean words is written to ``repair.json``.
"""
from __future__ import annotations

import argparse
import copy
import json
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import torch

from repair.backends.corrector import (DELETE, KEEP, make_head, run_layers, save_corrector, top_layers,
                                      vocab_embeddings, word_states)
from repair.backends.encoder import featurize, load_detector
from repair.train.common import records
from repair.text.segment import words

NAME = "minilm-corrector-v1"
NAME_LAYERS = "minilm-corrector-v2"  # with its own top encoder layers (--tune-layers)


def word_targets(rec: dict, rng: random.Random, keep_per_sentence: int, pointed: list[float] | None = None,
                 hard_keep: int = 0, hard_floor: float = 0.3) -> list[tuple[int, str]]:
    """(word index in ``words(spun)``, target) for the words of one record: each word of a spun phrase
    with the author's word at its place (lower case) or DELETE, and a few untouched words with KEEP.
    With ``pointed`` (the detector's p(substituted) of each word), the ``hard_keep`` untouched words it
    suspects most (at least ``hard_floor``) are KEEP examples too: the words a restorer is shown by
    mistake, where the head must learn to leave the author's word alone (random ones are mostly easy)."""
    toks = words(rec["spun"])
    out, spun = [], set()
    for e in rec["edits"]:
        idx = [k for k, t in enumerate(toks) if e["start"] <= t.start < e["end"]]
        orig = [t.text.lower() for t in words(e["original"])]
        for j, k in enumerate(idx):
            spun.add(k)
            target = orig[j] if j < len(orig) else DELETE
            if target != toks[k].text.lower():
                out.append((k, target))
    rest = [k for k in range(len(toks)) if k not in spun]
    hard = []
    if pointed is not None and hard_keep:
        hard = sorted((k for k in rest if k < len(pointed) and pointed[k] >= hard_floor), key=lambda k: -pointed[k])
        hard = hard[:hard_keep]
        rest = [k for k in rest if k not in hard]
    out += [(k, KEEP) for k in hard + rng.sample(rest, min(keep_per_sentence, len(rest)))]
    return out


def featurize_records(recs, tokenizer, encoder, *, max_tokens: int = 256, batch: int = 64, keep_per_sentence: int = 1,
                      seed: int = 0, deadline: float = float("inf"), limit: int | None = None, log: str = "",
                      hard_keep: int = 0, hard_floor: float = 0.3, token_bias=None):
    """Features of the spun records among ``recs``: h [N, H] (float16), targets, spinners, the spun words,
    and how many spun sentences were read. Stops at ``limit`` sentences or at ``deadline`` (a time.time()).
    With ``hard_keep`` (:func:`word_targets`), the detector's word scores come from the same encoder pass
    (``token_bias``: the detector's), and clean records give their suspected words as KEEP examples too."""
    rng = random.Random(seed)
    feats, targets, spinners, spun_words = [], [], [], []
    pending, n, flushes, t0 = [], 0, 0, time.time()

    def flush():
        b = featurize(tokenizer, [r["spun"] for r in pending], max_tokens)
        with torch.inference_mode():
            h, z = word_states(encoder, b, with_logits=True, token_bias=token_bias)
            pointed = torch.sigmoid(z.float()).tolist() if hard_keep else [None] * len(pending)
        for row, rec in enumerate(pending):
            keeps = keep_per_sentence if rec["edits"] else 0
            for k, target in word_targets(rec, rng, keeps, pointed[row], hard_keep, hard_floor):
                if k < h.shape[1] and b.first[row, k] >= 0:
                    feats.append(h[row, k].half())
                    targets.append(target)
                    spinners.append(rec["spinner"])
                    spun_words.append(b.words[row][k].text.lower())
        pending.clear()

    for rec in recs:
        if not rec["edits"] and not hard_keep:
            continue
        pending.append(rec)
        n += bool(rec["edits"])
        if len(pending) == batch:
            flush()
            flushes += 1
            if log and flushes % 20 == 0:
                print(f"{log}: {n} sentences, {len(targets)} examples, {n / (time.time() - t0):.1f} sent/s", flush=True)
        if (limit is not None and n >= limit) or time.time() > deadline:
            break
    if pending:
        flush()
    h = torch.stack(feats) if feats else torch.zeros((0, encoder.config.hidden_size), dtype=torch.float16)
    return {"h": h, "targets": targets, "spinners": spinners, "spun": spun_words, "sentences": n}


def sequence_records(recs, tokenizer, encoder, layers: int, *, max_tokens: int = 256, batch: int = 64,
                     keep_per_sentence: int = 1, seed: int = 0, deadline: float = float("inf"),
                     limit: int | None = None, log: str = ""):
    """For ``--tune-layers``: the spun records' hidden states below the encoder's top ``layers`` layers,
    every token of each sentence (``seqs``: [T, H] float16 each), and per example its sentence, the
    first sub-token of its word, its target, spinner and spun word."""
    rng = random.Random(seed)
    out = {"seqs": [], "sent": [], "pos": [], "targets": [], "spinners": [], "spun": [], "sentences": 0}
    pending, t0 = [], time.time()

    def flush():
        b = featurize(tokenizer, [r["spun"] for r in pending], max_tokens)
        with torch.inference_mode():
            hs = encoder(**b.inputs, output_hidden_states=True).hidden_states[-layers - 1]
        for row, (rec, n) in enumerate(zip(pending, b.inputs["attention_mask"].sum(1).tolist())):
            for k, target in word_targets(rec, rng, keep_per_sentence):
                if k < b.first.shape[1] and b.first[row, k] >= 0:
                    out["sent"].append(len(out["seqs"]))
                    out["pos"].append(int(b.first[row, k]))
                    out["targets"].append(target)
                    out["spinners"].append(rec["spinner"])
                    out["spun"].append(b.words[row][k].text.lower())
            out["seqs"].append(hs[row, :n].half().clone())
        pending.clear()

    for rec in recs:
        if not rec["edits"]:
            continue
        pending.append(rec)
        out["sentences"] += 1
        if len(pending) == batch:
            flush()
            if log and out["sentences"] % (batch * 20) == 0:
                print(f"{log}: {out['sentences']} sentences, {len(out['targets'])} examples, "
                      f"{out['sentences'] / (time.time() - t0):.1f} sent/s", flush=True)
        if (limit is not None and out["sentences"] >= limit) or time.time() > deadline:
            break
    if pending:
        flush()
    return out


def layer_states(encoder, layers, part: dict, keep: list[int], sentences_per_batch: int = 64):
    """[N, H] the word states of examples ``keep`` of a :func:`sequence_records` part, the cached
    states run through ``layers`` (with gradients when ``layers`` is training)."""
    out = []
    for i in range(0, len(keep), sentences_per_batch * 8):
        out.append(_batch_states(encoder, layers, part, keep[i:i + sentences_per_batch * 8]))
    return torch.cat(out) if out else torch.zeros((0, encoder.config.hidden_size))


def _batch_states(encoder, layers, part: dict, examples: list[int]):
    """The word states of ``examples``: their sentences padded into one batch and run through ``layers``."""
    sents = sorted({part["sent"][e] for e in examples})
    row = {s: r for r, s in enumerate(sents)}
    seqs = [part["seqs"][s] for s in sents]
    n, device = max(len(x) for x in seqs), next(layers.parameters()).device
    h = torch.zeros((len(seqs), n, seqs[0].shape[-1]))
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for r, x in enumerate(seqs):
        h[r, :len(x)] = x.float()
        mask[r, :len(x)] = 1
    out = run_layers(encoder, layers, h.to(device), mask.to(device))
    rows = torch.tensor([row[part["sent"][e]] for e in examples], device=device)
    return out[rows, torch.tensor([part["pos"][e] for e in examples], device=device)]


def extract(args, tokenizer, encoder, split: str, limit: int, deadline: float, token_bias=None) -> dict:
    """:func:`featurize_records` of a split of ``--data``, cached in ``--out`` (a rerun reads the cache)."""
    cache = args.out / (f"features-{split}.pt" if not args.tune_layers else f"states{args.tune_layers}-{split}.pt")
    if cache.exists():
        return torch.load(cache)
    t0 = time.time()
    how = dict(max_tokens=args.max_tokens, batch=args.extract_batch, keep_per_sentence=args.keep_per_sentence,
               seed=args.seed, deadline=deadline, limit=limit, log=split)
    if split == "train" and args.hard_keep:  # held-out recall stays measured on the same examples
        how.update(hard_keep=args.hard_keep, hard_floor=args.hard_floor, token_bias=token_bias)
    if args.tune_layers:
        out = sequence_records(records(args.data, split), tokenizer, encoder, args.tune_layers, **how)
    else:
        out = featurize_records(records(args.data, split), tokenizer, encoder, **how)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(out, cache)
    print(f"{split}: {out['sentences']} sentences -> {len(out['targets'])} examples in {time.time() - t0:.0f} s", flush=True)
    return out


def recall_at(head, h, y, spinners, ks=(1, 5, 10), batch: int = 4096) -> dict:
    """Recall@k of the target among the head's top k, per spinner (a target outside the vocabulary,
    ``y == -1``, is never found)."""
    head.eval()
    hits = defaultdict(lambda: [0] * (len(ks) + 1))
    with torch.no_grad():
        for i in range(0, len(y), batch):
            logits = head(h[i:i + batch].float())
            top = logits.topk(min(max(ks), logits.shape[-1]), -1).indices
            for t, yy, sp in zip(top.tolist(), y[i:i + batch].tolist(), spinners[i:i + batch]):
                for key in (sp, "all"):
                    c = hits[key]
                    c[0] += 1
                    for j, k in enumerate(ks):
                        c[j + 1] += yy in t[:k]
    head.train()
    return {key: {"n": c[0], **{f"@{k}": round(c[j + 1] / max(1, c[0]), 4) for j, k in enumerate(ks)}}
            for key, c in sorted(hits.items())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("data/spin"))
    ap.add_argument("--detector", default="detector", help="the shipped detector whose encoder the head reads")
    ap.add_argument("--out", type=Path, default=Path("runs/corrector"))
    ap.add_argument("--export", type=Path, default=None)
    ap.add_argument("--sentences", type=int, default=200_000, help="spun training sentences to featurize at most")
    ap.add_argument("--val-sentences", type=int, default=6000)
    ap.add_argument("--minutes", type=float, default=30.0, help="budget for featurizing the training sentences")
    ap.add_argument("--keep-per-sentence", type=int, default=1)
    ap.add_argument("--hard-keep", type=int, default=0, help="also the N untouched words per sentence (clean ones "
                                                             "too) that the detector suspects most, as KEEP examples")
    ap.add_argument("--hard-floor", type=float, default=0.3, help="the detector's p(substituted) a hard KEEP word has at least")
    ap.add_argument("--min-count", type=int, default=2)
    ap.add_argument("--max-vocab", type=int, default=30000)
    ap.add_argument("--extra-vocab", type=int, default=0, help="also the N most frequent English words (wordfreq)")
    ap.add_argument("--tune-layers", type=int, default=0, help="also train a copy of the encoder's top N layers "
                                                               "(0: the head alone, on frozen features)")
    ap.add_argument("--layer-lr", type=float, default=5e-5, help="learning rate of those layers")
    ap.add_argument("--seq-batch", type=int, default=64, help="sentences per step with --tune-layers")
    ap.add_argument("--init", type=Path, default=None, help="start from this exported corrector (e.g. models/corrector)")
    ap.add_argument("--bf16", action="store_true", help="train in bfloat16 autocast (fast where the CPU or GPU has it)")
    ap.add_argument("--log-every", type=int, default=200, help="steps between progress lines")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--negatives", type=int, default=2048, help="random vocabulary entries each step scores against")
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--free", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--extract-batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--tune-per-spinner", type=int, default=0, help="held-out sentences per spinner for the operating point")
    ap.add_argument("--tune-clean", type=int, default=800)
    ap.add_argument("--tune-only", action="store_true", help="only choose the operating point of the head in --export")
    ap.add_argument("--max-damage", type=float, default=0.5, help="changed words per 1,000 clean words at most")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    from repair.backends.resources import model_path

    if args.tune_only:  # the operating point of an exported head, again (after a change to the restorer)
        config = json.loads((args.export / "repair.json").read_text())
        config["operating_point"] = tune(args)
        (args.export / "repair.json").write_text(json.dumps(config, indent=2) + "\n")
        return config
    tokenizer, encoder, _, token_bias = load_detector(model_path(args.detector), args.device)
    deadline = time.time() + 60 * args.minutes
    val = extract(args, tokenizer, encoder, "val", args.val_sentences, float("inf"))
    train = extract(args, tokenizer, encoder, "train", args.sentences, deadline, token_bias)

    counts = Counter(train["targets"])
    if args.init:  # continue from an exported corrector: its vocabulary, head (and top layers)
        vocab = (args.init / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    else:
        vocab = [KEEP, DELETE] + [w for w, c in counts.most_common(args.max_vocab) if c >= args.min_count and w not in (KEEP, DELETE)]
    if args.extra_vocab and not args.init:  # frequent words never seen as targets: scored by their embedding alone at first
        from wordfreq import top_n_list

        seen = set(vocab)
        vocab += [w for w in top_n_list("en", args.extra_vocab) if w.isalpha() and w not in seen][:max(0, args.max_vocab - len(vocab))]
    index = {w: i for i, w in enumerate(vocab)}
    print(f"vocabulary {len(vocab)} (of {len(counts)} targets); train examples {len(train['targets'])}", flush=True)

    def encode(part):
        keep = [i for i, t in enumerate(part["targets"]) if t in index]
        y = torch.tensor([index[part["targets"][i]] for i in keep], device=args.device)
        return keep, y, [part["spinners"][i] for i in keep], len(keep) / max(1, len(part["targets"]))

    keep, y, _, cover_train = encode(train)
    keep_val, yv, sv, cover_val = encode(val)
    hidden = encoder.config.hidden_size
    head = make_head(hidden, len(vocab), vocab_embeddings(tokenizer, encoder, vocab), args.width, args.free).to(args.device)
    layers = copy.deepcopy(top_layers(encoder, args.tune_layers)).train() if args.tune_layers else None
    if args.init:
        from safetensors.torch import load_file

        head.load_state_dict({k: v.float() for k, v in load_file(args.init / "head.safetensors").items()})
        if layers is not None and (args.init / "layers.safetensors").exists():
            layers.load_state_dict({k: v.float() for k, v in load_file(args.init / "layers.safetensors").items()})

    def states(part, examples):  # [N, H] word states of examples (indices into part), with gradients into layers
        if layers is None:
            return part["h"][examples].float().to(args.device)
        return _batch_states(encoder, layers, part, examples)

    def heldout():
        if layers is None:
            return recall_at(head, val["h"][keep_val].float(), yv, sv)
        layers.eval()
        with torch.no_grad():
            hv = layer_states(encoder, layers, val, keep_val)
        layers.train()
        return recall_at(head, hv, yv, sv)

    def batches():  # example indices (into keep) per step: random ones, or whole sentences with --tune-layers
        if layers is None:
            yield from torch.randperm(len(y)).split(args.batch)
            return
        by_sentence = defaultdict(list)
        for i, e in enumerate(keep):
            by_sentence[train["sent"][e]].append(i)
        groups = list(by_sentence.values())
        order = torch.randperm(len(groups)).tolist()
        for k in range(0, len(order), args.seq_batch):
            yield torch.tensor([i for g in order[k:k + args.seq_batch] for i in groups[g]])

    groups = [{"params": list(head.parameters()), "lr": args.lr}]
    groups += [{"params": list(layers.parameters()), "lr": args.layer_lr}] if layers is not None else []
    opt = torch.optim.AdamW(groups, weight_decay=0.01)
    per_epoch = sum(1 for _ in batches())
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups],
                                                total_steps=max(1, args.epochs * per_epoch), pct_start=0.1)
    t0, history, step = time.time(), [], 0
    for epoch in range(1, args.epochs + 1):
        total, seen = 0.0, 0
        for idx in batches():
            # sampled softmax: the batch's targets against ``--negatives`` random entries (a full softmax
            # over the vocabulary costs this CPU a second a step); the held-out recall uses the full one
            ids = torch.unique(torch.cat([y[idx], torch.randint(len(vocab), (args.negatives,), device=y.device)]))
            target = torch.searchsorted(ids, y[idx])
            with torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16, enabled=args.bf16):
                logits = head(states(train, [keep[i] for i in idx.tolist()]), ids)
            loss = torch.nn.functional.cross_entropy(logits.float(), target)
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            total, seen = total + loss.item() * len(idx), seen + len(idx)
            step += 1
            if step % args.log_every == 0:
                print(f"step {step}/{args.epochs * per_epoch} loss {total / seen:.4f} ({time.time() - t0:.0f} s)", flush=True)
        rec = heldout()
        history.append({"epoch": epoch, "train_loss": round(total / max(1, seen), 4), "val_recall": rec["all"]})
        print(f"epoch {epoch} loss {total / max(1, seen):.4f} val {rec['all']} ({time.time() - t0:.0f} s)", flush=True)
    final = heldout()
    # the author's word is out of the vocabulary for some held-out examples: recall over all of them
    config = {"name": NAME if layers is None else NAME_LAYERS, "encoder": args.detector, "hidden": hidden,
              "width": args.width, "free": args.free,
              "vocab_size": len(vocab), "train_sentences": train["sentences"], "train_examples": len(y),
              "heldout": {"sentences": val["sentences"], "examples": len(val["targets"]),
                          "target_in_vocab": round(cover_val, 4), "recall_given_in_vocab": final},
              "history": history, "args": {k: str(v) for k, v in vars(args).items()}}
    print(json.dumps(config["heldout"], indent=1), flush=True)
    if args.export:
        save_corrector(args.export, head, vocab, config, layers)
        print(f"exported to {args.export}", flush=True)
        if args.tune_per_spinner:
            config["operating_point"] = tune(args)
            (args.export / "repair.json").write_text(json.dumps(config, indent=2) + "\n")
    return config


def tune(args) -> dict:
    """The minimum confidence (see the module docstring, step 5) and what it measures."""
    from repair import Repairer
    from repair.metrics import Counts, damage_per_1000, edit_counts
    from repair.restore.corrector import CorrectorRestorer
    from repair.train.evaluate import apply

    rng = random.Random(args.seed + 1)
    by = defaultdict(list)
    for rec in records(args.data, "val"):
        by[rec["spinner"]].append(rec)
    rows = [r for sp, rs in sorted(by.items())
            for r in rng.sample(rs, min(len(rs), args.tune_clean if sp == "none" else args.tune_per_spinner))]
    repairer = Repairer(restorer=CorrectorRestorer(args.export, device=args.device))
    results = repairer.fix_many([r["spun"] for r in rows], min_confidence=0.0)
    spinners = sorted(set(by) - {"none"})
    best, table = None, []
    for conf in [round(0.05 * k, 2) for k in range(1, 19)]:
        counts, outs, origs = defaultdict(Counts), [], []
        for r, res in zip(rows, results):
            keep = [(e.start, e.end, e.after) for e in res.edits if e.confidence >= conf]
            counts[r["spinner"]].add(edit_counts(keep, [(g["start"], g["end"], g["original"]) for g in r["edits"]], r["spun"]))
            if r["spinner"] == "none":
                outs.append(apply(r["spun"], keep))
                origs.append(r["original"])
        f05 = {sp: round(counts[sp].f(0.5), 4) for sp in spinners}
        mean, damage = sum(f05.values()) / len(f05), damage_per_1000(outs, origs)
        table.append({"min_confidence": conf, "mean_f05": round(mean, 4), "damage_per_1000": round(damage, 3), **f05})
        print(table[-1], flush=True)
        if damage <= args.max_damage and (best is None or mean > best["mean_f05"]):
            best = table[-1]
    best = best or table[-1]
    return {"min_confidence": best["min_confidence"], "heldout": best, "sweep": table,
            "chosen_by": f"the best mean edit F0.5 at clean damage <= {args.max_damage} on {len(rows)} held-out "
                         f"sentences ({args.tune_per_spinner} per spinner, {args.tune_clean} clean), each fixed alone"}


if __name__ == "__main__":
    main()
