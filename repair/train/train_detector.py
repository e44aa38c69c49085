"""Train the replaced-token spin detector: LoRA on all-MiniLM-L6-v2 plus a one-logit word head.

    python scripts/train_detector.py --data data/spin --minutes 75          # CPU, resumable
    python scripts/train_detector.py --data data/spin --device cuda --steps 20000
    python scripts/train_detector.py --num-layers 2 --rank 64 --out runs/detector_fast --export models/detector_fast

Every word of a spun sentence is labelled 1 if the spinner wrote it, else 0 (``make_data.py``);
the loss is binary cross-entropy on each word's first sub-token, as in ELECTRA's discriminator.
A checkpoint is written to ``--out`` every ``--save-every`` steps and when time runs out; the same
command resumes from it. At the end the adapter is exported to ``--export`` (``models/detector``)
together with a Platt calibration of the sentence score fitted on held-out articles, its
reliability table, and the default flagging threshold (the lowest score that flags at most
``--max-clean-flagged`` of the held-out clean sentences). ``--export-only`` redoes this from the
last checkpoint without training. ``--num-layers N`` trains on the wheel's lowest N layers only: a shallower,
faster detector (``Repairer(detector="fast")``, ``repair batch --detector fast``) for corpora.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from repair.backends.encoder import BASE_PACKAGE, featurize, load_base, word_logits
from repair.train.common import (fit, fit_logistic, records, reliability_table, resume, train_batches,
                                 training_args)

NAME = "minilm-rtd-v1"


def to_tensors(tokenizer, chunk, device, max_tokens):
    texts, labels = [r["spun"] for r in chunk], [r["labels"] for r in chunk]
    b = featurize(tokenizer, list(texts), max_tokens)
    y = torch.full(b.first.shape, -1.0)
    for i, lab in enumerate(labels):
        y[i, :len(lab)] = torch.tensor(lab, dtype=torch.float)
    b.inputs = {k: v.to(device) for k, v in b.inputs.items()}
    b.first = b.first.to(device)
    return b, y.to(device)


def loss_fn(logits, y):
    mask = (y >= 0) & torch.isfinite(logits)
    return torch.nn.functional.binary_cross_entropy_with_logits(logits[mask], y[mask])


@torch.no_grad()
def evaluate(model, tokenizer, val, device, max_tokens, batch=64, bias=None):
    """Word F1 at p=0.5, loss, and per sentence (max word logit, is spun) pairs."""
    model.eval()
    tp = fp = fn = 0
    losses, pairs = [], []
    for i in range(0, len(val), batch):
        b, y = to_tensors(tokenizer, val[i:i + batch], device, max_tokens)
        z = word_logits(model, b, bias)
        losses.append(loss_fn(z, y).item())
        known = (y >= 0) & torch.isfinite(z)
        pred = (z > 0) & known
        tp += int((pred & (y == 1)).sum())
        fp += int((pred & (y == 0)).sum())
        fn += int((~pred & known & (y == 1)).sum())
        zmax = z.masked_fill(~known, -1e4).max(1).values
        pairs += list(zip(zmax.tolist(), (y == 1).any(1).tolist()))
    model.train()
    f1 = 2 * tp / max(1, 2 * tp + fp + fn)
    return {"loss": sum(losses) / max(1, len(losses)), "word_f1": f1}, pairs


def train_bias(model, tokenizer, args, start, val):
    """Stage 2: the encoder frozen, learn one logit correction per vocabulary entry (forward passes
    only, about 3x cheaper than stage 1). Uses the training stream after what stage 1 consumed."""
    vocab = model.get_input_embeddings().weight.shape[0]
    bias = torch.nn.Parameter(start.clone() if start is not None else torch.zeros(vocab, device=args.device))
    if not args.bias_steps:
        return bias
    opt = torch.optim.Adam([bias], lr=args.bias_lr)
    stream = train_batches(args.data, args.batch, args.seed + 1)
    model.eval()
    t0 = time.time()
    for k in range(1, args.bias_steps + 1):
        b, y = to_tensors(tokenizer, next(stream), args.device, args.max_tokens)
        with torch.no_grad():
            z = word_logits(model, b)
        ids = b.inputs["input_ids"].gather(1, b.first.clamp(min=0))
        loss = loss_fn(z + bias[ids], y) + 1e-4 * bias.pow(2).sum()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if k % 50 == 0:
            print(f"bias step {k} loss {loss.item():.4f} {k * args.batch / (time.time() - t0):.1f} sent/s", flush=True)
    metrics, _ = evaluate(model, tokenizer, val, args.device, args.max_tokens, bias=bias)
    print(f"eval after bias stage: {metrics}", flush=True)
    return bias


def fit_platt(pairs, prior: float | None = 0.5, max_clean_flagged: float = 0.02):
    """Sentence score = sigmoid(a * max_word_logit + b), fitted by weighted maximum likelihood.

    Held-out articles are mostly spun (the mixture leaves only a quarter of articles clean), so the
    fit is reweighted to an even prior: a score of 0.8 means 80% of such sentences are spun where
    spun and clean sentences are equally common (``prior=None`` keeps the held-out prior). The
    reliability table uses the same weights. The summary carries the default flagging threshold
    (:func:`flagging_threshold`)."""
    x = torch.tensor([p[0] for p in pairs]).clamp(-30, 30)
    y = torch.tensor([float(p[1]) for p in pairs])
    share = float(y.mean())
    ab, w = fit_logistic(x[:, None], y, prior, init=[1.0, 0.0])
    a, b = ab.tolist()
    prob = torch.sigmoid(a * x + b)
    table = reliability_table(prob, y, w)
    clean = y == 0
    summary = {"heldout_spun_share": round(share, 3), "calibrated_prior": prior,
               "clean_flagged_at_0.5": round(float((prob[clean] >= 0.5).float().mean()), 4),
               "spun_flagged_at_0.5": round(float((prob[~clean] >= 0.5).float().mean()), 4),
               **flagging_threshold(prob, clean, max_clean_flagged)}
    return a, b, table, summary


def flagging_threshold(prob, clean, max_clean_flagged: float) -> dict:
    """The default flagging threshold: the lowest score (on a 0.01 grid, at least 0.5) at which no more
    than ``max_clean_flagged`` of the held-out clean sentences are flagged, with both flagged shares there."""
    for t in [0.5 + i / 100 for i in range(50)]:
        if float((prob[clean] >= t).float().mean()) <= max_clean_flagged:
            break
    return {"threshold": round(t, 2), "max_clean_flagged": max_clean_flagged,
            "clean_flagged_at_threshold": round(float((prob[clean] >= t).float().mean()), 4),
            "spun_flagged_at_threshold": round(float((prob[~clean] >= t).float().mean()), 4)}


def main(argv=None):
    ap = training_args(__doc__.split("\n\n")[0], "detector", steps=3000, batch=32, warmup=100, save_every=100,
                       val_size=2000)
    ap.add_argument("--layers", default="", help="adapt only these encoder layers (e.g. 3,4,5); default all")
    ap.add_argument("--num-layers", type=int, default=0, help="keep only the encoder's lowest N layers (0: all 6)")
    ap.add_argument("--init", type=Path, help="start from an exported detector (its adapter and head; same --rank "
                    "and layers), e.g. models/detector, to continue training on new data")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--calib-size", type=int, default=6000)
    ap.add_argument("--bias-steps", type=int, default=0,
                    help="stage 2: with the encoder frozen, learn a per-token logit correction for this many steps")
    ap.add_argument("--bias-lr", type=float, default=0.05)
    ap.add_argument("--calib-prior", type=float, default=0.5, help="share of spun sentences the sentence score "
                                                                  "is calibrated for (-1: the held-out share)")
    ap.add_argument("--max-clean-flagged", type=float, default=0.02,
                    help="the default threshold flags at most this share of held-out clean sentences")
    args = ap.parse_args(argv)

    from peft import LoraConfig, TaskType, get_peft_model

    torch.manual_seed(args.seed)
    tokenizer, base = load_base(num_layers=args.num_layers or None)
    name = NAME if not args.num_layers else NAME.replace("minilm", f"minilm{args.num_layers}")
    lora = LoraConfig(task_type=TaskType.TOKEN_CLS, r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.0,
                      target_modules=["query", "key", "value", "dense"],
                      layers_to_transform=[int(i) for i in args.layers.split(",")] if args.layers else None)
    model = get_peft_model(base, lora).to(args.device)
    if args.init:  # a checkpoint in --out, if any, still wins below: resuming continues the continuation
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(args.init / "adapter_model.safetensors", device=args.device))
        print(f"initialised from {args.init}", flush=True)
    params, opt, sched, checkpoint, step, history = resume(model, args, weight_decay=0.01)
    ckpt = checkpoint.path

    val = []
    for rec in records(args.data, "val"):
        val.append(rec)
        if len(val) >= args.val_size + args.calib_size:
            break
    val, calib = val[:args.val_size], val[args.val_size:]

    def batch_loss(chunk):
        b, y = to_tensors(tokenizer, chunk, args.device, args.max_tokens)
        return loss_fn(word_logits(model, b), y)

    if not args.export_only:
        step = fit(model, params, opt, sched, checkpoint, step, history, train_batches(args.data, args.batch, args.seed),
                   batch_loss, lambda: evaluate(model, tokenizer, val, args.device, args.max_tokens)[0], args)

    bias = state_bias = None
    if ckpt.exists():
        state_bias = torch.load(ckpt, map_location=args.device).get("bias")
    if args.bias_steps or state_bias is not None:
        bias = train_bias(model, tokenizer, args, state_bias, val)
        state = torch.load(ckpt, map_location=args.device)
        state["bias"] = bias.detach()
        torch.save(state, ckpt.with_suffix(".tmp"))
        os.replace(ckpt.with_suffix(".tmp"), ckpt)

    # export: adapter + head (peft format), calibration and reliability on held-out articles
    metrics, pairs = evaluate(model, tokenizer, calib, args.device, args.max_tokens, bias=bias)
    a, b, table, calib_summary = fit_platt(pairs, None if args.calib_prior < 0 else args.calib_prior,
                                             args.max_clean_flagged)
    args.export.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.export)
    (args.export / "README.md").unlink(missing_ok=True)  # peft writes a model-card stub
    if bias is not None:
        from safetensors.torch import save_file

        save_file({"token_bias": bias.detach().to(torch.float16).cpu()}, args.export / "token_bias.safetensors")
    else:  # a bias left by an earlier export belongs to other weights: the loader would apply it
        (args.export / "token_bias.safetensors").unlink(missing_ok=True)
    manifest = json.loads((args.data / "manifest.json").read_text()) if (args.data / "manifest.json").exists() else {}
    config = {"name": name, "base": BASE_PACKAGE, **({"layers": args.num_layers} if args.num_layers else {}),
              "max_tokens": 256, "calibration": {"a": round(a, 5), "b": round(b, 5)},
              "trained": {"steps": step, "batch": args.batch, "rank": args.rank, "lr": args.lr,
                          "bias_steps": args.bias_steps,
                          "data": manifest.get("stats", {}), "history": history[-5:]},
              "heldout": {"sentences": len(calib), **{k: round(v, 4) for k, v in metrics.items()}},
              "reliability": table, "operating_point": calib_summary}
    (args.export / "repair.json").write_text(json.dumps(config, indent=2) + "\n")
    print(json.dumps({"exported": str(args.export), "calibration": config["calibration"], "reliability": table}, indent=1))


if __name__ == "__main__":
    main()
